"""Indexing: ``x[key]`` get and set, gather/scatter, index_select, masks, triangles, sorting.

The backward of every "read at these positions" op is a "scatter-add to those positions" op, and
vice versa; each is an Op with its own backward, so indexing stays differentiable to any order.
Repeated indices accumulate in backward (``xp.add.at``), as in torch.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..autograd.op import Op
from ..backend import get_array_module
from ..tensor import Tensor
from ._common import ValuesIndices, check_same_device, constant, normalize_dim, xp_of


# ----------------------------------------------------------------------------------------------
# x[key]
# ----------------------------------------------------------------------------------------------
def normalize_key(key, x: Tensor):
    """Turn an index (ints, slices, None, Ellipsis, lists, bool/int tensors) into an ``xp`` index."""
    items = key if isinstance(key, tuple) else (key,)
    out = []
    xp = xp_of(x)
    for item in items:
        if isinstance(item, Tensor):
            check_same_device("indexing", x, item)
            data = item._data
            if data.dtype.kind == "f":
                raise IndexError(f"tensors used as indices must be long, int or bool tensors, got {item.dtype}")
            out.append(data)
        elif isinstance(item, (list, np.ndarray)) and not isinstance(item, np.generic):
            array = xp.asarray(item)
            if array.dtype.kind == "f":
                raise IndexError("indices given as lists must be integers or bools")
            out.append(array)
        else:
            out.append(item)
    _check_bounds(out, x.shape)
    return tuple(out)


def _check_bounds(key, shape) -> None:
    """IndexError naming the dim and size for an out-of-range integer index (before any work)."""
    dim = 0
    has_ellipsis = any(k is Ellipsis for k in key)
    consumed = sum(1 if not (k is None or k is Ellipsis) else 0 for k in key)
    consumed += sum(k.ndim - 1 for k in key if hasattr(k, "dtype") and k.dtype == np.bool_)
    if consumed > len(shape):
        raise IndexError(f"too many indices for tensor of dimension {len(shape)} (shape {tuple(shape)})")
    for k in key:
        if k is None:
            continue
        if k is Ellipsis:
            dim += len(shape) - consumed
            continue
        if isinstance(k, (int, np.integer)) and not isinstance(k, bool):
            if not -shape[dim] <= k < shape[dim]:
                raise IndexError(f"index {k} is out of bounds for dimension {dim} with size {shape[dim]}")
        elif hasattr(k, "dtype") and k.dtype != np.bool_ and k.size:
            lo, hi = int(k.min()), int(k.max())
            if lo < -shape[dim] or hi >= shape[dim]:
                bad = hi if hi >= shape[dim] else lo
                raise IndexError(f"index {bad} is out of bounds for dimension {dim} with size {shape[dim]}")
        elif hasattr(k, "dtype") and k.dtype == np.bool_:
            if tuple(k.shape) != tuple(shape[dim : dim + k.ndim]):
                raise IndexError(
                    f"the shape of the mask {tuple(k.shape)} at index {dim} does not match the shape of the "
                    f"indexed tensor {tuple(shape)}"
                )
            dim += k.ndim
            continue
        dim += 1
    del has_ellipsis


def _is_basic(key) -> bool:
    return all(k is None or k is Ellipsis or isinstance(k, (int, slice, np.integer)) for k in key)


class GetItem(Op):
    """y = x[key]. A view for basic indexing; its gradient is scattered back with accumulation."""

    def __init__(self, key):
        self.key = key
        self.is_view = _is_basic(key)

    def forward(self, x):
        self.x_shape = x.shape
        return x[self.key]

    def backward(self, gy):
        return IndexAdd(self.key, self.x_shape, self.is_view)(gy)


class IndexAdd(Op):
    """zeros(shape) with ``g`` added at ``key`` (repeated indices add up); adjoint of GetItem."""

    def __init__(self, key, shape, basic):
        self.key, self.shape, self.basic = key, shape, basic

    def forward(self, g):
        xp = get_array_module(g)
        out = xp.zeros(self.shape, dtype=g.dtype)
        if self.basic:
            out[self.key] = g
        else:
            xp.add.at(out, self.key, g)
        return out

    def backward(self, gg):
        return GetItem(self.key)(gg)


class SetItem(Op):
    """x[key] = v, written into x's memory (used only through ``__setitem__``)."""

    mutates_input = True

    def __init__(self, key):
        self.key = key

    def forward(self, x, v):
        self.v_shape = v.shape
        x[self.key] = v
        return x

    forward_inplace = forward

    def backward(self, gy):
        gx = MaskOut(self.key)(gy) if self.needs_input_grad[0] else None
        gv = GetItem(self.key)(gy) if self.needs_input_grad[1] else None
        return gx, gv


class MaskOut(Op):
    """A copy of g with the positions at ``key`` set to zero (they were overwritten)."""

    def __init__(self, key):
        self.key = key

    def forward(self, g):
        out = g.copy()
        out[self.key] = 0
        return out

    def backward(self, gg):
        return MaskOut(self.key)(gg)


def getitem(input: Tensor, key) -> Tensor:
    key = normalize_key(key, input)
    return GetItem(key)(input)


def index_put(input: Tensor, indices, values: Tensor, accumulate: bool = False) -> Tensor:
    """Out-of-place ``x[indices] = values`` (or ``+=`` with ``accumulate=True``)."""
    out = input.clone()
    if accumulate:
        key = normalize_key(indices, input)
        return out + IndexAdd(key, input.shape, False)(values.expand(input[indices].shape))
    out[indices] = values
    return out


# ----------------------------------------------------------------------------------------------
# gather / scatter along a dim
# ----------------------------------------------------------------------------------------------
def _full_index(index, dim: int):
    """Open-mesh index tuple that picks ``index`` along ``dim`` and the same position elsewhere."""
    xp = get_array_module(index)
    grids = []
    for d, n in enumerate(index.shape):
        if d == dim:
            grids.append(index)
        else:
            shape = [1] * index.ndim
            shape[d] = n
            grids.append(xp.arange(n).reshape(shape))
    return tuple(grids)


class Gather(Op):
    """out[i][j] = x[index[i][j]][j] along ``dim`` (torch.gather)."""

    def __init__(self, dim, index):
        self.dim, self.index = dim, index

    def forward(self, x):
        self.x_shape = x.shape
        return x[_full_index(self.index, self.dim)]

    def backward(self, gy):
        return ScatterAdd(self.dim, self.index, self.x_shape)(gy)


class ScatterAdd(Op):
    """zeros(shape), then out[index[i][j]][j] += src[i][j] along ``dim``; adjoint of Gather."""

    def __init__(self, dim, index, shape):
        self.dim, self.index, self.shape = dim, index, shape

    def forward(self, src):
        xp = get_array_module(src)
        out = xp.zeros(self.shape, dtype=src.dtype)
        xp.add.at(out, _full_index(self.index, self.dim), src[tuple(slice(0, n) for n in self.index.shape)])
        return out

    def backward(self, gg):
        return Gather(self.dim, self.index)(gg)


def _check_gather_index(name, input: Tensor, dim: int, index: Tensor) -> None:
    if not isinstance(index, Tensor) or index._data.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): expected index to be an integer tensor")
    if index.ndim != input.ndim:
        raise RuntimeError(
            f"{name}(): index tensor must have the same number of dimensions as the input tensor "
            f"(index shape {tuple(index.shape)}, input shape {tuple(input.shape)})"
        )
    for d in range(input.ndim):
        if d != dim and index.shape[d] > input.shape[d]:
            raise RuntimeError(
                f"{name}(): size of index {tuple(index.shape)} exceeds the input {tuple(input.shape)} in dimension {d}"
            )
    if index.numel():
        lo, hi = int(index._data.min()), int(index._data.max())
        n = input.shape[dim]
        if lo < -n or hi >= n:
            raise IndexError(
                f"{name}(): index {hi if hi >= n else lo} is out of bounds for dimension {dim} with size {n}"
            )


def gather(input: Tensor, dim: int, index: Tensor) -> Tensor:
    dim = normalize_dim(dim, input.ndim)
    _check_gather_index("gather", input, dim, index)
    return Gather(dim, index._data)(input)


def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    """Like gather, with broadcasting between ``input`` and ``indices`` (flattened when dim is None)."""
    if dim is None:
        return gather(input.flatten(), 0, indices.flatten())
    dim = normalize_dim(dim, input.ndim)
    shape_in, shape_ix = list(input.shape), list(indices.shape)
    shape_in[dim] = shape_ix[dim] = 1
    common = np.broadcast_shapes(tuple(shape_in), tuple(shape_ix))
    target_in = list(common)
    target_in[dim] = input.shape[dim]
    target_ix = list(common)
    target_ix[dim] = indices.shape[dim]
    return gather(input.expand(target_in), dim, indices.expand(target_ix))


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """out = input.clone(); out[index[i][j]][j] += src[i][j] along ``dim``."""
    dim = normalize_dim(dim, input.ndim)
    _check_gather_index("scatter_add", input, dim, index)
    return input + ScatterAdd(dim, index._data, input.shape)(src)


class _ScatterOverwrite(Op):
    """out = x with out[index[i][j]][j] = src[i][j]; those x positions get no gradient."""

    def __init__(self, dim, index):
        self.dim, self.index = dim, index

    def forward(self, x, src):
        out = x.copy()
        sub = src[tuple(slice(0, n) for n in self.index.shape)]
        out[_full_index(self.index, self.dim)] = sub
        return out

    def backward(self, gy):
        gx = gsrc = None
        if self.needs_input_grad[0]:
            gx = MaskOut(_full_index(self.index, self.dim))(gy)
        if self.needs_input_grad[1]:
            gsrc = Gather(self.dim, self.index)(gy)
        return gx, gsrc


def scatter(input: Tensor, dim: int, index: Tensor, src=None, value=None) -> Tensor:
    """out = input.clone(); out[index[i][j]][j] = src[i][j] (or ``value``) along ``dim``."""
    dim = normalize_dim(dim, input.ndim)
    _check_gather_index("scatter", input, dim, index)
    if src is None:
        if value is None:
            raise TypeError("scatter() needs src or value")
        src = constant(xp_of(input).full(index.shape, value, dtype=input._data.dtype))
    elif not isinstance(src, Tensor):
        src = constant(xp_of(input).full(index.shape, src, dtype=input._data.dtype))
    if src._data.dtype != input._data.dtype:
        src = src.to(input.dtype)
    return _ScatterOverwrite(dim, index._data)(input, src)


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """The slices of ``input`` at positions ``index`` (1-D) along ``dim``."""
    dim = normalize_dim(dim, input.ndim)
    if index.ndim > 1:
        raise IndexError(f"index_select(): index must be a vector, got shape {tuple(index.shape)}")
    key = (slice(None),) * dim + (index._data.reshape(-1),)
    return getitem(input, key)


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, alpha=1) -> Tensor:
    """out = input.clone(); out.index_select(dim, index) += alpha * source (duplicates add)."""
    dim = normalize_dim(dim, input.ndim)
    key = normalize_key((slice(None),) * dim + (index,), input)
    return input + IndexAdd(key, input.shape, False)(source * alpha if alpha != 1 else source)


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:
    """``value`` where ``mask`` is True (mask broadcasts to input's shape)."""
    from .math import where

    if isinstance(value, Tensor) and value.ndim != 0:
        raise RuntimeError(f"masked_fill only supports a 0-dimensional value tensor, got shape {tuple(value.shape)}")
    mask_data = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if mask_data.dtype != np.bool_:
        raise RuntimeError(f"masked_fill expects a bool mask, got {dtypes.from_numpy_dtype(mask_data.dtype)}")
    np.broadcast_shapes(mask_data.shape, input.shape)
    out = where(mask, value if isinstance(value, Tensor) else _scalar_like(value, input), input)
    if out.shape != input.shape:
        raise RuntimeError(
            f"masked_fill: mask of shape {tuple(mask_data.shape)} would broadcast input {tuple(input.shape)} "
            f"to {tuple(out.shape)}"
        )
    return out


def _scalar_like(value, input: Tensor):
    if isinstance(value, float) and not dtypes.is_floating(input._data.dtype):
        raise RuntimeError(f"masked_fill: value {value} cannot be converted to {input.dtype} without overflow or loss")
    return value


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The elements where ``mask`` (broadcast) is True, as a 1-D tensor."""
    shape = np.broadcast_shapes(input.shape, mask.shape)
    x = input.expand(shape) if input.shape != shape else input
    m = mask._data if mask.shape == shape else xp_of(mask).broadcast_to(mask._data, shape)
    return getitem(x, (m,))


def nonzero(input: Tensor, as_tuple: bool = False):
    """Indices of the non-zero elements: an (n, ndim) int64 tensor, or a tuple of 1-D tensors."""
    idx = xp_of(input).nonzero(input._data)
    if as_tuple:
        return tuple(constant(i.astype(np.int64)) for i in idx)
    return constant(xp_of(input).stack(idx, axis=1).astype(np.int64) if idx else xp_of(input).zeros((0, 0), np.int64))


def argwhere(input: Tensor) -> Tensor:
    return nonzero(input)


# ----------------------------------------------------------------------------------------------
# Triangles and diagonals
# ----------------------------------------------------------------------------------------------
class _Triangle(Op):
    def __init__(self, lower, k):
        self.lower, self.k = lower, k

    def forward(self, x):
        xp = get_array_module(x)
        return xp.tril(x, self.k) if self.lower else xp.triu(x, self.k)

    def backward(self, gy):
        return _Triangle(self.lower, self.k)(gy)


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """Zero everything above the ``diagonal``-th diagonal of the last two dims."""
    if input.ndim < 2:
        raise RuntimeError(f"tril: input tensor must have at least 2 dimensions, got shape {tuple(input.shape)}")
    return _Triangle(True, diagonal)(input)


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """Zero everything below the ``diagonal``-th diagonal of the last two dims."""
    if input.ndim < 2:
        raise RuntimeError(f"triu: input tensor must have at least 2 dimensions, got shape {tuple(input.shape)}")
    return _Triangle(False, diagonal)(input)


def _diag_positions(xp, k, length):
    rows = xp.arange(length) + max(-k, 0)
    return rows, rows - max(-k, 0) + max(k, 0)


class _DiagScatter(Op):
    """A zero matrix of ``shape`` with the vector on its ``k``-th diagonal; adjoint of _DiagExtract."""

    def __init__(self, k, shape):
        self.k, self.shape = k, shape

    def forward(self, v):
        xp = get_array_module(v)
        out = xp.zeros(self.shape, dtype=v.dtype)
        out[_diag_positions(xp, self.k, v.shape[0])] = v
        return out

    def backward(self, gy):
        return _DiagExtract(self.k)(gy)


class _DiagExtract(Op):
    """matrix -> its ``k``-th diagonal as a vector."""

    def __init__(self, k):
        self.k = k

    def forward(self, m):
        self.m_shape = m.shape
        return get_array_module(m).diagonal(m, self.k).copy()

    def backward(self, gy):
        return _DiagScatter(self.k, self.m_shape)(gy)


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """1-D input: a matrix with it on the diagonal; 2-D input: its diagonal."""
    if input.ndim == 1:
        n = input.shape[0] + abs(diagonal)
        return _DiagScatter(diagonal, (n, n))(input)
    if input.ndim == 2:
        return _DiagExtract(diagonal)(input)
    raise RuntimeError(f"diag expects a 1-D or 2-D tensor, got shape {tuple(input.shape)}")


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    if input.ndim == 2 and (dim1, dim2) in ((0, 1), (-2, -1)):
        return diag(input, offset)
    from .linalg import einsum

    if offset != 0:
        raise NotImplementedError("diagonal() with offset on tensors of rank > 2 is not supported")
    moved = input.movedim((dim1, dim2), (-2, -1))
    return einsum("...ii->...i", moved)


def trace(input: Tensor) -> Tensor:
    return diag(input).sum()


# ----------------------------------------------------------------------------------------------
# Sorting
# ----------------------------------------------------------------------------------------------
def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    """(values, indices) sorted along ``dim``; gradients flow to the original positions."""
    dim = normalize_dim(dim, input.ndim) if input.ndim else 0
    indices = argsort(input, dim, descending)
    if input.ndim == 0:
        return input, indices
    return _named_pair("sort", gather(input, dim, indices), indices)


def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = True) -> Tensor:
    xp = xp_of(input)
    if input.ndim == 0:
        return constant(xp.zeros((), np.int64))
    dim = normalize_dim(dim, input.ndim)
    data = input._data
    if descending:
        # negate the keys so a stable ascending sort gives a stable descending order
        if data.dtype.kind == "f":
            key = -data
        elif data.dtype.kind in "iu":
            key = -data.astype(np.float64)
        else:
            key = ~data
        idx = xp.argsort(key, axis=dim, kind="stable")
    else:
        idx = xp.argsort(data, axis=dim, kind="stable")
    return constant(idx.astype(np.int64))


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """The ``k`` largest (or smallest) elements along ``dim`` and their indices."""
    dim = normalize_dim(dim, input.ndim)
    n = input.shape[dim]
    if not 0 <= k <= n:
        raise RuntimeError(f"topk: k ({k}) is out of range for dimension {dim} of size {n}")
    indices = argsort(input, dim, descending=largest)
    indices = indices.narrow(dim, 0, k)
    return _named_pair("topk", gather(input, dim, indices), indices)


def _named_pair(name, values, indices):
    return ValuesIndices(values, indices)
