"""``detect_anomaly``: find the op that produced the first NaN or Inf, forward or backward.

Inside the context every op checks its outputs for NaN/Inf as it runs and remembers the stack
where it was created; the engine checks every gradient it computes. The error names the op and
shows where in the user's code it was called.
"""

from __future__ import annotations

from .grad_mode import _refresh_slow_path, _State


class detect_anomaly:
    """Context manager (and decorator) that turns on anomaly detection, like torch's."""

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self):
        self.prev = (_State.anomaly, _State.anomaly_check_nan)
        _State.anomaly, _State.anomaly_check_nan = True, self.check_nan
        _refresh_slow_path()
        return self

    def __exit__(self, *exc):
        _State.anomaly, _State.anomaly_check_nan = self.prev
        _refresh_slow_path()

    def __call__(self, func):
        import functools

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return func(*args, **kwargs)

        return wrapper


def set_detect_anomaly(mode: bool, check_nan: bool = True) -> None:
    _State.anomaly, _State.anomaly_check_nan = bool(mode), check_nan
    _refresh_slow_path()


def is_anomaly_enabled() -> bool:
    return _State.anomaly
