"""minigrad's gradient-testing kit, public so users can test their own ops the same way.

- ``gradcheck`` / ``gradgradcheck``: first and second derivatives against float64 central
  differences, along random directions with random cotangents (or the full Jacobian).
- ``assert_close``: elementwise comparison with dtype-aware tolerances and a useful report.
- ``strategies``: hypothesis strategies for tensors, broadcastable shapes, dims and indices.
- ``opspec``: describe an op once (``OpSpec``) and run the generic checks on it.
"""

from .gradcheck import GradcheckError, assert_close, gradcheck, gradgradcheck

__all__ = ["GradcheckError", "assert_close", "gradcheck", "gradgradcheck", "opspec", "strategies"]


def __getattr__(name):
    # strategies and opspec need hypothesis (the 'dev' extra): import them only when asked for
    if name in ("strategies", "opspec"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'minigrad.testing' has no attribute {name!r}")
