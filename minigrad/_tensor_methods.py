"""Attach the op functions to ``Tensor`` as methods and operators (``x.sum()``, ``x + y``, ``x[i]``).

Each method is the same function as ``mg.<name>``; this table is the one place that says which.
"""

from __future__ import annotations

from . import interop
from .ops import convert, creation, indexing, inplace, linalg, math, reduce, shape
from .ops import softmax as softmax_ops
from .tensor import Tensor


def _swap(fn):
    """A reflected operator: ``2 - x`` calls ``x.__rsub__(2)``, which is ``sub(2, x)``."""

    def reflected(self, other):
        return fn(other, self)

    reflected.__name__ = f"r{fn.__name__}"
    return reflected


_METHODS = {
    # math
    "add": math.add,
    "sub": math.sub,
    "subtract": math.sub,
    "mul": math.mul,
    "multiply": math.mul,
    "div": math.div,
    "divide": math.div,
    "true_divide": math.div,
    "floor_divide": math.floor_divide,
    "remainder": math.remainder,
    "fmod": math.fmod,
    "pow": math.pow,
    "neg": math.neg,
    "negative": math.neg,
    "abs": math.abs,
    "absolute": math.abs,
    "exp": math.exp,
    "exp2": math.exp2,
    "log": math.log,
    "log2": math.log2,
    "log10": math.log10,
    "log1p": math.log1p,
    "expm1": math.expm1,
    "sqrt": math.sqrt,
    "rsqrt": math.rsqrt,
    "square": math.square,
    "reciprocal": math.reciprocal,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "tanh": math.tanh,
    "sigmoid": math.sigmoid,
    "relu": math.relu,
    "erf": math.erf,
    "sign": math.sign,
    "floor": math.floor,
    "ceil": math.ceil,
    "round": math.round,
    "trunc": math.trunc,
    "frac": math.frac,
    "clamp": math.clamp,
    "clip": math.clamp,
    "clamp_min": math.clamp_min,
    "clamp_max": math.clamp_max,
    "maximum": math.maximum,
    "minimum": math.minimum,
    "logaddexp": math.logaddexp,
    "lerp": math.lerp,
    "addcmul": math.addcmul,
    "addcdiv": math.addcdiv,
    "nan_to_num": math.nan_to_num,
    "eq": math.eq,
    "ne": math.ne,
    "lt": math.lt,
    "le": math.le,
    "gt": math.gt,
    "ge": math.ge,
    "greater": math.gt,
    "greater_equal": math.ge,
    "less": math.lt,
    "less_equal": math.le,
    "not_equal": math.ne,
    "logical_and": math.logical_and,
    "logical_or": math.logical_or,
    "logical_xor": math.logical_xor,
    "logical_not": math.logical_not,
    "bitwise_not": math.bitwise_not,
    "isnan": math.isnan,
    "isinf": math.isinf,
    "isfinite": math.isfinite,
    "equal": math.equal,
    "allclose": math.allclose,
    "isclose": math.isclose,
    # reductions
    "sum": reduce.sum,
    "mean": reduce.mean,
    "var": reduce.var,
    "std": reduce.std,
    "prod": reduce.prod,
    "max": reduce.max,
    "min": reduce.min,
    "amax": reduce.amax,
    "amin": reduce.amin,
    "argmax": reduce.argmax,
    "argmin": reduce.argmin,
    "logsumexp": reduce.logsumexp,
    "cumsum": reduce.cumsum,
    "norm": reduce.norm,
    "all": reduce.all,
    "any": reduce.any,
    "count_nonzero": reduce.count_nonzero,
    # shape
    "reshape": shape.reshape,
    "view": shape.view,
    "flatten": shape.flatten,
    "unflatten": shape.unflatten,
    "squeeze": shape.squeeze,
    "unsqueeze": shape.unsqueeze,
    "permute": shape.permute,
    "transpose": shape.transpose,
    "swapaxes": shape.transpose,
    "swapdims": shape.transpose,
    "t": shape.t,
    "movedim": shape.movedim,
    "moveaxis": shape.movedim,
    "expand": shape.expand,
    "expand_as": shape.expand_as,
    "broadcast_to": shape.broadcast_to,
    "repeat": shape.repeat,
    "tile": shape.tile,
    "repeat_interleave": shape.repeat_interleave,
    "flip": shape.flip,
    "fliplr": shape.fliplr,
    "flipud": shape.flipud,
    "roll": shape.roll,
    "contiguous": shape.contiguous,
    "split": shape.split,
    "chunk": shape.chunk,
    "unbind": shape.unbind,
    "narrow": shape.narrow,
    "softmax": softmax_ops.softmax,
    "log_softmax": softmax_ops.log_softmax,
    # indexing
    "gather": indexing.gather,
    "scatter": indexing.scatter,
    "scatter_add": indexing.scatter_add,
    "index_select": indexing.index_select,
    "index_add": indexing.index_add,
    "masked_fill": indexing.masked_fill,
    "masked_select": indexing.masked_select,
    "take_along_dim": indexing.take_along_dim,
    "tril": indexing.tril,
    "triu": indexing.triu,
    "diag": indexing.diag,
    "diagonal": indexing.diagonal,
    "trace": indexing.trace,
    "nonzero": indexing.nonzero,
    "sort": indexing.sort,
    "argsort": indexing.argsort,
    "topk": indexing.topk,
    "index_put": indexing.index_put,
    # linear algebra
    "matmul": linalg.matmul,
    "mm": linalg.mm,
    "bmm": linalg.bmm,
    "outer": linalg.outer,
    "dot": linalg.dot,
    "inner": linalg.inner,
    # conversion
    "to": convert.to,
    "clone": convert.clone,
    "type_as": convert.type_as,
    # in place
    "add_": inplace.add_,
    "sub_": inplace.sub_,
    "mul_": inplace.mul_,
    "div_": inplace.div_,
    "fill_": inplace.fill_,
    "zero_": inplace.zero_,
    "clamp_": inplace.clamp_,
    "clip_": inplace.clamp_,
    "copy_": inplace.copy_,
    # operators
    "__add__": math.add,
    "__radd__": _swap(math.add),
    "__sub__": math.sub,
    "__rsub__": _swap(math.sub),
    "__mul__": math.mul,
    "__rmul__": _swap(math.mul),
    "__truediv__": math.div,
    "__rtruediv__": _swap(math.div),
    "__floordiv__": math.floor_divide,
    "__rfloordiv__": _swap(math.floor_divide),
    "__mod__": math.remainder,
    "__rmod__": _swap(math.remainder),
    "__pow__": math.pow,
    "__rpow__": _swap(math.pow),
    "__matmul__": linalg.matmul,
    "__rmatmul__": _swap(linalg.matmul),
    "__neg__": math.neg,
    "__pos__": lambda self: self,
    "__abs__": math.abs,
    "__invert__": lambda self: math.logical_not(self) if self._data.dtype == bool else math.bitwise_not(self),
    "__and__": math.bitwise_and,
    "__or__": math.bitwise_or,
    "__xor__": math.bitwise_xor,
    "__rand__": _swap(math.bitwise_and),
    "__ror__": _swap(math.bitwise_or),
    "__rxor__": _swap(math.bitwise_xor),
    "__eq__": math.eq,
    "__ne__": math.ne,
    "__lt__": math.lt,
    "__le__": math.le,
    "__gt__": math.gt,
    "__ge__": math.ge,
    "__getitem__": indexing.getitem,
    "__setitem__": inplace.setitem,
    # interop
    "__dlpack__": interop.tensor_dlpack,
    "__dlpack_device__": interop.tensor_dlpack_device,
}


def _inplace_of(name: str, fn):
    def method(self, *args, **kwargs):
        return inplace.inplace_via(self, name, fn, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"In-place version of ``{fn.__name__}``."
    return method


_INPLACE_VIA = {
    "pow_": math.pow,
    "neg_": math.neg,
    "abs_": math.abs,
    "exp_": math.exp,
    "log_": math.log,
    "sqrt_": math.sqrt,
    "rsqrt_": math.rsqrt,
    "sigmoid_": math.sigmoid,
    "tanh_": math.tanh,
    "relu_": math.relu,
    "floor_": math.floor,
    "ceil_": math.ceil,
    "round_": math.round,
    "sin_": math.sin,
    "cos_": math.cos,
    "masked_fill_": indexing.masked_fill,
    "scatter_": indexing.scatter,
    "scatter_add_": indexing.scatter_add,
    "index_add_": indexing.index_add,
    "lerp_": math.lerp,
    "addcmul_": math.addcmul,
    "addcdiv_": math.addcdiv,
    "remainder_": math.remainder,
    "clamp_min_": math.clamp_min,
    "clamp_max_": math.clamp_max,
    "tril_": indexing.tril,
    "triu_": indexing.triu,
    "square_": math.square,
    "reciprocal_": math.reciprocal,
}


def _dtype_shortcut(dtype_name):
    def method(self):
        return convert.to(self, dtype_name)

    method.__name__ = dtype_name
    return method


def _install() -> None:
    for name, fn in _METHODS.items():
        setattr(Tensor, name, fn)
    for name, fn in _INPLACE_VIA.items():
        setattr(Tensor, name, _inplace_of(name, fn))
    for name, dtype_name in [
        ("float", "float32"),
        ("double", "float64"),
        ("half", "float16"),
        ("bfloat16", "bfloat16"),
        ("long", "int64"),
        ("int", "int32"),
        ("short", "int16"),
        ("bool", "bool"),
        ("byte", "uint8"),
    ]:
        setattr(Tensor, name, _dtype_shortcut(dtype_name))
    Tensor.T = property(lambda self: shape.permute(self, tuple(reversed(range(self.ndim)))) if self.ndim > 1 else self)
    Tensor.mT = property(lambda self: shape.transpose(self, -2, -1))
    Tensor.cpu = lambda self: convert.to(self, "cpu")
    Tensor.cuda = lambda self, device=None: convert.to(
        self, "cuda" if device is None else (f"cuda:{device}" if isinstance(device, int) else device)
    )
    Tensor.new_tensor = lambda self, data, dtype=None, device=None, requires_grad=False: creation.tensor(
        data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad
    )
    Tensor.new_zeros = lambda self, *size, dtype=None, device=None: creation.zeros(
        *size, dtype=dtype or self.dtype, device=device or self.device
    )
    Tensor.new_ones = lambda self, *size, dtype=None, device=None: creation.ones(
        *size, dtype=dtype or self.dtype, device=device or self.device
    )
    Tensor.new_full = lambda self, size, fill_value, dtype=None, device=None: creation.full(
        size, fill_value, dtype=dtype or self.dtype, device=device or self.device
    )
    Tensor.new_empty = lambda self, *size, dtype=None, device=None: creation.empty(
        *size, dtype=dtype or self.dtype, device=device or self.device
    )
    Tensor.uniform_ = _uniform_
    Tensor.normal_ = _normal_
    Tensor.bernoulli_ = _bernoulli_
    Tensor.random_ = _random_


def _uniform_(self, a: float = 0.0, b: float = 1.0, generator=None):
    gen = creation._generator(generator, self.device)
    return _overwrite(self, gen.uniform(self.shape, self._data.dtype, a, b), "uniform_")


def _normal_(self, mean: float = 0.0, std: float = 1.0, generator=None):
    gen = creation._generator(generator, self.device)
    return _overwrite(self, gen.normal(self.shape, self._data.dtype, mean, std), "normal_")


def _bernoulli_(self, p: float = 0.5, generator=None):
    gen = creation._generator(generator, self.device)
    return _overwrite(self, (gen.uniform(self.shape, self._data.dtype) < p).astype(self._data.dtype), "bernoulli_")


def _random_(self, low: int = 0, high: int | None = None, generator=None):
    if high is None:
        low, high = 0, low if low else 2**31
    gen = creation._generator(generator, self.device)
    return _overwrite(self, gen.integers(low, high, self.shape, self._data.dtype), "random_")


def _overwrite(self, array, name):
    """Fill ``self`` from a random draw: allowed on leaves (initialisation), as torch under no_grad."""
    from .autograd.grad_mode import _State

    if _State.grad_enabled and self._requires_grad:
        raise RuntimeError(
            f"a leaf tensor that requires grad is being used in an in-place operation ({name}); wrap it in mg.no_grad()"
        )
    return inplace.overwrite(self, array, name)


_install()
