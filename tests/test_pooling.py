"""Pooling and spatial layers (MaxPool, AvgPool, adaptive pools, Upsample, PixelShuffle, padding
layers): parity with torch, reprs, tie-breaking and NaN, bad-input errors, dtypes.

The op-level checks (forward vs a per-window NumPy definition, gradients, double backward, torch)
are the rows of tests/op_specs/pool.py and tests/op_specs/spatial.py.
"""

import numpy as np
import pytest
from conftest import torch

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.testing import assert_close

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed (pip install -e .[ref])")


def _check_layer(name, args, kwargs, x, atol=1e-12):
    """Build the layer in both libraries; repr, output(s) and the input gradient must be equal."""
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == []
    xo, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = ours(xo), theirs(xt)
    if isinstance(yt, tuple):
        assert_close(yo[1], yt[1], msg=f"{name} indices: ")
        assert yo[1].dtype == mg.int64
        yo, yt = yo[0], yt[0]
    assert yo.shape == tuple(yt.shape)
    assert_close(yo, yt.detach(), atol=atol, rtol=1e-10, check_dtype=False, msg=f"{name} output: ")
    cot = np.random.default_rng(1).standard_normal(yo.shape)
    (yo * mg.tensor(cot)).sum().backward()
    (yt * torch.tensor(cot)).sum().backward()
    assert_close(xo.grad, xt.grad, atol=atol, rtol=1e-10, check_dtype=False, msg=f"{name} input grad: ")


def _distinct(shape, seed=0):
    return np.random.default_rng(seed).permutation(int(np.prod(shape))).reshape(shape) * 0.1


LAYERS_4D = [
    ("MaxPool2d", (2,), {}),
    ("MaxPool2d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True}),
    ("MaxPool2d", ((3, 2),), {"stride": (1, 2), "padding": (1, 0), "dilation": (2, 1), "return_indices": True}),
    ("AvgPool2d", (2,), {}),
    ("AvgPool2d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False}),
    ("AvgPool2d", ((3, 2),), {"stride": 1, "padding": (1, 1), "divisor_override": 5}),
    ("AdaptiveAvgPool2d", ((3, 4),), {}),
    ("AdaptiveAvgPool2d", (1,), {}),
    ("AdaptiveAvgPool2d", ((None, 5),), {}),
    ("AdaptiveMaxPool2d", ((4, 3),), {"return_indices": True}),
    ("AdaptiveMaxPool2d", (3,), {}),
    ("Upsample", (), {"scale_factor": 2}),
    ("Upsample", (), {"size": (5, 11), "mode": "nearest"}),
    ("Upsample", (), {"scale_factor": (1.5, 0.5), "mode": "bilinear"}),
    ("Upsample", (), {"size": 4, "mode": "bilinear", "align_corners": True}),
    ("Upsample", (), {"scale_factor": 1.7, "mode": "nearest-exact", "recompute_scale_factor": True}),
    ("UpsamplingNearest2d", (), {"scale_factor": 3}),
    ("UpsamplingBilinear2d", (), {"size": (9, 3)}),
    ("PixelUnshuffle", (2,), {}),
    ("ZeroPad2d", (2,), {}),
    ("ZeroPad2d", ((1, -1, 0, 2),), {}),
    ("ConstantPad2d", ((1, 2, 3, 0), 2.5), {}),
    ("ReflectionPad2d", (2,), {}),
    ("ReflectionPad2d", ((1, 0, 3, 2),), {}),
    ("ReplicationPad2d", ((4, 1, 0, 2),), {}),
    ("CircularPad2d", ((1, 2, 2, 0),), {}),
]


@needs_torch
@pytest.mark.parametrize("name,args,kwargs", LAYERS_4D, ids=[f"{n}{a}{k}" for n, a, k in LAYERS_4D])
def test_4d_layers_match_torch(name, args, kwargs):
    _check_layer(name, args, kwargs, _distinct((2, 3, 6, 8)))


LAYERS_3D = [
    ("MaxPool1d", (3,), {"stride": 2, "padding": 1, "return_indices": True}),
    ("MaxPool1d", (2,), {"dilation": 2, "ceil_mode": True}),
    ("AvgPool1d", (3,), {"stride": 2, "padding": 1, "count_include_pad": False}),
    ("AvgPool1d", (4,), {"ceil_mode": True}),
    ("AdaptiveAvgPool1d", (4,), {}),
    ("AdaptiveMaxPool1d", (5,), {"return_indices": True}),
    ("Upsample", (), {"scale_factor": 2.5, "mode": "linear"}),
    ("Upsample", (), {"size": 4, "mode": "linear", "align_corners": True}),
    ("Upsample", (), {"size": 13}),
    ("ZeroPad1d", ((2, 1),), {}),
    ("ConstantPad1d", (3, -1.0), {}),
    ("ReflectionPad1d", ((3, 1),), {}),
    ("ReplicationPad1d", (2,), {}),
    ("CircularPad1d", ((2, 3),), {}),
]


@needs_torch
@pytest.mark.parametrize("name,args,kwargs", LAYERS_3D, ids=[f"{n}{a}{k}" for n, a, k in LAYERS_3D])
def test_3d_layers_match_torch(name, args, kwargs):
    _check_layer(name, args, kwargs, _distinct((2, 4, 9), seed=2))


@needs_torch
def test_pixel_shuffle_matches_torch_batched_and_unbatched():
    _check_layer("PixelShuffle", (2,), {}, _distinct((2, 8, 3, 4)))
    _check_layer("PixelShuffle", (3,), {}, _distinct((9, 2, 3)))
    _check_layer("PixelUnshuffle", (3,), {}, _distinct((2, 1, 2, 6, 3)))


@needs_torch
def test_unbatched_pooling_matches_torch():
    _check_layer("MaxPool2d", (2,), {"return_indices": True}, _distinct((3, 6, 4)))
    _check_layer("AvgPool1d", (2,), {}, _distinct((3, 7)))
    _check_layer("AdaptiveMaxPool2d", ((2, 3),), {}, _distinct((3, 5, 7)))


@needs_torch
def test_pooling_layers_keep_arguments_like_torch():
    for name, args in [("MaxPool2d", (3,)), ("AvgPool2d", (2, 1)), ("AvgPool1d", (3,)), ("MaxPool1d", (2, 1, 1))]:
        ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
        assert (ours.kernel_size, ours.stride, ours.padding) == (theirs.kernel_size, theirs.stride, theirs.padding)


# ----------------------------------------------------------------------------------------------
# Semantics the generic checks cannot see
# ----------------------------------------------------------------------------------------------
@needs_torch
def test_max_pool_ties_send_the_gradient_to_the_first_maximum():
    x = np.zeros((1, 1, 4, 6))
    x[0, 0, 1:3, 2:5] = 1.0  # ties inside overlapping windows
    for kwargs in [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1), dict(kernel_size=(2, 3), stride=1)]:
        xo, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        yo, io = F.max_pool2d(xo, return_indices=True, **kwargs)
        yt, it = torch.nn.functional.max_pool2d(xt, return_indices=True, **kwargs)
        assert_close(io, it)
        yo.sum().backward()
        yt.sum().backward()
        assert_close(xo.grad, xt.grad, atol=0, rtol=0, check_dtype=False)


@needs_torch
def test_max_pool_propagates_nan_like_torch():
    x = np.arange(32.0).reshape(1, 2, 4, 4)
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = np.nan
    x[0, 1, 3, 3] = np.nan
    yo, io = F.max_pool2d(mg.tensor(x), 2, return_indices=True)
    yt, it = torch.nn.functional.max_pool2d(torch.tensor(x), 2, return_indices=True)
    assert_close(yo, yt, equal_nan=True)
    assert_close(io, it)


@needs_torch
def test_max_pool_of_all_negative_infinity_points_at_the_first_input_position():
    x = np.full((1, 1, 5, 5), -np.inf)
    yo, io = F.max_pool2d(mg.tensor(x), 3, stride=2, padding=1, return_indices=True)
    yt, it = torch.nn.functional.max_pool2d(torch.tensor(x), 3, stride=2, padding=1, return_indices=True)
    assert_close(yo, yt)
    assert_close(io, it)


def test_max_pool_double_backward_is_the_gathered_cotangent():
    """d/d(gy) <ggx, scatter(gy)> = gather(ggx): the second derivative of a max pool is exact, not zero."""
    x = mg.tensor(_distinct((1, 2, 4, 4)), requires_grad=True)
    y = F.max_pool2d(x, 2)
    gy = mg.tensor(np.ones(y.shape), requires_grad=True)
    (gx,) = mg.grad([y], [x], [gy], create_graph=True)
    ggx = mg.tensor(np.random.default_rng(3).standard_normal(x.shape))
    (g_gy,) = mg.grad([(gx * ggx).sum()], [gy])
    winners = F.max_pool2d(x.detach(), 2, return_indices=True)[1].numpy().reshape(1, 2, -1)
    expected = np.take_along_axis(ggx.numpy().reshape(1, 2, -1), winners, -1).reshape(y.shape)
    assert_close(g_gy, expected, atol=1e-12, rtol=1e-12)


def test_avg_pool_with_extreme_values_stays_finite_in_float16():
    x = mg.tensor(np.full((1, 1, 4, 4), 6e4), dtype=mg.float16)  # a float16 sum of 4 would overflow to inf
    y = F.avg_pool2d(x, 2)
    assert y.dtype == mg.float16 and np.isfinite(y.numpy()).all()
    assert_close(y.float(), mg.full((1, 1, 2, 2), 6e4), rtol=1e-3, atol=0)


def test_float32_stays_float32():
    x = mg.randn(2, 3, 8, 8, requires_grad=True)
    outs = [F.max_pool2d(x, 2), F.avg_pool2d(x, 3, 2, 1), F.adaptive_avg_pool2d(x, 3), F.adaptive_max_pool2d(x, 3),
            F.interpolate(x, scale_factor=1.5, mode="bilinear"), F.interpolate(x, size=5),
            F.pad(x, (1, 2, 3, 4), mode="reflect"), F.pixel_shuffle(x[:, :, :4], 1)]
    for y in outs:
        assert y.dtype == mg.float32
        y.sum().backward()
    assert x.grad.dtype == mg.float32


def test_pixel_shuffle_round_trips():
    x = mg.randn(2, 3, 8, 6)
    assert_close(F.pixel_shuffle(F.pixel_unshuffle(x, 2), 2), x, atol=0, rtol=0)


# ----------------------------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call,error,match", [
    (lambda: F.max_pool2d(mg.randn(8, 8), 2), RuntimeError, r"3D \(unbatched\) or 4D \(batched\).*\(8, 8\)"),
    (lambda: F.max_pool2d(mg.randn(1, 1, 4, 4), 3, padding=2), RuntimeError, "pad should be at most half"),
    (lambda: F.max_pool2d(mg.randn(1, 1, 2, 2), 3), RuntimeError, r"output size \(0x0\) is too small"),
    (lambda: F.max_pool2d(mg.randn(1, 1, 4, 4), 2, stride=0), RuntimeError, "stride must be greater than zero"),
    (lambda: F.max_pool2d(mg.randn(1, 1, 4, 4), 0), RuntimeError, "kernel_size must be greater than zero"),
    (lambda: F.max_pool2d(mg.ones(1, 1, 4, 4, dtype=mg.int64), 2), RuntimeError, "floating-point"),
    (lambda: F.avg_pool2d(mg.randn(1, 1, 4, 4), 2, divisor_override=0), RuntimeError, "divisor"),
    (lambda: F.avg_pool1d(mg.randn(1, 1, 4, 4), 2), RuntimeError, r"2D \(unbatched\) or 3D"),
    (lambda: F.adaptive_avg_pool2d(mg.randn(1, 1, 4, 4), (2, 2, 2)), ValueError, "2 elements"),
    (lambda: F.adaptive_max_pool2d(mg.randn(1, 1, 4, 4), 0), RuntimeError, "positive"),
    (lambda: F.interpolate(mg.randn(1, 1, 4, 4), size=2, scale_factor=2.0), ValueError, "only one of"),
    (lambda: F.interpolate(mg.randn(1, 1, 4, 4)), ValueError, "either size or scale_factor"),
    (lambda: F.interpolate(mg.randn(1, 1, 4, 4), size=2, align_corners=True), ValueError, "align_corners"),
    (lambda: F.interpolate(mg.randn(1, 1, 4), size=2, mode="bilinear"), NotImplementedError, "needs 4D input"),
    (lambda: F.interpolate(mg.randn(1, 1, 4, 4), size=(2, 2, 2)), ValueError, "same number of spatial"),
    (lambda: F.interpolate(mg.randn(1, 1, 4, 4), size=2, mode="bicubic"), NotImplementedError, "not supported"),
    (lambda: F.interpolate(mg.randn(1, 1, 4, 4), size=2, recompute_scale_factor=True), ValueError, "not meaningful"),
    (lambda: F.interpolate(mg.randn(1, 1, 4, 4), scale_factor=0.1), RuntimeError, r"greater than 0.*\(0, 0\)"),
    (lambda: F.pad(mg.randn(1, 1, 4, 4), (1, 1, 1)), RuntimeError, "divisible by 2"),
    (lambda: F.pad(mg.randn(1, 1, 4, 4), (4, 0), mode="reflect"), NotImplementedError, "padding size 2 is not"),
    (lambda: F.pad(mg.randn(1, 4, 4), (4, 0), mode="reflect"), RuntimeError, r"less than the corresponding.*\(4, 0\)"),
    (lambda: F.pad(mg.randn(1, 4, 4), (5, 0), mode="circular"), RuntimeError, "wrapping around more than once"),
    (lambda: F.pad(mg.randn(1, 4, 4), (1, 1), mode="reflect", value=1.0), RuntimeError, "doesn't take in a value"),
    (lambda: F.pad(mg.randn(1, 4, 4), (1, 1), mode="mirror"), NotImplementedError, "unrecognised padding mode"),
    (lambda: F.pad(mg.randn(1, 4, 4), (-3, -3)), RuntimeError, "negative output size"),
    (lambda: F.pixel_shuffle(mg.randn(1, 5, 4, 4), 2), RuntimeError, "divisible by the square of upscale_factor"),
    (lambda: F.pixel_unshuffle(mg.randn(1, 5, 4, 5), 2), RuntimeError, "divisible by downscale_factor"),
    (lambda: nn.ReflectionPad2d((1, 2))(mg.randn(1, 1, 4, 4)), RuntimeError, "2 integers|4 integers"),
])
def test_bad_inputs_raise_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


@needs_torch
@pytest.mark.parametrize("name,kwargs", [
    ("max_pool2d", {"kernel_size": 3, "stride": 2, "padding": 1}), ("avg_pool2d", {"kernel_size": 2}),
    ("adaptive_avg_pool2d", {"output_size": 4}), ("adaptive_max_pool2d", {"output_size": 4}),
    ("interpolate", {"scale_factor": 2, "mode": "bilinear"}), ("pad", {"pad": (1, 2, 0, 1), "mode": "reflect"}),
    ("pixel_shuffle", {"upscale_factor": 2}),
])
def test_empty_batch_works_like_torch(name, kwargs):
    x = mg.randn(0, 4, 6, 6, requires_grad=True)
    y = getattr(F, name)(x, **kwargs)
    assert y.shape == tuple(getattr(torch.nn.functional, name)(torch.zeros(0, 4, 6, 6), **kwargs).shape)
    y.sum().backward()
    assert x.grad.shape == (0, 4, 6, 6)
