"""An op-level profiler: how many times each op ran, how long it took and how many bytes it made.

    with mg.profiler.profile() as prof:
        loss = model(x).sum()
        loss.backward()
    print(prof.table(sort_by="total_time", row_limit=10))

While a ``profile`` is active, ``Op.__call__`` and the backward engine report every op call and
every graph node's backward to it (the hooks are in ``minigrad/autograd/op.py`` and ``engine.py``;
when no profile is active they cost one flag check). Rows are grouped by name and phase, as
``torch.profiler``'s ``key_averages()``:

- ``("MatMul", "forward")``: ``MatMul`` ops called by your code.
- ``("MatMulBackward", "backward")``: the backward of the ``MatMul`` nodes of the graph. Its total
  time includes the ops that backward runs.
- ``("MatMul", "backward")``: ``MatMul`` ops run during a backward pass, by a node's backward (the
  ``gy @ W.T`` of a matmul's gradient) or by the engine (summing a broadcast gradient).
- ``("name", "region")``: a block timed with ``record_function("name")``.

Each row has the call count, the total time (inclusive), the self time (without the recorded
events nested inside, e.g. a node's backward without the ops it called), the mean time and the
bytes produced (outputs of op calls, gradients returned by nodes). Times are host wall-clock times
from ``time.perf_counter``: on a GPU, where kernels run asynchronously, they measure launching the
work, like the "CPU time" columns of torch's profiler.

Profiles nest: an inner profile's events are also recorded by the outer one, and leaving a profile
restores whatever was active before. Every event is kept until ``reset()``, so profile a few steps,
not a whole training run.
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import asdict, dataclass

from .autograd import engine
from .autograd.grad_mode import _refresh_slow_path, _State

__all__ = ["profile", "record_function", "ProfileRow"]

_RUN_CODE = engine._run.__code__  # a frame running this code means a backward pass is in progress


@dataclass(frozen=True)
class ProfileRow:
    """Aggregated statistics of one (name, phase) pair; times in seconds."""

    name: str
    phase: str
    count: int
    total_time: float
    self_time: float
    mean_time: float
    bytes: int


_SORT_KEYS = {
    "total_time": "total_time",
    "self_time": "self_time",
    "mean_time": "mean_time",
    "count": "count",
    "bytes": "bytes",
    "name": "name",
    # torch.profiler's names for the same columns
    "cpu_time_total": "total_time",
    "self_cpu_time_total": "self_time",
    "cpu_time": "mean_time",
}


class profile:
    """Record op counts, times and bytes while active (``torch.profiler.profile``).

    Use as a context manager or call ``start()``/``stop()``. Entering it again adds to what it has
    already recorded; ``reset()`` clears it. With ``enabled=False`` it records nothing.
    """

    def __init__(self, enabled: bool = True):
        self.enabled = bool(enabled)
        self._events: list = []  # (name, phase, end time, duration, bytes) in the order they ended
        self._active = False
        self._parent: profile | None = None
        self._started_at = 0.0
        self._wall_time = 0.0

    # ----- switching on and off ---------------------------------------------------------------------
    def start(self) -> profile:
        if not self.enabled:
            return self
        if self._active:
            raise RuntimeError("this profile is already active; a profile cannot be entered twice at once")
        self._parent = _State.profiler
        self._active = True
        self._started_at = time.perf_counter()
        _State.profiler = self
        _refresh_slow_path()
        return self

    def stop(self) -> None:
        if not self.enabled:
            return
        if not self._active:
            raise RuntimeError("this profile is not active (call start() or use it in a with block)")
        if _State.profiler is not self:
            raise RuntimeError("profiles must be stopped in the reverse order they were started")
        self._wall_time += time.perf_counter() - self._started_at
        _State.profiler = self._parent
        self._parent = None
        self._active = False
        _refresh_slow_path()

    def __enter__(self) -> profile:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget everything recorded so far."""
        self._events.clear()
        self._wall_time = 0.0
        if self._active:
            self._started_at = time.perf_counter()

    # ----- recording (called by Op.__call__, the engine and record_function) -----------------------------
    def _record(self, name: str, phase: str, seconds: float, nbytes: int) -> None:
        end = time.perf_counter()
        if phase == "backward":
            name += "Backward"
        elif phase == "forward" and _in_backward_pass(sys._getframe(1)):
            phase = "backward"
        self._add((name, phase, end, seconds, nbytes))

    def _add(self, event: tuple) -> None:
        target = self
        while target is not None:
            target._events.append(event)
            target = target._parent

    # ----- results -----------------------------------------------------------------------------------
    @property
    def wall_time(self) -> float:
        """Seconds this profile has been active."""
        running = time.perf_counter() - self._started_at if self._active else 0.0
        return self._wall_time + running

    def key_averages(self) -> list[ProfileRow]:
        """One row per (name, phase), sorted by total time (largest first)."""
        totals: dict = {}
        open_events: list = []  # (start, duration) of events no enclosing event has claimed yet
        for name, phase, end, duration, nbytes in self._events:
            start = end - duration
            nested = 0.0
            # events end before the ones enclosing them: those that ended after this one started are inside it
            while open_events and open_events[-1][0] + open_events[-1][1] > start:
                nested += open_events.pop()[1]
            open_events.append((start, duration))
            row = totals.get((name, phase))
            if row is None:
                row = totals[(name, phase)] = [0, 0.0, 0.0, 0]
            row[0] += 1
            row[1] += duration
            row[2] += max(duration - nested, 0.0)
            row[3] += nbytes
        rows = [
            ProfileRow(name, phase, count, total, self_time, total / count, nbytes)
            for (name, phase), (count, total, self_time, nbytes) in totals.items()
        ]
        rows.sort(key=lambda row: row.total_time, reverse=True)
        return rows

    def summary(self) -> dict:
        """Plain data (JSON-friendly): totals and every row as a dict."""
        rows = self.key_averages()
        return {
            "wall_time": self.wall_time,
            "self_time": sum(row.self_time for row in rows),
            "events": len(self._events),
            "rows": [asdict(row) for row in rows],
        }

    def table(self, sort_by: str = "total_time", row_limit: int = 100) -> str:
        """The rows as a text table (like ``key_averages().table()``); ``row_limit=-1`` shows all."""
        if sort_by not in _SORT_KEYS:
            raise ValueError(f"profile.table: unknown sort_by {sort_by!r}; expected one of {sorted(_SORT_KEYS)}")
        key = _SORT_KEYS[sort_by]
        rows = self.key_averages()
        rows.sort(key=lambda row: getattr(row, key), reverse=key != "name")
        self_total = sum(row.self_time for row in rows)
        if row_limit is not None and row_limit >= 0:
            rows = rows[:row_limit]
        headers = ("Name", "Phase", "Calls", "Total", "Self", "Self %", "Mean", "Bytes")
        body = [
            (
                row.name,
                row.phase,
                str(row.count),
                _format_time(row.total_time),
                _format_time(row.self_time),
                f"{100.0 * row.self_time / (self_total or 1.0):.1f}%",
                _format_time(row.mean_time),
                _format_bytes(row.bytes),
            )
            for row in rows
        ]
        widths = [max(len(line[i]) for line in [headers, *body]) for i in range(len(headers))]

        def render(cells) -> str:
            parts = [cells[0].ljust(widths[0]), cells[1].ljust(widths[1])]
            parts += [cell.rjust(width) for cell, width in zip(cells[2:], widths[2:])]
            return "  ".join(parts)

        rule = "  ".join("-" * width for width in widths)
        lines = [rule, render(headers), rule, *(render(cells) for cells in body), rule]
        lines.append(f"Self time total: {_format_time(self_total)}; wall time profiled: {_format_time(self.wall_time)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        state = "active" if self._active else "inactive"
        return f"<minigrad.profiler.profile {state}, {len(self._events)} events>"


class record_function(contextlib.ContextDecorator):
    """Time a block of your own code as a row named ``name`` (phase ``"region"``) in the active profile.

    A no-op when no profile is active. Usable as ``with record_function("data"): ...`` or as a
    decorator.
    """

    def __init__(self, name: str):
        if not isinstance(name, str):
            raise TypeError(f"record_function: name must be a str, got {type(name).__name__}")
        self.name = name
        self._open: list = []  # (profile, start) per entry: a decorated function may recurse

    def __enter__(self) -> record_function:
        self._open.append((_State.profiler, time.perf_counter()))
        return self

    def __exit__(self, *exc) -> None:
        profiler, start = self._open.pop()
        if profiler is not None and profiler._active:
            end = time.perf_counter()
            profiler._add((self.name, "region", end, end - start, 0))


def _in_backward_pass(frame) -> bool:
    # The engine announces each node's backward but not the pass itself; its frame on the stack does.
    while frame is not None:
        if frame.f_code is _RUN_CODE:
            return True
        frame = frame.f_back
    return False


def _format_time(seconds: float) -> str:
    if seconds >= 1.0:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3f} ms"
    return f"{seconds * 1e6:.3f} us"


def _format_bytes(count: int) -> str:
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024.0 or unit == "GB":
            return f"{int(value)} B" if unit == "B" else f"{value:.2f} {unit}"
        value /= 1024.0
    return f"{value:.2f} GB"
