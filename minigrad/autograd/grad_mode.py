"""Switches that change what the engine records: ``no_grad``, ``enable_grad``, ``inference_mode``.

The state is process-wide (one flag read on every op), like a single-threaded torch program.
"""

from __future__ import annotations

import functools


class _State:
    """Flags read on every op. Kept as class attributes: the cheapest lookup Python has."""

    grad_enabled = True
    inference = False
    anomaly = False
    anomaly_check_nan = True
    profiler = None  # an active minigrad.profiler.profile, or None
    # True when anomaly detection or a profiler needs the slow path in Op.__call__
    slow_path = False


def _refresh_slow_path() -> None:
    _State.slow_path = _State.anomaly or _State.profiler is not None


def is_grad_enabled() -> bool:
    return _State.grad_enabled


def is_inference_mode_enabled() -> bool:
    return _State.inference


class _GradModeContext:
    """Base for context managers that are also decorators, like torch's."""

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.__class__(*self._args):
                return func(*args, **kwargs)

        return wrapper

    _args: tuple = ()


class no_grad(_GradModeContext):
    """Operations inside do not record a graph: results have ``requires_grad=False``."""

    def __enter__(self):
        self.prev = _State.grad_enabled
        _State.grad_enabled = False

    def __exit__(self, *exc):
        _State.grad_enabled = self.prev


class enable_grad(_GradModeContext):
    """Turn recording back on inside a ``no_grad`` block."""

    def __enter__(self):
        self.prev = _State.grad_enabled
        _State.grad_enabled = True

    def __exit__(self, *exc):
        _State.grad_enabled = self.prev


class set_grad_enabled(_GradModeContext):
    """``set_grad_enabled(False)`` acts like ``no_grad``; usable as a call or a context manager."""

    def __init__(self, mode: bool):
        self._args = (mode,)
        self.prev = _State.grad_enabled
        _State.grad_enabled = bool(mode)

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        _State.grad_enabled = self.prev


class inference_mode(_GradModeContext):
    """Like ``no_grad``, for code that will never need gradients (``inference_mode(False)`` is a no-op)."""

    def __init__(self, mode: bool = True):
        self._args = (mode,)
        self.mode = mode

    def __enter__(self):
        self.prev = (_State.grad_enabled, _State.inference)
        if self.mode:
            _State.grad_enabled = False
            _State.inference = True

    def __exit__(self, *exc):
        _State.grad_enabled, _State.inference = self.prev
