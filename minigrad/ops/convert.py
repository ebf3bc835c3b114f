"""Moving a tensor between dtypes and devices, copying it, and modifying it in place.

``to``/``float``/``cuda`` are differentiable: the gradient travels back to the source dtype and
device.
"""

from __future__ import annotations

from .. import backend, dtypes
from ..autograd.grad_mode import _State
from ..autograd.op import Op
from ..tensor import Tensor


class Cast(Op):
    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        self.x_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy):
        return Cast(self.x_dtype)(gy)


class ToDevice(Op):
    def __init__(self, device):
        self.device = device

    def forward(self, x):
        self.x_device = backend.device_of(x)
        return backend.to_device(x, self.device)

    def backward(self, gy):
        return ToDevice(self.x_device)(gy)


class Clone(Op):
    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy


def _parse_to_args(tensor: Tensor, args, kwargs):
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None)
    copy = kwargs.pop("copy", False)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for arg in args:
        if isinstance(arg, Tensor):
            dtype, device = arg.dtype, arg.device
        elif isinstance(arg, backend.device) or (isinstance(arg, str) and arg.split(":")[0] in ("cpu", "cuda")):
            device = arg
        elif arg is not None:
            dtype = arg
    return device, dtype, copy


def to(tensor: Tensor, *args, **kwargs) -> Tensor:
    """``t.to(dtype)``, ``t.to(device)``, ``t.to(device, dtype)`` or ``t.to(other)`` (differentiable)."""
    device, dtype, copy = _parse_to_args(tensor, args, dict(kwargs))
    out = tensor
    if device is not None:
        dev = backend.device(device) if not isinstance(device, backend.device) else device
        if dev != tensor.device:
            if dev.type == "cuda":
                backend.cupy_module()
            out = ToDevice(dev)(out)
    if dtype is not None:
        np_dtype = dtypes.to_numpy_dtype(dtype)
        if np_dtype != out._data.dtype:
            if out.requires_grad and not dtypes.is_floating(np_dtype) and _State.grad_enabled:
                out = Tensor._make(out._data.astype(np_dtype), None, 0, False, None)
            else:
                out = Cast(np_dtype)(out)
    if copy and out is tensor:
        out = clone(tensor)
    return out


def clone(input: Tensor) -> Tensor:
    """A copy with its own memory; gradients flow through to ``input``."""
    return Clone()(input)


def detach(input: Tensor) -> Tensor:
    return input.detach()


def type_as(input: Tensor, other: Tensor) -> Tensor:
    return to(input, other.dtype)
