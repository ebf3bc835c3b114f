"""Model EMA (momentum encoders): the update rule, buffers, errors, and the BYOL/DINO momentum schedule."""

import math

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad.optim import ModelEMA, cosine_momentum, ema_update_


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.register_buffer("running", mg.zeros(2))
        self.register_buffer("count", mg.tensor(0))

    def forward(self, x):
        return self.fc(x)


def _pair():
    mg.manual_seed(0)
    target, online = _Net(), _Net()
    online.running.data[...] = [1.0, 2.0]
    online.count.data[...] = 7
    return target, online


@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.99, 1.0])
def test_ema_update_follows_the_rule(momentum):
    target, online = _pair()
    t_before = {k: v.data.copy() for k, v in target.state_dict().items()}
    o_values = {k: v.data.copy() for k, v in online.state_dict().items()}
    ema_update_(target, online, momentum)
    for name in ("fc.weight", "fc.bias"):
        expected = momentum * t_before[name] + (1 - momentum) * o_values[name]
        np.testing.assert_allclose(target.state_dict()[name].data, expected, rtol=1e-6, atol=1e-7)
        assert target.state_dict()[name].dtype == mg.float32
    # buffers are copied from the online model
    np.testing.assert_array_equal(target.running.data, [1.0, 2.0])
    assert target.count.item() == 7
    # the online model is untouched
    for k, v in online.state_dict().items():
        np.testing.assert_array_equal(v.data, o_values[k])


def test_ema_of_buffers():
    target, online = _pair()
    target.running.data[...] = [3.0, 3.0]
    ema_update_(target, online, 0.75, buffers="ema")
    np.testing.assert_allclose(target.running.data, [0.75 * 3 + 0.25 * 1, 0.75 * 3 + 0.25 * 2])
    assert target.count.item() == 7  # integer buffers are always copied


def test_repeated_updates_converge_geometrically():
    target, online = _pair()
    w0, w = target.fc.weight.data.copy(), online.fc.weight.data.copy()
    for _ in range(10):
        ema_update_(target, online, 0.9)
    np.testing.assert_allclose(target.fc.weight.data, w + 0.9**10 * (w0 - w), rtol=1e-5, atol=1e-6)


def test_model_ema_is_a_frozen_copy():
    _, online = _pair()
    ema = ModelEMA(online, momentum=0.5)
    assert all(not p.requires_grad for p in ema.module.parameters())
    assert ema.module.fc.weight is not online.fc.weight
    start = ema.module.fc.weight.data.copy()
    with mg.no_grad():
        online.fc.weight.data[...] += 1.0
    ema.update(online)
    np.testing.assert_allclose(ema.module.fc.weight.data, start + 0.5, rtol=1e-6)
    ema.update(online, momentum=0.0)
    np.testing.assert_array_equal(ema.module.fc.weight.data, online.fc.weight.data)
    x = mg.randn(4, 3)
    np.testing.assert_allclose(ema(x).data, online(x).data, rtol=1e-6)
    assert set(ema.state_dict()) == set(online.state_dict())


def test_mismatched_models_are_refused_before_any_write():
    target, online = _pair()
    other = nn.Linear(3, 2)
    before = target.fc.weight.data.copy()
    with pytest.raises(RuntimeError, match="differ in their parameters"):
        ema_update_(target, other, 0.9)
    wide = _Net()
    wide.fc = nn.Linear(3, 5)
    with pytest.raises(RuntimeError, match=r"shape mismatch for fc.weight: target \(2, 3\), online \(5, 3\)"):
        ema_update_(target, wide, 0.9)
    np.testing.assert_array_equal(target.fc.weight.data, before)
    with pytest.raises(ValueError, match="momentum must be in"):
        ema_update_(target, online, 1.5)


def test_cosine_momentum_schedule():
    total = 100
    assert cosine_momentum(0, total) == pytest.approx(0.996)
    assert cosine_momentum(total, total) == pytest.approx(1.0)
    assert cosine_momentum(total // 2, total) == pytest.approx(0.998)
    for k in range(total + 1):
        # BYOL: tau = 1 - (1 - tau_base) (cos(pi k / K) + 1) / 2
        assert cosine_momentum(k, total) == pytest.approx(1 - (1 - 0.996) * (math.cos(math.pi * k / total) + 1) / 2,
                                                          rel=1e-15)
    values = [cosine_momentum(k, total, base=0.99, final=0.999) for k in range(total + 1)]
    assert values[0] == pytest.approx(0.99) and values[-1] == pytest.approx(0.999)
    assert all(a <= b for a, b in zip(values, values[1:]))
