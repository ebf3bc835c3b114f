"""Small vector ops: ``normalize``, ``cosine_similarity``, ``pairwise_distance``.

All three are compositions of minigrad ops (norms, clamps, divisions), so their gradients are exact
to any order. The ``eps`` guards follow torch's definitions:

    normalize(x)             = x / max(||x||_p, eps)
    cosine_similarity(a, b)  = sum(a / max(||a||, eps) * b / max(||b||, eps))   (each norm clamped)
    pairwise_distance(a, b)  = ||a - b + eps||_p over the last dim

torch clamps the norms of ``cosine_similarity`` under ``no_grad``, so its gradient ignores the
clamp; here the clamp is part of the function (the gradient through a clamped norm is 0). The two
differ only for vectors shorter than ``eps``.
"""

from __future__ import annotations

from .. import dtypes
from ..tensor import Tensor
from ._common import binary_operands, normalize_dim
from .math import clamp
from .reduce import norm
from .shape import broadcast_tensors


def _check(name: str, *tensors) -> None:
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: argument {i + 1} must be a Tensor, not {type(t).__name__}")


def _as_float(t: Tensor) -> Tensor:
    return t if dtypes.is_floating(t._data.dtype) else t.to(dtypes.float32)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None) -> Tensor:
    """x / max(||x||_p, eps) along ``dim``: unit p-norm vectors (zero vectors stay zero)."""
    _check("normalize", input)
    if out is not None:
        raise TypeError("normalize: out= is not supported")
    input = _as_float(input)
    dim = normalize_dim(dim, input.ndim)
    denom = clamp(norm(input, p, dim, keepdim=True), min=eps)
    return input / denom


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Cosine of the angle between ``x1`` and ``x2`` along ``dim`` (they broadcast together).

    cos = sum(x1 / max(||x1||, eps) * x2 / max(||x2||, eps)): dividing by the norms before the product
    keeps the result within [-1, 1].
    """
    _check("cosine_similarity", x1, x2)
    x1, x2 = binary_operands(_as_float(x1), _as_float(x2), "cosine_similarity")
    if x1.shape != x2.shape:
        x1, x2 = broadcast_tensors(x1, x2)
    dim = normalize_dim(dim, x1.ndim)
    n1 = clamp(norm(x1, 2, dim, keepdim=True), min=eps)
    n2 = clamp(norm(x2, 2, dim, keepdim=True), min=eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p over the last dim; shapes (N, D) or (D,), broadcasting as torch."""
    _check("pairwise_distance", x1, x2)
    x1, x2 = binary_operands(_as_float(x1), _as_float(x2), "pairwise_distance")
    if x1.ndim == 0 and x2.ndim == 0:
        raise RuntimeError("pairwise_distance: expected inputs with at least one dim, got two 0-d tensors")
    return norm(x1 - x2 + eps, p, -1, keepdim=keepdim)
