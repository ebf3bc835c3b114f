"""DINO (Caron et al., 2021, "Emerging Properties in Self-Supervised Vision Transformers").

Self-distillation with no labels: a ViT student g_theta_s is trained to match the output
distribution of a teacher g_theta_t, an exponential moving average of the student, over K
prototypes. Multi-crop: two global crops go through teacher and student, several small local crops
through the student only, and the loss pairs every teacher crop with every *other* student crop,
so the student learns local-to-global correspondences. Collapse is avoided by centering (subtract
an EMA of the teacher's mean output) and sharpening (a low teacher temperature) together; the
ablations show that either alone collapses (to the uniform distribution, or to one prototype).
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

from ..common.backbones import VisionTransformer
from ..common.collapse import entropy, kl_divergence
from ..common.data import batches, ssl_augmentation, unlabeled_images
from ..common.evaluation import evaluate, format_table, make_eval_data

DESCRIPTION = "DINO: ViT self-distillation, multi-crop, centering + sharpening; collapse ablations and attention maps"

PRESETS = {
    "smoke": {"dim": 32, "depth": 2, "heads": 2, "patch_size": 4, "num_prototypes": 64, "head_hidden": 64,
              "bottleneck": 32, "copies": 1, "limit": 64, "epochs": 1, "batch_size": 32, "local_crops": 2,
              "lr": 1e-3, "weight_decay": 0.04, "momentum_base": 0.99, "student_temp": 0.1, "teacher_temp": 0.04,
              "warmup_teacher_temp": 0.04, "teacher_temp_warmup_frac": 0.3, "center_momentum": 0.9,
              "global_scale": (0.4, 1.0), "local_scale": (0.05, 0.4), "ablation_steps": 2,
              "ablation_batch_size": 32, "eval_max_train": 100, "stem": "patch", "pool": "cls"},
    "cpu": {"dim": 64, "depth": 4, "heads": 4, "patch_size": 4, "num_prototypes": 256, "head_hidden": 256,
            "bottleneck": 64, "copies": 1, "limit": None, "epochs": 10, "batch_size": 64, "local_crops": 2,
            "lr": 1e-3, "weight_decay": 0.04, "momentum_base": 0.99, "student_temp": 0.1, "teacher_temp": 0.04,
            "warmup_teacher_temp": 0.04, "teacher_temp_warmup_frac": 0.3, "center_momentum": 0.9,
            "global_scale": (0.4, 1.0), "local_scale": (0.15, 0.4), "ablation_steps": 40,
            "ablation_batch_size": 32, "eval_max_train": None, "stem": "patch", "pool": "cls"},
    "gpu": {"dim": 192, "depth": 6, "heads": 6, "patch_size": 4, "num_prototypes": 4096, "head_hidden": 1024,
            "bottleneck": 256, "copies": 4, "limit": None, "epochs": 100, "batch_size": 256, "local_crops": 6,
            "lr": 1e-3, "weight_decay": 0.04, "momentum_base": 0.996, "student_temp": 0.1, "teacher_temp": 0.07,
            "warmup_teacher_temp": 0.04, "teacher_temp_warmup_frac": 0.3, "center_momentum": 0.9,
            "global_scale": (0.4, 1.0), "local_scale": (0.05, 0.4), "ablation_steps": 300,
            "ablation_batch_size": 128, "eval_max_train": None, "stem": "patch", "pool": "cls"},
}


class DINOHead(nn.Module):
    """3-layer GELU MLP -> bottleneck -> l2-normalise -> weight-normalised linear layer to K prototypes.

    The last layer's weight norm g is fixed to 1 (DINO's ``norm_last_layer``): the output is the cosine
    similarity between the normalised bottleneck feature and each normalised prototype row. The MLP
    starts as DINO's (weights N(0, 0.02^2) truncated, biases 0): with random biases the bottleneck
    features of different images start almost identical, centering then makes the teacher uniform
    and training never leaves that collapse.
    """

    def __init__(self, in_dim: int, num_prototypes: int, hidden_dim: int, bottleneck_dim: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, hidden_dim),
                                 nn.GELU(), nn.Linear(hidden_dim, bottleneck_dim))
        for layer in self.mlp:
            if isinstance(layer, nn.Linear):
                nn.init.trunc_normal_(layer.weight, std=0.02)
                nn.init.zeros_(layer.bias)
        self.prototypes = nn.Parameter(mg.empty(num_prototypes, bottleneck_dim))
        nn.init.trunc_normal_(self.prototypes, std=0.02)

    def forward(self, x: mg.Tensor) -> mg.Tensor:
        return F.normalize(self.mlp(x), dim=-1) @ F.normalize(self.prototypes, dim=1).T


class Standardize(nn.Module):
    """(x - mean) / std with the pixel statistics of the unlabelled images (DINO normalises its inputs too).

    It matters here: the hard digits are mostly dark background, and on raw [0, 1] pixels the [cls] features
    of the randomly initialised ViT differ so little between images (per-dimension std of the normalised
    features ~0.006) that centering turns the teacher uniform before anything is learned.
    """

    def __init__(self, mean: float, std: float):
        super().__init__()
        self.mean, self.std = float(mean), float(std)

    def forward(self, images: mg.Tensor) -> mg.Tensor:
        return (images - self.mean) / self.std


class DINONetwork(nn.Module):
    """g = head(backbone(x)) for crops of any size: the positional embeddings of the 32x32 grid are
    resized (bilinearly) to the crop's patch grid, as DINO's ``interpolate_pos_encoding``.

    ``encoder`` (standardisation + backbone) is what is evaluated.
    """

    def __init__(self, config: dict, pixel_mean: float = 0.0, pixel_std: float = 1.0):
        super().__init__()
        self.standardize = Standardize(pixel_mean, pixel_std)
        self.backbone = VisionTransformer(img_size=32, patch_size=config["patch_size"], dim=config["dim"],
                                          depth=config["depth"], heads=config["heads"],
                                          stem=config.get("stem", "patch"), pool=config.get("pool", "cls"))
        self.head = DINOHead(config["dim"], config["num_prototypes"], config["head_hidden"], config["bottleneck"])

    def features(self, images: mg.Tensor) -> mg.Tensor:
        """The backbone's feature: [cls], or the mean patch token with ``pool="mean"``."""
        vit = self.backbone
        patches = vit.patch_embed(self.standardize(images))
        full = int(math.sqrt(vit.patch_embed.num_patches))
        side = int(math.sqrt(patches.shape[1]))
        position = vit.pos_embed[:, 1:]
        if side != full:
            grid = position.reshape(1, full, full, vit.dim).permute(0, 3, 1, 2)
            grid = F.interpolate(grid, size=(side, side), mode="bilinear", align_corners=False)
            position = grid.permute(0, 2, 3, 1).reshape(1, side * side, vit.dim)
        return vit.pooled(vit.encode(patches + position))

    def forward(self, images: mg.Tensor) -> mg.Tensor:
        return self.head(self.features(images))

    @property
    def encoder(self) -> nn.Module:
        return nn.Sequential(self.standardize, self.backbone)


class DINOLoss(nn.Module):
    """H(P_t, P_s) summed over pairs of different crops, with the teacher centred and sharpened.

        P_t = softmax((g_t(x) - c) / tau_t),   P_s = softmax(g_s(x') / tau_s),
        loss = mean over pairs (x in globals, x' in all crops, x' != x) of -sum_k P_t log P_s,
        c <- m c + (1 - m) mean_batch g_t(x)                        (after each step)

    ``centering=False`` keeps c = 0 (the "sharpening only" ablation).
    """

    def __init__(self, num_prototypes: int, student_temp: float, center_momentum: float, centering: bool = True):
        super().__init__()
        self.student_temp, self.center_momentum, self.centering = student_temp, center_momentum, centering
        self.register_buffer("center", mg.zeros(1, num_prototypes))

    def teacher_probs(self, teacher_out: mg.Tensor, teacher_temp: float) -> mg.Tensor:
        return ((teacher_out.detach() - self.center) / teacher_temp).softmax(dim=-1)

    def forward(self, student_out: list, teacher_out: list, teacher_temp: float):
        """``student_out``: logits per crop (globals first), ``teacher_out``: logits per global crop.

        Returns the loss and the teacher probabilities / student log-probabilities for the diagnostics.
        """
        teacher_p = [self.teacher_probs(t, teacher_temp) for t in teacher_out]
        student_logp = [F.log_softmax(s / self.student_temp, dim=-1) for s in student_out]
        total, pairs = 0, 0
        for iq, p_t in enumerate(teacher_p):
            for v, logp_s in enumerate(student_logp):
                if v == iq:  # never the same view for teacher and student
                    continue
                total = total + (-(p_t * logp_s).sum(dim=-1)).mean()
                pairs += 1
        self.update_center(teacher_out)
        return total / pairs, teacher_p, student_logp

    @mg.no_grad()
    def update_center(self, teacher_out: list) -> None:
        if self.centering:
            batch_center = mg.cat(teacher_out).mean(dim=0, keepdim=True)
            self.center.copy_(self.center * self.center_momentum + batch_center * (1 - self.center_momentum))


def teacher_temperature(step: int, total_steps: int, config: dict) -> float:
    """tau_t: linear warm-up from ``warmup_teacher_temp`` to ``teacher_temp``, then constant."""
    warmup = max(1, int(config["teacher_temp_warmup_frac"] * total_steps))
    if step >= warmup:
        return config["teacher_temp"]
    return config["warmup_teacher_temp"] + (config["teacher_temp"] - config["warmup_teacher_temp"]) * step / warmup


def to_tensor(images: np.ndarray, device: str) -> mg.Tensor:
    return mg.tensor(np.asarray(images, dtype=np.float32), device=device)


def train(images: np.ndarray, global_crop, local_crop, steps: int, batch_size: int, config: dict, ctx,
          centering: bool = True, sharpening: bool = True, prefix: str = "", log_every: int = 1, desc: str = "dino"):
    """DINO's loop. Returns (student, teacher, curve with loss, teacher entropy and KL(P_t || P_s)).

    ``sharpening=False`` sets tau_t = tau_s (the "centering only" ablation).
    """
    mg.manual_seed(ctx.seed)
    student = DINONetwork(config, images.mean(), images.std()).to(ctx.device)
    teacher = copy.deepcopy(student).requires_grad_(False)
    criterion = DINOLoss(config["num_prototypes"], config["student_temp"], config["center_momentum"],
                         centering=centering).to(ctx.device)
    optimizer = mg.optim.AdamW(student.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    scheduler = warmup_cosine(optimizer, warmup_steps=max(1, steps // 10), total_steps=steps)
    rng = np.random.default_rng(ctx.seed)
    curve = {"step": [], "loss": [], "teacher_entropy": [], "kl": []}
    step, bar = 0, ctx.progress(total=steps, desc=desc)
    while step < steps:
        for batch in batches(images, batch_size, rng):
            globals_ = [to_tensor(global_crop(batch), ctx.device) for _ in range(2)]
            locals_ = [to_tensor(local_crop(batch), ctx.device) for _ in range(config["local_crops"])]
            teacher_temp = teacher_temperature(step, steps, config) if sharpening else config["student_temp"]
            with mg.no_grad():
                teacher_out = list(teacher(mg.cat(globals_)).chunk(2))
            student_out = list(student(mg.cat(globals_)).chunk(2))
            if locals_:
                student_out += list(student(mg.cat(locals_)).chunk(len(locals_)))
            loss, teacher_p, student_logp = criterion(student_out, teacher_out, teacher_temp)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            momentum = cosine_momentum(step, steps, base=config["momentum_base"])
            with mg.no_grad():
                ema_update_(teacher, student, momentum)
            step += 1
            bar.update()
            if step % log_every == 0 or step == steps:
                h = entropy(teacher_p[0])
                kl = kl_divergence(teacher_p[0], student_logp[1])  # teacher on crop 1, student on crop 2
                ctx.log(step, **{f"{prefix}loss": loss.item(), f"{prefix}teacher_entropy": h, f"{prefix}kl": kl,
                                 f"{prefix}teacher_temp": teacher_temp})
                curve["step"].append(step)
                curve["loss"].append(loss.item())
                curve["teacher_entropy"].append(h)
                curve["kl"].append(kl)
                bar.set_postfix(loss=f"{loss.item():.3f}", H=f"{h:.2f}", KL=f"{kl:.3f}")
            if step == steps:
                break
    bar.close()
    return student, teacher, curve


def collapse_ablations(images, global_crop, local_crop, config: dict, ctx) -> dict:
    """Short runs: full DINO, centering only (tau_t = tau_s) and sharpening only (c = 0)."""
    runs = {}
    for name, centering, sharpening in (("dino", True, True), ("centering_only", True, False),
                                        ("sharpening_only", False, True)):
        *_, runs[name] = train(images, global_crop, local_crop, config["ablation_steps"],
                               config["ablation_batch_size"], config, ctx, centering=centering,
                               sharpening=sharpening, prefix=f"ablation_{name}_", desc=f"ablation {name}")
    return runs


def plot_ablations(runs: dict, num_prototypes: int, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_h, ax_kl) = plt.subplots(1, 2, figsize=(9, 3.5))
    for name, curve in runs.items():
        ax_h.plot(curve["step"], curve["teacher_entropy"], label=name)
        ax_kl.plot(curve["step"], curve["kl"], label=name)
    ax_h.axhline(math.log(num_prototypes), color="gray", linestyle="--", label="log K")
    ax_h.set_title("teacher entropy H(P_t)")
    ax_kl.set_title("KL(P_t || P_s)")
    for ax in (ax_h, ax_kl):
        ax.set_xlabel("step")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_attention(network: DINONetwork, images: np.ndarray, device: str, path) -> None:
    """Self-attention of the [cls] token to the patches in the last block, one column per head."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with mg.no_grad():
        inputs = network.standardize(to_tensor(images, device))
    weights = network.backbone.last_attention(inputs).cpu().numpy()  # (N, heads, tokens, tokens)
    n, heads = weights.shape[:2]
    side = int(math.sqrt(weights.shape[-1] - 1))
    fig, axes = plt.subplots(n, heads + 1, figsize=(1.6 * (heads + 1), 1.6 * n), squeeze=False)
    for i in range(n):
        axes[i, 0].imshow(images[i, 0], cmap="gray")
        for h in range(heads):
            axes[i, h + 1].imshow(weights[i, h, 0, 1:].reshape(side, side), cmap="inferno")
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_title("image")
    for h in range(heads):
        axes[0, h + 1].set_title(f"head {h}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(config: dict, ctx) -> dict:
    images = unlabeled_images(canvas=32, copies=config["copies"], seed=ctx.seed, limit=config["limit"])
    global_crop = ssl_augmentation(32, scale=tuple(config["global_scale"]), seed=ctx.seed)
    local_crop = ssl_augmentation(16, scale=tuple(config["local_scale"]), seed=ctx.seed + 10)

    ablation = collapse_ablations(images, global_crop, local_crop, config, ctx)
    plot_ablations(ablation, config["num_prototypes"], ctx.figure_path("collapse_ablation.png"))

    mg.manual_seed(ctx.seed)
    random_encoder = DINONetwork(config, images.mean(), images.std()).encoder.to(ctx.device)  # train()'s init
    steps = config["epochs"] * (len(images) // config["batch_size"])
    student, teacher, curve = train(images, global_crop, local_crop, steps, config["batch_size"], config, ctx,
                                    log_every=max(1, steps // 100))
    ctx.plot(["loss", "teacher_entropy", "kl"], "curves.png", title="DINO")

    data = make_eval_data(canvas=32, labels_per_class=10, max_train=config["eval_max_train"],
                          augment=ssl_augmentation(32, scale=tuple(config["global_scale"]), seed=ctx.seed + 100))
    plot_attention(teacher, data.test_images[:6], ctx.device, ctx.figure_path("attention.png"))
    results = evaluate(teacher.encoder, random_encoder, data, ctx.device)
    print(format_table(results))
    final = {name: {"final_teacher_entropy": c["teacher_entropy"][-1], "final_kl": c["kl"][-1], **c}
             for name, c in ablation.items()}
    return {
        "final_loss": curve["loss"][-1],
        "steps": steps,
        "teacher_entropy": curve["teacher_entropy"][-1],
        "kl": curve["kl"][-1],
        "log_K": math.log(config["num_prototypes"]),
        "collapse_ablation": final,
        "evaluate": results,
        "works": results["works"],
    }
