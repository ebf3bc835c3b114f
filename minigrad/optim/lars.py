"""LARS: layer-wise adaptive rate scaling (You, Gitman & Ginsburg, 2017), as used by SimCLR and BYOL.

Each parameter tensor (a "layer") gets its own step size, proportional to the ratio of its norm to
its update's norm, so large-batch training is not held back by the layer with the largest gradient:

    d = grad + weight_decay * p
    d = d * eta * ||p|| / ||d||                   (the trust ratio; 1 when either norm is 0)
    b = momentum * b + lr * d                     (the learning rate inside the momentum, as SimCLR/BYOL)
    p = p - b                                     (Nesterov: p = p - (momentum * b + lr * d))

SimCLR and BYOL exclude biases and normalisation parameters from both the weight decay and the trust
ratio. Put those in a param group with ``lars_exclude=True``: such a group does plain SGD with
momentum (no weight decay, no adaptation). ``exclude_bias_and_norm(model)`` builds the two groups
from a model, sending every parameter with fewer than 2 dimensions (biases, BatchNorm/LayerNorm
weights) to the excluded group::

    opt = LARS(exclude_bias_and_norm(model, weight_decay=1e-6), lr=4.8, momentum=0.9)
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from ..backend import get_array_module
from ..tensor import Tensor
from .optimizer import Optimizer, check_nonnegative, required, zeros_state


class LARS(Optimizer):
    """LARS with momentum (see the module docstring). Group option ``lars_exclude=True`` turns off
    weight decay and the trust ratio for that group."""

    def __init__(self, params: Iterable, lr: float = required, momentum: float = 0.9, weight_decay: float = 0.0,
                 eta: float = 1e-3, nesterov: bool = False, *, lars_exclude: bool = False,
                 maximize: bool = False) -> None:
        if lr is not required:
            check_nonnegative("lr", lr, "learning rate")
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay, eta=eta, nesterov=nesterov,
                        lars_exclude=lars_exclude, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        check_nonnegative("lr", group["lr"], "learning rate")
        check_nonnegative("momentum", group["momentum"], "momentum value")
        check_nonnegative("weight_decay", group["weight_decay"], "weight_decay value")
        check_nonnegative("eta", group["eta"], "trust coefficient eta")
        if group["nesterov"] and group["momentum"] <= 0:
            raise ValueError("Nesterov momentum requires a momentum")

    def _update(self, p: Tensor, g, group: dict, state: dict) -> None:
        lr, momentum = float(group["lr"]), float(group["momentum"])
        w = p._data
        if not group["lars_exclude"]:
            weight_decay, eta = float(group["weight_decay"]), float(group["eta"])
            if weight_decay != 0:
                g = g + weight_decay * w
            g = g * (lr * _trust_ratio(w, g, eta))
        else:
            g = g * lr
        if momentum != 0:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = zeros_state(p)
            b = state["momentum_buffer"]._data
            b *= momentum
            b += g
            if group["nesterov"]:
                g += momentum * b
            else:
                g = b
        w -= g


def _trust_ratio(w, d, eta: float) -> float:
    """eta * ||w|| / ||d||, or 1 when either norm is zero (a fresh zero bias, a zero gradient)."""
    xp = get_array_module(w)
    w_norm = math.sqrt(float(xp.vdot(w.ravel(), w.ravel())))
    d_norm = math.sqrt(float(xp.vdot(d.ravel(), d.ravel())))
    if w_norm > 0 and d_norm > 0:
        return eta * w_norm / d_norm
    return 1.0


def exclude_bias_and_norm(model, weight_decay: float = 0.0) -> list[dict]:
    """Two param groups for LARS/LAMB: weights (ndim >= 2) with ``weight_decay``, and biases and
    normalisation parameters (ndim < 2) with no weight decay and ``lars_exclude=lamb_exclude=True``."""
    params = model.parameters() if hasattr(model, "parameters") else model
    decay, excluded = [], []
    for p in params:
        if not p.requires_grad:
            continue
        (decay if p.ndim >= 2 else excluded).append(p)
    groups = []
    if decay:
        groups.append({"params": decay, "weight_decay": weight_decay})
    if excluded:
        groups.append({"params": excluded, "weight_decay": 0.0, "lars_exclude": True, "lamb_exclude": True})
    return groups
