"""Gradient clipping: rescale all gradients to a maximum total norm, or clamp each element."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ...backend import get_array_module
from ...ops.creation import tensor as make_tensor
from ...tensor import Tensor


def _grads(parameters) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad for p in params if p.grad is not None]


def _norm(array, norm_type: float) -> float:
    """The p-norm of one gradient array as a Python float (reduced on the array's own device)."""
    xp = get_array_module(array)
    if norm_type == math.inf:
        return float(xp.abs(array).max()) if array.size else 0.0
    if norm_type == -math.inf:
        return float(xp.abs(array).min()) if array.size else math.inf
    flat = array.ravel()
    if norm_type == 2.0:
        return math.sqrt(float(xp.vdot(flat, flat).real))
    if norm_type == 1.0:
        return float(xp.abs(flat).sum())
    if norm_type == 0.0:
        return float(xp.count_nonzero(flat))
    return float((xp.abs(flat) ** norm_type).sum()) ** (1.0 / norm_type)


def _combine(norms: list[float], norm_type: float) -> float:
    """The p-norm of all gradients together from the per-gradient p-norms."""
    if norm_type == math.inf:
        return max(norms)
    if norm_type == -math.inf:
        return min(norms)
    if norm_type == 0.0:
        return float(sum(norms))
    return math.fsum(n**norm_type for n in norms) ** (1.0 / norm_type)


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Scale all gradients together so that their combined ``norm_type``-norm is at most ``max_norm``.

    The norm is taken over all gradients as if they were concatenated into one vector; every
    gradient is multiplied by ``min(1, max_norm / (total_norm + 1e-6))`` in place. Returns the total
    norm (before clipping) as a 0-d tensor of the gradients' dtype. With ``error_if_nonfinite`` a nan or
    inf total norm raises RuntimeError before any gradient is touched. ``foreach`` is accepted for
    torch compatibility; each gradient is always processed as one fused array operation.
    """
    grads = _grads(parameters)
    norm_type = float(norm_type)
    if not grads:
        return make_tensor(0.0)
    total = _combine([_norm(g._data, norm_type) for g in grads], norm_type)
    dtype = grads[0].dtype
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite ({total}), so it "
            "cannot be clipped. To disable this error and scale the gradients by the non-finite norm anyway, set "
            "`error_if_nonfinite=False`"
        )
    coef = float(max_norm) / (total + 1e-6)
    if coef < 1.0 or math.isnan(coef):
        with np.errstate(invalid="ignore"):  # inf * 0 = nan, as torch, when a non-finite norm is allowed
            for g in grads:
                g._data *= coef
                g._vc.value += 1
    return make_tensor(total, dtype=dtype, device=grads[0].device)


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float, foreach: bool | None = None) -> None:
    """Clamp every gradient element to [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        xp = get_array_module(g._data)
        xp.clip(g._data, -clip_value, clip_value, out=g._data)
        g._vc.value += 1
