"""LAMB: layer-wise adaptive moments (You et al., 2019, "Large Batch Optimization for Deep Learning:
Training BERT in 76 minutes", Algorithm 2).

Adam's bias-corrected moments give a per-element direction; each parameter tensor then gets a
trust ratio ||p|| / ||update|| so that every layer moves by a similar relative amount:

    m = beta1 m + (1 - beta1) g            v = beta2 v + (1 - beta2) g^2
    m_hat = m / (1 - beta1^t)              v_hat = v / (1 - beta2^t)     (bias_correction=True)
    u = m_hat / (sqrt(v_hat) + eps) + weight_decay * p
    p = p - lr * (||p|| / ||u||) * u        (trust ratio 1 when either norm is 0)

A group with ``lamb_exclude=True`` (biases, norms: see ``lars.exclude_bias_and_norm``) skips the
trust ratio (and should set ``weight_decay=0``): it takes plain Adam steps.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..backend import get_array_module
from ..tensor import Tensor
from .lars import _trust_ratio
from .optimizer import Optimizer, check_betas, check_nonnegative, zeros_state


class LAMB(Optimizer):
    """LAMB (see the module docstring). State per parameter: ``step``, ``exp_avg``, ``exp_avg_sq``."""

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-6,
                 weight_decay: float = 0.0, bias_correction: bool = True, *, lamb_exclude: bool = False,
                 maximize: bool = False) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        bias_correction=bias_correction, lamb_exclude=lamb_exclude, maximize=maximize)
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
        state["step"] += 1
        step = state["step"]
        m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
        m *= beta1
        m += (1.0 - beta1) * g
        v *= beta2
        v += (1.0 - beta2) * (g * g)
        bias1 = 1.0 - beta1**step if group["bias_correction"] else 1.0
        bias2 = 1.0 - beta2**step if group["bias_correction"] else 1.0
        u = v * (1.0 / bias2)
        xp.sqrt(u, out=u)
        u += eps
        xp.divide(m, u, out=u)
        if bias1 != 1.0:
            u *= 1.0 / bias1
        if weight_decay != 0:
            u += weight_decay * w
        ratio = 1.0 if group["lamb_exclude"] else _trust_ratio(w, u, 1.0)
        u *= lr * ratio
        w -= u
