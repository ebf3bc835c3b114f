"""Normalization: batch, layer, group, instance and RMS norm, each one fused op.

All five are one computation on a *view* of the input in which the statistics axes are explicit
(a reshape, no copy for contiguous input):

    mean = mean(x), var = mean((x - mean)^2)   over the statistics axes (two-pass: stable at 1e4 offsets)
    rstd = 1 / sqrt(var + eps),  x_hat = (x - mean) * rstd,  y = x_hat * weight + bias

RMS norm is the same without centring (mean = 0, var = mean(x^2)). The views:

    norm            view of x              statistics axes   weight/bias view   paper
    batch_norm      (N, C, L)              (0, 2)            (1, C, 1)          Ioffe & Szegedy 2015
    layer_norm      (M, D)                 (1,)              (1, D)             Ba et al. 2016
    group_norm      (N, G, C/G, L)         (2, 3)            (1, G, C/G, 1)     Wu & He 2018
    instance_norm   (N, C, L)              (2,)              (1, C, 1)          Ulyanov et al. 2016
    rms_norm        (M, D)                 (1,)              (1, D)             Zhang & Sennrich 2019

(L is the product of the spatial dims, D of ``normalized_shape``.) The backward is the closed
form (g = gy * weight, means over the statistics axes):

    gx = rstd * (g - mean(g) - x_hat * mean(g * x_hat))        (RMS norm: no mean(g) term)
    gweight = sum(gy * x_hat),  gbias = sum(gy)                 over the axes weight is broadcast on

computed by a second fused op, ``_NormGrad``, whose own backward (written with minigrad ops)
gives exact second and higher derivatives. Statistics of float16/bfloat16 inputs are computed in
float32; outputs keep the input's dtype.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .. import dtypes
from ..autograd.grad_mode import _State
from ..autograd.op import Op
from ..backend import get_array_module
from ..tensor import Tensor
from ._common import check_same_device, constant, xp_of
from .inplace import overwrite
from .reduce import mean as _mean
from .reduce import sum as _sum
from .shape import reshape


# ----------------------------------------------------------------------------------------------
# Raw-array helpers (forward and the fused backward)
# ----------------------------------------------------------------------------------------------
def _compute_dtype(dtype: np.dtype) -> np.dtype:
    """float16/bfloat16 statistics are accumulated in float32, as torch's."""
    return np.dtype(np.float32) if dtype.itemsize < 4 else dtype


def _keep(shape: tuple, axes: tuple) -> tuple:
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _sum_axes(xp, a, axes: tuple):
    """sum over ``axes`` with keepdims (NumPy sums a contiguous run pairwise: accurate)."""
    return a.sum(axis=axes, keepdims=True) if axes else a


def _dot_axes(xp, a, b, axes: tuple):
    """sum(a * b) over ``axes`` with keepdims, without materialising a * b (for small arrays the
    product is cheaper than einsum's parsing)."""
    if a.size <= 16384:
        return _sum_axes(xp, a * b, axes)
    letters = "abcdefgh"[: a.ndim]
    kept = "".join(c for i, c in enumerate(letters) if i not in axes)
    return xp.einsum(f"{letters},{letters}->{kept}", a, b).reshape(_keep(a.shape, axes))


def _moments(x, axes: tuple, eps: float, center: bool):
    """(mean, var, rstd, xc, shift) of a compute-dtype array over ``axes``, kept as dims.

    Centred two-pass with the correction of Chan, Golub & LeVeque (1983): xc = x - m1 for a first
    mean m1, and ``shift`` = mean(xc) is m1's rounding error. mean = m1 + shift, var = mean(xc^2) -
    shift^2, and x - mean is xc - shift: exact zeros for constant input, stable at large offsets.
    Not centred (RMS norm): mean and shift are None, var = mean(x^2), xc is x itself.
    """
    xp = get_array_module(x)
    n = max(math.prod(x.shape[i] for i in axes), 1)
    if not center:
        var = _dot_axes(xp, x, x, axes) / n
        return None, var, 1.0 / xp.sqrt(var + eps), x, None
    mean = _sum_axes(xp, x, axes) / n
    xc = x - mean
    shift = _sum_axes(xp, xc, axes) / n
    var = xp.maximum(_dot_axes(xp, xc, xc, axes) / n - shift * shift, 0.0)
    return mean + shift, var, 1.0 / xp.sqrt(var + eps), xc, shift


_ULP_OF_ONE = {np.dtype(t): float(np.finfo(t).eps) for t in (np.float32, np.float64)}


def _visible(error) -> bool:
    """Whether an error in normalized values exceeds a few units in the last place of 1."""
    xp = get_array_module(error)
    return bool((xp.abs(error) > 4 * _ULP_OF_ONE[error.dtype]).any())


def _per_channel(view: tuple, w_view: tuple, axes: tuple) -> bool:
    """Whether weight (shape ``w_view``) is constant along some statistics axis, so that weight
    times rstd (the statistics' shape) is a small array rather than one the size of ``view``."""
    return any(i in axes and w == 1 and v != 1 for i, (w, v) in enumerate(zip(w_view, view)))


class _Norm(Op):
    """y = (x - mean) * rstd * weight + bias on a view of x (see the module docstring).

    Inputs: x, then weight and bias when given, each in its own shape; ``view`` and ``w_view``
    are the shapes they take inside, ``axes`` the statistics axes of ``view``. After forward,
    ``mean`` and ``var`` (biased) hold the statistics, for the running estimates.
    """

    __slots__ = ("kind",)  # a slot, not in __dict__: the name outlives the node's release

    def __init__(self, kind: str, view: tuple, w_view: tuple, axes: tuple, eps: float, center: bool,
                 has_weight: bool, has_bias: bool):
        self.kind = kind
        self.view, self.w_view, self.axes, self.eps, self.center = view, w_view, axes, eps, center
        self.has_weight, self.has_bias = has_weight, has_bias
        # a weight constant within each statistics group (per channel): rstd * weight is a small array
        self.fold = has_weight and _per_channel(view, w_view, axes)

    def name(self) -> str:
        return self.kind

    def forward(self, x, *affine):
        ct = _compute_dtype(x.dtype)
        xv = x.reshape(self.view).astype(ct, copy=False)
        mean, var, rstd, xc, shift = _moments(xv, self.axes, self.eps, self.center)
        self.mean, self.var, self.rstd = mean, var, rstd
        self.save_inputs(*range(1 + self.has_weight))
        w = affine[0].reshape(self.w_view).astype(ct, copy=False) if self.has_weight else None
        b = affine[-1].reshape(self.w_view).astype(ct, copy=False) if self.has_bias else None
        factor = rstd
        if self.fold:  # one small scale array: one pass over x instead of two
            factor = rstd * w
        if self.center:  # xc = x - first mean is ours: correct and scale it in place
            if self.fold and b is not None:  # y = (xc - shift) * factor + b: fold shift into the bias
                b = b - shift * factor
            elif _visible(shift * rstd):  # otherwise a pass over xc, only when it changes the result
                xc -= shift
            xc *= factor
            y = xc
        else:
            y = xv * factor
        if w is not None and not self.fold:
            y *= w
        if b is not None:
            y += b
        return y.reshape(x.shape).astype(x.dtype, copy=False)

    def backward(self, gy):
        saved = self.saved_inputs
        x, w = saved[0], (saved[1] if self.has_weight else None)
        if _State.grad_enabled:
            # create_graph: mean and rstd as differentiable functions of x, so that the gradient
            # computed below can itself be differentiated through the statistics
            mean, rstd = _differentiable_moments(x, self.view, self.axes, self.eps, self.center)
        else:
            # this backward records no graph: the forward's statistics are exact constants here
            mean = constant(self.mean) if self.center else None
            rstd = constant(self.rstd)
        needs = self.needs_input_grad
        want = (needs[0], self.has_weight and needs[1], self.has_bias and needs[-1])
        b_shape = self.input_meta[-1][0] if self.has_bias else None
        inputs = [gy, x] + ([w] if w is not None else []) + ([mean] if self.center else []) + [rstd]
        outs = _NormGrad(self.kind + "Grad", self.view, self.w_view, self.axes, self.center, want, b_shape)(*inputs)
        outs = list(outs) if isinstance(outs, tuple) else [outs]
        gx, gw, gb = (outs.pop(0) if flag else None for flag in want)
        return (gx,) + ((gw,) if self.has_weight else ()) + ((gb,) if self.has_bias else ())


def _differentiable_moments(x: Tensor, view: tuple, axes: tuple, eps: float, center: bool):
    """mean and rstd of ``x`` (seen as ``view``) written with minigrad ops, for higher order."""
    ct = _compute_dtype(x._data.dtype)
    xv = reshape(x if x._data.dtype == ct else x.to(dtypes.from_numpy_dtype(ct)), view)
    if center:
        mean = _mean(xv, axes, keepdim=True)
        var = xv.var(axes, correction=0, keepdim=True)
    else:
        mean = None
        var = _mean(xv * xv, axes, keepdim=True)
    return mean, (var + eps).rsqrt()


class _NormGrad(Op):
    """The fused backward of ``_Norm``: (gy, x, [weight], [mean], rstd) -> the wanted of (gx, gw, gb).

    ``mean`` and ``rstd`` are inputs, so this op's own backward needs only the partial derivatives
    of the closed form; their dependence on x reaches x through the ops that computed them.
    """

    __slots__ = ("kind",)

    def __init__(self, kind: str, view: tuple, w_view: tuple, axes: tuple, center: bool, want: tuple, b_shape):
        self.kind = kind
        self.view, self.w_view, self.axes, self.center = view, w_view, axes, center
        self.want, self.b_shape = want, b_shape
        self.w_axes = tuple(i for i, s in enumerate(w_view) if s == 1)  # where weight is broadcast
        self.n = max(math.prod(view[i] for i in axes), 1)

    def name(self) -> str:
        return self.kind

    def _unpack(self, args):
        gy, x, *rest = args
        w = rest.pop(0) if len(rest) == 2 + self.center else None
        mean = rest.pop(0) if self.center else None
        return gy, x, w, mean, rest[0]

    def forward(self, *args):
        self.save_inputs(*range(len(args)))
        gy, x, w, mean, rstd = self._unpack(args)
        ct = rstd.dtype
        gy = gy.reshape(self.view).astype(ct, copy=False)
        xv = x.reshape(self.view).astype(ct, copy=False)
        xc = xv - mean if self.center else xv  # ours to overwrite only when centred
        wv = w.reshape(self.w_view).astype(ct, copy=False) if w is not None else None
        if wv is None or _per_channel(self.view, self.w_view, self.axes):
            gx, gw, gb = self._per_channel(gy, xc, wv, rstd)
        else:
            gx, gw, gb = self._per_element(gy, xc, wv, rstd)
        outs = []
        if gx is not None:
            outs.append(gx.reshape(x.shape).astype(x.dtype, copy=False))
        if gw is not None:
            outs.append(gw.reshape(w.shape))
        if gb is not None:
            outs.append(gb.reshape(self.b_shape))
        return tuple(outs) if len(outs) > 1 else outs[0]

    def _per_channel(self, gy, xc, w, rstd):
        """Weight constant over the statistics axes within each group (batch, instance, group norm,
        or no weight): every factor of gx = gy * w * rstd - xc * rstd^2 * B - rstd * A is a small
        array, so gx takes four passes over the data. The sums over the statistics axes that are
        also weight axes (P, Q) serve both the parameter gradients and A, B."""
        xp = get_array_module(xc)
        want_x, want_w, want_b = self.want
        axes = self.axes
        shared = axes if w is None else tuple(a for a in axes if a in self.w_axes)
        within = tuple(a for a in axes if a not in shared)  # statistics axes along which w varies
        across = tuple(a for a in self.w_axes if a not in axes)  # weight axes the statistics vary on
        p = _dot_axes(xp, gy, xc, shared) if want_x or want_w else None
        q = _sum_axes(xp, gy, shared) if (want_x and self.center) or (want_b and w is not None) else None
        gw = _sum_axes(xp, p * rstd, across) if want_w else None
        gb = None
        if want_b:
            gb = _sum_axes(xp, q, across) if w is not None else _sum_axes(xp, gy, self.w_axes)
        gx = None
        if want_x:
            inv_n = 1.0 / self.n
            b_term = _sum_axes(xp, p * w if w is not None else p, within) * (rstd * inv_n)
            gx = gy * (rstd * w if w is not None else rstd)
            scaled = xc if self.center else xc.copy()  # xc is the input itself when not centred
            scaled *= rstd * rstd * b_term
            gx -= scaled
            if self.center:
                gx -= _sum_axes(xp, q * w if w is not None else q, within) * (rstd * inv_n)
        return gx, gw, gb

    def _per_element(self, gy, xc, w, rstd):
        """Weight varying along the statistics axes (layer and RMS norm): the closed form as written."""
        xp = get_array_module(xc)
        want_x, want_w, want_b = self.want
        x_hat = xc if self.center else xc.copy()
        x_hat *= rstd
        gw = _dot_axes(xp, gy, x_hat, self.w_axes) if want_w else None
        gb = _sum_axes(xp, gy, self.w_axes) if want_b else None
        gx = None
        if want_x:
            inv_n = 1.0 / self.n
            gx = gy * w
            b_term = _dot_axes(xp, gx, x_hat, self.axes) * inv_n
            if self.center:
                gx -= _sum_axes(xp, gx, self.axes) * inv_n
            x_hat *= b_term
            gx -= x_hat
            gx *= rstd
        return gx, gw, gb

    def backward(self, *grads):
        """Partial derivatives of (gx, gw, gb) given their cotangents (u, v, vb).

        With ur = u * rstd, du = mean(ur * x_hat), inner = g - mean(g) - x_hat * mean(g * x_hat):
            d g     = ur - mean(ur) - x_hat * du
            d x_hat = -(ur * mean(g * x_hat) + du * g) + v * gy
            d rstd  = sum(u * inner) + sum(d_x_hat * (x - mean)),   d x = d_x_hat * rstd,
            d mean  = -sum(d x),  d gy = d g * weight + v * x_hat + vb,  d weight = sum(d g * gy)
        """
        gy, x, w, mean, rstd = self._unpack(self.saved_inputs)
        want_x, want_w, want_b = self.want
        grads = list(grads)
        u = reshape(grads.pop(0), self.view) if want_x else None
        v = reshape(grads.pop(0), self.w_view) if want_w else None
        vb = reshape(grads.pop(0), self.w_view) if want_b else None
        axes, inv_n = self.axes, 1.0 / self.n

        def avg(t):
            return _sum(t, axes, keepdim=True) * inv_n

        gyv, xv = reshape(gy, self.view), reshape(x, self.view)
        wv = reshape(w, self.w_view) if w is not None else None
        xc = xv - mean if self.center else xv
        x_hat = xc * rstd
        g = gyv * wv if wv is not None else gyv
        d_g = d_xh = d_rstd = None
        d_gy = vb.expand(self.view) if want_b else None
        if want_x:
            ur = u * rstd
            du = avg(ur * x_hat)
            b_term = avg(g * x_hat)
            d_g = ur - x_hat * du
            inner = g - x_hat * b_term
            if self.center:
                d_g = d_g - avg(ur)
                inner = inner - avg(g)
            d_xh = -(ur * b_term + du * g)
            d_rstd = _sum(u * inner, axes, keepdim=True)
            d_gy_g = d_g * wv if wv is not None else d_g
            d_gy = d_gy_g if d_gy is None else d_gy + d_gy_g
        if want_w:
            d_xh = v * gyv if d_xh is None else d_xh + v * gyv
            d_gy = v * x_hat if d_gy is None else d_gy + v * x_hat
        d_x = d_mean = d_w = None
        if d_xh is not None:
            d_x = d_xh * rstd
            from_x_hat = _sum(d_xh * xc, axes, keepdim=True)
            d_rstd = from_x_hat if d_rstd is None else d_rstd + from_x_hat
            d_mean = -_sum(d_x, axes, keepdim=True) if self.center else None
            d_x = reshape(d_x, x.shape)
        if w is not None and d_g is not None and self.needs_input_grad[2]:
            d_w = reshape(_sum(d_g * gyv, self.w_axes, keepdim=True), w.shape)
        out = [reshape(d_gy, gy.shape), d_x]
        if w is not None:
            out.append(d_w)
        if self.center:
            out.append(d_mean)
        out.append(d_rstd)
        return tuple(out)


# ----------------------------------------------------------------------------------------------
# Public functions
# ----------------------------------------------------------------------------------------------
def _shape_of(normalized_shape, fn: str) -> tuple:
    if isinstance(normalized_shape, (int, np.integer)):
        return (int(normalized_shape),)
    try:
        shape = tuple(int(s) for s in normalized_shape)
    except TypeError:
        raise TypeError(f"{fn}: normalized_shape must be an int or a sequence of ints, "
                        f"got {type(normalized_shape).__name__}") from None
    if not shape:
        raise RuntimeError(f"{fn}: expected normalized_shape to be at least 1-dimensional, got {shape}")
    return shape


def _check_input(fn: str, input, min_dims: int, layout: str) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}: expected input to be a Tensor, got {type(input).__name__}")
    if not dtypes.is_floating(input._data.dtype):
        raise TypeError(f"{fn}: expected a floating-point input, got {input.dtype}")
    if input.ndim < min_dims:
        raise ValueError(f"{fn}: expected input with at least {min_dims} dims {layout}, got shape {tuple(input.shape)}")


def _check_param(fn: str, name: str, param, shape: tuple, input: Tensor, what: str, any_float: bool = False) -> None:
    """A weight/bias/running statistic must have ``shape``, input's device and a usable dtype."""
    if param is None:
        return
    if not isinstance(param, Tensor):
        raise TypeError(f"{fn}: expected {name} to be a Tensor or None, got {type(param).__name__}")
    if tuple(param.shape) != shape:
        raise RuntimeError(f"{fn}: expected {name} of shape {shape} ({what}), got {name} of shape "
                           f"{tuple(param.shape)} for input of shape {tuple(input.shape)}")
    check_same_device(fn, input, param)
    own, theirs = input._data.dtype, param._data.dtype
    if not dtypes.is_floating(theirs):
        raise TypeError(f"{fn}: expected a floating-point {name}, got {param.dtype}")
    # as torch: parameters of the input's dtype, or float32 ones with a float16/bfloat16 input
    if not any_float and theirs != own and not (own.itemsize < 4 and theirs == np.float32):
        raise RuntimeError(f"{fn}: mixed dtypes: input is {input.dtype} but {name} is {param.dtype}; "
                           f"expected {name} of dtype {input.dtype} (or float32 for a float16/bfloat16 input)")


def _apply(kind, input, weight, bias, view, w_view, axes, eps, center):
    """The normalized tensor, and the batch statistics (mean, biased var) as arrays."""
    op = _Norm(kind, view, w_view, axes, float(eps), center, weight is not None, bias is not None)
    y = op(input, *[p for p in (weight, bias) if p is not None])
    stats = op.mean, op.var
    del op.var  # the node keeps only what backward needs: x, weight, mean and rstd
    return y, stats


def _update_running(running: Tensor | None, value, momentum: float, fn: str) -> None:
    """running = (1 - momentum) * running + momentum * value, in place (bumps its version)."""
    if running is None:
        return
    xp = xp_of(running)
    value = xp.asarray(value, dtype=running._data.dtype).reshape(running.shape)
    overwrite(running, running._data * (1.0 - momentum) + value * momentum, fn)


class _ChannelAffine(Op):
    """y = x * scale + shift with one scale and shift per channel (dim 1): normalization with
    given statistics, in one pass over x. Backward in minigrad ops, so differentiable again."""

    def forward(self, x, scale, shift):
        self.save_inputs(0, 1)
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        y = x * scale.reshape(shape)
        y += shift.reshape(shape)
        return y.astype(x.dtype, copy=False)

    def backward(self, gy):
        x, scale = self.saved_inputs
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        others = (0,) + tuple(range(2, x.ndim))
        gx = gy * reshape(scale, shape) if self.needs_input_grad[0] else None
        gscale = _sum(gy * x, others) if self.needs_input_grad[1] else None
        gshift = _sum(gy, others) if self.needs_input_grad[2] else None
        return gx, gscale, gshift


def _normalize_with_stats(input, mean, var, weight, bias, eps):
    """(x - mean) / sqrt(var + eps) * weight + bias with given per-channel statistics (no batch stats)."""
    xp = xp_of(input)
    ct = _compute_dtype(input._data.dtype)
    rstd = 1.0 / xp.sqrt(var._data.astype(ct) + float(eps))
    scale = constant(rstd)
    shift = constant(-mean._data.astype(ct) * rstd)
    if weight is not None:
        scale = weight * scale
        shift = shift * weight
    if bias is not None:
        shift = shift + bias
    return _ChannelAffine()(input, scale, shift)


def _check_momentum(fn: str, momentum) -> float:
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float, np.floating, np.integer)):
        raise TypeError(f"{fn}: momentum must be a float, got {type(momentum).__name__} "
                        "(the BatchNorm modules take momentum=None for a cumulative average)")
    return float(momentum)


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:
    """Batch normalization (Ioffe & Szegedy, 2015) of input (N, C, *) over N and the spatial dims.

    y = (x - mean) / sqrt(var + eps) * weight + bias per channel. With ``training`` the batch's
    statistics are used (biased variance) and, where given, ``running_mean``/``running_var`` are
    updated in place: running = (1 - momentum) * running + momentum * batch statistic, with the
    unbiased variance. Without ``training`` the running statistics are used.
    """
    fn = "batch_norm"
    _check_input(fn, input, 2, "(N, C, *)")
    momentum = _check_momentum(fn, momentum)
    n, c = input.shape[0], input.shape[1]
    spatial = math.prod(input.shape[2:])
    what = f"one value per channel: the input's dim 1 has {c} channels"
    for name, param in (("weight", weight), ("bias", bias)):
        _check_param(fn, name, param, (c,), input, what)
    for name, param in (("running_mean", running_mean), ("running_var", running_var)):
        _check_param(fn, name, param, (c,), input, what, any_float=True)
    if not training:
        if running_mean is None or running_var is None:
            raise RuntimeError(f"{fn}: running_mean and running_var must be defined in evaluation mode "
                               "(training=False)")
        return _normalize_with_stats(input, running_mean, running_var, weight, bias, eps)
    count = n * spatial
    if count <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {tuple(input.shape)}")
    y, (mean, var) = _apply("BatchNorm", input, weight, bias, (n, c, spatial), (1, c, 1), (0, 2), eps, True)
    _update_running(running_mean, mean, momentum, fn)
    _update_running(running_var, var * (count / (count - 1)), momentum, fn)
    return y


def instance_norm(input: Tensor, running_mean: Tensor | None = None, running_var: Tensor | None = None,
                  weight: Tensor | None = None, bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Instance normalization (Ulyanov et al., 2016): each (sample, channel) of input (N, C, *)
    normalized over its spatial dims, then weight and bias per channel.

    With ``use_input_stats`` and running statistics given, they are updated in place with the
    batch average of the per-instance mean and unbiased variance; without it they are used instead.
    """
    fn = "instance_norm"
    _check_input(fn, input, 2, "(N, C, *)")
    momentum = _check_momentum(fn, momentum)
    n, c = input.shape[0], input.shape[1]
    spatial = math.prod(input.shape[2:])
    what = f"one value per channel: the input's dim 1 has {c} channels"
    for name, param in (("weight", weight), ("bias", bias)):
        _check_param(fn, name, param, (c,), input, what)
    for name, param in (("running_mean", running_mean), ("running_var", running_var)):
        _check_param(fn, name, param, (c,), input, what, any_float=True)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError(f"{fn}: running_mean and running_var must be defined when use_input_stats=False")
        return _normalize_with_stats(input, running_mean, running_var, weight, bias, eps)
    if spatial <= 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size {tuple(input.shape)}")
    y, (mean, var) = _apply("InstanceNorm", input, weight, bias, (n, c, spatial), (1, c, 1), (2,), eps, True)
    _update_running(running_mean, mean.mean(axis=0), momentum, fn)
    _update_running(running_var, (var * (spatial / (spatial - 1))).mean(axis=0), momentum, fn)
    return y


def layer_norm(input: Tensor, normalized_shape: int | Sequence[int], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Layer normalization (Ba et al., 2016) over the trailing dims ``normalized_shape``.

    y = (x - mean) / sqrt(var + eps) * weight + bias, with mean and (biased) var over those dims;
    weight and bias have shape ``normalized_shape``.
    """
    fn = "layer_norm"
    shape = _shape_of(normalized_shape, fn)
    _check_input(fn, input, 0, "")
    k = len(shape)
    if input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise RuntimeError(f"{fn}: given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, shape))}], but got input of shape {tuple(input.shape)}")
    for name, param in (("weight", weight), ("bias", bias)):
        _check_param(fn, name, param, shape, input, "normalized_shape")
    d = math.prod(shape)
    m = math.prod(input.shape[: input.ndim - k])
    return _apply("LayerNorm", input, weight, bias, (m, d), (1, d), (1,), eps, True)[0]


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Group normalization (Wu & He, 2018): the C channels of input (N, C, *) split into
    ``num_groups`` groups, each (sample, group) normalized over its channels and spatial dims,
    then weight and bias per channel."""
    fn = "group_norm"
    _check_input(fn, input, 2, "(N, C, *)")
    n, c = input.shape[0], input.shape[1]
    if isinstance(num_groups, bool) or not isinstance(num_groups, (int, np.integer)) or num_groups <= 0:
        raise ValueError(f"{fn}: num_groups must be a positive int, got {num_groups!r}")
    if c % num_groups:
        raise RuntimeError(f"{fn}: expected the number of channels in input to be divisible by num_groups, "
                           f"but got input of shape {tuple(input.shape)} ({c} channels) and num_groups={num_groups}")
    what = f"one value per channel: the input's dim 1 has {c} channels"
    for name, param in (("weight", weight), ("bias", bias)):
        _check_param(fn, name, param, (c,), input, what)
    g = int(num_groups)
    spatial = math.prod(input.shape[2:])
    if n * (c // g) * spatial == 1:  # torch's condition
        raise ValueError(f"Expected more than 1 value per group when training, got input of shape "
                         f"{tuple(input.shape)} with num_groups={g}")
    return _apply("GroupNorm", input, weight, bias, (n, g, c // g, spatial), (1, g, c // g, 1), (2, 3), eps, True)[0]


def rms_norm(input: Tensor, normalized_shape: int | Sequence[int], weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """RMS normalization (Zhang & Sennrich, 2019) over the trailing dims ``normalized_shape``:
    y = x / sqrt(mean(x^2) + eps) * weight. ``eps=None`` is the machine epsilon of the computation
    dtype (float32 for float16/bfloat16 inputs), as torch."""
    fn = "rms_norm"
    shape = _shape_of(normalized_shape, fn)
    _check_input(fn, input, 0, "")
    k = len(shape)
    if input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise RuntimeError(f"{fn}: given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, shape))}], but got input of shape {tuple(input.shape)}")
    _check_param(fn, "weight", weight, shape, input, "normalized_shape", any_float=True)
    if eps is None:
        eps = float(np.finfo(_compute_dtype(input._data.dtype)).eps)
    d = math.prod(shape)
    m = math.prod(input.shape[: input.ndim - k])
    return _apply("RMSNorm", input, weight, None, (m, d), (1, d), (1,), eps, False)[0]


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> Tensor:
    """Local response normalization across channels (Krizhevsky et al., 2012) of input (N, C, *):

        y_c = x_c / (k + alpha / size * sum of x_c'^2 over the window c' in [c - size//2, c + (size-1)//2]) ** beta

    channels outside [0, C) count as zeros (the sum is always divided by ``size``), as torch's.
    """
    fn = "local_response_norm"
    _check_input(fn, input, 3, "(N, C, *)")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size <= 0:
        raise ValueError(f"{fn}: size must be a positive int, got {size!r}")
    from .shape import cat

    c = input.shape[1]
    squares = input * input
    before, after = size // 2, (size - 1) // 2
    zeros = constant(xp_of(input).zeros((input.shape[0], max(before, after)) + input.shape[2:], input._data.dtype))
    padded = cat([zeros[:, :before], squares, zeros[:, :after]], 1)
    # a loop over the window (a handful of shifted slices), not over elements
    window = padded[:, 0:c]
    for shift in range(1, size):
        window = window + padded[:, shift:shift + c]
    return input / (window * (alpha / size) + k) ** beta
