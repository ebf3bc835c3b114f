"""Reverse-mode automatic differentiation: graph nodes, the backward engine and its switches.

- ``op.Op``: one node of the graph; every op in ``minigrad/ops`` subclasses it.
- ``engine``: ``backward`` and ``grad``, the walk from outputs back to leaves.
- ``Function``: torch-style custom ops for users.
- ``grad_mode``, ``anomaly``: ``no_grad``/``enable_grad``/``inference_mode``, ``detect_anomaly``.
- ``graph``: text and Graphviz views of a graph, and the memory it keeps for backward.
"""

from . import graph
from .anomaly import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from .engine import backward, grad
from .function import Function, FunctionCtx, once_differentiable
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .op import Op

__all__ = [
    "Function",
    "FunctionCtx",
    "Op",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "grad",
    "graph",
    "inference_mode",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "no_grad",
    "once_differentiable",
    "set_detect_anomaly",
    "set_grad_enabled",
]
