"""InstDisc: every image is its own class; a memory bank and NCE make the n-way softmax affordable.

Wu, Xiong, Yu & Lin (2018), "Unsupervised Feature Learning via Non-Parametric Instance
Discrimination". One augmented view per image per step; its 128-d feature is pulled towards the
image's own bank entry and pushed from m uniformly drawn entries (NCE, Z fixed after the first batch);
the bank entry then moves halfway to the new feature. The backbone is evaluated with the shared
protocol, and the paper's own kNN (test features against the memory bank) is reported beside it.
"""

from __future__ import annotations

import copy

import numpy as np

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F

from ..common.backbones import ResNet
from ..common.data import ssl_augmentation, unlabeled_images
from ..common.evaluation import evaluate, features, format_table, knn_accuracy, make_eval_data
from .model import MemoryBank, NCECriterion

DESCRIPTION = "InstDisc: memory bank + NCE instance discrimination (Z fixed), shared 3-way evaluation"

PRESETS = {
    "smoke": {"epochs": 1, "max_steps": 2, "batch_size": 32, "widths": (8, 16, 32), "embedding_dim": 32,
              "num_noise": 64, "temperature": 0.07, "momentum": 0.5, "lr": 2e-3, "weight_decay": 1e-4,
              "crop_scale": (0.3, 1.0), "copies": 1, "limit": 64, "eval_max_train": 100, "bank_init": "features"},
    "cpu": {"epochs": 200, "max_steps": 0, "batch_size": 128, "widths": (8, 16, 64), "embedding_dim": 128,
            "num_noise": 512, "temperature": 0.07, "momentum": 0.5, "lr": 2e-3, "weight_decay": 1e-4,
            "crop_scale": (0.3, 1.0), "copies": 1, "limit": None, "eval_max_train": None, "bank_init": "features"},
    "gpu": {"epochs": 200, "max_steps": 0, "batch_size": 256, "widths": (32, 64, 128), "embedding_dim": 128,
            "num_noise": 4096, "temperature": 0.07, "momentum": 0.5, "lr": 2e-3, "weight_decay": 1e-4,
            "crop_scale": (0.3, 1.0), "copies": 8, "limit": None, "eval_max_train": None, "bank_init": "features"},
}


class InstDiscNet(nn.Module):
    """f = normalize(W g(x)): a ResNet backbone g and a linear embedding W to 128 dimensions."""

    def __init__(self, widths: tuple, embedding_dim: int):
        super().__init__()
        self.backbone = ResNet(in_chans=1, widths=widths)
        self.embedding = nn.Linear(self.backbone.feature_dim, embedding_dim)

    def forward(self, images: mg.Tensor) -> mg.Tensor:
        return F.normalize(self.embedding(self.backbone(images)), dim=1)


def run(config: dict, ctx) -> dict:
    images = unlabeled_images(canvas=32, copies=config["copies"], seed=ctx.seed, limit=config["limit"])
    augment = ssl_augmentation(32, scale=tuple(config["crop_scale"]), seed=ctx.seed)
    rng = np.random.default_rng(ctx.seed)
    num_data = len(images)

    model = InstDiscNet(tuple(config["widths"]), config["embedding_dim"]).to(ctx.device)
    random_backbone = copy.deepcopy(model.backbone)  # (b) of the evaluation: same init, never trained
    bank = MemoryBank(num_data, config["embedding_dim"], config["momentum"], device=ctx.device)
    criterion = NCECriterion(num_data, config["num_noise"], config["temperature"])
    if config["bank_init"] == "features":
        # The paper starts from random unit vectors. Here the random network's features are all close
        # (mean cosine ~0.9), so a Z estimated against random vectors is far too small: every noise
        # entry then looks like data (h ~ 1) and the loss explodes. Starting the bank from the
        # network's own features makes the first batch's Z match the features it will be used with.
        with mg.no_grad():
            bank.fill(mg.cat([model(mg.tensor(images[start:start + 256], device=ctx.device))
                              for start in range(0, num_data, 256)]))

    steps_per_epoch = num_data // config["batch_size"]
    total = steps_per_epoch * config["epochs"]
    if config["max_steps"]:
        total = min(total, config["max_steps"])
    # AdamW instead of the paper's SGD (lr 0.03): with a few hundred steps SGD barely moved the loss here
    optimizer = mg.optim.AdamW(model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    scheduler = mg.optim.lr_scheduler.warmup_cosine(optimizer, warmup_steps=min(steps_per_epoch, total // 10),
                                                    total_steps=total)

    step, losses, initial_loss, Z_after_first = 0, [], None, None
    bar = ctx.progress(total=total, desc="instdisc")
    while step < total:
        order = rng.permutation(num_data)
        for start in range(0, num_data - config["batch_size"] + 1, config["batch_size"]):
            index = order[start:start + config["batch_size"]]
            view = mg.tensor(np.asarray(augment(images[index]), dtype=np.float32), device=ctx.device)
            index_t = mg.tensor(index, dtype=mg.int64, device=ctx.device)
            f = model(view)
            loss = criterion(f, index_t, bank)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            bank.update(index_t, f)
            step += 1
            losses.append(loss.item())
            if initial_loss is None:
                initial_loss, Z_after_first = losses[0], criterion.Z
            with mg.no_grad():
                positive_similarity = (bank[index_t] * f).sum(dim=1).mean().item()
            ctx.log(step, loss=losses[-1], positive_similarity=positive_similarity,
                    lr=optimizer.param_groups[0]["lr"])
            bar.update()
            bar.set_postfix(loss=f"{losses[-1]:.3f}", pos=f"{positive_similarity:.2f}")
            if step >= total:
                break
    bar.close()
    ctx.plot(["loss", "positive_similarity"], "curves.png", title="InstDisc: NCE loss and v_i . f_i")

    data = make_eval_data(canvas=32, labels_per_class=10, augment=augment, max_train=config["eval_max_train"])
    results = evaluate(model.backbone, random_backbone, data, device=ctx.device)
    print(format_table(results))
    metrics = {
        "final_loss": float(np.mean(losses[-10:])),
        "initial_loss": initial_loss,
        "Z": criterion.Z,
        "Z_fixed_after_first_batch": criterion.Z == Z_after_first,
        "final_positive_similarity": positive_similarity,
        "steps": step,
        "evaluation": results,
    }
    if config["copies"] == 1 and config["limit"] is None and config["eval_max_train"] is None:
        # the paper's kNN: test embeddings against the memory bank (bank row i is training image i)
        test_embeddings = features(model, data.test_images, ctx.device)
        metrics["knn_memory_bank"] = knn_accuracy(bank.vectors.cpu().numpy(), data.train_labels,
                                                  test_embeddings, data.test_labels)
    return metrics
