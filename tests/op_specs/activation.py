"""Spec rows for activation functions (minigrad/ops/activation.py).

The references are written independently in NumPy/SciPy from each function's formula; kinks
(where the derivative jumps) are kept out of the drawn inputs.
"""

import numpy as np
import scipy.special
from hypothesis import strategies as st

import minigrad.nn.functional as F
from minigrad.testing.opspec import Case, OpSpec, unary_cases

from ._helpers import array, torch_fn

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _elu_ref(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def _softplus_ref(x, beta=1.0, threshold=20.0):
    z = beta * x
    return np.where(z > threshold, x, np.logaddexp(0, z) / beta)


def _gelu_ref(x, approximate="none"):
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    return x * scipy.special.ndtr(x)


def _near(points):
    def avoid(case):
        x = case.args[0]
        return any(bool(np.any(np.abs(x - p) < 1e-2)) for p in points)

    return avoid


def _tfn(name, module="nn.functional"):
    return torch_fn(f"{module}.{name}")


@st.composite
def _slope_cases(draw):
    return Case((draw(array()),), {"negative_slope": draw(st.sampled_from([0.01, 0.2, -0.5, 1.5]))})


@st.composite
def _alpha_cases(draw):
    return Case((draw(array()),), {"alpha": draw(st.sampled_from([1.0, 0.5, 2.0]))})


@st.composite
def _hardtanh_cases(draw):
    lo = draw(st.sampled_from([-1.0, -2.5, 0.0]))
    hi = draw(st.sampled_from([1.0, 0.5, 3.0]))
    return Case((draw(array()),), {"min_val": lo, "max_val": hi})


def _near_hardtanh_bounds(case):
    x = case.args[0]
    return bool(np.any(np.abs(x - case.kwargs["min_val"]) < 1e-2) or np.any(np.abs(x - case.kwargs["max_val"]) < 1e-2))


@st.composite
def _softplus_cases(draw):
    beta = draw(st.sampled_from([1.0, 2.0, 0.5]))
    threshold = draw(st.sampled_from([20.0, 3.0, 1.0]))
    return Case((draw(array()),), {"beta": beta, "threshold": threshold})


def _near_softplus_switch(case):
    x, beta, threshold = case.args[0], case.kwargs["beta"], case.kwargs["threshold"]
    return bool(np.any(np.abs(beta * x - threshold) < 1e-2))


@st.composite
def _glu_cases(draw):
    ndim = draw(st.integers(1, 3))
    shape = list(draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim)))
    dim = draw(st.integers(-ndim, ndim - 1))
    shape[dim] = 2 * draw(st.integers(1, 3))
    return Case((draw(array(st.just(tuple(shape)))),), {"dim": dim})


def _glu_ref(x, dim):
    a, b = np.split(x, 2, axis=dim)
    return a * scipy.special.expit(b)


@st.composite
def _prelu_cases(draw):
    ndim = draw(st.integers(0, 4))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim)))
    channels = shape[1] if ndim >= 2 else 1
    n_weights = draw(st.sampled_from([1, channels]))
    weight = draw(array(st.just((n_weights,)), -1.0, 1.0))
    return Case((draw(array(st.just(shape), avoid=(0.0,))), weight))


def _prelu_ref(x, w):
    if w.size > 1:
        w = w.reshape((w.size,) + (1,) * (x.ndim - 2))
    return np.where(x > 0, x, w * x).reshape(x.shape)


@st.composite
def _gelu_cases(draw):
    return Case((draw(array()),), {"approximate": draw(st.sampled_from(["none", "tanh"]))})


SPECS = [
    OpSpec("relu6", F.relu6, lambda x: np.clip(x, 0, 6), unary_cases(-3, 9), avoid=_near([0.0, 6.0]),
           torch_fn=_tfn("relu6")),
    OpSpec("leaky_relu", F.leaky_relu, lambda x, negative_slope: np.where(x > 0, x, negative_slope * x),
           _slope_cases(), avoid=_near([0.0]), torch_fn=_tfn("leaky_relu")),
    OpSpec("elu", F.elu, _elu_ref, _alpha_cases(), avoid=_near([0.0]), torch_fn=_tfn("elu")),
    OpSpec("selu", F.selu, lambda x: SELU_SCALE * _elu_ref(x, SELU_ALPHA), unary_cases(), avoid=_near([0.0]),
           torch_fn=_tfn("selu")),
    OpSpec("celu", F.celu,
           lambda x, alpha: np.maximum(x, 0) + np.minimum(0, alpha * np.expm1(np.minimum(x, 0) / alpha)),
           _alpha_cases(), avoid=_near([0.0]), torch_fn=_tfn("celu")),
    OpSpec("gelu", F.gelu, _gelu_ref, _gelu_cases(), torch_fn=_tfn("gelu")),
    OpSpec("silu", F.silu, lambda x: x * scipy.special.expit(x), unary_cases(-8, 8), torch_fn=_tfn("silu")),
    OpSpec("mish", F.mish, lambda x: x * np.tanh(np.logaddexp(0, x)), unary_cases(), torch_fn=_tfn("mish")),
    OpSpec("softplus", F.softplus, _softplus_ref, _softplus_cases(), avoid=_near_softplus_switch,
           torch_fn=_tfn("softplus")),
    OpSpec("softsign", F.softsign, lambda x: x / (1 + np.abs(x)), unary_cases(), avoid=_near([0.0]),
           torch_fn=_tfn("softsign")),
    OpSpec("hardtanh", F.hardtanh, lambda x, min_val, max_val: np.clip(x, min_val, max_val), _hardtanh_cases(),
           avoid=_near_hardtanh_bounds, torch_fn=_tfn("hardtanh")),
    OpSpec("hardsigmoid", F.hardsigmoid, lambda x: np.clip(x / 6 + 0.5, 0, 1), unary_cases(), avoid=_near([-3.0, 3.0]),
           torch_fn=_tfn("hardsigmoid")),
    OpSpec("hardswish", F.hardswish, lambda x: x * np.clip(x + 3, 0, 6) / 6, unary_cases(), avoid=_near([-3.0, 3.0]),
           torch_fn=_tfn("hardswish")),
    OpSpec("logsigmoid", F.logsigmoid, lambda x: -np.logaddexp(0, -x), unary_cases(-30, 30),
           torch_fn=_tfn("logsigmoid")),
    OpSpec("glu", F.glu, _glu_ref, _glu_cases(), torch_fn=_tfn("glu")),
    OpSpec("prelu", F.prelu, _prelu_ref, _prelu_cases(), torch_fn=_tfn("prelu")),
    OpSpec("tanhshrink", F.tanhshrink, lambda x: x - np.tanh(x), unary_cases(), torch_fn=_tfn("tanhshrink")),
    OpSpec("hardshrink", F.hardshrink, lambda x: np.where(np.abs(x) > 0.5, x, 0.0), unary_cases(),
           avoid=_near([-0.5, 0.5]), torch_fn=_tfn("hardshrink")),
    OpSpec("softshrink", F.softshrink, lambda x: np.where(np.abs(x) > 0.5, x - np.sign(x) * 0.5, 0.0), unary_cases(),
           avoid=_near([-0.5, 0.5]), torch_fn=_tfn("softshrink")),
    OpSpec("threshold", lambda x: F.threshold(x, 0.5, -2.0), lambda x: np.where(x > 0.5, x, -2.0), unary_cases(),
           avoid=_near([0.5]), torch_fn=lambda x: __import__("torch").nn.functional.threshold(x, 0.5, -2.0)),
    OpSpec("relu_functional", F.relu, lambda x: np.maximum(x, 0), unary_cases(), avoid=_near([0.0]),
           torch_fn=_tfn("relu")),
]
