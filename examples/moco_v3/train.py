"""MoCo v3 (Chen, Xie & He, 2021): "An Empirical Study of Training Self-Supervised Vision Transformers".

MoCo without a queue: the keys are the other images of the same batch. The query encoder f_q is a
ViT backbone, a projection MLP and a prediction MLP; the momentum encoder f_k is an EMA of backbone
and projector (no predictor). Both views are used as queries and as keys, and the loss is symmetrised,

    L = ctr(q1, k2) + ctr(q2, k1),   ctr(q, k) = 2 tau * CE(q k^T / tau, diagonal).

The paper found ViT training unstable (dips in the loss and accuracy) and traced it to the patch
projection: keeping the random patch projection fixed (``freeze_patch_embed``) stabilises it.
That trick is for the pure ViT (``stem="patch"``); the cpu preset uses the ViT paper's hybrid
input (``stem="conv"``, a small CNN in place of the patch projection, trained) and mean-pooled
patch tokens, which on this small data learn far more in the time budget (README).
"""

from __future__ import annotations

import copy

import numpy as np

import minigrad as mg
import minigrad.nn as nn
from examples.common.backbones import VisionTransformer
from examples.common.contrastive import contrastive_in_batch
from examples.common.data import batches, ssl_augmentation, unlabeled_images
from examples.common.evaluation import evaluate, format_table, make_eval_data
from examples.common.heads import mlp_head
from minigrad.optim.ema import ModelEMA, cosine_momentum

DESCRIPTION = "MoCo v3: in-batch keys, symmetrised 2T-scaled InfoNCE, ViT (option: frozen random patch projection)"

PRESETS = {
    "smoke": {"epochs": 1, "batch_size": 32, "copies": 1, "limit": 64, "dim": 32, "depth": 1, "heads": 2,
              "patch_size": 8, "proj_dim": 32, "hidden": 64, "freeze_patch_embed": True, "momentum": 0.99,
              "temperature": 0.2, "lr": 1e-3, "weight_decay": 0.1, "crop_scale": (0.3, 1.0), "max_train": 200,
              "stem": "patch", "pool": "cls"},
    "cpu": {"epochs": 100, "batch_size": 128, "copies": 1, "limit": None, "dim": 64, "depth": 4, "heads": 4,
            "patch_size": 8, "proj_dim": 64, "hidden": 128, "freeze_patch_embed": False, "momentum": 0.99,
            "temperature": 0.2, "lr": 3e-3, "weight_decay": 0.1, "crop_scale": (0.3, 1.0), "max_train": None,
            "stem": "conv", "pool": "mean"},
    "gpu": {"epochs": 200, "batch_size": 256, "copies": 8, "limit": None, "dim": 192, "depth": 6, "heads": 6,
            "patch_size": 4, "proj_dim": 128, "hidden": 512, "freeze_patch_embed": True, "momentum": 0.99,
            "temperature": 0.2, "lr": 1e-3, "weight_decay": 0.1, "crop_scale": (0.3, 1.0), "max_train": None,
            "stem": "patch", "pool": "cls"},
}


class Encoder(nn.Module):
    """Backbone (ViT: its [cls] feature, or the mean patch token with pool="mean") followed by the
    3-layer projection MLP (BN on every layer)."""

    def __init__(self, config: dict):
        super().__init__()
        self.backbone = VisionTransformer(img_size=32, patch_size=config["patch_size"], dim=config["dim"],
                                          depth=config["depth"], heads=config["heads"],
                                          freeze_patch_embed=config["freeze_patch_embed"],
                                          stem=config.get("stem", "patch"), pool=config.get("pool", "cls"))
        self.projector = mlp_head(config["dim"], config["hidden"], config["proj_dim"], layers=3, last_batch_norm=True)

    def forward(self, images: mg.Tensor) -> mg.Tensor:
        return self.projector(self.backbone(images))


def run(config: dict, ctx) -> dict:
    rng = np.random.default_rng(ctx.seed)
    images = unlabeled_images(canvas=32, copies=config["copies"], seed=ctx.seed, limit=config["limit"])
    augment = ssl_augmentation(32, scale=tuple(config["crop_scale"]), seed=ctx.seed)
    batch_size, temperature = config["batch_size"], config["temperature"]

    base_encoder = Encoder(config).to(ctx.device)
    random_init = copy.deepcopy(base_encoder)  # the same architecture and seed, never trained: baseline (b)
    predictor = mlp_head(config["proj_dim"], config["hidden"], config["proj_dim"], layers=2).to(ctx.device)
    momentum_encoder = ModelEMA(base_encoder, momentum=config["momentum"])
    parameters = [p for p in base_encoder.parameters() if p.requires_grad] + list(predictor.parameters())
    optimizer = mg.optim.AdamW(parameters, lr=config["lr"], weight_decay=config["weight_decay"])
    steps_per_epoch = len(images) // batch_size
    total = config["epochs"] * steps_per_epoch
    scheduler = mg.optim.lr_scheduler.WarmupCosineLR(optimizer, warmup_steps=max(1, total // 10), total_steps=total)

    bar = ctx.progress(total=total, desc="moco_v3")
    step, losses = 0, []
    for epoch in range(config["epochs"]):
        for batch in batches(images, batch_size, rng):
            x1 = mg.tensor(augment(batch), device=ctx.device)
            x2 = mg.tensor(augment(batch), device=ctx.device)
            q1, q2 = predictor(base_encoder(x1)), predictor(base_encoder(x2))
            with mg.no_grad():
                k1, k2 = momentum_encoder(x1), momentum_encoder(x2)
            loss = contrastive_in_batch(q1, k2, temperature) + contrastive_in_batch(q2, k1, temperature)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            momentum_encoder.update(base_encoder, momentum=cosine_momentum(step, total, base=config["momentum"]))
            losses.append(loss.item())
            step += 1
            bar.update()
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
            ctx.log(step, loss=losses[-1], epoch=epoch + 1)
    bar.close()
    ctx.plot(["loss"], "loss.png", title=f"MoCo v3 (freeze_patch_embed={config['freeze_patch_embed']})")

    data = make_eval_data(canvas=32, labels_per_class=10, augment=augment, max_train=config["max_train"])
    results = evaluate(base_encoder.backbone, random_init.backbone, data, ctx.device)
    print(format_table(results))
    return {"final_loss": float(np.mean(losses[-steps_per_epoch:])), "initial_loss": losses[0],
            "freeze_patch_embed": bool(config["freeze_patch_embed"]), "loss_curve": losses, "steps": step,
            "evaluation": results}
