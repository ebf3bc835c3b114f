"""``Optimizer``: the base of every optimizer, with torch's param groups, state and state dicts.

An optimizer holds ``param_groups``, a list of dicts, each with its ``params`` and its own options
(``lr``, ``weight_decay`` ...; options a group leaves out come from the optimizer's defaults), and
``state``, a dict from each parameter to its per-parameter buffers (momentum, moments, step count).

``step()`` updates the parameters' raw arrays in place, outside autograd (like torch's updates
under ``no_grad``): every update below is a handful of whole-array NumPy/CuPy operations per
parameter, written into ``p.data`` so the parameter keeps its dtype and device. Each update bumps
the parameter's version counter, so a graph built before the step that still needs the old value
raises instead of silently using the new one.

``state_dict()`` has torch's layout: ``{"state": {index: {...}}, "param_groups": [{..., "params":
[indices]}]}`` with parameters numbered in group order, so a saved state can be reloaded into a
fresh optimizer over the same model.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..autograd.grad_mode import enable_grad
from ..backend import get_array_module, to_device
from ..tensor import Tensor


class _RequiredParameter:
    """Marks a default that every param group must provide (e.g. LARS's ``lr``)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


class Optimizer:
    """Base class: subclasses set ``defaults`` and implement ``step`` over ``self.param_groups``."""

    def __init__(self, params: Iterable, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or dicts, but got a "
                f"Tensor of shape {tuple(params.shape)}; wrap it in a list"
            )
        if isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but got a set")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ----- param groups ----------------------------------------------------------------------------
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options (missing options come from the defaults)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but got a set")
        else:
            params = list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but params[{i}] is a {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"can't optimize a non-leaf Tensor (params[{i}], shape {tuple(p.shape)})")
            if not p.is_floating_point():
                raise ValueError(f"can only optimize floating-point Tensors, but params[{i}] is {p.dtype}")
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            raise ValueError("optimizer contains a parameter group with duplicate parameters")
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        if seen & set(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        group = dict(param_group)
        group["params"] = params
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            group.setdefault(name, default)
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group: dict) -> None:
        """Validate one group's options (subclasses raise ValueError naming the bad option)."""

    # ----- gradients ---------------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's ``.grad``: to None (the default, as torch), or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    g = p.grad
                    g._data[...] = 0
                    g._vc.value += 1

    def step(self, closure: Callable | None = None):
        """Update every parameter once from its ``.grad``; ``closure`` re-evaluates and returns the loss."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad._data
                if g.dtype != p._data.dtype:
                    g = g.astype(p._data.dtype)
                if group.get("maximize", False):
                    g = -g
                self._update(p, g, group, self.state[p])
                p._vc.value += 1
        return loss

    def _update(self, p: Tensor, g, group: dict, state: dict) -> None:
        """One fused update of ``p.data`` from gradient array ``g`` (already negated if maximizing)."""
        raise NotImplementedError

    # ----- state dicts -------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """``{"state": {index: {name: value}}, "param_groups": [{options..., "params": [indices]}]}``.

        Parameters are numbered in group order; array state is returned as Tensors (copies, so later
        steps do not change a saved state dict)."""
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state and self.state[p]:
                    state[index[id(p)]] = {k: _copy_value(v) for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a state saved by ``state_dict`` (ours or torch's) into this optimizer.

        Everything is checked first; on an error nothing is modified."""
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError("optimizer state_dict must be a dict with keys 'state' and 'param_groups'")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has a different number of parameter groups ({len(saved_groups)}) than the "
                f"optimizer ({len(self.param_groups)})"
            )
        for i, (ours, theirs) in enumerate(zip(self.param_groups, saved_groups)):
            if len(ours["params"]) != len(theirs["params"]):
                raise ValueError(
                    f"loaded state dict contains a parameter group that doesn't match the size of optimizer's group: "
                    f"group {i} has {len(theirs['params'])} parameters in the state dict and {len(ours['params'])} here"
                )
        by_index = {}
        for ours, theirs in zip(self.param_groups, saved_groups):
            for p, index in zip(ours["params"], theirs["params"]):
                by_index[index] = p
        new_state: defaultdict = defaultdict(dict)
        for index, values in state_dict["state"].items():
            key = int(index)
            if key not in by_index:
                raise ValueError(f"loaded state dict has state for parameter {key}, which no parameter group lists")
            p = by_index[key]
            restored = {}
            for name, value in values.items():
                restored[name] = _restore_value(name, value, p)
            new_state[p] = restored
        new_groups = []
        for ours, theirs in zip(self.param_groups, saved_groups):
            group = {k: copy.deepcopy(v) for k, v in theirs.items() if k != "params"}
            group["params"] = ours["params"]
            new_groups.append(group)
        self.state = new_state
        self.param_groups = new_groups

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        return "\n".join(lines) + "\n)"

    def __getstate__(self) -> dict:
        return self.__dict__

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


def _copy_value(value):
    if isinstance(value, Tensor):
        return Tensor._make(value._data.copy(), None, 0, False, None)
    return copy.deepcopy(value)


def _restore_value(name: str, value, p: Tensor):
    """A saved state entry for parameter ``p``: arrays moved to p's device (floating ones cast to its
    dtype, as torch), step counts as Python numbers."""
    if hasattr(value, "detach") and hasattr(value, "cpu") and not isinstance(value, Tensor):  # a torch tensor
        value = value.detach().cpu().numpy()
    if isinstance(value, Tensor):
        value = value._data
    if name == "step":
        return int(np.asarray(value).item()) if np.ndim(value) == 0 else value
    if isinstance(value, np.ndarray) or type(value).__name__ == "ndarray":
        array = to_device(value, p.device)
        if array.dtype.kind == "f":
            array = array.astype(p._data.dtype)
        else:
            array = array.copy()
        if array is value:
            array = array.copy()
        return Tensor._make(array, None, 0, False, None)
    return copy.deepcopy(value)


def zeros_state(p: Tensor, fill: float = 0.0) -> Tensor:
    """A per-parameter state buffer: an array like ``p``'s (dtype, device), wrapped as a Tensor."""
    xp = get_array_module(p._data)
    return Tensor._make(xp.full(p._data.shape, fill, dtype=p._data.dtype), None, 0, False, None)


def check_nonnegative(name: str, value: float, what: str | None = None) -> None:
    """torch's argument checks: ``ValueError("Invalid learning rate: -0.1")``."""
    if not value >= 0.0:
        raise ValueError(f"Invalid {what or name}: {value}")


def check_betas(betas) -> None:
    if len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    for i, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
