"""Helpers every op family shares: operand conversion, dtype promotion, device checks, dims."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import dtypes
from ..backend import device_of, get_array_module
from ..tensor import Tensor, _wrap_dim

_SCALARS = (int, float, bool, np.number, np.bool_)


class ValuesIndices(NamedTuple):
    """What ``max(dim)``, ``min(dim)``, ``sort`` and ``topk`` return, like torch's return types."""

    values: Tensor
    indices: Tensor


def xp_of(t: Tensor):
    """The array module (numpy or cupy) that holds ``t``."""
    return get_array_module(t._data)


def constant(array) -> Tensor:
    """Wrap an array as a tensor that needs no gradient."""
    if isinstance(array, np.generic):  # NumPy returns 0-d results as scalars; tensors hold arrays
        array = np.asarray(array)
    return Tensor._make(array, None, 0, False, None)


def check_same_device(op_name: str, *tensors: Tensor) -> None:
    """Raise naming both devices when tensors of one op live on different devices."""
    first = tensors[0]
    kind = type(first._data)
    for other in tensors[1:]:
        if type(other._data) is not kind or (kind is not np.ndarray and other._data.device != first._data.device):
            raise RuntimeError(
                f"{op_name}: expected all tensors to be on the same device, but found at least two "
                f"devices, {first.device} and {other.device}"
            )


def scalar_to_tensor(value, dtype: np.dtype, like: Tensor) -> Tensor:
    """A Python or NumPy scalar as a 0-d constant of ``dtype`` on ``like``'s device."""
    xp = xp_of(like)
    return Tensor._make(xp.asarray(value, dtype=dtype), None, 0, False, None)


def binary_operands(a, b, op_name: str) -> tuple[Tensor, Tensor]:
    """Turn ``a``, ``b`` (Tensors or scalars) into Tensors of one dtype on one device, as torch promotes."""
    a_is, b_is = isinstance(a, Tensor), isinstance(b, Tensor)
    if a_is and b_is:
        if a._data.dtype is b._data.dtype or a._data.dtype == b._data.dtype:
            if type(a._data) is not np.ndarray or type(b._data) is not np.ndarray:
                _check_devices(op_name, a, b)
            return a, b
        _check_devices(op_name, a, b)
        common = dtypes.result_type(a, b)
        return _cast(a, common), _cast(b, common)
    if a_is:
        common = _with_scalar(a, b, op_name)
        return _cast(a, common), scalar_to_tensor(b, common, a)
    if b_is:
        common = _with_scalar(b, a, op_name)
        return scalar_to_tensor(a, common, b), _cast(b, common)
    raise TypeError(f"{op_name}: expected at least one Tensor, got {type(a).__name__} and {type(b).__name__}")


def _with_scalar(t: Tensor, scalar, op_name: str) -> np.dtype:
    if isinstance(scalar, (np.ndarray,)) and scalar.ndim > 0:
        raise TypeError(f"{op_name}: NumPy arrays must be wrapped with mg.tensor() before mixing with tensors")
    if not isinstance(scalar, _SCALARS):
        if isinstance(scalar, np.ndarray):  # 0-d array: treat as a scalar of its kind
            scalar = scalar.item()
        else:
            raise TypeError(f"{op_name}: unsupported operand type {type(scalar).__name__} with a Tensor")
    own = t._data.dtype
    if dtypes.scalar_category(scalar) > dtypes.category(own):
        return dtypes.DEFAULT_FLOAT if isinstance(scalar, (float, np.floating)) else dtypes.DEFAULT_INT
    return own


def _check_devices(op_name: str, a: Tensor, b: Tensor) -> None:
    if type(a._data) is type(b._data) and (type(a._data) is np.ndarray or a._data.device == b._data.device):
        return
    raise RuntimeError(
        f"{op_name}: expected all tensors to be on the same device, but found at least two devices, "
        f"{device_of(a._data)} and {device_of(b._data)}"
    )


def _cast(t: Tensor, dtype: np.dtype) -> Tensor:
    if t._data.dtype == dtype:
        return t
    return t.to(dtype)


def as_tensor(value, like: Tensor | None = None) -> Tensor:
    """A Tensor as is; a scalar or array as a constant on ``like``'s device (for ops taking either)."""
    if isinstance(value, Tensor):
        return value
    if like is not None and isinstance(value, _SCALARS):
        return scalar_to_tensor(value, dtypes.result_type(like, value), like)
    from .creation import tensor

    return tensor(value, device=None if like is None else like.device)


def normalize_dim(dim: int, ndim: int) -> int:
    return _wrap_dim(dim, ndim)


def normalize_dims(dim, ndim: int) -> tuple | None:
    """``None`` (all dims) stays None; an int or a sequence becomes a sorted tuple of unique dims."""
    if dim is None:
        return None
    if isinstance(dim, (int, np.integer)):
        return (_wrap_dim(int(dim), ndim),)
    dims = tuple(_wrap_dim(int(d), ndim) for d in dim)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"dim {tuple(dim)} appears multiple times in the list of dims")
    return tuple(sorted(dims))


def broadcast_shapes(*shapes) -> tuple:
    """The broadcast of ``shapes``, or a RuntimeError that shows all of them."""
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        shown = " and ".join(str(tuple(s)) for s in shapes)
        raise RuntimeError(f"shapes {shown} cannot be broadcast together") from None


def check_float(op_name: str, t: Tensor) -> None:
    if not dtypes.is_floating(t._data.dtype):
        raise TypeError(f"{op_name} expects a floating-point tensor, got {t.dtype}")
