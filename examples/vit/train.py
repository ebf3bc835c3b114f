"""ViT (Dosovitskiy et al., 2021, "An Image is Worth 16x16 Words"), supervised, on the hard digits.

The image is cut into P x P patches, each patch is linearly embedded, a learnable [class] token is
prepended, learned position embeddings are added, and a stack of pre-norm transformer blocks runs
over the sequence; the classifier reads the final [class] token:

    z_0 = [x_class; x_p^1 E; ...; x_p^N E] + E_pos
    z'_l = MSA(LN(z_{l-1})) + z_{l-1},   z_l = MLP(LN(z'_l)) + z'_l,   l = 1..L
    y = head(LN(z_L^0))

The presets use the paper's hybrid input (``stem="conv"``: the tokens are the positions of a small
CNN's 8x8 feature map); ``stem="patch"`` is the pure ViT, which stays near chance within the cpu
budget on this small data set (see the README). Trained with cross-entropy (label smoothing), AdamW
and a warm-up cosine schedule, on hard digits (a digit at a random place and size among clutter)
with random resized crops that keep the digit.
Reports test accuracy next to raw-pixel kNN / linear-probe baselines on the same split, the shared
three-way evaluation of the [class] features, and plots where the [class] token looks.
"""

from __future__ import annotations

import copy

import numpy as np

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad import transforms as T
from minigrad.datasets import hard_digits
from minigrad.optim.lr_scheduler import warmup_cosine

from ..common.backbones import VisionTransformer
from ..common.data import batches
from ..common.evaluation import evaluate, format_table, make_eval_data

DESCRIPTION = "ViT (Dosovitskiy et al. 2021), supervised on hard digits: test accuracy vs raw pixels, [cls] attention"

PRESETS = {
    "smoke": {"dim": 32, "depth": 1, "heads": 2, "mlp_ratio": 2.0, "patch_size": 4, "stem": "conv",
              "copies": 1, "limit": 64, "epochs": 1, "batch_size": 32, "lr": 1e-3, "weight_decay": 0.05,
              "warmup_epochs": 0, "label_smoothing": 0.1, "crop_scale": (0.6, 1.0),
              "eval_max_train": 100, "eval_max_test": 50},
    "cpu": {"dim": 64, "depth": 4, "heads": 4, "mlp_ratio": 2.0, "patch_size": 4, "stem": "conv",
            "copies": 4, "limit": None, "epochs": 5, "batch_size": 64, "lr": 1e-3, "weight_decay": 0.05,
            "warmup_epochs": 1, "label_smoothing": 0.1, "crop_scale": (0.6, 1.0),
            "eval_max_train": None, "eval_max_test": None},
    "gpu": {"dim": 192, "depth": 6, "heads": 6, "mlp_ratio": 4.0, "patch_size": 4, "stem": "conv",
            "copies": 20, "limit": None, "epochs": 60, "batch_size": 256, "lr": 1e-3, "weight_decay": 0.05,
            "warmup_epochs": 5, "label_smoothing": 0.1, "crop_scale": (0.6, 1.0),
            "eval_max_train": None, "eval_max_test": None},
}

CANVAS = 32


def augmentation(crop_scale: tuple) -> T.Compose:
    """Random resized crops that keep most of the canvas (and so the digit), light contrast jitter."""
    return T.Compose([T.RandomResizedCrop(CANVAS, scale=crop_scale, ratio=(0.8, 1.25)),
                      T.RandomApply([T.ColorJitter(brightness=0.3, contrast=0.3)], p=0.5)])


def make_model(config: dict) -> VisionTransformer:
    """The shared ViT with a 10-way head; ``stem="conv"`` swaps raw patches for the hybrid stem."""
    return VisionTransformer(img_size=CANVAS, patch_size=config["patch_size"], dim=config["dim"],
                             depth=config["depth"], heads=config["heads"], mlp_ratio=config["mlp_ratio"],
                             num_classes=10, stem=config["stem"])


class ClassToken(nn.Module):
    """The ViT without its head: the final [cls] feature, what the probes read."""

    def __init__(self, vit: VisionTransformer):
        super().__init__()
        self.vit = vit

    def forward(self, images: mg.Tensor) -> mg.Tensor:
        return self.vit.encode(self.vit.tokens(images))[:, 0]


@mg.no_grad()
def accuracy(model: nn.Module, images: np.ndarray, labels: np.ndarray, device: str, batch_size: int = 512) -> float:
    model.eval()
    correct = 0
    for start in range(0, len(images), batch_size):
        logits = model(mg.tensor(images[start:start + batch_size], device=device))
        correct += int((logits.argmax(dim=1).cpu().numpy() == labels[start:start + batch_size]).sum())
    model.train()
    return correct / len(images)


def cls_attention_maps(model: VisionTransformer, images: np.ndarray, device: str = "cpu") -> np.ndarray:
    """Where [cls] looks in the last block: row 0 of the attention, mean over heads, as a patch grid.

    Returns ``(N, grid, grid)`` with ``grid = img_size / patch_size``; each map sums to 1 minus the
    weight [cls] puts on itself.
    """
    was_training = model.training
    model.eval()  # the hybrid stem's BatchNorm uses its running statistics
    weights = model.last_attention(mg.tensor(images, device=device)).cpu().numpy()  # (N, heads, 1+L, 1+L)
    model.train(was_training)
    cls_row = weights[:, :, 0, 1:].mean(axis=1)
    grid = int(round(np.sqrt(cls_row.shape[1])))
    return cls_row.reshape(len(images), grid, grid)


def plot_attention(model: VisionTransformer, images: np.ndarray, labels: np.ndarray, path, device: str) -> None:
    """Test images, and the [cls] attention of the last block upsampled over each (nearest, patch-sized blocks)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    maps = cls_attention_maps(model, images, device)
    with mg.no_grad():
        model.eval()
        predictions = model(mg.tensor(images, device=device)).argmax(dim=1).cpu().numpy()
        model.train()
    scale = images.shape[-1] // maps.shape[-1]
    fig, axes = plt.subplots(2, len(images), figsize=(1.6 * len(images), 3.4))
    for i in range(len(images)):
        upsampled = np.kron(maps[i], np.ones((scale, scale)))
        axes[0, i].imshow(images[i, 0], cmap="gray", vmin=0, vmax=1)
        axes[0, i].set_title(f"label {labels[i]} / pred {predictions[i]}", fontsize=7)
        axes[1, i].imshow(images[i, 0], cmap="gray", vmin=0, vmax=1)
        axes[1, i].imshow(upsampled, cmap="inferno", alpha=0.6)
        for ax in axes[:, i]:
            ax.axis("off")
    axes[1, 0].set_title("[cls] attention, last block", fontsize=7, loc="left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(config: dict, ctx) -> dict:
    device = ctx.device
    train_x, train_y = hard_digits("train", canvas=CANVAS, copies=config["copies"], seed=0)
    if config["limit"] is not None:
        train_x, train_y = train_x[:config["limit"]], train_y[:config["limit"]]
    augment = augmentation(tuple(config["crop_scale"]))
    data = make_eval_data(canvas=CANVAS, labels_per_class=10, augment=augment, max_train=config["eval_max_train"],
                          max_test=config["eval_max_test"])
    test_x, test_y = data.test_images, data.test_labels
    # the same test digits placed on the canvas without clutter or noise
    clean_x, clean_y = hard_digits("test", canvas=CANVAS, fragments=0, strokes=0, noise=0.0, seed=0)
    clean_x, clean_y = clean_x[:config["eval_max_test"]], clean_y[:config["eval_max_test"]]

    model = make_model(config).to(device)
    random_model = copy.deepcopy(model)
    optimizer = mg.optim.AdamW(model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    steps_per_epoch = len(train_x) // config["batch_size"]
    total = config["epochs"] * steps_per_epoch
    scheduler = warmup_cosine(optimizer, config["warmup_epochs"] * steps_per_epoch, total)

    # indices through `batches` so that images and labels stay paired
    rng = np.random.default_rng(ctx.seed)
    index = np.arange(len(train_x))
    step = 0
    bar = ctx.progress(total=total, desc="vit")
    for epoch in range(config["epochs"]):
        seen, correct, loss_sum = 0, 0, 0.0
        for batch in batches(index, config["batch_size"], rng):
            images = mg.tensor(augment(train_x[batch]), device=device)
            labels = mg.tensor(train_y[batch], device=device)
            logits = model(images)
            loss = F.cross_entropy(logits, labels, label_smoothing=config["label_smoothing"])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
            loss_sum += loss.item() * len(batch)
            correct += int((logits.argmax(dim=1) == labels).sum().item())
            seen += len(batch)
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.3f}")
        test_accuracy = accuracy(model, test_x, test_y, device)
        ctx.log(step, loss=loss_sum / seen, train_accuracy=correct / seen, test_accuracy=test_accuracy,
                epoch=epoch + 1, lr=optimizer.param_groups[0]["lr"])
        bar.set_postfix(loss=f"{loss_sum / seen:.3f}", test_acc=f"{test_accuracy:.3f}")
    bar.close()

    ctx.plot(["loss", "train_accuracy", "test_accuracy"], "curves.png", title="ViT on hard digits")
    plot_attention(model, test_x[:8], test_y[:8], ctx.figure_path("attention.png"), device)
    augmented_accuracy = accuracy(model, data.test_augmented, test_y, device)
    clean_accuracy = accuracy(model, clean_x, clean_y, device)
    features = evaluate(ClassToken(model), ClassToken(random_model), data, device)
    print(format_table(features))
    baselines = features["raw_pixels"]
    return {
        "final_loss": loss_sum / seen,
        "test_accuracy": test_accuracy,
        "test_accuracy_augmented": augmented_accuracy,
        "test_accuracy_clean_digits": clean_accuracy,
        "random_init_test_accuracy": accuracy(random_model, test_x, test_y, device),
        "raw_pixels_knn": baselines["knn"],
        "raw_pixels_linear": baselines["linear"],
        "beats_raw_pixels_by": test_accuracy - max(baselines["knn"], baselines["linear"]),
        "steps": step,
        "evaluation": features,
    }
