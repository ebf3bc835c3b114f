"""Adagrad (Duchi et al., 2011)."""

from __future__ import annotations

from collections.abc import Iterable

from ..backend import get_array_module
from ..tensor import Tensor
from .optimizer import Optimizer, check_nonnegative, zeros_state


class Adagrad(Optimizer):
    """Adagrad, as torch implements it::

        g = grad (+ weight_decay * p)
        clr = lr / (1 + (t - 1) lr_decay)
        s = s + g^2;   p = p - clr g / (sqrt(s) + eps)

    State per parameter (made at construction, as torch): ``step``, ``sum`` (starting at
    ``initial_accumulator_value``).
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, *, maximize: bool = False,
                 foreach: bool | None = None) -> None:
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize, foreach=foreach)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for p in group["params"]:
            self.state[p]["step"] = 0
            self.state[p]["sum"] = zeros_state(p, float(group["initial_accumulator_value"]))

    def _check_group(self, group: dict) -> None:
        check_nonnegative("lr", group["lr"], "learning rate")
        check_nonnegative("lr_decay", group["lr_decay"], "lr_decay value")
        check_nonnegative("weight_decay", group["weight_decay"], "weight_decay value")
        check_nonnegative("initial_accumulator_value", group["initial_accumulator_value"],
                          "initial_accumulator_value value")
        check_nonnegative("eps", group["eps"], "epsilon value")

    def _update(self, p: Tensor, g, group: dict, state: dict) -> None:
        xp = get_array_module(p._data)
        lr, lr_decay, eps = float(group["lr"]), float(group["lr_decay"]), float(group["eps"])
        weight_decay = float(group["weight_decay"])
        w = p._data
        if "sum" not in state:
            state["step"] = 0
            state["sum"] = zeros_state(p, float(group["initial_accumulator_value"]))
        state["step"] += 1
        if weight_decay != 0:
            g = g + weight_decay * w
        clr = lr / (1.0 + (state["step"] - 1) * lr_decay)
        s = state["sum"]._data
        s += g * g
        d = xp.sqrt(s)
        d += eps
        xp.divide(g, d, out=d)
        d *= clr
        w -= d
