"""SimSiam (Chen & He, 2021, "Exploring Simple Siamese Representation Learning").

One network on two views: encoder f (backbone + projection MLP ending in BN) and a bottleneck
prediction MLP h. No negatives, no momentum encoder, no large batch: the stop-gradient on the
other branch is what prevents collapse. The ablation trains the same model without it and shows
the per-dimension std of the l2-normalised outputs falling to ~0 (the paper's Fig. 2).
"""

from __future__ import annotations

import copy
import math

import numpy as np

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.optim.lr_scheduler import warmup_cosine

from ..common.backbones import ResNet
from ..common.collapse import output_std
from ..common.data import batches, ssl_augmentation, unlabeled_images
from ..common.evaluation import evaluate, features, format_table, knn_accuracy, make_eval_data
from ..common.heads import mlp_head

DESCRIPTION = "SimSiam: symmetric negative cosine with stop-gradient; collapse ablation (no stop-gradient)"

PRESETS = {
    "smoke": {"widths": (8, 16, 32), "proj_dim": 64, "pred_hidden": 16, "proj_layers": 2, "copies": 1, "limit": 64,
              "epochs": 1, "batch_size": 32, "lr": 1e-3, "weight_decay": 1e-4, "crop_scale": (0.2, 1.0),
              "ablation_steps": 2, "ablation_batch_size": 32, "eval_max_train": 100},
    "cpu": {"widths": (8, 16, 64), "proj_dim": 128, "pred_hidden": 32, "proj_layers": 2, "copies": 1, "limit": None,
            "epochs": 120, "batch_size": 128, "lr": 2e-3, "weight_decay": 1e-4, "crop_scale": (0.2, 1.0),
            "ablation_steps": 40, "ablation_batch_size": 64, "eval_max_train": None},
    "gpu": {"widths": (32, 64, 128), "proj_dim": 1024, "pred_hidden": 256, "proj_layers": 3, "copies": 4,
            "limit": None, "epochs": 100, "batch_size": 256, "lr": 2e-3, "weight_decay": 1e-4,
            "crop_scale": (0.2, 1.0), "ablation_steps": 200, "ablation_batch_size": 256, "eval_max_train": None},
}


class SimSiam(nn.Module):
    """Encoder f = projector(backbone(x)), the projection MLP ending in BN; predictor h, a bottleneck MLP.

    ``output_batch_norm=False`` drops the projector's output BN (used by the collapse ablation, see README).
    """

    def __init__(self, widths: tuple, proj_dim: int, pred_hidden: int, proj_layers: int = 2,
                 output_batch_norm: bool = True):
        super().__init__()
        self.backbone = ResNet(widths=widths)
        self.projector = mlp_head(self.backbone.feature_dim, proj_dim, proj_dim, layers=proj_layers,
                                  last_batch_norm=output_batch_norm)
        self.predictor = mlp_head(proj_dim, pred_hidden, proj_dim)

    def forward(self, x_1: mg.Tensor, x_2: mg.Tensor):
        """z_i = f(x_i) and p_i = h(z_i) for both views."""
        z_1, z_2 = self.projector(self.backbone(mg.cat([x_1, x_2]))).chunk(2)
        p_1, p_2 = self.predictor(mg.cat([z_1, z_2])).chunk(2)
        return p_1, p_2, z_1, z_2


def D(p: mg.Tensor, z: mg.Tensor, stop_gradient: bool = True) -> mg.Tensor:
    """Negative cosine similarity -(p / ||p||) . (z / ||z||), averaged over the batch; z is detached
    (stop-gradient) unless ``stop_gradient=False`` (the ablation)."""
    if stop_gradient:
        z = z.detach()
    return -(F.normalize(p, dim=1) * F.normalize(z, dim=1)).sum(dim=1).mean()


def simsiam_loss(p_1, p_2, z_1, z_2, stop_gradient: bool = True) -> mg.Tensor:
    """L = D(p_1, stopgrad(z_2)) / 2 + D(p_2, stopgrad(z_1)) / 2; its minimum is -1."""
    return D(p_1, z_2, stop_gradient) / 2 + D(p_2, z_1, stop_gradient) / 2


def to_tensor(images: np.ndarray, device: str) -> mg.Tensor:
    return mg.tensor(np.asarray(images, dtype=np.float32), device=device)


def train(model: SimSiam, images: np.ndarray, augment, steps: int, batch_size: int, config: dict, ctx,
          stop_gradient: bool = True, prefix: str = "", log_every: int = 1, desc: str = "simsiam") -> dict:
    """SimSiam's loop: the symmetric loss on two views, one AdamW step. Logs the loss and the
    per-dimension std of the l2-normalised z (collapse -> 0, spread outputs -> about 1/sqrt(d))."""
    optimizer = mg.optim.AdamW(model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    scheduler = warmup_cosine(optimizer, warmup_steps=max(1, steps // 10), total_steps=steps)
    rng = np.random.default_rng(ctx.seed)
    curve = {"step": [], "loss": [], "output_std": []}
    step, bar = 0, ctx.progress(total=steps, desc=desc)
    while step < steps:
        for batch in batches(images, batch_size, rng):
            x_1, x_2 = to_tensor(augment(batch), ctx.device), to_tensor(augment(batch), ctx.device)
            p_1, p_2, z_1, z_2 = model(x_1, x_2)
            loss = simsiam_loss(p_1, p_2, z_1, z_2, stop_gradient)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
            bar.update()
            if step % log_every == 0 or step == steps:
                std = output_std(z_1)
                ctx.log(step, **{f"{prefix}loss": loss.item(), f"{prefix}output_std": std})
                curve["step"].append(step)
                curve["loss"].append(loss.item())
                curve["output_std"].append(std)
                bar.set_postfix(loss=f"{loss.item():.3f}", std=f"{std:.3f}")
            if step == steps:
                break
    bar.close()
    return curve


def collapse_ablation(images: np.ndarray, augment, data, config: dict, ctx) -> dict:
    """Short runs of the same model with and without the stop-gradient, for the projector with and without
    its output BN; each with the kNN accuracy of its backbone at the end."""
    runs = {}
    for projector, output_batch_norm in (("projector_without_output_bn", False), ("projector_with_output_bn", True)):
        runs[projector] = {}
        for name, stop_gradient in (("stop_gradient", True), ("no_stop_gradient", False)):
            mg.manual_seed(ctx.seed)
            model = SimSiam(config["widths"], config["proj_dim"], config["pred_hidden"], config["proj_layers"],
                            output_batch_norm=output_batch_norm).to(ctx.device)
            curve = train(model, images, augment, config["ablation_steps"], config["ablation_batch_size"], config,
                          ctx, stop_gradient=stop_gradient, prefix=f"ablation_{projector}_{name}_",
                          desc=f"ablation {projector} {name}")
            knn = knn_accuracy(features(model.backbone, data.train_images, ctx.device), data.train_labels,
                               features(model.backbone, data.test_images, ctx.device), data.test_labels)
            runs[projector][name] = {"final_output_std": curve["output_std"][-1], "final_loss": curve["loss"][-1],
                                     "knn": knn, **curve}
    return runs


def plot_std(runs: dict, uniform_std: float, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(runs), figsize=(5 * len(runs), 3.5), squeeze=False)
    for ax, (projector, arms) in zip(axes[0], runs.items()):
        for name, curve in arms.items():
            ax.plot(curve["step"], curve["output_std"], label=name)
        ax.axhline(uniform_std, color="gray", linestyle="--", label="1/sqrt(d)")
        ax.set_xlabel("step")
        ax.set_ylabel("std of l2-normalised z")
        ax.set_title(projector.replace("_", " "))
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(config: dict, ctx) -> dict:
    images = unlabeled_images(canvas=32, copies=config["copies"], seed=ctx.seed, limit=config["limit"])
    augment = ssl_augmentation(32, scale=tuple(config["crop_scale"]), seed=ctx.seed)

    data = make_eval_data(canvas=32, labels_per_class=10, max_train=config["eval_max_train"],
                          augment=ssl_augmentation(32, scale=tuple(config["crop_scale"]), seed=ctx.seed + 100))

    ablation = collapse_ablation(images, augment, data, config, ctx)
    uniform_std = 1 / math.sqrt(config["proj_dim"])
    plot_std(ablation, uniform_std, ctx.figure_path("collapse_ablation.png"))

    mg.manual_seed(ctx.seed)
    model = SimSiam(config["widths"], config["proj_dim"], config["pred_hidden"], config["proj_layers"]).to(ctx.device)
    random_encoder = copy.deepcopy(model.backbone)
    steps = config["epochs"] * (len(images) // config["batch_size"])
    curve = train(model, images, augment, steps, config["batch_size"], config, ctx, log_every=max(1, steps // 100))
    ctx.plot(["loss", "output_std"], "curves.png", title="SimSiam")

    results = evaluate(model.backbone, random_encoder, data, ctx.device)
    print(format_table(results))
    return {
        "final_loss": curve["loss"][-1],
        "steps": steps,
        "output_std": curve["output_std"][-1],
        "uniform_std": uniform_std,
        "collapse_ablation": ablation,
        "evaluate": results,
        "works": results["works"],
    }
