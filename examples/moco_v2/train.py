"""MoCo v2 (Chen, Fan, Girshick & He, 2020): "Improved Baselines with Momentum Contrastive Learning",
on MoCo (He, Fan, Wu, Xie & Girshick, 2020): "Momentum Contrast for Unsupervised Visual Representation
Learning".

A query encoder f_q (small ResNet + MLP head) is trained with InfoNCE to match each query q to its key
k+ = f_k(other view) against a queue of K keys from earlier batches. The key encoder f_k is not trained
by gradient descent: it is a momentum (EMA) copy of f_q, theta_k <- m theta_k + (1 - m) theta_q, so the
keys in the queue stay consistent with each other. Keys carry no gradient; the queue is a buffer.
"""

from __future__ import annotations

import copy
import math

import numpy as np

import minigrad as mg
import minigrad.nn as nn
from examples.common.backbones import ResNet
from examples.common.contrastive import KeyQueue, info_nce
from examples.common.data import batches, ssl_augmentation, unlabeled_images
from examples.common.evaluation import evaluate, format_table, make_eval_data
from examples.common.heads import mlp_head
from minigrad.optim.ema import ModelEMA

DESCRIPTION = "MoCo v2: queue of K keys, momentum key encoder, MLP head, T=0.2; initial loss ~ log(K+1)"

PRESETS = {
    "smoke": {"epochs": 1, "batch_size": 32, "copies": 1, "limit": 64, "widths": (8, 16), "dim": 32, "queue_size": 64,
              "momentum": 0.99, "temperature": 0.2, "lr": 1e-3, "weight_decay": 1e-4, "crop_scale": (0.3, 1.0),
              "bn_groups": 2, "max_train": 200},
    "cpu": {"epochs": 120, "batch_size": 128, "copies": 1, "limit": None, "widths": (8, 16, 64), "dim": 64,
            "queue_size": 256, "momentum": 0.99, "temperature": 0.2, "lr": 2e-3, "weight_decay": 1e-4,
            "crop_scale": (0.3, 1.0), "bn_groups": 4, "max_train": None},
    "gpu": {"epochs": 200, "batch_size": 256, "copies": 8, "limit": None, "widths": (32, 64, 128), "dim": 128,
            "queue_size": 4096, "momentum": 0.99, "temperature": 0.2, "lr": 2e-3, "weight_decay": 1e-4,
            "crop_scale": (0.3, 1.0), "bn_groups": 8, "max_train": None},
}


class MoCoEncoder(nn.Module):
    """f(x) = normalise(g(h(x))): a ResNet backbone h and MoCo v2's MLP head g (fc-ReLU-fc)."""

    def __init__(self, widths: tuple, dim: int):
        super().__init__()
        self.backbone = ResNet(widths=tuple(widths))
        width = self.backbone.feature_dim
        self.head = mlp_head(width, width, dim, batch_norm=False)

    def forward(self, images: mg.Tensor) -> mg.Tensor:
        return nn.functional.normalize(self.head(self.backbone(images)), dim=1)


@mg.no_grad()
def keys_with_shuffled_bn(key_encoder: nn.Module, images: mg.Tensor, groups: int, rng) -> mg.Tensor:
    """k = f_k(x_k), with BatchNorm statistics taken over shuffled sub-batches ("shuffling BN").

    MoCo shuffles the keys across GPUs so that a query and its key never share batch statistics
    (otherwise the model finds the positive through them instead of learning a representation).
    One device emulates it: permute the batch, encode it in ``groups`` chunks, undo the permutation.
    """
    order = rng.permutation(images.shape[0])
    inverse = np.argsort(order)
    shuffled = images[mg.tensor(order, device=images.device)]
    keys = mg.cat([key_encoder(chunk) for chunk in shuffled.chunk(groups)], dim=0)
    return keys[mg.tensor(inverse, device=images.device)]


def queries(encoder: nn.Module, images: mg.Tensor, groups: int) -> mg.Tensor:
    """q = f_q(x_q), BatchNorm over the same ``groups`` chunks (in the original order) as the keys use."""
    return mg.cat([encoder(chunk) for chunk in images.chunk(groups)], dim=0)


def run(config: dict, ctx) -> dict:
    rng = np.random.default_rng(ctx.seed)
    images = unlabeled_images(canvas=32, copies=config["copies"], seed=ctx.seed, limit=config["limit"])
    augment = ssl_augmentation(32, scale=tuple(config["crop_scale"]), seed=ctx.seed)
    batch_size, groups, temperature = config["batch_size"], config["bn_groups"], config["temperature"]

    encoder_q = MoCoEncoder(config["widths"], config["dim"]).to(ctx.device)
    random_init = copy.deepcopy(encoder_q)  # the same architecture and seed, never trained: baseline (b)
    encoder_k = ModelEMA(encoder_q, momentum=config["momentum"])  # theta_k <- m theta_k + (1 - m) theta_q
    queue = KeyQueue(config["dim"], config["queue_size"]).to(ctx.device)
    optimizer = mg.optim.AdamW(encoder_q.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    steps_per_epoch = len(images) // batch_size
    total = config["epochs"] * steps_per_epoch
    scheduler = mg.optim.lr_scheduler.WarmupCosineLR(optimizer, warmup_steps=max(1, total // 10), total_steps=total)

    # Fill the queue with real keys before the first step (instead of random vectors), so that the first
    # loss is measured against a full dictionary of keys from the key encoder: about log(K + 1).
    with mg.no_grad():
        for _ in range(math.ceil(config["queue_size"] / batch_size)):
            batch = next(batches(images, batch_size, rng))
            queue.enqueue(keys_with_shuffled_bn(encoder_k.module, mg.tensor(augment(batch), device=ctx.device),
                                                groups, rng))
        queue.ptr.fill_(0)

    bar = ctx.progress(total=total, desc="moco_v2")
    step, losses = 0, []
    for epoch in range(config["epochs"]):
        for batch in batches(images, batch_size, rng):
            x_q = mg.tensor(augment(batch), device=ctx.device)
            x_k = mg.tensor(augment(batch), device=ctx.device)
            q = queries(encoder_q, x_q, groups)
            k = keys_with_shuffled_bn(encoder_k.module, x_k, groups, rng)  # no graph: keys carry no gradient
            loss = info_nce(q, k, queue.keys, temperature)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            encoder_k.update(encoder_q)
            queue.enqueue(k)
            losses.append(loss.item())
            step += 1
            bar.update()
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
        ctx.log(step, loss=float(np.mean(losses[-steps_per_epoch:])), epoch=epoch + 1)
    bar.close()
    ctx.plot(["loss"], "loss.png", title="MoCo v2: InfoNCE against the queue")

    data = make_eval_data(canvas=32, labels_per_class=10, augment=augment, max_train=config["max_train"])
    results = evaluate(encoder_q.backbone, random_init.backbone, data, ctx.device)
    print(format_table(results))
    return {"final_loss": float(np.mean(losses[-steps_per_epoch:])), "initial_loss": losses[0],
            "log_k_plus_1": math.log(config["queue_size"] + 1), "steps": step, "evaluation": results}
