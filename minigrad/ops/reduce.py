"""Reductions: sum, mean, var/std, prod, max/min, amax/amin, logsumexp, cumsum, norm, all/any.

Gradient conventions at ties follow torch: ``max(dim)``/``min(dim)`` send the gradient to the index
they return (the first occurrence); ``amax``/``amin`` and the full ``max()``/``min()`` split it
evenly between all tied elements.
"""

from __future__ import annotations

import math

import numpy as np

from .. import dtypes
from ..autograd.op import Op
from ..backend import get_array_module
from ..tensor import Tensor
from ._common import ValuesIndices, constant, normalize_dim, normalize_dims, xp_of
from .indexing import ScatterAdd
from .shape import BroadcastTo, reshape


def _keepdim_shape(shape: tuple, dims) -> tuple:
    if dims is None:
        return (1,) * len(shape)
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


def _expand_back(gy: Tensor, x_shape: tuple, dims, keepdim: bool) -> Tensor:
    """Undo a reduction's shape change: reinsert reduced dims, then broadcast to ``x_shape``."""
    if not keepdim and dims is not None:
        gy = reshape(gy, _keepdim_shape(x_shape, dims))
    return gy if gy.shape == x_shape else BroadcastTo(x_shape)(gy)


def _count(shape: tuple, dims) -> int:
    return math.prod(shape) if dims is None else math.prod(shape[d] for d in dims)


# ----------------------------------------------------------------------------------------------
class Sum(Op):
    def __init__(self, dims, keepdim, dtype=None):
        self.dims, self.keepdim, self.dtype = dims, keepdim, dtype

    def forward(self, x):
        self.x_shape = x.shape
        return x.sum(axis=self.dims, keepdims=self.keepdim, dtype=self.dtype)

    def backward(self, gy):
        return _expand_back(gy, self.x_shape, self.dims, self.keepdim)


class Mean(Op):
    def __init__(self, dims, keepdim):
        self.dims, self.keepdim = dims, keepdim

    def forward(self, x):
        self.x_shape = x.shape
        return x.mean(axis=self.dims, keepdims=self.keepdim)

    def backward(self, gy):
        n = _count(self.x_shape, self.dims)
        return _expand_back(gy, self.x_shape, self.dims, self.keepdim) * (1.0 / n if n else float("nan"))


class Var(Op):
    """sum((x - mean)^2) / (n - correction);  dvar/dx = 2 (x - mean) / (n - correction)."""

    def __init__(self, dims, correction, keepdim):
        self.dims, self.correction, self.keepdim = dims, correction, keepdim

    def forward(self, x):
        self.save_inputs(0)
        return x.var(axis=self.dims, ddof=self.correction, keepdims=self.keepdim)

    def backward(self, gy):
        (x,) = self.saved_inputs
        n = _count(x.shape, self.dims)
        centered = x - Mean(self.dims, True)(x)
        scale = 2.0 / (n - self.correction) if n > self.correction else float("nan")
        return _expand_back(gy, x.shape, self.dims, self.keepdim) * centered * scale


class Prod(Op):
    def __init__(self, dims, keepdim):
        self.dims, self.keepdim = dims, keepdim

    def forward(self, x):
        self.save_inputs(0)
        self.save_outputs(0)
        self.has_zero = bool((x == 0).any())
        return x.prod(axis=self.dims, keepdims=self.keepdim)

    def backward(self, gy):
        (x,) = self.saved_inputs
        (y,) = self.saved_outputs
        if not self.has_zero:  # d prod / dx_i = prod / x_i, differentiable again
            return _expand_back(gy * y, x.shape, self.dims, self.keepdim) / x
        return _ProdGrad(self.dims, self.keepdim)(gy, x)


class _ProdGrad(Op):
    """d prod / dx_i = product of the other elements, exact when x has zeros (no double backward)."""

    def __init__(self, dims, keepdim):
        self.dims, self.keepdim = dims, keepdim

    def forward(self, gy, x):
        xp = get_array_module(x)
        dims = tuple(range(x.ndim)) if self.dims is None else self.dims
        rest = [d for d in range(x.ndim) if d not in dims]
        moved = xp.transpose(x, rest + list(dims))
        flat = moved.reshape(moved.shape[: len(rest)] + (-1,))
        ones = xp.ones(flat.shape[:-1] + (1,), dtype=x.dtype)
        left = xp.cumprod(xp.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
        right = xp.flip(xp.cumprod(xp.concatenate([ones, xp.flip(flat, -1)[..., :-1]], axis=-1), axis=-1), -1)
        others = (left * right).reshape(moved.shape)
        others = xp.transpose(others, np.argsort(rest + list(dims)))
        g = gy if self.keepdim else gy.reshape(_keepdim_shape(x.shape, self.dims))
        return g * others

    def backward(self, gg):
        raise RuntimeError("double backward through prod() of a tensor containing zeros is not supported")


class AMax(Op):
    """Largest (``largest=True``) or smallest value over ``dims``; ties share the gradient evenly."""

    def __init__(self, dims, keepdim, largest=True):
        self.dims, self.keepdim, self.largest = dims, keepdim, largest

    def forward(self, x):
        xp = get_array_module(x)
        y = xp.amax(x, axis=self.dims, keepdims=True) if self.largest else xp.amin(x, axis=self.dims, keepdims=True)
        mask = (x == y).astype(x.dtype)
        self.share = mask / mask.sum(axis=self.dims, keepdims=True)
        self.x_shape = x.shape
        return y if self.keepdim else y.reshape([s for i, s in enumerate(y.shape) if not _reduced(i, self.dims)])

    def backward(self, gy):
        return _expand_back(gy, self.x_shape, self.dims, self.keepdim) * constant(self.share)


def _reduced(i, dims) -> bool:
    return dims is None or i in dims


class MaxDim(Op):
    """Values of max/min along one dim; the gradient goes to the returned index."""

    def __init__(self, dim, keepdim, largest):
        self.dim, self.keepdim, self.largest = dim, keepdim, largest

    def forward(self, x):
        xp = get_array_module(x)
        arg = xp.argmax(x, axis=self.dim) if self.largest else xp.argmin(x, axis=self.dim)
        self.index = xp.expand_dims(arg, self.dim).astype(np.int64)
        self.x_shape = x.shape
        y = xp.take_along_axis(x, self.index, axis=self.dim)
        return y if self.keepdim else y.squeeze(self.dim)

    def backward(self, gy):
        if not self.keepdim:
            gy = reshape(gy, _keepdim_shape(self.x_shape, (self.dim,)))
        return ScatterAdd(self.dim, self.index, self.x_shape)(gy)


class LogSumExp(Op):
    """log(sum(exp(x))) computed as m + log(sum(exp(x - m))), m = max(x), so it never overflows."""

    def __init__(self, dims, keepdim):
        self.dims, self.keepdim = dims, keepdim

    def forward(self, x):
        xp = get_array_module(x)
        self.save_inputs(0)
        self.save_outputs(0)
        m = (
            xp.amax(x, axis=self.dims, keepdims=True)
            if x.size
            else xp.zeros(_keepdim_shape(x.shape, self.dims), x.dtype)
        )
        m = xp.where(xp.isfinite(m), m, 0)
        y = xp.log(xp.exp(x - m).sum(axis=self.dims, keepdims=True)) + m
        return y if self.keepdim else y.reshape([s for i, s in enumerate(y.shape) if not _reduced(i, self.dims)])

    def backward(self, gy):
        (x,) = self.saved_inputs
        (y,) = self.saved_outputs
        y = y if self.keepdim else reshape(y, _keepdim_shape(x.shape, self.dims))
        return _expand_back(gy, x.shape, self.dims, self.keepdim) * (x - y).exp()


class Cumsum(Op):
    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        return get_array_module(x).cumsum(x, axis=self.dim)

    def backward(self, gy):
        return gy.flip(self.dim).cumsum(self.dim).flip(self.dim)


class Norm2(Op):
    """sqrt(sum x^2); the gradient x / norm is taken as 0 where the norm is 0 (as torch)."""

    def __init__(self, dims, keepdim):
        self.dims, self.keepdim = dims, keepdim

    def forward(self, x):
        xp = get_array_module(x)
        self.save_inputs(0)
        self.save_outputs(0)
        return xp.sqrt((x * x).sum(axis=self.dims, keepdims=self.keepdim))

    def backward(self, gy):
        from .math import where

        (x,) = self.saved_inputs
        (y,) = self.saved_outputs
        y = y if self.keepdim else reshape(y, _keepdim_shape(x.shape, self.dims))
        safe = where(y == 0, 1.0, y)
        return _expand_back(gy, x.shape, self.dims, self.keepdim) * x / safe


# ----------------------------------------------------------------------------------------------
def _dims(input: Tensor, dim):
    dims = normalize_dims(dim, input.ndim) if input.ndim else (None if dim is None else ())
    if dims == ():
        return None
    return dims


def sum(input: Tensor, dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """Sum over ``dim`` (all dims when None). Integer and bool inputs sum to int64, as torch."""
    dims = _dims(input, dim)
    np_dtype = None if dtype is None else dtypes.to_numpy_dtype(dtype)
    if np_dtype is None and input._data.dtype.kind in "biu":
        np_dtype = np.dtype(np.int64)
    if np_dtype is not None and dtypes.is_floating(np_dtype) and np_dtype != input._data.dtype:
        input = input.to(np_dtype)
        np_dtype = None
    return Sum(dims, keepdim, np_dtype)(input)


def mean(input: Tensor, dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    if dtype is not None:
        input = input.to(dtype)
    if not dtypes.is_floating(input._data.dtype):
        raise RuntimeError(
            f"mean(): could not infer output dtype. Input dtype must be floating point, got {input.dtype}"
        )
    return Mean(_dims(input, dim), keepdim)(input)


def var(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction=None) -> Tensor:
    """Variance with Bessel's correction by default (``correction=1``), as torch."""
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    if not dtypes.is_floating(input._data.dtype):
        raise RuntimeError(f"var(): expected a floating-point input, got {input.dtype}")
    return Var(_dims(input, dim), correction, keepdim)(input)


def std(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction=None) -> Tensor:
    return var(input, dim, unbiased, keepdim, correction=correction).sqrt()


def var_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    return var(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


def std_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    return std(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


def prod(input: Tensor, dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    if dtype is not None:
        input = input.to(dtype)
    elif input._data.dtype.kind in "biu":
        input = input.to(dtypes.int64)
    if dim is not None and not isinstance(dim, (int, np.integer)):
        raise TypeError("prod() takes a single int dim, as torch")
    return Prod(_dims(input, dim), keepdim)(input)


def _max_min(input: Tensor, dim, keepdim: bool, largest: bool, other):
    from .math import maximum, minimum

    name = "max" if largest else "min"
    if isinstance(dim, Tensor):  # torch.max(a, b) is maximum
        return maximum(input, dim) if largest else minimum(input, dim)
    if other is not None:
        return maximum(input, other) if largest else minimum(input, other)
    if dim is None:
        if input.numel() == 0:
            raise RuntimeError(f"{name}(): expected a non-empty tensor when no dim is given")
        return AMax(None, False, largest)(input)
    if input.ndim == 0:
        return ValuesIndices(input, constant(xp_of(input).zeros((), np.int64)))
    axis = normalize_dim(dim, input.ndim)
    if input.shape[axis] == 0:
        raise IndexError(f"{name}(): expected reduction dim {axis} to have non-zero size (shape {tuple(input.shape)})")
    op = MaxDim(axis, keepdim, largest)
    values = op(input)
    index = op.index if keepdim else op.index.squeeze(axis)
    return ValuesIndices(values, constant(index))


def max(input: Tensor, dim=None, keepdim: bool = False, *, other=None):
    """``max()``: the largest value; ``max(dim)``: (values, indices); ``max(a, b)``: ``maximum``."""
    return _max_min(input, dim, keepdim, True, other)


def min(input: Tensor, dim=None, keepdim: bool = False, *, other=None):
    """``min()``: the smallest value; ``min(dim)``: (values, indices); ``min(a, b)``: ``minimum``."""
    return _max_min(input, dim, keepdim, False, other)


def amax(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """Largest values over ``dim`` (all dims for ``()``/None); ties share the gradient evenly."""
    return AMax(_dims(input, dim if dim != () else None), keepdim, True)(input)


def amin(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    return AMax(_dims(input, dim if dim != () else None), keepdim, False)(input)


def _arg(input: Tensor, dim, keepdim, largest):
    xp = xp_of(input)
    fn = xp.argmax if largest else xp.argmin
    if dim is None:
        idx = fn(input._data.reshape(-1))
        out = xp.asarray(idx, dtype=np.int64)
        return constant(out.reshape((1,) * input.ndim) if keepdim else out)
    axis = normalize_dim(dim, input.ndim)
    idx = fn(input._data, axis=axis)
    if keepdim:
        idx = xp.expand_dims(idx, axis)
    return constant(xp.asarray(idx, dtype=np.int64))


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return _arg(input, dim, keepdim, True)


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return _arg(input, dim, keepdim, False)


def logsumexp(input: Tensor, dim, keepdim: bool = False) -> Tensor:
    """log(sum(exp(input))) over ``dim``, stable for any magnitude (logits of +-1e4 included)."""
    if not dtypes.is_floating(input._data.dtype):
        input = input.to(dtypes.float32)
    return LogSumExp(_dims(input, dim), keepdim)(input)


def cumsum(input: Tensor, dim: int, dtype=None) -> Tensor:
    if dtype is not None:
        input = input.to(dtype)
    elif input._data.dtype.kind in "biu":
        input = input.to(dtypes.int64)
    return Cumsum(normalize_dim(dim, input.ndim))(input)


def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False) -> Tensor:
    """Vector p-norm over ``dim`` (all elements when None): p = 2/'fro', 1, inf, -inf, 0 or any float."""
    dims = _dims(input, dim)
    if p in ("fro", 2, 2.0):
        return Norm2(dims, keepdim)(input)
    if p == "nuc":
        raise NotImplementedError("the nuclear norm is not supported")
    if p == 1:
        return sum(input.abs(), dims, keepdim)
    if p == math.inf:
        return AMax(dims, keepdim, True)(input.abs())
    if p == -math.inf:
        return AMax(dims, keepdim, False)(input.abs())
    if p == 0:
        return sum((input != 0).to(input.dtype), dims, keepdim)
    return sum(input.abs() ** p, dims, keepdim) ** (1.0 / p)


def all(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    dims = _dims(input, dim)
    return constant(xp_of(input).asarray(input._data.astype(bool).all(axis=dims, keepdims=keepdim)))


def any(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    dims = _dims(input, dim)
    return constant(xp_of(input).asarray(input._data.astype(bool).any(axis=dims, keepdims=keepdim)))


def count_nonzero(input: Tensor, dim=None) -> Tensor:
    dims = _dims(input, dim)
    return constant(xp_of(input).asarray(xp_of(input).count_nonzero(input._data, axis=dims), dtype=np.int64))
