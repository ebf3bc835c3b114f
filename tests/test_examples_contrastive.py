"""Paper-specific checks for the contrastive examples: SimCLR, MoCo v2, MoCo v3 and MoBY."""

import math

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the examples need the 'examples' extra (scikit-learn)")

import minigrad as mg  # noqa: E402
import minigrad.nn.functional as F  # noqa: E402
from examples.common.contrastive import KeyQueue, contrastive_in_batch, info_nce, nt_xent  # noqa: E402
from minigrad.optim.ema import ModelEMA  # noqa: E402


def _log_softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _images(n, seed=0):
    return mg.tensor(np.random.default_rng(seed).random((n, 1, 32, 32), dtype=np.float32))


# ---------------------------------------------------------------------------------------------- losses
def test_nt_xent_matches_a_direct_numpy_implementation():
    rng = np.random.default_rng(0)
    z1, z2 = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
    tau = 0.3
    z = _unit(np.concatenate([z1, z2]))
    sims = z @ z.T / tau
    np.fill_diagonal(sims, -np.inf)
    positives = np.concatenate([np.arange(6, 12), np.arange(6)])
    expected = -_log_softmax(sims)[np.arange(12), positives].mean()
    got = nt_xent(mg.tensor(z1, dtype=mg.float32), mg.tensor(z2, dtype=mg.float32), tau).item()
    assert got == pytest.approx(expected, rel=1e-4)


def test_nt_xent_is_low_when_views_agree_and_others_differ():
    z = mg.eye(8)  # orthogonal images, identical views
    assert nt_xent(z, z, 0.1).item() < 0.01
    assert nt_xent(z, mg.roll(z, 1, dims=0), 0.1).item() > math.log(15)  # positives are the wrong pairs


def test_info_nce_puts_the_positive_in_column_zero():
    rng = np.random.default_rng(1)
    q, k, queue = (_unit(rng.normal(size=shape)) for shape in [(4, 3), (4, 3), (7, 3)])
    logits = np.concatenate([(q * k).sum(1, keepdims=True), q @ queue.T], axis=1) / 0.2
    expected = -_log_softmax(logits)[:, 0].mean()
    got = info_nce(*(mg.tensor(a, dtype=mg.float32) for a in (q, k, queue)), temperature=0.2).item()
    assert got == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("tau", [0.1, 0.2, 1.0])
def test_moco_v3_loss_is_scaled_by_two_tau(tau):
    rng = np.random.default_rng(2)
    q, k = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    logits = _unit(q) @ _unit(k).T / tau
    expected = 2 * tau * -np.diag(_log_softmax(logits)).mean()
    got = contrastive_in_batch(mg.tensor(q, dtype=mg.float32), mg.tensor(k, dtype=mg.float32), tau).item()
    assert got == pytest.approx(expected, rel=1e-4)


# ---------------------------------------------------------------------------------------------- SimCLR
def test_simclr_loss_at_random_init_is_close_to_log_2n_minus_1(tmp_path):
    from examples.common.runner import run_example

    metrics = run_example("simclr", preset="smoke", out=str(tmp_path), seed=0)
    assert metrics["log_2n_minus_1"] == pytest.approx(math.log(2 * 32 - 1))
    # Equal similarities give exactly log(2N - 1); their spread at random init adds about var/2.
    assert metrics["initial_loss"] == pytest.approx(metrics["log_2n_minus_1"], rel=0.05)
    assert {"linear_probe_h", "linear_probe_z"} <= set(metrics)


# ---------------------------------------------------------------------------------------------- MoCo v2
def test_queue_pointer_wraps_and_overwrites_the_oldest_keys():
    queue = KeyQueue(dim=2, size=5)
    queue.enqueue(mg.tensor([[1.0, 0], [2, 0], [3, 0]]))
    assert int(queue.ptr.item()) == 3
    queue.enqueue(mg.tensor([[4.0, 0], [5, 0], [6, 0]]))  # 4, 5 fill slots 3, 4; 6 wraps to slot 0
    assert int(queue.ptr.item()) == 1
    np.testing.assert_array_equal(queue.keys.numpy()[:, 0], [6, 2, 3, 4, 5])
    with pytest.raises(ValueError):
        queue.enqueue(mg.zeros(6, 2))


def test_queue_is_a_buffer_and_starts_with_unit_keys():
    queue = KeyQueue(dim=8, size=16)
    assert list(queue.parameters()) == []
    assert {name for name, _ in queue.named_buffers()} == {"keys", "ptr"}
    np.testing.assert_allclose(np.linalg.norm(queue.keys.numpy(), axis=1), 1.0, rtol=1e-5)


def _moco_v2_step(batch_size=16, queue_size=48):
    from examples.moco_v2.train import MoCoEncoder, keys_with_shuffled_bn, queries

    mg.manual_seed(0)
    rng = np.random.default_rng(0)
    encoder_q = MoCoEncoder(widths=(4, 8), dim=16)
    encoder_k = ModelEMA(encoder_q, momentum=0.99)
    queue = KeyQueue(16, queue_size)
    for seed in range(queue_size // batch_size):  # a dictionary of real keys
        queue.enqueue(keys_with_shuffled_bn(encoder_k.module, _images(batch_size, seed), 2, rng))
    x = _images(batch_size, seed=99)
    q = queries(encoder_q, x, 2)
    k = keys_with_shuffled_bn(encoder_k.module, x + 0.01 * mg.randn(*x.shape), 2, rng)
    return encoder_q, encoder_k, queue, q, k


def test_moco_v2_initial_loss_is_about_log_k_plus_1():
    _, _, queue, q, k = _moco_v2_step(queue_size=64)
    loss = info_nce(q, k, queue.keys, temperature=0.2).item()
    assert loss == pytest.approx(math.log(64 + 1), rel=0.05)


def test_moco_v2_keys_carry_no_gradient():
    encoder_q, encoder_k, queue, q, k = _moco_v2_step()
    assert not k.requires_grad and not queue.keys.requires_grad
    info_nce(q, k, queue.keys, temperature=0.2).backward()
    assert all(p.grad is None for p in encoder_k.module.parameters())
    assert all(p.grad is not None for p in encoder_q.parameters())
    assert queue.keys.grad is None


def test_moco_v2_momentum_update_moves_keys_towards_queries():
    encoder_q, encoder_k, *_ = _moco_v2_step()
    for p in encoder_q.parameters():
        p.data += 1.0
    before = [p.detach().numpy().copy() for p in encoder_k.module.parameters()]
    encoder_k.update(encoder_q, momentum=0.9)
    for old, new in zip(before, encoder_k.module.parameters()):
        np.testing.assert_allclose(new.numpy(), old + 0.1 * 1.0, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------------- MoCo v3, MoBY
def _tiny_vit_config(freeze):
    return {"patch_size": 8, "dim": 16, "depth": 1, "heads": 2, "proj_dim": 8, "hidden": 16,
            "freeze_patch_embed": freeze}


@pytest.mark.parametrize("freeze", [True, False])
def test_moco_v3_frozen_patch_projection_stays_random(freeze):
    from examples.moco_v3.train import Encoder

    mg.manual_seed(0)
    encoder = Encoder(_tiny_vit_config(freeze))
    weight_before = encoder.backbone.patch_embed.proj.weight.detach().numpy().copy()
    parameters = [p for p in encoder.parameters() if p.requires_grad]
    optimizer = mg.optim.AdamW(parameters, lr=1e-2)
    x1, x2 = _images(8, 0), _images(8, 1)
    loss = contrastive_in_batch(encoder(x1), encoder(x2), 0.2)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    moved = not np.allclose(encoder.backbone.patch_embed.proj.weight.detach().numpy(), weight_before)
    assert moved is not freeze
    assert (encoder.backbone.patch_embed.proj.weight.grad is None) is freeze


def test_moby_target_branch_gets_no_gradient_and_queues_fill():
    from examples.common.heads import mlp_head
    from examples.moby.train import Branch

    mg.manual_seed(0)
    online = Branch(_tiny_vit_config(False))
    predictor = mlp_head(8, 16, 8)
    target = ModelEMA(online, momentum=0.99)
    queue = KeyQueue(8, 16)
    x1, x2 = _images(8, 0), _images(8, 1)
    q1 = F.normalize(predictor(online(x1)), dim=1)
    with mg.no_grad():
        k2 = F.normalize(target(x2), dim=1)
    info_nce(q1, k2, queue.keys, 0.2).backward()
    assert all(p.grad is None for p in target.module.parameters())
    assert all(p.grad is not None for p in predictor.parameters())
    queue.enqueue(k2)
    np.testing.assert_allclose(queue.keys.numpy()[:8], k2.numpy())
