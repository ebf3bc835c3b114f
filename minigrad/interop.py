"""Exchanging tensors with NumPy, CuPy and PyTorch without copying: DLPack and torch helpers.

DLPack (https://dmlc.github.io/dlpack/latest/) is the protocol array libraries use to share memory:
the producer's ``__dlpack__`` hands out a description of its buffer (pointer, dtype, shape, strides,
device) and the consumer wraps the same memory. So ``mg.from_dlpack(torch_tensor)``,
``torch.from_dlpack(mg_tensor)`` and ``np.from_dlpack(mg_tensor)`` share memory: a write through one
is seen by the other.

- ``Tensor.__dlpack__`` / ``__dlpack_device__`` (installed on ``Tensor``): export, as torch does:
  a tensor that requires grad is refused (the graph cannot travel; export ``t.detach()``), and a
  view with negative strides (``flip``) is exported as a contiguous copy, since many consumers
  (torch among them) cannot take negative strides.
- ``from_dlpack(x, device=None, copy=None)``: import from anything with ``__dlpack__``.
- ``to_torch(t)`` / ``from_torch(t)``: the same through DLPack, plus bfloat16 (which NumPy cannot
  pass through DLPack) and detaching. ``torch`` is imported only inside them.
- ``from_torch_state_dict`` / ``load_torch_state_dict``: a torch model's weights (a dict of torch
  tensors, a ``.safetensors``/``.npz`` file or a torch ``.pt`` file) into the matching minigrad module.
"""

from __future__ import annotations

import os
from collections import OrderedDict

import numpy as np

from . import backend, dtypes
from .tensor import Tensor

__all__ = ["from_dlpack", "to_torch", "from_torch", "from_torch_state_dict", "load_torch_state_dict"]

# DLPack device types (dlpack.h, DLDeviceType)
_DL_CPU, _DL_CUDA, _DL_CUDA_HOST, _DL_CUDA_MANAGED = 1, 2, 3, 13
_BF16 = dtypes.bfloat16.numpy  # None without ml_dtypes


# ----------------------------------------------------------------------------------------------
# DLPack
# ----------------------------------------------------------------------------------------------
def tensor_dlpack(self: Tensor, *, stream=None, max_version=None, dl_device=None, copy=None):
    """``Tensor.__dlpack__``: a DLPack capsule sharing this tensor's memory (the array API protocol)."""
    if self.requires_grad:
        raise BufferError("Can't export tensors that require gradient, use tensor.detach()")
    data = self._data
    if any(stride < 0 for stride in data.strides):
        if copy is False:
            raise BufferError("cannot export a view with negative strides without a copy (consumers reject them)")
        data = data.copy()  # copy=None allows the producer to copy when sharing is impossible
    kwargs = {"max_version": max_version, "dl_device": dl_device, "copy": copy}
    kwargs = {key: value for key, value in kwargs.items() if value is not None}
    if stream is not None:
        kwargs["stream"] = stream
    return data.__dlpack__(**kwargs)


def tensor_dlpack_device(self: Tensor) -> tuple:
    """``Tensor.__dlpack_device__``: ``(device type, device index)`` as DLPack numbers them (CPU is ``(1, 0)``)."""
    return self._data.__dlpack_device__()


def from_dlpack(ext_tensor, *, device=None, copy: bool | None = None) -> Tensor:
    """A tensor sharing memory with ``ext_tensor``: anything with ``__dlpack__`` (``torch.from_dlpack``).

    NumPy arrays, CuPy arrays, torch tensors, minigrad tensors ... keep their dtype (bool and
    integers included). ``copy=True`` makes an independent copy; ``device`` moves the result (a copy
    when the device changes, which ``copy=False`` refuses).
    """
    if not (hasattr(ext_tensor, "__dlpack__") and hasattr(ext_tensor, "__dlpack_device__")):
        if type(ext_tensor).__name__ == "PyCapsule":
            raise TypeError(
                "from_dlpack: raw DLPack capsules (torch.utils.dlpack.to_dlpack) are not supported; "
                "pass the tensor itself, which implements __dlpack__"
            )
        raise TypeError(
            f"from_dlpack expects an object implementing __dlpack__ and __dlpack_device__ (a NumPy or CuPy "
            f"array, a torch tensor ...), got {type(ext_tensor).__name__}"
        )
    target = None if device is None else (device if isinstance(device, backend.device) else backend.device(device))
    device_type = int(ext_tensor.__dlpack_device__()[0])
    if device_type == _DL_CPU:
        array = np.from_dlpack(ext_tensor)
    elif device_type in (_DL_CUDA, _DL_CUDA_MANAGED):
        array = backend.cupy_module().from_dlpack(ext_tensor)
    else:
        raise RuntimeError(
            f"from_dlpack: the tensor lives on DLPack device type {device_type}; minigrad handles CPU (1) and CUDA (2)"
        )
    if array.dtype not in dtypes._FROM_NUMPY:
        raise TypeError(f"from_dlpack: minigrad does not support tensors of dtype {array.dtype}")
    if target is not None and backend.device_of(array) != target:
        if copy is False:
            source = backend.device_of(array)
            raise ValueError(f"from_dlpack: moving from {source} to {target} needs a copy, but copy=False")
        array = backend.to_device(array, target)
    elif copy:
        array = array.copy()
    return Tensor._make(array, None, 0, False, None)


# ----------------------------------------------------------------------------------------------
# torch
# ----------------------------------------------------------------------------------------------
def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError("this helper needs PyTorch (pip install torch)") from None
    return torch


def to_torch(tensor: Tensor):
    """A ``torch.Tensor`` sharing memory with ``tensor`` (on the same device), without its graph.

    The result does not require grad even if ``tensor`` does: call ``.requires_grad_()`` on it to
    start a new graph in torch.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_torch expects a minigrad Tensor, got {type(tensor).__name__}")
    torch = _torch()
    data = tensor._data
    if any(stride < 0 for stride in data.strides):
        data = data.copy()  # torch cannot wrap negative strides
    if _BF16 is not None and data.dtype == _BF16:
        # NumPy cannot describe bfloat16 in DLPack: pass the bits as int16 and reinterpret them
        return torch.from_dlpack(data.view(np.int16)).view(torch.bfloat16)
    return torch.from_dlpack(data)


def from_torch(tensor) -> Tensor:
    """A minigrad tensor sharing memory with the torch tensor ``tensor`` (detached; CPU or CUDA)."""
    torch = _torch()
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"from_torch expects a torch.Tensor, got {type(tensor).__name__}")
    tensor = tensor.detach().resolve_conj().resolve_neg()
    if tensor.dtype == torch.bfloat16:
        if _BF16 is None:
            raise TypeError("from_torch: bfloat16 tensors need the 'ml_dtypes' package (pip install ml_dtypes)")
        bits = from_dlpack(tensor.view(torch.int16))
        return Tensor._make(bits._data.view(_BF16), None, 0, False, None)
    return from_dlpack(tensor)


def from_torch_state_dict(state_dict: dict) -> OrderedDict:
    """Convert a torch state dict (name -> ``torch.Tensor``) to minigrad tensors, sharing memory."""
    if not isinstance(state_dict, dict):
        raise TypeError(f"from_torch_state_dict expects a dict of tensors, got {type(state_dict).__name__}")
    out = OrderedDict()
    for name, value in state_dict.items():
        out[name] = value if isinstance(value, Tensor) else from_torch(value)
    return out


def load_torch_state_dict(module, source, strict: bool = True):
    """Load torch weights into the minigrad ``module`` with the same architecture.

    ``source`` is a dict of torch (or minigrad) tensors, or a path: ``.safetensors``/``.npz`` are read
    by ``mg.load``; anything else by ``torch.load(weights_only=True)``. Parameter names must match,
    as with ``module.load_state_dict(state_dict, strict)``, whose result is returned.
    """
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if path.lower().endswith((".safetensors", ".npz")):
            from .serialization import load

            source = load(path)
        else:
            source = _torch().load(path, map_location="cpu", weights_only=True)
    return module.load_state_dict(from_torch_state_dict(source), strict=strict)
