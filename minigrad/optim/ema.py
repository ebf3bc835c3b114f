"""Exponential moving averages of a model: the momentum (target/teacher) encoders of MoCo, BYOL and DINO.

    target = momentum * target + (1 - momentum) * online        (every parameter)

Buffers (BatchNorm's running statistics, counters) are copied from the online model by default,
as MoCo and BYOL do; ``buffers="ema"`` averages the floating-point ones instead. BYOL and DINO
raise the momentum towards 1 over training with ``cosine_momentum``.
"""

from __future__ import annotations

import copy
import math

from ..backend import get_array_module
from ..nn.modules.module import Module


def ema_update_(target: Module, online: Module, momentum: float, buffers: str = "copy") -> None:
    """In place: ``target_p = momentum * target_p + (1 - momentum) * online_p`` for every parameter.

    ``target`` and ``online`` must have the same architecture (their state-dict names and shapes are
    checked before anything is written). ``buffers``: "copy" (take the online values) or "ema".
    """
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"ema_update_: momentum must be in [0, 1], got {momentum}")
    if buffers not in ("copy", "ema"):
        raise ValueError(f"ema_update_: buffers must be 'copy' or 'ema', got {buffers!r}")
    target_params = dict(target.named_parameters())
    online_params = dict(online.named_parameters())
    target_buffers = dict(target.named_buffers())
    online_buffers = dict(online.named_buffers())
    pairs = (("parameters", target_params, online_params), ("buffers", target_buffers, online_buffers))
    for kind, ours, theirs in pairs:
        if list(ours) != list(theirs):
            missing = sorted(set(theirs) - set(ours))
            extra = sorted(set(ours) - set(theirs))
            raise RuntimeError(
                f"ema_update_: target and online models differ in their {kind}: only in online {missing}, "
                f"only in target {extra}"
            )
        for name in ours:
            if ours[name].shape != theirs[name].shape:
                raise RuntimeError(
                    f"ema_update_: shape mismatch for {name}: target {tuple(ours[name].shape)}, "
                    f"online {tuple(theirs[name].shape)}"
                )
    momentum = float(momentum)
    for name, t in target_params.items():
        _blend(t, online_params[name], momentum)
    for name, t in target_buffers.items():
        o = online_buffers[name]
        if buffers == "ema" and t._data.dtype.kind == "f":
            _blend(t, o, momentum)
        else:
            t._data[...] = o._data
            t._vc.value += 1


def _blend(target, online, momentum: float) -> None:
    """target = momentum * target + (1 - momentum) * online, on the raw arrays (no graph)."""
    w = target._data
    src = online._data
    if src.dtype != w.dtype:
        src = src.astype(w.dtype)
    if get_array_module(w) is not get_array_module(src):
        raise RuntimeError(f"ema_update_: target is on {target.device} but online is on {online.device}")
    w *= momentum
    w += (1.0 - momentum) * src
    target._vc.value += 1


class ModelEMA:
    """A frozen copy of ``model`` kept as its exponential moving average (a momentum encoder).

        ema = ModelEMA(student, momentum=0.996)
        ...  opt.step(); ema.update(student, momentum=cosine_momentum(step, total_steps))
        teacher_out = ema.module(x)

    The copy never requires grad and is updated in place (``update``); ``momentum`` passed to
    ``update`` overrides the default for that call.
    """

    def __init__(self, model: Module, momentum: float = 0.999, buffers: str = "copy") -> None:
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"ModelEMA: momentum must be in [0, 1], got {momentum}")
        self.module = copy.deepcopy(model)
        self.module.requires_grad_(False)
        self.momentum = momentum
        self.buffers = buffers

    def update(self, model: Module, momentum: float | None = None) -> None:
        ema_update_(self.module, model, self.momentum if momentum is None else momentum, self.buffers)

    def __call__(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def state_dict(self) -> dict:
        return self.module.state_dict()

    def load_state_dict(self, state_dict: dict, strict: bool = True):
        return self.module.load_state_dict(state_dict, strict=strict)


def cosine_momentum(step: int, total_steps: int, base: float = 0.996, final: float = 1.0) -> float:
    """BYOL/DINO's schedule: ``final - (final - base) * (cos(pi * step / total_steps) + 1) / 2``.

    Starts at ``base`` (step 0), ends at ``final`` (step ``total_steps``)."""
    if total_steps <= 0:
        raise ValueError(f"cosine_momentum: total_steps must be positive, got {total_steps}")
    return final - (final - base) * (math.cos(math.pi * step / total_steps) + 1) / 2
