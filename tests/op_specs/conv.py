"""Spec rows for convolution (minigrad/ops/conv.py): conv1d/2d, conv_transpose1d/2d, unfold, fold.

The references are direct definitions (a loop over kernel offsets on an ``np.pad``-ded input,
or a scatter for the transposed convolution), independent of the im2col + GEMM implementation.
Hypothesis draws the batch, channels, groups (depthwise included), sizes, kernel, stride,
padding (ints, tuples, 'same', 'valid'), dilation and output_padding.
"""

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

import minigrad.nn.functional as F
from minigrad.testing.opspec import Case, OpSpec

from ._helpers import array


def _tuple(v, d):
    return (v,) * d if isinstance(v, int) else tuple(v)


# ----------------------------------------------------------------------------------------------
# References
# ----------------------------------------------------------------------------------------------
def conv_ref(x, W, b=None, stride=1, padding=0, dilation=1, groups=1):
    """y[n, o, p] = b[o] + sum_{c, k} W[o, c, k] x_pad[n, group(o) c, p * stride + k * dilation]."""
    d = x.ndim - 2
    s, dl, k = _tuple(stride, d), _tuple(dilation, d), W.shape[2:]
    if padding == "valid":
        lo = hi = (0,) * d
    elif padding == "same":
        total = [dl[i] * (k[i] - 1) for i in range(d)]
        lo = tuple(t // 2 for t in total)
        hi = tuple(t - t // 2 for t in total)
    else:
        lo = hi = _tuple(padding, d)
    xpad = np.pad(x, [(0, 0), (0, 0)] + list(zip(lo, hi)))
    out = tuple((xpad.shape[2 + i] - dl[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(d))
    n, c, o, g = x.shape[0], x.shape[1], W.shape[0], groups
    xg = xpad.reshape((n, g, c // g) + xpad.shape[2:])
    Wg = W.reshape((g, o // g, c // g) + k)
    y = np.zeros((n, g, o // g) + out)
    for off in np.ndindex(*k):
        sl = tuple(slice(off[i] * dl[i], off[i] * dl[i] + (out[i] - 1) * s[i] + 1, s[i]) for i in range(d))
        y += np.einsum("ngc...,goc->ngo...", xg[(Ellipsis,) + sl], Wg[(Ellipsis,) + off])
    y = y.reshape((n, o) + out)
    return y if b is None else y + b.reshape((o,) + (1,) * d)


def conv_transpose_ref(x, W, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Scatter every input value times the kernel into the output, then crop the padding."""
    d = x.ndim - 2
    s, dl, p, op = _tuple(stride, d), _tuple(dilation, d), _tuple(padding, d), _tuple(output_padding, d)
    k, size = W.shape[2:], x.shape[2:]
    n, c, g = x.shape[0], x.shape[1], groups
    og = W.shape[1]
    full = tuple((size[i] - 1) * s[i] + dl[i] * (k[i] - 1) + 1 + op[i] for i in range(d))
    y = np.zeros((n, g, og) + full)
    xg = x.reshape((n, g, c // g) + size)
    Wg = W.reshape((g, c // g, og) + k)
    for off in np.ndindex(*k):
        sl = tuple(slice(off[i] * dl[i], off[i] * dl[i] + (size[i] - 1) * s[i] + 1, s[i]) for i in range(d))
        y[(slice(None), slice(None), slice(None)) + sl] += np.einsum("ngc...,gco->ngo...", xg, Wg[(Ellipsis,) + off])
    y = y.reshape((n, g * og) + full)
    y = y[(Ellipsis,) + tuple(slice(p[i], full[i] - p[i]) for i in range(d))]
    return y if b is None else y + b.reshape((-1,) + (1,) * d)


def unfold_ref(x, kernel_size, dilation=1, padding=0, stride=1):
    k, dl, p, s = (_tuple(v, 2) for v in (kernel_size, dilation, padding, stride))
    xpad = np.pad(x, [(0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])])
    out = [(xpad.shape[2 + i] - dl[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(2)]
    blocks = []
    for u, v in np.ndindex(*k):
        patch = xpad[:, :, u * dl[0]::s[0], v * dl[1]::s[1]][:, :, : out[0], : out[1]]
        blocks.append(patch.reshape(x.shape[0], x.shape[1], -1))
    return np.stack(blocks, axis=2).reshape(x.shape[0], -1, out[0] * out[1])


def fold_ref(cols, output_size, kernel_size, dilation=1, padding=0, stride=1):
    k, dl, p, s, size = (_tuple(v, 2) for v in (kernel_size, dilation, padding, stride, output_size))
    out = [(size[i] + 2 * p[i] - dl[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(2)]
    n = cols.shape[0]
    c = cols.shape[1] // (k[0] * k[1])
    blocks = cols.reshape(n, c, k[0], k[1], out[0], out[1])
    y = np.zeros((n, c, size[0] + 2 * p[0], size[1] + 2 * p[1]))
    for u, v in np.ndindex(*k):
        y[:, :, u * dl[0]: u * dl[0] + (out[0] - 1) * s[0] + 1: s[0],
          v * dl[1]: v * dl[1] + (out[1] - 1) * s[1] + 1: s[1]] += blocks[:, :, u, v]
    return y[:, :, p[0]: p[0] + size[0], p[1]: p[1] + size[1]]


# ----------------------------------------------------------------------------------------------
# Case strategies
# ----------------------------------------------------------------------------------------------
def _per_dim(draw, strategy, d, as_tuple=None):
    """An int or a d-tuple, drawn."""
    values = tuple(draw(strategy) for _ in range(d))
    if as_tuple is None:
        as_tuple = draw(st.booleans())
    return values if as_tuple or len(set(values)) > 1 else values[0]


@st.composite
def conv_cases(draw, d, unbatched=False):
    depthwise = draw(st.booleans())
    groups = draw(st.integers(1, 3))
    cg = 1 if depthwise else draw(st.integers(1, 2))
    og = draw(st.integers(1, 2))
    c, o = groups * cg, groups * og
    n = draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(d))
    stride = _per_dim(draw, st.integers(1, 3), d)
    dilation = _per_dim(draw, st.integers(1, 2), d)
    s, dl = _tuple(stride, d), _tuple(dilation, d)
    kind = draw(st.sampled_from(["int", "same", "valid"] if all(v == 1 for v in s) else ["int", "valid"]))
    padding = _per_dim(draw, st.integers(0, 2), d) if kind == "int" else kind
    p = _tuple(padding, d) if kind == "int" else (0,) * d
    extent = [dl[i] * (kernel[i] - 1) + 1 for i in range(d)]
    size = tuple(draw(st.integers(max(1, extent[i] - 2 * p[i]), max(1, extent[i] - 2 * p[i]) + 4)) for i in range(d))
    x = draw(array(st.just(((c,) if unbatched else (n, c)) + size)))
    W = draw(array(st.just((o, cg) + kernel)))
    args = (x, W)
    if draw(st.booleans()):
        args += (draw(array(st.just((o,)))),)
    return Case(args, {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups})


@st.composite
def conv_transpose_cases(draw, d):
    groups = draw(st.integers(1, 2))
    cg, og = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    c = groups * cg
    n = draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(d))
    stride = _per_dim(draw, st.integers(1, 3), d)
    dilation = _per_dim(draw, st.integers(1, 2), d)
    padding = _per_dim(draw, st.integers(0, 2), d)
    s, dl, p = _tuple(stride, d), _tuple(dilation, d), _tuple(padding, d)
    output_padding = tuple(draw(st.integers(0, max(s[i], dl[i]) - 1)) for i in range(d))
    size = tuple(draw(st.integers(1, 4)) for _ in range(d))
    out = [(size[i] - 1) * s[i] - 2 * p[i] + dl[i] * (kernel[i] - 1) + output_padding[i] + 1 for i in range(d)]
    assume(all(v > 0 for v in out))
    x = draw(array(st.just((n, c) + size)))
    W = draw(array(st.just((c, og) + kernel)))
    args = (x, W)
    if draw(st.booleans()):
        args += (draw(array(st.just((groups * og,)))),)
    return Case(args, {"stride": stride, "padding": padding, "output_padding": output_padding, "groups": groups,
                       "dilation": dilation})


def _fold_params(draw):
    kernel = _per_dim(draw, st.integers(1, 3), 2)
    dilation = _per_dim(draw, st.integers(1, 2), 2)
    padding = _per_dim(draw, st.integers(0, 1), 2)
    stride = _per_dim(draw, st.integers(1, 2), 2)
    return {"kernel_size": kernel, "dilation": dilation, "padding": padding, "stride": stride}


def _fold_min_size(kw):
    k, dl, p = (_tuple(kw[name], 2) for name in ("kernel_size", "dilation", "padding"))
    return [max(1, dl[i] * (k[i] - 1) + 1 - 2 * p[i]) for i in range(2)]


@st.composite
def unfold_cases(draw):
    kw = _fold_params(draw)
    lo = _fold_min_size(kw)
    size = tuple(draw(st.integers(lo[i], lo[i] + 3)) for i in range(2))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3))) + size
    return Case((draw(array(st.just(shape))),), kw)


@st.composite
def fold_cases(draw):
    kw = _fold_params(draw)
    lo = _fold_min_size(kw)
    size = tuple(draw(st.integers(lo[i], lo[i] + 3)) for i in range(2))
    k, dl, p, s = (_tuple(kw[name], 2) for name in ("kernel_size", "dilation", "padding", "stride"))
    blocks = np.prod([(size[i] + 2 * p[i] - dl[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(2)])
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)) * k[0] * k[1], int(blocks))
    return Case((draw(array(st.just(shape))),), dict(kw, output_size=size))


def _torch(name):
    def call(*args, **kwargs):
        import torch.nn.functional as TF

        return getattr(TF, name)(*args, **kwargs)

    return call


SPECS = [
    OpSpec("conv1d", F.conv1d, conv_ref, conv_cases(1), torch_fn=_torch("conv1d")),
    OpSpec("conv2d", F.conv2d, conv_ref, conv_cases(2), torch_fn=_torch("conv2d")),
    OpSpec("conv2d_unbatched", F.conv2d, lambda x, *a, **k: conv_ref(x[None], *a, **k)[0],
           conv_cases(2, unbatched=True), torch_fn=_torch("conv2d")),
    OpSpec("conv_transpose1d", F.conv_transpose1d, conv_transpose_ref, conv_transpose_cases(1),
           torch_fn=_torch("conv_transpose1d")),
    OpSpec("conv_transpose2d", F.conv_transpose2d, conv_transpose_ref, conv_transpose_cases(2),
           torch_fn=_torch("conv_transpose2d")),
    OpSpec("unfold", F.unfold, unfold_ref, unfold_cases(), torch_fn=_torch("unfold")),
    OpSpec("fold", F.fold, fold_ref, fold_cases(), torch_fn=_torch("fold")),
]
