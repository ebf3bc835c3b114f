"""MAE (He et al., 2022, "Masked Autoencoders Are Scalable Vision Learners") on unlabelled hard digits.

Pre-trains the shared ViT as the encoder of a masked autoencoder (``model.py``): mask 75% of the
patches per sample, encode the visible ones, reconstruct the masked ones' pixels with a light
decoder. The cpu and gpu presets reconstruct plain pixels (``norm_pix_loss=False``): on these noisy
images the paper's per-patch normalised target is mostly amplified noise (see the README). The
encoder is then probed with the shared three-way evaluation (mean of the patch tokens, all patches
visible), and a figure shows originals, masked inputs and reconstructions.
"""

from __future__ import annotations

import copy

import numpy as np

import minigrad as mg
from minigrad import transforms as T
from minigrad.optim.lr_scheduler import warmup_cosine

from ..common.backbones import VisionTransformer
from ..common.data import batches, unlabeled_images
from ..common.evaluation import evaluate, format_table, make_eval_data
from .model import MaskedAutoencoder, PooledFeatures, patchify, unpatchify

DESCRIPTION = "MAE (He et al. 2022): 75% per-sample masking, light decoder, loss on masked patches; ViT encoder probed"

PRESETS = {
    "smoke": {"dim": 32, "depth": 1, "heads": 2, "mlp_ratio": 2.0, "patch_size": 4, "decoder_dim": 16,
              "decoder_depth": 1, "decoder_heads": 2, "mask_ratio": 0.75, "norm_pix_loss": True, "copies": 1,
              "limit": 64, "epochs": 1, "batch_size": 32, "lr": 1e-3, "weight_decay": 0.05, "warmup_epochs": 0,
              "crop_scale": (0.35, 1.0), "pooling": "mean", "eval_max_train": 100, "eval_max_test": 50},
    "cpu": {"dim": 64, "depth": 4, "heads": 4, "mlp_ratio": 2.0, "patch_size": 4, "decoder_dim": 32,
            "decoder_depth": 2, "decoder_heads": 4, "mask_ratio": 0.75, "norm_pix_loss": False, "copies": 4,
            "limit": None, "epochs": 8, "batch_size": 64, "lr": 1.5e-3, "weight_decay": 0.05, "warmup_epochs": 1,
            "crop_scale": (0.35, 1.0), "pooling": "mean", "eval_max_train": None, "eval_max_test": None},
    "gpu": {"dim": 192, "depth": 8, "heads": 6, "mlp_ratio": 4.0, "patch_size": 4, "decoder_dim": 128,
            "decoder_depth": 4, "decoder_heads": 4, "mask_ratio": 0.75, "norm_pix_loss": False, "copies": 20,
            "limit": None, "epochs": 200, "batch_size": 256, "lr": 1.5e-3, "weight_decay": 0.05, "warmup_epochs": 20,
            "crop_scale": (0.35, 1.0), "pooling": "mean", "eval_max_train": None, "eval_max_test": None},
}

CANVAS = 32


def augmentation(crop_scale: tuple) -> T.RandomResizedCrop:
    """MAE's only augmentation: random resized crops (no flips: a mirrored 2 is not a 2)."""
    return T.RandomResizedCrop(CANVAS, scale=crop_scale, ratio=(0.75, 1.33))


@mg.no_grad()
def plot_reconstructions(mae: MaskedAutoencoder, images: np.ndarray, path, device: str) -> None:
    """Rows: originals, masked inputs (masked patches grey), reconstructions (predicted masked
    patches, de-normalised with each patch's own mean/std, pasted beside the visible ones)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mae.eval()
    x = mg.tensor(images, device=device)
    _, pred, mask = mae(x)
    mae.train()
    patches = patchify(x, mae.patch_size)
    if mae.norm_pix_loss:
        mean = patches.mean(dim=-1, keepdim=True)
        std = (patches.var(dim=-1, keepdim=True, correction=0) + 1e-6) ** 0.5
        pred = pred * std + mean
    keep = (1 - mask).unsqueeze(-1)
    masked_input = unpatchify(patches * keep + 0.5 * (1 - keep), mae.patch_size, mae.in_chans)
    reconstruction = unpatchify(patches * keep + pred * (1 - keep), mae.patch_size, mae.in_chans)
    rows = [("original", images), ("masked input", masked_input.cpu().numpy()),
            ("reconstruction", reconstruction.clamp(0, 1).cpu().numpy())]
    fig, axes = plt.subplots(3, len(images), figsize=(1.3 * len(images), 4.2))
    for r, (title, batch) in enumerate(rows):
        for i in range(len(images)):
            axes[r, i].imshow(batch[i, 0], cmap="gray", vmin=0, vmax=1)
            axes[r, i].axis("off")
        axes[r, 0].set_title(title, fontsize=8, loc="left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(config: dict, ctx) -> dict:
    device = ctx.device
    images = unlabeled_images(canvas=CANVAS, copies=config["copies"], limit=config["limit"])
    augment = augmentation(tuple(config["crop_scale"]))
    data = make_eval_data(canvas=CANVAS, labels_per_class=10, augment=augment, max_train=config["eval_max_train"],
                          max_test=config["eval_max_test"])

    encoder = VisionTransformer(img_size=CANVAS, patch_size=config["patch_size"], dim=config["dim"],
                                depth=config["depth"], heads=config["heads"], mlp_ratio=config["mlp_ratio"])
    mae = MaskedAutoencoder(encoder, config["decoder_dim"], config["decoder_depth"], config["decoder_heads"],
                            config["mask_ratio"], config["norm_pix_loss"]).to(device)
    random_encoder = copy.deepcopy(mae.encoder)  # same architecture and fixed positions, never trained
    parameters = [p for p in mae.parameters() if p.requires_grad]
    optimizer = mg.optim.AdamW(parameters, lr=config["lr"], betas=(0.9, 0.95), weight_decay=config["weight_decay"])
    steps_per_epoch = len(images) // config["batch_size"]
    total = config["epochs"] * steps_per_epoch
    scheduler = warmup_cosine(optimizer, config["warmup_epochs"] * steps_per_epoch, total)

    rng = np.random.default_rng(ctx.seed)
    step = 0
    bar = ctx.progress(total=total, desc="mae")
    for epoch in range(config["epochs"]):
        loss_sum, seen = 0.0, 0
        for batch in batches(images, config["batch_size"], rng):
            loss, _, _ = mae(mg.tensor(augment(batch), device=device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
            loss_sum += loss.item() * len(batch)
            seen += len(batch)
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.3f}")
        ctx.log(step, loss=loss_sum / seen, epoch=epoch + 1, lr=optimizer.param_groups[0]["lr"])
    bar.close()

    ctx.plot(["loss"], "curves.png", title="MAE reconstruction loss (masked patches, normalised pixels)")
    plot_reconstructions(mae, data.test_images[:10], ctx.figure_path("reconstructions.png"), device)
    # the loss on held-out images with fresh masks: reconstruction, not memorisation
    # and the loss of predicting zeros (with norm_pix_loss: every patch flat), the trivial answer
    with mg.no_grad():
        test_images = mg.tensor(data.test_images, device=device)
        latent, mask, ids_restore = mae.forward_encoder(test_images, config["mask_ratio"])
        pred = mae.forward_decoder(latent, ids_restore)
        test_loss = mae.forward_loss(test_images, pred, mask).item()
        flat_loss = mae.forward_loss(test_images, mg.zeros_like(pred), mask).item()
    pooling = config["pooling"]
    results = evaluate(PooledFeatures(mae.encoder, pooling), PooledFeatures(random_encoder, pooling), data, device)
    print(format_table(results))
    return {
        "final_loss": loss_sum / seen,
        "test_reconstruction_loss": test_loss,
        "test_loss_predicting_zeros": flat_loss,
        "patches": mae.encoder.patch_embed.num_patches,
        "encoder_tokens_per_image": latent.shape[1],  # visible patches + [cls]
        "steps": step,
        "evaluation": results,
    }
