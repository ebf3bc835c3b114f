"""BYOL (Grill et al., 2020, "Bootstrap Your Own Latent: A New Approach to Self-Supervised Learning").

An online network (encoder f_theta, projector g_theta, predictor q_theta) learns to predict the
projection of another view made by a target network (f_xi, g_xi), an exponential moving average
of the online encoder and projector. No negative pairs: what keeps the representation from
collapsing is the predictor together with the slowly moving target; the collapse ablation removes
both (no predictor, tau = 0, so the target is the online network itself) and shows the outputs
collapse.
"""

from __future__ import annotations

import copy
import math

import numpy as np

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.optim.ema import cosine_momentum, ema_update_
from minigrad.optim.lr_scheduler import warmup_cosine

from ..common.backbones import ResNet
from ..common.collapse import output_std
from ..common.data import batches, ssl_augmentation, unlabeled_images
from ..common.evaluation import evaluate, features, format_table, knn_accuracy, make_eval_data
from ..common.heads import mlp_head

DESCRIPTION = "BYOL: predictor + EMA target (cosine momentum), 2-2cos loss; collapse ablation (no predictor, tau=0)"

PRESETS = {
    "smoke": {"widths": (8, 16, 32), "hidden_dim": 64, "proj_dim": 32, "copies": 1, "limit": 64, "epochs": 1,
              "batch_size": 32, "lr": 1e-3, "weight_decay": 1e-4, "tau_base": 0.99, "crop_scale": (0.2, 1.0),
              "ablation_steps": 2, "ablation_batch_size": 32, "eval_max_train": 100},
    "cpu": {"widths": (8, 16, 64), "hidden_dim": 128, "proj_dim": 64, "copies": 1, "limit": None, "epochs": 120,
            "batch_size": 128, "lr": 4e-3, "weight_decay": 1e-4, "tau_base": 0.95, "crop_scale": (0.3, 1.0),
            "ablation_steps": 30, "ablation_batch_size": 64, "eval_max_train": None},
    "gpu": {"widths": (32, 64, 128), "hidden_dim": 1024, "proj_dim": 256, "copies": 4, "limit": None, "epochs": 100,
            "batch_size": 256, "lr": 2e-3, "weight_decay": 1e-4, "tau_base": 0.996, "crop_scale": (0.2, 1.0),
            "ablation_steps": 200, "ablation_batch_size": 256, "eval_max_train": None},
}


class BYOL(nn.Module):
    """Online network f_theta -> g_theta -> q_theta and target network f_xi -> g_xi (an EMA, no gradient).

    ``predictor=False`` replaces q_theta by the identity (the ablation).
    """

    def __init__(self, widths: tuple, hidden_dim: int, proj_dim: int, predictor: bool = True):
        super().__init__()
        encoder = ResNet(widths=widths)                                                  # f_theta
        self.online = nn.Sequential(encoder, mlp_head(encoder.feature_dim, hidden_dim, proj_dim))  # g_theta(f_theta)
        self.predictor = mlp_head(proj_dim, hidden_dim, proj_dim) if predictor else nn.Identity()  # q_theta
        self.target = copy.deepcopy(self.online).requires_grad_(False)                   # g_xi(f_xi), xi <- theta

    @property
    def encoder(self) -> nn.Module:
        """f_theta: the representation that is evaluated."""
        return self.online[0]

    def forward(self, view_1: mg.Tensor, view_2: mg.Tensor):
        """Predictions q_theta(z_theta) of both views and target projections z'_xi of both views (no graph)."""
        both = mg.cat([view_1, view_2])
        p_1, p_2 = self.predictor(self.online(both)).chunk(2)
        with mg.no_grad():
            z_1, z_2 = self.target(both).chunk(2)
        return p_1, p_2, z_1, z_2

    @mg.no_grad()
    def update_target(self, tau: float) -> None:
        """xi <- tau xi + (1 - tau) theta."""
        ema_update_(self.target, self.online, tau)


def regression_loss(p: mg.Tensor, z: mg.Tensor) -> mg.Tensor:
    """L = ||p/||p|| - z/||z|| ||^2 = 2 - 2 cos(p, sg(z)), averaged over the batch."""
    return (2 - 2 * (F.normalize(p, dim=1) * F.normalize(z.detach(), dim=1)).sum(dim=1)).mean()


def byol_loss(p_1, p_2, z_1, z_2) -> mg.Tensor:
    """The symmetrised loss L + L~: each view's prediction regresses the other view's target projection."""
    return regression_loss(p_1, z_2) + regression_loss(p_2, z_1)


def to_tensor(images: np.ndarray, device: str) -> mg.Tensor:
    return mg.tensor(np.asarray(images, dtype=np.float32), device=device)


def train(model: BYOL, images: np.ndarray, augment, steps: int, batch_size: int, config: dict, ctx, tau_base: float,
          prefix: str = "", log_every: int = 1, desc: str = "byol") -> dict:
    """BYOL's loop: loss on two views, AdamW step on theta, then xi <- tau xi + (1 - tau) theta.

    tau follows the cosine schedule tau_k = 1 - (1 - tau_base)(cos(pi k / K) + 1) / 2.
    Logs the loss, tau and the per-dimension std of the l2-normalised projections (collapse -> 0).
    """
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = mg.optim.AdamW(parameters, lr=config["lr"], weight_decay=config["weight_decay"])
    scheduler = warmup_cosine(optimizer, warmup_steps=max(1, steps // 10), total_steps=steps)
    rng = np.random.default_rng(ctx.seed)
    curve = {"step": [], "loss": [], "output_std": []}
    step, bar = 0, ctx.progress(total=steps, desc=desc)
    while step < steps:
        for batch in batches(images, batch_size, rng):
            view_1, view_2 = to_tensor(augment(batch), ctx.device), to_tensor(augment(batch), ctx.device)
            p_1, p_2, z_1, z_2 = model(view_1, view_2)
            loss = byol_loss(p_1, p_2, z_1, z_2)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            tau = cosine_momentum(step, steps, base=tau_base)
            model.update_target(tau)
            step += 1
            bar.update()
            if step % log_every == 0 or step == steps:
                with mg.no_grad():
                    std = output_std(model.online(view_1))
                ctx.log(step, **{f"{prefix}loss": loss.item(), f"{prefix}output_std": std, f"{prefix}tau": tau})
                curve["step"].append(step)
                curve["loss"].append(loss.item())
                curve["output_std"].append(std)
                bar.set_postfix(loss=f"{loss.item():.3f}", std=f"{std:.3f}")
            if step == steps:
                break
    bar.close()
    return curve


def collapse_ablation(images: np.ndarray, augment, data, config: dict, ctx) -> dict:
    """Short runs of BYOL and of BYOL without predictor and with tau = 0 (the target is the online net),
    each with the kNN accuracy of its encoder at the end."""
    runs = {}
    for name, predictor, tau_base in (("byol", True, config["tau_base"]), ("no_predictor_tau_0", False, 0.0)):
        mg.manual_seed(ctx.seed)
        model = BYOL(config["widths"], config["hidden_dim"], config["proj_dim"], predictor=predictor).to(ctx.device)
        runs[name] = train(model, images, augment, config["ablation_steps"], config["ablation_batch_size"], config,
                           ctx, tau_base=tau_base, prefix=f"ablation_{name}_", desc=f"ablation {name}")
        runs[name]["knn"] = knn_accuracy(features(model.encoder, data.train_images, ctx.device), data.train_labels,
                                         features(model.encoder, data.test_images, ctx.device), data.test_labels)
    return runs


def plot_std(runs: dict, uniform_std: float, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, curve in runs.items():
        ax.plot(curve["step"], curve["output_std"], label=name)
    ax.axhline(uniform_std, color="gray", linestyle="--", label="1/sqrt(d)")
    ax.set_xlabel("step")
    ax.set_ylabel("std of l2-normalised output")
    ax.set_title("BYOL collapse ablation")
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
    model = BYOL(config["widths"], config["hidden_dim"], config["proj_dim"]).to(ctx.device)
    random_encoder = copy.deepcopy(model.encoder)
    steps = config["epochs"] * (len(images) // config["batch_size"])
    curve = train(model, images, augment, steps, config["batch_size"], config, ctx, tau_base=config["tau_base"],
                  log_every=max(1, steps // 100))
    ctx.plot(["loss", "output_std"], "curves.png", title="BYOL")

    results = evaluate(model.encoder, random_encoder, data, ctx.device)
    print(format_table(results))
    return {
        "final_loss": curve["loss"][-1],
        "steps": steps,
        "output_std": curve["output_std"][-1],
        "uniform_std": uniform_std,
        "collapse_ablation": {name: {"final_output_std": c["output_std"][-1], "final_loss": c["loss"][-1],
                                     "knn": c.pop("knn"), **c}
                              for name, c in ablation.items()},
        "evaluate": results,
        "works": results["works"],
    }
