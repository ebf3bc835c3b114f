"""Spec rows for dropout, embedding, one_hot and the small vector ops (normalize, cosine_similarity,
pairwise_distance): minigrad/ops/{dropout,embedding,distance}.py.

Dropout is random, so its rows reseed before each call: the mask is then a fixed function of the
seed and finite differences see the same mask as backward. Its statistics and its agreement with
eval mode are tested in tests/test_dropout_embedding.py.
"""

import numpy as np
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.testing.opspec import Case, OpSpec, unary_cases
from minigrad.testing.strategies import shapes

from ._helpers import array, torch_fn


def _seeded(fn, p):
    def call(x):
        mg.manual_seed(1234)
        return fn(x, p, training=True)

    return call


# ----- embedding and one_hot ---------------------------------------------------------------------
@st.composite
def _embedding_cases(draw):
    rows, dim = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    weight = draw(array(st.just((rows, dim))))
    index_shape = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=2)))
    index = np.asarray(draw(st.lists(st.integers(0, rows - 1), min_size=int(np.prod(index_shape)),
                                     max_size=int(np.prod(index_shape)))), dtype=np.int64).reshape(index_shape)
    return Case((index, weight))


@st.composite
def _one_hot_cases(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=2)))
    classes = draw(st.integers(1, 5))
    values = np.asarray(draw(st.lists(st.integers(0, classes - 1), min_size=int(np.prod(shape)),
                                      max_size=int(np.prod(shape)))), dtype=np.int64).reshape(shape)
    return Case((values,), {"num_classes": draw(st.sampled_from([classes, -1]))})


def _one_hot_ref(t, num_classes):
    n = int(t.max()) + 1 if num_classes == -1 else num_classes
    return np.eye(n, dtype=np.int64)[t]


# ----- normalize, cosine_similarity, pairwise_distance -------------------------------------------
@st.composite
def _normalize_cases(draw):
    x = draw(array(shapes(min_dims=1, max_dims=3, max_side=4)))
    return Case((x,), {"p": draw(st.sampled_from([1.0, 2.0, 3.0])), "dim": draw(st.integers(-x.ndim, x.ndim - 1))})


def _normalize_ref(x, p, dim):
    norm = (np.abs(x) ** p).sum(axis=dim, keepdims=True) ** (1 / p)
    return x / np.maximum(norm, 1e-12)


def _near_zero_or_short(case):
    x = case.args[0]
    norm = (np.abs(x) ** case.kwargs["p"]).sum(axis=case.kwargs["dim"]) ** (1 / case.kwargs["p"])
    return bool(np.any(np.abs(x) < 1e-2) or np.any(norm < 0.1))


@st.composite
def _cosine_cases(draw):
    from hypothesis.extra.numpy import mutually_broadcastable_shapes

    s = draw(mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=3, max_side=4))
    x1, x2 = draw(array(st.just(s.input_shapes[0]))), draw(array(st.just(s.input_shapes[1])))
    ndim = len(s.result_shape)
    return Case((x1, x2), {"dim": draw(st.integers(-ndim, ndim - 1))})


def _cosine_ref(x1, x2, dim):
    x1, x2 = np.broadcast_arrays(x1, x2)
    n1 = np.maximum(np.sqrt((x1 * x1).sum(axis=dim, keepdims=True)), 1e-8)
    n2 = np.maximum(np.sqrt((x2 * x2).sum(axis=dim, keepdims=True)), 1e-8)
    return ((x1 / n1) * (x2 / n2)).sum(axis=dim)


def _short_vectors(case):
    x1, x2 = np.broadcast_arrays(*case.args)
    dim = case.kwargs["dim"]
    return bool(np.any(np.linalg.norm(x1, axis=dim) < 0.1) or np.any(np.linalg.norm(x2, axis=dim) < 0.1))


@st.composite
def _pairwise_cases(draw):
    d = draw(st.integers(1, 4))
    shape1 = (draw(st.integers(1, 4)), d) if draw(st.booleans()) else (d,)
    shape2 = shape1 if draw(st.booleans()) else (d,)
    return Case((draw(array(st.just(shape1))), draw(array(st.just(shape2)))),
                {"p": draw(st.sampled_from([1.0, 2.0, 3.0])), "eps": draw(st.sampled_from([1e-6, 0.1])),
                 "keepdim": draw(st.booleans())})


def _pairwise_ref(x1, x2, p, eps, keepdim):
    return (np.abs(x1 - x2 + eps) ** p).sum(axis=-1, keepdims=keepdim) ** (1 / p)


def _pairwise_kinks(case):
    x1, x2 = case.args
    return bool(np.any(np.abs(x1 - x2 + case.kwargs["eps"]) < 1e-2))


SPECS = [
    OpSpec("dropout", _seeded(F.dropout, 0.4), None, unary_cases(), torch_fn=None),
    OpSpec("dropout2d", _seeded(F.dropout2d, 0.5), None, unary_cases(min_dims=4, max_dims=4), torch_fn=None),
    OpSpec("dropout_eval", lambda x: F.dropout(x, 0.7, training=False), lambda x: x, unary_cases(),
           torch_fn=lambda x: __import__("torch").nn.functional.dropout(x, 0.7, training=False)),
    OpSpec("alpha_dropout", _seeded(F.alpha_dropout, 0.3), None, unary_cases(), torch_fn=None),
    OpSpec("embedding", F.embedding, lambda index, weight: weight[index], _embedding_cases(), grad_args=(1,),
           torch_fn=torch_fn("nn.functional.embedding")),
    OpSpec("one_hot", F.one_hot, _one_hot_ref, _one_hot_cases(), differentiable=False, double_backward=False,
           float32=False, torch_fn=torch_fn("nn.functional.one_hot")),
    OpSpec("normalize", F.normalize, _normalize_ref, _normalize_cases(), avoid=_near_zero_or_short,
           torch_fn=torch_fn("nn.functional.normalize")),
    OpSpec("cosine_similarity", F.cosine_similarity, _cosine_ref, _cosine_cases(), avoid=_short_vectors,
           torch_fn=torch_fn("nn.functional.cosine_similarity")),
    OpSpec("pairwise_distance", F.pairwise_distance, _pairwise_ref, _pairwise_cases(), avoid=_pairwise_kinks,
           torch_fn=torch_fn("nn.functional.pairwise_distance")),
]
