"""MoBY (Xie, Lin, Yao, Zhang, Dai, Cao & Hu, 2021): "Self-Supervised Learning with Swin Transformers".

MoCo v2 + BYOL on a Vision Transformer. The online branch (backbone, projector, predictor) is trained
by gradient; the target branch (backbone, projector) is its EMA with a momentum raised from m_0 to 1
by a cosine schedule (BYOL). The predictor sits only on the online branch (BYOL's asymmetry); the loss
is MoCo's contrastive loss, with two queues of target keys (one per view) as the negatives:

    q_i = pred(proj(f(x_i))),  k_i = proj_t(f_t(x_i)),
    L = InfoNCE(q1, k2, queue2) + InfoNCE(q2, k1, queue1),   then enqueue k1 -> queue1, k2 -> queue2.
"""

from __future__ import annotations

import copy
import math

import numpy as np

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from examples.common.backbones import VisionTransformer
from examples.common.contrastive import KeyQueue, info_nce
from examples.common.data import batches, ssl_augmentation, unlabeled_images
from examples.common.evaluation import evaluate, format_table, make_eval_data
from examples.common.heads import mlp_head
from minigrad.optim.ema import ModelEMA, cosine_momentum

DESCRIPTION = "MoBY: MoCo queues + BYOL predictor and cosine-momentum target on a ViT"

PRESETS = {
    "smoke": {"epochs": 1, "batch_size": 32, "copies": 1, "limit": 64, "dim": 32, "depth": 1, "heads": 2,
              "patch_size": 8, "proj_dim": 32, "hidden": 64, "queue_size": 64, "momentum": 0.99, "temperature": 0.2,
              "lr": 1e-3, "weight_decay": 0.05, "crop_scale": (0.3, 1.0), "max_train": 200,
              "stem": "patch", "pool": "cls"},
    "cpu": {"epochs": 100, "batch_size": 128, "copies": 1, "limit": None, "dim": 64, "depth": 4, "heads": 4,
            "patch_size": 8, "proj_dim": 64, "hidden": 128, "queue_size": 1024, "momentum": 0.99, "temperature": 0.2,
            "lr": 3e-3, "weight_decay": 0.05, "crop_scale": (0.3, 1.0), "max_train": None,
            "stem": "conv", "pool": "mean"},
    "gpu": {"epochs": 200, "batch_size": 256, "copies": 8, "limit": None, "dim": 192, "depth": 6, "heads": 6,
            "patch_size": 4, "proj_dim": 128, "hidden": 512, "queue_size": 4096, "momentum": 0.99, "temperature": 0.2,
            "lr": 1e-3, "weight_decay": 0.05, "crop_scale": (0.3, 1.0), "max_train": None,
            "stem": "patch", "pool": "cls"},
}


class Branch(nn.Module):
    """Backbone f (ViT: its [cls] feature, or the mean patch token with pool="mean") and the 2-layer
    projector: z = proj(f(x))."""

    def __init__(self, config: dict):
        super().__init__()
        self.backbone = VisionTransformer(img_size=32, patch_size=config["patch_size"], dim=config["dim"],
                                          depth=config["depth"], heads=config["heads"],
                                          stem=config.get("stem", "patch"), pool=config.get("pool", "cls"))
        self.projector = mlp_head(config["dim"], config["hidden"], config["proj_dim"], layers=2)

    def forward(self, images: mg.Tensor) -> mg.Tensor:
        return self.projector(self.backbone(images))


def run(config: dict, ctx) -> dict:
    rng = np.random.default_rng(ctx.seed)
    images = unlabeled_images(canvas=32, copies=config["copies"], seed=ctx.seed, limit=config["limit"])
    augment = ssl_augmentation(32, scale=tuple(config["crop_scale"]), seed=ctx.seed)
    batch_size, temperature = config["batch_size"], config["temperature"]

    online = Branch(config).to(ctx.device)
    random_init = copy.deepcopy(online)  # the same architecture and seed, never trained: baseline (b)
    predictor = mlp_head(config["proj_dim"], config["hidden"], config["proj_dim"], layers=2).to(ctx.device)
    target = ModelEMA(online, momentum=config["momentum"])
    queue1 = KeyQueue(config["proj_dim"], config["queue_size"]).to(ctx.device)
    queue2 = KeyQueue(config["proj_dim"], config["queue_size"]).to(ctx.device)
    optimizer = mg.optim.AdamW(list(online.parameters()) + list(predictor.parameters()), lr=config["lr"],
                               weight_decay=config["weight_decay"])
    steps_per_epoch = len(images) // batch_size
    total = config["epochs"] * steps_per_epoch
    scheduler = mg.optim.lr_scheduler.WarmupCosineLR(optimizer, warmup_steps=max(1, total // 10), total_steps=total)

    bar = ctx.progress(total=total, desc="moby")
    step, losses, momenta = 0, [], []
    for epoch in range(config["epochs"]):
        for batch in batches(images, batch_size, rng):
            x1 = mg.tensor(augment(batch), device=ctx.device)
            x2 = mg.tensor(augment(batch), device=ctx.device)
            q1 = F.normalize(predictor(online(x1)), dim=1)
            q2 = F.normalize(predictor(online(x2)), dim=1)
            with mg.no_grad():  # the target branch gives keys only: no graph, no gradient
                k1 = F.normalize(target(x1), dim=1)
                k2 = F.normalize(target(x2), dim=1)
            loss = info_nce(q1, k2, queue2.keys, temperature) + info_nce(q2, k1, queue1.keys, temperature)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            momentum = cosine_momentum(step, total, base=config["momentum"])
            target.update(online, momentum=momentum)
            queue1.enqueue(k1)
            queue2.enqueue(k2)
            losses.append(loss.item())
            momenta.append(momentum)
            step += 1
            bar.update()
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
        ctx.log(step, loss=float(np.mean(losses[-steps_per_epoch:])), momentum=momentum, epoch=epoch + 1)
    bar.close()
    ctx.plot(["loss"], "loss.png", title="MoBY: contrastive loss against the queues")

    data = make_eval_data(canvas=32, labels_per_class=10, augment=augment, max_train=config["max_train"])
    results = evaluate(online.backbone, random_init.backbone, data, ctx.device)
    print(format_table(results))
    return {"final_loss": float(np.mean(losses[-steps_per_epoch:])), "initial_loss": losses[0],
            "two_log_k_plus_1": 2 * math.log(config["queue_size"] + 1), "momentum_first": momenta[0],
            "momentum_last": momenta[-1], "steps": step, "evaluation": results}
