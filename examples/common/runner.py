"""The shared runner: presets, seeding, output folder, progress bars, metrics.json and plots."""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import minigrad as mg

EXAMPLES_DIR = Path(__file__).resolve().parent.parent


def available_examples() -> dict:
    """name -> train module, for every example folder with a train.py."""
    found = {}
    for info in pkgutil.iter_modules([str(EXAMPLES_DIR)]):
        if info.ispkg and info.name != "common" and (EXAMPLES_DIR / info.name / "train.py").exists():
            found[info.name] = importlib.import_module(f"examples.{info.name}.train")
    return found


@dataclass
class Context:
    """What an example's ``run`` gets besides its config: where to write, which device, logging."""

    name: str
    out: Path
    device: str
    seed: int
    config: dict
    history: list = field(default_factory=list)

    def __post_init__(self):
        from minigrad.utils.metrics import MetricsLogger

        self.logger = MetricsLogger(self.out)

    def log(self, step: int, **scalars) -> None:
        """Record scalars for this step (appended to metrics.csv, kept for plots)."""
        self.logger.log(step, **scalars)
        self.history.append({"step": step, **scalars})

    def progress(self, iterable=None, total=None, desc=None):
        """A progress bar on stderr, also when it is redirected to a log (then one line every 30 s)."""
        import functools
        import sys

        from minigrad.utils.progress import progress

        interactive = sys.stderr.isatty()
        interval = {} if interactive else {"mininterval": 30.0, "maxinterval": 30.0}
        bar = progress(iterable, total=total, desc=desc or self.name, disable=False, file=sys.stderr, **interval)
        if not interactive:  # in a log, the loss shows with the next timed line, not one line per step
            bar.set_postfix = functools.partial(bar.set_postfix, refresh=False)
        return bar

    def plot(self, keys, filename: str, **kwargs) -> Path:
        """Curves of logged scalars over steps, saved as a PNG in the output folder."""
        return self.logger.plot(keys, filename, **kwargs)

    def figure_path(self, filename: str) -> Path:
        return self.out / filename


def _parse(value: str):
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value


def run_example(name: str, preset: str = "cpu", device: str | None = None, out: str | None = None,
                seed: int = 0, overrides: dict | None = None) -> dict:
    """Run one example and write ``metrics.json``; returns the metrics."""
    module = available_examples()[name]
    if preset not in module.PRESETS:
        raise ValueError(f"example {name!r} has no preset {preset!r}; it has {sorted(module.PRESETS)}")
    config = dict(module.PRESETS[preset])
    for key, value in (overrides or {}).items():
        if key not in config:
            raise ValueError(f"unknown setting {key!r} for {name}; settings are {sorted(config)}")
        config[key] = _parse(value) if isinstance(value, str) else value
    device = device or ("cuda" if preset == "gpu" else "cpu")
    out_dir = Path(out) if out else Path("runs") / name
    out_dir.mkdir(parents=True, exist_ok=True)
    mg.manual_seed(seed)
    np.random.seed(seed)
    context = Context(name, out_dir, device, seed, config)
    start = time.perf_counter()
    results = module.run(config, context)
    metrics = {"example": name, "preset": preset, "device": device, "seed": seed, "config": config,
               **results, "wall_time_s": round(time.perf_counter() - start, 2)}
    with open(out_dir / "metrics.json", "w") as f:
        json.dump(metrics, f, indent=2, default=_jsonable)
    print(f"\n{name}: wrote {out_dir / 'metrics.json'}")
    for key, value in results.items():
        if isinstance(value, (int, float)):
            print(f"  {key}: {value:.4g}" if isinstance(value, float) else f"  {key}: {value}")
    return metrics


def _jsonable(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to metrics.json")
