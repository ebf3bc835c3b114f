"""Spec rows for elementwise math (minigrad/ops/math.py)."""

import numpy as np
import scipy.special
from hypothesis import strategies as st

import minigrad as mg
from minigrad.testing.opspec import Case, OpSpec, broadcast_cases, unary_cases

from ._helpers import array, mutually_broadcast, torch_fn


def _unary(name, ref, lo=-5.0, hi=5.0, avoid=(), double_backward=True, torch_name=None, **kw):
    return OpSpec(name, getattr(mg, name), ref, unary_cases(lo, hi, avoid), double_backward=double_backward,
                  torch_fn=torch_fn(torch_name or name), **kw)


def _binary(name, ref, lo=-5.0, hi=5.0, avoid=(), torch_name=None, avoid_case=None, **kw):
    return OpSpec(name, getattr(mg, name), ref, broadcast_cases(2, lo, hi, avoid), avoid=avoid_case,
                  torch_fn=torch_fn(torch_name or name), **kw)


def _ties(case):
    x, y = np.broadcast_arrays(*case.args)
    return bool(np.any(np.abs(x - y) < 1e-2))


def _near_integer_ratio(case):
    x, y = np.broadcast_arrays(*case.args)
    r = x / y
    return bool(np.any(np.abs(r - np.round(r)) < 1e-3))


def _near_integer(case):
    x = case.args[0]
    return bool(np.any(np.abs(x - np.round(x)) < 1e-2))


@st.composite
def _where_cases(draw):
    s = draw(mutually_broadcast(3))
    cond = np.asarray(draw(array(st.just(s.input_shapes[0]))) > 0)
    return Case((cond, draw(array(st.just(s.input_shapes[1]))), draw(array(st.just(s.input_shapes[2])))))


@st.composite
def _clamp_cases(draw):
    x = draw(array())
    lo = draw(st.one_of(st.none(), st.floats(-3, 0)))
    hi = draw(st.one_of(st.none(), st.floats(0.5, 3))) if lo is not None else draw(st.floats(0.5, 3))
    return Case((x,), {"min": lo, "max": hi})


def _near_bounds(case):
    x = case.args[0]
    return any(b is not None and np.any(np.abs(x - b) < 1e-2) for b in case.kwargs.values())


@st.composite
def _pow_scalar_cases(draw):
    p = draw(st.sampled_from([0, 1, 2, 3, -1, 0.5, 2.5, -1.5]))
    lo = 0.2 if p != int(p) or p < 0 else -3.0
    return Case((draw(array(min_value=lo, max_value=3.0)),), {"exponent": p})


def _near_zero(case):
    return any(np.any(np.abs(a) < 1e-2) for a in case.args if isinstance(a, np.ndarray))


SPECS = [
    _binary("add", np.add),
    _binary("sub", np.subtract),
    _binary("mul", np.multiply),
    _binary("div", np.divide, avoid_case=lambda c: bool(np.any(np.abs(c.args[1]) < 0.2))),
    OpSpec("pow", mg.pow, np.power, broadcast_cases(2, 0.2, 3.0), torch_fn=torch_fn("pow")),
    OpSpec("pow_scalar_exponent", lambda x, exponent: x ** exponent, lambda x, exponent: np.power(x, exponent),
           _pow_scalar_cases(), torch_fn=lambda x, exponent: x ** exponent),
    OpSpec("rpow_scalar_base", lambda x: 2.0 ** x, lambda x: np.power(2.0, x), unary_cases(-3, 3),
           torch_fn=lambda x: 2.0 ** x),
    _binary("remainder", np.remainder, 0.5, 5.0, avoid_case=_near_integer_ratio, double_backward=True),
    _binary("maximum", np.maximum, avoid_case=_ties),
    _binary("minimum", np.minimum, avoid_case=_ties),
    _binary("logaddexp", np.logaddexp),
    _unary("neg", np.negative),
    _unary("abs", np.abs, avoid=(0.0,)),
    _unary("exp", np.exp),
    _unary("exp2", np.exp2),
    _unary("log", np.log, 0.1, 5.0),
    _unary("log2", np.log2, 0.1, 5.0),
    _unary("log10", np.log10, 0.1, 5.0),
    _unary("log1p", np.log1p, -0.9, 5.0),
    _unary("expm1", np.expm1),
    _unary("sqrt", np.sqrt, 0.1, 5.0),
    _unary("rsqrt", lambda x: 1 / np.sqrt(x), 0.1, 5.0),
    _unary("square", np.square),
    OpSpec("reciprocal", mg.reciprocal, np.reciprocal, unary_cases(-3, 3), avoid=_near_zero,
           torch_fn=torch_fn("reciprocal")),
    _unary("sin", np.sin),
    _unary("cos", np.cos),
    _unary("tan", np.tan, -1.2, 1.2),
    _unary("tanh", np.tanh),
    _unary("sigmoid", scipy.special.expit, -8, 8),
    _unary("relu", lambda x: np.maximum(x, 0), avoid=(0.0,)),
    _unary("erf", scipy.special.erf),
    OpSpec("sign", mg.sign, np.sign, unary_cases(avoid=(0.0,)), torch_fn=torch_fn("sign")),
    OpSpec("floor", mg.floor, np.floor, unary_cases(), avoid=_near_integer, torch_fn=torch_fn("floor")),
    OpSpec("ceil", mg.ceil, np.ceil, unary_cases(), avoid=_near_integer, torch_fn=torch_fn("ceil")),
    OpSpec("round", mg.round, np.round, unary_cases(),
           avoid=lambda c: bool(np.any(np.abs(np.abs(c.args[0]) % 1 - 0.5) < 1e-2)), torch_fn=torch_fn("round")),
    OpSpec("trunc", mg.trunc, np.trunc, unary_cases(), avoid=_near_integer, torch_fn=torch_fn("trunc")),
    OpSpec("frac", mg.frac, lambda x: x - np.trunc(x), unary_cases(), avoid=_near_integer, torch_fn=torch_fn("frac")),
    OpSpec("clamp", mg.clamp, lambda x, min, max: np.clip(x, min, max), _clamp_cases(), avoid=_near_bounds,
           torch_fn=torch_fn("clamp")),
    OpSpec("where", mg.where, np.where, _where_cases(), torch_fn=torch_fn("where")),
    OpSpec("lerp", mg.lerp, lambda a, b, w: a + w * (b - a), broadcast_cases(3), torch_fn=torch_fn("lerp")),
    OpSpec("addcmul", lambda a, b, c: mg.addcmul(a, b, c, value=0.5), lambda a, b, c: a + 0.5 * b * c,
           broadcast_cases(3), torch_fn=lambda a, b, c: __import__("torch").addcmul(a, b, c, value=0.5)),
    OpSpec("addcdiv", lambda a, b, c: mg.addcdiv(a, b, c, value=2.0), lambda a, b, c: a + 2.0 * b / c,
           broadcast_cases(3, 0.5, 3.0), torch_fn=lambda a, b, c: __import__("torch").addcdiv(a, b, c, value=2.0)),
    OpSpec("fmod", mg.fmod, np.fmod, broadcast_cases(2, 0.5, 5.0), avoid=_near_integer_ratio,
           torch_fn=torch_fn("fmod")),
    OpSpec("div_floor", lambda a, b: mg.div(a, b, rounding_mode="floor"), lambda a, b: np.floor(a / b),
           broadcast_cases(2, 0.5, 5.0), avoid=_near_integer_ratio,
           torch_fn=lambda a, b: __import__("torch").div(a, b, rounding_mode="floor")),
    OpSpec("logaddexp_composite", lambda a, b: mg.logsumexp(mg.stack([a, b]), 0),
           lambda a, b: np.logaddexp(a, b), broadcast_cases(2).filter(lambda c: c.args[0].shape == c.args[1].shape)),
]

for _name, _ufunc in [("eq", np.equal), ("ne", np.not_equal), ("lt", np.less), ("le", np.less_equal),
                      ("gt", np.greater), ("ge", np.greater_equal)]:
    SPECS.append(OpSpec(_name, getattr(mg, _name), _ufunc, broadcast_cases(2, -2, 2), differentiable=False,
                        double_backward=False, float32=False, torch_fn=torch_fn(_name)))
SPECS.append(OpSpec("isfinite", mg.isfinite, np.isfinite, unary_cases(), differentiable=False, double_backward=False,
                    float32=False))
SPECS.append(OpSpec("logical_and", lambda a, b: mg.logical_and(a > 0, b > 0), lambda a, b: (a > 0) & (b > 0),
                    broadcast_cases(2), differentiable=False, double_backward=False, float32=False))
