"""An MLP on scikit-learn's handwritten digits: the smallest complete training run.

Data -> DataLoader -> model -> cross-entropy -> backward -> AdamW step, with a progress bar, a
metrics file and a loss/accuracy plot. It is the demo of the README's first command.
"""

from __future__ import annotations

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.datasets import digits
from minigrad.utils.data import DataLoader

DESCRIPTION = "MLP on scikit-learn's 8x8 digits (the README demo): loss and test accuracy"

PRESETS = {
    "smoke": {"epochs": 1, "hidden": 32, "batch_size": 64, "lr": 3e-3},
    "cpu": {"epochs": 30, "hidden": 256, "batch_size": 64, "lr": 1e-3},
    "gpu": {"epochs": 30, "hidden": 1024, "batch_size": 64, "lr": 1e-3},
}


def make_model(hidden: int) -> nn.Module:
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 10))


@mg.no_grad()
def accuracy(model: nn.Module, images: mg.Tensor, labels: mg.Tensor) -> float:
    model.eval()
    predictions = model(images).argmax(dim=1)
    model.train()
    return (predictions == labels).float().mean().item()


def run(config: dict, ctx) -> dict:
    train_set = digits("train", flatten=True, as_dataset=True)
    test_images, test_labels = digits("test", flatten=True)
    test_images = mg.tensor(test_images, device=ctx.device)
    test_labels = mg.tensor(test_labels, device=ctx.device)

    model = make_model(config["hidden"]).to(ctx.device)
    optimizer = mg.optim.AdamW(model.parameters(), lr=config["lr"], weight_decay=1e-4)
    loader = DataLoader(train_set, batch_size=config["batch_size"], shuffle=True, seed=ctx.seed)

    step = 0
    bar = ctx.progress(total=config["epochs"] * len(loader), desc="mlp_digits")
    for epoch in range(config["epochs"]):
        for images, labels in loader:
            images, labels = images.to(ctx.device), labels.to(ctx.device)
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.3f}")
        test_accuracy = accuracy(model, test_images, test_labels)
        ctx.log(step, loss=loss.item(), test_accuracy=test_accuracy, epoch=epoch + 1)
        bar.set_postfix(loss=f"{loss.item():.3f}", test_acc=f"{test_accuracy:.3f}")
    bar.close()
    ctx.plot(["loss", "test_accuracy"], "curves.png", title="MLP on digits")
    return {"final_loss": loss.item(), "test_accuracy": test_accuracy, "steps": step}
