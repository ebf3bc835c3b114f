"""Adam (Kingma & Ba, 2015) with optional AMSGrad (Reddi et al., 2018), and AdamW (Loshchilov & Hutter, 2019)."""

from __future__ import annotations

import math
from collections.abc import Iterable

from ..backend import get_array_module
from ..tensor import Tensor
from .optimizer import Optimizer, check_betas, check_nonnegative, zeros_state


class Adam(Optimizer):
    """Adam, as torch implements it::

        g = grad (+ weight_decay * p, L2 regularisation; AdamW decouples it instead)
        m = beta1 m + (1 - beta1) g              v = beta2 v + (1 - beta2) g^2
        v_max = max(v_max, v)  (amsgrad: the denominator below uses v_max instead of v)
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    State per parameter (torch's names): ``step``, ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq``.
    """

    _decoupled = False

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        check_nonnegative("lr", group["lr"], "learning rate")
        check_nonnegative("eps", group["eps"], "epsilon value")
        check_betas(group["betas"])
        check_nonnegative("weight_decay", group["weight_decay"], "weight_decay value")

    def _update(self, p: Tensor, g, group: dict, state: dict) -> None:
        xp = get_array_module(p._data)
        lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        w = p._data
        if not state:
            state["step"] = 0
            state["exp_avg"] = zeros_state(p)
            state["exp_avg_sq"] = zeros_state(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = zeros_state(p)
        state["step"] += 1
        step = state["step"]
        if weight_decay != 0:
            if self._decoupled:
                w *= 1.0 - lr * weight_decay
            else:
                g = g + weight_decay * w
        m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
        m *= beta1
        m += (1.0 - beta1) * g
        v *= beta2
        v += (1.0 - beta2) * (g * g)
        if group["amsgrad"]:
            v_max = state["max_exp_avg_sq"]._data
            xp.maximum(v_max, v, out=v_max)
            v = v_max
        bias1 = 1.0 - beta1**step
        bias2_sqrt = math.sqrt(1.0 - beta2**step)
        denom = xp.sqrt(v)
        denom *= 1.0 / bias2_sqrt
        denom += eps
        xp.divide(m, denom, out=denom)
        denom *= lr / bias1
        w -= denom


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p = p (1 - lr * weight_decay)`` before the Adam step."""

    _decoupled = True

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, foreach=foreach)
