"""Activation modules and functions beyond the spec table: torch parity of the modules (PReLU's weight
via state_dict), extreme inputs, half precision, in-place variants and argument errors."""

import numpy as np
import pytest
from conftest import torch

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed (pip install -e .[ref])")

MODULES = [
    ("ReLU", {}), ("ReLU6", {}), ("LeakyReLU", {"negative_slope": 0.1}), ("ELU", {"alpha": 0.7}), ("SELU", {}),
    ("CELU", {"alpha": 1.5}), ("GELU", {}), ("GELU", {"approximate": "tanh"}), ("SiLU", {}), ("Mish", {}),
    ("Softplus", {"beta": 2.0, "threshold": 5.0}), ("Softsign", {}), ("Hardtanh", {"min_val": -0.5, "max_val": 2.0}),
    ("Hardsigmoid", {}), ("Hardswish", {}), ("LogSigmoid", {}), ("GLU", {"dim": 1}), ("Tanh", {}), ("Sigmoid", {}),
    ("Tanhshrink", {}), ("Hardshrink", {"lambd": 0.3}), ("Softshrink", {"lambd": 0.3}),
    ("Threshold", {"threshold": 0.2, "value": -1.0}), ("PReLU", {"num_parameters": 6, "init": 0.1}),
]

EXTREMES = np.array([-1e4, -100.0, -30.0, -5.0, -1e-3, 0.0, 1e-3, 5.0, 30.0, 100.0, 1e4], dtype=np.float32)


@needs_torch
@pytest.mark.parametrize("name, kwargs", MODULES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(MODULES)])
def test_module_matches_torch(name, kwargs):
    ours, theirs = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(ours) == repr(theirs)
    if name == "PReLU":
        theirs.weight.data = torch.linspace(-0.5, 0.5, 6)
        ours.load_state_dict(theirs.state_dict())
    x = np.random.default_rng(0).standard_normal((4, 6, 3)).astype(np.float32) * 3
    xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, yt = ours(xm), theirs(xt)
    assert y.dtype == mg.float32
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    g = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    y.backward(mg.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xm.grad.data, xt.grad.numpy(), rtol=1e-5, atol=1e-6)
    for (key, p), pt in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.data, pt.grad.numpy(), rtol=1e-5, atol=1e-5, err_msg=key)


@needs_torch
@pytest.mark.parametrize("fn, kwargs", [
    ("silu", {}), ("gelu", {}), ("gelu", {"approximate": "tanh"}), ("mish", {}), ("softplus", {}),
    ("logsigmoid", {}), ("elu", {}), ("selu", {}), ("celu", {"alpha": 0.5}), ("hardswish", {}), ("softsign", {}),
    ("tanhshrink", {}), ("sigmoid", {})])
def test_extreme_inputs_are_finite_and_match_torch(fn, kwargs):
    x, xt = mg.tensor(EXTREMES, requires_grad=True), torch.tensor(EXTREMES, requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow or nan on the way
        y = getattr(F, fn)(x, **kwargs)
        y.sum().backward()
    yt = getattr(torch.nn.functional, fn)(xt, **kwargs)
    yt.sum().backward()
    assert np.all(np.isfinite(y.data)) and np.all(np.isfinite(x.grad.data))
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_logsigmoid_is_exact_far_out():
    y = F.logsigmoid(mg.tensor([-1e4, -50.0, 50.0], dtype=mg.float32)).data
    np.testing.assert_allclose(y, [-1e4, -50.0, -np.exp(-50.0)], rtol=1e-6)


@needs_torch
@pytest.mark.parametrize("fn", ["silu", "gelu", "mish", "softplus", "logsigmoid", "elu", "hardswish", "leaky_relu"])
def test_float16_stays_float16_and_matches_torch(fn):
    x = np.linspace(-12, 12, 101).astype(np.float16)
    y = getattr(F, fn)(mg.tensor(x))
    assert y.dtype == mg.float16
    expected = getattr(torch.nn.functional, fn)(torch.tensor(x)).numpy()
    assert np.all(np.isfinite(y.data))
    np.testing.assert_allclose(y.data.astype(np.float32), expected.astype(np.float32), rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("fn, module", [("relu", nn.ReLU), ("elu", nn.ELU), ("leaky_relu", nn.LeakyReLU),
                                        ("silu", nn.SiLU), ("hardtanh", nn.Hardtanh), ("relu6", nn.ReLU6),
                                        ("selu", nn.SELU), ("hardswish", nn.Hardswish)])
def test_inplace_matches_out_of_place(fn, module):
    x = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32) * 4
    expected = getattr(F, fn)(mg.tensor(x)).data
    t = mg.tensor(x.copy())
    version = t._version
    out = getattr(F, fn)(t, inplace=True)
    assert out is t and t._version > version
    np.testing.assert_array_equal(t.data, expected)
    t2 = mg.tensor(x.copy())
    assert module(inplace=True)(t2) is t2
    np.testing.assert_array_equal(t2.data, expected)


def test_inplace_inside_a_graph_keeps_gradients_right():
    x = mg.tensor([-2.0, -0.5, 0.5, 3.0], requires_grad=True)
    h = x * 2
    F.elu_(h)
    h.sum().backward()
    np.testing.assert_allclose(x.grad.data, [2 * np.exp(-4.0), 2 * np.exp(-1.0), 2.0, 2.0], rtol=1e-5)
    leaf = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        F.relu_(leaf)


@needs_torch
@pytest.mark.parametrize("fn, kwargs", [("silu", {}), ("gelu", {}), ("gelu", {"approximate": "tanh"})])
def test_fused_gelu_and_silu_are_single_nodes_with_exact_higher_derivatives(fn, kwargs):
    xs = np.linspace(-4, 4, 9)
    x, xt = mg.tensor(xs, requires_grad=True), torch.tensor(xs, requires_grad=True)
    y, yt = getattr(F, fn)(x, **kwargs), getattr(torch.nn.functional, fn)(xt, **kwargs)
    assert type(y.grad_fn).__name__ in ("Silu", "Gelu")
    for order in range(1, 4):  # first, second and third derivatives
        (y,) = mg.grad(y.sum(), x, create_graph=True)
        (yt,) = torch.autograd.grad(yt.sum(), xt, create_graph=True)
        np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=f"order {order}")
    if fn == "gelu" and not kwargs:  # gelu'' = phi(x) (2 - x^2)
        (g,) = mg.grad(F.gelu(x).sum(), x, create_graph=True)
        (gg,) = mg.grad(g.sum(), x)
        np.testing.assert_allclose(gg.data, np.exp(-xs**2 / 2) / np.sqrt(2 * np.pi) * (2 - xs**2), rtol=1e-10)


def test_errors():
    with pytest.raises(RuntimeError, match="approximate argument must be either 'none' or 'tanh'"):
        F.gelu(mg.randn(3), approximate="fast")
    with pytest.raises(ValueError, match="approximate must be"):
        nn.GELU("fast")
    with pytest.raises(TypeError, match=r"gelu: expected a floating-point tensor, got int64 \(shape \(3,\)\)"):
        F.gelu(mg.arange(3))
    with pytest.raises(RuntimeError, match=r"halving dimension must be even, but dimension 1 is size 5"):
        F.glu(mg.randn(2, 5))
    with pytest.raises(RuntimeError, match="does not support scalars"):
        F.glu(mg.randn(()))
    with pytest.raises(RuntimeError, match="parameter numbers = 3 and channel size = 4"):
        F.prelu(mg.randn(2, 4), mg.ones(3))
    with pytest.raises(ValueError, match=r"min_val \(2\) cannot be greater than max_val \(1\)"):
        F.hardtanh(mg.randn(3), 2, 1)
    with pytest.raises(RuntimeError, match="lambda must be greater or equal to 0"):
        F.softshrink(mg.randn(3), -1.0)


def test_fast_float32_kernels_are_accurate():
    # the float32 fast paths (Goldberg's log1p/expm1, the rational normal CDF) against float64 references
    import scipy.special

    from minigrad.ops.activation import _expm1_nonpositive, _log1p, _normal_cdf_float32

    def ulps(got, exact):
        spacing = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
        return np.max(np.abs(got.astype(np.float64) - exact) / np.maximum(spacing, 1e-45))

    x = -np.concatenate([np.logspace(-12, 2.2, 20001), [0.0, 200.0]]).astype(np.float32)
    assert _expm1_nonpositive(x).dtype == np.float32
    assert ulps(_expm1_nonpositive(x), np.expm1(x.astype(np.float64))) < 8
    t = np.concatenate([np.logspace(-40, 0, 20001), [0.0]]).astype(np.float32)
    assert ulps(_log1p(t), np.log1p(t.astype(np.float64))) < 8
    z = np.linspace(-12, 12, 200001).astype(np.float32)
    cdf, exact = _normal_cdf_float32(z), scipy.special.ndtr(z.astype(np.float64))
    assert np.max(np.abs(cdf - exact)) < 2e-7
    inner = np.abs(z) <= 3
    assert np.max(np.abs(cdf[inner] / exact[inner] - 1)) < 1e-6  # the negative tail keeps relative accuracy
