"""Spec rows for indexing (minigrad/ops/indexing.py): x[key] get and set, gather/scatter, masks, sorting."""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad.testing.opspec import Case, OpSpec

from ._helpers import array, torch_fn


@st.composite
def _basic_index_cases(draw):
    x = draw(array(min_dims=1))
    key = draw(hnp.basic_indices(x.shape, allow_newaxis=True, allow_ellipsis=True))
    return Case((x,), {"key": key})


@st.composite
def _advanced_index_cases(draw):
    """Integer arrays (with repeats: their gradients must add up) mixed with a slice."""
    x = draw(array(min_dims=1, max_side=4))
    idx = draw(hnp.arrays(np.int64, st.integers(1, 6), elements=st.integers(-x.shape[0], x.shape[0] - 1)))
    key = (idx,) if x.ndim == 1 or draw(st.booleans()) else (idx, slice(None, None, draw(st.sampled_from([1, -1]))))
    return Case((x,), {"key": key})


@st.composite
def _bool_mask_cases(draw):
    x = draw(array(min_dims=1, max_side=4))
    mask = draw(hnp.arrays(np.bool_, x.shape[:1]))
    return Case((x,), {"key": (mask,)})


@st.composite
def _setitem_cases(draw):
    x = draw(array(min_dims=1, max_side=4))
    n = x.shape[0]
    idx = draw(st.one_of(st.integers(-n, n - 1),
                         st.builds(slice, st.integers(0, n - 1), st.integers(1, n)),
                         hnp.arrays(np.int64, st.integers(1, n), elements=st.integers(0, n - 1), unique=True)))
    target_shape = np.zeros(x.shape)[idx].shape
    # values that broadcast to the target (drop leading dims sometimes)
    v_shape = target_shape[draw(st.integers(0, len(target_shape))):]
    v = draw(array(st.just(v_shape)))
    return Case((x, v), {"key": idx})


def _setitem(x, v, key):
    out = x.clone()
    out[key] = v
    return out


def _np_setitem(x, v, key):
    out = x.copy()
    out[key] = v
    return out


def _torch_key(key):
    import torch

    items = key if isinstance(key, tuple) else (key,)
    if any(isinstance(k, slice) and k.step is not None and k.step < 0 for k in items):
        raise NotImplementedError("torch does not support negative slice steps")
    return tuple(torch.as_tensor(k) if isinstance(k, np.ndarray) else k for k in items)


@st.composite
def _gather_cases(draw):
    x = draw(array(min_dims=1, max_side=4))
    dim = draw(st.integers(0, x.ndim - 1))
    shape = tuple(draw(st.integers(1, x.shape[d])) if d != dim else draw(st.integers(1, 5)) for d in range(x.ndim))
    index = draw(hnp.arrays(np.int64, shape, elements=st.integers(0, x.shape[dim] - 1)))
    return Case((x, index), {"dim": dim})


def _np_gather(x, index, dim):
    grids = list(np.indices(index.shape, sparse=True))
    grids[dim] = index
    return x[tuple(grids)]


@st.composite
def _scatter_cases(draw, unique=False):
    x = draw(array(min_dims=1, max_side=4))
    dim = draw(st.integers(0, x.ndim - 1))
    shape = tuple(draw(st.integers(1, x.shape[d])) for d in range(x.ndim))
    if unique:  # scatter (overwrite) with repeated targets is order-dependent: keep them distinct
        n_cols = int(np.prod(shape)) // shape[dim]
        cols = [draw(st.permutations(range(x.shape[dim])))[: shape[dim]] for _ in range(n_cols)]
        index = np.moveaxis(np.array(cols, dtype=np.int64).reshape(
            tuple(s for d, s in enumerate(shape) if d != dim) + (shape[dim],)), -1, dim)
    else:
        index = draw(hnp.arrays(np.int64, shape, elements=st.integers(0, x.shape[dim] - 1)))
    src = draw(array(st.just(shape)))
    return Case((x, index, src), {"dim": dim})


def _np_scatter_add(x, index, src, dim):
    out = x.copy()
    grids = list(np.indices(index.shape, sparse=True))
    grids[dim] = index
    np.add.at(out, tuple(grids), src)
    return out


def _np_scatter(x, index, src, dim):
    out = x.copy()
    grids = list(np.indices(index.shape, sparse=True))
    grids[dim] = index
    out[tuple(grids)] = src
    return out


@st.composite
def _index_select_cases(draw):
    x = draw(array(min_dims=1, max_side=4))
    dim = draw(st.integers(0, x.ndim - 1))
    index = draw(hnp.arrays(np.int64, st.integers(1, 5), elements=st.integers(0, x.shape[dim] - 1)))
    return Case((x, index), {"dim": dim})


@st.composite
def _masked_fill_cases(draw):
    x = draw(array(min_dims=1))
    mask = draw(hnp.arrays(np.bool_, x.shape[draw(st.integers(0, x.ndim)):]))
    return Case((x, mask), {"value": draw(st.floats(-3, 3))})


@st.composite
def _matrix_cases(draw):
    x = draw(array(min_dims=2, max_dims=3))
    return Case((x,), {"diagonal": draw(st.integers(-2, 2))})


@st.composite
def _sort_cases(draw):
    x = draw(array(min_dims=1))
    return Case((x,), {"dim": draw(st.integers(-x.ndim, x.ndim - 1)), "descending": draw(st.booleans())})


@st.composite
def _topk_cases(draw):
    x = draw(array(min_dims=1))
    dim = draw(st.integers(-x.ndim, x.ndim - 1))
    return Case((x,), {"k": draw(st.integers(1, x.shape[dim])), "dim": dim, "largest": draw(st.booleans())})


def _ties_along(case):
    x = case.args[0]
    dim = case.kwargs.get("dim", -1)
    s = np.sort(x, axis=dim)
    return bool(np.any(np.diff(s, axis=dim) < 1e-2))


def _np_topk(x, k, dim, largest):
    order = np.argsort(-x if largest else x, axis=dim, kind="stable")
    return np.take_along_axis(x, np.take(order, range(k), axis=dim), axis=dim)


@st.composite
def _diag_cases(draw):
    x = draw(array(min_dims=1, max_dims=2))
    return Case((x,), {"diagonal": draw(st.integers(-1, 1))})


@st.composite
def _take_along_dim_cases(draw):
    x = draw(array(min_dims=2, max_dims=2, max_side=4))
    idx = draw(hnp.arrays(np.int64, (1, draw(st.integers(1, 4))), elements=st.integers(0, x.shape[1] - 1)))
    return Case((x, idx), {"dim": 1})


SPECS = [
    OpSpec("getitem_basic", lambda x, key: x[key], lambda x, key: x[key], _basic_index_cases(),
           torch_fn=lambda x, key: x[_torch_key(key)]),
    OpSpec("getitem_advanced", lambda x, key: x[key], lambda x, key: x[key], _advanced_index_cases(),
           torch_fn=lambda x, key: x[_torch_key(key)]),
    OpSpec("getitem_bool_mask", lambda x, key: x[mg.tensor(key[0])], lambda x, key: x[key], _bool_mask_cases(),
           torch_fn=lambda x, key: x[_torch_key(key)]),
    OpSpec("setitem", _setitem, _np_setitem, _setitem_cases()),
    OpSpec("gather", lambda x, index, dim: mg.gather(x, dim, mg.tensor(index)), _np_gather, _gather_cases(),
           grad_args=(0,), torch_fn=lambda x, index, dim: __import__("torch").gather(x, dim, index)),
    OpSpec("scatter_add", lambda x, index, src, dim: mg.scatter_add(x, dim, mg.tensor(index), src),
           _np_scatter_add, _scatter_cases(), grad_args=(0, 2),
           torch_fn=lambda x, index, src, dim: __import__("torch").scatter_add(x, dim, index, src)),
    OpSpec("scatter", lambda x, index, src, dim: mg.scatter(x, dim, mg.tensor(index), src),
           _np_scatter, _scatter_cases(unique=True), grad_args=(0, 2),
           torch_fn=lambda x, index, src, dim: __import__("torch").scatter(x, dim, index, src)),
    OpSpec("index_select", lambda x, index, dim: mg.index_select(x, dim, mg.tensor(index)),
           lambda x, index, dim: np.take(x, index, axis=dim), _index_select_cases(), grad_args=(0,),
           torch_fn=lambda x, index, dim: __import__("torch").index_select(x, dim, index)),
    OpSpec("masked_fill", lambda x, mask, value: mg.masked_fill(x, mg.tensor(mask), value),
           lambda x, mask, value: np.where(mask, value, x), _masked_fill_cases(), grad_args=(0,),
           torch_fn=lambda x, mask, value: x.masked_fill(mask, value)),
    OpSpec("take_along_dim", lambda x, idx, dim: mg.take_along_dim(x, mg.tensor(idx), dim),
           lambda x, idx, dim: np.take_along_axis(x, np.broadcast_to(idx, (x.shape[0], idx.shape[1])), dim),
           _take_along_dim_cases(), grad_args=(0,),
           torch_fn=lambda x, idx, dim: __import__("torch").take_along_dim(x, idx, dim)),
    OpSpec("tril", mg.tril, lambda x, diagonal: np.tril(x, diagonal), _matrix_cases(), torch_fn=torch_fn("tril")),
    OpSpec("triu", mg.triu, lambda x, diagonal: np.triu(x, diagonal), _matrix_cases(), torch_fn=torch_fn("triu")),
    OpSpec("diag", mg.diag, lambda x, diagonal: np.diag(x, diagonal), _diag_cases(), torch_fn=torch_fn("diag")),
    OpSpec("sort_values", lambda x, dim, descending: mg.sort(x, dim, descending).values,
           lambda x, dim, descending: -np.sort(-x, axis=dim) if descending else np.sort(x, axis=dim),
           _sort_cases(), avoid=_ties_along,
           torch_fn=lambda x, dim, descending: __import__("torch").sort(x, dim, descending).values),
    OpSpec("topk_values", lambda x, k, dim, largest: mg.topk(x, k, dim, largest).values, _np_topk, _topk_cases(),
           avoid=_ties_along, torch_fn=lambda x, k, dim, largest: __import__("torch").topk(x, k, dim, largest).values),
]
