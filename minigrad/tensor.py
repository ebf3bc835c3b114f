"""``Tensor``: an ``xp`` array plus what autograd needs to know about it.

A tensor holds its array (``.data``), whether it ``requires_grad``, and, if an op produced it
while recording, ``grad_fn``: the op node (and which of its outputs this is). Leaves (tensors
made by the user) have no ``grad_fn``; their gradients accumulate in ``.grad``.

The math lives in ``minigrad/ops/``; the methods here are thin doors into it, so each op's forward
and backward stay together in one place.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from . import backend, dtypes
from .autograd import op as _op_module
from .autograd.op import _VersionCounter


class _RemovableHandle:
    """Returned by ``register_hook``; ``.remove()`` takes the hook away."""

    def __init__(self, hooks: list, hook):
        self._hooks = hooks
        self._hook = hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class Tensor:
    """A multi-dimensional array with reverse-mode automatic differentiation (``torch.Tensor``)."""

    __slots__ = (
        "_data",
        "_grad_fn",
        "_out_index",
        "_requires_grad",
        "_vc",
        "_grad",
        "_grad_owned",
        "_hooks",
        "_retains_grad",
        "__weakref__",
    )
    # Make NumPy defer to Tensor's reflected operators (np_array * tensor -> Tensor.__rmul__).
    __array_ufunc__ = None

    def __init__(self, data: Any, dtype=None, device=None, requires_grad: bool = False):
        from .ops.creation import _to_array

        array = _to_array(data, dtype, device, copy=True)
        self._init(array, None, 0, False, None)
        if requires_grad:
            self.requires_grad = True

    @staticmethod
    def _make(data, grad_fn, out_index: int, requires_grad: bool, vc) -> Tensor:
        """Wrap an array without copying (the constructor ops use)."""
        t = object.__new__(Tensor)
        t._data = data
        t._grad_fn = grad_fn
        t._out_index = out_index
        t._requires_grad = requires_grad
        t._vc = vc if vc is not None else _VersionCounter()
        t._grad = None
        t._grad_owned = False
        t._hooks = None
        t._retains_grad = False
        return t

    def _init(self, data, grad_fn, out_index, requires_grad, vc):
        self._data = data
        self._grad_fn = grad_fn
        self._out_index = out_index
        self._requires_grad = requires_grad
        self._vc = vc if vc is not None else _VersionCounter()
        self._grad = None
        self._grad_owned = False
        self._hooks = None
        self._retains_grad = False

    # ----- basic attributes ------------------------------------------------------------------------
    @property
    def data(self):
        """The underlying NumPy/CuPy array (minigrad-specific: not a Tensor; changes to it are not tracked)."""
        return self._data

    @data.setter
    def data(self, value) -> None:
        if isinstance(value, Tensor):
            value = value._data
        self._data = value

    @property
    def shape(self) -> tuple:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> dtypes.dtype:
        return dtypes.from_numpy_dtype(self._data.dtype)

    @property
    def device(self) -> backend.device:
        return backend.device_of(self._data)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def itemsize(self) -> int:
        return self._data.itemsize

    @property
    def nbytes(self) -> int:
        return self._data.nbytes

    def element_size(self) -> int:
        return self._data.itemsize

    def size(self, dim: int | None = None):
        if dim is None:
            return self._data.shape
        return self._data.shape[_wrap_dim(dim, self._data.ndim)]

    def numel(self) -> int:
        return int(self._data.size)

    def is_floating_point(self) -> bool:
        return dtypes.is_floating(self._data.dtype)

    def is_contiguous(self) -> bool:
        return bool(self._data.flags.c_contiguous)

    def stride(self, dim: int | None = None):
        strides = tuple(s // self._data.itemsize for s in self._data.strides)
        return strides if dim is None else strides[_wrap_dim(dim, self._data.ndim)]

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    # ----- autograd attributes ---------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        flag = bool(flag)
        if flag and not dtypes.is_floating(self._data.dtype):
            raise RuntimeError(
                f"only floating-point tensors can require gradients; this tensor is {self.dtype} "
                f"(shape {tuple(self.shape)}). Convert it first, e.g. x.float()."
            )
        if not flag and self._grad_fn is not None:
            raise RuntimeError(
                "you can only change requires_grad of leaf tensors; use .detach() for a non-leaf "
                f"(this one was produced by {self._grad_fn.name()})"
            )
        self._requires_grad = flag

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    @property
    def grad(self) -> Tensor | None:
        """The accumulated gradient: set on leaves by backward, on non-leaves only after ``retain_grad()``."""
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad must be a Tensor or None, got {type(value).__name__}")
            if value.shape != self.shape:
                raise RuntimeError(
                    f"assigned grad has shape {tuple(value.shape)} but the tensor has shape {tuple(self.shape)}"
                )
            if value._data.dtype != self._data.dtype:
                raise RuntimeError(f"assigned grad has dtype {value.dtype} but the tensor has dtype {self.dtype}")
        self._grad = value
        self._grad_owned = False

    @property
    def grad_fn(self):
        return self._grad_fn

    @property
    def is_leaf(self) -> bool:
        return self._grad_fn is None

    @property
    def _version(self) -> int:
        return self._vc.value

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf after backward (leaves always keep theirs)."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on a tensor that has requires_grad=False")
        if self._grad_fn is None or self._retains_grad:
            return
        node = self._grad_fn
        if node._retained_grads is None:
            node._retained_grads = {}
        node._retained_grads[self._out_index] = weakref.ref(self)
        self._retains_grad = True

    def register_hook(self, hook) -> _RemovableHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned Tensor replaces it."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._grad_fn is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            node = self._grad_fn
            if node._out_hooks is None:
                node._out_hooks = {}
            hooks = node._out_hooks.setdefault(self._out_index, [])
        hooks.append(hook)
        return _RemovableHandle(hooks, hook)

    def backward(
        self, gradient: Tensor | None = None, retain_graph: bool | None = None, create_graph: bool = False, inputs=None
    ) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (see ``minigrad.autograd.engine``)."""
        from .autograd.engine import backward

        backward([self], None if gradient is None else [gradient], retain_graph, create_graph, inputs)

    def detach(self) -> Tensor:
        """A tensor sharing this one's memory (and version counter), cut off from the graph."""
        return Tensor._make(self._data, None, 0, False, self._vc)

    def detach_(self) -> Tensor:
        """Cut this tensor off from the graph in place (it becomes a leaf)."""
        self._grad_fn = None
        self._requires_grad = False
        return self

    # ----- conversion ------------------------------------------------------------------------------
    def numpy(self, force: bool = False) -> np.ndarray:
        """The array on the host. Refuses a tensor that requires grad (call ``.detach()``), like torch."""
        if self._requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on a Tensor that requires grad. Use tensor.detach().numpy() instead."
            )
        if backend.is_cuda_array(self._data):
            if not force:
                raise TypeError("can't convert a cuda tensor to numpy; use .cpu() first")
            return self._data.get()
        return self._data

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to a Python scalar")
        return self._data.reshape(()).item() if isinstance(self._data, np.ndarray) else self._data.item()

    def tolist(self):
        data = self._data if isinstance(self._data, np.ndarray) else self._data.get()
        return data.tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(
                f"the truth value of a tensor with {self._data.size} elements is ambiguous; use .any() or .all()"
            )
        return bool(self.item())

    def __index__(self) -> int:
        if self._data.size != 1 or self._data.dtype.kind not in "iub":
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __array__(self, dtype=None, copy=None):
        data = self._data if isinstance(self._data, np.ndarray) else self._data.get()
        return data if dtype is None else data.astype(dtype)

    def __repr__(self) -> str:
        return _format(self)

    def __hash__(self) -> int:
        return id(self)

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __reduce_ex__(self, protocol):
        data = self._data if isinstance(self._data, np.ndarray) else self._data.get()
        return (_rebuild, (data, str(self.device), self._requires_grad))

    def __deepcopy__(self, memo):
        if self._grad_fn is not None:
            raise RuntimeError("only leaf tensors (created by the user) support deepcopy; detach() first")
        out = Tensor._make(self._data.copy(), None, 0, self._requires_grad, None)
        if self._grad is not None:
            out._grad = Tensor._make(self._grad._data.copy(), None, 0, False, None)
        memo[id(self)] = out
        return out

    # The op methods (add, sum, reshape, ...) and __dlpack__ are attached in _tensor_methods.py.


_op_module.Tensor = Tensor


def _rebuild(data, device, requires_grad):
    from .ops.creation import tensor

    return tensor(data, device=device, requires_grad=requires_grad)


def _wrap_dim(dim: int, ndim: int) -> int:
    """Normalise a possibly negative ``dim`` for a tensor of rank ``ndim`` (IndexError if out of range)."""
    rank = max(ndim, 1)
    if not -rank <= dim < rank:
        raise IndexError(f"dimension out of range (expected to be in range of [{-rank}, {rank - 1}], but got {dim})")
    return dim + rank if dim < 0 else dim


def _format(t: Tensor) -> str:
    data = t._data if isinstance(t._data, np.ndarray) else t._data.get()
    if dtypes.bfloat16.numpy is not None and data.dtype == dtypes.bfloat16.numpy:
        data = data.astype(np.float32)
    body = np.array2string(
        data,
        precision=4,
        separator=", ",
        prefix="tensor(",
        threshold=1000,
        edgeitems=3,
        floatmode="fixed"
        if data.dtype.kind == "f" and data.size and np.all(np.isfinite(data)) and np.abs(data).max() < 1e4
        else "maxprec",
    )
    extras = []
    if t.device.type != "cpu":
        extras.append(f"device='{t.device}'")
    if t._data.dtype not in (np.float32, np.int64, np.bool_) or t._data.size == 0:
        extras.append(f"dtype={t.dtype}")
    if t._grad_fn is not None:
        extras.append(f"grad_fn=<{t._grad_fn.name()}>")
    elif t._requires_grad:
        extras.append("requires_grad=True")
    return "tensor(" + body + "".join(", " + e for e in extras) + ")"
