"""Helper for the resume test in tests/test_serialization.py: train a small MLP in its own process.

    python tests/_resume_script.py full   OUT_DIR STEPS              # STEPS steps in one go
    python tests/_resume_script.py first  OUT_DIR STEPS SPLIT CKPT   # steps [0, SPLIT), then save CKPT
    python tests/_resume_script.py resume OUT_DIR STEPS SPLIT CKPT   # load CKPT, then steps [SPLIT, STEPS)

Each run writes the loss of every step it took to OUT_DIR/losses-<mode>.json (floats written with
repr, so they round-trip exactly). The checkpoint holds the model, the optimizer (Adam with weight
decay), the learning-rate schedule and the step, as a training script would save them.
"""

import json
import os
import sys

import numpy as np

import minigrad as mg
import minigrad.nn as nn


def build(seed: int):
    mg.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))
    optimizer = mg.optim.Adam(model.parameters(), lr=0.02, weight_decay=1e-3)
    schedule = mg.optim.lr_scheduler.StepLR(optimizer, step_size=4, gamma=0.5)
    return model, optimizer, schedule


def batch(step: int):
    """The same batch for a given step in every process (no generator state to carry over)."""
    rng = np.random.default_rng(1000 + step)
    x = rng.standard_normal((12, 6)).astype(np.float32)
    target = np.stack([np.sin(x[:, 0] * 2), x[:, 1] * x[:, 2]], axis=1).astype(np.float32)
    return mg.tensor(x), mg.tensor(target)


def train(model, optimizer, schedule, steps) -> list:
    losses = []
    for step in steps:
        x, target = batch(step)
        loss = ((model(x) - target) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    return losses


def main(argv: list) -> None:
    mode, out_dir, steps = argv[0], argv[1], int(argv[2])
    if mode == "full":
        model, optimizer, schedule = build(seed=0)
        losses = train(model, optimizer, schedule, range(steps))
    elif mode == "first":
        split, checkpoint = int(argv[3]), argv[4]
        model, optimizer, schedule = build(seed=0)
        losses = train(model, optimizer, schedule, range(split))
        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                 "schedule": schedule.state_dict(), "step": split}
        mg.save(state, checkpoint)
    elif mode == "resume":
        split, checkpoint = int(argv[3]), argv[4]
        model, optimizer, schedule = build(seed=123)  # different initial weights: everything must come from the file
        state = mg.load(checkpoint)
        model.load_state_dict(state["model"], strict=True)
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        assert state["step"] == split
        losses = train(model, optimizer, schedule, range(split, steps))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    with open(os.path.join(out_dir, f"losses-{mode}.json"), "w") as f:
        json.dump(losses, f)


if __name__ == "__main__":
    main(sys.argv[1:])
