"""``mg.autograd.Function``: define your own differentiable op, exactly as in torch.

    class Cube(mg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return grad_output * 3 * x ** 2

    y = Cube.apply(x)

``forward`` receives Tensors (run without recording) and returns a Tensor or a tuple of them;
``backward`` receives one gradient per output and returns one per ``forward`` argument (``None``
for arguments that need none). Written with minigrad ops, ``backward`` is itself differentiable,
so ``create_graph=True`` works through custom functions too.

Under the hood the ``ctx`` *is* the graph node: an ``Op`` whose backward calls yours.
"""

from __future__ import annotations

import functools

import numpy as np

from ..backend import get_array_module
from .grad_mode import _State, no_grad
from .op import Op, _VersionCounter


class FunctionCtx(Op):
    """The ``ctx`` of a custom Function and its node in the graph."""

    def __init__(self, fn_class):
        self._fn_class = fn_class
        self._tensor_positions = ()
        self._to_save = ()
        self._non_differentiable = set()
        self.materialize_grads = True
        self._saved_in = self._saved_out = None

    def name(self) -> str:
        return self._fn_class.__name__ + "Backward"

    def save_for_backward(self, *tensors) -> None:
        """Keep tensors (inputs, outputs or intermediates) for backward, with version checks."""
        self._to_save = tensors

    @property
    def saved_tensors(self) -> tuple:
        from minigrad.tensor import Tensor

        if self._saved_in is None:
            self._raise_freed()
        out = []
        for kind, item, version in self._saved_in:
            if kind == "output":
                index, data, vc = item
                if vc.value != version:
                    self._raise_modified(None, version, f"output {index}", vc)
                out.append(Tensor._make(data, self, index, True, vc))
            elif kind == "none":
                out.append(None)
            else:
                if item._vc.value != version:
                    self._raise_modified(item, version, "tensor")
                out.append(item)
        return tuple(out)

    def mark_non_differentiable(self, *tensors) -> None:
        self._non_differentiable = {id(t) for t in tensors}

    def mark_dirty(self, *tensors) -> None:
        """Accepted for torch compatibility; in-place custom functions are tracked by version counters."""

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = bool(value)

    def backward(self, *gys):
        grads = self._fn_class.backward(self, *gys)
        if not isinstance(grads, tuple):
            grads = (grads,)
        if len(grads) < self._n_args:
            raise RuntimeError(
                f"{self._fn_class.__name__}.backward returned {len(grads)} gradients, but forward took "
                f"{self._n_args} arguments; return None for arguments that need no gradient"
            )
        return tuple(grads[i] for i in self._tensor_positions)


class Function:
    """Base class for user-defined differentiable operations (see the module docstring)."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("a custom Function must define forward(ctx, ...)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a custom Function must define backward(ctx, ...) to be differentiated")

    @classmethod
    def apply(cls, *args, **kwargs):
        from minigrad.tensor import Tensor

        ctx = FunctionCtx(cls)
        positions = tuple(i for i, a in enumerate(args) if isinstance(a, Tensor))
        inputs = [args[i] for i in positions]
        record = _State.grad_enabled and any(t.requires_grad for t in inputs)
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad and record for a in args)
        with no_grad():
            result = cls.forward(ctx, *args, **kwargs)
        single = not isinstance(result, tuple)
        outputs = (result,) if single else result
        if not record:
            return result
        ctx._tensor_positions = positions
        ctx._n_args = len(args)
        ctx._record(inputs)
        wrapped = []
        for i, out in enumerate(outputs):
            if not isinstance(out, Tensor):
                wrapped.append(out)
                continue
            differentiable = id(out) not in ctx._non_differentiable and out.is_floating_point()
            wrapped.append(Tensor._make(out._data, ctx if differentiable else None, i, differentiable, out._vc))
        ctx._n_out = len(outputs)
        ctx._out_meta = tuple(
            (o._data.shape, o._data.dtype, get_array_module(o._data)) if isinstance(o, Tensor) else ((), np.float32, np)
            for o in outputs
        )
        ctx._saved_in = tuple(_pack(ctx, t, outputs) for t in ctx._to_save)
        del ctx._to_save
        return wrapped[0] if single else tuple(wrapped)


def _pack(ctx, tensor, outputs):
    """How a saved tensor is kept: an output is rebuilt on unpack (no reference cycle)."""
    if tensor is None:
        return ("none", None, 0)
    for i, out in enumerate(outputs):
        if tensor is out:
            vc = out._vc if out._vc is not None else _VersionCounter()
            return ("output", (i, out._data, vc), vc.value)
    return ("tensor", tensor, tensor._vc.value)


def once_differentiable(backward):
    """Decorator for a custom backward that cannot itself be differentiated: a clear error if tried."""

    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        from minigrad.tensor import Tensor

        if _State.grad_enabled and any(isinstance(g, Tensor) and g.requires_grad for g in grads):
            raise RuntimeError(
                f"{ctx.name()} is decorated with once_differentiable: double backward through it is not supported"
            )
        with no_grad():
            return backward(ctx, *grads)

    return wrapper
