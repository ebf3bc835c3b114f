"""softmax, log_softmax, softmin: normalised exponentials along one dim.

    softmax(x)_i     = exp(x_i - m) / sum_j exp(x_j - m),        m = max_j x_j
    log_softmax(x)_i = x_i - m - log(sum_j exp(x_j - m))

Subtracting the max first means ``exp`` only ever sees numbers <= 0: no overflow at logits of
1e4, and the log-sum-exp is at least 0. Half-precision inputs (float16, bfloat16) are computed in
float32 and rounded back once, as torch does on the CPU.

Each is one op whose backward is one fused op on raw arrays (``SoftmaxGrad``, ``LogSoftmaxGrad``):

    softmax:      gx = y * (gy - sum(gy * y))
    log_softmax:  gx = gy - exp(y) * sum(gy)

and those fused ops have their own backward written with minigrad ops, so second and higher
derivatives are exact too (Chainer's ``FooGrad`` pattern).
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import dtypes
from ..autograd.op import Op
from ..backend import get_array_module
from ..tensor import Tensor
from ._common import normalize_dim


def compute_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype to compute in: float32 for half-precision floats (as torch's CPU kernels), else ``dtype``."""
    return np.dtype(np.float32) if dtype.itemsize < 4 else dtype


def _upcast(x):
    """``x`` in its compute dtype, and whether that made a fresh copy (which may then be overwritten)."""
    ct = compute_dtype(x.dtype)
    if ct == x.dtype:
        return x, False
    return x.astype(ct), True


def _result(z, out):
    """Hand back ``z``, through ``out`` when one was given (and z was not computed in it)."""
    if out is not None and z is not out:
        out[...] = z
    return z


def _softmax_kernel(x, axis, out, log):
    """(log-)softmax of ``x`` along ``axis``, written into ``out`` if given."""
    xp = get_array_module(x)
    xc, fresh = _upcast(x)
    if xc.size == 0:
        return _result(xc.copy(), out)
    m = xc.max(axis=axis, keepdims=True)
    z = out if out is not None and out.dtype == xc.dtype else (xc if fresh else None)
    z = xp.subtract(xc, m, out=z)
    if log:
        z -= xp.log(xp.exp(z).sum(axis=axis, keepdims=True))
    else:
        xp.exp(z, out=z)
        z /= z.sum(axis=axis, keepdims=True)
    return _result(z, out)


def _softmax_grad_kernel(y, gy, axis, out):
    """y * (gy - sum(gy * y)) along ``axis``."""
    xp = get_array_module(y)
    yc, _ = _upcast(y)
    gc, _ = _upcast(gy)
    gx = xp.multiply(gc, yc, out=out if out is not None and out.dtype == yc.dtype else None)
    s = gx.sum(axis=axis, keepdims=True)
    xp.subtract(gc, s, out=gx)
    gx *= yc
    return _result(gx, out)


def _log_softmax_grad_kernel(y, gy, axis, out):
    """gy - exp(y) * sum(gy) along ``axis``."""
    xp = get_array_module(y)
    yc, fresh = _upcast(y)
    gc, _ = _upcast(gy)
    gx = xp.exp(yc, out=out if out is not None and out.dtype == yc.dtype else (yc if fresh else None))
    gx *= gc.sum(axis=axis, keepdims=True)
    xp.subtract(gc, gx, out=gx)
    return _result(gx, out)


_BLOCK = 1 << 16  # elements per block of rows: the few arrays of one block stay in the CPU's cache


def _rowwise(kernel, axis, dtype, *arrays, **kwargs):
    """``kernel(*arrays, axis, out)`` as an array of ``dtype``.

    Each kernel makes about five passes (max, subtract, exp, sum, divide). On the CPU, for a big
    input reduced along its last, contiguous dim, they are run block of rows by block of rows, so
    memory is read and written once and the other passes hit the cache: about twice as fast.
    """
    x = arrays[0]
    C = x.shape[-1] if x.ndim else 1
    if (get_array_module(x) is np and x.size >= 2 * _BLOCK and axis == x.ndim - 1
            and all(a.flags.c_contiguous for a in arrays)):
        flat = [a.reshape(-1, C) for a in arrays]
        out = np.empty(flat[0].shape, dtype)
        step = max(1, _BLOCK // C)
        for i in range(0, out.shape[0], step):  # a loop over cache-sized tiles, not over elements
            kernel(*[a[i:i + step] for a in flat], -1, out[i:i + step], **kwargs)
        return out.reshape(x.shape)
    return kernel(*arrays, axis, None, **kwargs).astype(dtype, copy=False)


# ----------------------------------------------------------------------------------------------
class Softmax(Op):
    """y = exp(x - max) / sum(exp(x - max)) along ``dim``."""

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        self.save_outputs(0)
        return _rowwise(_softmax_kernel, self.dim, x.dtype, x, log=False)

    def backward(self, gy):
        (y,) = self.saved_outputs
        return SoftmaxGrad(self.dim)(y, gy)


class SoftmaxGrad(Op):
    """gx = y * (gy - sum(gy * y)): softmax's vector-Jacobian product, fused on raw arrays."""

    def __init__(self, dim):
        self.dim = dim

    def forward(self, y, gy):
        self.save_inputs(0, 1)
        return _rowwise(_softmax_grad_kernel, self.dim, gy.dtype, y, gy)

    def backward(self, ggx):
        # L = <ggx, y * (gy - s)>, s = sum(gy * y):
        #   dL/dgy = y * (ggx - sum(ggx * y))            (softmax's own VJP, applied to ggx)
        #   dL/dy  = ggx * (gy - s) - sum(ggx * y) * gy
        y, gy = self.saved_inputs
        g_y = g_gy = None
        if self.needs_input_grad[1]:
            g_gy = SoftmaxGrad(self.dim)(y, ggx)
        if self.needs_input_grad[0]:
            s = (gy * y).sum(self.dim, keepdim=True)
            t = (ggx * y).sum(self.dim, keepdim=True)
            g_y = ggx * (gy - s) - t * gy
        return g_y, g_gy


class LogSoftmax(Op):
    """y = x - max - log(sum(exp(x - max))) along ``dim``."""

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        self.save_outputs(0)
        return _rowwise(_softmax_kernel, self.dim, x.dtype, x, log=True)

    def backward(self, gy):
        (y,) = self.saved_outputs
        return LogSoftmaxGrad(self.dim)(y, gy)


class LogSoftmaxGrad(Op):
    """gx = gy - exp(y) * sum(gy): log_softmax's vector-Jacobian product, fused on raw arrays."""

    def __init__(self, dim):
        self.dim = dim

    def forward(self, y, gy):
        self.save_inputs(0, 1)
        return _rowwise(_log_softmax_grad_kernel, self.dim, gy.dtype, y, gy)

    def backward(self, ggx):
        # L = <ggx, gy - exp(y) * S>, S = sum(gy):
        #   dL/dgy = ggx - sum(ggx * exp(y))
        #   dL/dy  = -ggx * exp(y) * S
        y, gy = self.saved_inputs
        p = y.exp()
        g_y = g_gy = None
        if self.needs_input_grad[1]:
            g_gy = ggx - (ggx * p).sum(self.dim, keepdim=True)
        if self.needs_input_grad[0]:
            g_y = -ggx * p * gy.sum(self.dim, keepdim=True)
        return g_y, g_gy


# ----------------------------------------------------------------------------------------------
def _legacy_dim(name: str, ndim: int) -> int:
    """torch's choice when ``dim`` is not given (deprecated there too): 0 for 0-, 1- and 3-d, else 1."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X "
                  "as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def _prepare(name: str, input: Tensor, dim, dtype):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be a Tensor, not {type(input).__name__}")
    if dtype is not None:
        input = input.to(dtype)
    if not dtypes.is_floating(input._data.dtype):
        raise TypeError(f"{name}(): expected a floating-point input, got {input.dtype} "
                        f"(pass dtype=minigrad.float32 to convert it)")
    if dim is None:
        dim = _legacy_dim(name, input.ndim)
    return input, normalize_dim(dim, input.ndim)


def _apply(op_class, input: Tensor, dim: int) -> Tensor:
    if input.ndim == 0:  # the ops see at least one dim: NumPy turns 0-d results into scalars
        return op_class(0)(input.reshape(1)).reshape(())
    return op_class(dim)(input)


def softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """softmax(x)_i = exp(x_i) / sum_j exp(x_j) along ``dim``, computed as exp(x_i - max) / sum exp(x_j - max).

    ``dtype`` casts the input first (torch's way to get a float32 softmax of a float16 tensor).
    Half-precision inputs are computed in float32 internally and rounded back.
    """
    input, dim = _prepare("softmax", input, dim, dtype)
    return _apply(Softmax, input, dim)


def log_softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """log(softmax(x)) along ``dim``, as x - max - log(sum(exp(x - max))): exact where softmax underflows."""
    input, dim = _prepare("log_softmax", input, dim, dtype)
    return _apply(LogSoftmax, input, dim)


def softmin(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """softmin(x) = softmax(-x) along ``dim``."""
    input, dim = _prepare("softmin", input, dim, dtype)
    return _apply(Softmax, -input, dim)
