"""Spec rows for pooling (minigrad/ops/pool.py): max/avg pooling, adaptive pooling, return_indices.

The references loop over output positions and read each window directly (the definition), so they
share nothing with the strided-slice implementation. Max pooling inputs hold distinct values
(a shuffled grid) so the argmax is unique and finite differences stay away from ties.
"""

import functools
import itertools

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

import minigrad.nn.functional as F
from minigrad.testing.opspec import Case, OpSpec

from ._helpers import array


def _tuple(v, d):
    return (v,) * d if isinstance(v, int) else tuple(v)


def _out_size(n, k, s, p, dl, ceil_mode):
    o = (n + 2 * p - dl * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (o - 1) * s >= n + p:
        o -= 1
    return o


# ----------------------------------------------------------------------------------------------
# References
# ----------------------------------------------------------------------------------------------
def max_pool_ref(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False, d=2):
    k = _tuple(kernel_size, d)
    s = k if stride is None else _tuple(stride, d)
    p, dl = _tuple(padding, d), _tuple(dilation, d)
    size = x.shape[-d:]
    out = tuple(_out_size(size[i], k[i], s[i], p[i], dl[i], ceil_mode) for i in range(d))
    lead = x.shape[:-d]
    flat = x.reshape(lead + (-1,))
    y = np.zeros(lead + out)
    idx = np.zeros(lead + out, dtype=np.int64)
    for o in np.ndindex(*out):
        positions = [[o[i] * s[i] - p[i] + j * dl[i] for j in range(k[i]) if 0 <= o[i] * s[i] - p[i] + j * dl[i]
                      < size[i]] for i in range(d)]
        window = [int(np.ravel_multi_index(pos, size)) for pos in itertools.product(*positions)]
        values = flat[..., window]
        best = np.argmax(values, axis=-1)
        y[(Ellipsis,) + o] = np.take_along_axis(values, best[..., None], -1)[..., 0]
        idx[(Ellipsis,) + o] = np.asarray(window)[best]
    return (y, idx) if return_indices else y


def avg_pool_ref(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None, d=2):
    k = _tuple(kernel_size, d)
    s = k if stride is None else _tuple(stride, d)
    p = _tuple(padding, d)
    size = x.shape[-d:]
    out = tuple(_out_size(size[i], k[i], s[i], p[i], 1, ceil_mode) for i in range(d))
    y = np.zeros(x.shape[:-d] + out)
    for o in np.ndindex(*out):
        start = [o[i] * s[i] - p[i] for i in range(d)]
        end = [min(start[i] + k[i], size[i] + p[i]) for i in range(d)]  # a window may hang past the padding
        padded_count = np.prod([end[i] - start[i] for i in range(d)])
        lo = [max(v, 0) for v in start]
        hi = [min(end[i], size[i]) for i in range(d)]
        window = x[(Ellipsis,) + tuple(slice(lo[i], hi[i]) for i in range(d))]
        total = window.sum(axis=tuple(range(-d, 0)))
        if divisor_override:
            divisor = divisor_override
        elif count_include_pad:
            divisor = padded_count
        else:
            divisor = np.prod([hi[i] - lo[i] for i in range(d)])
        y[(Ellipsis,) + o] = total / divisor
    return y


def _adaptive_windows(n, o):
    return [(i * n // o, -(-(i + 1) * n // o)) for i in range(o)]


def _adaptive_out(x, output_size, d):
    size = (output_size,) * d if isinstance(output_size, int) else output_size
    return tuple(x.shape[-d + i] if v is None else v for i, v in enumerate(size))


def adaptive_avg_ref(x, output_size, d=2):
    out = _adaptive_out(x, output_size, d)
    wins = [_adaptive_windows(x.shape[-d + i], out[i]) for i in range(d)]
    y = np.zeros(x.shape[:-d] + out)
    for o in np.ndindex(*out):
        window = x[(Ellipsis,) + tuple(slice(*wins[i][o[i]]) for i in range(d))]
        y[(Ellipsis,) + o] = window.mean(axis=tuple(range(-d, 0)))
    return y


def adaptive_max_ref(x, output_size, return_indices=False, d=2):
    out = _adaptive_out(x, output_size, d)
    size = x.shape[-d:]
    wins = [_adaptive_windows(size[i], out[i]) for i in range(d)]
    flat = x.reshape(x.shape[:-d] + (-1,))
    y = np.zeros(x.shape[:-d] + out)
    idx = np.zeros(x.shape[:-d] + out, dtype=np.int64)
    for o in np.ndindex(*out):
        ranges = [range(*wins[i][o[i]]) for i in range(d)]
        window = np.asarray([np.ravel_multi_index(pos, size) for pos in itertools.product(*ranges)])
        values = flat[..., window]
        best = np.argmax(values, axis=-1)
        y[(Ellipsis,) + o] = np.take_along_axis(values, best[..., None], -1)[..., 0]
        idx[(Ellipsis,) + o] = window[best]
    return (y, idx) if return_indices else y


# ----------------------------------------------------------------------------------------------
# Case strategies
# ----------------------------------------------------------------------------------------------
def _every_window_sees_input(size, k, s, p, dl, ceil_mode):
    """False for degenerate dilated windows that fall entirely into the padding (output -inf)."""
    for n, kk, ss, pp, dd in zip(size, k, s, p, dl):
        for o in range(_out_size(n, kk, ss, pp, dd, ceil_mode)):
            if not any(0 <= o * ss - pp + j * dd < n for j in range(kk)):
                return False
    return True


@st.composite
def distinct(draw, shape):
    """An array of distinct values 0.05 apart (no ties for max), in random order."""
    count = int(np.prod(shape))
    order = draw(st.permutations(range(count)))
    return (np.asarray(order, dtype=np.float64) * 0.05 - 0.025 * count).reshape(shape)


def _int_or_tuple(draw, values, d):
    if d == 1 or draw(st.booleans()):
        return values[0] if d == 1 and draw(st.booleans()) else tuple(values)
    return values[0] if len(set(values)) == 1 else tuple(values)


@st.composite
def max_pool_cases(draw, d, indices=False):
    k = [draw(st.integers(1, 3)) for _ in range(d)]
    dl = [draw(st.integers(1, 2)) for _ in range(d)]
    p = [draw(st.integers(0, k[i] // 2)) for i in range(d)]
    s = None if draw(st.booleans()) else [draw(st.integers(1, 3)) for _ in range(d)]
    ceil_mode = draw(st.booleans())
    lo = [max(1, dl[i] * (k[i] - 1) + 1 - 2 * p[i]) for i in range(d)]
    size = tuple(draw(st.integers(lo[i], lo[i] + 4)) for i in range(d))
    assume(_every_window_sees_input(size, k, k if s is None else s, p, dl, ceil_mode))
    lead = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))[: draw(st.integers(1, 2))]
    x = draw(distinct(lead + size))
    kwargs = {"kernel_size": _int_or_tuple(draw, k, d), "stride": None if s is None else _int_or_tuple(draw, s, d),
              "padding": _int_or_tuple(draw, p, d), "dilation": _int_or_tuple(draw, dl, d), "ceil_mode": ceil_mode}
    if indices:
        kwargs["return_indices"] = True
    return Case((x,), kwargs)


@st.composite
def avg_pool_cases(draw, d):
    k = [draw(st.integers(1, 3)) for _ in range(d)]
    p = [draw(st.integers(0, k[i] // 2)) for i in range(d)]
    s = None if draw(st.booleans()) else [draw(st.integers(1, 3)) for _ in range(d)]
    lo = [max(1, k[i] - 2 * p[i]) for i in range(d)]
    size = tuple(draw(st.integers(lo[i], lo[i] + 4)) for i in range(d))
    lead = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))[: draw(st.integers(1, 2))]
    kwargs = {"kernel_size": _int_or_tuple(draw, k, d), "stride": None if s is None else _int_or_tuple(draw, s, d),
              "padding": _int_or_tuple(draw, p, d), "ceil_mode": draw(st.booleans()),
              "count_include_pad": draw(st.booleans())}
    if d == 2:
        kwargs["divisor_override"] = draw(st.one_of(st.none(), st.integers(1, 5)))
    return Case((draw(array(st.just(lead + size))),), kwargs)


@st.composite
def adaptive_cases(draw, d, distinct_values=False, indices=False):
    size = tuple(draw(st.integers(1, 7)) for _ in range(d))
    out = [draw(st.integers(1, size[i] + 2)) for i in range(d)]
    if d == 1:
        output_size = out[0] if draw(st.booleans()) else (out[0],)
    else:
        output_size = draw(st.sampled_from([tuple(out), out[0], (None, out[1]), (out[0], None)]))
    lead = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))[: draw(st.integers(1, 2))]
    x = draw(distinct(lead + size)) if distinct_values else draw(array(st.just(lead + size)))
    kwargs = {"output_size": output_size}
    if indices:
        kwargs["return_indices"] = True
    return Case((x,), kwargs)


def _torch(name, **fixed):
    def call(*args, **kwargs):
        import torch.nn.functional as TF

        return getattr(TF, name)(*args, **kwargs, **fixed)

    return call


def _ref(fn, d):
    return functools.partial(fn, d=d)


SPECS = [
    OpSpec("max_pool1d", F.max_pool1d, _ref(max_pool_ref, 1), max_pool_cases(1), torch_fn=_torch("max_pool1d")),
    OpSpec("max_pool2d", F.max_pool2d, _ref(max_pool_ref, 2), max_pool_cases(2), torch_fn=_torch("max_pool2d")),
    OpSpec("max_pool1d_indices", F.max_pool1d, _ref(max_pool_ref, 1), max_pool_cases(1, indices=True),
           torch_fn=_torch("max_pool1d")),
    OpSpec("max_pool2d_indices", F.max_pool2d, _ref(max_pool_ref, 2), max_pool_cases(2, indices=True),
           torch_fn=_torch("max_pool2d")),
    OpSpec("avg_pool1d", F.avg_pool1d, _ref(avg_pool_ref, 1), avg_pool_cases(1), torch_fn=_torch("avg_pool1d")),
    OpSpec("avg_pool2d", F.avg_pool2d, _ref(avg_pool_ref, 2), avg_pool_cases(2), torch_fn=_torch("avg_pool2d")),
    OpSpec("adaptive_avg_pool1d", F.adaptive_avg_pool1d, _ref(adaptive_avg_ref, 1), adaptive_cases(1),
           torch_fn=_torch("adaptive_avg_pool1d")),
    OpSpec("adaptive_avg_pool2d", F.adaptive_avg_pool2d, _ref(adaptive_avg_ref, 2), adaptive_cases(2),
           torch_fn=_torch("adaptive_avg_pool2d")),
    OpSpec("adaptive_max_pool1d", F.adaptive_max_pool1d, _ref(adaptive_max_ref, 1),
           adaptive_cases(1, distinct_values=True, indices=True), torch_fn=_torch("adaptive_max_pool1d")),
    OpSpec("adaptive_max_pool2d", F.adaptive_max_pool2d, _ref(adaptive_max_ref, 2),
           adaptive_cases(2, distinct_values=True, indices=True), torch_fn=_torch("adaptive_max_pool2d")),
]
