"""dtypes and PyTorch's type-promotion rules.

A minigrad dtype is a thin named wrapper over a NumPy dtype (``mg.float32.numpy == np.float32``).
Promotion follows torch, not NumPy: Python scalars and 0-d tensors never widen a dimensioned tensor
of the same category (bool < integer < floating), so ``float32_tensor * 2.5`` stays float32 and
``float32_tensor * np.float64(2.5)`` does too, although NumPy 2 would return float64 there.
"""

from __future__ import annotations

import numpy as np

try:  # bfloat16 on the CPU needs ml_dtypes (a small, well-kept library from the JAX project)
    import ml_dtypes as _ml_dtypes

    _BF16 = np.dtype(_ml_dtypes.bfloat16)
except ImportError:  # pragma: no cover - depends on the environment
    _BF16 = None

BOOL, INT, FLOAT = 0, 1, 2  # promotion categories


class dtype:
    """A tensor element type, e.g. ``mg.float32``. ``.numpy`` is the NumPy dtype behind it."""

    __slots__ = ("name", "numpy", "is_floating_point", "category", "itemsize", "is_signed")

    def __init__(self, name: str, np_dtype, category: int):
        self.name = name
        self.numpy = np_dtype
        self.category = category
        self.is_floating_point = category == FLOAT
        self.itemsize = np_dtype.itemsize if np_dtype is not None else 2
        self.is_signed = category != BOOL and name != "uint8"

    def __repr__(self) -> str:
        return f"minigrad.{self.name}"

    def __reduce__(self):
        return (_by_name, (self.name,))

    def __eq__(self, other) -> bool:
        if isinstance(other, dtype):
            return self is other
        try:
            return to_numpy_dtype(other) == self.numpy
        except TypeError:
            return NotImplemented

    def __hash__(self) -> int:
        return hash(self.name)


float16 = dtype("float16", np.dtype(np.float16), FLOAT)
bfloat16 = dtype("bfloat16", _BF16, FLOAT)
float32 = dtype("float32", np.dtype(np.float32), FLOAT)
float64 = dtype("float64", np.dtype(np.float64), FLOAT)
uint8 = dtype("uint8", np.dtype(np.uint8), INT)
int8 = dtype("int8", np.dtype(np.int8), INT)
int16 = dtype("int16", np.dtype(np.int16), INT)
int32 = dtype("int32", np.dtype(np.int32), INT)
int64 = dtype("int64", np.dtype(np.int64), INT)
bool_ = dtype("bool", np.dtype(np.bool_), BOOL)

_ALL = (float16, bfloat16, float32, float64, uint8, int8, int16, int32, int64, bool_)
_FROM_NUMPY = {d.numpy: d for d in _ALL if d.numpy is not None}
_NAMES = {d.name: d for d in _ALL}
_NAMES.update(float=float32, double=float64, half=float16, long=int64, int=int32, short=int16)

DEFAULT_FLOAT = np.dtype(np.float32)
DEFAULT_INT = np.dtype(np.int64)


def _by_name(name: str) -> dtype:
    return _NAMES[name]


def from_numpy_dtype(np_dtype) -> dtype:
    """The minigrad dtype for a NumPy dtype; a clear error for types minigrad does not support."""
    d = _FROM_NUMPY.get(np_dtype)
    if d is None:
        d = _FROM_NUMPY.get(np.dtype(np_dtype))
        if d is None:
            raise TypeError(f"minigrad does not support arrays of dtype {np.dtype(np_dtype)}")
    return d


def to_numpy_dtype(spec) -> np.dtype:
    """Accept a minigrad dtype, a NumPy dtype or type, a Python type or a name; return a NumPy dtype."""
    if isinstance(spec, dtype):
        if spec.numpy is None:
            raise TypeError("bfloat16 needs the 'ml_dtypes' package on this backend (pip install ml_dtypes)")
        return spec.numpy
    if spec is float:
        return np.dtype(np.float64)  # torch: dtype=float means float64
    if spec is int:
        return DEFAULT_INT
    if spec is bool:
        return np.dtype(np.bool_)
    if isinstance(spec, str) and spec in _NAMES:
        return to_numpy_dtype(_NAMES[spec])
    try:
        np_dtype = np.dtype(spec)
    except TypeError:
        raise TypeError(f"cannot interpret {spec!r} as a dtype") from None
    if np_dtype not in _FROM_NUMPY:
        raise TypeError(f"minigrad does not support dtype {np_dtype}")
    return np_dtype


def category(np_dtype) -> int:
    kind = np_dtype.kind
    if kind == "b":
        return BOOL
    if kind in "iu":
        return INT
    return FLOAT


def scalar_category(value) -> int:
    if isinstance(value, (bool, np.bool_)):
        return BOOL
    if isinstance(value, (int, np.integer)):
        return INT
    if isinstance(value, (float, np.floating)):
        return FLOAT
    raise TypeError(f"unsupported scalar {value!r} of type {type(value).__name__}")


def _default_for(cat: int) -> np.dtype:
    return DEFAULT_FLOAT if cat == FLOAT else DEFAULT_INT if cat == INT else np.dtype(np.bool_)


def promote_types(a: np.dtype, b: np.dtype) -> np.dtype:
    """Promote two NumPy dtypes the way torch does for two dimensioned tensors."""
    if a == b:
        return a
    if _BF16 is not None and (a == _BF16 or b == _BF16):
        other = b if a == _BF16 else a
        if category(other) != FLOAT:
            return _BF16
        return np.dtype(np.float32) if other == np.float16 else other
    return np.promote_types(a, b)


def result_type(*operands) -> np.dtype:
    """torch.result_type over tensors (anything with ``.dtype``/``.ndim``) and Python scalars.

    Three tiers decide: dimensioned tensors, then 0-d tensors, then scalars. A lower tier only
    matters when its category is higher than every tier above it.
    """
    dims, zero_dims, scalars = [], [], []
    for op in operands:
        data = getattr(op, "_data", None)
        if data is not None:
            (dims if data.ndim else zero_dims).append(data.dtype)
        elif isinstance(op, (np.ndarray, np.generic)) and not isinstance(op, np.generic):
            (dims if op.ndim else zero_dims).append(op.dtype)
        else:
            scalars.append(op)
    best = None
    best_cat = -1
    for tier in (dims, zero_dims):
        if not tier:
            continue
        cat = max(category(d) for d in tier)
        if cat > best_cat:
            out = None
            for d in tier:
                if category(d) == cat:
                    out = d if out is None else promote_types(out, d)
            best, best_cat = out, cat
    if scalars:
        cat = max(scalar_category(s) for s in scalars)
        if cat > best_cat:
            best = _default_for(cat)
    return best


def is_floating(np_dtype) -> bool:
    return np_dtype.kind == "f" or (_BF16 is not None and np_dtype == _BF16)
