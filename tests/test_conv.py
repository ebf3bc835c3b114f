"""Convolution layers: parity with torch (weights copied through state_dict), second derivatives,
initialisation, reprs, bad-input errors and numerics (float32 stays float32, float16, large values).

The op-level checks (forward vs a direct NumPy definition, gradients vs finite differences, double
backward, torch) are the rows of tests/op_specs/conv.py; this file tests the modules and what
the generic checks cannot see.
"""

import math

import numpy as np
import pytest
from conftest import torch

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.testing import assert_close

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed (pip install -e .[ref])")


def _pair(name, *args, **kwargs):
    """The same layer in torch and minigrad (float64), our parameters loaded from torch's state_dict."""
    theirs = getattr(torch.nn, name)(*args, **kwargs).double()
    ours = getattr(nn, name)(*args, **kwargs).to(mg.float64)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    return ours, theirs


def _check_step(ours, theirs, x, *extra, atol=1e-10):
    """Forward and backward through both layers with a random cotangent: output and all gradients equal."""
    rng = np.random.default_rng(x.size)
    xo, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = ours(xo, *extra), theirs(xt, *extra)
    assert yo.shape == tuple(yt.shape)
    assert_close(yo, yt.detach(), atol=atol, rtol=1e-9, check_dtype=False, msg="output: ")
    cot = rng.standard_normal(yo.shape)
    (yo * mg.tensor(cot)).sum().backward()
    (yt * torch.tensor(cot)).sum().backward()
    assert_close(xo.grad, xt.grad, atol=atol, rtol=1e-9, check_dtype=False, msg="input grad: ")
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert_close(p.grad, q.grad, atol=atol, rtol=1e-9, check_dtype=False, msg=f"{name} grad: ")


# ----------------------------------------------------------------------------------------------
# Parity with torch
# ----------------------------------------------------------------------------------------------
CONV2D_CONFIGS = [
    dict(in_channels=3, out_channels=8, kernel_size=3, padding=1),
    dict(in_channels=4, out_channels=6, kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2),
         groups=2),
    dict(in_channels=6, out_channels=12, kernel_size=3, padding="same", groups=6),  # depthwise, multiplier 2
    dict(in_channels=4, out_channels=4, kernel_size=4, padding="same", dilation=2, bias=False),  # asymmetric pad
    dict(in_channels=3, out_channels=5, kernel_size=3, padding="valid", stride=2),
    dict(in_channels=2, out_channels=4, kernel_size=3, padding=2, padding_mode="reflect"),
    dict(in_channels=2, out_channels=4, kernel_size=(3, 4), padding="same", padding_mode="replicate"),
    dict(in_channels=2, out_channels=4, kernel_size=3, padding=(1, 2), padding_mode="circular", stride=2),
    dict(in_channels=3, out_channels=6, kernel_size=1),
    dict(in_channels=3, out_channels=4, kernel_size=4, stride=4),  # a ViT patch embedding
]


@needs_torch
@pytest.mark.parametrize("config", CONV2D_CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_conv2d_matches_torch(config):
    ours, theirs = _pair("Conv2d", **config)
    x = np.random.default_rng(0).standard_normal((2, config["in_channels"], 9, 8))
    _check_step(ours, theirs, x)
    assert repr(ours) == repr(theirs)


@needs_torch
@pytest.mark.parametrize("config", [
    dict(in_channels=3, out_channels=4, kernel_size=3),
    dict(in_channels=4, out_channels=6, kernel_size=2, stride=2, padding=1, dilation=3, groups=2, bias=False),
    dict(in_channels=2, out_channels=2, kernel_size=4, padding="same", padding_mode="reflect"),
    dict(in_channels=3, out_channels=3, kernel_size=3, padding=2, padding_mode="circular", groups=3),
], ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_conv1d_matches_torch(config):
    ours, theirs = _pair("Conv1d", **config)
    _check_step(ours, theirs, np.random.default_rng(1).standard_normal((3, config["in_channels"], 11)))
    assert repr(ours) == repr(theirs)


@needs_torch
@pytest.mark.parametrize("config", [
    dict(in_channels=3, out_channels=4, kernel_size=3),
    dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1, output_padding=1, groups=2),
    dict(in_channels=2, out_channels=3, kernel_size=(2, 3), stride=(3, 1), padding=(0, 1), dilation=(2, 1),
         output_padding=(1, 0), bias=False),
    dict(in_channels=4, out_channels=4, kernel_size=4, stride=2, padding=1, groups=4),  # depthwise upsampling
], ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_conv_transpose2d_matches_torch(config):
    ours, theirs = _pair("ConvTranspose2d", **config)
    _check_step(ours, theirs, np.random.default_rng(2).standard_normal((2, config["in_channels"], 5, 4)))
    assert repr(ours) == repr(theirs)


@needs_torch
def test_conv_transpose1d_matches_torch():
    ours, theirs = _pair("ConvTranspose1d", 4, 6, 3, stride=3, padding=1, output_padding=2, groups=2, dilation=1)
    _check_step(ours, theirs, np.random.default_rng(3).standard_normal((2, 4, 7)))
    assert repr(ours) == repr(theirs)


@needs_torch
@pytest.mark.parametrize("output_size", [(10, 9), [2, 4, 10, 10], (9, 9)])
def test_conv_transpose_output_size_picks_output_padding(output_size):
    ours, theirs = _pair("ConvTranspose2d", 4, 4, 3, stride=2, padding=1)
    _check_step(ours, theirs, np.random.default_rng(4).standard_normal((2, 4, 5, 5)), output_size)


@needs_torch
def test_conv_transpose_rejects_unreachable_output_size():
    ours = nn.ConvTranspose2d(4, 4, 3, stride=2, padding=1)
    with pytest.raises(ValueError, match="valid sizes range from"):
        ours(mg.randn(1, 4, 5, 5), output_size=(12, 12))


@needs_torch
def test_unbatched_input_matches_torch():
    ours, theirs = _pair("Conv2d", 3, 4, 3, padding=1, padding_mode="reflect")
    _check_step(ours, theirs, np.random.default_rng(5).standard_normal((3, 6, 7)))
    ours, theirs = _pair("ConvTranspose1d", 3, 2, 3, stride=2)
    _check_step(ours, theirs, np.random.default_rng(6).standard_normal((3, 5)))


@needs_torch
def test_unfold_and_fold_modules_match_torch():
    x = np.random.default_rng(7).standard_normal((2, 3, 7, 6))
    ours = nn.Unfold((2, 3), dilation=(2, 1), padding=1, stride=2)
    theirs = torch.nn.Unfold((2, 3), dilation=(2, 1), padding=1, stride=2)
    _check_step(ours, theirs, x)
    assert repr(ours) == repr(theirs)
    cols = np.random.default_rng(8).standard_normal((2, 3 * 4, 6 * 3))  # 6 x 3 blocks of 2 x 2
    ours, theirs = nn.Fold((5, 5), 2, padding=1, stride=(1, 2)), torch.nn.Fold((5, 5), 2, padding=1, stride=(1, 2))
    _check_step(ours, theirs, cols)
    assert repr(ours) == repr(theirs)


def test_unfold_then_matmul_is_conv2d():
    rng = np.random.default_rng(10)
    x, W = mg.tensor(rng.standard_normal((2, 3, 6, 5))), mg.tensor(rng.standard_normal((4, 3, 3, 2)))
    cols = F.unfold(x, (3, 2), padding=1, stride=(1, 2))
    y = (W.reshape(4, -1) @ cols).reshape(2, 4, 6, 3)
    assert_close(y, F.conv2d(x, W, padding=1, stride=(1, 2)), atol=1e-12, rtol=1e-12)


@needs_torch
def test_small_cnn_training_step_matches_torch():
    """Conv -> ReLU -> MaxPool -> depthwise Conv -> Conv -> AdaptiveAvgPool -> Linear, loss and every gradient."""

    def build(lib):
        return lib.Sequential(lib.Conv2d(3, 8, 3, padding=1), lib.ReLU(), lib.MaxPool2d(2),
                              lib.Conv2d(8, 8, 3, padding=1, groups=8), lib.Conv2d(8, 16, 3, stride=2),
                              lib.ReLU(), lib.AdaptiveAvgPool2d(1), lib.Flatten(), lib.Linear(16, 5))

    theirs = build(torch.nn).double()
    ours = build(nn).to(mg.float64)
    ours.load_state_dict(theirs.state_dict())
    rng = np.random.default_rng(11)
    x, target = rng.standard_normal((4, 3, 16, 16)), rng.integers(0, 5, 4)
    lo = F.cross_entropy(ours(mg.tensor(x)), mg.tensor(target))
    lt = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(target))
    lo.backward()
    lt.backward()
    assert_close(lo, lt.detach(), atol=1e-12, rtol=1e-10, check_dtype=False)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert_close(p.grad, q.grad, atol=1e-10, rtol=1e-8, check_dtype=False, msg=f"{name}: ")


@needs_torch
@pytest.mark.parametrize("transposed", [False, True])
def test_second_derivatives_match_torch(transposed):
    """d/dW and d/dx of |dL/dx|^2 (a gradient penalty): conv, conv^T and the weight gradient differentiated."""
    name = "ConvTranspose2d" if transposed else "Conv2d"
    ours, theirs = _pair(name, 4, 6, 3, stride=2, padding=1, groups=2)
    x = np.random.default_rng(12).standard_normal((2, 4, 6, 5))
    xo, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = ours(xo), theirs(xt)
    (go,) = mg.grad([(yo * yo).sum()], [xo], create_graph=True)
    (gt,) = torch.autograd.grad([(yt * yt).sum()], [xt], create_graph=True)
    (go * go).sum().backward()
    (gt * gt).sum().backward()
    assert_close(xo.grad, xt.grad, atol=1e-9, rtol=1e-9, check_dtype=False, msg="x: ")
    assert_close(ours.weight.grad, theirs.weight.grad, atol=1e-9, rtol=1e-9, check_dtype=False, msg="W: ")
    assert_close(ours.bias.grad, theirs.bias.grad, atol=1e-9, rtol=1e-9, check_dtype=False, msg="b: ")


# ----------------------------------------------------------------------------------------------
# Parameters and initialisation
# ----------------------------------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("name,args,kwargs", [
    ("Conv1d", (3, 8, 5), {}), ("Conv2d", (4, 8, (3, 2)), {"groups": 2}),
    ("ConvTranspose1d", (4, 6, 3), {"groups": 2}), ("ConvTranspose2d", (6, 4, 3), {"bias": False}),
])
def test_state_dict_names_and_shapes_match_torch(name, args, kwargs):
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]


@pytest.mark.parametrize("layer,fan_in", [
    (lambda: nn.Conv2d(64, 128, 3), 64 * 9), (lambda: nn.Conv2d(32, 64, 5, groups=4), 8 * 25),
    (lambda: nn.ConvTranspose2d(64, 96, 3, groups=2), 48 * 9), (lambda: nn.Conv1d(16, 256, 7), 16 * 7),
])
def test_default_init_is_uniform_with_torch_bounds(layer, fan_in):
    """kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the bias uses the same bound."""
    m = layer()
    bound = 1 / math.sqrt(fan_in)
    w, b = m.weight.numpy(force=True), m.bias.numpy(force=True)
    assert m.weight.dtype == mg.float32
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound  # the std of U(-a, a) is a / sqrt(3)
    assert np.abs(b).max() <= bound and b.std() > 0.3 * bound


def test_padding_strings_and_modes_are_stored_like_torch():
    m = nn.Conv2d(2, 2, (3, 4), padding="same", padding_mode="reflect")
    assert m.padding == "same" and m.kernel_size == (3, 4) and m.stride == (1, 1)
    assert m._reversed_padding_repeated_twice == [1, 2, 1, 1]
    assert nn.Conv1d(2, 2, 3, padding=2)._reversed_padding_repeated_twice == [2, 2]


# ----------------------------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,match", [
    (dict(in_channels=3, out_channels=4, kernel_size=3, groups=2), "in_channels .* divisible by groups"),
    (dict(in_channels=4, out_channels=3, kernel_size=3, groups=2), "out_channels .* divisible by groups"),
    (dict(in_channels=4, out_channels=4, kernel_size=3, groups=0), "groups must be a positive integer"),
    (dict(in_channels=4, out_channels=4, kernel_size=3, padding="full"), "invalid padding string"),
    (dict(in_channels=4, out_channels=4, kernel_size=3, padding="same", stride=2), "strided convolutions"),
    (dict(in_channels=4, out_channels=4, kernel_size=3, padding_mode="mirror"), "padding_mode must be one of"),
    (dict(in_channels=4, out_channels=4, kernel_size=0), "must be positive"),
    (dict(in_channels=4, out_channels=4, kernel_size=3, stride=0), "must be positive"),
    (dict(in_channels=4, out_channels=4, kernel_size=3, padding=-1), "non-negative"),
])
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        nn.Conv2d(**kwargs)


def test_conv_transpose_only_takes_zero_padding_mode():
    with pytest.raises(ValueError, match="zeros"):
        nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")


@pytest.mark.parametrize("call,error,match", [
    (lambda: F.conv2d(mg.randn(3, 8, 8, 1, 1), mg.randn(4, 3, 3, 3)), RuntimeError,
     r"4D \(batched\) input.*\(3, 8, 8, 1, 1\)"),
    (lambda: F.conv2d(mg.randn(2, 5, 8, 8), mg.randn(4, 3, 3, 3)), RuntimeError,
     r"\(4, 3, 3, 3\).*to have 3 channels, but got 5"),
    (lambda: F.conv2d(mg.randn(2, 4, 8, 8), mg.randn(6, 2, 3, 3), groups=3), RuntimeError,
     r"to have 6 channels, but got 4"),
    (lambda: F.conv2d(mg.randn(2, 4, 8, 8), mg.randn(5, 2, 3, 3), groups=2), RuntimeError,
     "divisible by 2 at dimension 0"),
    (lambda: F.conv2d(mg.randn(2, 3, 2, 2), mg.randn(4, 3, 3, 3)), RuntimeError,
     r"padded input size per channel: \(2 x 2\).*Kernel size can't be greater"),
    (lambda: F.conv2d(mg.randn(2, 3, 8, 8), mg.randn(4, 3, 3, 3), stride=0), RuntimeError, "stride must be greater"),
    (lambda: F.conv2d(mg.randn(2, 3, 8, 8), mg.randn(4, 3, 3, 3), dilation=(1, 0)), RuntimeError, "dilation"),
    (lambda: F.conv2d(mg.randn(2, 3, 8, 8), mg.randn(4, 3, 3, 3), padding=-1), RuntimeError, "negative padding"),
    (lambda: F.conv2d(mg.randn(2, 3, 8, 8), mg.randn(4, 3, 3, 3), padding="same", stride=2), RuntimeError,
     "strided"),
    (lambda: F.conv2d(mg.randn(2, 3, 8, 8), mg.randn(4, 3, 3, 3), mg.randn(3)), RuntimeError,
     r"bias to be 1-D with 4 elements.*\(3,\)"),
    (lambda: F.conv2d(mg.randn(2, 3, 8, 8), mg.randn(4, 3, 3, 3).double()), RuntimeError,
     r"input dtype \(.*float32\) and weight dtype \(.*float64\)"),
    (lambda: F.conv2d(mg.ones(2, 3, 8, 8, dtype=mg.int64), mg.randn(4, 3, 3, 3)), RuntimeError, "floating-point"),
    (lambda: F.conv1d(mg.randn(2, 3, 8), mg.randn(4, 3, 3, 3)), RuntimeError, "weight with 3 dims"),
    (lambda: F.conv_transpose2d(mg.randn(2, 3, 4, 4), mg.randn(4, 2, 3, 3)), RuntimeError,
     "to have 4 channels, but got 3"),
    (lambda: F.conv_transpose2d(mg.randn(2, 4, 4, 4), mg.randn(4, 2, 3, 3), output_padding=1), RuntimeError,
     "output padding must be smaller than either stride or dilation"),
    (lambda: F.conv_transpose2d(mg.randn(2, 4, 1, 1), mg.randn(4, 2, 1, 1), padding=1), RuntimeError,
     "too small"),
    (lambda: nn.Conv2d(3, 4, 3, padding=3, padding_mode="reflect")(mg.randn(1, 3, 3, 3)), RuntimeError,
     "padding size should be less than the corresponding input dimension"),
    (lambda: F.unfold(mg.randn(2, 3), 2), RuntimeError, "3-D .* or 4-D"),
    (lambda: F.fold(mg.randn(1, 7, 9), (4, 4), 2), RuntimeError, "divisible by the product of kernel_size"),
    (lambda: F.fold(mg.randn(1, 8, 8), (4, 4), 2), RuntimeError, "number of sliding blocks 3 x 3 = 9"),
])
def test_bad_inputs_raise_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_errors_leave_no_graph_and_no_gradients():
    x = mg.randn(2, 5, 8, 8, requires_grad=True)
    conv = nn.Conv2d(3, 4, 3)
    with pytest.raises(RuntimeError):
        conv(x)
    assert x.grad is None and conv.weight.grad is None


# ----------------------------------------------------------------------------------------------
# dtypes and numerics
# ----------------------------------------------------------------------------------------------
def test_float32_stays_float32_through_forward_and_backward():
    conv = nn.Conv2d(3, 4, 3, padding=1)
    x = mg.randn(2, 3, 6, 6, requires_grad=True)
    y = conv(x)
    y.sum().backward()
    assert y.dtype == mg.float32 and x.grad.dtype == mg.float32 and conv.weight.grad.dtype == mg.float32
    yt = F.conv_transpose2d(x, mg.randn(3, 2, 3, 3), mg.randn(2), stride=2)
    assert yt.dtype == mg.float32


def test_float16_matches_float32_within_half_precision():
    rng = np.random.default_rng(13)
    x, W, b = rng.standard_normal((2, 8, 9, 9)), rng.standard_normal((16, 8, 3, 3)) * 0.1, rng.standard_normal(16)
    ref = F.conv2d(mg.tensor(x, dtype=mg.float32), mg.tensor(W, dtype=mg.float32), mg.tensor(b, dtype=mg.float32),
                   padding=1)
    xh = mg.tensor(x, dtype=mg.float16, requires_grad=True)
    Wh = mg.tensor(W, dtype=mg.float16, requires_grad=True)
    half = F.conv2d(xh, Wh, mg.tensor(b, dtype=mg.float16), padding=1)
    assert half.dtype == mg.float16
    assert_close(half.float(), ref, atol=2e-2, rtol=1e-2)
    half.sum().backward()
    assert xh.grad.dtype == mg.float16 and np.isfinite(Wh.grad.numpy()).all()


@needs_torch
def test_large_values_match_torch_in_float32():
    rng = np.random.default_rng(14)
    x = (rng.standard_normal((2, 4, 8, 8)) * 1e4).astype(np.float32)
    W = rng.standard_normal((6, 4, 3, 3)).astype(np.float32)
    ours = F.conv2d(mg.tensor(x), mg.tensor(W), padding=1)
    theirs = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(W), padding=1)
    assert_close(ours, theirs, rtol=1e-4, atol=1e-4 * float(np.abs(theirs.numpy()).max()), check_dtype=False)


def test_weight_gradient_does_not_keep_columns_after_backward():
    """The im2col columns cached for the weight gradient are released with the graph."""
    conv = nn.Conv2d(3, 4, 3)
    y = conv(mg.randn(2, 3, 8, 8))
    node = y.grad_fn
    assert any(a.shape == (1, 27, 2 * 36) for a in node.saved_arrays())
    y.sum().backward()
    assert node.saved_arrays() == []


@needs_torch
@pytest.mark.parametrize("fn", ["conv2d", "conv_transpose2d", "conv1d"])
def test_empty_batch_works_like_torch(fn):
    shape = (0, 4, 5) if fn == "conv1d" else (0, 4, 5, 5)
    w_shape = (4, 2, 3) if fn == "conv1d" else (4, 2, 3, 3)
    x, W = mg.randn(*shape, requires_grad=True), mg.randn(*w_shape, requires_grad=True)
    y = getattr(F, fn)(x, W, stride=2, groups=2)
    expected = getattr(torch.nn.functional, fn)(torch.zeros(shape), torch.zeros(w_shape), stride=2, groups=2)
    assert y.shape == tuple(expected.shape)
    y.sum().backward()
    assert x.grad.shape == shape and W.grad.shape == w_shape and not W.grad.numpy().any()


# ----------------------------------------------------------------------------------------------
# The input gradient's two algorithms (GEMM + col2im, or a flipped-kernel convolution)
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("config", [
    dict(cin=4, cout=4, kernel=(3, 3), padding=1),  # stride 1, O == C: the flipped convolution
    dict(cin=6, cout=3, kernel=(3, 2), padding=(1, 0)),  # O < C, asymmetric kernel
    dict(cin=4, cout=4, kernel=(4, 4), padding="same", dilation=2),  # asymmetric padding, dilation
    dict(cin=6, cout=4, kernel=(3, 3), padding=1, groups=2),  # grouped
    dict(cin=4, cout=4, kernel=(3, 3), padding=1, groups=4),  # depthwise
    dict(cin=4, cout=4, kernel=(3, 3), padding=3),  # padded beyond the kernel's reach: GEMM + col2im
    dict(cin=2, cout=6, kernel=(3, 3), padding=1),  # more output channels: GEMM + col2im
    dict(cin=4, cout=4, kernel=(3, 3), padding=1, stride=2),  # strided: GEMM + col2im
], ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_conv_input_gradient_is_the_adjoint(config):
    """<conv(x, W), g> = <x, dL/dx> for random x, W, g: the input gradient is exactly conv's adjoint,
    whichever algorithm conv_input_grad picks for the geometry."""
    rng = np.random.default_rng(7)
    cin, cout, groups = config["cin"], config["cout"], config.get("groups", 1)
    x = mg.tensor(rng.standard_normal((2, cin, 7, 6)), requires_grad=True)
    W = mg.tensor(rng.standard_normal((cout, cin // groups) + config["kernel"]))
    y = F.conv2d(x, W, stride=config.get("stride", 1), padding=config["padding"],
                 dilation=config.get("dilation", 1), groups=groups)
    g = rng.standard_normal(y.shape)
    (y * mg.tensor(g)).sum().backward()
    assert x.grad.shape == x.shape
    assert np.isclose(float((y.detach().numpy() * g).sum()), float((x.detach().numpy() * x.grad.numpy()).sum()),
                      rtol=1e-12, atol=1e-10)
    if torch is not None:
        xt = torch.tensor(x.detach().numpy(), requires_grad=True)
        yt = torch.nn.functional.conv2d(xt, torch.tensor(W.numpy()), stride=config.get("stride", 1),
                                        padding=config["padding"], dilation=config.get("dilation", 1), groups=groups)
        (yt * torch.tensor(g)).sum().backward()
        assert_close(x.grad, xt.grad, atol=1e-10, rtol=1e-9, check_dtype=False)
