"""The non-contrastive examples (BYOL, SimSiam, DINO): the pieces each paper depends on."""

import math

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the examples need the 'examples' extra (scikit-learn)")

import minigrad as mg  # noqa: E402
from examples.byol.train import BYOL, byol_loss, regression_loss  # noqa: E402
from examples.common.collapse import entropy, kl_divergence, output_std  # noqa: E402
from examples.dino.train import PRESETS as DINO_PRESETS  # noqa: E402
from examples.dino.train import DINOLoss, DINONetwork, teacher_temperature  # noqa: E402
from examples.simsiam.train import D, SimSiam, simsiam_loss  # noqa: E402
from minigrad.optim.ema import cosine_momentum  # noqa: E402


def images(n=8, size=32, seed=0):
    return mg.tensor(np.random.default_rng(seed).random((n, 1, size, size), dtype=np.float32))


# ---------------------------------------------------------------------------------------------- collapse metrics
def test_output_std_is_zero_for_a_constant_and_near_one_over_sqrt_d_for_spread_outputs():
    d = 64
    constant = mg.tensor(np.tile(np.random.default_rng(0).normal(size=(1, d)), (256, 1)).astype(np.float32))
    spread = mg.tensor(np.random.default_rng(1).normal(size=(4096, d)).astype(np.float32))
    assert output_std(constant) < 1e-6
    assert abs(output_std(spread) - 1 / math.sqrt(d)) < 0.01 / math.sqrt(d) * 10


def test_entropy_and_kl_limits():
    k = 16
    uniform = mg.full((4, k), 1.0 / k)
    one_hot = mg.tensor(np.eye(k, dtype=np.float32)[:4])
    assert entropy(uniform) == pytest.approx(math.log(k), rel=1e-5)
    assert entropy(one_hot) == pytest.approx(0.0, abs=1e-5)
    p = mg.tensor(np.random.default_rng(0).dirichlet(np.ones(k), size=4).astype(np.float32))
    assert kl_divergence(p, p.log()) == pytest.approx(0.0, abs=1e-5)
    assert kl_divergence(p, uniform.log()) == pytest.approx(math.log(k) - entropy(p), rel=1e-4)


# ---------------------------------------------------------------------------------------------- BYOL
def test_cosine_momentum_schedule_endpoints():
    assert cosine_momentum(0, 100, base=0.99) == pytest.approx(0.99)
    assert cosine_momentum(50, 100, base=0.99) == pytest.approx(0.995)
    assert cosine_momentum(100, 100, base=0.99) == pytest.approx(1.0)
    taus = [cosine_momentum(k, 100, base=0.99) for k in range(101)]
    assert all(a <= b for a, b in zip(taus, taus[1:]))


def test_byol_regression_loss_is_two_minus_two_cosine():
    rng = np.random.default_rng(0)
    p, z = rng.normal(size=(5, 7)), rng.normal(size=(5, 7))
    cos = (p * z).sum(1) / np.linalg.norm(p, axis=1) / np.linalg.norm(z, axis=1)
    got = regression_loss(mg.tensor(p.astype(np.float32)), mg.tensor(z.astype(np.float32))).item()
    assert got == pytest.approx(float(np.mean(2 - 2 * cos)), rel=1e-5)
    assert regression_loss(mg.tensor(p.astype(np.float32)), mg.tensor(3 * p.astype(np.float32))).item() < 1e-5


def test_byol_gradient_reaches_the_online_network_only():
    mg.manual_seed(0)
    model = BYOL((4, 8, 8), hidden_dim=16, proj_dim=8)
    loss = byol_loss(*model(images(6), images(6, seed=1)))
    loss.backward()
    assert all(p.grad is None for p in model.target.parameters())
    online = [p.grad for p in model.online.parameters()] + [p.grad for p in model.predictor.parameters()]
    assert all(g is not None for g in online)
    assert sum(float(np.abs(g.numpy()).sum()) for g in online) > 0


def test_byol_target_update_is_the_ema_of_the_online_network():
    mg.manual_seed(0)
    model = BYOL((4, 8, 8), hidden_dim=16, proj_dim=8)
    with mg.no_grad():
        for p in model.online.parameters():  # move the online network away from the target
            p.add_(1.0)
    before = [p.numpy().copy() for p in model.target.parameters()]
    online = [p.detach().numpy().copy() for p in model.online.parameters()]
    model.update_target(0.75)
    for t, b, o in zip(model.target.parameters(), before, online):
        np.testing.assert_allclose(t.numpy(), 0.75 * b + 0.25 * o, rtol=1e-5, atol=1e-6)
    model.update_target(0.0)  # tau = 0: the ablation's target is the online network
    for t, o in zip(model.target.parameters(), online):
        np.testing.assert_allclose(t.numpy(), o, rtol=1e-6)


# ---------------------------------------------------------------------------------------------- SimSiam
def test_simsiam_stop_gradient_stops_the_gradient_into_z():
    rng = np.random.default_rng(0)
    for stop_gradient in (True, False):
        p = mg.tensor(rng.normal(size=(4, 6)).astype(np.float32), requires_grad=True)
        z = mg.tensor(rng.normal(size=(4, 6)).astype(np.float32), requires_grad=True)
        D(p, z, stop_gradient).backward()
        assert p.grad is not None
        assert (z.grad is None) == stop_gradient


def test_simsiam_loss_is_minus_one_for_perfect_predictions_and_symmetric():
    rng = np.random.default_rng(0)
    z_1, z_2 = (mg.tensor(rng.normal(size=(4, 6)).astype(np.float32)) for _ in range(2))
    assert simsiam_loss(2 * z_2, 3 * z_1, z_1, z_2).item() == pytest.approx(-1.0, abs=1e-5)
    p_1, p_2 = (mg.tensor(rng.normal(size=(4, 6)).astype(np.float32)) for _ in range(2))
    assert simsiam_loss(p_1, p_2, z_1, z_2).item() == pytest.approx(simsiam_loss(p_2, p_1, z_2, z_1).item(), rel=1e-6)


def test_simsiam_z_gets_gradient_only_through_its_own_prediction():
    mg.manual_seed(0)
    predictor = SimSiam((4, 8, 8), proj_dim=16, pred_hidden=4).predictor
    rng = np.random.default_rng(0)
    z_1_data, z_2_data = (rng.normal(size=(6, 16)).astype(np.float32) for _ in range(2))
    grads = {}
    for stop_gradient in (True, False):
        z_1, z_2 = mg.tensor(z_1_data, requires_grad=True), mg.tensor(z_2_data, requires_grad=True)
        simsiam_loss(predictor(z_1), predictor(z_2), z_1, z_2, stop_gradient).backward()
        grads[stop_gradient] = z_1.grad.numpy()
    z_1, z_2 = mg.tensor(z_1_data, requires_grad=True), mg.tensor(z_2_data)
    (D(predictor(z_1), z_2) / 2).backward()  # the prediction term alone
    np.testing.assert_allclose(grads[True], z_1.grad.numpy(), rtol=1e-4, atol=1e-7)
    assert np.abs(grads[False] - z_1.grad.numpy()).max() > 1e-4


# ---------------------------------------------------------------------------------------------- DINO
def dino_reference(student, teacher, center, tau_s, tau_t):
    """NumPy: mean over pairs (iq, v != iq) of the cross-entropy H(P_t(iq), P_s(v))."""
    def softmax(x):
        e = np.exp(x - x.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    terms = []
    for iq, t in enumerate(teacher):
        p_t = softmax((t - center) / tau_t)
        for v, s in enumerate(student):
            if v != iq:
                terms.append(-(p_t * np.log(softmax(s / tau_s))).sum(-1).mean())
    return float(np.mean(terms)), len(terms)


def test_dino_loss_matches_the_pairs_of_different_crops_and_updates_the_center():
    rng = np.random.default_rng(0)
    k, n = 10, 5
    student = [rng.normal(size=(n, k)).astype(np.float32) for _ in range(4)]  # 2 global + 2 local crops
    teacher = [rng.normal(size=(n, k)).astype(np.float32) for _ in range(2)]
    criterion = DINOLoss(k, student_temp=0.1, center_momentum=0.9)
    criterion.center.copy_(mg.tensor(rng.normal(size=(1, k)).astype(np.float32)))
    center = criterion.center.numpy().copy()
    loss, _, _ = criterion([mg.tensor(s) for s in student], [mg.tensor(t) for t in teacher], teacher_temp=0.04)
    expected, pairs = dino_reference(student, teacher, center, 0.1, 0.04)
    assert pairs == 2 * 4 - 2
    assert loss.item() == pytest.approx(expected, rel=1e-4)
    new_center = 0.9 * center + 0.1 * np.concatenate(teacher).mean(0, keepdims=True)
    np.testing.assert_allclose(criterion.center.numpy(), new_center, rtol=1e-5, atol=1e-6)


def test_dino_centering_flattens_and_sharpening_peaks_the_teacher():
    rng = np.random.default_rng(0)
    k = 32
    # a collapsed teacher: the same logits for every image
    teacher = mg.tensor(np.tile(rng.normal(size=(1, k)), (8, 1)).astype(np.float32))
    criterion = DINOLoss(k, student_temp=0.1, center_momentum=0.0)
    criterion.update_center([teacher])  # momentum 0: the center is the batch mean
    assert entropy(criterion.teacher_probs(teacher, 0.04)) == pytest.approx(math.log(k), rel=1e-4)
    no_center = DINOLoss(k, student_temp=0.1, center_momentum=0.9, centering=False)
    no_center.update_center([teacher])
    assert float(np.abs(no_center.center.numpy()).max()) == 0.0
    entropies = [entropy(no_center.teacher_probs(teacher, t)) for t in (1.0, 0.1, 0.04, 0.01)]
    assert all(a > b for a, b in zip(entropies, entropies[1:]))


def test_dino_teacher_temperature_warmup():
    config = {"warmup_teacher_temp": 0.04, "teacher_temp": 0.07, "teacher_temp_warmup_frac": 0.5}
    assert teacher_temperature(0, 100, config) == pytest.approx(0.04)
    assert teacher_temperature(25, 100, config) == pytest.approx(0.055)
    assert teacher_temperature(50, 100, config) == pytest.approx(0.07)
    assert teacher_temperature(99, 100, config) == pytest.approx(0.07)


def test_dino_network_takes_global_and_local_crops():
    mg.manual_seed(0)
    network = DINONetwork(DINO_PRESETS["smoke"])
    k = DINO_PRESETS["smoke"]["num_prototypes"]
    assert network(images(3)).shape == (3, k)
    assert network(images(3, size=16)).shape == (3, k)
    # at full size the features are the backbone's own [cls] feature
    features, cls = network.features(images(3)).detach().numpy(), network.backbone(images(3)).detach().numpy()
    np.testing.assert_allclose(features, cls, rtol=1e-5, atol=1e-6)
    logits = network(images(3)).detach().numpy()
    assert np.all(np.abs(logits) <= 1 + 1e-5)  # cosines: normalised features and prototypes


def test_simsiam_collapses_without_stop_gradient_on_a_tiny_config():
    """The paper's Fig. 2 in miniature (projector without its output BN, see the example's README)."""
    from examples.common.data import ssl_augmentation
    from examples.simsiam.train import to_tensor

    data = np.random.default_rng(0).random((32, 1, 12, 12), dtype=np.float32)
    stds = {}
    for stop_gradient in (True, False):
        mg.manual_seed(0)
        model = SimSiam((4, 8, 8), proj_dim=32, pred_hidden=8, output_batch_norm=False)
        optimizer = mg.optim.AdamW(model.parameters(), lr=3e-3)
        augment = ssl_augmentation(12, seed=0)
        for _ in range(25):
            loss = simsiam_loss(*model(to_tensor(augment(data), "cpu"), to_tensor(augment(data), "cpu")),
                                stop_gradient=stop_gradient)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        stds[stop_gradient] = output_std(model(to_tensor(data, "cpu"), to_tensor(data, "cpu"))[2])
    assert stds[False] < 0.5 * stds[True]
