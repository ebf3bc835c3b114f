"""In-place ops: ``add_``, ``mul_``, ``zero_``, ``fill_``, ``clamp_``, ``copy_``, ``__setitem__`` ...

Every in-place op bumps the tensor's version counter (shared with its views), so a backward that
saved the old value raises instead of silently using the new one.

When autograd is recording, ``x.add_(y)`` is run as the out-of-place op on a stand-in for x's old
value, and x becomes that op's output in the graph: gradients stay correct. A leaf that requires
grad cannot be modified in place (its ``.grad`` would have nothing to refer to), and neither can a
view of another tensor while recording (the base's graph would not see the change), as torch
without its view-tracking machinery.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..autograd.grad_mode import _State
from ..autograd.op import Op, _VersionCounter
from ..backend import get_array_module as xp_of_array
from ..tensor import Tensor
from ._common import broadcast_shapes, check_same_device, xp_of
from .math import Add, Clamp, Div, Mul, Sub


def _operand(target: Tensor, other, name: str) -> Tensor:
    """``other`` as a tensor of target's dtype and device that broadcasts to target's shape."""
    if not isinstance(other, Tensor):
        if not isinstance(other, (int, float, bool, np.number, np.bool_)):
            raise TypeError(f"{name}: unsupported operand of type {type(other).__name__}")
        if dtypes.scalar_category(other) > dtypes.category(target._data.dtype):
            raise RuntimeError(
                f"{name}: result type {type(other).__name__} can't be cast to the desired output type {target.dtype}"
            )
        return Tensor._make(xp_of(target).asarray(other, dtype=target._data.dtype), None, 0, False, None)
    check_same_device(name, target, other)
    if dtypes.category(other._data.dtype) > dtypes.category(target._data.dtype):
        raise RuntimeError(f"{name}: result type {other.dtype} can't be cast to the desired output type {target.dtype}")
    if broadcast_shapes(target.shape, other.shape) != target.shape:
        raise RuntimeError(
            f"{name}: output with shape {tuple(target.shape)} doesn't match the broadcast shape "
            f"{broadcast_shapes(target.shape, other.shape)} (other has shape {tuple(other.shape)})"
        )
    if other._data.dtype != target._data.dtype:
        other = other.to(target.dtype)
    return other


def apply_inplace(op: Op, target: Tensor, *others: Tensor, name: str) -> Tensor:
    """Run ``op`` as an in-place update of ``target``. Operands must already be valid (see ``_operand``)."""
    recording = _State.grad_enabled and (target._requires_grad or any(o._requires_grad for o in others))
    if recording:
        if target._grad_fn is None and target._requires_grad:
            raise RuntimeError(
                f"a leaf tensor that requires grad (shape {tuple(target.shape)}) is being used in an in-place "
                f"operation ({name}); wrap it in mg.no_grad() or use the out-of-place version"
            )
        if target._data.base is not None:
            raise RuntimeError(
                f"{name}: in-place modification of a view (shape {tuple(target.shape)}) while recording gradients "
                "is not supported; modify the base tensor, or clone() the view first"
            )
    if not target._data.flags.writeable:
        raise RuntimeError(
            f"{name}: cannot write into this tensor (shape {tuple(target.shape)}): it is a broadcast "
            "(expanded) view that shares memory between elements; call .clone() first"
        )
    if not recording:
        result = op.forward_inplace(target._data, *[o._data for o in others])
        if result is not target._data:
            target._data[...] = result
        _bump(target, name)
        return target
    old = Tensor._make(target._data, target._grad_fn, target._out_index, target._requires_grad, target._vc)
    out = op(old, *others)
    if out._data is not target._data:
        if op._saved_in is not None and any(t is old for t, _ in op._saved_in):
            # backward needs target's value from before the write: give the stand-in its own copy
            old._data = target._data.copy()
            old._vc = _VersionCounter()
            op._saved_in = tuple((t, t._vc.value) for t, _ in op._saved_in)
        target._data[...] = out._data
    _bump(target, name)
    target._grad_fn = out._grad_fn
    target._out_index = out._out_index
    target._requires_grad = True
    return target


def _bump(target: Tensor, name: str) -> None:
    target._vc.value += 1
    target._vc.last_op = name


# ----------------------------------------------------------------------------------------------
def add_(self: Tensor, other, alpha=1) -> Tensor:
    if alpha != 1:
        other = other * alpha
    return apply_inplace(Add(), self, _operand(self, other, "add_"), name="add_")


def sub_(self: Tensor, other, alpha=1) -> Tensor:
    if alpha != 1:
        other = other * alpha
    return apply_inplace(Sub(), self, _operand(self, other, "sub_"), name="sub_")


def mul_(self: Tensor, other) -> Tensor:
    return apply_inplace(Mul(), self, _operand(self, other, "mul_"), name="mul_")


def div_(self: Tensor, other) -> Tensor:
    if not dtypes.is_floating(self._data.dtype):
        raise RuntimeError(f"div_: result type Float can't be cast to the desired output type {self.dtype}")
    return apply_inplace(Div(), self, _operand(self, other, "div_"), name="div_")


class _Fill(Op):
    """Every element set to the value of a 0-d input; the old value gets no gradient."""

    def forward(self, x, value):
        return xp_of_array(x).broadcast_to(value, x.shape).copy()

    def forward_inplace(self, x, value):
        x[...] = value
        return x

    def backward(self, gy):
        g_value = gy.sum() if self.needs_input_grad[1] else None
        return (gy * 0 if self.needs_input_grad[0] else None), g_value


def fill_(self: Tensor, value) -> Tensor:
    if isinstance(value, Tensor) and value.ndim != 0:
        raise RuntimeError(f"fill_ only supports a 0-dimension value tensor, got shape {tuple(value.shape)}")
    return apply_inplace(_Fill(), self, _operand(self, value, "fill_"), name="fill_")


def zero_(self: Tensor) -> Tensor:
    return fill_(self, 0)


def clamp_(self: Tensor, min=None, max=None) -> Tensor:
    if min is None and max is None:
        raise RuntimeError("clamp_: at least one of 'min' or 'max' must not be None")
    return apply_inplace(Clamp(min, max), self, name="clamp_")


class _Copy(Op):
    """x[...] = src (with broadcasting); the old value of x gets no gradient."""

    def forward(self, x, src):
        return xp_of_array(x).broadcast_to(src, x.shape).astype(x.dtype)

    def forward_inplace(self, x, src):
        x[...] = src
        return x

    def backward(self, gy):
        return (gy * 0 if self.needs_input_grad[0] else None), (gy if self.needs_input_grad[1] else None)


def copy_(self: Tensor, src: Tensor) -> Tensor:
    """Copy ``src`` into this tensor (broadcast, cast and moved to its device as needed)."""
    if not isinstance(src, Tensor):
        return fill_(self, src) if np.ndim(src) == 0 else copy_(self, Tensor(src))
    if src.device != self.device:
        src = src.to(self.device)
    if broadcast_shapes(self.shape, src.shape) != self.shape:
        raise RuntimeError(f"copy_: source of shape {tuple(src.shape)} doesn't broadcast to {tuple(self.shape)}")
    if src._data.dtype != self._data.dtype:
        src = src.to(self.dtype)
    return apply_inplace(_Copy(), self, src, name="copy_")


def setitem(self: Tensor, key, value) -> None:
    """``x[key] = value``: basic and advanced indexing, differentiable in value (and x)."""
    from .indexing import SetItem, normalize_key

    key = normalize_key(key, self)
    if isinstance(value, Tensor):
        check_same_device("__setitem__", self, value)
        if value._data.dtype != self._data.dtype:
            value = value.to(self.dtype)
    else:
        value = Tensor._make(xp_of(self).asarray(value, dtype=self._data.dtype), None, 0, False, None)
    apply_inplace(SetItem(key), self, value, name="__setitem__")


def inplace_via(self: Tensor, name: str, fn, *args, **kwargs) -> Tensor:
    """Compute ``fn(self, *args)`` out of place and write it into ``self`` (``exp_``, ``masked_fill_`` ...).

    While recording, ``fn`` sees a copy of self's old value wired to self's old place in the graph,
    so whatever it saves for backward is not overwritten.
    """
    source = self
    if _State.grad_enabled and (self._requires_grad or any(isinstance(a, Tensor) and a._requires_grad for a in args)):
        if self._grad_fn is None and self._requires_grad:
            raise RuntimeError(
                f"a leaf tensor that requires grad (shape {tuple(self.shape)}) is being used in an in-place "
                f"operation ({name}); wrap it in mg.no_grad() or use the out-of-place version"
            )
        source = Tensor._make(self._data.copy(), self._grad_fn, self._out_index, self._requires_grad, None)
    result = fn(source, *args, **kwargs)
    if result.shape != self.shape:
        raise RuntimeError(
            f"{name}: output with shape {tuple(self.shape)} doesn't match the result shape {tuple(result.shape)}"
        )
    if result._data.dtype != self._data.dtype:
        if dtypes.category(result._data.dtype) > dtypes.category(self._data.dtype):
            raise RuntimeError(
                f"{name}: result type {result.dtype} can't be cast to the desired output type {self.dtype}"
            )
        result = result.to(self.dtype)
    return apply_inplace(_Copy(), self, result, name=name)


def overwrite(self: Tensor, array, name: str) -> Tensor:
    """Write a fresh array into ``self`` with no autograd recording (random fills, ``.data``-style updates)."""
    if not self._data.flags.writeable:
        raise RuntimeError(f"{name}: cannot write into a broadcast (expanded) view; call .clone() first")
    self._data[...] = array
    _bump(self, name)
    return self
