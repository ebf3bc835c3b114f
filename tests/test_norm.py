"""Normalization layers: parity with torch over training steps, running statistics, train/eval,
state dicts, bad-input errors, and numerics (constant inputs, 1e4 offsets, float16).

The op-level checks (forward vs NumPy, gradients, double backward, torch) are the rows of
tests/op_specs/norm.py; this file tests the modules and what the generic checks cannot see.
"""

import numpy as np
import pytest
from conftest import torch

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.autograd.engine import topological_order
from minigrad.testing import assert_close

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed (pip install -e .[ref])")


def _randomize(theirs):
    """Random affine parameters on a torch module (ones/zeros would hide mistakes)."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.5 + 1.0)


def _pair(ours_cls, theirs_cls, *args, dtype="float64", **kwargs):
    theirs = theirs_cls(*args, **kwargs).to(getattr(torch, dtype))
    _randomize(theirs)
    ours = ours_cls(*args, **kwargs).to(dtype)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    return ours, theirs


def _step(ours, theirs, x, atol=1e-10, rtol=1e-10):
    """One forward and backward through both modules: outputs and all gradients equal."""
    rng = np.random.default_rng(x.size)
    xo = mg.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    yo, yt = ours(xo), theirs(xt)
    assert_close(yo, yt.detach(), atol=atol, rtol=rtol, check_dtype=False, msg="output: ")
    cot = rng.standard_normal(yo.shape).astype(x.dtype)
    (yo * mg.tensor(cot)).sum().backward()
    (yt * torch.tensor(cot)).sum().backward()
    assert_close(xo.grad, xt.grad, atol=atol * 10, rtol=rtol * 10, check_dtype=False, msg="input grad: ")
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert_close(p.grad, q.grad, atol=atol * 10, rtol=rtol * 10, check_dtype=False, msg=f"{name} grad: ")
        p.grad = None
        q.grad = None


def _buffers_equal(ours, theirs):
    theirs_state = theirs.state_dict()
    assert list(ours.state_dict()) == list(theirs_state)
    for name, value in ours.state_dict().items():
        expected = theirs_state[name]
        if name == "num_batches_tracked":
            assert value.dtype == mg.int64 and int(value.item()) == int(expected.item())
        else:
            assert_close(value, expected, atol=1e-12, rtol=1e-12, check_dtype=False, msg=f"{name}: ")


# ----------------------------------------------------------------------------------------------
# Batch norm
# ----------------------------------------------------------------------------------------------
BATCH_NORMS = [("BatchNorm1d", (6, 3)), ("BatchNorm1d", (5, 3, 4)), ("BatchNorm2d", (4, 3, 5, 2)),
               ("BatchNorm3d", (2, 3, 2, 3, 2))]


@needs_torch
@pytest.mark.parametrize("name,shape", BATCH_NORMS)
@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
def test_batch_norm_matches_torch_over_training_steps_then_eval(name, shape, momentum):
    ours, theirs = _pair(getattr(nn, name), getattr(torch.nn, name), shape[1], momentum=momentum)
    rng = np.random.default_rng(1)
    for step in range(4):
        x = rng.standard_normal(shape) * (step + 1) + step  # statistics that change from batch to batch
        _step(ours, theirs, x)
        _buffers_equal(ours, theirs)
    ours.eval()
    theirs.eval()
    _step(ours, theirs, rng.standard_normal(shape))
    _buffers_equal(ours, theirs)  # eval never touches the running statistics


@needs_torch
@pytest.mark.parametrize("affine,bias", [(False, True), (True, False)])
def test_batch_norm_without_affine_or_bias_matches_torch(affine, bias):
    ours, theirs = _pair(nn.BatchNorm2d, torch.nn.BatchNorm2d, 3, affine=affine, bias=bias)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = np.random.default_rng(2).standard_normal((3, 3, 4, 4))
    _step(ours, theirs, x)
    ours.eval()
    theirs.eval()
    _step(ours, theirs, x)


@needs_torch
def test_batch_norm_without_running_stats_uses_batch_stats_in_eval_too():
    ours, theirs = _pair(nn.BatchNorm1d, torch.nn.BatchNorm1d, 4, track_running_stats=False)
    assert ours.running_mean is None and ours.running_var is None and ours.num_batches_tracked is None
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight", "bias"]
    rng = np.random.default_rng(3)
    _step(ours, theirs, rng.standard_normal((8, 4)) + 3.0)
    ours.eval()
    theirs.eval()
    x = rng.standard_normal((8, 4)) * 2 - 1
    _step(ours, theirs, x)
    out = ours(mg.tensor(x))  # normalized with this batch's statistics: mean 0 per channel
    assert_close(out.mean(0), (ours.bias * 1.0).detach(), atol=1e-12, rtol=0)


@needs_torch
def test_batch_norm_float32_matches_torch_and_stays_float32():
    ours, theirs = _pair(nn.BatchNorm2d, torch.nn.BatchNorm2d, 5, dtype="float32")
    rng = np.random.default_rng(4)
    for _ in range(3):
        _step(ours, theirs, rng.standard_normal((4, 5, 6, 6)).astype(np.float32), atol=2e-5, rtol=1e-4)
    x = mg.tensor(rng.standard_normal((4, 5, 6, 6)).astype(np.float32), requires_grad=True)
    y = ours(x)
    y.sum().backward()
    assert y.dtype == mg.float32 and x.grad.dtype == mg.float32 and ours.weight.grad.dtype == mg.float32
    assert ours.running_mean.dtype == mg.float32 and ours.running_var.dtype == mg.float32


@needs_torch
def test_torch_state_dict_loads_strictly_and_round_trips():
    theirs = torch.nn.BatchNorm2d(3)
    _randomize(theirs)
    theirs(torch.randn(4, 3, 2, 2))  # running statistics and num_batches_tracked != defaults
    ours = nn.BatchNorm2d(3)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    _buffers_equal(ours, theirs)
    back = torch.nn.BatchNorm2d(3)
    back.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in ours.state_dict().items()}, strict=True)
    _buffers_equal(ours, back)


def test_batch_norm_module_defaults_and_repr():
    bn = nn.BatchNorm2d(4)
    assert bn.training and bn.eps == 1e-5 and bn.momentum == 0.1 and bn.affine and bn.track_running_stats
    np.testing.assert_array_equal(bn.weight.data, np.ones(4, np.float32))
    np.testing.assert_array_equal(bn.bias.data, np.zeros(4, np.float32))
    np.testing.assert_array_equal(bn.running_var.data, np.ones(4, np.float32))
    assert bn.num_batches_tracked.dtype == mg.int64 and bn.num_batches_tracked.shape == ()
    assert [n for n, _ in bn.named_buffers()] == ["running_mean", "running_var", "num_batches_tracked"]
    assert repr(bn) == ("BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, bias=True, "
                        "track_running_stats=True)")


def test_functional_batch_norm_updates_running_stats_in_place_with_unbiased_variance():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 2, 3)) * 3 + 1
    mean, var = mg.zeros(2, dtype=mg.float64), mg.ones(2, dtype=mg.float64)
    version = mean._vc.value
    with mg.no_grad():  # the update is not autograd's business: it happens in no_grad too
        F.batch_norm(mg.tensor(x), mean, var, training=True, momentum=0.25)
    values = x.transpose(1, 0, 2).reshape(2, -1)
    np.testing.assert_allclose(mean.data, 0.25 * values.mean(1), rtol=1e-12)
    np.testing.assert_allclose(var.data, 0.75 + 0.25 * values.var(1, ddof=1), rtol=1e-12)
    assert mean._vc.value > version  # an in-place write, visible to autograd's version check


def test_batch_norm_eval_uses_running_stats():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 2, 4))
    mean, var = np.array([0.5, -1.0]), np.array([2.0, 0.5])
    w, b = np.array([1.5, -0.5]), np.array([0.1, 0.2])
    y = F.batch_norm(mg.tensor(x), mg.tensor(mean), mg.tensor(var), mg.tensor(w), mg.tensor(b), eps=1e-3)
    expected = (x - mean[:, None]) / np.sqrt(var[:, None] + 1e-3) * w[:, None] + b[:, None]
    np.testing.assert_allclose(y.data, expected, rtol=1e-12)


# ----------------------------------------------------------------------------------------------
# Layer, group, RMS, instance norm
# ----------------------------------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("kwargs", [{}, {"elementwise_affine": False}, {"bias": False}, {"eps": 1e-2}])
@pytest.mark.parametrize("normalized_shape,shape", [(8, (4, 8)), ((3, 4), (2, 5, 3, 4)), ([6], (6,))])
def test_layer_norm_matches_torch(normalized_shape, shape, kwargs):
    ours, theirs = _pair(nn.LayerNorm, torch.nn.LayerNorm, normalized_shape, **kwargs)
    assert repr(ours) == repr(theirs)
    _step(ours, theirs, np.random.default_rng(7).standard_normal(shape) * 2 + 1)


@needs_torch
@pytest.mark.parametrize("groups,channels,shape", [(1, 4, (3, 4)), (2, 6, (2, 6, 5)), (3, 6, (2, 6, 3, 2)),
                                                    (4, 4, (2, 4, 2, 2, 2))])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_matches_torch(groups, channels, shape, affine):
    ours, theirs = _pair(nn.GroupNorm, torch.nn.GroupNorm, groups, channels, affine=affine)
    assert repr(ours) == repr(theirs)
    _step(ours, theirs, np.random.default_rng(8).standard_normal(shape) - 2)


@needs_torch
@pytest.mark.parametrize("eps", [None, 1e-6, 0.1])
@pytest.mark.parametrize("kwargs", [{}, {"elementwise_affine": False}])
def test_rms_norm_matches_torch(eps, kwargs):
    ours, theirs = _pair(nn.RMSNorm, torch.nn.RMSNorm, (3, 5), eps=eps, **kwargs)
    assert repr(ours) == repr(theirs)
    _step(ours, theirs, np.random.default_rng(9).standard_normal((2, 4, 3, 5)))


@needs_torch
@pytest.mark.parametrize("name,shape", [("InstanceNorm1d", (3, 4, 6)), ("InstanceNorm1d", (4, 6)),
                                        ("InstanceNorm2d", (2, 4, 3, 5)), ("InstanceNorm2d", (4, 3, 5)),
                                        ("InstanceNorm3d", (2, 4, 2, 3, 2))])
@pytest.mark.parametrize("affine,track", [(False, False), (True, False), (True, True), (False, True)])
def test_instance_norm_matches_torch_in_train_and_eval(name, shape, affine, track):
    ours, theirs = _pair(getattr(nn, name), getattr(torch.nn, name), 4, affine=affine, track_running_stats=track)
    assert repr(ours) == repr(theirs)
    rng = np.random.default_rng(10)
    for step in range(3):
        _step(ours, theirs, rng.standard_normal(shape) * (step + 1) + step)
        _buffers_equal(ours, theirs)
    ours.eval()
    theirs.eval()
    _step(ours, theirs, rng.standard_normal(shape))


@needs_torch
def test_local_response_norm_module_matches_torch():
    ours, theirs = _pair(nn.LocalResponseNorm, torch.nn.LocalResponseNorm, 3, alpha=0.5, beta=0.6, k=1.5)
    assert repr(ours) == repr(theirs)
    _step(ours, theirs, np.random.default_rng(11).standard_normal((2, 5, 3, 3)))


def _torch_composite(fn, x, w, b):
    """The norms written with torch's elementary ops: exact at every order of differentiation.
    (torch's native layer_norm/batch_norm get the third derivative wrong; finite differences agree
    with this and with minigrad.)"""
    if fn == "layer_norm":
        view, axes, shape, w, b = x, (2,), (3,), w[:3], b[:3]
    elif fn == "batch_norm":
        view, axes, shape = x, (0, 2), (1, 6, 1)
    else:
        view, axes, shape = x.reshape(4, 3, -1), (2,), (1, 6, 1)
    mean = view.mean(axes, keepdim=True)
    y = ((view - mean) / (view.var(axes, unbiased=False, keepdim=True) + 1e-5).sqrt()).reshape(x.shape)
    return y * w.reshape(shape) + b.reshape(shape)


@needs_torch
@pytest.mark.parametrize("fn", ["layer_norm", "batch_norm", "group_norm"])
def test_second_and_third_derivatives_match_torch(fn):
    rng = np.random.default_rng(12)
    x, w, b = rng.standard_normal((4, 6, 3)), rng.standard_normal(6), rng.standard_normal(6)
    calls = {"layer_norm": lambda lib, x, w, b: lib.layer_norm(x, (3,), w[:3], b[:3]),
             "batch_norm": lambda lib, x, w, b: lib.batch_norm(x, None, None, w, b, True),
             "group_norm": lambda lib, x, w, b: lib.group_norm(x, 3, w, b)}
    cot = rng.standard_normal(x.shape)

    def derivatives(call, grad, make, order=3):
        xs, ws, bs = make(x), make(w), make(b)
        y = call(xs, ws, bs)
        gx, gw = grad([(y * make(cot, False)).sum()], [xs, ws], create_graph=True)
        second = grad([(gx * gx).sum() + (gw * gx.sum((0, 2))).sum()], [xs, ws], create_graph=order > 2)
        if order == 2:
            return [t.detach() for t in (gx, gw, *second)]
        third = grad([(second[0] ** 2).sum() + second[1].sum()], [xs, ws])
        return [t.detach() for t in (gx, gw, *second, *third)]

    def ours_call(*args):
        return calls[fn](F, *args)

    ours = derivatives(ours_call, mg.grad, lambda a, g=True: mg.tensor(a, requires_grad=g))
    make_torch = lambda a, g=True: torch.tensor(a, requires_grad=g)  # noqa: E731
    exact = derivatives(lambda *args: _torch_composite(fn, *args), torch.autograd.grad, make_torch)
    native = derivatives(lambda *args: calls[fn](torch.nn.functional, *args), torch.autograd.grad, make_torch, 2)
    for i, (a, e) in enumerate(zip(ours, exact)):
        assert_close(a, e, atol=1e-9, rtol=1e-8, check_dtype=False, msg=f"derivative {i}: ")
    for i, (a, e) in enumerate(zip(ours, native)):
        assert_close(a, e, atol=1e-9, rtol=1e-8, check_dtype=False, msg=f"derivative {i} vs native torch: ")


def test_each_norm_is_one_op():
    x = mg.randn(4, 6, 5, requires_grad=True)
    w, b = mg.ones(6, requires_grad=True), mg.zeros(6, requires_grad=True)
    outs = [F.layer_norm(x, (6, 5)), F.batch_norm(x, None, None, w, b, True), F.group_norm(x, 2, w, b),
            F.instance_norm(x, weight=w, bias=b), F.rms_norm(x, (5,))]
    names = ["LayerNorm", "BatchNorm", "GroupNorm", "InstanceNorm", "RMSNorm"]
    for y, name in zip(outs, names):
        assert [n.name() for n in topological_order([y.grad_fn])] == [name]
        (gx,) = mg.grad([y.sum()], [x], create_graph=True)
        assert gx.grad_fn.name() == name + "Grad"  # the backward is one fused op too


# ----------------------------------------------------------------------------------------------
# Numerics
# ----------------------------------------------------------------------------------------------
_ALL = {
    "layer_norm": lambda x, w, b: F.layer_norm(x, x.shape[1:], None, None) * 1.0 + F.layer_norm(x, x.shape[-1:], w, b),
    "batch_norm": lambda x, w, b: F.batch_norm(x, None, None, w[: x.shape[1]], b[: x.shape[1]], True),
    "group_norm": lambda x, w, b: F.group_norm(x, 2, w[: x.shape[1]], b[: x.shape[1]]),
    "instance_norm": lambda x, w, b: F.instance_norm(x, weight=w[: x.shape[1]], bias=b[: x.shape[1]]),
    "rms_norm": lambda x, w, b: F.rms_norm(x, x.shape[-1:], w),
}


def _affine(n, dtype):
    rng = np.random.default_rng(13)
    return (mg.tensor(rng.standard_normal(n).astype(dtype), requires_grad=True),
            mg.tensor(rng.standard_normal(n).astype(dtype), requires_grad=True))


@pytest.mark.parametrize("name", list(_ALL))
@pytest.mark.parametrize("value", [0.0, 3.0, -1e4])
def test_constant_input_gives_finite_output_and_gradients(name, value):
    w, b = _affine(4, np.float32)
    x = mg.full((3, 4, 4), value, requires_grad=True)
    y = _ALL[name](x, w, b)
    (y * mg.randn(*y.shape)).sum().backward()
    for t in (y, x.grad, w.grad) + ((b.grad,) if name != "rms_norm" else ()):
        assert np.isfinite(t.data).all(), f"{name}: non-finite values on a constant input"
    if name in ("batch_norm", "group_norm", "instance_norm"):  # x - mean is exactly 0: y is the bias
        np.testing.assert_allclose(y.data, np.broadcast_to(b.data[:, None], y.shape), atol=1e-6)
    if name == "layer_norm":
        np.testing.assert_allclose(y.data, np.broadcast_to(b.data, y.shape), atol=1e-6)


def _reference(x, axes, eps=1e-5):
    x = x.astype(np.float64)
    mean = x.mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(((x - mean) ** 2).mean(axis=axes, keepdims=True) + eps)


@pytest.mark.parametrize("offset", [1e4, -3e4])
def test_large_offsets_use_a_centred_variance(offset):
    rng = np.random.default_rng(14)
    x = (rng.standard_normal((8, 64)) + offset).astype(np.float32)
    y = F.layer_norm(mg.tensor(x), (64,))
    # float32 holds 1e4 + x to ~1e-3, so expect about that; E[x^2] - E[x]^2 would be off by ~1
    np.testing.assert_allclose(y.data, _reference(x, (1,)), atol=2e-3)
    xb = (rng.standard_normal((16, 3, 5, 5)) + offset).astype(np.float32)
    yb = F.batch_norm(mg.tensor(xb), None, None, training=True)
    np.testing.assert_allclose(yb.data, _reference(xb, (0, 2, 3)), atol=2e-3)


@pytest.mark.parametrize("param_dtype", [np.float16, np.float32])
def test_float16_input_computes_statistics_in_float32(param_dtype):
    rng = np.random.default_rng(15)
    x = (rng.standard_normal((6, 4, 32)) * 50 + 300).astype(np.float16)  # sum of squares overflows float16
    w, b = _affine(4, param_dtype)
    checks = {
        "batch_norm": (lambda t: F.batch_norm(t, None, None, w, b, True), (0, 2), (1, 4, 1)),
        "group_norm": (lambda t: F.group_norm(t, 2, w, b), None, (1, 4, 1)),
        "instance_norm": (lambda t: F.instance_norm(t, weight=w, bias=b), (2,), (1, 4, 1)),
    }
    for name, (fn, axes, shape) in checks.items():
        xt = mg.tensor(x, requires_grad=True)
        y = fn(xt)
        assert y.dtype == mg.float16, name
        if axes is None:
            expected = _reference(x.reshape(6, 2, -1), (2,)).reshape(x.shape)
        else:
            expected = _reference(x, axes)
        expected = expected * w.data.astype(np.float64).reshape(shape) + b.data.astype(np.float64).reshape(shape)
        np.testing.assert_allclose(y.data.astype(np.float64), expected, atol=1e-2, rtol=1e-2, err_msg=name)
        y.sum().backward()
        assert xt.grad.dtype == mg.float16 and np.isfinite(xt.grad.data).all(), name
        assert w.grad.dtype == w.dtype and np.isfinite(w.grad.data).all(), name
        w.grad = b.grad = None
    xl = mg.tensor(x.reshape(24, 32), requires_grad=True)
    wl, bl = _affine(32, param_dtype)
    y = F.layer_norm(xl, (32,), wl, bl)
    expected = _reference(x.reshape(24, 32), (1,)) * wl.data.astype(np.float64) + bl.data.astype(np.float64)
    np.testing.assert_allclose(y.data.astype(np.float64), expected, atol=1e-2, rtol=1e-2)
    y.sum().backward()
    assert xl.grad.dtype == mg.float16 and np.isfinite(xl.grad.data).all()


@needs_torch
def test_float16_gradients_match_torch():
    rng = np.random.default_rng(16)
    x = (rng.standard_normal((16, 48)) * 4 + 20).astype(np.float16)
    w = rng.standard_normal(48).astype(np.float16)
    cot = rng.standard_normal((16, 48)).astype(np.float16)
    xo, wo = mg.tensor(x, requires_grad=True), mg.tensor(w, requires_grad=True)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    yo, yt = F.layer_norm(xo, (48,), wo), torch.nn.functional.layer_norm(xt, (48,), wt)
    (yo * mg.tensor(cot)).sum().backward()
    (yt * torch.tensor(cot)).sum().backward()
    assert_close(yo, yt.detach(), atol=1e-2, rtol=1e-2, check_dtype=False)
    assert_close(xo.grad, xt.grad, atol=2e-2, rtol=2e-2, check_dtype=False)
    assert_close(wo.grad, wt.grad, atol=5e-2, rtol=2e-2, check_dtype=False)


def test_rms_norm_default_eps_is_the_computation_dtypes_epsilon():
    x = np.full((1, 4), 1e-4)
    for dtype, eps in [(np.float64, np.finfo(np.float64).eps), (np.float32, np.finfo(np.float32).eps),
                       (np.float16, np.finfo(np.float32).eps)]:  # float16 computes in float32
        y = F.rms_norm(mg.tensor(x.astype(dtype)), 4)
        expected = 1e-4 / np.sqrt(1e-8 + eps)
        np.testing.assert_allclose(y.data.astype(np.float64), expected, rtol=2e-3)


# ----------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------
def test_batch_norm_rank_and_channel_errors_name_the_shapes():
    bn = nn.BatchNorm2d(4)
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input"):
        bn(mg.randn(2, 4, 5))
    with pytest.raises(RuntimeError, match=r"4 channels.*\(2, 3, 5, 5\).*3 channels"):
        bn(mg.randn(2, 3, 5, 5))
    with pytest.raises(ValueError, match=r"expected 2D or 3D input"):
        nn.BatchNorm1d(4)(mg.randn(2, 4, 5, 5))
    with pytest.raises(RuntimeError, match=r"running_mean of shape \(4,\).*shape \(3,\)"):
        F.batch_norm(mg.randn(2, 4), mg.zeros(3), mg.ones(3), training=True)


def test_batch_norm_single_value_per_channel_refused_in_training_before_any_update():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        bn(mg.randn(1, 3))
    assert int(bn.num_batches_tracked.item()) == 0
    np.testing.assert_array_equal(bn.running_mean.data, np.zeros(3, np.float32))
    bn.eval()
    assert bn(mg.randn(1, 3)).shape == (1, 3)  # eval uses the running statistics: one value is fine
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        F.batch_norm(mg.randn(1, 3, 1), None, None, training=True)


def test_batch_norm_functional_argument_errors():
    x = mg.randn(4, 3)
    with pytest.raises(RuntimeError, match="running_mean and running_var must be defined"):
        F.batch_norm(x, None, None, training=False)
    with pytest.raises(TypeError, match="momentum must be a float"):
        F.batch_norm(x, mg.zeros(3), mg.ones(3), training=True, momentum=None)
    with pytest.raises(TypeError, match="floating-point input"):
        F.batch_norm(mg.tensor([[1, 2], [3, 4]]), None, None, training=True)
    with pytest.raises(RuntimeError, match="mixed dtypes: input is .*float32.* weight is .*float64"):
        F.batch_norm(x, None, None, mg.ones(3, dtype=mg.float64), training=True)


def test_layer_norm_shape_errors_show_both_shapes():
    with pytest.raises(RuntimeError, match=r"normalized_shape=\[5\].*\[\*, 5\].*\(2, 3, 4\)"):
        F.layer_norm(mg.randn(2, 3, 4), (5,))
    with pytest.raises(RuntimeError, match=r"normalized_shape=\[3, 5\].*\(2, 4\)"):
        nn.LayerNorm([3, 5])(mg.randn(2, 4))
    with pytest.raises(RuntimeError, match=r"weight of shape \(4,\).*weight of shape \(3,\)"):
        F.layer_norm(mg.randn(2, 4), (4,), mg.ones(3))
    with pytest.raises(RuntimeError, match="at least 1-dimensional"):
        F.layer_norm(mg.randn(2, 4), ())
    with pytest.raises(RuntimeError, match=r"normalized_shape=\[4\].*\(2, 3\)"):
        F.rms_norm(mg.randn(2, 3), 4)


def test_group_norm_divisibility_errors():
    with pytest.raises(ValueError, match=r"num_channels \(6\) must be divisible by num_groups \(4\)"):
        nn.GroupNorm(4, 6)
    with pytest.raises(RuntimeError, match=r"divisible by num_groups.*\(2, 6, 3\).*num_groups=4"):
        F.group_norm(mg.randn(2, 6, 3), 4)
    with pytest.raises(RuntimeError, match=r"6 channels.*\(2, 4, 3\)"):
        nn.GroupNorm(2, 6)(mg.randn(2, 4, 3))
    with pytest.raises(ValueError, match="num_groups must be a positive int"):
        F.group_norm(mg.randn(2, 6, 3), 0)


def test_instance_norm_errors():
    with pytest.raises(ValueError, match=r"expected 3D \(unbatched\) or 4D \(batched\) input"):
        nn.InstanceNorm2d(3)(mg.randn(3, 4))
    with pytest.raises(ValueError, match=r"4 channels.*\(2, 3, 5\)"):
        nn.InstanceNorm1d(4, affine=True)(mg.randn(2, 3, 5))
    with pytest.raises(ValueError, match="Expected more than 1 spatial element when training"):
        F.instance_norm(mg.randn(2, 3, 1))
    with pytest.warns(UserWarning, match="does not match num_features"):
        nn.InstanceNorm1d(4)(mg.randn(2, 3, 5))


def test_errors_leave_running_stats_untouched():
    bn = nn.BatchNorm2d(3)
    before = [b.data.copy() for b in bn.buffers()]
    for bad in (mg.randn(2, 4, 3, 3), mg.randn(2, 3, 3), mg.tensor(np.zeros((2, 3, 2, 2), np.int64))):
        with pytest.raises((RuntimeError, ValueError, TypeError)):
            bn(bad)
    for b, old in zip(bn.buffers(), before):
        np.testing.assert_array_equal(b.data, old)
