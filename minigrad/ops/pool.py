"""Pooling: max_pool1d/2d, avg_pool1d/2d, adaptive_avg_pool1d/2d, adaptive_max_pool1d/2d.

A pooling window is read as strided slices of the input, one slice per kernel offset (``kh * kw``
of them, each covering the whole batch), never as a loop over output pixels. Only in-bounds
positions are read, so padding never needs to be materialised.

Max pooling remembers, for every output, which kernel offset won (the first maximum in window
order, like torch; NaN wins and propagates). Its gradient scatters to that position; the scatter
and the matching gather are each other's adjoint, so higher derivatives are exact (the argmax is
piecewise constant in x). Average pooling and its adjoint are linear in the same way.
"""

from __future__ import annotations

import math

import numpy as np

from .. import dtypes
from ..autograd.op import Op
from ..backend import get_array_module
from ..tensor import Tensor
from ._common import constant
from .conv import ntuple, window_pairs, work_dtype
from .indexing import Gather
from .linalg import matmul


# ----------------------------------------------------------------------------------------------
# Window geometry
# ----------------------------------------------------------------------------------------------
class PoolGeometry:
    """Windows of a pooling layer; one entry per spatial dim (see ``conv.window_pairs``)."""

    __slots__ = ("kernel", "stride", "padding", "dilation", "in_size", "out_size", "pairs")

    def __init__(self, kernel, stride, padding, dilation, in_size, out_size):
        self.kernel, self.stride, self.padding, self.dilation = kernel, stride, padding, dilation
        self.in_size, self.out_size = in_size, out_size
        self.pairs = window_pairs(kernel, stride, padding, dilation, in_size, out_size)

    @property
    def disjoint(self) -> bool:
        """True when no input position lies in two windows (then scatters can assign)."""
        return all(s >= d * (k - 1) + 1 for s, d, k in zip(self.stride, self.dilation, self.kernel))


def _pool_output_size(op_name: str, in_size, kernel, stride, padding, dilation, ceil_mode: bool) -> tuple:
    """torch's rule: floor (or ceil) of the window count, but the last window must start inside
    the input or the left padding."""
    out = []
    for n, k, s, p, d in zip(in_size, kernel, stride, padding, dilation):
        span = n + 2 * p - d * (k - 1) - 1
        o = (span + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (o - 1) * s >= n + p:
            o -= 1
        out.append(o)
    if any(o <= 0 for o in out):
        raise RuntimeError(f"{op_name}: given input size ({'x'.join(map(str, in_size))}), the calculated output "
                           f"size ({'x'.join(map(str, out))}) is too small (kernel_size {kernel}, stride {stride}, "
                           f"padding {padding}, dilation {dilation})")
    return tuple(out)


def _lead(x, d: int) -> tuple:
    return (slice(None),) * (x.ndim - d)


# ----------------------------------------------------------------------------------------------
# Max pooling
# ----------------------------------------------------------------------------------------------
def _first_valid_offset(g: PoolGeometry, xp):
    """For each output position, the flat kernel offset of its first in-bounds input (torch's initial index)."""
    flat = None
    for dim, (k, s, p, d, n_out) in enumerate(zip(g.kernel, g.stride, g.padding, g.dilation, g.out_size)):
        o = np.arange(n_out)
        first = np.maximum(0, -((o * s - p) // d))  # smallest k with o * s - p + k * d >= 0
        first = np.minimum(first, k - 1)
        shape = [1] * len(g.kernel)
        shape[dim] = n_out
        first = first.reshape(shape)
        flat = first if flat is None else flat * k + first
    return xp.asarray(flat)


class MaxPool(Op):
    """y = max over each window; ``self.arg`` keeps the winning kernel offset per output.

    The winner is tracked only when it is needed (a gradient or ``return_indices``); a plain
    forward is one ``maximum`` per kernel offset.
    """

    def __init__(self, geometry: PoolGeometry, return_indices: bool = False):
        self.g, self.return_indices = geometry, return_indices

    def forward(self, x):
        xp = get_array_module(x)
        g = self.g
        d = len(g.kernel)
        lead = _lead(x, d)
        out_shape = x.shape[: x.ndim - d] + g.out_size
        count = math.prod(g.kernel)
        track = self.return_indices or self.needs_input_grad[0]
        arg = xp.zeros(out_shape, dtype=np.int8 if count <= 127 else np.int32) if track else None
        pairs = g.pairs
        full = bool(pairs) and pairs[0][2] == tuple(slice(0, n) for n in g.out_size)
        if full:  # the first offset sees every output: start from it instead of -inf
            y = x[lead + pairs[0][3]].copy()
            if track:
                arg[...] = pairs[0][0]
            pairs = pairs[1:]
        else:
            y = xp.full(out_shape, -xp.inf, dtype=x.dtype)
            if track:
                arg[...] = _first_valid_offset(g, xp)
        for flat, _, o_sl, i_sl in pairs:
            v = x[lead + i_sl]
            cur = y[lead + o_sl]
            if track:
                # strict >: the first maximum in window order wins, as torch. Offsets come in
                # increasing order, so "the last offset that improved" is a running maximum of
                # flat * better (cheaper than a masked copy).
                a = arg[lead + o_sl]
                xp.maximum(a, xp.multiply(v > cur, flat, dtype=arg.dtype), out=a)
            xp.maximum(cur, v, out=cur)  # NaN propagates into the value
        if not track:
            return y
        nan = xp.isnan(y)
        if nan.any():  # torch's index for a NaN window: the last NaN (every NaN replaces the max)
            for flat, _, o_sl, i_sl in g.pairs:
                xp.copyto(arg[lead + o_sl], flat, where=nan[lead + o_sl] & xp.isnan(x[lead + i_sl]))
        self.arg = arg
        self.x_shape = x.shape
        return y

    def backward(self, gy):
        return MaxPoolScatter(self.g, self.arg, self.x_shape)(gy)


class MaxPoolScatter(Op):
    """Send each output gradient to its window's argmax (the adjoint of ``MaxPoolGather``)."""

    def __init__(self, geometry: PoolGeometry, arg, x_shape):
        self.g, self.arg, self.x_shape = geometry, arg, x_shape

    def forward(self, gy):
        xp = get_array_module(gy)
        g = self.g
        lead = _lead(gy, len(g.kernel))
        gx = xp.zeros(self.x_shape, dtype=gy.dtype)
        disjoint = g.disjoint
        finite = bool(xp.isfinite(gy).all())  # then gy * hit is exact (no inf * 0) and faster than where
        for flat, _, o_sl, i_sl in g.pairs:
            hit = self.arg[lead + o_sl] == flat
            if disjoint and finite:  # every input position is in one window: write in place
                xp.multiply(gy[lead + o_sl], hit, out=gx[lead + i_sl])
            else:
                gx[lead + i_sl] += gy[lead + o_sl] * hit if finite else xp.where(hit, gy[lead + o_sl], 0)
        return gx

    def backward(self, ggx):
        return MaxPoolGather(self.g, self.arg)(ggx)


class MaxPoolGather(Op):
    """Read each window's argmax position: max pooling with the winners fixed (linear)."""

    def __init__(self, geometry: PoolGeometry, arg):
        self.g, self.arg = geometry, arg

    def forward(self, x):
        xp = get_array_module(x)
        g = self.g
        lead = _lead(x, len(g.kernel))
        self.x_shape = x.shape
        y = xp.zeros(self.arg.shape, dtype=x.dtype)
        for flat, _, o_sl, i_sl in g.pairs:
            cur = y[lead + o_sl]
            xp.copyto(cur, x[lead + i_sl], where=self.arg[lead + o_sl] == flat)
        return y

    def backward(self, gy):
        return MaxPoolScatter(self.g, self.arg, self.x_shape)(gy)


def _max_indices(g: PoolGeometry, arg, xp):
    """torch's ``return_indices``: the flat position h * W + w of each maximum in its input plane."""
    offsets = arg.astype(np.int64)
    flat = None
    rest = offsets
    coords = []
    for k in reversed(g.kernel):
        coords.append(rest % k)
        rest = rest // k
    coords.reverse()
    d = len(g.kernel)
    for dim, (kk, s, p, dl, n_in, n_out) in enumerate(zip(coords, g.stride, g.padding, g.dilation, g.in_size,
                                                           g.out_size)):
        shape = [1] * d
        shape[dim] = n_out
        start = xp.asarray((np.arange(n_out) * s - p).reshape(shape))
        pos = start + kk * dl
        flat = pos if flat is None else flat * n_in + pos
    return flat


# ----------------------------------------------------------------------------------------------
# Average pooling
# ----------------------------------------------------------------------------------------------
def _avg_divisor(g: PoolGeometry, count_include_pad: bool, divisor_override, xp, dtype):
    """1 / (number of elements averaged) per output, or a Python float when it is the same everywhere.

    torch counts the window clipped to the padded input (``count_include_pad``) or to the input
    itself; a window of a ceil_mode output that hangs past the padding is clipped either way.
    """
    if divisor_override is not None:
        return 1.0 / divisor_override
    counts = None
    for dim, (k, s, p, n_in, n_out) in enumerate(zip(g.kernel, g.stride, g.padding, g.in_size, g.out_size)):
        start = np.arange(n_out) * s - p
        end = np.minimum(start + k, n_in + p)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, n_in)
        c = (end - start).astype(np.float64)
        shape = [1] * len(g.kernel)
        shape[dim] = n_out
        c = c.reshape(shape)
        counts = c if counts is None else counts * c
    if np.all(counts == counts.flat[0]):
        return 1.0 / float(counts.flat[0])
    return xp.asarray(1.0 / counts, dtype=dtype)


class AvgPool(Op):
    """y = (sum of the window) * scale, scale = 1 / divisor (a float or an array over outputs)."""

    def __init__(self, geometry: PoolGeometry, scale):
        self.g, self.scale = geometry, scale

    def forward(self, x):
        xp = get_array_module(x)
        g = self.g
        lead = _lead(x, len(g.kernel))
        self.x_shape = x.shape
        acc = xp.zeros(x.shape[: x.ndim - len(g.kernel)] + g.out_size, dtype=work_dtype(x.dtype))
        for _, _, o_sl, i_sl in g.pairs:
            acc[lead + o_sl] += x[lead + i_sl]
        acc *= self.scale
        return acc.astype(x.dtype, copy=False)

    def backward(self, gy):
        return AvgPoolAdjoint(self.g, self.scale, self.x_shape)(gy)


class AvgPoolAdjoint(Op):
    """Spread each output gradient * scale evenly over its window (the adjoint of AvgPool)."""

    def __init__(self, geometry: PoolGeometry, scale, x_shape):
        self.g, self.scale, self.x_shape = geometry, scale, x_shape

    def forward(self, gy):
        xp = get_array_module(gy)
        g = self.g
        lead = _lead(gy, len(g.kernel))
        part = gy * self.scale
        if part.dtype != gy.dtype:
            part = part.astype(gy.dtype)
        gx = xp.zeros(self.x_shape, dtype=work_dtype(gy.dtype))
        for _, _, o_sl, i_sl in g.pairs:
            gx[lead + i_sl] += part[lead + o_sl]
        return gx.astype(gy.dtype, copy=False)

    def backward(self, ggx):
        return AvgPool(self.g, self.scale)(ggx)


# ----------------------------------------------------------------------------------------------
# Public functions
# ----------------------------------------------------------------------------------------------
def _pool_input(op_name: str, input: Tensor, d: int) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op_name}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim not in (d + 1, d + 2):
        layout = "(N, C, L)" if d == 1 else "(N, C, H, W)"
        raise RuntimeError(f"{op_name}: expected {d + 1}D (unbatched) or {d + 2}D (batched) input {layout}, but got "
                           f"input of shape {tuple(input.shape)}")
    if any(n == 0 for n in input.shape[1:]):
        raise RuntimeError(f"{op_name}: expected input with non-zero sizes in its non-batch dims, got shape "
                           f"{tuple(input.shape)}")
    if not dtypes.is_floating(input._data.dtype):
        raise RuntimeError(f"{op_name}: expected a floating-point input, got {input.dtype}")


def _pool_args(op_name: str, d: int, kernel_size, stride, padding, dilation):
    kernel = ntuple(kernel_size, d, "kernel_size", op_name)
    stride = kernel if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else \
        ntuple(stride, d, "stride", op_name)
    padding = ntuple(padding, d, "padding", op_name)
    dilation = ntuple(dilation, d, "dilation", op_name)
    if any(k <= 0 for k in kernel):
        raise RuntimeError(f"{op_name}: kernel_size must be greater than zero, got {kernel}")
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"{op_name}: stride must be greater than zero, got {stride}")
    if any(dl <= 0 for dl in dilation):
        raise RuntimeError(f"{op_name}: dilation must be greater than zero, got {dilation}")
    if any(p < 0 for p in padding):
        raise RuntimeError(f"{op_name}: padding must be non-negative, got {padding}")
    return kernel, stride, padding, dilation


def _max_pool(op_name: str, d: int, input: Tensor, kernel_size, stride, padding, dilation, ceil_mode,
              return_indices):
    _pool_input(op_name, input, d)
    kernel, stride, padding, dilation = _pool_args(op_name, d, kernel_size, stride, padding, dilation)
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise RuntimeError(f"{op_name}: pad should be at most half of kernel size, but got padding {padding} and "
                           f"kernel_size {kernel}")
    in_size = tuple(input.shape[-d:])
    out_size = _pool_output_size(op_name, in_size, kernel, stride, padding, dilation, ceil_mode)
    g = PoolGeometry(kernel, stride, padding, dilation, in_size, out_size)
    op = MaxPool(g, return_indices)
    y = op(input)
    if not return_indices:
        return y
    return y, constant(_max_indices(g, op.arg, get_array_module(input._data)))


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """Max over sliding windows of (N, C, L) (or (C, L)); ``stride`` defaults to ``kernel_size``.

    Padding is implicit -inf. With ``return_indices`` also returns the flat index of each maximum
    in its input row (int64), as ``max_unpool1d`` expects.
    """
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """Max over sliding windows of (N, C, H, W) (or (C, H, W)); ``stride`` defaults to ``kernel_size``.

    Output size per dim: floor_or_ceil((n + 2 * padding - dilation * (k - 1) - 1) / stride) + 1.
    The gradient goes to the first maximum of each window. ``return_indices`` adds the flat index
    h * W + w of every maximum (int64).
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool1d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode: bool = False, return_indices: bool = True):
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode: bool = False, return_indices: bool = True):
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, True)


def _avg_pool(op_name: str, d: int, input: Tensor, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    _pool_input(op_name, input, d)
    kernel, stride, padding, dilation = _pool_args(op_name, d, kernel_size, stride, padding, 1)
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise RuntimeError(f"{op_name}: pad should be at most half of kernel size, but got padding {padding} and "
                           f"kernel_size {kernel}")
    if divisor_override is not None and (not isinstance(divisor_override, (int, np.integer)) or divisor_override <= 0):
        raise RuntimeError(f"{op_name}: divisor must be a positive integer, got {divisor_override!r}")
    in_size = tuple(input.shape[-d:])
    out_size = _pool_output_size(op_name, in_size, kernel, stride, padding, dilation, ceil_mode)
    g = PoolGeometry(kernel, stride, padding, dilation, in_size, out_size)
    xp = get_array_module(input._data)
    scale = _avg_divisor(g, count_include_pad, divisor_override, xp, work_dtype(input._data.dtype))
    return AvgPool(g, scale)(input)


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Mean over sliding windows of (N, C, L); the zero padding counts in the mean unless
    ``count_include_pad=False``."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over sliding windows of (N, C, H, W); ``divisor_override`` replaces the window size
    as the divisor."""
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


# ----------------------------------------------------------------------------------------------
# Adaptive pooling
# ----------------------------------------------------------------------------------------------
def _adaptive_size(op_name: str, input: Tensor, d: int, output_size) -> tuple:
    _pool_input(op_name, input, d)
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != d:
            raise ValueError(f"{op_name}: output_size must have {d} elements, got {output_size!r}")
        size = tuple(input.shape[input.ndim - d + i] if s is None else s for i, s in enumerate(output_size))
    else:
        size = (output_size,) * d
    if not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in size):
        raise TypeError(f"{op_name}: output_size must be ints (or None to keep a size), got {output_size!r}")
    if any(s <= 0 for s in size):
        raise RuntimeError(f"{op_name}: output_size must be positive, got {tuple(size)}")
    return tuple(int(s) for s in size)


def _adaptive_bounds(n_in: int, n_out: int):
    """torch's adaptive windows: [floor(i * n_in / n_out), ceil((i + 1) * n_in / n_out))."""
    i = np.arange(n_out)
    return (i * n_in) // n_out, ((i + 1) * n_in + n_out - 1) // n_out


def _adaptive_matrix(n_in: int, n_out: int, xp, dtype):
    """(n_out, n_in) averaging matrix: row i holds 1/len over window i."""
    start, end = _adaptive_bounds(n_in, n_out)
    j = np.arange(n_in)
    inside = (j[None, :] >= start[:, None]) & (j[None, :] < end[:, None])
    return xp.asarray(inside / (end - start)[:, None], dtype=dtype)


def _adaptive_avg(op_name: str, d: int, input: Tensor, output_size) -> Tensor:
    size = _adaptive_size(op_name, input, d, output_size)
    in_size = tuple(input.shape[-d:])
    spatial = tuple(range(input.ndim - d, input.ndim))
    if all(s == 1 for s in size):
        return input.mean(spatial, keepdim=True)
    if all(n % s == 0 for n, s in zip(in_size, size)):  # equal windows: a reshape and a mean
        split = input.shape[: input.ndim - d]
        for n, s in zip(in_size, size):
            split += (s, n // s)
        lead = input.ndim - d
        return input.reshape(split).mean(tuple(lead + 2 * i + 1 for i in range(d)))
    # unequal (overlapping) windows: a separable linear map, one small GEMM per spatial dim
    xp = get_array_module(input._data)
    dtype = input._data.dtype
    y = input
    for i, (n, s) in enumerate(zip(in_size, size)):
        A = constant(_adaptive_matrix(n, s, xp, dtype))
        axis = input.ndim - d + i
        if axis == input.ndim - 1:
            y = matmul(y, A.mT)
        else:
            y = matmul(y.transpose(axis, -1), A.mT).transpose(axis, -1)
    return y


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Average pooling of (N, C, L) to a fixed length; window i is [floor(iL/o), ceil((i+1)L/o))."""
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average pooling of (N, C, H, W) to a fixed (oh, ow) (an int, a pair, None keeps a size)."""
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


def _adaptive_max(op_name: str, d: int, input: Tensor, output_size, return_indices: bool):
    size = _adaptive_size(op_name, input, d, output_size)
    in_size = tuple(input.shape[-d:])
    if all(n % s == 0 for n, s in zip(in_size, size)):  # equal windows: plain max pooling
        k = tuple(n // s for n, s in zip(in_size, size))
        return _max_pool(op_name, d, input, k, k, 0, 1, False, return_indices)
    xp = get_array_module(input._data)
    # every window padded to the longest one by repeating its last index (harmless for a max)
    index = None
    for i, (n, s) in enumerate(zip(in_size, size)):
        start, end = _adaptive_bounds(n, s)
        width = int((end - start).max())
        pos = np.minimum(start[:, None] + np.arange(width)[None, :], end[:, None] - 1)  # (s, width)
        shape = [1] * (2 * d)
        shape[2 * i], shape[2 * i + 1] = s, width
        pos = pos.reshape(shape)
        index = pos if index is None else index * n + pos
    # window elements last: (o1, o2, ..., w1 * w2 * ...)
    win = index.transpose(tuple(2 * i for i in range(d)) + tuple(2 * i + 1 for i in range(d)))
    win = win.reshape(size + (-1,))
    lead = input.shape[: input.ndim - d]
    flat_x = input.reshape(lead + (math.prod(in_size),))
    data = flat_x._data[..., xp.asarray(win)]  # lead + size + (window,)
    best = xp.argmax(data, axis=-1)  # the first maximum wins
    outputs = math.prod(size)
    flat_index = xp.asarray(win.reshape(outputs, -1))[xp.arange(outputs).reshape(size), best]
    y = Gather(len(lead), flat_index.reshape(lead + (outputs,)))(flat_x).reshape(lead + size)
    if return_indices:
        return y, constant(flat_index)
    return y


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling of (N, C, L) to a fixed length (torch's adaptive windows)."""
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling of (N, C, H, W) to a fixed (oh, ow); ``return_indices`` gives flat h * W + w indices."""
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)
