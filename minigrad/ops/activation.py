"""Activation functions: ReLU's relatives, smooth gates (GELU, SiLU, Mish), softplus and friends.

Forward works on raw arrays; backward is written with minigrad ops, so every activation here can be
differentiated again. The hot ones (``gelu``, ``silu``) compute their first derivative in one fused
raw-array op (``GeluGrad``, ``SiluGrad``) whose own backward is again written with minigrad ops, so
second and higher derivatives stay exact.

Half-precision inputs are computed in float32 and rounded back once (torch's "opmath"), so
``exp`` of a float16 never overflows half-way through a formula.

Gradients at kinks follow torch: ``relu``, ``leaky_relu`` and ``elu`` use the left branch at 0,
``hardtanh``/``relu6``/``hardsigmoid`` pass the gradient only strictly inside their linear range.
"""

from __future__ import annotations

import math

import numpy as np

from .. import dtypes
from .._parallel import blockwise
from ..autograd.op import Op
from ..backend import get_array_module, scipy_special
from ..tensor import Tensor
from . import math as M
from ._common import constant, normalize_dim
from .inplace import inplace_via
from .shape import chunk

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_K = math.sqrt(2.0 / math.pi)  # GELU's tanh approximation: tanh(k (x + c x^3))
_TANH_C = 0.044715
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def _opmath(x):
    """``x`` as the array to compute on: float32 for 16-bit floats, and 1-d for a 0-d array (NumPy
    turns 0-d results into scalars, which the in-place steps below cannot write into)."""
    if x.dtype.itemsize == 2:
        x = x.astype(np.float32)
    return x.reshape(1) if x.ndim == 0 else x


def _finish(y, x):
    """The computed ``y`` back in ``x``'s dtype and shape."""
    return y.astype(x.dtype, copy=False).reshape(x.shape)


def _pass_where(mask, gy: Tensor, other: Tensor | None = None) -> Tensor:
    """``gy`` where ``mask`` holds, else ``other`` (zero by default): a gradient gated by a constant mask.

    Written as ``gy * m + other * (1 - m)`` with a 0/1 float mask, which is exact (one term is always
    0; only an infinite value on the masked-out side would turn into nan) and about 10x faster than
    ``where`` on a random mask, where NumPy's branchy loop mispredicts half the time."""
    m = _float_mask(mask, gy._data.dtype)
    out = gy * constant(m)
    if other is not None:
        out = out + other * constant(1 - m)
    return out


def _float_mask(mask, dtype):
    return mask.astype(dtype)


def _select(mask, a, b):
    """``a`` where ``mask`` else ``b`` on raw arrays, by the exact 0/1 blend of ``_pass_where``."""
    m = _float_mask(mask, a.dtype)
    out = a * m
    m -= 1
    m *= b
    out -= m
    return out


def _one_over_one_plus_exp_(t):
    """t <- 1 / (1 + exp(t)) = sigmoid(-t), in place: exp(t) overflowing to inf gives exactly 0, which is right."""
    xp = get_array_module(t)
    with np.errstate(over="ignore"):
        xp.exp(t, out=t)
    t += 1
    return xp.reciprocal(t, out=t)


def _sigmoid_array(x):
    """Logistic sigmoid on a raw array, in one new buffer."""
    return _one_over_one_plus_exp_(get_array_module(x).negative(x))


def _sigmoid_product_derivative(s, w, out):
    """d/dx [x sigmoid(v)] = s (1 + (1 - s) w) into ``out``, for s = sigmoid(v) and w = x dv/dx
    (SiLU: v = x, w = x; tanh GELU: v = 2u)."""
    xp = get_array_module(s)
    xp.subtract(1.0, s, out=out)
    out *= w
    out += 1.0
    out *= s
    return out


def _softplus_array(z):
    """log(1 + exp(z)) without overflow: max(z, 0) + log1p(exp(-|z|))."""
    xp = get_array_module(z)
    t = xp.abs(z)
    xp.negative(t, out=t)
    xp.exp(t, out=t)
    t = _log1p(t)
    t += xp.maximum(z, 0)
    return t


# NumPy's float32 log1p and expm1 are ~10x slower than its (SIMD) log and exp. For float32 NumPy arrays
# the two below use log/exp with Goldberg's correction ("What every computer scientist should know
# about floating-point arithmetic", 1991, Theorem 4), accurate to a few ulp; elsewhere the library ones.
def _log1p(t):
    """log(1 + t) for t > -1: log(u) * t / (u - 1) with u = 1 + t rounded (t itself where u == 1)."""
    xp = get_array_module(t)
    if xp is not np or t.dtype != np.float32:
        return xp.log1p(t)
    u = t + 1.0
    d = u - 1.0
    exact = d == 0
    d += exact
    ratio = np.divide(t, d, out=d)
    np.log(u, out=u)
    u *= ratio
    u += t * exact
    return u


def _expm1_nonpositive(x):
    """exp(x) - 1 for x <= 0: (u - 1) * x / log(u) with u = exp(x) rounded (x itself where u == 1)."""
    xp = get_array_module(x)
    if xp is not np or x.dtype != np.float32:
        return xp.expm1(x)
    x = np.maximum(x, -80.0)  # exp(-80) - 1 rounds to -1 in float32; keeps log(u) finite
    u = np.exp(x)
    d = u - 1.0
    exact = d == 0
    np.log(u, out=u)
    u += exact
    ratio = np.divide(x, u, out=u)
    d *= ratio
    d += x * exact
    return d


def _full_like(x, value):
    return get_array_module(x).full(x.shape, value, dtype=x.dtype)


def _check_floating(name: str, input: Tensor) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be a Tensor, got {type(input).__name__}")
    if not dtypes.is_floating(input._data.dtype):
        shape = tuple(input.shape)
        raise TypeError(f"{name}: expected a floating-point tensor, got {input.dtype.name} (shape {shape})")


def _maybe_inplace(name: str, fn, input: Tensor, inplace: bool, *args) -> Tensor:
    if inplace:
        return inplace_via(input, name + "_", fn, *args)
    return fn(input, *args)


# ----------------------------------------------------------------------------------------------
# piecewise-linear activations
# ----------------------------------------------------------------------------------------------
class Hardtanh(Op):
    """clamp(x, lo, hi); the gradient passes only where lo < x < hi, as torch."""

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, x):
        xp = get_array_module(x)
        self.mask = (x > self.lo) & (x < self.hi)
        return xp.clip(x, self.lo, self.hi).astype(x.dtype, copy=False)

    def backward(self, gy):
        return _pass_where(self.mask, gy)


class LeakyRelu(Op):
    """x for x > 0, slope * x otherwise."""

    def __init__(self, slope):
        self.slope = slope

    def forward(self, x):
        xp = get_array_module(x)
        self.mask = x > 0
        # max(x, 0) + slope * min(x, 0): no where() on a random mask (slow), exact for any slope
        y = xp.minimum(x, 0)
        y *= self.slope
        y += xp.maximum(x, 0)
        return y

    def backward(self, gy):
        return _pass_where(self.mask, gy, gy * self.slope)


class Hardsigmoid(Op):
    """relu6(x + 3) / 6; the gradient is 1/6 strictly inside (-3, 3)."""

    def forward(self, x):
        xp = get_array_module(x)
        self.mask = (x > -3) & (x < 3)
        x_ = _opmath(x)
        y = x_ * (1.0 / 6.0)
        y += 0.5
        return _finish(xp.clip(y, 0, 1, out=y), x)

    def backward(self, gy):
        return _pass_where(self.mask, gy * (1.0 / 6.0))


class Hardswish(Op):
    """x * relu6(x + 3) / 6 (MobileNetV3);  d/dx = 0 below -3, x/3 + 1/2 on [-3, 3], 1 above."""

    def forward(self, x):
        xp = get_array_module(x)
        self.save_inputs(0)
        self.middle = (x >= -3) & (x <= 3)
        self.above = x > 3
        x_ = _opmath(x)
        y = x_ + 3.0
        xp.clip(y, 0, 6, out=y)
        y *= x_
        y *= 1.0 / 6.0
        return _finish(y, x)

    def backward(self, gy):
        (x,) = self.saved_inputs
        return _pass_where(self.middle, gy * (x * (1.0 / 3.0) + 0.5), _pass_where(self.above, gy))


class Threshold(Op):
    """x where x > threshold, else value."""

    def __init__(self, threshold, value):
        self.threshold, self.value = threshold, value

    def forward(self, x):
        self.mask = x > self.threshold
        return _select(self.mask, x, _full_like(x, self.value))

    def backward(self, gy):
        return _pass_where(self.mask, gy)


class Hardshrink(Op):
    """x where |x| > lambd, else 0."""

    def __init__(self, lambd):
        self.lambd = lambd

    def forward(self, x):
        xp = get_array_module(x)
        self.mask = xp.abs(x) > self.lambd
        return x * self.mask.astype(x.dtype)

    def backward(self, gy):
        return _pass_where(self.mask, gy)


class Softshrink(Op):
    """x - lambd above lambd, x + lambd below -lambd, 0 in between."""

    def __init__(self, lambd):
        self.lambd = lambd

    def forward(self, x):
        xp = get_array_module(x)
        self.mask = xp.abs(x) > self.lambd
        shrunk = (x - xp.sign(x) * self.lambd).astype(x.dtype, copy=False)
        return shrunk * self.mask.astype(x.dtype)

    def backward(self, gy):
        return _pass_where(self.mask, gy)


# ----------------------------------------------------------------------------------------------
# exponential-linear family
# ----------------------------------------------------------------------------------------------
class Elu(Op):
    """torch's general ELU: scale * x for x > 0, scale * alpha * (exp(input_scale * x) - 1) otherwise.

    ELU is (alpha, 1, 1), SELU (1.6733, 1.0507, 1), CELU (alpha, 1, 1/alpha). For x <= 0 the
    derivative is input_scale * (y + scale * alpha), read from the saved output.
    """

    def __init__(self, alpha, scale, input_scale):
        self.alpha, self.scale, self.input_scale = alpha, scale, input_scale

    def forward(self, x):
        xp = get_array_module(x)
        self.save_outputs(0)
        self.mask = x > 0
        x_ = _opmath(x)
        negative = xp.minimum(x_, 0)
        if self.input_scale != 1:
            negative *= self.input_scale
        negative = _expm1_nonpositive(negative) if self.input_scale > 0 else xp.expm1(negative)
        negative *= self.alpha * self.scale
        # scale * max(x, 0) + the exponential part (which is 0 for x > 0): exact, and no where()
        positive = xp.maximum(x_, 0)
        if self.scale != 1:
            positive *= self.scale
        negative += positive
        return _finish(negative, x)

    def backward(self, gy):
        (y,) = self.saved_outputs
        positive = gy * self.scale if self.scale != 1 else gy
        negative = gy * (y + self.alpha * self.scale)
        if self.input_scale != 1:
            negative = negative * self.input_scale
        return _pass_where(self.mask, positive, negative)


# ----------------------------------------------------------------------------------------------
# smooth gates
# ----------------------------------------------------------------------------------------------
def _gelu_prime(x: Tensor, approximate: str) -> Tensor:
    """GELU's first derivative, written with minigrad ops (differentiable again)."""
    if approximate == "tanh":
        x2 = x * x
        t = M.tanh((x + x2 * x * _TANH_C) * _TANH_K)
        du = (x2 * (3 * _TANH_C) + 1.0) * _TANH_K
        return (t + 1.0) * 0.5 + x * (1.0 - t * t) * du * 0.5
    cdf = (M.erf(x * _SQRT_HALF) + 1.0) * 0.5
    pdf = M.exp(x * x * -0.5) * _INV_SQRT_2PI
    return cdf + x * pdf


def _gelu_second(x: Tensor, approximate: str) -> Tensor:
    """GELU's second derivative with minigrad ops: phi(x) (2 - x^2) for the exact form."""
    if approximate == "tanh":
        x2 = x * x
        t = M.tanh((x + x2 * x * _TANH_C) * _TANH_K)
        sech2 = 1.0 - t * t
        du = (x2 * (3 * _TANH_C) + 1.0) * _TANH_K
        d2u = x * (6 * _TANH_C * _TANH_K)
        return sech2 * du + x * sech2 * (d2u - t * du * du * 2.0) * 0.5
    pdf = M.exp(x * x * -0.5) * _INV_SQRT_2PI
    return pdf * (2.0 - x * x)


def _gelu_cdf_array(x, approximate: str):
    """Phi(x) (or its tanh approximation) on a raw array (the general path: CuPy, float64)."""
    xp = get_array_module(x)
    if approximate == "tanh":
        inner = x * x
        inner *= _TANH_C
        inner += 1.0
        inner *= x
        inner *= _TANH_K
        xp.tanh(inner, out=inner)
    else:
        if xp is np and x.dtype == np.float32:
            return _normal_cdf_float32(x)
        inner = scipy_special(x).erf(x * _SQRT_HALF)
        inner = inner.astype(x.dtype, copy=False)
    inner += 1.0
    inner *= 0.5
    return inner


# Phi(-a) = exp(-a^2 / 2) P(a) / Q(a) for a >= 0 (P/Q approximates the Mills ratio times 1/sqrt(2 pi)): a
# (4, 5) rational least-squares fit made for minigrad, relative error 6e-9 in float64 and, in float32,
# absolute error 1.3e-7 (2 ulp near 1) and relative error < 6e-7 for |x| <= 3, so GELU's negative tail keeps
# its relative accuracy. SciPy's erf/ndtr are exact but ~3x slower on float32, and float32 GELU is the hot
# path of every transformer MLP.
_PHI_P = (0.5, 0.4372582, 0.18246703, 0.04037424, 0.00407784)
_PHI_Q = (1.0, 1.67240136, 1.19931277, 0.46744277, 0.10121003, 0.01022151)


def _normal_tail_ratio(a):
    """P(a) / Q(a) = Phi(-a) / exp(-a^2 / 2) for a float32 NumPy array ``a >= 0``; returns it and a
    spare array of a's shape (Q's buffer) for the caller to reuse."""
    p = a * _PHI_P[4]
    p += _PHI_P[3]
    for c in _PHI_P[2::-1]:
        p *= a
        p += c
    q = a * _PHI_Q[5]
    q += _PHI_Q[4]
    for c in _PHI_Q[3::-1]:
        q *= a
        q += c
    p /= q
    return p, q


def _half_gaussian(a, out):
    """exp(-a^2 / 2) into ``out``."""
    np.multiply(a, a, out=out)
    out *= -0.5
    return np.exp(out, out=out)


def _normal_cdf_float32(x):
    """Phi(x), the standard normal CDF, for a float32 NumPy array (the rational fit above)."""
    a = np.abs(x)
    p, e = _normal_tail_ratio(a)
    p *= _half_gaussian(a, e)  # Phi(-|x|)
    return _select(x < 0, p, np.subtract(1.0, p, out=e))


# ----------------------------------------------------------------------------------------------
# float32 CPU kernels of the hot activations: kernel(x, y, d=None) writes y = f(x) and, when d is
# given, d = f'(x), from the same exp. A recording forward asks for both and keeps f'(x) for the
# backward, which is then one multiply (GELU on (32, 65, 768): the backward's ~35 passes and exp
# become 1 pass, the forward gains ~6; one more float32 array per activation is held until backward).
# Each kernel is ~10-40 NumPy passes, run by ``_blocked`` on cache-sized blocks across the threads
# (minigrad._parallel.blockwise): no fresh full-size temporaries, and both cores work.
# ----------------------------------------------------------------------------------------------
def _float32_cpu(*arrays) -> bool:
    """Whether the block kernels apply: float32 NumPy arrays of one shape."""
    shape = arrays[0].shape
    return all(type(a) is np.ndarray and a.dtype == np.float32 and a.shape == shape for a in arrays)


def _blocked(kernel, *inputs, outputs: int = 1):
    """``kernel(*input_blocks, *output_blocks)`` over cache-sized blocks of the flattened inputs, on
    the thread pool; returns the new output arrays in the inputs' shape."""
    flat = [np.ascontiguousarray(a).reshape(-1) for a in inputs]
    outs = [np.empty_like(flat[0]) for _ in range(outputs)]
    blockwise(kernel, *flat, *outs)
    shape = inputs[0].shape
    return tuple(o.reshape(shape) for o in outs) if outputs > 1 else outs[0].reshape(shape)


def _multiply_block(a, b, out):
    np.multiply(a, b, out=out)


def _gelu_block(x, y, d=None):
    """y = x Phi(x) and d = gelu'(x) = Phi(x) + x phi(x). With a = |x| and H the unit step (1/2 at 0),
    Phi(x) = H - sign(x) Phi(-a) and gelu'(x) = H - sign(x) gelu'(-a): no select on the sign of x,
    and the negative tail, where Phi(-a) is tiny, keeps its relative accuracy."""
    a = np.abs(x)
    r, e = _normal_tail_ratio(a)
    _half_gaussian(a, e)
    r *= e  # Phi(-a)
    s = np.sign(x)
    h = np.add(s, 1.0)
    h *= 0.5  # H(x)
    np.multiply(x, h, out=y)  # max(x, 0)
    if d is not None:
        e *= a
        e *= _INV_SQRT_2PI  # a phi(a)
        np.subtract(r, e, out=e)  # gelu'(-a)
        e *= s
        np.subtract(h, e, out=d)
    r *= a
    y -= r


# tanh GELU: 0.5 (1 + tanh(u)) = sigmoid(2u), u = k (x + c x^3). NumPy's exp is ~3x faster than its tanh,
# and 1 / (1 + exp(-2u)) keeps the negative tail's relative accuracy (1 + tanh(u) cancels there).
def _gelu_tanh_block(x, y, d=None):
    """y = x s, s = sigmoid(2u); d = s (1 + (1 - s) w), w = 2 x u' = x (2k + 6kc x^2), as ds/dx = 2 s (1 - s) u'."""
    x2 = np.multiply(x, x)
    s = np.multiply(x2, -2 * _TANH_K * _TANH_C)
    s -= 2 * _TANH_K
    s *= x  # -2u
    _one_over_one_plus_exp_(s)  # sigmoid(2u)
    np.multiply(x, s, out=y)
    if d is not None:
        x2 *= 6 * _TANH_K * _TANH_C
        x2 += 2 * _TANH_K
        x2 *= x  # w
        _sigmoid_product_derivative(s, x2, d)


def _silu_block(x, y, d=None):
    """y = x s, s = sigmoid(x) = 1 / (1 + exp(-x)); d = s (1 + x (1 - s))."""
    s = _sigmoid_array(x)
    np.multiply(x, s, out=y)
    if d is not None:
        _sigmoid_product_derivative(s, x, d)


def _activation_forward(op: Op, kernel, x, x_):
    """y = f(x_) by the block kernel, in x's dtype; a recording float32 forward also keeps op.d = f'(x)."""
    if op.needs_input_grad[0] and x is x_:
        y, op.d = _blocked(kernel, x_, outputs=2)
        return y
    return _finish(_blocked(kernel, x_), x)


class Gelu(Op):
    """x * Phi(x), Phi the standard normal CDF (Hendrycks & Gimpel, 2016), or its tanh approximation."""

    def __init__(self, approximate):
        self.approximate = approximate

    def forward(self, x):
        self.save_inputs(0)
        x_ = _opmath(x)
        if _float32_cpu(x_):
            return _activation_forward(self, _gelu_tanh_block if self.approximate == "tanh" else _gelu_block, x, x_)
        y = _gelu_cdf_array(x_, self.approximate)
        y *= x_
        return _finish(y, x)

    def backward(self, gy):
        (x,) = self.saved_inputs
        return GeluGrad(self.approximate, getattr(self, "d", None))(x, gy)


class GeluGrad(Op):
    """gy * gelu'(x) on raw arrays (one multiply when the forward kept gelu'(x) as ``d``); its
    backward uses gelu'' written with minigrad ops."""

    def __init__(self, approximate, d=None):
        self.approximate = approximate
        self.d = d

    def forward(self, x, gy):
        xp = get_array_module(x)
        self.save_inputs(0, 1)
        if self.d is not None and _float32_cpu(gy, self.d):
            return _blocked(_multiply_block, gy, self.d)
        x_ = _opmath(x)
        if self.approximate == "tanh":
            x2 = x_ * x_
            t = x2 * _TANH_C
            t += 1.0
            t *= x_
            t *= _TANH_K
            xp.tanh(t, out=t)
            # 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2)
            du = x2 * (3 * _TANH_C)
            du += 1.0
            du *= _TANH_K * 0.5
            du *= x_
            sech2 = t * t
            xp.subtract(1.0, sech2, out=sech2)
            du *= sech2
            t += 1.0
            t *= 0.5
            t += du
            d = t
        else:
            d = _gelu_cdf_array(x_, "none")
            pdf = x_ * x_
            pdf *= -0.5
            xp.exp(pdf, out=pdf)
            pdf *= x_ * _INV_SQRT_2PI
            d += pdf
        d = _finish(d, x)
        d *= gy
        return d

    def backward(self, ggx):
        x, gy = self.saved_inputs
        g_x = ggx * gy * _gelu_second(x, self.approximate) if self.needs_input_grad[0] else None
        g_gy = ggx * _gelu_prime(x, self.approximate) if self.needs_input_grad[1] else None
        return g_x, g_gy


class Silu(Op):
    """x * sigmoid(x) (SiLU / swish; Elfwing et al., 2017, Ramachandran et al., 2017)."""

    def forward(self, x):
        self.save_inputs(0)
        x_ = _opmath(x)
        if _float32_cpu(x_):
            return _activation_forward(self, _silu_block, x, x_)
        y = _sigmoid_array(x_)
        y *= x_
        return _finish(y, x)

    def backward(self, gy):
        (x,) = self.saved_inputs
        return SiluGrad(getattr(self, "d", None))(x, gy)


class SiluGrad(Op):
    """gy * s (1 + x (1 - s)), s = sigmoid(x), on raw arrays (one multiply when the forward kept the
    derivative as ``d``); second derivative s(1-s)(2 + x(1-2s))."""

    def __init__(self, d=None):
        self.d = d

    def forward(self, x, gy):
        xp = get_array_module(x)
        self.save_inputs(0, 1)
        if self.d is not None and _float32_cpu(gy, self.d):
            return _blocked(_multiply_block, gy, self.d)
        x_ = _opmath(x)
        s = _sigmoid_array(x_)
        d = _finish(_sigmoid_product_derivative(s, x_, xp.empty_like(s)), x)
        d *= gy
        return d

    def backward(self, ggx):
        x, gy = self.saved_inputs
        s = M.sigmoid(x)
        g_x = None
        if self.needs_input_grad[0]:
            g_x = ggx * gy * s * (1.0 - s) * (x * (1.0 - 2.0 * s) + 2.0)
        g_gy = ggx * s * (x * (1.0 - s) + 1.0) if self.needs_input_grad[1] else None
        return g_x, g_gy


class Softplus(Op):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (torch's switch to linear)."""

    def __init__(self, beta, threshold):
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        self.save_inputs(0)
        x_ = _opmath(x)
        z = x_ * self.beta if self.beta != 1 else x_
        self.linear = z > self.threshold
        y = _softplus_array(z)
        if self.beta != 1:
            y *= 1.0 / self.beta
        return _finish(_select(self.linear, x_, y), x)

    def backward(self, gy):
        (x,) = self.saved_inputs
        slope = M.sigmoid(x * self.beta if self.beta != 1 else x)
        return _pass_where(self.linear, gy, gy * slope)


class Mish(Op):
    """x * tanh(softplus(x)) (Misra, 2019);  d/dx = t + x (1 - t^2) sigmoid(x), t = tanh(softplus(x))."""

    def forward(self, x):
        xp = get_array_module(x)
        self.save_inputs(0)
        x_ = _opmath(x)
        y = _softplus_array(x_)
        xp.tanh(y, out=y)
        y *= x_
        return _finish(y, x)

    def backward(self, gy):
        (x,) = self.saved_inputs
        t = M.tanh(softplus(x))
        return gy * (t + x * (1.0 - t * t) * M.sigmoid(x))


class LogSigmoid(Op):
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)): finite for any x;  d/dx = sigmoid(-x)."""

    def forward(self, x):
        self.save_inputs(0)
        x_ = _opmath(x)
        y = _softplus_array(-x_)
        get_array_module(x).negative(y, out=y)
        return _finish(y, x)

    def backward(self, gy):
        (x,) = self.saved_inputs
        return gy * M.sigmoid(-x)


class Softsign(Op):
    """x / (1 + |x|);  d/dx = 1 / (1 + |x|)^2."""

    def forward(self, x):
        xp = get_array_module(x)
        self.save_inputs(0)
        x_ = _opmath(x)
        d = xp.abs(x_)
        d += 1.0
        xp.divide(x_, d, out=d)
        return _finish(d, x)

    def backward(self, gy):
        (x,) = self.saved_inputs
        d = M.abs(x) + 1.0
        return gy / (d * d)


# ----------------------------------------------------------------------------------------------
# public functions
# ----------------------------------------------------------------------------------------------
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0) (Nair & Hinton, 2010); ``inplace=True`` overwrites ``input``."""
    return _maybe_inplace("relu", M.relu, input, inplace)


def relu_(input: Tensor) -> Tensor:
    """In-place ``relu``."""
    return relu(input, inplace=True)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """clamp(x, min_val, max_val), with the gradient passing only strictly inside (min_val, max_val)."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    return _maybe_inplace("hardtanh", lambda x: Hardtanh(min_val, max_val)(x), input, inplace)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6) (Krizhevsky, 2010; MobileNet)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0, negative_slope * x otherwise (Maas et al., 2013)."""
    _check_floating("leaky_relu", input)
    return _maybe_inplace("leaky_relu", lambda x: LeakyRelu(negative_slope)(x), input, inplace)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return leaky_relu(input, negative_slope, inplace=True)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, alpha (exp(x) - 1) otherwise (Clevert et al., 2015)."""
    _check_floating("elu", input)
    return _maybe_inplace("elu", lambda x: Elu(alpha, 1.0, 1.0)(x), input, inplace)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return elu(input, alpha, inplace=True)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with the self-normalising constants (Klambauer et al., 2017)."""
    _check_floating("selu", input)
    return _maybe_inplace("selu", lambda x: Elu(SELU_ALPHA, SELU_SCALE, 1.0)(x), input, inplace)


def selu_(input: Tensor) -> Tensor:
    return selu(input, inplace=True)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """max(0, x) + min(0, alpha (exp(x / alpha) - 1)) (Barron, 2017)."""
    _check_floating("celu", input)
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (ZeroDivisionError in exp(x / alpha))")
    return _maybe_inplace("celu", lambda x: Elu(alpha, 1.0, 1.0 / alpha)(x), input, inplace)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return celu(input, alpha, inplace=True)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) with Phi the standard normal CDF (exact, via erf), or with ``approximate="tanh"``
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (Hendrycks & Gimpel, 2016)."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"gelu: approximate argument must be either 'none' or 'tanh', got {approximate!r}")
    _check_floating("gelu", input)
    return Gelu(approximate)(input)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (SiLU, a.k.a. swish)."""
    _check_floating("silu", input)
    return _maybe_inplace("silu", lambda x: Silu()(x), input, inplace)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x)) (Misra, 2019)."""
    _check_floating("mish", input)
    return _maybe_inplace("mish", lambda x: Mish()(x), input, inplace)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, computed without overflow; linear where beta x > threshold."""
    _check_floating("softplus", input)
    if beta == 0:
        raise ValueError("softplus: beta must not be 0")
    return Softplus(beta, threshold)(input)


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    _check_floating("softsign", input)
    return Softsign()(input)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6 (MobileNetV3)."""
    _check_floating("hardsigmoid", input)
    return _maybe_inplace("hardsigmoid", lambda x: Hardsigmoid()(x), input, inplace)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6 (MobileNetV3)."""
    _check_floating("hardswish", input)
    return _maybe_inplace("hardswish", lambda x: Hardswish()(x), input, inplace)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)), finite for any x (no log(0) at x = -1e4)."""
    _check_floating("logsigmoid", input)
    return LogSigmoid()(input)


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x)."""
    _check_floating("tanhshrink", input)
    return input - M.tanh(input)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else value."""
    return _maybe_inplace("threshold", lambda x: Threshold(threshold, value)(x), input, inplace)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    return _maybe_inplace("threshold", lambda x: Threshold(threshold, value)(x), input, True)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0."""
    _check_floating("hardshrink", input)
    return Hardshrink(lambd)(input)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - sign(x) lambd where |x| > lambd, else 0."""
    _check_floating("softshrink", input)
    if lambd < 0:
        raise RuntimeError(f"softshrink: lambda must be greater or equal to 0, but found to be {lambd}")
    return Softshrink(lambd)(input)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit (Dauphin et al., 2017): a * sigmoid(b), a and b the halves of ``input`` along ``dim``."""
    _check_floating("glu", input)
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = normalize_dim(dim, input.ndim)
    if input.shape[d] % 2:
        raise RuntimeError(
            f"glu: halving dimension must be even, but dimension {d} is size {input.shape[d]} "
            f"(input shape {tuple(input.shape)})"
        )
    a, b = chunk(input, 2, d)
    return a * M.sigmoid(b)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x for x > 0, w * x otherwise, with a learned slope per channel (dim 1) or one shared (He et al., 2015).

    ``weight`` has 1 element or ``input.shape[1]`` (the channels) elements.
    """
    _check_floating("prelu", input)
    if not isinstance(weight, Tensor):
        raise TypeError(f"prelu: weight must be a Tensor, got {type(weight).__name__}")
    channels = input.shape[1] if input.ndim >= 2 else 1
    count = weight.numel()
    if count != 1 and count != channels:
        raise RuntimeError(
            f"prelu: mismatch of parameter numbers and input channel size. Found parameter numbers = {count} and "
            f"channel size = {channels} (input shape {tuple(input.shape)}, weight shape {tuple(weight.shape)})"
        )
    if weight._data.dtype != input._data.dtype:
        weight = weight.to(input.dtype)
    if count == 1:
        w = weight.reshape(())
    else:
        w = weight.reshape((channels,) + (1,) * (input.ndim - 2))
    return _pass_where(input._data > 0, input, w * input)
