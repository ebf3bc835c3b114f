"""Losses and the softmax family: numerics at the extremes, torch parity of the modules and of the
option combinations, double backward against torch, and bad-input errors.

The generic op checks (forward vs NumPy, gradients vs finite differences, double backward) are
the rows of tests/op_specs/loss.py and tests/op_specs/softmax.py; this file tests what they cannot.
"""

import warnings

import numpy as np
import pytest
from conftest import torch

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.testing import assert_close

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed (pip install -e .[ref])")


def _run(fn, *arrays, grad=(0,)):
    """Output and input gradients (for a random cotangent) of fn on minigrad tensors made from arrays."""
    xs = [mg.tensor(a, requires_grad=i in grad) if isinstance(a, np.ndarray) else a for i, a in enumerate(arrays)]
    out = fn(*xs)
    cot = np.random.default_rng(7).standard_normal(out.shape).astype(out.dtype.numpy)
    grads = mg.grad([out], [xs[i] for i in grad], [mg.tensor(cot)])
    return out, grads, cot


def _run_torch(fn, *arrays, cot, grad=(0,)):
    xs = [torch.tensor(a, requires_grad=i in grad) if isinstance(a, np.ndarray) else a for i, a in enumerate(arrays)]
    out = fn(*xs)
    grads = torch.autograd.grad([out], [xs[i] for i in grad], [torch.tensor(cot)])
    return out, grads


def _logits(shape, scale, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, shape) * scale
    x.reshape(-1)[:: 3] = scale  # many ties at the extreme
    x.reshape(-1)[1:: 7] = -scale
    return x.astype(dtype)


# ----------------------------------------------------------------------------------------------
# cross_entropy at the extremes
# ----------------------------------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_cross_entropy_at_logits_1e4_is_finite_and_matches_torch(reduction, label_smoothing):
    x = _logits((16, 7), 1e4, np.float32)
    t = np.random.default_rng(1).integers(0, 7, 16)
    t[3] = -100
    w = np.linspace(0.5, 2.0, 7).astype(np.float32)

    def ours(a):
        return F.cross_entropy(a, mg.tensor(t), weight=mg.tensor(w), reduction=reduction,
                               label_smoothing=label_smoothing)

    def theirs(a):
        return torch.nn.functional.cross_entropy(a, torch.tensor(t), weight=torch.tensor(w), reduction=reduction,
                                                 label_smoothing=label_smoothing)

    out, (g,), cot = _run(ours, x)
    assert out.dtype == mg.float32 and g.dtype == mg.float32
    assert np.isfinite(out.detach().numpy()).all() and np.isfinite(g.numpy()).all()
    out_t, (g_t,) = _run_torch(theirs, x, cot=cot)
    assert_close(out, out_t, rtol=1e-5, atol=1e-2)
    assert_close(g, g_t, rtol=1e-5, atol=1e-6)


@needs_torch
@pytest.mark.parametrize("offsets", [[0.0, 10.0, 25.0, -30.0], [0.0, 50.0, -80.0, 3.0], [0.0, 1e4, -1e4, 0.5]])
def test_cross_entropy_rows_far_apart_match_torch_in_float32(offsets):
    # rows whose logits sit at very different levels: the shift that keeps exp in range must be per row
    # where one shared shift would underflow a row's sum
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((4, 6)) + np.array(offsets)[:, None]).astype(np.float32)
    t = rng.integers(0, 6, 4)
    out, (g,), cot = _run(lambda a: F.cross_entropy(a, mg.tensor(t), reduction="none"), x)
    out_t, (g_t,) = _run_torch(lambda a: torch.nn.functional.cross_entropy(a, torch.tensor(t), reduction="none"),
                               x, cot=cot)
    assert_close(out, out_t, rtol=1e-6, atol=1e-6)
    assert_close(g, g_t, rtol=1e-5, atol=1e-7)


@needs_torch
@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
def test_cross_entropy_float16_is_finite_and_matches_torch_in_float32(label_smoothing):
    # computed in float32 and rounded once: compare with torch's float32 result on the same
    # (float16-representable) inputs; torch's own float16 kernel overflows to inf with smoothing here
    x = _logits((12, 9), 1e4, np.float16)
    t = np.random.default_rng(2).integers(0, 9, 12)
    out, (g,), cot = _run(lambda a: F.cross_entropy(a, mg.tensor(t), label_smoothing=label_smoothing), x)
    assert out.dtype == mg.float16 and g.dtype == mg.float16
    assert np.isfinite(out.detach().numpy()).all() and np.isfinite(g.numpy()).all()
    out_t, (g_t,) = _run_torch(
        lambda a: torch.nn.functional.cross_entropy(a, torch.tensor(t), label_smoothing=label_smoothing),
        x.astype(np.float32), cot=cot.astype(np.float32))
    assert_close(out, out_t, rtol=1e-3, atol=0)
    assert_close(g, g_t, rtol=1e-3, atol=1e-4)


@needs_torch
def test_cross_entropy_float16_moderate_logits_matches_torch_float16():
    x = np.random.default_rng(3).standard_normal((32, 10)).astype(np.float16) * 4
    t = np.random.default_rng(4).integers(0, 10, 32)
    out, (g,), cot = _run(lambda a: F.cross_entropy(a, mg.tensor(t)), x)
    out_t, (g_t,) = _run_torch(lambda a: torch.nn.functional.cross_entropy(a, torch.tensor(t)), x, cot=cot)
    assert_close(out, out_t, rtol=2e-3, atol=1e-3, check_dtype=False)
    assert_close(g, g_t, rtol=2e-3, atol=1e-4, check_dtype=False)


@needs_torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_label_smoothing_weight_ignore_index_together_match_torch(reduction):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 6, 3, 2))
    t = rng.integers(0, 6, (4, 3, 2))
    t[0, 0, 0] = t[2, 1, 1] = 2  # ignore_index is a real class here
    w = rng.uniform(0.2, 3.0, 6)
    kwargs = dict(ignore_index=2, reduction=reduction, label_smoothing=0.25)
    out, (g,), cot = _run(lambda a: F.cross_entropy(a, mg.tensor(t), weight=mg.tensor(w), **kwargs), x)
    out_t, (g_t,) = _run_torch(
        lambda a: torch.nn.functional.cross_entropy(a, torch.tensor(t), weight=torch.tensor(w), **kwargs), x, cot=cot)
    assert_close(out, out_t, rtol=1e-12, atol=1e-12)
    assert_close(g, g_t, rtol=1e-12, atol=1e-12)


@needs_torch
def test_probability_targets_with_weight_and_smoothing_match_torch():
    rng = np.random.default_rng(6)
    x, q = rng.standard_normal((5, 4, 3)), rng.dirichlet(np.ones(4), (5, 3)).transpose(0, 2, 1).copy()
    w = rng.uniform(0.5, 2.0, 4)
    kwargs = dict(label_smoothing=0.1)
    out, grads, cot = _run(lambda a, b: F.cross_entropy(a, b, weight=mg.tensor(w), **kwargs), x, q, grad=(0, 1))
    out_t, grads_t = _run_torch(lambda a, b: torch.nn.functional.cross_entropy(a, b, weight=torch.tensor(w), **kwargs),
                                x, q, cot=cot, grad=(0, 1))
    assert_close(out, out_t, rtol=1e-12, atol=1e-12)
    for a, b in zip(grads, grads_t):
        assert_close(a, b, rtol=1e-12, atol=1e-12)


@needs_torch
@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
def test_cross_entropy_double_backward_matches_torch(label_smoothing):
    rng = np.random.default_rng(8)
    x, t, w = rng.standard_normal((5, 4)), rng.integers(0, 4, 5), rng.uniform(0.5, 2, 4)
    v = rng.standard_normal((5, 4))
    a = mg.tensor(x, requires_grad=True)
    (g,) = mg.grad([F.cross_entropy(a, mg.tensor(t), weight=mg.tensor(w), label_smoothing=label_smoothing)], [a],
                   create_graph=True)
    (hv,) = mg.grad([(g * mg.tensor(v)).sum()], [a])
    b = torch.tensor(x, requires_grad=True)
    loss_t = torch.nn.functional.cross_entropy(b, torch.tensor(t), weight=torch.tensor(w),
                                               label_smoothing=label_smoothing)
    (g_t,) = torch.autograd.grad([loss_t], [b], create_graph=True)
    (hv_t,) = torch.autograd.grad([(g_t * torch.tensor(v)).sum()], [b])
    assert_close(hv, hv_t, rtol=1e-10, atol=1e-12)


def test_nll_of_log_softmax_equals_cross_entropy():
    rng = np.random.default_rng(9)
    x = mg.tensor(rng.standard_normal((6, 5)), requires_grad=True)
    t = mg.tensor(rng.integers(0, 5, 6))
    a = F.cross_entropy(x, t)
    (ga,) = mg.grad([a], [x])
    b = F.nll_loss(F.log_softmax(x, 1), t)
    (gb,) = mg.grad([b], [x])
    assert_close(a, b, rtol=1e-12, atol=1e-12)
    assert_close(ga, gb, rtol=1e-12, atol=1e-12)


def test_mean_over_only_ignored_targets_is_nan_like_torch():
    x = mg.randn(3, 4, requires_grad=True)
    out = F.cross_entropy(x, mg.tensor([-100, -100, -100]))
    assert np.isnan(out.item())
    out.backward()
    assert np.isnan(x.grad.numpy()).all()  # 0 * (1 / 0), as torch
    assert F.cross_entropy(x, mg.tensor([-100, -100, -100]), reduction="sum").item() == 0.0


# ----------------------------------------------------------------------------------------------
# errors
# ----------------------------------------------------------------------------------------------
def test_out_of_range_class_index_names_value_and_class_count():
    x = mg.randn(3, 5, requires_grad=True)
    with pytest.raises(IndexError, match=r"target 7 .*5 classes"):
        F.cross_entropy(x, mg.tensor([0, 7, 1]))
    with pytest.raises(IndexError, match=r"target -1 .*5 classes"):
        F.nll_loss(x, mg.tensor([0, -1, 1]))
    assert F.cross_entropy(x, mg.tensor([0, -100, 1])).shape == ()  # ignore_index is fine
    assert x.grad is None


def test_target_shape_and_dtype_errors_name_the_shapes():
    x = mg.randn(4, 3)
    with pytest.raises(ValueError, match=r"batch_size \(4\).*\(3\)"):
        F.cross_entropy(x, mg.tensor([0, 1, 2]))
    with pytest.raises(RuntimeError, match=r"\(2, 5\).*\(2, 3, 5\).*\(2, 4\)"):
        F.cross_entropy(mg.randn(2, 3, 5), mg.zeros(2, 4, dtype=mg.int64))
    with pytest.raises(RuntimeError, match=r"probabilities.*\(4, 3\).*\(4,\).*integer"):
        F.cross_entropy(x, mg.tensor([0.0, 1.0, 2.0, 1.0]))
    with pytest.raises(TypeError, match="integer"):
        F.nll_loss(x, mg.tensor([True, False, True, True]))
    with pytest.raises(RuntimeError, match=r"weight.*3 classes.*\(4,\)"):
        F.cross_entropy(x, mg.tensor([0, 1, 2, 1]), weight=mg.ones(4))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, mg.tensor([0, 1, 2, 1]), reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, mg.tensor([0, 1, 2, 1]), label_smoothing=1.5)
    with pytest.raises(RuntimeError, match="0-d"):
        F.cross_entropy(mg.tensor(1.0), mg.tensor(0))


def test_binary_cross_entropy_errors():
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(mg.tensor([0.5, 1.5]), mg.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        F.binary_cross_entropy(mg.tensor([0.5, 0.2]), mg.tensor([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"\(2, 1\).*\(2,\)"):
        F.binary_cross_entropy_with_logits(mg.tensor([0.5, 0.2]), mg.tensor([[0.0], [1.0]]))
    with pytest.raises(RuntimeError, match="pos_weight"):
        F.binary_cross_entropy_with_logits(mg.zeros(2, 3), mg.zeros(2, 3), pos_weight=mg.ones(4))


def test_weight_that_requires_grad_is_refused_clearly():
    w = mg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="derivative for 'weight'"):
        F.cross_entropy(mg.randn(2, 3), mg.tensor([0, 1]), weight=w)
    with mg.no_grad():
        F.cross_entropy(mg.randn(2, 3), mg.tensor([0, 1]), weight=w)


def test_mse_warns_when_broadcasting_target():
    with pytest.warns(UserWarning, match="broadcast"):
        F.mse_loss(mg.zeros(3, 1), mg.zeros(3))
    with pytest.raises(RuntimeError, match=r"\(3, 2\).*\(4,\)"):
        F.mse_loss(mg.zeros(3, 2), mg.zeros(4))


# ----------------------------------------------------------------------------------------------
# numerics of the binary and regression losses
# ----------------------------------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_bce_with_logits_is_finite_at_extreme_logits(dtype):
    x = np.array([-1e4, -100.0, -20.0, 0.0, 20.0, 100.0, 1e4], dtype=dtype)
    t = np.array([1.0, 0.0, 1.0, 0.5, 0.0, 1.0, 0.0], dtype=dtype)
    pw = np.array(2.0, dtype=dtype)
    out, (g,), cot = _run(lambda a: F.binary_cross_entropy_with_logits(a, mg.tensor(t), pos_weight=mg.tensor(pw),
                                                                       reduction="none"), x)
    assert out.dtype.numpy == dtype and np.isfinite(out.detach().numpy()).all() and np.isfinite(g.numpy()).all()
    out_t, (g_t,) = _run_torch(
        lambda a: torch.nn.functional.binary_cross_entropy_with_logits(a, torch.tensor(t), pos_weight=torch.tensor(pw),
                                                                       reduction="none"),
        x.astype(np.float32), cot=cot.astype(np.float32))
    assert_close(out, out_t, rtol=1e-3, atol=1e-3)
    assert_close(g, g_t, rtol=1e-3, atol=1e-3)


@needs_torch
def test_binary_cross_entropy_clamps_log_at_0_and_1_like_torch():
    x = np.array([0.0, 1.0, 0.0, 1.0, 0.3])
    t = np.array([1.0, 0.0, 0.0, 1.0, 0.2])
    out = F.binary_cross_entropy(mg.tensor(x), mg.tensor(t), reduction="none")
    theirs = torch.nn.functional.binary_cross_entropy(torch.tensor(x), torch.tensor(t), reduction="none")
    assert_close(out, theirs, rtol=1e-12, atol=1e-12)
    assert out.detach().numpy()[0] == 100.0


# ----------------------------------------------------------------------------------------------
# modules against torch
# ----------------------------------------------------------------------------------------------
def _module_inputs(name, rng):
    x = rng.standard_normal((4, 5))
    if name in ("CrossEntropyLoss", "NLLLoss"):
        return (x, rng.integers(0, 5, 4)), (0,)
    if name == "BCELoss":
        return (rng.uniform(0.05, 0.95, (4, 5)), rng.uniform(0, 1, (4, 5))), (0, 1)
    if name in ("BCEWithLogitsLoss", "MultiLabelSoftMarginLoss"):
        return (x, (rng.uniform(0, 1, (4, 5)) > 0.5).astype(np.float64)), (0,)
    if name == "KLDivLoss":
        return (np.log(rng.dirichlet(np.ones(5), 4)), rng.dirichlet(np.ones(5), 4)), (0, 1)
    if name == "CosineEmbeddingLoss":
        return (x, rng.standard_normal((4, 5)), np.array([1.0, -1.0, -1.0, 1.0])), (0, 1)
    if name == "MarginRankingLoss":
        return (x[:, 0], x[:, 1], np.array([1.0, -1.0, -1.0, 1.0])), (0, 1)
    if name in ("HingeEmbeddingLoss", "SoftMarginLoss"):
        return (x, np.sign(rng.standard_normal((4, 5)))), (0,)
    if name == "TripletMarginLoss":
        return (x, rng.standard_normal((4, 5)), rng.standard_normal((4, 5))), (0, 1, 2)
    if name == "PoissonNLLLoss":
        return (x, rng.uniform(0, 4, (4, 5))), (0, 1)
    if name == "GaussianNLLLoss":
        return (x, rng.standard_normal((4, 5)), rng.uniform(0.2, 2, (4, 1))), (0, 1, 2)
    return (x, rng.standard_normal((4, 5))), (0, 1)


_MODULES = [
    ("L1Loss", {}), ("MSELoss", {"reduction": "sum"}), ("SmoothL1Loss", {"beta": 0.4}), ("HuberLoss", {"delta": 0.7}),
    ("CrossEntropyLoss", {"label_smoothing": 0.1, "ignore_index": 3}), ("NLLLoss", {"reduction": "none"}),
    ("BCELoss", {}), ("BCEWithLogitsLoss", {}), ("KLDivLoss", {"reduction": "batchmean"}),
    ("CosineEmbeddingLoss", {"margin": 0.1}), ("MarginRankingLoss", {"margin": 0.3}),
    ("HingeEmbeddingLoss", {"margin": 0.5}), ("SoftMarginLoss", {}), ("MultiLabelSoftMarginLoss", {}),
    ("TripletMarginLoss", {"margin": 0.5, "p": 1.5, "swap": True}), ("PoissonNLLLoss", {"full": True}),
    ("GaussianNLLLoss", {"full": True}), ("MSELoss", {"size_average": False}), ("L1Loss", {"reduce": False}),
]


@needs_torch
@pytest.mark.parametrize("name,kwargs", _MODULES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(_MODULES)])
def test_loss_modules_match_torch(name, kwargs):
    rng = np.random.default_rng(sum(map(ord, name)))  # a fixed seed per module (str hashes vary by run)
    arrays, grad = _module_inputs(name, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's deprecation warnings for size_average/reduce
        ours, theirs = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert ours.reduction == theirs.reduction
    out, grads, cot = _run(ours, *arrays, grad=grad)
    out_t, grads_t = _run_torch(theirs, *arrays, cot=cot, grad=grad)
    assert_close(out, out_t, rtol=1e-10, atol=1e-12)
    for a, b in zip(grads, grads_t):
        assert_close(a, b, rtol=1e-10, atol=1e-12)


@needs_torch
def test_weighted_loss_modules_keep_weights_as_buffers_with_torch_names():
    w, pw = np.linspace(0.5, 1.5, 5), np.linspace(1.0, 3.0, 5)
    ours = nn.BCEWithLogitsLoss(weight=mg.tensor(w), pos_weight=mg.tensor(pw))
    theirs = torch.nn.BCEWithLogitsLoss(weight=torch.tensor(w), pos_weight=torch.tensor(pw))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight", "pos_weight"]
    ce, ce_t = nn.CrossEntropyLoss(weight=mg.tensor(w)), torch.nn.CrossEntropyLoss(weight=torch.tensor(w))
    assert list(ce.state_dict()) == list(ce_t.state_dict()) == ["weight"]
    assert list(nn.CrossEntropyLoss().state_dict()) == list(torch.nn.CrossEntropyLoss().state_dict()) == []
    x, t = np.random.default_rng(0).standard_normal((3, 5)), np.array([4, 0, 2])
    assert_close(ce(mg.tensor(x), mg.tensor(t)), ce_t(torch.tensor(x), torch.tensor(t)), rtol=1e-12, atol=1e-12)
    assert ce.to(mg.float32).weight.dtype == mg.float32


# ----------------------------------------------------------------------------------------------
# softmax family
# ----------------------------------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("name", ["Softmax", "LogSoftmax", "Softmin"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_modules_match_torch(name, dim):
    x = np.random.default_rng(dim + 5).standard_normal((3, 4, 5))
    out, (g,), cot = _run(getattr(nn, name)(dim=dim), x)
    out_t, (g_t,) = _run_torch(getattr(torch.nn, name)(dim=dim), x, cot=cot)
    assert_close(out, out_t, rtol=1e-12, atol=1e-12)
    assert_close(g, g_t, rtol=1e-12, atol=1e-12)
    assert repr(getattr(nn, name)(dim=dim)) == repr(getattr(torch.nn, name)(dim=dim))


@needs_torch
def test_softmax2d_matches_torch_and_checks_dims():
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    assert_close(nn.Softmax2d()(mg.tensor(x)), torch.nn.Softmax2d()(torch.tensor(x)), rtol=1e-12, atol=1e-12)
    assert_close(nn.Softmax2d()(mg.tensor(x[0])), torch.nn.Softmax2d()(torch.tensor(x[0])), rtol=1e-12, atol=1e-12)
    with pytest.raises(RuntimeError, match=r"\(N, C, H, W\).*\(4, 5\)"):
        nn.Softmax2d()(mg.zeros(4, 5))


@needs_torch
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_at_1e4_and_in_float16_matches_torch(fn):
    x = _logits((6, 9), 1e4, np.float32)
    ours, theirs = getattr(mg, fn), getattr(torch, fn)
    out, (g,), cot = _run(lambda a: ours(a, 1), x)
    assert np.isfinite(out.detach().numpy()).all() and np.isfinite(g.numpy()).all()
    out_t, (g_t,) = _run_torch(lambda a: theirs(a, 1), x, cot=cot)
    assert_close(out, out_t, rtol=1e-6, atol=1e-6)
    assert_close(g, g_t, rtol=1e-5, atol=1e-5)
    h = x.astype(np.float16)
    out, (g,), cot = _run(lambda a: ours(a, 1), h)
    assert out.dtype == mg.float16 and g.dtype == mg.float16
    out_t, (g_t,) = _run_torch(lambda a: theirs(a, 1), h, cot=cot)
    assert_close(out, out_t, rtol=1e-3, atol=1e-3)
    assert_close(g, g_t, rtol=1e-2, atol=1e-2)


@needs_torch
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,dim,dtype", [((3, 200, 300), -1, np.float64), ((70000, 3), 1, np.float64),
                                             ((2, 1, 70000), 2, np.float64), ((300, 500), 1, np.float16),
                                             ((300, 500), 0, np.float64)])
def test_softmax_of_big_inputs_matches_torch(fn, shape, dim, dtype):
    # big inputs reduced over their last dim are computed in cache-sized blocks of rows
    rng = np.random.default_rng(12)
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    out, (g,), cot = _run(lambda a: getattr(mg, fn)(a, dim), x)
    assert out.dtype.numpy == dtype and g.dtype.numpy == dtype
    x64, cot64 = x.astype(np.float64), cot.astype(np.float64)
    out_t, (g_t,) = _run_torch(lambda a: getattr(torch, fn)(a, dim), x64, cot=cot64)
    tol = 1e-12 if dtype == np.float64 else 2e-3
    assert_close(out, out_t, rtol=tol, atol=tol)
    assert_close(g, g_t, rtol=tol, atol=tol * 10)


def test_softmax_dtype_argument_and_errors():
    x = mg.randn(2, 3).half()
    assert mg.softmax(x, -1, dtype=mg.float32).dtype == mg.float32
    assert x.log_softmax(-1).dtype == mg.float16
    with pytest.raises(TypeError, match="floating-point"):
        mg.softmax(mg.tensor([1, 2, 3]), 0)
    with pytest.raises(IndexError, match="dimension out of range"):
        mg.softmax(mg.randn(2, 3), 2)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        y = F.softmax(mg.randn(2, 3))
    assert_close(y.sum(1), np.ones(2), rtol=1e-6, atol=1e-6)  # torch's legacy choice for 2-d: dim 1
