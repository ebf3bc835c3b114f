"""Elementwise math: arithmetic, exp/log, trig, activations, comparisons.

Each op is a forward on raw arrays and a backward written with minigrad ops, so every op here can
be differentiated again. Broadcasting needs no code here: the engine reduces each gradient back to
its input's shape.
"""

from __future__ import annotations

import math

import numpy as np

from .. import dtypes
from ..autograd.op import Op
from ..backend import get_array_module, scipy_special
from ..tensor import Tensor
from ._common import as_tensor, binary_operands, constant, xp_of


# ----------------------------------------------------------------------------------------------
# Arithmetic
# ----------------------------------------------------------------------------------------------
class Add(Op):
    def forward(self, x, y):
        return x + y

    def forward_inplace(self, x, y):
        x += y
        return x

    def backward(self, gz):
        return gz, gz


class Sub(Op):
    def forward(self, x, y):
        return x - y

    def forward_inplace(self, x, y):
        x -= y
        return x

    def backward(self, gz):
        return gz, -gz if self.needs_input_grad[1] else None


class Mul(Op):
    def forward(self, x, y):
        self.save_inputs(0, 1)
        return x * y

    def forward_inplace(self, x, y):
        x *= y
        return x

    def backward(self, gz):
        x, y = self.saved_inputs
        gx = gz * y if self.needs_input_grad[0] else None
        gy = gz * x if self.needs_input_grad[1] else None
        return gx, gy


class Div(Op):
    """z = x / y;  dz/dx = 1/y,  dz/dy = -z/y."""

    def forward(self, x, y):
        self.save_inputs(1)
        self.save_outputs(0)
        return x / y

    def forward_inplace(self, x, y):
        x /= y
        return x

    def backward(self, gz):
        (y,) = self.saved_inputs
        gx = gz / y if self.needs_input_grad[0] else None
        gy = None
        if self.needs_input_grad[1]:
            (z,) = self.saved_outputs
            gy = -gz * z / y
        return gx, gy


class Neg(Op):
    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class PowScalar(Op):
    """y = x ** p for a constant exponent p;  dy/dx = p * x ** (p - 1)."""

    def __init__(self, p):
        self.p = p

    def forward(self, x):
        self.save_inputs(0)
        return x**self.p

    def backward(self, gy):
        (x,) = self.saved_inputs
        if self.p == 0:
            return gy * 0
        if self.p == 1:
            return gy
        if self.p == 2:
            return gy * x * 2
        return gy * self.p * x ** (self.p - 1)


class RPowScalar(Op):
    """y = c ** x for a constant base c;  dy/dx = y * log(c)."""

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        self.save_outputs(0)
        return self.c**x

    def backward(self, gy):
        (y,) = self.saved_outputs
        return gy * y * math.log(self.c) if self.c > 0 else gy * y * float("nan")


class Pow(Op):
    """z = x ** y (both tensors);  dz/dx = y * x ** (y-1),  dz/dy = z * log(x) (0 where x == 0)."""

    def forward(self, x, y):
        self.save_inputs(0, 1)
        self.save_outputs(0)
        return x**y

    def backward(self, gz):
        x, y = self.saved_inputs
        gx = gz * y * x ** (y - 1) if self.needs_input_grad[0] else None
        gy = None
        if self.needs_input_grad[1]:
            (z,) = self.saved_outputs
            safe_log = where(x == 0, constant(xp_of(x).zeros((), x._data.dtype)), log(where(x == 0, 1.0, x)))
            gy = gz * z * safe_log
        return gx, gy


class Remainder(Op):
    """Python-style remainder (sign of the divisor);  d/dx = 1,  d/dy = -floor(x / y)."""

    def forward(self, x, y):
        self.save_inputs(0, 1)
        xp = get_array_module(x)
        return xp.remainder(x, y)

    def backward(self, gz):
        x, y = self.saved_inputs
        gy = -gz * floor(x / y) if self.needs_input_grad[1] else None
        return gz, gy


def add(input, other, alpha=1) -> Tensor:
    """``input + alpha * other`` with broadcasting and torch's type promotion."""
    if alpha != 1:
        other = mul(other, alpha)
    a, b = binary_operands(input, other, "add")
    return Add()(a, b)


def sub(input, other, alpha=1) -> Tensor:
    if alpha != 1:
        other = mul(other, alpha)
    a, b = binary_operands(input, other, "sub")
    if a._data.dtype == np.bool_:
        raise TypeError("subtraction of two bool tensors is not supported; use logical_xor")
    return Sub()(a, b)


subtract = sub


def mul(input, other) -> Tensor:
    a, b = binary_operands(input, other, "mul")
    return Mul()(a, b)


multiply = mul


def div(input, other, rounding_mode: str | None = None) -> Tensor:
    """True division (ints become float32), or ``rounding_mode='trunc'``/``'floor'`` (not differentiable)."""
    a, b = binary_operands(input, other, "div")
    if rounding_mode is None:
        if not dtypes.is_floating(a._data.dtype):
            a, b = a.to(dtypes.float32), b.to(dtypes.float32)
        return Div()(a, b)
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc' or 'floor', got {rounding_mode!r}")
    xp = xp_of(a)
    if dtypes.is_floating(a._data.dtype):
        q = a._data / b._data
        q = xp.trunc(q) if rounding_mode == "trunc" else xp.floor(q)
    else:
        if rounding_mode == "floor":
            q = xp.floor_divide(a._data, b._data)
        else:
            q = (xp.trunc(a._data / b._data)).astype(a._data.dtype)
    return _zero_grad_result(q, a, b)


divide = true_divide = div


def floor_divide(input, other) -> Tensor:
    return div(input, other, rounding_mode="floor")


def remainder(input, other) -> Tensor:
    a, b = binary_operands(input, other, "remainder")
    return Remainder()(a, b)


def fmod(input, other) -> Tensor:
    """C-style remainder (sign of the dividend)."""
    a, b = binary_operands(input, other, "fmod")
    return a - b * _zero_grad_result(xp_of(a).trunc(a._data / b._data).astype(a._data.dtype), a)


def neg(input: Tensor) -> Tensor:
    if input._data.dtype == np.bool_:
        raise TypeError("negation of a bool tensor is not supported; use logical_not")
    return Neg()(input)


negative = neg


def pow(input, exponent) -> Tensor:
    """``input ** exponent``: a constant exponent uses its own op (no log of the base needed)."""
    if isinstance(input, Tensor) and not isinstance(exponent, Tensor):
        if isinstance(exponent, (int, float, np.number)) and not isinstance(exponent, bool):
            if dtypes.is_floating(input._data.dtype) or (isinstance(exponent, (int, np.integer)) and exponent >= 0):
                return PowScalar(exponent)(input)
            if isinstance(exponent, (int, np.integer)):
                raise RuntimeError("integers to negative integer powers are not allowed")
            return PowScalar(exponent)(input.to(dtypes.float32))
    if not isinstance(input, Tensor):
        if isinstance(input, (int, float)) and input >= 0 and dtypes.is_floating(exponent._data.dtype):
            return RPowScalar(input)(exponent)
    a, b = binary_operands(input, exponent, "pow")
    return Pow()(a, b)


def _zero_grad_result(array, *inputs: Tensor) -> Tensor:
    """Wrap the result of a piecewise-constant op: zero gradient, like torch's floor/sign/round."""
    if any(t.requires_grad for t in inputs) and dtypes.is_floating(array.dtype):
        return _ZeroGrad(array)(*inputs)
    return constant(array)


class _ZeroGrad(Op):
    """An op whose value is given and whose derivative is zero almost everywhere (floor, sign ...)."""

    def __init__(self, value):
        self.value = value

    def forward(self, *xs):
        value = self.value
        del self.value
        return value

    def backward(self, gy):
        return tuple(gy * 0 if need else None for need in self.needs_input_grad)


# ----------------------------------------------------------------------------------------------
# Unary functions
# ----------------------------------------------------------------------------------------------
class Exp(Op):
    def forward(self, x):
        self.save_outputs(0)
        return get_array_module(x).exp(x)

    def backward(self, gy):
        (y,) = self.saved_outputs
        return gy * y


class Log(Op):
    def forward(self, x):
        self.save_inputs(0)
        return get_array_module(x).log(x)

    def backward(self, gy):
        (x,) = self.saved_inputs
        return gy / x


class Log1p(Op):
    def forward(self, x):
        self.save_inputs(0)
        return get_array_module(x).log1p(x)

    def backward(self, gy):
        (x,) = self.saved_inputs
        return gy / (x + 1)


class Expm1(Op):
    def forward(self, x):
        self.save_outputs(0)
        return get_array_module(x).expm1(x)

    def backward(self, gy):
        (y,) = self.saved_outputs
        return gy * (y + 1)


class Sqrt(Op):
    def forward(self, x):
        self.save_outputs(0)
        return get_array_module(x).sqrt(x)

    def backward(self, gy):
        (y,) = self.saved_outputs
        return gy / (y * 2)


class Rsqrt(Op):
    """y = 1/sqrt(x);  dy/dx = -y^3 / 2."""

    def forward(self, x):
        self.save_outputs(0)
        xp = get_array_module(x)
        return xp.reciprocal(xp.sqrt(x))

    def backward(self, gy):
        (y,) = self.saved_outputs
        return gy * y * y * y * -0.5


class Sin(Op):
    def forward(self, x):
        self.save_inputs(0)
        return get_array_module(x).sin(x)

    def backward(self, gy):
        (x,) = self.saved_inputs
        return gy * cos(x)


class Cos(Op):
    def forward(self, x):
        self.save_inputs(0)
        return get_array_module(x).cos(x)

    def backward(self, gy):
        (x,) = self.saved_inputs
        return -gy * sin(x)


class Tan(Op):
    def forward(self, x):
        self.save_outputs(0)
        return get_array_module(x).tan(x)

    def backward(self, gy):
        (y,) = self.saved_outputs
        return gy * (y * y + 1)


class Tanh(Op):
    def forward(self, x):
        self.save_outputs(0)
        return get_array_module(x).tanh(x)

    def backward(self, gy):
        (y,) = self.saved_outputs
        return gy * (1 - y * y)


class Sigmoid(Op):
    """y = 1 / (1 + exp(-x));  dy/dx = y (1 - y).

    Accurate in both tails: for very negative x, exp(-x) overflows to inf and y to its limit 0
    (the overflow is expected, so its warning is silenced); no branch on the sign, which would
    cost a slow masked select.
    """

    def forward(self, x):
        self.save_outputs(0)
        xp = get_array_module(x)
        e = xp.negative(x, out=xp.empty_like(x))  # out= keeps 0-d results arrays, and reuses one buffer
        with np.errstate(over="ignore"):
            xp.exp(e, out=e)
        e += 1
        return xp.reciprocal(e, out=e)

    def backward(self, gy):
        (y,) = self.saved_outputs
        return gy * y * (1 - y)


class Relu(Op):
    """max(x, 0). The gradient at exactly 0 is 0, as torch's (``maximum(x, 0)`` would split it)."""

    def forward(self, x):
        self.mask = x > 0
        return get_array_module(x).maximum(x, 0)

    def backward(self, gy):
        return gy * constant(self.mask)


class Abs(Op):
    def forward(self, x):
        self.save_inputs(0)
        return get_array_module(x).abs(x)

    def backward(self, gy):
        (x,) = self.saved_inputs
        return gy * sign(x)


class Erf(Op):
    """erf(x);  d/dx = 2/sqrt(pi) exp(-x^2)."""

    def forward(self, x):
        self.save_inputs(0)
        return scipy_special(x).erf(x).astype(x.dtype, copy=False)

    def backward(self, gy):
        (x,) = self.saved_inputs
        return gy * exp(-x * x) * (2.0 / math.sqrt(math.pi))


class Clamp(Op):
    """clamp(x, lo, hi) with constant bounds; the gradient passes where lo <= x <= hi, as torch."""

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, x):
        xp = get_array_module(x)
        mask = xp.ones(x.shape, dtype=bool)
        if self.lo is not None:
            mask &= x >= self.lo
        if self.hi is not None:
            mask &= x <= self.hi
        self.mask = mask
        return xp.clip(x, self.lo, self.hi).astype(x.dtype, copy=False)

    def backward(self, gy):
        return gy * constant(self.mask)


class Maximum(Op):
    """Elementwise max; at ties the gradient is split evenly between both inputs, as torch."""

    def forward(self, x, y):
        xp = get_array_module(x)
        self.x_wins = (x > y).astype(x.dtype)
        self.tie = (x == y).astype(x.dtype)
        return xp.maximum(x, y)

    def backward(self, gz):
        share_x = constant(self.x_wins + self.tie * 0.5)
        share_y = constant(1 - self.x_wins - self.tie * 0.5)
        return gz * share_x, gz * share_y


class LogAddExp(Op):
    """log(e^x + e^y) by the array library's ``logaddexp`` (max + log1p(exp(-|x - y|))); the gradients
    d/dx = sigmoid(x - y) and d/dy = sigmoid(y - x) are minigrad ops, so it differentiates again."""

    def forward(self, x, y):
        self.save_inputs(0, 1)
        return get_array_module(x).logaddexp(x, y)

    def backward(self, gz):
        x, y = self.saved_inputs
        d = x - y
        return gz * sigmoid(d), gz * sigmoid(-d)


class Minimum(Op):
    """Elementwise min; ties split the gradient evenly, as torch."""

    def forward(self, x, y):
        xp = get_array_module(x)
        self.x_wins = (x < y).astype(x.dtype)
        self.tie = (x == y).astype(x.dtype)
        return xp.minimum(x, y)

    def backward(self, gz):
        share_x = constant(self.x_wins + self.tie * 0.5)
        share_y = constant(1 - self.x_wins - self.tie * 0.5)
        return gz * share_x, gz * share_y


class Where(Op):
    """where(cond, x, y) with a constant boolean condition."""

    def __init__(self, cond):
        self.cond = cond

    def forward(self, x, y):
        return get_array_module(x).where(self.cond, x, y)

    def backward(self, gz):
        cond = self.cond
        zero = constant(xp_of(gz).zeros((), gz._data.dtype))
        gx = Where(cond)(gz, zero) if self.needs_input_grad[0] else None
        gy = Where(cond)(zero, gz) if self.needs_input_grad[1] else None
        return gx, gy


def _unary(op_class, name):
    def fn(input: Tensor) -> Tensor:
        if not dtypes.is_floating(input._data.dtype):
            input = input.to(dtypes.float32)  # torch: exp/log/... of an int tensor give float32
        return op_class()(input)

    fn.__name__ = name
    fn.__qualname__ = name
    fn.__doc__ = f"Elementwise ``{name}`` (integer inputs are computed in float32)."
    return fn


exp = _unary(Exp, "exp")
log = _unary(Log, "log")
log1p = _unary(Log1p, "log1p")
expm1 = _unary(Expm1, "expm1")
sqrt = _unary(Sqrt, "sqrt")
rsqrt = _unary(Rsqrt, "rsqrt")
sin = _unary(Sin, "sin")
cos = _unary(Cos, "cos")
tan = _unary(Tan, "tan")
tanh = _unary(Tanh, "tanh")
sigmoid = _unary(Sigmoid, "sigmoid")
erf = _unary(Erf, "erf")


def log2(input: Tensor) -> Tensor:
    return log(input) * (1.0 / math.log(2.0))


def log10(input: Tensor) -> Tensor:
    return log(input) * (1.0 / math.log(10.0))


def exp2(input: Tensor) -> Tensor:
    return pow(2.0, input if dtypes.is_floating(input._data.dtype) else input.to(dtypes.float32))


def square(input: Tensor) -> Tensor:
    return pow(input, 2)


def reciprocal(input: Tensor) -> Tensor:
    return div(1.0, input)


def relu(input: Tensor) -> Tensor:
    """max(x, 0)."""
    return Relu()(input)


def abs(input: Tensor) -> Tensor:
    if input._data.dtype == np.bool_:
        return input
    return Abs()(input)


absolute = abs


def sign(input: Tensor) -> Tensor:
    """-1, 0 or 1; its gradient is zero."""
    return _zero_grad_result(xp_of(input).sign(input._data), input)


def _rounding(name):
    def fn(input: Tensor) -> Tensor:
        if not dtypes.is_floating(input._data.dtype):
            return input
        return _zero_grad_result(getattr(xp_of(input), name)(input._data), input)

    fn.__name__ = name
    fn.__doc__ = f"Elementwise ``{name}``; the gradient is zero (piecewise constant)."
    return fn


floor = _rounding("floor")
ceil = _rounding("ceil")
trunc = _rounding("trunc")


def round(input: Tensor, decimals: int = 0) -> Tensor:
    """Round half to even, like torch; the gradient is zero."""
    if not dtypes.is_floating(input._data.dtype):
        return input
    return _zero_grad_result(xp_of(input).round(input._data, decimals), input)


def frac(input: Tensor) -> Tensor:
    return input - trunc(input)


def clamp(input: Tensor, min=None, max=None) -> Tensor:
    """Limit values to [min, max]; bounds may be numbers or tensors."""
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = input
        if min is not None:
            out = where(out < min, as_tensor(min, input).to(input.dtype), out)
        if max is not None:
            out = where(out > max, as_tensor(max, input).to(input.dtype), out)
        return out
    if not dtypes.is_floating(input._data.dtype) and any(isinstance(b, float) for b in (min, max)):
        input = input.to(dtypes.float32)
    return Clamp(min, max)(input)


clip = clamp


def clamp_min(input: Tensor, min) -> Tensor:
    return clamp(input, min=min)


def clamp_max(input: Tensor, max) -> Tensor:
    return clamp(input, max=max)


def maximum(input: Tensor, other: Tensor) -> Tensor:
    a, b = binary_operands(input, other, "maximum")
    return Maximum()(a, b)


def minimum(input: Tensor, other: Tensor) -> Tensor:
    a, b = binary_operands(input, other, "minimum")
    return Minimum()(a, b)


def logaddexp(input: Tensor, other: Tensor) -> Tensor:
    """log(exp(input) + exp(other)), without overflow (exact at +-1e4)."""
    a, b = binary_operands(input, other, "logaddexp")
    return LogAddExp()(a, b)


def where(condition, input=None, other=None) -> Tensor:
    """Elements of ``input`` where ``condition`` holds, else of ``other`` (scalars allowed)."""
    if input is None and other is None:
        from .indexing import nonzero

        return nonzero(condition, as_tuple=True)
    cond = condition._data if isinstance(condition, Tensor) else condition
    if getattr(cond, "dtype", None) != np.bool_:
        cond = cond.astype(bool) if hasattr(cond, "astype") else np.asarray(cond, dtype=bool)
    a, b = binary_operands(input, other, "where")
    return Where(cond)(a, b)


def lerp(input: Tensor, end: Tensor, weight) -> Tensor:
    """input + weight * (end - input)."""
    return input + weight * (end - input)


def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, value=1) -> Tensor:
    return input + value * tensor1 * tensor2


def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, value=1) -> Tensor:
    return input + value * tensor1 / tensor2


def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Tensor:
    xp = xp_of(input)
    mask = ~xp.isfinite(input._data)
    fixed = xp.nan_to_num(input._data, nan=nan, posinf=posinf, neginf=neginf)
    return where(constant(mask), constant(fixed), input)


# ----------------------------------------------------------------------------------------------
# Comparisons and logic (no gradient)
# ----------------------------------------------------------------------------------------------
def _compare(name, ufunc):
    def fn(input, other) -> Tensor:
        a, b = binary_operands(input, other, name)
        return constant(getattr(xp_of(a), ufunc)(a._data, b._data))

    fn.__name__ = name
    fn.__doc__ = f"Elementwise ``{ufunc}`` as a bool tensor (no gradient)."
    return fn


eq = _compare("eq", "equal")
ne = _compare("ne", "not_equal")
lt = _compare("lt", "less")
le = _compare("le", "less_equal")
gt = _compare("gt", "greater")
ge = _compare("ge", "greater_equal")
logical_and = _compare("logical_and", "logical_and")
logical_or = _compare("logical_or", "logical_or")
logical_xor = _compare("logical_xor", "logical_xor")
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def bitwise_and(input, other) -> Tensor:
    a, b = binary_operands(input, other, "bitwise_and")
    return constant(a._data & b._data)


def bitwise_or(input, other) -> Tensor:
    a, b = binary_operands(input, other, "bitwise_or")
    return constant(a._data | b._data)


def bitwise_xor(input, other) -> Tensor:
    a, b = binary_operands(input, other, "bitwise_xor")
    return constant(a._data ^ b._data)


def bitwise_not(input: Tensor) -> Tensor:
    if dtypes.is_floating(input._data.dtype):
        raise TypeError(f"bitwise_not is only defined for integer and bool tensors, got {input.dtype}")
    return constant(~input._data)


def logical_not(input: Tensor) -> Tensor:
    return constant(xp_of(input).logical_not(input._data))


def isnan(input: Tensor) -> Tensor:
    return constant(xp_of(input).isnan(input._data))


def isinf(input: Tensor) -> Tensor:
    return constant(xp_of(input).isinf(input._data))


def isfinite(input: Tensor) -> Tensor:
    return constant(xp_of(input).isfinite(input._data))


def equal(input: Tensor, other: Tensor) -> bool:
    """True when both tensors have the same shape and elements."""
    return input.shape == other.shape and bool(xp_of(input).array_equal(input._data, other._data))


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> bool:
    return bool(xp_of(input).allclose(input._data, other._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(input: Tensor, other: Tensor, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> Tensor:
    return constant(xp_of(input).isclose(input._data, other._data, rtol=rtol, atol=atol, equal_nan=equal_nan))
