"""CMC: two views of each image, one encoder per view, InfoNCE across views in both directions.

Tian, Krishnan & Isola (2020), "Contrastive Multiview Coding". The paper splits a colour image into
views that see different channels of the same scene (L and ab of Lab; also depth, flow, ...), gives
each view its own encoder f_1, f_2, and contrasts them: a view-1 feature must pick the view-2
feature of the same image out of k + 1 candidates,

    h(v1, v2) = exp(f_1(v1) . f_2(v2) / tau)          (features l2-normalised, tau = 0.07)
    L(V1, V2) = -E log h(v1_i, v2_i) / sum_j h(v1_i, v2_j)
    L_CMC     = L(V1, V2) + L(V2, V1)                 (both views serve as anchors)

Grayscale digits have one channel, so the two views here are two "channel-like" signals of the
same augmented image: the intensity (view 1: "L") and its Sobel gradient field d/dx, d/dy (view 2:
a 2-channel edge map, computed inside the encoder so evaluation sees the same view). With
``independent_crops=True`` each view is also taken from its own random crop of the image (as in
CMC's patch-based and later InfoMin experiments), which removes the shortcut of matching exact pixel
positions between views. Negatives are the other images of the batch (k = B - 1), as in the
paper's softmax-cross-entropy variant with in-batch keys instead of a memory bank.
Evaluated: the concatenation [f_1 backbone, f_2 backbone] of the two encoders, as the paper does.
"""

from __future__ import annotations

import copy

import numpy as np

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F

from ..common.backbones import ResNet
from ..common.data import ssl_augmentation, unlabeled_images
from ..common.evaluation import evaluate, format_table, make_eval_data

DESCRIPTION = "CMC: intensity and gradient views, one encoder each, two-way InfoNCE, shared evaluation"

_BASE = {"temperature": 0.07, "crop_scale": (0.3, 1.0), "weight_decay": 1e-4, "independent_crops": True}
PRESETS = {
    "smoke": {**_BASE, "epochs": 1, "max_steps": 2, "batch_size": 32, "widths": (8, 16, 32), "embedding_dim": 32,
              "lr": 0.05, "copies": 1, "limit": 64, "eval_max_train": 100, "evaluate_view1_alone": False},
    "cpu": {**_BASE, "epochs": 80, "max_steps": 0, "batch_size": 128, "widths": (8, 16, 64), "embedding_dim": 128,
            "lr": 0.05, "copies": 1, "limit": None, "eval_max_train": None, "evaluate_view1_alone": True},
    "gpu": {**_BASE, "epochs": 100, "max_steps": 0, "batch_size": 256, "widths": (32, 64, 128),
            "embedding_dim": 128, "lr": 0.05, "copies": 4, "limit": None, "eval_max_train": None,
            "evaluate_view1_alone": True},
}


def sobel_gradients(images: mg.Tensor) -> mg.Tensor:
    """(N, 1, H, W) intensity -> (N, 2, H, W) Sobel derivatives d/dx and d/dy (the 'edge' view)."""
    kernel_x = [[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]
    kernel_y = [[-1.0, -2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]]
    weight = mg.tensor([[kernel_x], [kernel_y]], device=images.device) / 8.0  # central difference: a unit slope gives 1
    return F.conv2d(images, weight, padding=1)


class ViewEncoder(nn.Module):
    """One view's encoder: a ResNet backbone on that view, a linear embedding, l2 normalisation."""

    def __init__(self, in_chans: int, widths: tuple, embedding_dim: int):
        super().__init__()
        self.backbone = ResNet(in_chans=in_chans, widths=widths)
        self.embedding = nn.Linear(self.backbone.feature_dim, embedding_dim)

    def forward(self, view: mg.Tensor) -> mg.Tensor:
        return F.normalize(self.embedding(self.backbone(view)), dim=1)


class CMCNet(nn.Module):
    """f_1 on the intensity view, f_2 on the gradient view; ``forward`` gives the evaluated features."""

    def __init__(self, widths: tuple, embedding_dim: int):
        super().__init__()
        self.intensity = ViewEncoder(1, widths, embedding_dim)
        self.gradients = ViewEncoder(2, widths, embedding_dim)

    def embed(self, view1_images: mg.Tensor, view2_images: mg.Tensor) -> tuple:
        """(z_1, z_2): l2-normalised embeddings of view 1 (intensity) and view 2 (Sobel gradients)."""
        return self.intensity(view1_images), self.gradients(sobel_gradients(view2_images))

    def forward(self, images: mg.Tensor) -> mg.Tensor:
        """[f_1 backbone(x), f_2 backbone(sobel(x))]: the concatenated representation that is probed."""
        return mg.cat([self.intensity.backbone(images), self.gradients.backbone(sobel_gradients(images))], dim=1)


def cmc_loss(z1: mg.Tensor, z2: mg.Tensor, temperature: float) -> tuple:
    """L(V1, V2) + L(V2, V1) with in-batch candidates: logits z1 z2^T / tau, positives on the diagonal.

    Returns (total, L(V1, V2), L(V2, V1)). At random init each term is about log B.
    """
    logits = z1 @ z2.T / temperature
    targets = mg.arange(z1.shape[0], device=z1.device)
    view1_anchors = F.cross_entropy(logits, targets)
    view2_anchors = F.cross_entropy(logits.T, targets)
    return view1_anchors + view2_anchors, view1_anchors, view2_anchors


def run(config: dict, ctx) -> dict:
    images = unlabeled_images(canvas=32, copies=config["copies"], seed=ctx.seed, limit=config["limit"])
    augment = ssl_augmentation(32, scale=tuple(config["crop_scale"]), seed=ctx.seed)
    rng = np.random.default_rng(ctx.seed)

    model = CMCNet(tuple(config["widths"]), config["embedding_dim"]).to(ctx.device)
    random_model = copy.deepcopy(model)

    steps_per_epoch = len(images) // config["batch_size"]
    total = steps_per_epoch * config["epochs"]
    if config["max_steps"]:
        total = min(total, config["max_steps"])
    optimizer = mg.optim.SGD(model.parameters(), lr=config["lr"], momentum=0.9, weight_decay=config["weight_decay"])
    scheduler = mg.optim.lr_scheduler.warmup_cosine(optimizer, warmup_steps=min(steps_per_epoch, total // 10),
                                                    total_steps=total)

    def to_device(batch):
        return mg.tensor(np.asarray(batch, dtype=np.float32), device=ctx.device)

    step, losses, initial = 0, [], None
    bar = ctx.progress(total=total, desc="cmc")
    while step < total:
        order = rng.permutation(len(images))
        for start in range(0, len(images) - config["batch_size"] + 1, config["batch_size"]):
            batch = images[order[start:start + config["batch_size"]]]
            view1 = to_device(augment(batch))
            view2 = to_device(augment(batch)) if config["independent_crops"] else view1
            z1, z2 = model.embed(view1, view2)
            loss, loss_12, loss_21 = cmc_loss(z1, z2, config["temperature"])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
            losses.append(loss.item())
            if initial is None:
                initial = losses[0]
            with mg.no_grad():
                top1 = ((z1 @ z2.T).argmax(dim=1) == mg.arange(z1.shape[0], device=z1.device)).float().mean().item()
            ctx.log(step, loss=losses[-1], loss_view1_anchors=loss_12.item(), loss_view2_anchors=loss_21.item(),
                    cross_view_top1=top1, lr=optimizer.param_groups[0]["lr"])
            bar.update()
            bar.set_postfix(loss=f"{losses[-1]:.3f}", top1=f"{top1:.2f}")
            if step >= total:
                break
    bar.close()
    ctx.plot(["loss", "cross_view_top1"], "curves.png", title="CMC: two-way InfoNCE and cross-view retrieval")

    data = make_eval_data(canvas=32, labels_per_class=10, augment=augment, max_train=config["eval_max_train"])
    results = evaluate(model, random_model, data, device=ctx.device)
    print(format_table(results))
    metrics = {
        "final_loss": float(np.mean(losses[-10:])),
        "initial_loss": initial,
        "initial_loss_expected": 2 * float(np.log(config["batch_size"])),
        "final_cross_view_top1": top1,
        "steps": step,
        "evaluation": results,
    }
    if config["evaluate_view1_alone"]:
        metrics["evaluation_view1_only"] = evaluate(model.intensity.backbone, random_model.intensity.backbone, data,
                                                    device=ctx.device)
    return metrics
