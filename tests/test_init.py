"""nn.init: each initialiser checked statistically on a large tensor (mean, std, bounds, orthogonality)
against the distribution torch documents, and fans and gains against torch's own functions."""

import math

import numpy as np
import pytest
from conftest import torch

import minigrad as mg
import minigrad.nn as nn
from minigrad.nn import init

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed (pip install -e .[ref])")

SHAPES = [(256, 128), (64, 32, 3, 3), (128, 96, 5)]


def _fans(shape):
    receptive = math.prod(shape[2:]) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _check_uniform(values, low, high):
    n = values.size
    assert values.min() >= low and values.max() <= high
    # a uniform sample fills its range: extremes within a few expected gaps of the bounds
    gap = 10 * (high - low) / n
    assert values.min() < low + gap and values.max() > high - gap
    mean_tol = 5 * (high - low) / math.sqrt(12 * n)
    assert abs(values.mean() - (low + high) / 2) < mean_tol
    np.testing.assert_allclose(values.std(), (high - low) / math.sqrt(12), rtol=0.02)


def _check_normal(values, mean, std):
    n = values.size
    assert abs(values.mean() - mean) < 5 * std / math.sqrt(n)
    np.testing.assert_allclose(values.std(), std, rtol=0.02)
    # the normal's shape: about 68.3% within one std
    assert abs(np.mean(np.abs(values - mean) < std) - 0.6827) < 0.01


@pytest.mark.parametrize("shape", SHAPES)
def test_uniform_and_normal(shape):
    t = mg.empty(*shape)
    assert init.uniform_(t, -0.3, 0.7) is t
    _check_uniform(t.data, -0.3, 0.7)
    init.normal_(t, mean=1.5, std=0.2)
    _check_normal(t.data, 1.5, 0.2)
    assert t.dtype == mg.float32


def test_constant_zeros_ones_eye():
    t = mg.empty(5, 7)
    np.testing.assert_array_equal(init.constant_(t, 0.25).data, np.full((5, 7), 0.25, np.float32))
    np.testing.assert_array_equal(init.zeros_(t).data, 0)
    np.testing.assert_array_equal(init.ones_(t).data, 1)
    np.testing.assert_array_equal(init.eye_(t).data, np.eye(5, 7))
    with pytest.raises(ValueError, match="2-D"):
        init.eye_(mg.empty(2, 2, 2))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("gain", [1.0, math.sqrt(2.0)])
def test_xavier(shape, gain):
    fan_in, fan_out = _fans(shape)
    t = mg.empty(*shape)
    init.xavier_uniform_(t, gain=gain)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    _check_uniform(t.data, -bound, bound)
    init.xavier_normal_(t, gain=gain)
    _check_normal(t.data, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity, a", [("relu", 0.0), ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)),
                                             ("tanh", 0.0), ("linear", 0.0)])
def test_kaiming(shape, mode, nonlinearity, a):
    fan = _fans(shape)[0 if mode == "fan_in" else 1]
    gain = {"relu": math.sqrt(2.0), "tanh": 5.0 / 3, "linear": 1.0}.get(nonlinearity)
    if gain is None:
        gain = math.sqrt(2.0 / (1 + a * a))
    t = mg.empty(*shape)
    init.kaiming_uniform_(t, a=a, mode=mode, nonlinearity=nonlinearity)
    bound = gain * math.sqrt(3.0 / fan)
    _check_uniform(t.data, -bound, bound)
    init.kaiming_normal_(t, a=a, mode=mode, nonlinearity=nonlinearity)
    _check_normal(t.data, 0.0, gain / math.sqrt(fan))


def test_linear_default_init_is_torchs():
    # torch's Linear: kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)); bias the same bound
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    _check_uniform(layer.weight.data, -bound, bound)
    assert np.abs(layer.bias.data).max() <= bound


@pytest.mark.parametrize("mean, std, a, b", [(0.0, 1.0, -2.0, 2.0), (0.0, 0.02, -0.04, 0.04), (1.0, 2.0, 0.0, 3.0)])
def test_trunc_normal(mean, std, a, b):
    from scipy import stats

    t = mg.empty(300, 200)
    init.trunc_normal_(t, mean=mean, std=std, a=a, b=b)
    values = t.data.astype(np.float64)
    assert values.min() >= a and values.max() <= b
    dist = stats.truncnorm((a - mean) / std, (b - mean) / std, loc=mean, scale=std)
    assert abs(values.mean() - dist.mean()) < 5 * dist.std() / math.sqrt(values.size)
    np.testing.assert_allclose(values.std(), dist.std(), rtol=0.02)
    # the whole distribution, not just two moments
    assert stats.kstest(values.ravel()[:20000], dist.cdf).pvalue > 1e-4


@pytest.mark.parametrize("shape", [(64, 64), (32, 100), (100, 32), (16, 8, 3, 3)])
@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_orthogonal(shape, gain):
    t = mg.empty(*shape)
    init.orthogonal_(t, gain=gain)
    flat = t.data.reshape(shape[0], -1).astype(np.float64) / gain
    rows, cols = flat.shape
    if rows <= cols:
        np.testing.assert_allclose(flat @ flat.T, np.eye(rows), atol=1e-5)
    else:
        np.testing.assert_allclose(flat.T @ flat, np.eye(cols), atol=1e-5)
    # different draws give different matrices
    other = init.orthogonal_(mg.empty(*shape), gain=gain)
    assert not np.allclose(other.data, t.data)


@needs_torch
@pytest.mark.parametrize("shape", [(5, 3), (8, 4, 3, 3), (2, 7, 5), (6, 6, 2, 3, 4)])
def test_fan_computation_matches_torch(shape):
    ours = init._calculate_fan_in_and_fan_out(mg.empty(*shape))
    theirs = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))
    assert ours == theirs


@needs_torch
@pytest.mark.parametrize("nonlinearity, param", [
    ("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None), ("conv_transpose1d", None),
    ("conv_transpose2d", None), ("conv_transpose3d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
    ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)), ("selu", None)])
def test_calculate_gain_matches_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(torch.nn.init.calculate_gain(nonlinearity, param))


def test_errors():
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(mg.empty(5))
    with pytest.raises(ValueError, match="mode 'fan_avg' not supported"):
        init.kaiming_uniform_(mg.empty(3, 3), mode="fan_avg")
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.orthogonal_(mg.empty(4))


def test_init_on_a_parameter_needs_no_grad_context_and_keeps_it_a_leaf():
    p = nn.Parameter(mg.empty(10, 10))
    init.kaiming_normal_(p)
    assert p.is_leaf and p.requires_grad and p.grad_fn is None
    assert np.all(np.isfinite(p.data))


def test_seeded_init_is_reproducible():
    mg.manual_seed(123)
    a = init.xavier_uniform_(mg.empty(20, 30)).data.copy()
    mg.manual_seed(123)
    b = init.xavier_uniform_(mg.empty(20, 30)).data
    np.testing.assert_array_equal(a, b)
