"""Spec rows for linear algebra (minigrad/ops/linalg.py)."""

import numpy as np
from hypothesis import strategies as st

import minigrad as mg
from minigrad.testing.opspec import Case, OpSpec

from ._helpers import array, torch_fn


@st.composite
def _matmul_cases(draw):
    """1-D and 2-D operands and batched ones with broadcasting batch dims."""
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    kind = draw(st.sampled_from(["mm", "vec_mat", "mat_vec", "dot", "batched", "broadcast", "batch_times_matrix"]))
    shapes = {
        "mm": ((n, k), (k, m)),
        "vec_mat": ((k,), (k, m)),
        "mat_vec": ((n, k), (k,)),
        "dot": ((k,), (k,)),
        "batched": ((2, n, k), (2, k, m)),
        "broadcast": ((3, 1, n, k), (2, k, m)),
        "batch_times_matrix": ((2, 3, n, k), (k, m)),
    }[kind]
    return Case(tuple(draw(array(st.just(s))) for s in shapes))


EQUATIONS = {
    "ij,jk->ik": [(2, 3), (3, 4)],
    "bij,bjk->bik": [(2, 2, 3), (2, 3, 2)],
    "i,i->": [(4,), (4,)],
    "ij->ji": [(2, 3)],
    "ij->": [(2, 3)],
    "ij->i": [(3, 4)],
    "ii->i": [(3, 3)],
    "ii": [(3, 3)],
    "i,j->ij": [(2,), (3,)],
    "...ij,...jk->...ik": [(2, 2, 3), (3, 2)],
    "bhqd,bhkd->bhqk": [(1, 2, 3, 4), (1, 2, 2, 4)],
    "ij,jk,kl->il": [(2, 3), (3, 2), (2, 2)],
}


@st.composite
def _einsum_cases(draw):
    eq = draw(st.sampled_from(sorted(EQUATIONS)))
    return Case(tuple(draw(array(st.just(s))) for s in EQUATIONS[eq]), {"equation": eq})


@st.composite
def _linear_cases(draw, bias: bool):
    """x of shape (..., in) with 0 to 2 leading dims, weight (out, in), optional bias (out,)."""
    n_in, n_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    lead = draw(st.sampled_from([(), (3,), (2, 3)]))
    shapes = [(*lead, n_in), (n_out, n_in)] + ([(n_out,)] if bias else [])
    return Case(tuple(draw(array(st.just(s))) for s in shapes))


def _linear_reference(x, w, b=None):
    return x @ w.T + (0 if b is None else b)


@st.composite
def _pair(draw, shape_a, shape_b):
    return Case((draw(array(st.just(shape_a))), draw(array(st.just(shape_b)))))


SPECS = [
    OpSpec("matmul", mg.matmul, np.matmul, _matmul_cases(), torch_fn=torch_fn("matmul")),
    OpSpec("linear", mg.nn.functional.linear, _linear_reference, _linear_cases(bias=True),
           torch_fn=torch_fn("nn.functional.linear")),
    OpSpec("linear_no_bias", mg.nn.functional.linear, _linear_reference, _linear_cases(bias=False),
           torch_fn=torch_fn("nn.functional.linear")),
    OpSpec("mm", mg.mm, np.matmul, _pair((3, 4), (4, 2)), torch_fn=torch_fn("mm")),
    OpSpec("bmm", mg.bmm, np.matmul, _pair((2, 3, 4), (2, 4, 2)), torch_fn=torch_fn("bmm")),
    OpSpec("outer", mg.outer, np.outer, _pair((3,), (4,)), torch_fn=torch_fn("outer")),
    OpSpec("dot", mg.dot, np.dot, _pair((5,), (5,)), torch_fn=torch_fn("dot")),
    OpSpec("einsum", lambda *xs, equation: mg.einsum(equation, *xs),
           lambda *xs, equation: np.einsum(equation, *xs), _einsum_cases(),
           torch_fn=lambda *xs, equation: __import__("torch").einsum(equation, *xs)),
]
