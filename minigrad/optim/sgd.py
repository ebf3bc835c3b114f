"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay."""

from __future__ import annotations

from collections.abc import Iterable

from ..tensor import Tensor
from .optimizer import Optimizer, check_nonnegative


class SGD(Optimizer):
    """SGD as torch implements it (Sutskever et al., 2013 for momentum and Nesterov)::

        g = grad (+ weight_decay * p)
        b = g on the first step, then momentum * b + (1 - dampening) * g
        g = g + momentum * b  (nesterov)  or  b  (plain momentum)
        p = p - lr * g

    With ``maximize=True`` the gradient is negated (gradient ascent).
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None) -> None:
        check_nonnegative("lr", lr, "learning rate")
        check_nonnegative("momentum", momentum, "momentum value")
        check_nonnegative("weight_decay", weight_decay, "weight_decay value")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        check_nonnegative("lr", group["lr"], "learning rate")
        check_nonnegative("momentum", group["momentum"], "momentum value")
        check_nonnegative("weight_decay", group["weight_decay"], "weight_decay value")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _update(self, p: Tensor, g, group: dict, state: dict) -> None:
        lr, momentum, weight_decay = float(group["lr"]), float(group["momentum"]), float(group["weight_decay"])
        w = p._data
        if weight_decay != 0:
            g = g + weight_decay * w
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = Tensor._make(g.copy(), None, 0, False, None)
            else:
                b = buf._data
                b *= momentum
                dampening = float(group["dampening"])
                b += (1.0 - dampening) * g if dampening != 0 else g
            if group["nesterov"]:
                g = g + momentum * buf._data
            else:
                g = buf._data
        # w -= lr * g without a temporary the size of w when g is already a scratch array
        w -= lr * g
