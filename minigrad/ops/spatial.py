"""Spatial ops: pad, interpolate (nearest, nearest-exact, linear, bilinear, area), pixel_shuffle/unshuffle.

Padding (reflect/replicate/circular) and resampling are, along each padded or resized dim, a
gather of input positions (``take`` with an index map), optionally blended by linear weights.
The gather's adjoint sums gradients back onto the positions each output came from; the two ops
are each other's derivative, so higher derivatives are exact. Constant padding is a copy into a
filled buffer; its adjoint is the same op with the pads negated (a crop).
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.op import Op
from ..backend import get_array_module
from ..tensor import Tensor
from ._common import constant
from .convert import clone


# ----------------------------------------------------------------------------------------------
# Gathers along one axis
# ----------------------------------------------------------------------------------------------
class TakeAxis(Op):
    """y = take(x, index, axis): output position t reads input position index[t].

    ``center`` = (t0, i0, length) names an identity run (output t0 + j reads input i0 + j), which
    the adjoint copies as a block instead of treating as scattered positions.
    """

    def __init__(self, axis: int, index: np.ndarray, size: int, center=(0, 0, 0)):
        self.axis, self.index, self.size, self.center = axis, index, size, center

    def forward(self, x):
        xp = get_array_module(x)
        return xp.take(x, xp.asarray(self.index), axis=self.axis)

    def backward(self, gy):
        return TakeAxisAdjoint(self.axis, self.index, self.size, self.center)(gy)


class TakeAxisAdjoint(Op):
    """gx[..., i, ...] = sum of gy[..., t, ...] over the t with index[t] == i (adjoint of TakeAxis)."""

    def __init__(self, axis: int, index: np.ndarray, size: int, center=(0, 0, 0)):
        self.axis, self.index, self.size, self.center = axis, index, size, center

    def forward(self, gy):
        xp = get_array_module(gy)
        axis, index, size = self.axis, self.index, self.size
        shape = list(gy.shape)
        shape[axis] = size
        lead = (slice(None),) * axis
        length = len(index)
        repeat = length // size if size else 0
        if repeat and length == size * repeat and np.array_equal(index, np.arange(length) // repeat):
            # each input repeated `repeat` times in a row (nearest upsampling by an integer factor)
            split = tuple(gy.shape[:axis]) + (size, repeat) + tuple(gy.shape[axis + 1:])
            return gy.reshape(split).sum(axis=axis + 1)
        gx = xp.zeros(shape, dtype=gy.dtype)
        t0, i0, run = self.center
        if run:
            gx[lead + (slice(i0, i0 + run),)] = gy[lead + (slice(t0, t0 + run),)]
        rest = np.concatenate([np.arange(0, t0), np.arange(t0 + run, length)]).astype(np.int64)
        if rest.size:
            # the scattered positions: a 0/1 matrix from those outputs to the inputs they read,
            # applied as one GEMM (several outputs may read one input, e.g. replicate padding)
            targets, inverse = np.unique(index[rest], return_inverse=True)
            M = np.zeros((rest.size, targets.size), dtype=gy.dtype)
            M[np.arange(rest.size), inverse] = 1
            part = xp.tensordot(xp.take(gy, xp.asarray(rest), axis=axis), xp.asarray(M), axes=([axis], [0]))
            gx[lead + (xp.asarray(targets),)] += xp.moveaxis(part, -1, axis)
        return gx

    def backward(self, ggx):
        return TakeAxis(self.axis, self.index, self.size, self.center)(ggx)


# ----------------------------------------------------------------------------------------------
# pad
# ----------------------------------------------------------------------------------------------
class PadConstant(Op):
    """Pad (or crop, for negative widths) every dim by ``pads[d] = (lo, hi)`` with ``value``."""

    def __init__(self, pads, value):
        self.pads, self.value = pads, value

    def forward(self, x):
        xp = get_array_module(x)
        shape = tuple(n + lo + hi for n, (lo, hi) in zip(x.shape, self.pads))
        out = xp.full(shape, self.value, dtype=x.dtype) if self.value else xp.zeros(shape, dtype=x.dtype)
        src = tuple(slice(max(0, -lo), n - max(0, -hi)) for n, (lo, hi) in zip(x.shape, self.pads))
        dst = tuple(slice(max(0, lo), max(0, lo) + (s.stop - s.start)) for s, (lo, _) in zip(src, self.pads))
        out[dst] = x[src]
        return out

    def backward(self, gy):
        # the adjoint of padding by (lo, hi) is padding by (-lo, -hi): crop what was added, zeros where cropped
        return PadConstant(tuple((-lo, -hi) for lo, hi in self.pads), 0)(gy)


def _pad_index(mode: str, n: int, lo: int, hi: int):
    """Index map of one padded dim (input size n, widths lo/hi, negative = crop) and its identity run."""
    if mode == "circular":  # torch crops first, then wraps around the cropped part
        start, kept = max(0, -lo), n - max(0, -lo) - max(0, -hi)
        t = np.arange(kept + max(0, lo) + max(0, hi)) - max(0, lo)
        index = start + np.mod(t, kept) if kept else t
        return index.astype(np.int64), (max(0, lo), start, kept)
    v = np.arange(n + lo + hi) - lo
    if mode == "reflect":
        index = np.where(v < 0, -v, np.where(v >= n, 2 * (n - 1) - v, v))
    else:  # replicate
        index = np.clip(v, 0, n - 1)
    start = max(0, -lo)
    return index.astype(np.int64), (max(0, lo), start, n - start - max(0, -hi))


_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last ``len(pad) // 2`` dims; ``pad`` lists (left, right) of the *last* dim first,
    then the second-to-last, ... as torch. Negative widths crop.

    Modes: ``constant`` (``value``, any number of dims), ``reflect`` (mirror without repeating the
    edge; widths < the dim's size), ``replicate`` (repeat the edge), ``circular`` (wrap around).
    The non-constant modes pad the last 1, 2 or 3 dims of a batched or unbatched input.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"pad: input must be a Tensor, got {type(input).__name__}")
    if not isinstance(pad, (tuple, list)) or not all(isinstance(p, (int, np.integer)) and not isinstance(p, bool)
                                                      for p in pad):
        raise TypeError(f"pad: pad must be a tuple of ints, got {pad!r}")
    if mode not in _PAD_MODES:
        raise NotImplementedError(f"pad: unrecognised padding mode {mode!r}; expected one of {_PAD_MODES}")
    if len(pad) % 2:
        raise RuntimeError(f"pad: padding length must be divisible by 2, got {len(pad)} ({tuple(pad)})")
    if len(pad) // 2 > input.ndim:
        raise RuntimeError(f"pad: padding length should be less than or equal to two times the input dimension, "
                           f"but got padding length {len(pad)} and input of shape {tuple(input.shape)}")
    k = len(pad) // 2
    widths = [(int(pad[2 * i]), int(pad[2 * i + 1])) for i in range(k)]  # last dim first
    dims = [input.ndim - 1 - i for i in range(k)]
    if mode == "constant":
        for d, (lo, hi) in zip(dims, widths):
            if input.shape[d] + lo + hi < 0 or input.shape[d] - max(0, -lo) - max(0, -hi) < 0:
                raise RuntimeError(f"pad: the input size {input.shape[d]}, plus negative padding {lo} and {hi}, "
                                   f"resulted in a negative output size at dimension {d} of input of shape "
                                   f"{tuple(input.shape)}")
        pads = [(0, 0)] * input.ndim
        for d, w in zip(dims, widths):
            pads[d] = w
        return PadConstant(tuple(pads), 0 if value is None else value)(input)
    if value is not None and value != 0:
        raise RuntimeError(f"pad: padding mode {mode!r} doesn't take in a value argument")
    if k not in (1, 2, 3) or input.ndim not in (k + 1, k + 2):
        raise NotImplementedError(
            f"pad: padding size {len(pad)} is not supported for {input.ndim}-D input of shape {tuple(input.shape)} "
            f"in mode {mode!r}; supported: 2-D or 3-D input with 2 pads, 3-D or 4-D with 4, 4-D or 5-D with 6")
    out = input
    for d, (lo, hi) in zip(dims, widths):
        n = input.shape[d]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError(f"pad: padding size should be less than the corresponding input dimension, but got "
                               f"padding ({lo}, {hi}) at dimension {d} of input of shape {tuple(input.shape)}")
        if mode == "circular":
            kept = n - max(0, -lo) - max(0, -hi)
            if max(0, lo) > kept or max(0, hi) > kept:
                raise RuntimeError(f"pad: padding ({lo}, {hi}) at dimension {d} of input of shape "
                                   f"{tuple(input.shape)} causes wrapping around more than once")
            if kept < 0:
                raise RuntimeError(f"pad: negative padding ({lo}, {hi}) at dimension {d} leaves a negative size "
                                   f"(input shape {tuple(input.shape)})")
        elif n + lo + hi <= 0:
            raise RuntimeError(f"pad: input of shape {tuple(input.shape)} is too small for padding ({lo}, {hi}) at "
                               f"dimension {d}: the calculated output size is {n + lo + hi}")
        index, center = _pad_index(mode, n, lo, hi)
        out = TakeAxis(d, index, n, center)(out)
    return out


# ----------------------------------------------------------------------------------------------
# interpolate
# ----------------------------------------------------------------------------------------------
_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "area")


def _opmath(dtype) -> type:
    """The precision torch computes source positions in: double for float64 inputs, else float."""
    return np.float64 if np.dtype(dtype) == np.float64 else np.float32


def _nearest_index(n_in: int, n_out: int, scale, exact: bool) -> np.ndarray:
    """torch's nearest source index: floor(dst * s) (``nearest``) or floor((dst + 0.5) * s), s in float32."""
    dst = np.arange(n_out)
    if not exact and n_out == n_in:
        return dst.astype(np.int64)
    if not exact and n_out == 2 * n_in:
        return (dst >> 1).astype(np.int64)
    s = np.float32(1.0 / scale) if scale is not None and scale > 0 else np.float32(n_in) / np.float32(n_out)
    pos = (dst.astype(np.float32) + np.float32(0.5)) * s if exact else dst.astype(np.float32) * s
    return np.minimum(np.floor(pos).astype(np.int64), n_in - 1)


def _linear_weights(n_in: int, n_out: int, scale, align_corners: bool, dtype):
    """torch's linear source positions: the two neighbours and their weights, in the input's precision."""
    ft = _opmath(dtype)
    dst = np.arange(n_out).astype(ft)
    if align_corners:
        s = ft(n_in - 1) / ft(n_out - 1) if n_out > 1 else ft(0)
        src = dst * s
    else:
        s = ft(1.0 / scale) if scale is not None and scale > 0 else ft(n_in) / ft(n_out)
        src = np.maximum(s * (dst + ft(0.5)) - ft(0.5), ft(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    lam = np.clip(src - i0.astype(ft), ft(0), ft(1))
    i1 = i0 + (i0 < n_in - 1)
    return i0, i1, (ft(1) - lam), lam


def _weights(values: np.ndarray, axis: int, ndim: int, like: Tensor) -> Tensor:
    shape = [1] * ndim
    shape[axis] = values.size
    xp = get_array_module(like._data)
    return constant(xp.asarray(values.reshape(shape), dtype=like._data.dtype))


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None, antialias: bool = False) -> Tensor:
    """Resize the spatial dims of (N, C, L) or (N, C, H, W) input to ``size`` or by ``scale_factor``.

    Modes: ``nearest`` (source floor(dst * in/out), torch's convention), ``nearest-exact``
    (floor((dst + 0.5) * in/out)), ``linear`` (3-D) / ``bilinear`` (4-D) with ``align_corners``
    (corner pixels aligned; otherwise pixel centres at (dst + 0.5) * in/out - 0.5), and ``area``
    (adaptive average pooling). With ``scale_factor`` the output size is floor(in * scale) and the
    scale itself places the samples unless ``recompute_scale_factor=True``.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"interpolate: input must be a Tensor, got {type(input).__name__}")
    if mode not in _MODES:
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported; expected one of {_MODES}")
    if input.ndim not in (3, 4):
        raise NotImplementedError(f"interpolate: only 3-D (N, C, L) and 4-D (N, C, H, W) inputs are supported, got "
                                  f"shape {tuple(input.shape)}")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    d = input.ndim - 2
    if mode == "linear" and d != 1:
        raise NotImplementedError(f"interpolate: got {input.ndim}D input, but linear mode needs 3D input")
    if mode == "bilinear" and d != 2:
        raise NotImplementedError(f"interpolate: got {input.ndim}D input, but bilinear mode needs 4D input")
    linear = mode in ("linear", "bilinear")
    if align_corners is not None and not linear:
        raise ValueError("interpolate: align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: only one of size or scale_factor should be defined" if size is not None
                         else "interpolate: either size or scale_factor should be defined")
    if size is not None and recompute_scale_factor:
        raise ValueError("interpolate: recompute_scale_factor is not meaningful with an explicit size")
    in_size = tuple(input.shape[2:])
    scales = [None] * d
    if size is not None:
        out_size = tuple(size) if isinstance(size, (tuple, list)) else (size,) * d
        if len(out_size) != d:
            raise ValueError(f"interpolate: input and output must have the same number of spatial dimensions, but "
                             f"got input of shape {tuple(input.shape)} and output size {tuple(out_size)}")
        out_size = tuple(int(s) for s in out_size)
    else:
        factors = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * d
        if len(factors) != d:
            raise ValueError(f"interpolate: input and scale_factor must have the same number of spatial dimensions, "
                             f"but got input of shape {tuple(input.shape)} and scale_factor {tuple(factors)}")
        factors = tuple(float(f) for f in factors)
        out_size = tuple(math.floor(n * f) for n, f in zip(in_size, factors))
        if not recompute_scale_factor:
            scales = list(factors)
    if any(s <= 0 for s in out_size) or any(n <= 0 for n in in_size):
        raise RuntimeError(f"interpolate: input and output sizes should be greater than 0, but got input of shape "
                           f"{tuple(input.shape)} and output size {out_size}")
    if (linear or mode == "area") and not input.is_floating_point():
        raise RuntimeError(f"interpolate: mode {mode!r} needs a floating-point input, got {input.dtype}")
    if mode == "area":
        from .pool import adaptive_avg_pool1d, adaptive_avg_pool2d

        return (adaptive_avg_pool1d if d == 1 else adaptive_avg_pool2d)(input, out_size)
    y = input
    for i, (n_in, n_out, scale) in enumerate(zip(in_size, out_size, scales)):
        axis = 2 + i
        if n_in == n_out and (scale is None or scale == 1.0):
            continue  # torch's index maps are the identity here
        if not linear:
            y = TakeAxis(axis, _nearest_index(n_in, n_out, scale, mode == "nearest-exact"), n_in)(y)
            continue
        i0, i1, w0, w1 = _linear_weights(n_in, n_out, scale, bool(align_corners), input._data.dtype)
        y = (TakeAxis(axis, i0, n_in)(y) * _weights(w0, axis, y.ndim, y)
             + TakeAxis(axis, i1, n_in)(y) * _weights(w1, axis, y.ndim, y))
    return y if y is not input else clone(input)


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    """Deprecated alias of ``interpolate`` (as torch)."""
    return interpolate(input, size, scale_factor, mode, align_corners)


# ----------------------------------------------------------------------------------------------
# pixel_shuffle
# ----------------------------------------------------------------------------------------------
def _check_factor(op_name: str, name: str, factor) -> int:
    if not isinstance(factor, (int, np.integer)) or isinstance(factor, bool) or factor <= 0:
        raise RuntimeError(f"{op_name}: {name} must be a positive integer, got {factor!r}")
    return int(factor)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C * r^2, H, W) -> (*, C, H * r, W * r): channel blocks become r x r pixel blocks
    (Shi et al., 2016, "Real-Time Single Image and Video Super-Resolution ... Sub-Pixel CNN")."""
    r = _check_factor("pixel_shuffle", "upscale_factor", upscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but got input of shape "
                           f"{tuple(input.shape)}")
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of "
                           f"upscale_factor ({r * r}), but input of shape {tuple(input.shape)} has {c} channels")
    n = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H * r, W * r) -> (*, C * r^2, H, W): the inverse of ``pixel_shuffle``."""
    r = _check_factor("pixel_unshuffle", "downscale_factor", downscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but got input of shape "
                           f"{tuple(input.shape)}")
    *lead, c, h, w = input.shape
    if h % r or w % r:
        raise RuntimeError(f"pixel_unshuffle expects height and width to be divisible by downscale_factor ({r}), "
                           f"but got input of shape {tuple(input.shape)}")
    n = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)
