"""Paper-specific tests for the instance-discrimination family: InstDisc, SwAV and CMC."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn.functional as F

pytest.importorskip("sklearn", reason="the examples need the 'examples' extra (scikit-learn)")

from examples.cmc.train import CMCNet, cmc_loss, sobel_gradients  # noqa: E402
from examples.common.clustering import sinkhorn_knopp  # noqa: E402
from examples.instdisc.model import MemoryBank, NCECriterion  # noqa: E402
from examples.instdisc.train import InstDiscNet  # noqa: E402
from examples.swav.train import SwAVNet, swapped_prediction_loss  # noqa: E402


def hard_digit_batch(n: int = 64) -> mg.Tensor:
    rng = np.random.default_rng(0)
    images = rng.random((n, 1, 32, 32)).astype(np.float32) * (rng.random((n, 1, 32, 32)) < 0.2)
    return mg.tensor(images)


def unit_rows(n: int, d: int, seed: int) -> mg.Tensor:
    rng = np.random.default_rng(seed)
    return F.normalize(mg.tensor(rng.standard_normal((n, d)).astype(np.float32)), dim=1)


# ----------------------------------------------------------------------------------------------
# InstDisc: memory bank and NCE
# ----------------------------------------------------------------------------------------------
def test_nce_normaliser_is_fixed_after_the_first_batch():
    mg.manual_seed(0)
    bank = MemoryBank(200, 16)
    criterion = NCECriterion(num_data=200, num_noise=32, temperature=1.0)
    assert criterion.Z is None
    index = mg.arange(8)
    criterion(unit_rows(8, 16, seed=1), index, bank)
    first_Z = criterion.Z
    # Monte Carlo estimate of n * E[exp(v . f / tau)]; random unit vectors in 16-d, tau = 1: about 1.03 n
    assert 0.8 * 200 < first_Z < 1.3 * 200
    bank.update(index, unit_rows(8, 16, seed=2))
    criterion(bank[index], index, bank)  # features on their bank rows: every similarity changed
    assert criterion.Z == first_Z


@given(st.floats(0.0, 0.95), st.integers(1, 20))
def test_bank_rows_stay_unit_norm_and_follow_the_momentum_update(momentum, batch):
    bank = MemoryBank(50, 8, momentum=momentum)
    before = bank.vectors.numpy().copy()
    index = np.random.default_rng(batch).choice(50, size=batch, replace=False)
    new = mg.tensor(np.random.default_rng(batch + 1).standard_normal((batch, 8)).astype(np.float32) * 3)
    bank.update(mg.tensor(index), new)
    after = bank.vectors.numpy()
    np.testing.assert_allclose(np.linalg.norm(after, axis=1), 1.0, atol=1e-5)
    expected = momentum * before[index] + (1 - momentum) * new.numpy()
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(after[index], expected, atol=1e-5)
    untouched = np.setdiff1d(np.arange(50), index)
    np.testing.assert_array_equal(after[untouched], before[untouched])


def test_bank_holds_no_graph_and_gradient_reaches_only_the_network():
    mg.manual_seed(0)
    model = InstDiscNet(widths=(4, 8, 8), embedding_dim=16)
    bank = MemoryBank(64, 16)
    criterion = NCECriterion(num_data=64, num_noise=16)
    index = mg.arange(8)
    features = model(hard_digit_batch(8))
    loss = criterion(features, index, bank)
    bank.update(index, features)
    assert not bank.vectors.requires_grad and bank.vectors.grad_fn is None
    loss.backward()  # the bank update did not touch the graph the loss needs
    assert bank.vectors.grad is None
    assert all(p.grad is not None for p in model.parameters())


def test_bank_filled_from_features_is_unit_norm_and_detached():
    bank = MemoryBank(6, 4)
    features = mg.tensor(np.arange(24, dtype=np.float32).reshape(6, 4) + 1, requires_grad=True)
    bank.fill(features * 2)
    np.testing.assert_allclose(np.linalg.norm(bank.vectors.numpy(), axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(bank.vectors.numpy(), F.normalize(features, dim=1).detach().numpy(), atol=1e-6)
    assert not bank.vectors.requires_grad


def test_nce_loss_is_lower_when_the_feature_matches_its_own_bank_entry():
    bank = MemoryBank(100, 32)
    index = mg.arange(10)
    criterion = NCECriterion(num_data=100, num_noise=20)
    mg.manual_seed(3)
    matched = criterion(bank[index], index, bank).item()
    mg.manual_seed(3)  # the same noise draws
    unmatched = criterion(bank[mg.arange(10, 20)], index, bank).item()
    assert math.isfinite(matched) and matched < unmatched - 1.0


# ----------------------------------------------------------------------------------------------
# SwAV: Sinkhorn-Knopp codes and the swapped prediction
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1])
def test_sinkhorn_codes_are_balanced_at_random_init(seed):
    from examples.common.data import unlabeled_images

    mg.manual_seed(seed)
    model = SwAVNet(widths=(16, 32, 64), projection_dim=64, num_prototypes=30)  # the cpu preset's sizes
    scores = model(mg.tensor(unlabeled_images(canvas=32, limit=128))).detach()
    batch, k = scores.shape
    q = sinkhorn_knopp(scores, epsilon=0.05, iterations=3).numpy()
    assert (q >= 0).all() and math.isclose(q.sum(), 1.0, rel_tol=1e-5)  # a transport plan ...
    np.testing.assert_allclose(q.sum(axis=1), 1 / batch, rtol=1e-4)  # ... each sample carries 1/B
    np.testing.assert_allclose(q.sum(axis=0), 1 / k, rtol=0.15)  # ... each prototype gets ~1/K
    # without the equipartition, the same scores pile onto a few prototypes
    plain = F.softmax(scores / 0.05, dim=1).numpy()
    assert np.abs(plain.mean(0) * k - 1).max() > 3 * np.abs(q.sum(0) * k - 1).max()


def test_sinkhorn_converges_to_the_transport_polytope():
    scores = mg.tensor(np.random.default_rng(0).uniform(-1, 1, (48, 12)).astype(np.float32))
    errors = [np.abs(sinkhorn_knopp(scores, 0.05, n).numpy().sum(0) * 12 - 1).max() for n in (1, 3, 100)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-3


def test_sinkhorn_codes_carry_no_gradient():
    scores = mg.randn(8, 4, requires_grad=True)
    assert not sinkhorn_knopp(scores).requires_grad


def test_swapped_prediction_matches_the_two_crop_formula():
    rng = np.random.default_rng(0)
    s1, s2 = (mg.tensor(rng.uniform(-1, 1, (6, 5)).astype(np.float32)) for _ in range(2))
    q1, q2 = (sinkhorn_knopp(s, 0.05, 3) * 6 for s in (s1, s2))
    loss = swapped_prediction_loss([s1, s2], [q1, q2], temperature=0.1).item()

    def cross_entropy(q, s):
        log_p = s.numpy() / 0.1 - np.log(np.exp(s.numpy() / 0.1).sum(1, keepdims=True))
        return -(q.numpy() * log_p).sum(1).mean()

    assert math.isclose(loss, 0.5 * (cross_entropy(q1, s2) + cross_entropy(q2, s1)), rel_tol=1e-4)


def test_prototypes_are_unit_norm():
    model = SwAVNet(widths=(4, 8, 16), projection_dim=8, num_prototypes=5)
    with mg.no_grad():
        model.prototypes.weight.mul_(3.0)
    model.normalize_prototypes()
    np.testing.assert_allclose(np.linalg.norm(model.prototypes.weight.detach().numpy(), axis=1), 1.0, atol=1e-5)


# ----------------------------------------------------------------------------------------------
# CMC: two views, one encoder each, InfoNCE both ways
# ----------------------------------------------------------------------------------------------
def test_cmc_loss_is_2_log_batch_for_unrelated_views_and_small_for_matched_ones():
    z1, z2 = unit_rows(64, 512, seed=0), unit_rows(64, 512, seed=1)
    total, _, _ = cmc_loss(z1, z2, temperature=1.0)  # tau = 1: random logits stay near 0
    assert abs(total.item() - 2 * math.log(64)) < 0.1
    matched, _, _ = cmc_loss(z1, z1, temperature=0.07)
    assert matched.item() < 0.1


def test_cmc_loss_is_symmetric_in_the_views():
    z1, z2 = unit_rows(16, 8, seed=0), unit_rows(16, 8, seed=1)
    total, l12, l21 = cmc_loss(z1, z2, 0.07)
    swapped, s12, s21 = cmc_loss(z2, z1, 0.07)
    assert math.isclose(total.item(), swapped.item(), rel_tol=1e-5)
    assert math.isclose(l12.item(), s21.item(), rel_tol=1e-5) and not math.isclose(l12.item(), l21.item())


def test_sobel_view_is_the_image_gradient():
    ramp = np.tile(np.arange(8, dtype=np.float32), (8, 1))[None, None]  # intensity grows along x
    grads = sobel_gradients(mg.tensor(ramp)).numpy()
    np.testing.assert_allclose(grads[0, 0, 1:-1, 1:-1], 1.0, atol=1e-6)  # d/dx = slope 1
    np.testing.assert_allclose(grads[0, 1, 1:-1, 1:-1], 0.0, atol=1e-6)  # d/dy = 0


def test_cmc_trains_both_encoders_and_probes_their_concatenation():
    model = CMCNet(widths=(4, 8, 8), embedding_dim=16)
    images = hard_digit_batch(8)
    z1, z2 = model.embed(images, images)
    cmc_loss(z1, z2, 0.07)[0].backward()
    assert all(p.grad is not None for p in model.parameters())
    assert model(images).shape == (8, 2 * model.intensity.backbone.feature_dim)
