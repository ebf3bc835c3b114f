"""nn.utils: gradient clipping and parameter/vector conversion, against torch.nn.utils and by hand."""

import math

import numpy as np
import pytest
from conftest import torch

import minigrad as mg
import minigrad.nn as nn
from minigrad.nn.utils import clip_grad_norm_, clip_grad_value_, parameters_to_vector, vector_to_parameters

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed (pip install -e .[ref])")


def _params_with_grads(scale=1.0, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    params = []
    for shape in [(3, 4), (4,), (2, 2, 2)]:
        p = nn.Parameter(mg.tensor(rng.standard_normal(shape).astype(dtype)))
        p.grad = mg.tensor((scale * rng.standard_normal(shape)).astype(dtype))
        params.append(p)
    return params


def _torch_twins(params):
    twins = []
    for p in params:
        t = torch.nn.Parameter(torch.tensor(p.data.copy()))
        t.grad = torch.tensor(p.grad.data.copy())
        twins.append(t)
    return twins


@needs_torch
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf, 0.5])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    params = _params_with_grads(scale=3.0)
    twins = _torch_twins(params)
    total = clip_grad_norm_(params, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(twins, max_norm, norm_type=norm_type)
    assert total.dtype == mg.float32 and total.shape == ()
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-5)
    for p, t in zip(params, twins):
        np.testing.assert_allclose(p.grad.data, t.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_by_hand():
    params = _params_with_grads(scale=3.0, dtype=np.float64)
    flat = np.concatenate([p.grad.data.ravel() for p in params])
    norm = np.linalg.norm(flat)
    total = clip_grad_norm_(params, 1.0)
    assert total.item() == pytest.approx(norm, rel=1e-12)
    clipped = np.concatenate([p.grad.data.ravel() for p in params])
    np.testing.assert_allclose(clipped, flat / (norm + 1e-6), rtol=1e-12)
    assert np.linalg.norm(clipped) <= 1.0
    # a single tensor works too, and small gradients are left alone
    p = _params_with_grads(scale=1e-3, dtype=np.float64)[0]
    before = p.grad.data.copy()
    clip_grad_norm_(p, 1.0)
    np.testing.assert_array_equal(p.grad.data, before)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_clip_grad_norm_nonfinite(bad):
    params = _params_with_grads()
    params[1].grad.data[2] = bad
    before = [p.grad.data.copy() for p in params]
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    for p, b in zip(params, before):
        np.testing.assert_array_equal(p.grad.data, b)
    total = clip_grad_norm_(params, 1.0)
    assert not math.isfinite(total.item())


def test_clip_grad_norm_without_grads_returns_zero():
    p = nn.Parameter(mg.ones(3))
    assert clip_grad_norm_([p], 1.0).item() == 0.0


@needs_torch
def test_clip_grad_value_matches_torch():
    params = _params_with_grads(scale=2.0)
    twins = _torch_twins(params)
    clip_grad_value_(params, 0.7)
    torch.nn.utils.clip_grad_value_(twins, 0.7)
    for p, t in zip(params, twins):
        np.testing.assert_array_equal(p.grad.data, t.grad.numpy())
        assert np.abs(p.grad.data).max() <= np.float32(0.7)


def test_parameters_to_vector_and_back():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    vec = parameters_to_vector(model.parameters())
    expected = np.concatenate([p.data.ravel() for p in model.parameters()])
    np.testing.assert_array_equal(vec.data, expected)
    (vec * vec).sum().backward()  # differentiable, like torch's
    for p in model.parameters():
        np.testing.assert_allclose(p.grad.data, 2 * p.data)
    new = mg.arange(vec.numel(), dtype=mg.float32)
    vector_to_parameters(new, model.parameters())
    np.testing.assert_array_equal(parameters_to_vector(model.parameters()).data, new.data)
    np.testing.assert_array_equal(model[0].weight.data, np.arange(12, dtype=np.float32).reshape(4, 3))
    with pytest.raises(RuntimeError, match="expected a 1-d vector of 26 elements"):
        vector_to_parameters(mg.zeros(5), model.parameters())
    with pytest.raises(TypeError, match="expected a Tensor"):
        vector_to_parameters(np.zeros(26), model.parameters())
