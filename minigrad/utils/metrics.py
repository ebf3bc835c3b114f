"""A small metrics logger for training scripts: a CSV of every value, a JSON summary, PNG curves.

    log = MetricsLogger("runs/mlp", config={"lr": 1e-3, "batch_size": 64})
    for step in range(steps):
        ...
        log.log(step, loss=loss, lr=schedule.get_last_lr()[0])
    log.log(step, val_accuracy=accuracy)
    log.plot(["loss", "val_accuracy"])       # runs/mlp/metrics.png
    log.close()                              # runs/mlp/summary.json

``metrics.csv`` is append-only, one row per value, ``step,time,name,value`` (time in seconds since
the run started), so metrics logged at different rates (every step, every epoch) share one file and
a crash loses nothing already logged. ``summary.json`` holds the last value of each metric, the
number of values, the wall time and the config. matplotlib is imported only by ``plot``.
"""

from __future__ import annotations

import csv
import datetime
import json
import os
import time
from typing import Any

__all__ = ["MetricsLogger"]

_COLUMNS = ["step", "time", "name", "value"]


class MetricsLogger:
    """Log scalars against a step into ``out_dir`` (see the module docstring for the files).

    ``resume=True`` continues an existing run in ``out_dir``: its CSV is read back (so ``plot`` and the
    summary cover the whole run) and appended to; otherwise the CSV is started afresh.
    """

    def __init__(
        self,
        out_dir: str | os.PathLike,
        config: dict | None = None,
        resume: bool = False,
        csv_name: str = "metrics.csv",
        summary_name: str = "summary.json",
    ):
        if config is not None and not isinstance(config, dict):
            raise TypeError(f"MetricsLogger: config must be a dict, got {type(config).__name__}")
        self.out_dir = os.fspath(out_dir)
        os.makedirs(self.out_dir, exist_ok=True)
        self.config = dict(config or {})
        self.csv_path = os.path.join(self.out_dir, csv_name)
        self.summary_path = os.path.join(self.out_dir, summary_name)
        self.history: dict[str, list[tuple[int, float]]] = {}
        self._time_offset = 0.0
        if resume and os.path.exists(self.csv_path):
            self._read_back()
        else:
            with open(self.csv_path, "w", newline="", encoding="utf-8") as f:
                csv.writer(f).writerow(_COLUMNS)
        self._started = time.perf_counter()
        self._started_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")

    # ----- logging -----------------------------------------------------------------------------------
    def log(self, step: int, **scalars) -> None:
        """Record ``name=value`` pairs at ``step``; values are numbers or one-element tensors."""
        if isinstance(step, bool) or not hasattr(step, "__index__"):
            raise TypeError(f"MetricsLogger.log: step must be an int, got {type(step).__name__}")
        if not scalars:
            raise ValueError("MetricsLogger.log: give at least one metric, e.g. log(step, loss=loss)")
        step = int(step)
        values = {name: _scalar(name, value) for name, value in scalars.items()}  # all checked before writing
        elapsed = self.elapsed
        with open(self.csv_path, "a", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            for name, value in values.items():
                writer.writerow([step, f"{elapsed:.3f}", name, repr(value)])
        for name, value in values.items():
            self.history.setdefault(name, []).append((step, value))

    @property
    def elapsed(self) -> float:
        """Seconds since the run started (including earlier sessions when resumed)."""
        return self._time_offset + time.perf_counter() - self._started

    def last(self, name: str):
        """The most recent value of metric ``name``."""
        if name not in self.history:
            raise KeyError(f"no metric named {name!r}; logged so far: {sorted(self.history)}")
        return self.history[name][-1][1]

    # ----- JSON ----------------------------------------------------------------------------------------
    def summary(self) -> dict:
        """Final value and count of each metric, the last step, wall time and config."""
        steps = [step for values in self.history.values() for step, _ in values]
        return {
            "final": {name: values[-1][1] for name, values in self.history.items()},
            "count": {name: len(values) for name, values in self.history.items()},
            "last_step": max(steps) if steps else None,
            "wall_time": self.elapsed,
            "started": self._started_at,
            "config": self.config,
        }

    def write_summary(self) -> str:
        """Write ``summary()`` to the summary JSON file; return its path."""
        return self.save_json(self.summary(), os.path.basename(self.summary_path))

    def save_json(self, data: dict, filename: str = "results.json") -> str:
        """Write ``data`` as JSON into ``out_dir`` (atomically; tensors and NumPy scalars become numbers)."""
        from ..serialization import _atomic_write

        path = os.path.join(self.out_dir, filename)
        text = json.dumps(data, indent=2, default=_jsonable, allow_nan=True)
        with _atomic_write(path) as f:
            f.write(text.encode("utf-8") + b"\n")
        return path

    def close(self) -> None:
        """Write the summary (the CSV is already complete: every ``log`` call appends and closes it)."""
        self.write_summary()

    def __enter__(self) -> MetricsLogger:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ----- plotting ------------------------------------------------------------------------------------
    def plot(self, keys: str | list | None = None, filename: str = "metrics.png", title: str | None = None) -> str:
        """Draw each metric in ``keys`` (default: all) against the step, one panel each, into a PNG."""
        names = list(self.history) if keys is None else ([keys] if isinstance(keys, str) else list(keys))
        if not names:
            raise ValueError("MetricsLogger.plot: nothing has been logged yet")
        for name in names:
            if name not in self.history:
                raise KeyError(f"MetricsLogger.plot: no metric named {name!r}; logged so far: {sorted(self.history)}")
        # The object-oriented API with the Agg canvas: no pyplot, so no global backend is changed
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=(6.4, 2.4 * len(names) + 0.6))
        FigureCanvasAgg(figure)
        axes = figure.subplots(len(names), 1, sharex=True, squeeze=False)[:, 0]
        for ax, name in zip(axes, names):
            steps, values = zip(*self.history[name])
            ax.plot(steps, values, marker="o" if len(steps) <= 30 else None, markersize=3, linewidth=1.2)
            ax.set_ylabel(name)
            ax.grid(alpha=0.3)
        axes[-1].set_xlabel("step")
        if title:
            figure.suptitle(title)
        figure.tight_layout()
        path = os.path.join(self.out_dir, filename)
        from ..serialization import _atomic_write

        with _atomic_write(path) as f:
            figure.savefig(f, format="png", dpi=120)
        return path

    # ----- resuming ------------------------------------------------------------------------------------
    def _read_back(self) -> None:
        with open(self.csv_path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        if not rows or rows[0] != _COLUMNS:
            raise ValueError(f"MetricsLogger: {self.csv_path} is not a metrics CSV (expected the header {_COLUMNS})")
        for line, row in enumerate(rows[1:], start=2):
            try:
                step, seconds, name, value = row
                self.history.setdefault(name, []).append((int(step), _parse_number(value)))
                self._time_offset = max(self._time_offset, float(seconds))
            except ValueError:
                raise ValueError(f"MetricsLogger: {self.csv_path} line {line} is malformed: {row!r}") from None


def _scalar(name: str, value: Any):
    """A Python int or float from a number, a NumPy scalar or a one-element tensor/array."""
    if hasattr(value, "item") and not isinstance(value, (int, float)):
        count = value.numel() if hasattr(value, "numel") else getattr(value, "size", 1)
        if count != 1:
            raise ValueError(f"MetricsLogger.log: {name} must be a single number, got {count} elements")
        value = value.item()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    raise TypeError(f"MetricsLogger.log: {name} must be a number or a one-element tensor, got {type(value).__name__}")


def _parse_number(text: str):
    try:
        return int(text)
    except ValueError:
        return float(text)


def _jsonable(value):
    """JSON for what ``json`` does not know: tensors and arrays as (nested) lists, scalars as numbers."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"save_json: cannot write a value of type {type(value).__name__} as JSON")
