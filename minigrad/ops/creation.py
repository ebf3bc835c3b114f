"""Making tensors: from data, filled, ranges and random draws (``mg.tensor``, ``mg.zeros``, ``mg.randn`` ...).

dtype rules, as torch: Python floats become float32 (the default dtype), Python ints int64, bools
bool; a NumPy or CuPy array keeps its dtype. ``device`` picks NumPy or CuPy through the backend.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import backend, dtypes
from ..tensor import Tensor


def _device(device) -> backend.device:
    if device is None:
        return backend.CPU
    return device if isinstance(device, backend.device) else backend.device(device)


def _shape(size: Sequence) -> tuple:
    """Accept ``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])``."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    elif len(size) == 1 and hasattr(size[0], "__len__") and not isinstance(size[0], (str, bytes)):
        size = tuple(size[0])
    shape = tuple(int(s) for s in size)
    if any(s < 0 for s in shape):
        raise RuntimeError(f"negative dimension in size {shape}")
    return shape


def _float_dtype(dtype) -> np.dtype:
    return dtypes.DEFAULT_FLOAT if dtype is None else dtypes.to_numpy_dtype(dtype)


def _nested_tensors_to_list(data):
    if isinstance(data, Tensor):
        return data.tolist()
    if isinstance(data, (list, tuple)):
        return [_nested_tensors_to_list(d) for d in data]
    return data


def _to_array(data: Any, dtype=None, device=None, copy: bool = True):
    """Convert ``data`` to an ``xp`` array with torch's dtype inference; copy unless told otherwise."""
    np_dtype = None if dtype is None else dtypes.to_numpy_dtype(dtype)
    if isinstance(data, Tensor):
        array = data._data
        target = _device(device) if device is not None else backend.device_of(array)
    elif isinstance(data, np.ndarray) or backend.is_cuda_array(data):
        array = data
        target = _device(device) if device is not None else backend.device_of(array)
    else:
        if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in _flat_first(data)):
            data = _nested_tensors_to_list(data)
        array = np.asarray(data)
        if array.dtype == object:
            raise TypeError(f"can't convert {type(data).__name__} with ragged or non-numeric elements to a tensor")
        if np_dtype is None:
            if array.dtype.kind == "f" and not isinstance(data, np.generic):
                array = array.astype(dtypes.DEFAULT_FLOAT)
            elif array.dtype.kind in "iu" and not isinstance(data, np.generic):
                array = array.astype(dtypes.DEFAULT_INT)
            elif array.dtype.kind == "c":
                raise TypeError("complex tensors are not supported")
        target = _device(device)
        copy = False  # np.asarray already made a fresh array from Python data
        if array.base is not None or not array.flags.writeable:
            copy = True
    if np_dtype is not None and array.dtype != np_dtype:
        array = array.astype(np_dtype)
        copy = False
    if array.dtype not in dtypes._FROM_NUMPY:
        if array.dtype.kind == "U" or array.dtype.kind == "S":
            raise TypeError("can't convert strings to a tensor")
        array = array.astype(dtypes.to_numpy_dtype(array.dtype))
    moved = backend.to_device(array, target)
    if moved is not array:
        return moved
    return array.copy() if copy else array


def _flat_first(data):
    """The first element at each nesting level (enough to spot a list of tensors)."""
    while isinstance(data, (list, tuple)) and data:
        if isinstance(data[0], Tensor):
            return [data[0]]
        data = data[0]
    return []


def tensor(data: Any, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new leaf tensor holding a copy of ``data`` (``torch.tensor``)."""
    array = _to_array(data, dtype, device, copy=True)
    out = Tensor._make(array, None, 0, False, None)
    if requires_grad:
        out.requires_grad = True
    return out


def as_tensor(data: Any, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with a NumPy/CuPy array when dtype and device allow."""
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    return Tensor._make(_to_array(data, dtype, device, copy=False), None, 0, False, None)


def as_tensor_like(data: Any, like: Tensor) -> Tensor:
    return Tensor._make(_to_array(data, like._data.dtype, like.device, copy=False), None, 0, False, None)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` (its dtype kept)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(array).__name__}")
    dtypes.from_numpy_dtype(array.dtype)
    return Tensor._make(array, None, 0, False, None)


def _filled(fill, size, dtype, device, requires_grad, default_dtype):
    shape = _shape(size)
    np_dtype = default_dtype if dtype is None else dtypes.to_numpy_dtype(dtype)
    xp = backend.xp_for(_device(device))
    with backend.on_device(_device(device)):
        array = xp.full(shape, fill, dtype=np_dtype) if fill is not None else xp.empty(shape, dtype=np_dtype)
    out = Tensor._make(array, None, 0, False, None)
    if requires_grad:
        out.requires_grad = True
    return out


def zeros(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled(0, size, dtype, device, requires_grad, dtypes.DEFAULT_FLOAT)


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled(1, size, dtype, device, requires_grad, dtypes.DEFAULT_FLOAT)


def empty(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled(None, size, dtype, device, requires_grad, dtypes.DEFAULT_FLOAT)


def full(size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    if dtype is None:
        default = (
            np.dtype(np.bool_)
            if isinstance(fill_value, bool)
            else (dtypes.DEFAULT_INT if isinstance(fill_value, (int, np.integer)) else dtypes.DEFAULT_FLOAT)
        )
    else:
        default = None
    return _filled(fill_value, (size,), dtype, device, requires_grad, default)


def _like(t: Tensor, dtype, device):
    return (t._data.dtype if dtype is None else dtype), (t.device if device is None else device)


def zeros_like(input: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return zeros(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def ones_like(input: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return ones(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def empty_like(input: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return empty(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(input: Tensor, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return full(input.shape, fill_value, dtype=dtype, device=device, requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Values from ``start`` up to (not including) ``end``; int64 unless a bound or step is a float."""
    if end is None:
        start, end = 0, start
    start, end, step = (v.item() if isinstance(v, Tensor) else v for v in (start, end, step))
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        np_dtype = dtypes.DEFAULT_INT if is_int else dtypes.DEFAULT_FLOAT
    else:
        np_dtype = dtypes.to_numpy_dtype(dtype)
    count = max(0, math.ceil((end - start) / step))
    xp = backend.xp_for(_device(device))
    with backend.on_device(_device(device)):
        # compute in float64 (or int64) and cast, so float32 ranges match torch's values
        work = xp.arange(count, dtype=np.float64 if np_dtype.kind == "f" else np.int64) * step + start
        array = work.astype(np_dtype)
    out = Tensor._make(array, None, 0, False, None)
    if requires_grad:
        out.requires_grad = True
    return out


def linspace(start, end, steps: int, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    np_dtype = _float_dtype(dtype)
    xp = backend.xp_for(_device(device))
    with backend.on_device(_device(device)):
        array = xp.linspace(start, end, int(steps), dtype=np.float64).astype(np_dtype)
    out = Tensor._make(array, None, 0, False, None)
    if requires_grad:
        out.requires_grad = True
    return out


def eye(n: int, m: int | None = None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    np_dtype = _float_dtype(dtype)
    xp = backend.xp_for(_device(device))
    with backend.on_device(_device(device)):
        array = xp.eye(int(n), None if m is None else int(m), dtype=np_dtype)
    out = Tensor._make(array, None, 0, False, None)
    if requires_grad:
        out.requires_grad = True
    return out


# ----- random --------------------------------------------------------------------------------------
def _generator(generator, device) -> backend.Generator:
    dev = _device(device)
    if generator is None:
        return backend.default_generator(dev)
    if generator.device != dev:
        raise RuntimeError(f"generator on {generator.device} used to create a tensor on {dev}")
    return generator


def _random(draw, size, dtype, device, requires_grad):
    out = Tensor._make(draw, None, 0, False, None)
    if requires_grad:
        out.requires_grad = True
    return out


def rand(*size, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uniform samples on [0, 1)."""
    gen = _generator(generator, device)
    with backend.on_device(gen.device):
        array = gen.uniform(_shape(size), _float_dtype(dtype))
    return _random(array, size, dtype, device, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples."""
    gen = _generator(generator, device)
    with backend.on_device(gen.device):
        array = gen.normal(_shape(size), _float_dtype(dtype))
    return _random(array, size, dtype, device, requires_grad)


def randint(low, high=None, size=None, generator=None, dtype=None, device=None) -> Tensor:
    """Integers drawn uniformly from [low, high) (``randint(high, size)`` also works, as torch)."""
    if size is None:
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint() missing the 'size' argument")
    np_dtype = dtypes.DEFAULT_INT if dtype is None else dtypes.to_numpy_dtype(dtype)
    if high <= low:
        raise RuntimeError(f"randint: expected low < high, got low={low}, high={high}")
    gen = _generator(generator, device)
    with backend.on_device(gen.device):
        array = gen.integers(int(low), int(high), _shape((size,)), np_dtype)
    return Tensor._make(array, None, 0, False, None)


def randperm(n: int, generator=None, dtype=None, device=None) -> Tensor:
    gen = _generator(generator, device)
    with backend.on_device(gen.device):
        array = gen.permutation(int(n))
    if dtype is not None:
        array = array.astype(dtypes.to_numpy_dtype(dtype))
    return Tensor._make(array, None, 0, False, None)


def rand_like(input: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return rand(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randn_like(input: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return randn(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randint_like(input: Tensor, low, high=None, dtype=None, device=None) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return randint(low, high, input.shape, dtype=dtype, device=device)


def normal(mean: float = 0.0, std: float = 1.0, size=None, generator=None, dtype=None, device=None) -> Tensor:
    if size is None:
        raise TypeError("normal() with float mean and std needs size=")
    gen = _generator(generator, device)
    with backend.on_device(gen.device):
        array = gen.normal(_shape((size,)), _float_dtype(dtype), mean, std)
    return Tensor._make(array, None, 0, False, None)


def bernoulli(input: Tensor, p: float | None = None, generator=None) -> Tensor:
    """0/1 samples with probability ``input`` (or the scalar ``p``), in ``input``'s dtype."""
    gen = _generator(generator, input.device)
    probs = input._data if p is None else p
    with backend.on_device(gen.device):
        draw = gen.uniform(input.shape, input._data.dtype)
    return Tensor._make((draw < probs).astype(input._data.dtype), None, 0, False, None)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, generator=None) -> Tensor:
    """Draw category indices from the (unnormalised) probabilities in the last dim of ``input``."""
    probs = input._data.astype(np.float64)
    if input.ndim not in (1, 2):
        raise RuntimeError(f"multinomial expects a 1-D or 2-D probability tensor, got shape {tuple(input.shape)}")
    if (probs < 0).any() or not bool((probs.sum(-1) > 0).all()):
        raise RuntimeError("multinomial: probabilities must be non-negative with a positive sum")
    rows = probs.reshape(-1, probs.shape[-1])
    if not replacement and num_samples > rows.shape[-1]:
        raise RuntimeError(f"cannot draw {num_samples} samples without replacement from {rows.shape[-1]} categories")
    gen = _generator(generator, input.device)
    xp = backend.get_array_module(rows)
    out = xp.empty((rows.shape[0], num_samples), dtype=np.int64)
    for r in range(rows.shape[0]):
        p = rows[r] / rows[r].sum()
        if replacement:
            cdf = xp.cumsum(p)
            u = gen.uniform((num_samples,), np.float64)
            out[r] = xp.minimum(xp.searchsorted(cdf, u, side="right"), p.shape[0] - 1)
        else:
            # Gumbel top-k: sampling without replacement in one shot
            u = gen.uniform(p.shape, np.float64)
            keys = xp.log(p + 1e-300) - xp.log(-xp.log(u + 1e-300))
            out[r] = xp.argsort(-keys)[:num_samples]
    return Tensor._make(out.reshape(probs.shape[:-1] + (num_samples,)), None, 0, False, None)
