"""RMSprop (Hinton, 2012, lecture 6e), with the centred variant of Graves (2013) and momentum."""

from __future__ import annotations

from collections.abc import Iterable

from ..backend import get_array_module
from ..tensor import Tensor
from .optimizer import Optimizer, check_nonnegative, zeros_state


class RMSprop(Optimizer):
    """RMSprop, as torch implements it::

        g = grad (+ weight_decay * p)
        s = alpha s + (1 - alpha) g^2
        a = alpha a + (1 - alpha) g;  d = sqrt(s - a^2) + eps   (centered)   or   d = sqrt(s) + eps
        b = momentum b + g / d;  p = p - lr b     (momentum > 0)   or   p = p - lr g / d

    State per parameter: ``step``, ``square_avg``, ``momentum_buffer`` (momentum > 0), ``grad_avg`` (centered).
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None) -> None:
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize, foreach=foreach)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        check_nonnegative("lr", group["lr"], "learning rate")
        check_nonnegative("eps", group["eps"], "epsilon value")
        check_nonnegative("momentum", group["momentum"], "momentum value")
        check_nonnegative("weight_decay", group["weight_decay"], "weight_decay value")
        check_nonnegative("alpha", group["alpha"], "alpha value")

    def _update(self, p: Tensor, g, group: dict, state: dict) -> None:
        xp = get_array_module(p._data)
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        weight_decay, momentum = float(group["weight_decay"]), float(group["momentum"])
        w = p._data
        if not state:
            state["step"] = 0
            state["square_avg"] = zeros_state(p)
            if momentum > 0:
                state["momentum_buffer"] = zeros_state(p)
            if group["centered"]:
                state["grad_avg"] = zeros_state(p)
        state["step"] += 1
        if weight_decay != 0:
            g = g + weight_decay * w
        s = state["square_avg"]._data
        s *= alpha
        s += (1.0 - alpha) * (g * g)
        if group["centered"]:
            a = state["grad_avg"]._data
            a *= alpha
            a += (1.0 - alpha) * g
            d = s - a * a
            xp.sqrt(d, out=d)
        else:
            d = xp.sqrt(s)
        d += eps
        xp.divide(g, d, out=d)
        if momentum > 0:
            b = state["momentum_buffer"]._data
            b *= momentum
            b += d
            w -= lr * b
        else:
            d *= lr
            w -= d
