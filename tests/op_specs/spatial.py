"""Spec rows for spatial ops (minigrad/ops/spatial.py): pad, interpolate, pixel_shuffle/unshuffle.

References: ``np.pad`` (then a crop for negative widths), torch's documented sampling formulas
for interpolation written per output position, and NumPy reshapes for pixel shuffling.
"""

import math

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

import minigrad.nn.functional as F
from minigrad.testing.opspec import Case, OpSpec

from ._helpers import array
from .pool import adaptive_avg_ref


# ----------------------------------------------------------------------------------------------
# pad
# ----------------------------------------------------------------------------------------------
def pad_ref(x, pad, mode="constant", value=None):
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    grow = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    if mode == "circular":  # torch crops the negative side first, then wraps around what is left
        kept = x[tuple(slice(max(0, -lo), n - max(0, -hi)) for n, (lo, hi) in zip(x.shape, widths))]
        return np.pad(kept, grow, mode="wrap")
    if mode == "constant":
        y = np.pad(x, grow, mode="constant", constant_values=0 if value is None else value)
    else:
        y = np.pad(x, grow, mode={"reflect": "reflect", "replicate": "edge"}[mode])
    return y[tuple(slice(max(0, -lo), n - max(0, -hi)) for n, (lo, hi) in zip(y.shape, widths))]


@st.composite
def pad_cases(draw, mode):
    if mode == "constant":
        ndim = draw(st.integers(1, 4))
        k = draw(st.integers(1, ndim))
    else:
        k = draw(st.integers(1, 2))
        ndim = draw(st.integers(k + 1, k + 2))
    shape = tuple(draw(st.integers(1, 4)) for _ in range(ndim))
    pad = []
    for i in range(k):
        n = shape[ndim - 1 - i]
        if mode == "reflect":
            lo, hi = draw(st.integers(-1, n - 1)), draw(st.integers(-1, n - 1))
        else:
            lo, hi = draw(st.integers(-2, 3)), draw(st.integers(-2, 3))
        kept = n - max(0, -lo) - max(0, -hi)
        if mode == "circular":
            assume(kept >= 1 and max(lo, 0) <= kept and max(hi, 0) <= kept)
        else:
            assume(kept >= 0 and n + lo + hi >= (0 if mode == "constant" else 1))
        pad += [lo, hi]
    kwargs = {"pad": tuple(pad), "mode": mode}
    if mode == "constant" and draw(st.booleans()):
        kwargs["value"] = draw(st.sampled_from([0.0, 1.5, -2.0]))
    return Case((draw(array(st.just(shape))),), kwargs)


# ----------------------------------------------------------------------------------------------
# interpolate
# ----------------------------------------------------------------------------------------------
def _nearest_source(n_in, n_out, scale, exact):
    """torch: floor(dst * s) or floor((dst + 0.5) * s), s = 1/scale_factor or n_in/n_out, in float32."""
    if not exact and n_out == n_in:
        return np.arange(n_out)
    if not exact and n_out == 2 * n_in:
        return np.arange(n_out) // 2
    s = np.float32(1.0 / scale) if scale else np.float32(n_in) / np.float32(n_out)
    dst = np.arange(n_out).astype(np.float32)
    pos = (dst + np.float32(0.5)) * s if exact else dst * s
    return np.minimum(np.floor(pos).astype(np.int64), n_in - 1)


def _linear_source(n_in, n_out, scale, align_corners):
    """Float64 inputs: torch computes the source position in double precision."""
    dst = np.arange(n_out, dtype=np.float64)
    if align_corners:
        src = dst * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    else:
        s = 1.0 / scale if scale else n_in / n_out
        src = np.maximum((dst + 0.5) * s - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    lam = np.clip(src - i0, 0.0, 1.0)
    return i0, np.minimum(i0 + 1, n_in - 1), lam


def interpolate_ref(x, size=None, scale_factor=None, mode="nearest", align_corners=None,
                    recompute_scale_factor=None):
    d = x.ndim - 2
    if size is not None:
        out = (size,) * d if isinstance(size, int) else tuple(size)
        scales = [None] * d
    else:
        factors = (scale_factor,) * d if not isinstance(scale_factor, tuple) else scale_factor
        out = tuple(math.floor(n * f) for n, f in zip(x.shape[2:], factors))
        scales = [None] * d if recompute_scale_factor else list(factors)
    if mode == "area":
        return adaptive_avg_ref(x, out, d=d)
    y = x
    for i in range(d):
        axis, n_in = 2 + i, x.shape[2 + i]
        if mode in ("nearest", "nearest-exact"):
            y = np.take(y, _nearest_source(n_in, out[i], scales[i], mode == "nearest-exact"), axis=axis)
        else:
            i0, i1, lam = _linear_source(n_in, out[i], scales[i], bool(align_corners))
            shape = [1] * y.ndim
            shape[axis] = out[i]
            lam = lam.reshape(shape)
            y = np.take(y, i0, axis=axis) * (1 - lam) + np.take(y, i1, axis=axis) * lam
    return y


@st.composite
def interpolate_cases(draw, mode):
    d = {"linear": 1, "bilinear": 2}.get(mode) or draw(st.integers(1, 2))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    in_size = tuple(draw(st.integers(1, 5)) for _ in range(d))
    kwargs = {"mode": mode}
    if draw(st.booleans()):
        out = tuple(draw(st.integers(1, 8)) for _ in range(d))
        kwargs["size"] = out if d > 1 or draw(st.booleans()) else out[0]
    else:
        factors = tuple(draw(st.sampled_from([0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0])) for _ in range(d))
        assume(all(math.floor(s * f) >= 1 for s, f in zip(in_size, factors)))
        kwargs["scale_factor"] = factors if len(set(factors)) > 1 else factors[0]
        if draw(st.booleans()):
            kwargs["recompute_scale_factor"] = True
    if mode in ("linear", "bilinear"):
        kwargs["align_corners"] = draw(st.booleans())
    return Case((draw(array(st.just((n, c) + in_size))),), kwargs)


# ----------------------------------------------------------------------------------------------
# pixel shuffle
# ----------------------------------------------------------------------------------------------
def pixel_shuffle_ref(x, upscale_factor):
    r = upscale_factor
    *lead, c, h, w = x.shape
    y = x.reshape(*lead, c // (r * r), r, r, h, w)
    n = len(lead)
    y = np.transpose(y, list(range(n)) + [n, n + 3, n + 1, n + 4, n + 2])
    return y.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle_ref(x, downscale_factor):
    r = downscale_factor
    *lead, c, h, w = x.shape
    y = x.reshape(*lead, c, h // r, r, w // r, r)
    n = len(lead)
    y = np.transpose(y, list(range(n)) + [n, n + 2, n + 4, n + 1, n + 3])
    return y.reshape(*lead, c * r * r, h // r, w // r)


@st.composite
def shuffle_cases(draw, unshuffle):
    r = draw(st.integers(1, 3))
    lead = tuple(draw(st.integers(1, 2)) for _ in range(draw(st.integers(0, 2))))
    if unshuffle:
        shape = lead + (draw(st.integers(1, 2)), r * draw(st.integers(1, 2)), r * draw(st.integers(1, 3)))
        return Case((draw(array(st.just(shape))),), {"downscale_factor": r})
    shape = lead + (r * r * draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    return Case((draw(array(st.just(shape))),), {"upscale_factor": r})


def _torch(name):
    def call(*args, **kwargs):
        import torch.nn.functional as TF

        return getattr(TF, name)(*args, **kwargs)

    return call


SPECS = [
    *[OpSpec(f"pad_{mode}", F.pad, pad_ref, pad_cases(mode), torch_fn=_torch("pad"))
      for mode in ("constant", "reflect", "replicate", "circular")],
    *[OpSpec(f"interpolate_{mode.replace('-', '_')}", F.interpolate, interpolate_ref, interpolate_cases(mode),
             torch_fn=_torch("interpolate")) for mode in ("nearest", "nearest-exact", "linear", "bilinear", "area")],
    OpSpec("pixel_shuffle", F.pixel_shuffle, pixel_shuffle_ref, shuffle_cases(False), torch_fn=_torch("pixel_shuffle")),
    OpSpec("pixel_unshuffle", F.pixel_unshuffle, pixel_unshuffle_ref, shuffle_cases(True),
           torch_fn=_torch("pixel_unshuffle")),
]
