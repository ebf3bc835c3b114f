"""SimCLR (Chen, Kornblith, Norouzi & Hinton, 2020): "A Simple Framework for Contrastive Learning of
Visual Representations".

Two random views of every image go through the same encoder f (a small ResNet) and projector g
(an MLP): h = f(x), z = g(h). NT-Xent pulls the two views of an image together and pushes the other
2N - 2 views of the batch away. The representation kept for downstream tasks is h, not z.
"""

from __future__ import annotations

import copy
import math

import numpy as np

import minigrad as mg
import minigrad.nn as nn
from examples.common.backbones import ResNet
from examples.common.contrastive import nt_xent
from examples.common.data import batches, ssl_augmentation, unlabeled_images
from examples.common.evaluation import evaluate, features, format_table, linear_probe_accuracy, make_eval_data
from examples.common.heads import mlp_head

DESCRIPTION = "SimCLR: NT-Xent on two views, small ResNet + MLP projector; probes on h beat probes on z"

PRESETS = {
    "smoke": {"epochs": 1, "batch_size": 32, "copies": 1, "limit": 64, "widths": (8, 16), "proj_dim": 32,
              "temperature": 0.2, "lr": 1e-3, "weight_decay": 1e-4, "crop_scale": (0.3, 1.0), "max_train": 200},
    "cpu": {"epochs": 80, "batch_size": 256, "copies": 1, "limit": None, "widths": (8, 16, 64), "proj_dim": 64,
            "temperature": 0.2, "lr": 2e-3, "weight_decay": 1e-4, "crop_scale": (0.3, 1.0), "max_train": None},
    "gpu": {"epochs": 200, "batch_size": 512, "copies": 8, "limit": None, "widths": (32, 64, 128), "proj_dim": 128,
            "temperature": 0.2, "lr": 2e-3, "weight_decay": 1e-4, "crop_scale": (0.3, 1.0), "max_train": None},
}


class SimCLR(nn.Module):
    """Encoder f and projection head g: h = f(x), z = g(h) (g = Linear-BN-ReLU-Linear)."""

    def __init__(self, widths: tuple, proj_dim: int):
        super().__init__()
        self.encoder = ResNet(widths=tuple(widths))
        dim = self.encoder.feature_dim
        self.projector = mlp_head(dim, dim, proj_dim)

    def forward(self, images: mg.Tensor) -> mg.Tensor:
        return self.projector(self.encoder(images))


def run(config: dict, ctx) -> dict:
    rng = np.random.default_rng(ctx.seed)
    images = unlabeled_images(canvas=32, copies=config["copies"], seed=ctx.seed, limit=config["limit"])
    augment = ssl_augmentation(32, scale=tuple(config["crop_scale"]), seed=ctx.seed)

    model = SimCLR(config["widths"], config["proj_dim"]).to(ctx.device)
    random_init = copy.deepcopy(model)  # the same architecture and seed, never trained: baseline (b)
    optimizer = mg.optim.AdamW(model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    steps_per_epoch = len(images) // config["batch_size"]
    total = config["epochs"] * steps_per_epoch
    scheduler = mg.optim.lr_scheduler.WarmupCosineLR(optimizer, warmup_steps=max(1, total // 10), total_steps=total)

    batch_size = config["batch_size"]
    bar = ctx.progress(total=total, desc="simclr")
    step, losses = 0, []
    for epoch in range(config["epochs"]):
        for batch in batches(images, batch_size, rng):
            x1 = mg.tensor(augment(batch), device=ctx.device)
            x2 = mg.tensor(augment(batch), device=ctx.device)
            loss = nt_xent(model(x1), model(x2), config["temperature"])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
            if step == 0:
                initial_loss = losses[0]
            step += 1
            bar.update()
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
        ctx.log(step, loss=float(np.mean(losses[-steps_per_epoch:])), epoch=epoch + 1)
    bar.close()
    ctx.plot(["loss"], "loss.png", title="SimCLR: NT-Xent")

    data = make_eval_data(canvas=32, labels_per_class=10, augment=augment, max_train=config["max_train"])
    results = evaluate(model.encoder, random_init.encoder, data, ctx.device)
    print(format_table(results))
    # The paper's finding: the layer before the projection head (h) is the better representation.
    h_train, h_test = features(model.encoder, data.train_images, ctx.device), features(model.encoder, data.test_images,
                                                                                      ctx.device)
    z_train, z_test = features(model, data.train_images, ctx.device), features(model, data.test_images, ctx.device)
    probe_h = linear_probe_accuracy(h_train, data.train_labels, h_test, data.test_labels)
    probe_z = linear_probe_accuracy(z_train, data.train_labels, z_test, data.test_labels)
    print(f"linear probe on h (backbone): {probe_h:.3f}   on z (projection): {probe_z:.3f}")
    return {"final_loss": float(np.mean(losses[-steps_per_epoch:])), "initial_loss": initial_loss,
            "log_2n_minus_1": math.log(2 * batch_size - 1), "linear_probe_h": probe_h, "linear_probe_z": probe_z,
            "h_beats_z": bool(probe_h > probe_z), "steps": step, "evaluation": results}
