"""``progress(iterable)``: a progress bar that is tqdm when tqdm is installed, a plain printer otherwise.

    bar = progress(loader, desc="epoch 3")
    for x, y in bar:
        ...
        bar.set_postfix(loss=f"{loss.item():.3f}")

Both return an object you iterate, with tqdm's ``update(n)``, ``set_postfix(**metrics)``,
``set_description(desc)`` and ``close()``, usable as a context manager. tqdm is imported only when
``progress`` is called, so importing minigrad never needs it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable

__all__ = ["progress"]


def progress(iterable: Iterable | None = None, total: int | None = None, desc: str | None = None,
             disable: bool | None = None, **kwargs):
    """Wrap ``iterable`` in a progress bar (tqdm's, or a minimal fallback).

    ``total`` defaults to ``len(iterable)`` when it has one. ``disable=None`` (the default) shows
    the bar only when the output is a terminal (tqdm's rule for ``None``), so logs of batch jobs stay
    clean; ``disable=False`` always shows it, ``disable=True`` never. Other keyword
    arguments go to tqdm (``leave``, ``unit``, ``file``, ``mininterval`` ...); the fallback honours
    ``unit``, ``file`` and ``mininterval`` and ignores the rest.
    """
    try:
        from tqdm import tqdm
    except ImportError:
        return _Progress(iterable, total, desc, disable, **kwargs)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, total=total, desc=desc, disable=disable, **kwargs)


class _Progress:
    """The fallback bar: ``desc: 40% 4/10 [00:02<00:03, 1.98 it/s, loss=0.31]`` on one updating line."""

    def __init__(self, iterable=None, total=None, desc=None, disable=None, unit: str = "it", file=None,
                 mininterval: float | None = None, **ignored):
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.total = total
        self.desc = desc or ""
        self.unit = unit
        self.file = file if file is not None else sys.stderr
        self.n = 0
        self.postfix = ""
        is_terminal = hasattr(self.file, "isatty") and self.file.isatty()
        # a terminal line is rewritten in place; a log file gets a new line each time, so fewer of them
        self.mininterval = mininterval if mininterval is not None else (0.1 if is_terminal else 10.0)
        self.disable = (not is_terminal) if disable is None else bool(disable)
        self._terminal = is_terminal
        self._start = time.perf_counter()
        self._last_print = -float("inf")
        self._closed = False

    def __iter__(self):
        if self.iterable is None:
            raise TypeError("progress(): nothing to iterate; pass an iterable or call update() yourself")
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __len__(self) -> int:
        if self.total is None:
            raise TypeError("progress(): the total is unknown")
        return self.total

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        if time.perf_counter() - self._last_print >= self.mininterval:
            self._print()

    def set_postfix(self, ordered_dict: dict | None = None, refresh: bool = True, **metrics) -> None:
        """Show ``name=value`` pairs after the counts (floats with 4 significant digits, like tqdm)."""
        items = dict(ordered_dict or {}, **metrics)
        self.postfix = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in items.items())
        if refresh:
            self._print()

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        self.desc = desc or ""
        if refresh:
            self._print()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._print(final=True)

    def _line(self) -> str:
        elapsed = time.perf_counter() - self._start
        rate = self.n / elapsed if elapsed > 0 else 0.0
        if self.total:
            percent = f"{100.0 * self.n / self.total:3.0f}% "
            counts = f"{self.n}/{self.total}"
            remaining = (self.total - self.n) / rate if rate > 0 else 0.0
            timing = f"{_clock(elapsed)}<{_clock(remaining)}"
        else:
            percent, counts, timing = "", f"{self.n}{self.unit}", _clock(elapsed)
        extra = f", {self.postfix}" if self.postfix else ""
        prefix = f"{self.desc}: " if self.desc else ""
        return f"{prefix}{percent}{counts} [{timing}, {rate:.2f} {self.unit}/s{extra}]"

    def _print(self, final: bool = False) -> None:
        if self.disable:
            return
        self._last_print = time.perf_counter()
        if self._terminal:
            self.file.write("\r" + self._line() + ("\n" if final else ""))
        else:
            self.file.write(self._line() + "\n")
        self.file.flush()


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:d}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"
