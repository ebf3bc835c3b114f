"""Optimizers: each update equals its published equations (written out in NumPy here) and torch.optim.

Two kinds of trajectories:
- a separable quadratic, loss = sum(a * p^2 / 2 + b * p), whose gradient a * p + b the test computes
  itself in float64, so every step can be checked against a NumPy transcription of the paper's update;
- a small MLP with two param groups trained side by side with torch (weights copied via state_dict,
  same batches), checking that parameters agree after every one of several steps.
"""

import copy

import numpy as np
import pytest
from conftest import torch

import minigrad as mg
import minigrad.nn as nn
from minigrad.optim import LAMB, LARS, SGD, Adagrad, Adam, AdamW, RMSprop, exclude_bias_and_norm

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed (pip install -e .[ref])")

STEPS = 6
SHAPES = [(3, 4), (4,), (2, 3, 2)]


# ----------------------------------------------------------------------------------------------
# quadratic problem + NumPy references
# ----------------------------------------------------------------------------------------------
def _problem(seed=0):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s) for s in SHAPES]
    curvature = [rng.uniform(0.5, 2.0, s) for s in SHAPES]
    offset = [rng.standard_normal(s) for s in SHAPES]
    return params, curvature, offset


def _run_minigrad(make_opt, steps=STEPS, seed=0, dtype=np.float64):
    values, a, b = _problem(seed)
    params = [nn.Parameter(mg.tensor(v.astype(dtype))) for v in values]
    opt = make_opt(params)
    history = []
    for _ in range(steps):
        for p, ai, bi in zip(params, a, b):
            p.grad = mg.tensor((ai * p.data + bi).astype(dtype))
        opt.step()
        history.append([p.data.copy() for p in params])
    return history


def _run_reference(update, steps=STEPS, seed=0):
    """``update(p, g, state, t)`` returns the new p for one tensor (t counts from 1)."""
    values, a, b = _problem(seed)
    params = [v.copy() for v in values]
    states = [{} for _ in params]
    history = []
    for t in range(1, steps + 1):
        params = [update(p, ai * p + bi, s, t) for p, ai, bi, s in zip(params, a, b, states)]
        history.append([p.copy() for p in params])
    return history


def _assert_histories(ours, ref, rtol=1e-10, atol=1e-12):
    for step, (mine, theirs) in enumerate(zip(ours, ref)):
        for i, (x, y) in enumerate(zip(mine, theirs)):
            np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, err_msg=f"step {step + 1}, parameter {i}")


def sgd_ref(lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False):
    def update(p, g, state, t):
        g = -g if maximize else g
        g = g + weight_decay * p
        if momentum:
            if "buf" not in state:
                state["buf"] = g.copy()
            else:
                state["buf"] = momentum * state["buf"] + (1 - dampening) * g
            g = g + momentum * state["buf"] if nesterov else state["buf"]
        return p - lr * g

    return update


def adam_ref(lr, beta1, beta2, eps, weight_decay=0.0, amsgrad=False, decoupled=False, maximize=False):
    """Kingma & Ba (2015), Algorithm 1, in torch's arrangement of eps (added after the sqrt/bias step)."""

    def update(p, g, state, t):
        g = -g if maximize else g
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = state.get("m", 0.0) * beta1 + (1 - beta1) * g
        v = state.get("v", 0.0) * beta2 + (1 - beta2) * g**2
        state["m"], state["v"] = m, v
        if amsgrad:
            state["vmax"] = np.maximum(state.get("vmax", 0.0), v)
            v = state["vmax"]
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        return p - lr * m_hat / (np.sqrt(v_hat) + eps)

    return update


def rmsprop_ref(lr, alpha, eps, weight_decay=0.0, momentum=0.0, centered=False):
    def update(p, g, state, t):
        g = g + weight_decay * p
        state["sq"] = alpha * state.get("sq", 0.0) + (1 - alpha) * g**2
        if centered:
            state["avg"] = alpha * state.get("avg", 0.0) + (1 - alpha) * g
            denom = np.sqrt(state["sq"] - state["avg"] ** 2) + eps
        else:
            denom = np.sqrt(state["sq"]) + eps
        if momentum:
            state["buf"] = momentum * state.get("buf", 0.0) + g / denom
            return p - lr * state["buf"]
        return p - lr * g / denom

    return update


def adagrad_ref(lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
    def update(p, g, state, t):
        g = g + weight_decay * p
        state["sum"] = state.get("sum", initial_accumulator_value) + g**2
        step_lr = lr / (1 + (t - 1) * lr_decay)
        return p - step_lr * g / (np.sqrt(state["sum"]) + eps)

    return update


def lars_ref(lr, momentum, weight_decay, eta, exclude=False, nesterov=False):
    """You, Gitman & Ginsburg (2017) with SimCLR's arrangement: lr and trust ratio inside the momentum."""

    def update(p, g, state, t):
        if not exclude:
            g = g + weight_decay * p
            w_norm, g_norm = np.linalg.norm(p), np.linalg.norm(g)
            trust = eta * w_norm / g_norm if w_norm > 0 and g_norm > 0 else 1.0
            g = trust * g
        step = lr * g
        state["v"] = momentum * state.get("v", 0.0) + step
        return p - (momentum * state["v"] + step if nesterov else state["v"])

    return update


def lamb_ref(lr, beta1, beta2, eps, weight_decay, bias_correction=True):
    """You et al. (2019), Algorithm 2, with phi the identity."""

    def update(p, g, state, t):
        m = beta1 * state.get("m", 0.0) + (1 - beta1) * g
        v = beta2 * state.get("v", 0.0) + (1 - beta2) * g**2
        state["m"], state["v"] = m, v
        if bias_correction:
            m, v = m / (1 - beta1**t), v / (1 - beta2**t)
        r = m / (np.sqrt(v) + eps) + weight_decay * p
        w_norm, r_norm = np.linalg.norm(p), np.linalg.norm(r)
        trust = w_norm / r_norm if w_norm > 0 and r_norm > 0 else 1.0
        return p - lr * trust * r

    return update


REFERENCE_CASES = [
    ("sgd", lambda ps: SGD(ps, lr=0.1), sgd_ref(0.1)),
    ("sgd_momentum", lambda ps: SGD(ps, lr=0.1, momentum=0.9), sgd_ref(0.1, 0.9)),
    ("sgd_dampening_wd", lambda ps: SGD(ps, lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.1),
     sgd_ref(0.05, 0.8, 0.3, 0.1)),
    ("sgd_nesterov", lambda ps: SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
     sgd_ref(0.05, 0.9, 0.0, 0.01, nesterov=True)),
    ("sgd_maximize", lambda ps: SGD(ps, lr=0.05, momentum=0.5, maximize=True), sgd_ref(0.05, 0.5, maximize=True)),
    ("adam", lambda ps: Adam(ps, lr=0.01), adam_ref(0.01, 0.9, 0.999, 1e-8)),
    ("adam_l2_amsgrad", lambda ps: Adam(ps, lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, amsgrad=True),
     adam_ref(0.02, 0.8, 0.99, 1e-6, 0.1, amsgrad=True)),
    ("adam_maximize", lambda ps: Adam(ps, lr=0.01, maximize=True), adam_ref(0.01, 0.9, 0.999, 1e-8, maximize=True)),
    ("adamw", lambda ps: AdamW(ps, lr=0.01, weight_decay=0.1), adam_ref(0.01, 0.9, 0.999, 1e-8, 0.1, decoupled=True)),
    ("adamw_amsgrad", lambda ps: AdamW(ps, lr=0.01, amsgrad=True),
     adam_ref(0.01, 0.9, 0.999, 1e-8, 1e-2, amsgrad=True, decoupled=True)),
    ("rmsprop", lambda ps: RMSprop(ps, lr=0.01), rmsprop_ref(0.01, 0.99, 1e-8)),
    ("rmsprop_centered_momentum", lambda ps: RMSprop(ps, lr=0.01, alpha=0.9, momentum=0.8, centered=True,
                                                     weight_decay=0.05),
     rmsprop_ref(0.01, 0.9, 1e-8, 0.05, 0.8, True)),
    ("adagrad", lambda ps: Adagrad(ps, lr=0.1), adagrad_ref(0.1)),
    ("adagrad_decay", lambda ps: Adagrad(ps, lr=0.1, lr_decay=0.1, weight_decay=0.05, initial_accumulator_value=0.5),
     adagrad_ref(0.1, 0.1, 0.05, 0.5)),
    ("lars", lambda ps: LARS(ps, lr=0.5, momentum=0.9, weight_decay=1e-4, eta=0.02), lars_ref(0.5, 0.9, 1e-4, 0.02)),
    ("lars_nesterov", lambda ps: LARS(ps, lr=0.5, momentum=0.9, weight_decay=1e-4, eta=0.02, nesterov=True),
     lars_ref(0.5, 0.9, 1e-4, 0.02, nesterov=True)),
    ("lars_excluded", lambda ps: LARS(ps, lr=0.1, momentum=0.9, weight_decay=0.1, lars_exclude=True),
     lars_ref(0.1, 0.9, 0.1, 1e-3, exclude=True)),
    ("lamb", lambda ps: LAMB(ps, lr=0.01, weight_decay=0.01), lamb_ref(0.01, 0.9, 0.999, 1e-6, 0.01)),
    ("lamb_no_bias_correction", lambda ps: LAMB(ps, lr=0.01, betas=(0.8, 0.9), bias_correction=False),
     lamb_ref(0.01, 0.8, 0.9, 1e-6, 0.0, bias_correction=False)),
]


@pytest.mark.parametrize("make_opt, reference", [(m, r) for _, m, r in REFERENCE_CASES],
                         ids=[name for name, _, _ in REFERENCE_CASES])
def test_updates_equal_the_published_equations(make_opt, reference):
    _assert_histories(_run_minigrad(make_opt), _run_reference(reference))


@pytest.mark.parametrize("make_opt", [m for _, m, _ in REFERENCE_CASES], ids=[n for n, _, _ in REFERENCE_CASES])
def test_float32_parameters_stay_float32_and_close(make_opt):
    ours = _run_minigrad(make_opt, dtype=np.float32)
    ref = _run_minigrad(make_opt, dtype=np.float64)
    for mine, theirs in zip(ours, ref):
        for x, y in zip(mine, theirs):
            assert x.dtype == np.float32
            np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5)


def test_lars_trust_ratio_scales_each_tensor_separately():
    # one step from rest: the update of each tensor has norm lr * eta * ||p|| regardless of its gradient's size
    p1 = nn.Parameter(mg.tensor(np.full((4, 4), 2.0)))
    p2 = nn.Parameter(mg.tensor(np.full((3,), 0.5)))
    opt = LARS([p1, p2], lr=1.0, momentum=0.9, eta=0.01)
    p1.grad, p2.grad = mg.tensor(np.full((4, 4), 100.0)), mg.tensor(np.full((3,), 1e-3))
    before = [p1.data.copy(), p2.data.copy()]
    opt.step()
    for p, old in zip([p1, p2], before):
        np.testing.assert_allclose(np.linalg.norm(old - p.data), 0.01 * np.linalg.norm(old), rtol=1e-12)


def test_exclude_bias_and_norm_groups():
    model = nn.Sequential(nn.Linear(3, 4), nn.PReLU(), nn.Linear(4, 2))
    groups = exclude_bias_and_norm(model, weight_decay=1e-6)
    assert [p.shape for p in groups[0]["params"]] == [(4, 3), (2, 4)]
    assert [p.shape for p in groups[1]["params"]] == [(4,), (1,), (2,)]
    assert groups[0]["weight_decay"] == 1e-6 and groups[1]["weight_decay"] == 0.0
    opt = LARS(groups, lr=0.1)
    assert opt.param_groups[1]["lars_exclude"] and not opt.param_groups[0]["lars_exclude"]
    opt = LAMB(groups, lr=0.1)
    assert opt.param_groups[1]["lamb_exclude"] and not opt.param_groups[0]["lamb_exclude"]


# ----------------------------------------------------------------------------------------------
# torch parity on a small MLP with two param groups
# ----------------------------------------------------------------------------------------------
TORCH_CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.2, "weight_decay": 1e-2}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3}),
    ("SGD", {"lr": 0.05, "momentum": 0.7, "maximize": True}),
    ("Adam", {"lr": 1e-2}),
    ("Adam", {"lr": 1e-2, "betas": (0.8, 0.95), "weight_decay": 0.1, "amsgrad": True}),
    ("Adam", {"lr": 1e-2, "maximize": True}),
    ("AdamW", {"lr": 1e-2}),
    ("AdamW", {"lr": 1e-2, "weight_decay": 0.3, "amsgrad": True, "eps": 1e-6}),
    ("RMSprop", {"lr": 1e-2}),
    ("RMSprop", {"lr": 1e-2, "momentum": 0.9, "centered": True, "weight_decay": 1e-2, "alpha": 0.9}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.01, "initial_accumulator_value": 0.1}),
]


def _twin_models(dtype=np.float64):
    mg.manual_seed(0)
    ours = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    if dtype == np.float64:
        ours.double()
        theirs.double()
    theirs.load_state_dict({k: torch.tensor(v.data.copy()) for k, v in ours.state_dict().items()})
    return ours, theirs


def _groups(model, lr, backend_lr_scale=0.5):
    params = list(model.parameters())
    return [{"params": params[:2]}, {"params": params[2:], "lr": lr * backend_lr_scale}]


def _train_side_by_side(name, kwargs, steps=STEPS, dtype=np.float64):
    ours, theirs = _twin_models(dtype)
    opt = getattr(mg.optim, name)(_groups(ours, kwargs["lr"]), **kwargs)
    topt = getattr(torch.optim, name)(_groups(theirs, kwargs["lr"]), **kwargs)
    rng = np.random.default_rng(1)
    for step in range(steps):
        x = rng.standard_normal((7, 5)).astype(dtype)
        y = rng.standard_normal((7, 3)).astype(dtype)
        for model, optimizer, lib in ((ours, opt, mg), (theirs, topt, torch)):
            optimizer.zero_grad()
            loss = ((model(lib.tensor(x)) - lib.tensor(y)) ** 2).mean()
            loss.backward()
            optimizer.step()
        yield step, ours, theirs, opt, topt


@needs_torch
@pytest.mark.parametrize("name, kwargs", TORCH_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(TORCH_CASES)])
def test_matches_torch_optim(name, kwargs):
    for step, ours, theirs, _, _ in _train_side_by_side(name, kwargs):
        for (key, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
            np.testing.assert_allclose(a.data, b.numpy(), rtol=1e-10, atol=1e-12,
                                       err_msg=f"{key} after step {step + 1}")


@needs_torch
@pytest.mark.parametrize("name, kwargs", [TORCH_CASES[1], TORCH_CASES[6], TORCH_CASES[11]],
                         ids=["SGD", "Adam", "RMSprop"])
def test_matches_torch_optim_in_float32(name, kwargs):
    for step, ours, theirs, _, _ in _train_side_by_side(name, kwargs, dtype=np.float32):
        for (key, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
            assert a.dtype == mg.float32
            np.testing.assert_allclose(a.data, b.numpy(), rtol=1e-4, atol=1e-5, err_msg=f"{key} after step {step + 1}")


@needs_torch
@pytest.mark.parametrize("name, kwargs", [c for c in TORCH_CASES if c[0] != "SGD" or "momentum" in c[1]],
                         ids=lambda v: v if isinstance(v, str) else "-".join(sorted(v)))
def test_state_dict_structure_matches_torch(name, kwargs):
    *_, (_, _, _, opt, topt) = list(_train_side_by_side(name, kwargs, steps=2))
    ours, theirs = opt.state_dict(), topt.state_dict()
    assert [g["params"] for g in ours["param_groups"]] == [g["params"] for g in theirs["param_groups"]]
    assert sorted(ours["state"]) == sorted(theirs["state"])
    for index in theirs["state"]:
        assert sorted(ours["state"][index]) == sorted(theirs["state"][index])
        for key, value in theirs["state"][index].items():
            mine = ours["state"][index][key]
            mine = mine.data if isinstance(mine, mg.Tensor) else mine
            np.testing.assert_allclose(np.asarray(mine), value.numpy(), rtol=1e-10, atol=1e-12, err_msg=key)
    for ours_group, theirs_group in zip(ours["param_groups"], theirs["param_groups"]):
        for key, value in ours_group.items():
            assert key in theirs_group, f"group option {key} is not one of torch's"
            assert value == theirs_group[key], key


@needs_torch
def test_loads_a_torch_optimizer_state_and_continues_like_torch():
    kwargs = {"lr": 1e-2, "amsgrad": True, "weight_decay": 0.05}
    runs = list(_train_side_by_side("AdamW", kwargs, steps=3))
    _, ours, theirs, _, topt = runs[-1]
    fresh = mg.optim.AdamW(_groups(ours, kwargs["lr"]), **kwargs)
    fresh.load_state_dict(topt.state_dict())
    rng = np.random.default_rng(5)
    for _ in range(3):
        x, y = rng.standard_normal((4, 5)), rng.standard_normal((4, 3))
        for model, optimizer, lib in ((ours, fresh, mg), (theirs, topt, torch)):
            optimizer.zero_grad()
            ((model(lib.tensor(x)) - lib.tensor(y)) ** 2).mean().backward()
            optimizer.step()
    for a, b in zip(ours.state_dict().values(), theirs.state_dict().values()):
        np.testing.assert_allclose(a.data, b.numpy(), rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------------------------
# param groups, state dicts, closures, zero_grad
# ----------------------------------------------------------------------------------------------
def test_param_groups_use_their_own_options():
    a, b = nn.Parameter(mg.ones(3, dtype=mg.float64)), nn.Parameter(mg.ones(2, dtype=mg.float64))
    opt = SGD([{"params": [a]}, {"params": [b], "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[0]["momentum"] == 0.0
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["momentum"] == 0.9
    a.grad, b.grad = mg.ones(3, dtype=mg.float64), mg.ones(2, dtype=mg.float64)
    opt.step()
    np.testing.assert_allclose(a.data, 0.9)
    np.testing.assert_allclose(b.data, 0.5)
    c = nn.Parameter(mg.zeros(2))
    opt.add_param_group({"params": c, "lr": 2.0})
    assert opt.param_groups[2]["params"] == [c] and opt.param_groups[2]["momentum"] == 0.0


@pytest.mark.parametrize("make_opt", [m for _, m, _ in REFERENCE_CASES], ids=[n for n, _, _ in REFERENCE_CASES])
def test_state_dict_round_trip_continues_identically(make_opt):
    values, a, b = _problem(3)

    def run(params, opt, steps):
        for _ in range(steps):
            for p, ai, bi in zip(params, a, b):
                p.grad = mg.tensor(ai * p.data + bi)
            opt.step()

    params = [nn.Parameter(mg.tensor(v)) for v in values]
    opt = make_opt(params)
    run(params, opt, 3)
    saved_params = [p.data.copy() for p in params]
    saved = copy.deepcopy(opt.state_dict())
    run(params, opt, 3)
    expected = [p.data.copy() for p in params]

    params2 = [nn.Parameter(mg.tensor(v)) for v in saved_params]
    opt2 = make_opt(params2)
    opt2.load_state_dict(saved)
    run(params2, opt2, 3)
    for x, y in zip(params2, expected):
        np.testing.assert_array_equal(x.data, y)
    # the saved dict is a snapshot: stepping did not change it, and loading copied it
    assert all(v.data is not opt2.state[params2[int(i)]][k].data
               for i, s in saved["state"].items() for k, v in s.items() if isinstance(v, mg.Tensor))


def test_load_state_dict_errors_change_nothing():
    a, b = nn.Parameter(mg.ones(3)), nn.Parameter(mg.ones(2))
    opt = Adam([a, b], lr=0.1)
    a.grad, b.grad = mg.ones(3), mg.ones(2)
    opt.step()
    before = copy.deepcopy(opt.state_dict())
    other = Adam([{"params": [a]}, {"params": [b]}], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict(other.state_dict())
    third = Adam([nn.Parameter(mg.ones(1))], lr=0.1)
    with pytest.raises(ValueError, match="doesn't match the size"):
        opt.load_state_dict(third.state_dict())
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for index, entries in before["state"].items():
        for key, value in entries.items():
            np.testing.assert_array_equal(np.asarray(after["state"][index][key].data if isinstance(value, mg.Tensor)
                                                     else after["state"][index][key]),
                                          np.asarray(value.data if isinstance(value, mg.Tensor) else value))


def test_zero_grad():
    p = nn.Parameter(mg.ones(3))
    opt = SGD([p], lr=0.1)
    p.grad = mg.ones(3)
    grad = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is grad and not np.any(p.grad.data)
    opt.zero_grad()
    assert p.grad is None


def test_step_with_closure_returns_loss_and_skips_params_without_grad():
    w = nn.Parameter(mg.tensor([1.0, -2.0]))
    unused = nn.Parameter(mg.tensor([5.0]))
    opt = SGD([w, unused], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with mg.no_grad():
        loss = opt.step(closure)
    assert loss.item() == pytest.approx(5.0)
    np.testing.assert_allclose(w.data, [0.5, -1.0])
    np.testing.assert_array_equal(unused.data, [5.0])


def test_step_bumps_the_parameter_version():
    w = nn.Parameter(mg.tensor([1.0, 2.0]))
    opt = SGD([w], lr=0.1)
    y = (w * w).sum()
    w.grad = mg.ones(2)
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


@pytest.mark.parametrize("make, match", [
    (lambda ps: SGD(ps, lr=-0.1), "Invalid learning rate: -0.1"),
    (lambda ps: SGD(ps, lr=0.1, momentum=-0.5), "Invalid momentum value"),
    (lambda ps: SGD(ps, lr=0.1, weight_decay=-1), "Invalid weight_decay value"),
    (lambda ps: SGD(ps, lr=0.1, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    (lambda ps: SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
    (lambda ps: Adam(ps, lr=-1e-3), "Invalid learning rate"),
    (lambda ps: Adam(ps, betas=(1.0, 0.999)), "Invalid beta parameter at index 0"),
    (lambda ps: Adam(ps, betas=(0.9, -0.1)), "Invalid beta parameter at index 1"),
    (lambda ps: AdamW(ps, eps=-1e-8), "Invalid epsilon value"),
    (lambda ps: RMSprop(ps, alpha=-0.1), "Invalid alpha value"),
    (lambda ps: RMSprop(ps, momentum=-0.1), "Invalid momentum value"),
    (lambda ps: Adagrad(ps, lr_decay=-0.1), "Invalid lr_decay value"),
    (lambda ps: Adagrad(ps, initial_accumulator_value=-1), "Invalid initial_accumulator_value"),
    (lambda ps: LARS(ps, lr=-1.0), "Invalid learning rate"),
    (lambda ps: LARS(ps, lr=0.1, eta=-1.0), "Invalid trust coefficient"),
    (lambda ps: LAMB(ps, betas=(0.9, 1.5)), "Invalid beta parameter at index 1"),
    (lambda ps: SGD([{"params": ps, "lr": -2.0}], lr=0.1), "Invalid learning rate: -2.0"),
])
def test_invalid_arguments_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make([nn.Parameter(mg.ones(2))])


def test_invalid_parameter_lists():
    p = nn.Parameter(mg.ones(2))
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(ValueError, match="duplicate parameters"):
        SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        SGD({p}, lr=0.1)
    with pytest.raises(TypeError, match="wrap it in a list"):
        SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        SGD([p * 2], lr=0.1)
    with pytest.raises(ValueError, match="didn't specify a value of required optimization parameter lr"):
        LARS([p])
    opt = SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [p]})
    assert len(opt.param_groups) == 1
