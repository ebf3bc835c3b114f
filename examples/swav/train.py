"""SwAV: predict the cluster code of one crop from the features of another.

Caron, Misra, Mairal, Goyal, Bojanowski & Joulin (2020), "Unsupervised Learning of Visual Features
by Contrasting Cluster Assignments". For each crop t of an image, z_t = normalize(h(g(x_t))) is
scored against K l2-normalised prototypes C: scores_t = z_t^T C (cosine similarities). The codes
q_t are the Sinkhorn-Knopp equipartition of the scores of the batch (eps = 0.05, 3 iterations, no
gradient: examples/common/clustering.py). The swapped prediction loss, for crops s != t,

    p_t = softmax(z_t^T C / tau),     l(z_t, q_s) = -sum_k q_s^(k) log p_t^(k),

is averaged over every (code crop s in the two global crops, predicting crop t != s) pair; small
multi-crop views only predict. The prototypes are renormalised after every step and frozen for the
first iterations (as in the paper: a stable code assignment before they move).
"""

from __future__ import annotations

import copy

import numpy as np

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F

from ..common.backbones import ResNet
from ..common.clustering import sinkhorn_knopp
from ..common.data import ssl_augmentation, unlabeled_images
from ..common.evaluation import evaluate, format_table, make_eval_data
from ..common.heads import mlp_head

DESCRIPTION = "SwAV: Sinkhorn-Knopp codes (eps 0.05, 3 iters), swapped prediction, multi-crop, shared evaluation"

_BASE = {"epsilon": 0.05, "sinkhorn_iterations": 3, "temperature": 0.1, "crop_scale": (0.5, 1.0),
         "small_size": 16, "small_scale": (0.1, 0.4), "weight_decay": 1e-4}
PRESETS = {
    "smoke": {**_BASE, "epochs": 1, "max_steps": 2, "batch_size": 32, "widths": (8, 16, 32), "projection_dim": 32,
              "num_prototypes": 10, "num_small_crops": 1, "freeze_prototypes_steps": 1, "lr": 5e-4, "copies": 1,
              "limit": 64, "eval_max_train": 100},
    "cpu": {**_BASE, "epochs": 120, "max_steps": 0, "batch_size": 128, "widths": (8, 16, 64), "projection_dim": 32,
            "num_prototypes": 100, "num_small_crops": 0, "freeze_prototypes_steps": 11, "lr": 1e-3, "copies": 1,
            "limit": None, "eval_max_train": None, "crop_scale": (0.3, 1.0)},
    "gpu": {**_BASE, "epochs": 100, "max_steps": 0, "batch_size": 256, "widths": (32, 64, 128),
            "projection_dim": 64, "num_prototypes": 300, "num_small_crops": 2, "freeze_prototypes_steps": 100,
            "lr": 5e-4, "copies": 4, "limit": None, "eval_max_train": None},
}


class SwAVNet(nn.Module):
    """Backbone g, projection head h, and the prototypes C as a bias-free linear layer (rows unit norm)."""

    def __init__(self, widths: tuple, projection_dim: int, num_prototypes: int):
        super().__init__()
        self.backbone = ResNet(in_chans=1, widths=widths)
        dim = self.backbone.feature_dim
        self.projection = mlp_head(dim, 2 * dim, projection_dim)
        self.prototypes = nn.Linear(projection_dim, num_prototypes, bias=False)
        self.normalize_prototypes()

    @mg.no_grad()
    def normalize_prototypes(self) -> None:
        self.prototypes.weight.copy_(F.normalize(self.prototypes.weight, dim=1))

    def forward(self, images: mg.Tensor) -> mg.Tensor:
        """scores z^T C, (N, K): cosine similarities of the crop's embedding to every prototype."""
        z = F.normalize(self.projection(self.backbone(images)), dim=1)
        return self.prototypes(z)


def swapped_prediction_loss(scores: list, codes: list, temperature: float) -> mg.Tensor:
    """Mean over pairs (s, t != s) of -sum_k q_s^(k) log softmax(scores_t / tau)^(k).

    ``codes`` holds q_s for the first len(codes) crops (the global ones); every crop predicts.
    """
    terms = []
    for s, q in enumerate(codes):
        for t, score in enumerate(scores):
            if t != s:
                terms.append(-(q * F.log_softmax(score / temperature, dim=1)).sum(dim=1).mean())
    return sum(terms) / len(terms)


def prototype_balance(codes: mg.Tensor) -> float:
    """Largest relative deviation of the prototype marginals from 1/K (0 = perfectly balanced)."""
    marginals = codes.sum(dim=0) / codes.sum()
    k = codes.shape[1]
    return float((marginals * k - 1).abs().max().item())


def run(config: dict, ctx) -> dict:
    images = unlabeled_images(canvas=32, copies=config["copies"], seed=ctx.seed, limit=config["limit"])
    global_crop = ssl_augmentation(32, scale=tuple(config["crop_scale"]), seed=ctx.seed)
    small_crop = ssl_augmentation(config["small_size"], scale=tuple(config["small_scale"]), seed=ctx.seed + 100)
    rng = np.random.default_rng(ctx.seed)

    model = SwAVNet(tuple(config["widths"]), config["projection_dim"], config["num_prototypes"]).to(ctx.device)
    random_backbone = copy.deepcopy(model.backbone)

    steps_per_epoch = len(images) // config["batch_size"]
    total = steps_per_epoch * config["epochs"]
    if config["max_steps"]:
        total = min(total, config["max_steps"])
    # AdamW instead of the paper's LARS: a few hundred steps on a CPU, not 800 epochs at batch 4096
    optimizer = mg.optim.AdamW(model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    scheduler = mg.optim.lr_scheduler.warmup_cosine(optimizer, warmup_steps=min(steps_per_epoch, total // 10),
                                                    total_steps=total)

    def to_device(batch):
        return mg.tensor(np.asarray(batch, dtype=np.float32), device=ctx.device)

    step, losses, balance_at_init = 0, [], None
    bar = ctx.progress(total=total, desc="swav")
    while step < total:
        order = rng.permutation(len(images))
        for start in range(0, len(images) - config["batch_size"] + 1, config["batch_size"]):
            batch = images[order[start:start + config["batch_size"]]]
            crops = [to_device(global_crop(batch)) for _ in range(2)]
            crops += [to_device(small_crop(batch)) for _ in range(config["num_small_crops"])]
            scores = [model(crop) for crop in crops]
            with mg.no_grad():
                codes = [sinkhorn_knopp(s.detach(), config["epsilon"], config["sinkhorn_iterations"]) * s.shape[0]
                         for s in scores[:2]]
            loss = swapped_prediction_loss(scores, codes, config["temperature"])
            optimizer.zero_grad()
            loss.backward()
            if step < config["freeze_prototypes_steps"]:
                model.prototypes.weight.grad = None  # frozen: the codes settle before the prototypes move
            optimizer.step()
            scheduler.step()
            model.normalize_prototypes()
            step += 1
            losses.append(loss.item())
            balance = prototype_balance(codes[0])
            if balance_at_init is None:
                balance_at_init = balance
            with mg.no_grad():
                used = len(np.unique(scores[0].argmax(dim=1).cpu().numpy()))
            ctx.log(step, loss=losses[-1], code_imbalance=balance, prototypes_used_by_argmax=used,
                    lr=optimizer.param_groups[0]["lr"])
            bar.update()
            bar.set_postfix(loss=f"{losses[-1]:.3f}", used=used)
            if step >= total:
                break
    bar.close()
    ctx.plot(["loss", "code_imbalance", "prototypes_used_by_argmax"], "curves.png", title="SwAV")

    data = make_eval_data(canvas=32, labels_per_class=10, augment=global_crop, max_train=config["eval_max_train"])
    results = evaluate(model.backbone, random_backbone, data, device=ctx.device)
    print(format_table(results))
    with mg.no_grad():
        model.eval()
        test_scores = model(to_device(data.test_images))
        model.train()
        test_assignments = test_scores.argmax(dim=1).cpu().numpy()
    return {
        "final_loss": float(np.mean(losses[-10:])),
        "initial_loss": losses[0],
        "code_imbalance_at_init": balance_at_init,
        "code_imbalance_final": balance,
        "prototypes_used_on_test_set": int(len(np.unique(test_assignments))),
        "num_prototypes": config["num_prototypes"],
        "steps": step,
        "evaluation": results,
    }
