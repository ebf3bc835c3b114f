"""Module behaviour against torch.nn: registration order, state dicts, loading, modes, hooks, reprs, containers.

Every architecture is built twice from one description (``lib`` is ``minigrad`` or ``torch``) so that
names, orders and reprs can be compared with torch's directly.
"""

import numpy as np
import pytest
from conftest import torch

import minigrad as mg
import minigrad.nn as nn

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed (pip install -e .[ref])")


def _block_class(lib):
    """A module with its own parameter and buffers registered *between* children, in both libraries."""

    class Block(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.first = lib.nn.Linear(4, 3)
            self.scale = lib.nn.Parameter(lib.ones(3))
            self.register_buffer("running", lib.zeros(3))
            self.register_buffer("scratch", lib.zeros(2), persistent=False)
            self.inner = lib.nn.Sequential(lib.nn.Linear(3, 3), lib.nn.ReLU(), lib.nn.Linear(3, 2, bias=False))
            self.register_buffer("steps", lib.tensor(0))

        def forward(self, x):
            return self.inner(self.first(x) * self.scale + self.running)

    return Block


def _model(lib):
    Block = _block_class(lib)

    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = lib.nn.ModuleList([Block(), Block()])
            self.head = lib.nn.ModuleDict({"out": lib.nn.Linear(2, 5), "act": lib.nn.Tanh()})
            self.bias = lib.nn.Parameter(lib.zeros(5))

        def forward(self, x):
            for block in self.blocks:
                x = block(x)[..., :2] @ lib.ones(2, 4)
            return self.head["act"](self.head["out"](x[..., :2])) + self.bias

    return Net()


def _torch_state_for(model):
    return {k: torch.tensor(np.random.default_rng(len(k)).standard_normal(v.shape).astype(np.float32))
            if v.dtype == mg.float32 else torch.tensor(v.data.copy()) for k, v in model.state_dict().items()}


# ----------------------------------------------------------------------------------------------
# names and orders
# ----------------------------------------------------------------------------------------------
@needs_torch
def test_names_and_orders_equal_torch():
    ours, theirs = _model(mg), _model(torch)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    # own parameters come before the children's (torch's order), and non-persistent buffers are not saved
    names = [n for n, _ in ours.named_parameters()]
    assert names.index("bias") == 0
    assert "blocks.0.scratch" not in ours.state_dict() and "blocks.0.scratch" in dict(ours.named_buffers())


@needs_torch
def test_state_dict_keys_for_a_sequential_equal_torch():
    ours = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Sequential(nn.Linear(4, 4), nn.GELU()), nn.Linear(4, 1))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(),
                                 torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.GELU()), torch.nn.Linear(4, 1))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    shapes = [tuple(v.shape) for v in theirs.state_dict().values()]
    assert [tuple(v.shape) for v in ours.state_dict().values()] == shapes


def test_shared_modules_and_parameters_are_listed_once():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(model.parameters())) == 2
    assert [n for n, _ in model.named_modules()] == ["", "0", "1"]
    tied = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    tied[1].weight = tied[0].weight
    assert len(list(tied.parameters())) == 3
    assert list(tied.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


# ----------------------------------------------------------------------------------------------
# loading
# ----------------------------------------------------------------------------------------------
@needs_torch
def test_torch_state_dict_loads_strictly_and_outputs_match():
    ours, theirs = _model(mg), _model(torch)
    state = _torch_state_for(ours)
    state = {k: (v + 1 if k.endswith("running") else v) for k, v in state.items()}
    theirs.load_state_dict(state)
    result = ours.load_state_dict(theirs.state_dict(), strict=True)
    assert result.missing_keys == [] and result.unexpected_keys == []
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(mg.tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    for (key, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        np.testing.assert_array_equal(a.data, b.numpy(), err_msg=key)
        assert a.dtype.name == str(b.dtype).replace("torch.", ""), key


def _snapshot(model):
    return {k: v.data.copy() for k, v in model.state_dict().items()}


def _assert_unchanged(model, snapshot):
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.data, snapshot[k], err_msg=f"{k} was modified by a failed load")


def test_load_state_dict_errors_modify_nothing():
    model = _model(mg)
    good = {k: mg.tensor(np.full(v.shape, 7, dtype=v.data.dtype)) for k, v in model.state_dict().items()}
    before = _snapshot(model)

    unknown = dict(good, **{"blocks.0.extra": mg.ones(1)})
    with pytest.raises(RuntimeError, match=r'Unexpected key\(s\) in state_dict: "blocks.0.extra"'):
        model.load_state_dict(unknown)
    _assert_unchanged(model, before)

    missing = {k: v for k, v in good.items() if k != "head.out.weight"}
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "head.out.weight"'):
        model.load_state_dict(missing)
    _assert_unchanged(model, before)

    wrong = dict(good, **{"blocks.1.first.weight": mg.ones(3, 5)})
    with pytest.raises(RuntimeError, match=r"size mismatch for blocks.1.first.weight: copying a param with shape "
                                           r"\(3, 5\) from checkpoint, the shape in current model is \(3, 4\)"):
        model.load_state_dict(wrong)
    _assert_unchanged(model, before)

    # strict=False reports instead of raising, and loads what matches
    result = model.load_state_dict(dict(missing, **{"nope": mg.ones(1)}), strict=False)
    assert result.missing_keys == ["head.out.weight"] and result.unexpected_keys == ["nope"]
    assert np.all(model.head["out"].bias.data == 7)
    np.testing.assert_array_equal(model.head["out"].weight.data, before["head.out.weight"])


def test_load_state_dict_copies_values_in():
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    weight = a.weight
    a.load_state_dict(b.state_dict())
    assert a.weight is weight  # the same Parameter object, new values
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    b.weight.data[...] = 0
    assert np.any(a.weight.data != 0)


# ----------------------------------------------------------------------------------------------
# modes, gradients, dtypes
# ----------------------------------------------------------------------------------------------
def test_train_eval_propagate_to_every_submodule():
    model = _model(mg)
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.blocks.train()
    assert all(m.training for m in model.blocks.modules()) and not model.training and not model.head.training
    with pytest.raises(ValueError, match="boolean"):
        model.train("yes")


def test_zero_grad():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    model(mg.randn(4, 3)).sum().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and np.any(g.data) for g in grads)
    model.zero_grad(set_to_none=False)
    assert all(p.grad is g and not np.any(p.grad.data) for p, g in zip(model.parameters(), grads))
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_requires_grad_and_apply():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    model.requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())
    seen = []
    model.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "Linear", "Sequential"]  # children first, as torch


def test_to_dtype_casts_floating_parameters_and_buffers_only():
    model = _model(mg)
    params_before = list(model.parameters())
    model.to(mg.float64)
    assert all(p.dtype == mg.float64 for p in model.parameters())
    assert list(model.parameters())[0] is params_before[0]  # parameters are converted in place
    assert model.blocks[0].running.dtype == mg.float64
    assert model.blocks[0].steps.dtype == mg.int64
    out = model(mg.randn(2, 4, dtype=mg.float64))
    assert out.dtype == mg.float64
    model.float()
    assert all(p.dtype == mg.float32 for p in model.parameters())


# ----------------------------------------------------------------------------------------------
# hooks and reprs
# ----------------------------------------------------------------------------------------------
def test_forward_hooks():
    layer = nn.Linear(3, 2)
    calls = []
    pre = layer.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    post = layer.register_forward_hook(lambda m, args, out: calls.append(out.shape) or out + 1)
    out = layer(mg.randn(4, 3))
    np.testing.assert_allclose(out.data, np.broadcast_to(layer.bias.data + 1, (4, 2)), rtol=1e-6)
    assert calls == [(4, 2)]
    pre.remove()
    post.remove()
    x = mg.randn(4, 3)
    np.testing.assert_allclose(layer(x).data, (x.data @ layer.weight.data.T + layer.bias.data), rtol=1e-5)
    assert calls == [(4, 2)]


@needs_torch
def test_repr_equals_torch():
    ours, theirs = _model(mg), _model(torch)
    assert repr(ours) == repr(theirs)
    layers = lambda lib: lib.nn.Sequential(  # noqa: E731
        lib.nn.Linear(3, 4, bias=False), lib.nn.LeakyReLU(0.2), lib.nn.ELU(alpha=0.5, inplace=True),
        lib.nn.GELU(approximate="tanh"), lib.nn.Softplus(beta=2.0), lib.nn.Hardtanh(-2.0, 2.0), lib.nn.PReLU(4),
        lib.nn.GLU(dim=1), lib.nn.ReLU6(inplace=True), lib.nn.Flatten(), lib.nn.Identity())
    assert repr(layers(mg)) == repr(layers(torch))


# ----------------------------------------------------------------------------------------------
# containers
# ----------------------------------------------------------------------------------------------
def test_sequential_indexing_and_slicing():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 4), nn.Tanh()]
    seq = nn.Sequential(*layers)
    assert len(seq) == 4 and seq[0] is layers[0] and seq[-1] is layers[3]
    part = seq[1:3]
    assert isinstance(part, nn.Sequential) and list(part) == layers[1:3]
    assert list(part.state_dict()) == ["2.weight", "2.bias"]  # slices keep the original names, as torch
    with pytest.raises(IndexError):
        seq[4]
    seq[1] = nn.Sigmoid()
    assert isinstance(seq[1], nn.Sigmoid)
    del seq[0]
    assert len(seq) == 3 and seq[0] is seq[0] and isinstance(seq[0], nn.Sigmoid)
    x = mg.randn(5, 3)
    np.testing.assert_allclose(seq(x).data, np.tanh(layers[2](mg.sigmoid(x)).data), rtol=1e-6)


@needs_torch
def test_sequential_from_ordered_dict_names_like_torch():
    from collections import OrderedDict

    ours = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 3)), ("act", nn.ReLU())]))
    theirs = torch.nn.Sequential(OrderedDict([("fc", torch.nn.Linear(2, 3)), ("act", torch.nn.ReLU())]))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    assert ours.fc is ours[0]


def test_module_list():
    items = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
    assert len(items) == 3 and items[-1] is items[2]
    assert isinstance(items[:2], nn.ModuleList) and len(items[:2]) == 2
    items.append(nn.ReLU())
    items.insert(0, nn.Tanh())
    assert [type(m).__name__ for m in items] == ["Tanh", "Linear", "Linear", "Linear", "ReLU"]
    assert list(items.state_dict())[:2] == ["1.weight", "1.bias"]
    with pytest.raises(IndexError):
        items[5]
    items.extend([nn.Sigmoid()])
    assert len(items) == 6


def test_module_dict():
    d = nn.ModuleDict({"a": nn.Linear(1, 2), "b": nn.ReLU()})
    assert list(d.keys()) == ["a", "b"] and "a" in d and len(d) == 2
    d["c"] = nn.Tanh()
    assert list(d) == ["a", "b", "c"]
    assert isinstance(d.pop("b"), nn.ReLU) and list(d) == ["a", "c"]
    assert list(d.state_dict()) == ["a.weight", "a.bias"]
    with pytest.raises(KeyError):
        d["missing"]


def test_deleting_from_containers_renumbers_like_torch():
    seq = nn.Sequential(nn.Linear(1, 1), nn.ReLU(), nn.Linear(1, 2))
    del seq[0]
    assert list(seq.state_dict()) == ["1.weight", "1.bias"]
    items = nn.ModuleList([nn.Linear(1, 1), nn.ReLU(), nn.Linear(1, 2)])
    del items[0]
    assert list(items._modules) == ["0", "1"] and isinstance(items[0], nn.ReLU)


def test_reassigning_keeps_registration_order():
    layer = nn.Linear(2, 2)
    layer.weight = nn.Parameter(mg.zeros(2, 2))
    assert list(layer.state_dict()) == ["weight", "bias"]
    seq = nn.Sequential(nn.Linear(1, 1), nn.ReLU(), nn.Tanh())
    seq[1] = nn.Sigmoid()
    assert [type(m).__name__ for m in seq] == ["Linear", "Sigmoid", "Tanh"]
    holder = nn.Module()
    holder.register_buffer("stat", mg.zeros(1))
    holder.child = nn.ReLU()
    holder.register_buffer("other", mg.zeros(1))
    holder.register_buffer("stat", mg.ones(1))
    assert list(holder.state_dict()) == ["stat", "other"]
    with pytest.raises(KeyError, match="attribute 'weight' already exists"):
        layer.register_buffer("weight", mg.zeros(1))
    with pytest.raises(KeyError, match="attribute 'child' already exists"):
        holder.register_parameter("child", nn.Parameter(mg.zeros(1)))
