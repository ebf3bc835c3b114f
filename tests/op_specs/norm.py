"""Spec rows for normalization (minigrad/ops/norm.py).

The NumPy references below are the textbook formulas in float64 (centred variance, biased for
normalizing); shapes, eps, groups and which of weight/bias are given are drawn at random.
"""

import math

import numpy as np
from hypothesis import strategies as st

import minigrad.nn.functional as F
from minigrad.testing.opspec import Case, OpSpec

from ._helpers import array

_EPS = st.sampled_from([1e-5, 1e-3, 0.1])


def _normalize(x, axes, eps, weight=None, bias=None, affine_shape=None):
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    if weight is not None:
        y = y * weight.reshape(affine_shape)
    if bias is not None:
        y = y + bias.reshape(affine_shape)
    return y


def _maybe(draw, shape):
    """An array of ``shape``, or None (an affine parameter that is left out)."""
    return draw(array(st.just(shape), -2.0, 2.0)) if draw(st.booleans()) else None


def _channel_shape(ndim):
    return lambda c: (1, c) + (1,) * (ndim - 2)


# ----- layer norm and RMS norm: statistics over the trailing normalized_shape ----------------------
@st.composite
def _trailing_cases(draw, with_bias=True):
    lead = draw(st.lists(st.integers(1, 4), min_size=0, max_size=2))
    normalized = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=2)))
    x = draw(array(st.just(tuple(lead) + normalized)))
    weight = _maybe(draw, normalized)
    args = (x, weight, _maybe(draw, normalized)) if with_bias else (x, weight)
    eps = draw(st.one_of(st.none(), _EPS)) if not with_bias else draw(_EPS)
    return Case(args, {"normalized_shape": normalized, "eps": eps})


def _layer_norm_ref(x, weight, bias, normalized_shape, eps):
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    return _normalize(x, axes, eps, weight, bias, normalized_shape)


def _tiny_rms(case):
    """With eps=None (machine epsilon) x / rms(x) is too steep near x = 0 for finite differences."""
    x, normalized_shape, eps = case.args[0], case.kwargs["normalized_shape"], case.kwargs["eps"]
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    return eps is None and bool(np.any((x * x).mean(axis=axes) < 1e-2))


def _rms_norm_ref(x, weight, normalized_shape, eps):
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    eps = np.finfo(np.float64).eps if eps is None else eps
    y = x / np.sqrt((x * x).mean(axis=axes, keepdims=True) + eps)
    return y if weight is None else y * weight


# ----- batch, instance and group norm: (N, C, *) -------------------------------------------------
@st.composite
def _channel_cases(draw, min_values_per_channel=2, spatial_min=0, groups=False):
    n = draw(st.integers(1, 3))
    c = draw(st.integers(1, 4))
    if groups:
        num_groups = draw(st.integers(1, 3))
        c = c * num_groups
    spatial = tuple(draw(st.lists(st.integers(1, 3), min_size=spatial_min, max_size=2)))
    shape = (n, c) + spatial
    if n * math.prod(spatial) * (c // num_groups if groups else 1) < min_values_per_channel:
        shape = (n + 1, c) + spatial
    if spatial_min and math.prod(spatial) < 2:
        shape = shape[:2] + (2,) + shape[3:]
    x = draw(array(st.just(shape)))
    kwargs = {"eps": draw(_EPS)}
    if groups:
        kwargs["num_groups"] = num_groups
    return Case((x, _maybe(draw, (c,)), _maybe(draw, (c,))), kwargs)


@st.composite
def _eval_cases(draw, spatial_min=0):
    """Normalization with given running statistics (batch norm in eval, instance norm without input stats)."""
    case = draw(_channel_cases(spatial_min=spatial_min))
    x = case.args[0]
    c = x.shape[1]
    mean = draw(array(st.just((c,)), -1.0, 1.0))
    var = draw(array(st.just((c,)), 0.2, 2.0))
    # weight and bias always given: the generic checks differentiate a fixed list of arguments
    weight, bias = (draw(array(st.just((c,)), -2.0, 2.0)) for _ in range(2))
    return Case((x, mean, var, weight, bias), case.kwargs)


def _batch_norm_ref(x, weight, bias, eps):
    axes = (0,) + tuple(range(2, x.ndim))
    return _normalize(x, axes, eps, weight, bias, _channel_shape(x.ndim)(x.shape[1]))


def _instance_norm_ref(x, weight, bias, eps):
    return _normalize(x, tuple(range(2, x.ndim)), eps, weight, bias, _channel_shape(x.ndim)(x.shape[1]))


def _group_norm_ref(x, weight, bias, num_groups, eps):
    n, c = x.shape[:2]
    grouped = x.reshape(n, num_groups, -1)
    y = _normalize(grouped, (2,), eps).reshape(x.shape)
    shape = _channel_shape(x.ndim)(c)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def _with_stats_ref(x, mean, var, weight, bias, eps):
    shape = _channel_shape(x.ndim)(x.shape[1])
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


@st.composite
def _lrn_cases(draw):
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 6))) + tuple(
        draw(st.lists(st.integers(1, 3), min_size=1, max_size=2)))
    kwargs = {"size": draw(st.integers(1, 5)), "alpha": draw(st.sampled_from([1e-4, 0.1, 1.0])),
              "beta": draw(st.sampled_from([0.5, 0.75])), "k": draw(st.sampled_from([1.0, 2.0]))}
    return Case((draw(array(st.just(shape), -3.0, 3.0)),), kwargs)


def _lrn_ref(x, size, alpha, beta, k):
    c = x.shape[1]
    zeros = [np.zeros((x.shape[0], k) + x.shape[2:]) for k in (size // 2, (size - 1) // 2)]
    padded = np.concatenate([zeros[0], x * x, zeros[1]], 1)
    window = sum(padded[:, s:s + c] for s in range(size))
    return x / (k + alpha / size * window) ** beta


def _torch_F(name, **fixed):
    def call(*args, **kwargs):
        import torch.nn.functional as TF

        return getattr(TF, name)(*args, **fixed, **kwargs)

    return call


def _torch_group_norm(x, w, b, **kwargs):
    import torch.nn.functional as TF

    if w is None and b is not None:  # torch's kernel fails on a bias without a weight
        raise NotImplementedError
    return TF.group_norm(x, weight=w, bias=b, **kwargs)


def _torch_rms_norm(x, weight, normalized_shape, eps):
    import torch.nn.functional as TF

    return TF.rms_norm(x, list(normalized_shape), weight, eps)


SPECS = [
    OpSpec("layer_norm", lambda x, w, b, **kw: F.layer_norm(x, weight=w, bias=b, **kw),
           lambda x, w, b, **kw: _layer_norm_ref(x, w, b, **kw), _trailing_cases(),
           torch_fn=lambda x, w, b, **kw: _torch_F("layer_norm")(x, weight=w, bias=b, **kw)),
    OpSpec("rms_norm", lambda x, w, **kw: F.rms_norm(x, weight=w, **kw),
           lambda x, w, **kw: _rms_norm_ref(x, w, **kw), _trailing_cases(with_bias=False), avoid=_tiny_rms,
           torch_fn=lambda x, w, **kw: _torch_rms_norm(x, w, **kw)),
    OpSpec("batch_norm_training", lambda x, w, b, eps: F.batch_norm(x, None, None, w, b, True, 0.1, eps),
           lambda x, w, b, eps: _batch_norm_ref(x, w, b, eps), _channel_cases(),
           torch_fn=lambda x, w, b, eps: _torch_F("batch_norm")(x, None, None, w, b, True, 0.1, eps)),
    OpSpec("batch_norm_eval", lambda x, m, v, w, b, eps: F.batch_norm(x, m, v, w, b, False, 0.1, eps),
           lambda x, m, v, w, b, eps: _with_stats_ref(x, m, v, w, b, eps), _eval_cases(), grad_args=(0, 3, 4),
           torch_fn=lambda x, m, v, w, b, eps: _torch_F("batch_norm")(x, m, v, w, b, False, 0.1, eps)),
    OpSpec("instance_norm", lambda x, w, b, eps: F.instance_norm(x, None, None, w, b, True, 0.1, eps),
           lambda x, w, b, eps: _instance_norm_ref(x, w, b, eps), _channel_cases(spatial_min=1),
           torch_fn=lambda x, w, b, eps: _torch_F("instance_norm")(x, None, None, w, b, True, 0.1, eps)),
    OpSpec("instance_norm_running_stats",
           lambda x, m, v, w, b, eps: F.instance_norm(x, m, v, w, b, False, 0.1, eps),
           lambda x, m, v, w, b, eps: _with_stats_ref(x, m, v, w, b, eps), _eval_cases(spatial_min=1),
           grad_args=(0, 3, 4),
           torch_fn=lambda x, m, v, w, b, eps: _torch_F("instance_norm")(x, m, v, w, b, False, 0.1, eps)),
    OpSpec("group_norm", lambda x, w, b, **kw: F.group_norm(x, weight=w, bias=b, **kw),
           lambda x, w, b, **kw: _group_norm_ref(x, w, b, **kw), _channel_cases(groups=True),
           torch_fn=_torch_group_norm),
    OpSpec("local_response_norm", F.local_response_norm, _lrn_ref, _lrn_cases(),
           torch_fn=_torch_F("local_response_norm")),
]
