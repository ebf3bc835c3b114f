"""Learning-rate schedules: the rates (and OneCycle's momenta) equal torch.optim.lr_scheduler's step
for step, state dicts round-trip, and the warmup-cosine helper follows its formula."""

import copy
import math

import numpy as np
import pytest
from conftest import torch

import minigrad as mg
import minigrad.nn as nn
from minigrad.optim import SGD, Adam, lr_scheduler

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed (pip install -e .[ref])")

BASE_LRS = (0.1, 0.03)


def _optimizers(kind="SGD"):
    ours = [nn.Parameter(mg.ones(2)), nn.Parameter(mg.ones(3))]
    groups = [{"params": ours[:1], "lr": BASE_LRS[0]}, {"params": ours[1:], "lr": BASE_LRS[1]}]
    extra = {"momentum": 0.9} if kind == "SGD" else {}
    opt = getattr(mg.optim, kind)(groups, lr=BASE_LRS[0], **extra)
    theirs = [torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(3))]
    tgroups = [{"params": theirs[:1], "lr": BASE_LRS[0]}, {"params": theirs[1:], "lr": BASE_LRS[1]}]
    topt = getattr(torch.optim, kind)(tgroups, lr=BASE_LRS[0], **extra)
    return opt, topt


def _make(name, opt, kwargs):
    module = lr_scheduler if isinstance(opt, mg.optim.Optimizer) else torch.optim.lr_scheduler
    kwargs = dict(kwargs)
    if name == "SequentialLR":
        inner = [getattr(module, n)(opt, **k) for n, k in kwargs.pop("schedulers")]
        return module.SequentialLR(opt, inner, **kwargs)
    return getattr(module, name)(opt, **kwargs)


def _halve_every_ten(epoch):
    return 0.5 ** (epoch // 10)


CASES = [
    ("StepLR", {"step_size": 7, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [5, 12, 12, 30], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.93}),
    ("CosineAnnealingLR", {"T_max": 20}),
    ("CosineAnnealingLR", {"T_max": 15, "eta_min": 1e-3}),
    ("LambdaLR", {"lr_lambda": _halve_every_ten}),
    ("LambdaLR", {"lr_lambda": [lambda e: 1 / (1 + e), lambda e: 0.9**e]}),
    ("LinearLR", {}),
    ("LinearLR", {"start_factor": 0.1, "end_factor": 0.5, "total_iters": 12}),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 50}),
    ("OneCycleLR", {"max_lr": [1.0, 0.2], "epochs": 5, "steps_per_epoch": 10, "anneal_strategy": "linear",
                    "pct_start": 0.25}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": 50, "three_phase": True, "div_factor": 10.0}),
    ("SequentialLR", {"schedulers": [("LinearLR", {"start_factor": 0.01, "total_iters": 5}),
                                     ("CosineAnnealingLR", {"T_max": 30})], "milestones": [5]}),
    ("SequentialLR", {"schedulers": [("ConstantLRStandIn", {}), ("ExponentialLR", {"gamma": 0.9}),
                                     ("StepLR", {"step_size": 4})], "milestones": [3, 10]}),
]
# torch's ConstantLR has no counterpart here; LambdaLR with a constant factor stands in for it in both libraries
CASES[-1][1]["schedulers"][0] = ("LambdaLR", {"lr_lambda": lambda e: 0.5})

STEPS = 49  # OneCycleLR(total_steps=50) allows 49 steps after construction


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g.get("momentum") for g in opt.param_groups]


# the optimizer kind matters only for OneCycleLR, which cycles SGD's momentum or Adam's beta1
TORCH_RUNS = [(n, k, "SGD") for n, k in CASES] + [(n, k, "Adam") for n, k in CASES if n == "OneCycleLR"]


@needs_torch
@pytest.mark.parametrize("name, kwargs, kind", TORCH_RUNS,
                         ids=[f"{n}-{i}-{o}" for i, (n, _, o) in enumerate(TORCH_RUNS)])
def test_rates_equal_torch(name, kwargs, kind):
    opt, topt = _optimizers(kind)
    sched, tsched = _make(name, opt, kwargs), _make(name, topt, kwargs)
    assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12, abs=0)
    for step in range(STEPS):
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
        ours = [g["lr"] for g in opt.param_groups]
        theirs = [g["lr"] for g in topt.param_groups]
        assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-15), f"step {step + 1}"
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12, abs=1e-15)
        assert _momenta(opt) == pytest.approx(_momenta(topt), rel=1e-12), f"momentum at step {step + 1}"
        assert sched.last_epoch == tsched.last_epoch


@needs_torch
@pytest.mark.parametrize("name, kwargs", [c for c in CASES if c[0] in ("StepLR", "MultiStepLR", "ExponentialLR",
                                                                         "CosineAnnealingLR", "LinearLR")],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_step_to_an_epoch_uses_the_closed_form_like_torch(name, kwargs):
    import warnings

    opt, topt = _optimizers()
    sched, tsched = _make(name, opt, kwargs), _make(name, topt, kwargs)
    for epoch in (3, 11, 17, 6):
        sched.step(epoch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tsched.step(epoch)
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12)


@needs_torch
def test_two_chained_schedulers_compose_like_torch():
    opt, topt = _optimizers()
    ours = [lr_scheduler.ExponentialLR(opt, 0.9), lr_scheduler.StepLR(opt, 3, 0.5)]
    theirs = [torch.optim.lr_scheduler.ExponentialLR(topt, 0.9), torch.optim.lr_scheduler.StepLR(topt, 3, 0.5)]
    for _ in range(12):
        opt.step()
        topt.step()
        for s, t in zip(ours, theirs):
            s.step()
            t.step()
        assert [g["lr"] for g in opt.param_groups] == pytest.approx([g["lr"] for g in topt.param_groups], rel=1e-12)


@pytest.mark.parametrize("name, kwargs", [c for c in CASES if c[0] != "LambdaLR"] + [
    ("WarmupCosineLR", {"warmup_steps": 5, "total_steps": 40, "min_lr": 1e-4})],
    ids=lambda v: v if isinstance(v, str) else "")
def test_state_dict_round_trip(name, kwargs):
    def build():
        params = [nn.Parameter(mg.ones(2)), nn.Parameter(mg.ones(3))]
        opt = SGD([{"params": params[:1], "lr": BASE_LRS[0]}, {"params": params[1:], "lr": BASE_LRS[1]}],
                  lr=0.1, momentum=0.9)
        if name == "SequentialLR":
            inner = [getattr(lr_scheduler, n)(opt, **k) for n, k in kwargs["schedulers"]]
            return opt, lr_scheduler.SequentialLR(opt, inner, milestones=kwargs["milestones"])
        return opt, getattr(lr_scheduler, name)(opt, **kwargs)

    opt, sched = build()
    for _ in range(17):
        opt.step()
        sched.step()
    saved_opt, saved_sched = copy.deepcopy(opt.state_dict()), copy.deepcopy(sched.state_dict())
    assert "optimizer" not in saved_sched
    expected = []
    for _ in range(20):
        opt.step()
        sched.step()
        expected.append(sched.get_last_lr())

    opt2, sched2 = build()
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved_sched)
    got = []
    for _ in range(20):
        opt2.step()
        sched2.step()
        got.append(sched2.get_last_lr())
    assert got == expected
    assert [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in opt.param_groups]


def test_lambda_lr_state_dict_keeps_callable_objects_only():
    class Factor:
        def __init__(self):
            self.scale = 0.5

        def __call__(self, epoch):
            return self.scale**epoch

    opt = SGD([{"params": [nn.Parameter(mg.ones(1))]}, {"params": [nn.Parameter(mg.ones(1))]}], lr=1.0)
    fn = Factor()
    sched = lr_scheduler.LambdaLR(opt, [fn, lambda e: 1.0])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [{"scale": 0.5}, None]
    fn.scale = 0.1
    sched.load_state_dict(state)
    assert fn.scale == 0.5


def _warmup_cosine_reference(t, base, warmup, total, min_lr, start=0.0):
    """MAE's adjust_learning_rate (per iteration), written from its description."""
    if t < warmup:
        return start + (base - start) * t / warmup
    if t >= total:
        return min_lr
    progress = (t - warmup) / (total - warmup)
    return min_lr + (base - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


@pytest.mark.parametrize("warmup, total, min_lr, start", [(10, 50, 0.0, 0.0), (5, 30, 1e-3, 1e-4), (0, 20, 0.0, 0.0)])
def test_warmup_cosine_follows_its_formula(warmup, total, min_lr, start):
    params = [nn.Parameter(mg.ones(1)), nn.Parameter(mg.ones(1))]
    opt = Adam([{"params": params[:1], "lr": 0.5}, {"params": params[1:], "lr": 0.05}], lr=0.5)
    sched = lr_scheduler.warmup_cosine(opt, warmup, total, min_lr=min_lr, warmup_start_lr=start)
    for t in range(total + 5):
        expected = [_warmup_cosine_reference(t, base, warmup, total, min_lr, start) for base in (0.5, 0.05)]
        assert sched.get_last_lr() == pytest.approx(expected, rel=1e-12, abs=1e-15), f"step {t}"
        opt.step()
        sched.step()
    # it peaks at the base rate right after warmup and ends at min_lr
    assert max(_warmup_cosine_reference(t, 0.5, warmup, total, min_lr, start) for t in range(total)) == 0.5


@needs_torch
def test_warmup_cosine_equals_torch_linear_then_cosine():
    # with min_lr = 0 and warmup from 0 the schedule is torch's LambdaLR with the same factor
    opt, topt = _optimizers()
    sched = lr_scheduler.WarmupCosineLR(opt, warmup_steps=8, total_steps=40)
    factor = lambda t: t / 8 if t < 8 else 0.5 * (1 + math.cos(math.pi * (t - 8) / 32))  # noqa: E731
    tsched = torch.optim.lr_scheduler.LambdaLR(topt, factor)
    for _ in range(40):
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12, abs=1e-15)
        opt.step()
        topt.step()
        sched.step()
        tsched.step()


def test_one_cycle_errors():
    opt = SGD([nn.Parameter(mg.ones(1))], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="either total_steps OR"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="pct_start"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=1.5)
    with pytest.raises(ValueError, match="anneal_strategy"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10, anneal_strategy="exp")
    sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    sched.step()
    sched.step()
    sched.step()
    with pytest.raises(ValueError, match="Tried to step 4 times. The specified number of total steps is 3"):
        sched.step()
    plain = SGD([nn.Parameter(mg.ones(1))], lr=0.1)
    assert "momentum" in plain.defaults  # SGD always has a momentum option, as torch
    adagrad = mg.optim.Adagrad([nn.Parameter(mg.ones(1))])
    with pytest.raises(ValueError, match="must support momentum or beta1"):
        lr_scheduler.OneCycleLR(adagrad, max_lr=1.0, total_steps=10)


def test_scheduler_errors():
    opt = SGD([nn.Parameter(mg.ones(1))], lr=0.1)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), 3)
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(opt, 3, last_epoch=5)
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        lr_scheduler.LinearLR(opt, start_factor=0.0)
    other = SGD([nn.Parameter(mg.ones(1))], lr=0.1)
    with pytest.raises(ValueError, match="same optimizer"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(other, 2)], milestones=[])
    with pytest.raises(ValueError, match="one milestone fewer"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(opt, 2)], milestones=[3])
    with pytest.raises(ValueError, match="warmup_steps"):
        lr_scheduler.WarmupCosineLR(opt, warmup_steps=20, total_steps=10)


def test_schedule_reaches_the_optimizer_update():
    # the rate a scheduler sets is the one the next optimizer step uses
    p = nn.Parameter(mg.tensor(np.zeros(1)))
    opt = SGD([p], lr=1.0)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for expected in (1.0, 0.5, 0.25):
        p.grad = mg.tensor(np.ones(1))
        before = p.data.copy()
        opt.step()
        sched.step()
        np.testing.assert_allclose(before - p.data, expected)
