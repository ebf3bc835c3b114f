"""Paper-specific tests of the ViT and MAE examples, on tiny models (seconds)."""

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the examples need the 'examples' extra (scikit-learn)")

import minigrad as mg  # noqa: E402
import minigrad.nn.functional as F  # noqa: E402
from examples.common.backbones import VisionTransformer  # noqa: E402
from examples.mae.model import MaskedAutoencoder, patchify, random_masking, unpatchify  # noqa: E402
from examples.vit.train import cls_attention_maps  # noqa: E402


def tiny_vit(num_classes=0, dim=16):
    return VisionTransformer(img_size=16, patch_size=4, dim=dim, depth=2, heads=2, num_classes=num_classes)


def tiny_mae(mask_ratio=0.75):
    mg.manual_seed(0)
    return MaskedAutoencoder(tiny_vit(), decoder_dim=8, decoder_depth=1, decoder_heads=2, mask_ratio=mask_ratio)


def images(n=4, size=16, seed=0):
    return mg.tensor(np.random.default_rng(seed).random((n, 1, size, size), dtype=np.float32))


# ---------------------------------------------------------------------------------------------- ViT
@pytest.mark.parametrize("patch_size", [2, 4, 8])
def test_hybrid_stem_gives_the_patch_grid_and_trains_end_to_end(patch_size):
    """stem="conv" (the ViT paper's hybrid input): a CNN feature map with the same token grid as raw
    P x P patches of a 32x32 image, and gradients reach the convolutions."""
    model = VisionTransformer(img_size=32, patch_size=patch_size, dim=16, depth=1, heads=2, num_classes=10,
                              stem="conv")
    grid = (32 // patch_size) ** 2
    assert model.patch_embed.num_patches == grid == VisionTransformer(patch_size=patch_size).patch_embed.num_patches
    x = images(3, size=32)
    assert model.tokens(x).shape == (3, grid, 16)
    logits = model(x)
    assert logits.shape == (3, 10)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.patch_embed.parameters())


def test_mean_pool_is_the_average_of_the_final_patch_tokens():
    """pool="mean" (global average pooling, ViT paper App. D.3) averages the normed patch tokens and
    leaves out [cls]; pool="cls" returns [cls]. Same weights, so only the pooling differs."""
    mg.manual_seed(0)
    model = VisionTransformer(img_size=32, patch_size=8, dim=16, depth=1, heads=2, pool="mean").eval()
    x = images(2, size=32)
    with mg.no_grad():
        tokens = model.encode(model.tokens(x)).numpy()
        np.testing.assert_allclose(model(x).numpy(), tokens[:, 1:].mean(1), rtol=1e-5, atol=1e-6)
        model.pool = "cls"
        np.testing.assert_allclose(model(x).numpy(), tokens[:, 0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs, match", [({"stem": "conv", "patch_size": 6}, "power of two"),
                                           ({"stem": "conv", "patch_size": 64}, "power of two"),
                                           ({"stem": "pixels"}, "stem must be"),
                                           ({"pool": "max"}, "pool must be")])
def test_bad_stem_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        VisionTransformer(img_size=32, **{"patch_size": 4, **kwargs})


def test_vit_attention_rows_are_distributions_over_the_patch_grid():
    model = tiny_vit(num_classes=10)
    x = images(3)
    weights = model.last_attention(x).numpy()
    assert weights.shape == (3, 2, 1 + 16, 1 + 16)  # (N, heads, [cls] + 4x4 patches, same)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
    maps = cls_attention_maps(model, x.numpy())
    assert maps.shape == (3, 4, 4)
    np.testing.assert_allclose(maps.sum((1, 2)), 1.0 - weights[:, :, 0, 0].mean(1), atol=1e-5)


def test_vit_a_few_steps_reduce_the_loss_on_a_fixed_batch():
    mg.manual_seed(0)
    model = tiny_vit(num_classes=10, dim=32)
    x, y = images(16), mg.tensor(np.arange(16) % 10)
    optimizer = mg.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


# ---------------------------------------------------------------------------------------------- MAE
def test_patchify_and_unpatchify_are_inverse_and_match_the_token_order():
    x = images(2)
    patches = patchify(x, 4)
    assert patches.shape == (2, 16, 16)
    np.testing.assert_array_equal(unpatchify(patches, 4).numpy(), x.numpy())
    # token 1 is the patch in the first row of patches, second column (the ViT's row-major order)
    np.testing.assert_array_equal(patches.numpy()[:, 1], x.numpy()[:, 0, 0:4, 4:8].reshape(2, 16))


def test_ids_restore_inverts_the_shuffle():
    n, length, dim = 3, 16, 5
    x = mg.tensor(np.random.default_rng(1).standard_normal((n, length, dim)).astype(np.float32))
    noise = mg.rand(n, length)
    visible, mask, ids_restore = random_masking(x, 0.75, noise)
    ids_shuffle = noise.argsort(dim=1)
    order = ids_shuffle.gather(1, ids_restore).numpy()
    np.testing.assert_array_equal(order, np.tile(np.arange(length), (n, 1)))
    # visible tokens + placeholders, unshuffled with ids_restore, sit back where the mask says "kept"
    filled = mg.cat([visible, mg.zeros(n, length - visible.shape[1], dim)], dim=1)
    restored = filled.gather(1, ids_restore.unsqueeze(-1).expand(-1, -1, dim)).numpy()
    kept = mask.numpy() == 0
    np.testing.assert_array_equal(restored[kept], x.numpy()[kept])
    assert (restored[~kept] == 0).all()
    # the kept tokens are the ones with the smallest noise, each sample its own
    smallest = np.argsort(noise.numpy(), axis=1)[:, :visible.shape[1]]
    assert all(set(np.flatnonzero(kept[i])) == set(smallest[i]) for i in range(n))


def test_mask_ratio_masks_exactly_three_quarters_of_every_sample():
    _, mask, _ = random_masking(mg.zeros(5, 64, 3), 0.75)
    np.testing.assert_array_equal(mask.numpy().sum(1), 48)
    assert len({tuple(row) for row in mask.numpy()}) > 1  # per-sample masks, not one shared mask


def test_encoder_gets_exactly_the_visible_patches_and_cls():
    mae = tiny_mae()
    seen = []
    mae.encoder.blocks[0].register_forward_pre_hook(lambda module, args: seen.append(args[0].shape))
    latent, _, _ = mae.forward_encoder(images(2), 0.75)
    length = mae.encoder.patch_embed.num_patches
    assert seen == [(2, 1 + int(length * (1 - 0.75)), 16)]
    assert latent.shape == (2, 1 + 4, 16)
    _, pred, _ = mae(images(2))
    assert pred.shape == (2, length, 4 * 4)  # the decoder predicts every patch


def test_loss_ignores_the_pixels_of_visible_patches():
    mae = tiny_mae()
    x = images(3)
    latent, mask, ids_restore = mae.forward_encoder(x, 0.75)
    pred = mae.forward_decoder(latent, ids_restore).detach()
    loss = mae.forward_loss(x, pred, mask).item()
    # overwrite every visible patch of the target image with new random pixels
    patches = patchify(x, 4).numpy()
    visible = mask.numpy() == 0
    patches[visible] = np.random.default_rng(5).random(patches[visible].shape, dtype=np.float32)
    changed = unpatchify(mg.tensor(patches), 4)
    assert not np.allclose(changed.numpy(), x.numpy())
    assert mae.forward_loss(changed, pred, mask).item() == pytest.approx(loss, rel=1e-6)
    # while changing one masked patch does change it
    masked_index = np.argwhere(~visible)[0]
    patches[masked_index[0], masked_index[1]] = np.linspace(0, 1, 16, dtype=np.float32)
    assert mae.forward_loss(unpatchify(mg.tensor(patches), 4), pred, mask).item() != pytest.approx(loss, rel=1e-6)


def test_norm_pix_target_has_zero_mean_unit_variance_per_patch():
    mae = tiny_mae()
    target = mae.target(images(2)).numpy()
    np.testing.assert_allclose(target.mean(-1), 0.0, atol=1e-5)
    np.testing.assert_allclose(target.var(-1), 1.0, atol=1e-3)


def test_mae_a_few_steps_reduce_the_reconstruction_loss():
    mae = tiny_mae()
    # ramps in random directions: every normalised patch is predictable from the visible ones
    rng = np.random.default_rng(2)
    rows, cols = np.mgrid[0:16, 0:16] / 16
    slopes = rng.uniform(-1, 1, (8, 2, 1, 1))
    x = mg.tensor((0.5 + 0.4 * (slopes[:, 0] * rows + slopes[:, 1] * cols))[:, None].astype(np.float32))
    noise = mg.rand(8, 16)  # the same masks every step: a fixed problem
    parameters = [p for p in mae.parameters() if p.requires_grad]
    optimizer = mg.optim.AdamW(parameters, lr=1e-2)
    losses = []
    for _ in range(25):
        loss, _, _ = mae(x, noise=noise)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.75 * losses[0]
    assert not mae.encoder.pos_embed.requires_grad  # fixed sine-cosine positions, as the paper
