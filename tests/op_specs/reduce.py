"""Spec rows for reductions (minigrad/ops/reduce.py)."""

import numpy as np
import scipy.special
from hypothesis import strategies as st

import minigrad as mg
from minigrad.testing.opspec import Case, OpSpec

from ._helpers import array, torch_fn, with_dims


def _axis(dim):
    return dim


def _np_reduce(fn):
    return lambda x, dim=None, keepdim=False, **kw: fn(x, axis=dim, keepdims=keepdim, **kw)


def _torch_reduce(name):
    """torch's reductions take dim=None poorly for some ops: drop it when None."""

    def call(x, dim=None, keepdim=False, **kw):
        import torch

        fn = getattr(torch, name)
        if dim is None:
            out = fn(x, **kw)
            return out.reshape((1,) * x.ndim) if keepdim else out
        return fn(x, dim=dim, keepdim=keepdim, **kw)

    return call


def _has_ties(case):
    x = case.args[0]
    flat = np.sort(x.ravel())
    return bool(np.any(np.diff(flat) < 1e-2))


def _has_near_zero(case):
    return bool(np.any(np.abs(case.args[0]) < 0.1))


def _small_reduction_count(case):
    """Fewer than 2 elements per reduction (the unbiased variance divides by n - 1 = 0), or a
    near-constant slice (std's gradient 1/std blows up)."""
    x = case.args[0]
    dim = case.kwargs.get("dim")
    dims = tuple(range(x.ndim)) if dim is None else ((dim,) if isinstance(dim, int) else tuple(dim))
    if int(np.prod([x.shape[d] for d in dims])) < 2:
        return True
    return bool(np.any(np.std(x, axis=dims) < 0.05))


@st.composite
def _dim_cases(draw):
    x = draw(array(min_dims=1))
    dim = draw(st.integers(-x.ndim, x.ndim - 1))
    return Case((x,), {"dim": dim, "keepdim": draw(st.booleans())})


@st.composite
def _norm_cases(draw):
    case = draw(with_dims())
    case.kwargs["p"] = draw(st.sampled_from([2, 1, 3, float("inf")]))
    return case


@st.composite
def _cumsum_cases(draw):
    x = draw(array(min_dims=1))
    return Case((x,), {"dim": draw(st.integers(-x.ndim, x.ndim - 1))})


def _max_dim_values(x, dim, keepdim):
    return mg.max(x, dim, keepdim).values


def _min_dim_values(x, dim, keepdim):
    return mg.min(x, dim, keepdim).values


def _prod_with_zero_cases():
    return st.builds(lambda a: Case((np.concatenate([a.ravel(), [0.0]]),), {"dim": 0}), array(min_dims=1))


SPECS = [
    OpSpec("sum", mg.sum, _np_reduce(np.sum), with_dims(), torch_fn=_torch_reduce("sum")),
    OpSpec("mean", mg.mean, _np_reduce(np.mean), with_dims(), torch_fn=_torch_reduce("mean")),
    OpSpec("var", lambda x, dim, keepdim: mg.var(x, dim, keepdim=keepdim),
           lambda x, dim, keepdim: np.var(x, axis=dim, keepdims=keepdim, ddof=1), with_dims(),
           avoid=_small_reduction_count, torch_fn=lambda x, dim, keepdim: _torch_reduce("var")(x, dim, keepdim)),
    OpSpec("var_biased", lambda x, dim, keepdim: mg.var(x, dim, keepdim=keepdim, correction=0),
           lambda x, dim, keepdim: np.var(x, axis=dim, keepdims=keepdim), with_dims()),
    OpSpec("std", lambda x, dim, keepdim: mg.std(x, dim, keepdim=keepdim),
           lambda x, dim, keepdim: np.std(x, axis=dim, keepdims=keepdim, ddof=1), with_dims(),
           avoid=_small_reduction_count, torch_fn=lambda x, dim, keepdim: _torch_reduce("std")(x, dim, keepdim)),
    OpSpec("prod", lambda x, dim, keepdim: mg.prod(x, dim, keepdim),
           lambda x, dim, keepdim: np.prod(x, axis=dim, keepdims=keepdim),
           with_dims(multi=False, min_value=-2, max_value=2), avoid=_has_near_zero,
           torch_fn=lambda x, dim, keepdim: __import__("torch").prod(x, dim, keepdim)),
    OpSpec("prod_with_zero", lambda x, dim: mg.prod(x, dim), lambda x, dim: np.prod(x, axis=dim),
           _prod_with_zero_cases(), double_backward="refuses",
           torch_fn=lambda x, dim: __import__("torch").prod(x, dim)),
    OpSpec("max_full", lambda x: mg.max(x), np.max, st.builds(lambda a: Case((a,)), array()), avoid=_has_ties,
           torch_fn=torch_fn("max")),
    OpSpec("min_full", lambda x: mg.min(x), np.min, st.builds(lambda a: Case((a,)), array()), avoid=_has_ties,
           torch_fn=torch_fn("min")),
    OpSpec("max_dim", _max_dim_values, lambda x, dim, keepdim: np.max(x, axis=dim, keepdims=keepdim), _dim_cases(),
           avoid=_has_ties, torch_fn=lambda x, dim, keepdim: __import__("torch").max(x, dim, keepdim).values),
    OpSpec("min_dim", _min_dim_values, lambda x, dim, keepdim: np.min(x, axis=dim, keepdims=keepdim), _dim_cases(),
           avoid=_has_ties, torch_fn=lambda x, dim, keepdim: __import__("torch").min(x, dim, keepdim).values),
    # at a tie the gradient is split evenly (torch's rule; central differences agree), but the
    # second derivative does not exist there, so no double-backward check
    OpSpec("max_ties_split", lambda x: mg.max(x), np.max, st.just(Case((np.array([1.0, 3.0, 3.0, 2.0]),))),
           double_backward=False, torch_fn=torch_fn("max")),
    OpSpec("amax", mg.amax, _np_reduce(np.amax), with_dims(allow_none=False), avoid=_has_ties,
           torch_fn=torch_fn("amax")),
    OpSpec("amin", mg.amin, _np_reduce(np.amin), with_dims(allow_none=False), avoid=_has_ties,
           torch_fn=torch_fn("amin")),
    OpSpec("amax_ties", lambda x: mg.amax(x, 1), lambda x: np.amax(x, 1),
           st.just(Case((np.array([[2.0, 2.0, 1.0], [0.0, 5.0, 5.0]]),))), double_backward=False,
           torch_fn=lambda x: __import__("torch").amax(x, 1)),
    OpSpec("logsumexp", mg.logsumexp, _np_reduce(scipy.special.logsumexp), with_dims(allow_none=False),
           torch_fn=torch_fn("logsumexp")),
    OpSpec("logsumexp_extreme", lambda x: mg.logsumexp(x, -1), lambda x: scipy.special.logsumexp(x, axis=-1),
           st.just(Case((np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]]),))), float32=True,
           torch_fn=lambda x: __import__("torch").logsumexp(x, -1)),
    OpSpec("cumsum", mg.cumsum, lambda x, dim: np.cumsum(x, axis=dim), _cumsum_cases(), torch_fn=torch_fn("cumsum")),
    OpSpec("norm", lambda x, dim, keepdim, p: mg.norm(x, p, dim, keepdim),
           lambda x, dim, keepdim, p: np.linalg.norm(x.reshape(-1), p) if dim is None and not keepdim else
           np.sum(np.abs(x) ** p, axis=dim, keepdims=keepdim) ** (1 / p) if p != float("inf") else
           np.max(np.abs(x), axis=dim, keepdims=keepdim),
           _norm_cases(), avoid=lambda c: _has_near_zero(c) or (c.kwargs["p"] == float("inf") and _has_ties(c)),
           torch_fn=lambda x, dim, keepdim, p: __import__("torch").norm(x, p, dim, keepdim)),
    OpSpec("argmax", lambda x, dim, keepdim: mg.argmax(x, dim, keepdim),
           lambda x, dim, keepdim: np.argmax(x, dim, keepdims=keepdim),
           _dim_cases(), differentiable=False, double_backward=False, float32=False,
           torch_fn=lambda x, dim, keepdim: __import__("torch").argmax(x, dim, keepdim)),
]
