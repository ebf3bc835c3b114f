"""Loss functions, with torch's arguments, defaults and reductions.

The hot losses are single fused ops with the reduction folded in:

* ``cross_entropy``: log-softmax and the negative log-likelihood in one pass over the logits,
  ``loss_i = -sum_c w_c q_ic log p_ic`` with ``q`` the target distribution (one-hot, smoothed, or
  given), and the gradient ``(softmax - target distribution) * weights / normaliser`` without ever
  forming ``log p`` twice. Exact at logits of +-1e4 and in float16 (computed in float32).
* ``nll_loss``, ``binary_cross_entropy``, ``binary_cross_entropy_with_logits`` and the
  elementwise regression losses (``mse_loss``, ``l1_loss``, ``smooth_l1_loss``, ``huber_loss``).

Their backward runs fused NumPy/CuPy code when the gradient itself is not being recorded (the
usual ``loss.backward()``). With ``create_graph=True`` the same gradient formula is built from
minigrad ops instead, so second and higher derivatives are exact: the fused path never needs a
backward of its own, and no constant that depends on the inputs ever enters a recorded graph.

The remaining losses (``kl_div``, ``cosine_embedding_loss``, ``triplet_margin_loss``,
``margin_ranking_loss``, ``soft_margin_loss``, ``hinge_embedding_loss``, ``poisson_nll_loss``,
``gaussian_nll_loss``, ``multilabel_soft_margin_loss``) are short compositions of minigrad ops and
differentiate to any order.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .. import dtypes
from ..autograd.grad_mode import is_grad_enabled
from ..autograd.op import Op
from ..backend import get_array_module
from ..tensor import Tensor
from ._common import binary_operands, broadcast_shapes, check_same_device, constant
from .math import clamp, log1p, relu, sigmoid, sign, where
from .shape import reshape
from .softmax import compute_dtype, log_softmax, softmax

_REDUCTIONS = ("none", "mean", "sum")


# ----------------------------------------------------------------------------------------------
# Shared pieces
# ----------------------------------------------------------------------------------------------
def legacy_reduction(size_average: bool | None, reduce: bool | None) -> str:
    """torch's deprecated ``size_average``/``reduce`` flags as a ``reduction`` string."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _check_reduction(name: str, reduction: str, allowed=_REDUCTIONS) -> None:
    if reduction not in allowed:
        shown = ", ".join(repr(r) for r in allowed)
        raise ValueError(f"{name}: {reduction!r} is not a valid value for reduction (expected one of {shown})")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _reduce_array(xp, loss, reduction: str):
    if reduction == "mean":
        return loss.mean() if loss.size else xp.asarray(math.nan, dtype=loss.dtype)
    if reduction == "sum":
        return loss.sum()
    return loss


def _upcast(a):
    ct = compute_dtype(a.dtype)
    return a if ct == a.dtype else a.astype(ct)


def _check_tensor(name: str, what: str, value) -> None:
    if not isinstance(value, Tensor):
        raise TypeError(f"{name}: argument '{what}' must be a Tensor, not {type(value).__name__}")


def _check_float(name: str, what: str, t: Tensor) -> None:
    if not dtypes.is_floating(t._data.dtype):
        raise TypeError(f"{name}: expected a floating-point {what}, got {t.dtype}")


def _grad_scale(gy: Tensor, reduction: str, n: int):
    """The upstream gradient as a factor for each loss element (a Tensor while recording, else an array)."""
    if is_grad_enabled():
        return gy * (1.0 / n if n else math.nan) if reduction == "mean" else gy
    g = gy._data
    return g * (1.0 / n if n else math.nan) if reduction == "mean" else g


def _weight_array(name: str, weight, like: Tensor, shape=None):
    """A constant weight as an array in the compute dtype of ``like`` (no gradient, as torch)."""
    if weight is None:
        return None
    _check_tensor(name, "weight", weight)
    check_same_device(name, like, weight)
    if weight.requires_grad and is_grad_enabled():
        raise RuntimeError(f"{name}: the derivative for 'weight' is not implemented (as in torch); "
                           f"pass weight.detach()")
    if shape is not None:
        try:
            fits = np.broadcast_shapes(tuple(weight.shape), tuple(shape)) == tuple(shape)
        except ValueError:
            fits = False
        if not fits:
            raise RuntimeError(f"{name}: weight of shape {tuple(weight.shape)} does not broadcast to the "
                               f"input's shape {tuple(shape)}")
    return weight._data.astype(compute_dtype(like._data.dtype), copy=False)


# ----------------------------------------------------------------------------------------------
# cross_entropy and nll_loss (class dim 1 of (N, C) or (N, C, R); R = d1 * d2 * ...)
# ----------------------------------------------------------------------------------------------
def _rows(xp, t):
    """The index tuple that picks ``x[n, t[n]]`` (2-d) or ``x[n, t[n, r], r]`` (3-d) for all n, r."""
    n = xp.arange(t.shape[0])
    if t.ndim == 1:
        return (n, t)
    return (n[:, None], t, xp.arange(t.shape[1])[None, :])


class _ClassTargets:
    """Validated class-index targets: safe indices, the mask of counted ones (None: all count), and
    each target's class weight w_t (None: all 1); ``rows`` picks x[n, t_n] (see ``_rows``)."""

    def __init__(self, target, valid, weight, ct):
        xp = get_array_module(target)
        self.valid, self.weight = valid, weight
        self.index = target if valid is None else xp.where(valid, target, 0)
        self.rows = _rows(xp, self.index)
        if weight is None:
            self.w_t = valid.astype(ct) if valid is not None else None
        else:
            self.w_t = weight[self.index]
            if valid is not None:
                self.w_t *= valid

    def weights(self, xp, ct):
        """w_t with ones where there are no weights and no ignored targets."""
        if self.w_t is None:
            return xp.ones(self.index.shape, dtype=ct)
        return self.w_t

    def total_weight(self) -> float:
        """torch's normaliser for 'mean': the summed weight of the counted targets."""
        if self.w_t is None:
            return float(self.index.size)
        return float(self.w_t.sum(dtype=np.float64))


class CrossEntropy(Op):
    """Fused log-softmax + negative log-likelihood over dim 1, with class-index targets.

    loss_n = (1 - eps) w_t (lse_n - z_nt) + eps / C * sum_c w_c (lse_n - z_nc)   (0 where ignored),
    z = x - max, lse = log sum exp z. Gradient: g_n (a_n softmax(x)_n - b_n), with
    a_n = (1 - eps) w_t + eps / C * sum(w) and b_n = (1 - eps) w_t onehot(t_n) + eps / C * w.
    """

    def __init__(self, targets: _ClassTargets, reduction, smoothing):
        self.targets, self.reduction, self.smoothing = targets, reduction, smoothing

    def forward(self, x):
        xp = get_array_module(x)
        tg, eps, w = self.targets, self.smoothing, self.targets.weight
        C = x.shape[1]
        z, e, s = _shifted_exp(xp, _upcast(x))
        lse = xp.log(s)
        loss = lse - z[tg.rows]
        if tg.w_t is not None:
            loss *= tg.w_t
        if eps:
            loss *= 1.0 - eps
            wb = None if w is None else w.reshape((1, C) + (1,) * (x.ndim - 2))
            zw = (z if wb is None else z * wb).sum(axis=1)
            smooth = lse * (C if w is None else float(w.sum(dtype=np.float64))) - zw
            if tg.valid is not None:
                smooth *= tg.valid
            loss += smooth * (eps / C)
        self.count = tg.total_weight() if self.reduction == "mean" else 1.0
        if any(self.needs_input_grad):
            self.save_inputs(0)
            e /= s[:, None]
            self.p = e
        out = _reduce_sum(loss, self.reduction, self.count)
        return out.astype(x.dtype, copy=False)

    def backward(self, gy):
        xp = get_array_module(gy._data)
        tg, eps, w = self.targets, self.smoothing, self.targets.weight
        C = self.p.shape[1]
        ct = self.p.dtype
        if tg.w_t is None and not eps and not is_grad_enabled():
            # the common case, every target counted with weight 1: gx = g (p - onehot(t))
            g = _per_sample_array(gy._data, self.reduction, self.count, ct)
            gx = self.p * _over_classes(xp, g)
            gx[tg.rows] -= g
            return constant(gx)
        w_t = tg.weights(xp, ct)
        wsum = C if w is None else float(w.sum(dtype=np.float64))
        a = w_t * (1.0 - eps)
        if eps:
            a += (eps / C) * wsum * (1 if tg.valid is None else tg.valid)
        if is_grad_enabled():
            (x,) = self.saved_inputs
            b = xp.zeros(self.p.shape, dtype=ct)
            b[tg.rows] = w_t * (1.0 - eps)
            if eps:
                b += _smoothing_term(xp, w, tg, eps, C, self.p.ndim, ct)
            g = _per_sample_grad(gy, self.reduction, self.count)
            return (softmax(x, 1) * constant(a[:, None]) - constant(b)) * g
        g = _per_sample_array(gy._data, self.reduction, self.count, ct)
        gx = self.p * (a * g)[:, None]
        gx[tg.rows] -= w_t * ((1.0 - eps) * g)
        if eps:
            gx -= _smoothing_term(xp, w, tg, eps, C, gx.ndim, ct) * _over_classes(xp, g)
        return constant(gx)


def _shifted_exp(xp, x):
    """z = x - m, e = exp(z) and s = sum_c e over dim 1, with a shift m that keeps exp in range.

    The shift only has to make every row's sum a normal float with room to spare (then lse = m +
    log s and p = e / s are exact to rounding; terms below the sum's precision may underflow
    harmlessly). One global max does that whenever the rows' maxima lie within ~40 of each other,
    and is several times cheaper than NumPy's per-row max over short rows; otherwise (logits of
    +-1e4, say) the per-row max is used, as for softmax.
    """
    if x.size and x.ndim == 2:
        z = x - x.max()
        e = xp.exp(z)
        s = _class_sum(xp, e)
        if bool(s.min() >= xp.finfo(x.dtype).tiny * 2.0**64):  # False for nan too
            return z, e, s
    z = x - x.max(axis=1, keepdims=True) if x.size else x.copy()
    e = xp.exp(z)
    return z, e, _class_sum(xp, e)


def _class_sum(xp, a):
    """Sum over dim 1. For (N, C) a matrix-vector product: BLAS beats NumPy's per-row reduction of short rows."""
    if a.ndim == 2 and a.flags.c_contiguous:
        return a @ xp.ones(a.shape[1], dtype=a.dtype)
    return a.sum(axis=1)


def _over_classes(xp, g):
    """A per-sample array shaped to broadcast over dim 1 (a 0-d one broadcasts already)."""
    return g[:, None] if g.ndim else g


def _smoothing_term(xp, w, tg, eps, C, ndim, ct):
    """eps / C * w_c for each counted sample (broadcasts against (N, C, ...))."""
    wb = xp.full((1, C) + (1,) * (ndim - 2), eps / C, dtype=ct) if w is None else \
        (w * (eps / C)).reshape((1, C) + (1,) * (ndim - 2))
    if tg.valid is not None:
        wb = wb * tg.valid[:, None]
    return wb


def _reduce_sum(loss, reduction, count):
    """'none' keeps the per-sample losses; 'sum' adds them; 'mean' divides the sum by ``count``."""
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    return total * (1.0 / count) if count else total * math.nan


def _per_sample_array(g, reduction, count, ct):
    g = g.astype(ct, copy=False)
    if reduction == "mean":
        return g * (1.0 / count if count else math.nan)
    return g


def _per_sample_grad(gy: Tensor, reduction, count):
    """The upstream gradient of each sample's loss, shaped to broadcast over dim 1 (a Tensor)."""
    if reduction == "none":
        return gy.unsqueeze(1)
    if reduction == "mean":
        return gy * (1.0 / count if count else math.nan)
    return gy


class CrossEntropyProbs(Op):
    """Fused cross-entropy with a target distribution q over dim 1 (probabilities, not indices).

    loss_n = -sum_c w_c q'_nc log p_nc with q' = (1 - eps) q + eps / C; 'mean' divides by the number
    of samples N * d1 * ... (torch's rule for probability targets, whatever the weights).
    Gradients: dx = g (p sum_c w_c q'_c - w q'), dq = -(1 - eps) g w log p.
    """

    def __init__(self, weight, reduction, smoothing):
        self.weight, self.reduction, self.smoothing = weight, reduction, smoothing

    def _wq(self, q):
        eps, w = self.smoothing, self.weight
        if eps:
            q = q * (1.0 - eps) + eps / q.shape[1]
        if w is not None:
            q = q * self._wb(w, q.ndim)
        return q

    @staticmethod
    def _wb(w, ndim):
        return w.reshape((1, -1) + (1,) * (ndim - 2))

    def forward(self, x, q):
        xp = get_array_module(x)
        qc = _upcast(q)
        z, _, s = _shifted_exp(xp, _upcast(x))
        z -= xp.log(s)[:, None]  # log p
        loss = -(self._wq(qc) * z).sum(axis=1)
        self.count = x.size // x.shape[1] if x.shape[1] else 0
        if any(self.needs_input_grad):
            self.save_inputs(0, 1)
            self.logp = z
        return _reduce_sum(loss, self.reduction, self.count).astype(x.dtype, copy=False)

    def backward(self, gy):
        xp = get_array_module(gy._data)
        eps, w = self.smoothing, self.weight
        need_x, need_q = self.needs_input_grad
        gx = gq = None
        if is_grad_enabled():
            x, q = self.saved_inputs
            g = _per_sample_grad(gy, self.reduction, self.count)
            if need_x:
                q1 = q * (1.0 - eps) + eps / q.shape[1] if eps else q
                wq = q1 * constant(self._wb(w, q.ndim)) if w is not None else q1
                gx = (softmax(x, 1) * wq.sum(1, keepdim=True) - wq) * g
            if need_q:
                scale = -(1.0 - eps) if w is None else constant(self._wb(w, q.ndim) * -(1.0 - eps))
                gq = log_softmax(x, 1) * scale * g
            return gx, gq
        logp = self.logp
        g = _over_classes(xp, _per_sample_array(gy._data, self.reduction, self.count, logp.dtype))
        if need_x:
            wq = self._wq(_upcast(self.saved_inputs[1]._data))
            gx = xp.exp(logp)
            gx *= wq.sum(axis=1, keepdims=True)
            gx -= wq
            gx *= g
            gx = constant(gx)
        if need_q:
            gq = logp * (g * -(1.0 - eps))
            if w is not None:
                gq *= self._wb(w, gq.ndim)
            gq = constant(gq)
        return gx, gq


class NLLLoss(Op):
    """loss_n = -w_t x[n, t_n] (0 where ignored); the gradient is -w_t g at the target positions."""

    def __init__(self, targets: _ClassTargets, reduction):
        self.targets, self.reduction = targets, reduction

    def forward(self, x):
        tg = self.targets
        loss = -_upcast(x[tg.rows])
        if tg.w_t is not None:
            loss *= tg.w_t
        self.count = tg.total_weight() if self.reduction == "mean" else 1.0
        self.x_shape, self.x_dtype = x.shape, x.dtype
        return _reduce_sum(loss, self.reduction, self.count).astype(x.dtype, copy=False)

    def backward(self, gy):
        xp = get_array_module(gy._data)
        tg = self.targets
        ct = compute_dtype(self.x_dtype)
        w_t = tg.weights(xp, ct)
        if is_grad_enabled():
            from .indexing import ScatterAdd

            g = _per_sample_grad(gy, self.reduction, self.count)
            return ScatterAdd(1, tg.index[:, None], self.x_shape)(g * constant(-w_t[:, None]))
        g = _per_sample_array(gy._data, self.reduction, self.count, ct)
        gx = xp.zeros(self.x_shape, dtype=ct)
        gx[tg.rows] = -(w_t * g)
        return constant(gx)


def _class_targets(name: str, input: Tensor, target: Tensor, weight, ignore_index: int) -> _ClassTargets:
    """Check class-index targets against an (N, C, ...) input; raise naming the shapes and bad values."""
    shape, tshape = tuple(input.shape), tuple(target.shape)
    if target._data.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected class indices of an integer dtype (int64), got a {target.dtype} target "
                        f"of shape {tshape}")
    expected = _target_shape(shape)
    if tshape != expected:
        if input.ndim == 2 and target.ndim == 1:
            raise ValueError(f"{name}: expected input batch_size ({shape[0]}) to match target batch_size "
                             f"({tshape[0]}) (input shape {shape}, target shape {tshape})")
        raise RuntimeError(f"{name}: expected target of shape {expected} for input of shape {shape} "
                           f"(N, C, d1, ...), got target shape {tshape}")
    C = shape[0] if input.ndim == 1 else shape[1]
    t = target._data
    t = t.reshape(1) if input.ndim == 1 else (t if t.ndim <= 2 else t.reshape(t.shape[0], -1))
    valid = None  # None: every target counts (the fast path, no masking)
    if t.size:
        lo, hi = int(t.min()), int(t.max())
        if lo < 0 or hi >= C or 0 <= ignore_index < C:
            valid = t != ignore_index
            bad = ((t < 0) | (t >= C)) & valid
            if bool(bad.any()):
                value = int(t[bad].ravel()[0])
                raise IndexError(f"{name}: target {value} is out of bounds for {C} classes (valid targets are "
                                 f"0..{C - 1}, or ignore_index={ignore_index})")
            if bool(valid.all()):
                valid = None
    w = _weight_array(name, weight, input)
    if w is not None and tuple(w.shape) != (C,):
        raise RuntimeError(f"{name}: weight tensor should be defined either for all {C} classes or no classes "
                           f"but got weight tensor of shape {tuple(weight.shape)}")
    return _ClassTargets(t, valid, w, compute_dtype(input._data.dtype))


def _target_shape(input_shape: tuple) -> tuple:
    """The shape of the per-sample losses (and of class-index targets): input's shape without dim 1."""
    return () if len(input_shape) == 1 else (input_shape[0],) + tuple(input_shape[2:])


def _as_batched(input: Tensor) -> Tensor:
    """(C,) -> (1, C); (N, C, d1, d2, ...) -> (N, C, d1*d2*...); (N, C) as is."""
    if input.ndim == 1:
        return reshape(input, (1, input.shape[0]))
    if input.ndim > 3:
        return reshape(input, input.shape[:2] + (-1,))
    return input


def _unbatch(loss: Tensor, target_shape: tuple, reduction: str) -> Tensor:
    if reduction != "none" or tuple(loss.shape) == target_shape:
        return loss
    return reshape(loss, target_shape)


def _start(name: str, input, target, reduction: str, size_average=None, reduce=None) -> str:
    """Common argument checks; returns the effective reduction."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    _check_reduction(name, reduction)
    _check_tensor(name, "input", input)
    _check_tensor(name, "target", target)
    check_same_device(name, input, target)
    return reduction


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                  ignore_index: int = -100, reduce=None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy between logits ``input`` and ``target``, fused with the log-softmax over dim 1.

    Shapes: input (C,), (N, C) or (N, C, d1, ...); target either class indices (integer dtype) of
    shape (), (N,) or (N, d1, ...), or class probabilities of the input's shape (float dtype).

    With class indices, loss_n = -(1 - eps) w_{t_n} log p_{n,t_n} - eps / C sum_c w_c log p_{n,c},
    0 where t_n == ignore_index; 'mean' divides by sum_n w_{t_n} over counted targets (torch's rule).
    With probabilities, loss_n = -sum_c w_c q'_{n,c} log p_{n,c}, q' = (1 - eps) q + eps / C, and
    'mean' divides by the number of samples N * d1 * ... . ``label_smoothing`` is eps (Szegedy et
    al., 2016, "Rethinking the Inception Architecture").
    """
    name = "cross_entropy"
    reduction = _start(name, input, target, reduction, size_average, reduce)
    _check_float(name, "input", input)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{name}: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    if input.ndim == 0:
        raise RuntimeError(f"{name}: expected input of shape (C,), (N, C) or (N, C, d1, ...), got a 0-d tensor")
    out_shape = _target_shape(tuple(input.shape))
    if dtypes.is_floating(target._data.dtype):
        if tuple(target.shape) != tuple(input.shape):
            raise RuntimeError(
                f"{name}: a floating-point target holds class probabilities and must have the input's shape "
                f"{tuple(input.shape)}, got {tuple(target.shape)}; for class indices of shape {out_shape} "
                f"pass an integer (int64) target")
        if ignore_index >= 0:
            raise RuntimeError(f"{name}: ignore_index is not supported for floating-point (probability) targets")
        x, q = binary_operands(input, target, name)
        w = _weight_array(name, weight, x)
        C = input.shape[0] if input.ndim == 1 else input.shape[1]
        if w is not None and tuple(w.shape) != (C,):
            raise RuntimeError(f"{name}: weight tensor should be defined either for all {C} classes or no classes "
                               f"but got weight tensor of shape {tuple(weight.shape)}")
        loss = CrossEntropyProbs(w, reduction, float(label_smoothing))(_as_batched(x), _as_batched(q))
    else:
        targets = _class_targets(name, input, target, weight, ignore_index)
        loss = CrossEntropy(targets, reduction, float(label_smoothing))(_as_batched(input))
    return _unbatch(loss, out_shape, reduction)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices ``target`` under log-probabilities ``input``.

    Shapes as ``cross_entropy`` with class indices: loss_n = -w_{t_n} input[n, t_n], 0 where
    t_n == ignore_index; 'mean' divides by the summed weight of the counted targets.
    """
    name = "nll_loss"
    reduction = _start(name, input, target, reduction, size_average, reduce)
    _check_float(name, "input", input)
    if input.ndim == 0:
        raise RuntimeError(f"{name}: expected input of shape (C,), (N, C) or (N, C, d1, ...), got a 0-d tensor")
    targets = _class_targets(name, input, target, weight, ignore_index)
    loss = NLLLoss(targets, reduction)(_as_batched(input))
    return _unbatch(loss, _target_shape(tuple(input.shape)), reduction)


# ----------------------------------------------------------------------------------------------
# Elementwise losses of (input, target) with the reduction folded in
# ----------------------------------------------------------------------------------------------
class PointwiseLoss(Op):
    """Base of the fused elementwise losses L(x, t), reduced by 'none' | 'mean' | 'sum'.

    A subclass gives ``loss`` (raw arrays, in the compute dtype), ``grads`` (raw dL/dx and dL/dt,
    for the fused backward) and ``grads_graph`` (the same in minigrad ops, used while the gradient
    itself is recorded so that higher derivatives are exact).
    """

    def __init__(self, reduction):
        self.reduction = reduction

    def forward(self, x, t):
        xp = get_array_module(x)
        self.save_inputs(0, 1)
        xc, tc, scalar = _at_least_1d(_upcast(x), _upcast(t))
        loss = self.loss(xp, xc, tc)
        if scalar:
            loss = loss.reshape(())
        self.n = loss.size
        return _reduce_array(xp, loss, self.reduction).astype(x.dtype, copy=False)

    def backward(self, gy):
        x, t = self.saved_inputs
        need_x, need_t = self.needs_input_grad
        g = _grad_scale(gy, self.reduction, self.n)
        if is_grad_enabled():
            gx, gt = self.grads_graph(x, t, need_x, need_t)
            return (None if gx is None else gx * g), (None if gt is None else gt * g)
        xp = get_array_module(x._data)
        xc, tc, scalar = _at_least_1d(_upcast(x._data), _upcast(t._data))
        gx, gt = self.grads(xp, xc, tc, need_x, need_t)
        if scalar:
            gx = None if gx is None else gx.reshape(())
            gt = None if gt is None else gt.reshape(())
        return (None if gx is None else constant(gx * g)), (None if gt is None else constant(gt * g))


def _at_least_1d(x, t):
    """Two 0-d operands as 1-element arrays (NumPy makes scalars of 0-d results, which in-place ops reject)."""
    if x.ndim == 0 and t.ndim == 0:
        return x.reshape(1), t.reshape(1), True
    return x, t, False


class MSELoss(PointwiseLoss):
    """(x - t)^2;  d/dx = 2 (x - t)."""

    def loss(self, xp, x, t):
        d = x - t
        d *= d
        return d

    def grads(self, xp, x, t, need_x, need_t):
        d = x - t
        d *= 2.0
        return d if need_x else None, -d if need_t else None

    def grads_graph(self, x, t, need_x, need_t):
        d = (x - t) * 2.0
        return d, -d


class L1Loss(PointwiseLoss):
    """|x - t|;  d/dx = sign(x - t) (0 at a tie, as torch)."""

    def loss(self, xp, x, t):
        return xp.abs(x - t)

    def grads(self, xp, x, t, need_x, need_t):
        s = xp.sign(x - t)
        return s if need_x else None, -s if need_t else None

    def grads_graph(self, x, t, need_x, need_t):
        s = sign(x - t)
        return s, -s


class SmoothL1Loss(PointwiseLoss):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = x - t; beta = 0 gives L1)."""

    def __init__(self, reduction, beta):
        super().__init__(reduction)
        self.beta = beta

    def loss(self, xp, x, t):
        d = xp.abs(x - t)
        if self.beta == 0:
            return d
        m = xp.minimum(d, self.beta)  # m (d - m/2) / beta is both branches, without a (slow) where
        d -= 0.5 * m
        d *= m
        d *= 1.0 / self.beta
        return d

    def grads(self, xp, x, t, need_x, need_t):
        d = x - t
        g = xp.sign(d) if self.beta == 0 else xp.clip(d * (1.0 / self.beta), -1.0, 1.0)
        return g if need_x else None, -g if need_t else None

    def grads_graph(self, x, t, need_x, need_t):
        d = x - t
        g = sign(d) if self.beta == 0 else clamp(d * (1.0 / self.beta), -1.0, 1.0)
        return g, -g


class HuberLoss(PointwiseLoss):
    """0.5 d^2 where |d| <= delta, else delta (|d| - 0.5 delta) (= delta * smooth_l1 with beta = delta)."""

    def __init__(self, reduction, delta):
        super().__init__(reduction)
        self.delta = delta

    def loss(self, xp, x, t):
        d = xp.abs(x - t)
        m = xp.minimum(d, self.delta)  # m (d - m/2) is both branches, without a (slow) where
        d -= 0.5 * m
        d *= m
        return d

    def grads(self, xp, x, t, need_x, need_t):
        g = xp.clip(x - t, -self.delta, self.delta)
        return g if need_x else None, -g if need_t else None

    def grads_graph(self, x, t, need_x, need_t):
        g = clamp(x - t, -self.delta, self.delta)
        return g, -g


class BCELoss(PointwiseLoss):
    """-w (t log x + (1 - t) log(1 - x)), each log clamped to >= -100 as torch (so x = 0 or 1 stays finite).

    d/dx = w (x - t) / max(x (1 - x), 1e-12);  d/dt = w (log(1 - x) - log x).
    """

    def __init__(self, reduction, weight):
        super().__init__(reduction)
        self.weight = weight

    def loss(self, xp, x, t):
        with np.errstate(divide="ignore", invalid="ignore"):  # log(0) = -inf is expected here, and clamped
            log_x = xp.maximum(xp.log(x), -100.0)
            log_1mx = xp.maximum(_log1p(xp, -x), -100.0)
        loss = -(log_1mx + t * (log_x - log_1mx))
        return loss if self.weight is None else loss * self.weight

    def grads(self, xp, x, t, need_x, need_t):
        w = 1.0 if self.weight is None else self.weight
        gx = w * (x - t) / xp.maximum(x * (1.0 - x), 1e-12) if need_x else None
        with np.errstate(divide="ignore", invalid="ignore"):  # +-inf at x = 0 or 1, as torch
            gt = w * (_log1p(xp, -x) - xp.log(x)) if need_t else None
        return gx, gt

    def grads_graph(self, x, t, need_x, need_t):
        w = 1.0 if self.weight is None else constant(self.weight)
        gx = w * (x - t) / clamp(x * (1.0 - x), min=1e-12) if need_x else None
        gt = w * (log1p(-x) - x.log()) if need_t else None
        return gx, gt


def _log1p(xp, a):
    """log(1 + a) for a > -1. NumPy's log1p is several times slower than its log (no SIMD loop), so on
    the CPU use Goldberg's identity log1p(a) = log(u) a / (u - 1), u = 1 + a (and a itself where u
    rounds to 1): accurate to a few ulps ("What Every Computer Scientist Should Know About
    Floating-Point Arithmetic", 1991, Theorem 4)."""
    if xp is not np:
        return xp.log1p(a)
    u = a + 1.0
    d = u - 1.0
    out = np.log(u)
    tiny = d == 0
    d[tiny] = 1.0
    out *= a
    out /= d
    out[tiny] = a[tiny]
    return out


def _log1p_exp_neg(x: Tensor) -> Tensor:
    """softplus(-x) = log(1 + exp(-x)) in minigrad ops: no overflow anywhere, exact derivative at 0."""
    pos = clamp(x, min=0.0)
    neg = clamp(x, max=0.0)
    return where(x > 0, log1p((-pos).exp()), log1p(neg.exp()) - x)


class BCEWithLogitsLoss(PointwiseLoss):
    """w [(1 - t) x + l softplus(-x)], l = 1 + (pos_weight - 1) t, softplus(-x) = log1p(exp(-|x|)) + max(-x, 0).

    d/dx = w [(1 - t) - l sigmoid(-x)] (= w (sigmoid(x) - t) without pos_weight);
    d/dt = w [-x + (pos_weight - 1) softplus(-x)].
    """

    def __init__(self, reduction, weight, pos_weight):
        super().__init__(reduction)
        self.weight, self.pos_weight = weight, pos_weight
        self.e = None

    def _exp_neg_abs(self, xp, x):
        """exp(-|x|) in (0, 1]: never overflows; kept from forward for backward."""
        if self.e is None:
            e = xp.abs(x)
            xp.negative(e, out=e)
            self.e = xp.exp(e, out=e)
        return self.e

    def _softplus_neg(self, xp, x):
        sp = _log1p(xp, self._exp_neg_abs(xp, x))
        sp += xp.maximum(-x, 0.0)
        return sp

    def loss(self, xp, x, t):
        sp = self._softplus_neg(xp, x)
        if not any(self.needs_input_grad):
            self.e = None
        if self.pos_weight is not None:
            sp *= 1.0 + (self.pos_weight - 1.0) * t
        loss = (1.0 - t) * x
        loss += sp
        return loss if self.weight is None else loss * self.weight

    def grads(self, xp, x, t, need_x, need_t):
        gx = gt = None
        if need_x:
            # sigmoid(-x) = r = e / (1 + e) for x >= 0 and 1 - r for x < 0 (each exact where it is small),
            # selected with arithmetic: NumPy's where is slow on masks with no pattern
            e = self._exp_neg_abs(xp, x)
            r = e / (1.0 + e)
            neg = x < 0
            sig_neg = r + neg * (1.0 - 2.0 * r)  # sigmoid(-x)
            if self.pos_weight is None:
                gx = (1.0 - t) - sig_neg  # = sigmoid(x) - t
            else:
                gx = (1.0 - t) - (1.0 + (self.pos_weight - 1.0) * t) * sig_neg
        if need_t:
            gt = -x if self.pos_weight is None else (self.pos_weight - 1.0) * self._softplus_neg(xp, x) - x
        if self.weight is not None:
            gx = None if gx is None else gx * self.weight
            gt = None if gt is None else gt * self.weight
        return gx, gt

    def grads_graph(self, x, t, need_x, need_t):
        pw = None if self.pos_weight is None else constant(self.pos_weight)
        gx = gt = None
        if need_x:
            gx = sigmoid(x) - t if pw is None else (1.0 - t) - (1.0 + (pw - 1.0) * t) * sigmoid(-x)
        if need_t:
            gt = -x if pw is None else (pw - 1.0) * _log1p_exp_neg(x) - x
        if self.weight is not None:
            w = constant(self.weight)
            gx = None if gx is None else gx * w
            gt = None if gt is None else gt * w
        return gx, gt


def _pointwise(name: str, op: PointwiseLoss, input: Tensor, target: Tensor, same_shape: bool) -> Tensor:
    if same_shape and tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"{name}: target size {tuple(target.shape)} must be the same as input size "
                         f"{tuple(input.shape)}")
    if tuple(target.shape) != tuple(input.shape):
        broadcast_shapes(tuple(input.shape), tuple(target.shape))  # a clear error naming both shapes
        warnings.warn(f"{name}: using a target size {tuple(target.shape)} that is different to the input size "
                      f"{tuple(input.shape)}; they will be broadcast, which is likely not what you want",
                      stacklevel=3)
    x, t = binary_operands(input, target, name)
    if not dtypes.is_floating(x._data.dtype):
        raise TypeError(f"{name}: expected floating-point input and target, got {input.dtype} and {target.dtype}")
    return op(x, t)


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Mean squared error: (input - target)^2, reduced."""
    reduction = _start("mse_loss", input, target, reduction, size_average, reduce)
    return _pointwise("mse_loss", MSELoss(reduction), input, target, False)


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Mean absolute error: |input - target|, reduced."""
    reduction = _start("l1_loss", input, target, reduction, size_average, reduce)
    return _pointwise("l1_loss", L1Loss(reduction), input, target, False)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """Quadratic below ``beta``, linear above: 0.5 d^2 / beta if |d| < beta else |d| - 0.5 beta (Girshick, 2015)."""
    reduction = _start("smooth_l1_loss", input, target, reduction, size_average, reduce)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    return _pointwise("smooth_l1_loss", SmoothL1Loss(reduction, float(beta)), input, target, False)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """0.5 d^2 if |d| <= delta else delta (|d| - 0.5 delta) (Huber, 1964)."""
    reduction = _start("huber_loss", input, target, reduction)
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    return _pointwise("huber_loss", HuberLoss(reduction, float(delta)), input, target, False)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                         reduce=None, reduction: str = "mean") -> Tensor:
    """-w [t log x + (1 - t) log(1 - x)] for probabilities x in [0, 1]; logs are clamped to >= -100."""
    name = "binary_cross_entropy"
    reduction = _start(name, input, target, reduction, size_average, reduce)
    _check_float(name, "input", input)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"{name}: using a target size {tuple(target.shape)} that is different to the input size "
                         f"{tuple(input.shape)} is not supported; make them the same size")
    data = input._data
    if data.size and not bool(((data >= 0) & (data <= 1)).all()):
        raise RuntimeError(f"{name}: all elements of input should be between 0 and 1 (input holds probabilities; "
                           f"use binary_cross_entropy_with_logits for logits)")
    w = _weight_array(name, weight, input, input.shape)
    return _pointwise(name, BCELoss(reduction, w), input, target, True)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     size_average=None, reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable expression of the logits ``input``.

    loss = w [(1 - t) x + (1 + (pos_weight - 1) t) log(1 + exp(-x))], with log(1 + exp(-x)) computed
    as log1p(exp(-|x|)) + max(-x, 0): finite for any logit. ``pos_weight`` (broadcast over the last
    dim, one per class) weighs the positive term.
    """
    name = "binary_cross_entropy_with_logits"
    reduction = _start(name, input, target, reduction, size_average, reduce)
    _check_float(name, "input", input)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"{name}: target size {tuple(target.shape)} must be the same as input size "
                         f"{tuple(input.shape)}")
    w = _weight_array(name, weight, input, input.shape)
    pw = None
    if pos_weight is not None:
        _check_tensor(name, "pos_weight", pos_weight)
        check_same_device(name, input, pos_weight)
        if pos_weight.requires_grad and is_grad_enabled():
            raise RuntimeError(f"{name}: the derivative for 'pos_weight' is not implemented (as in torch); "
                               f"pass pos_weight.detach()")
        try:
            np.broadcast_shapes(tuple(pos_weight.shape), tuple(input.shape))
        except ValueError:
            raise RuntimeError(f"{name}: pos_weight of shape {tuple(pos_weight.shape)} does not broadcast to the "
                               f"input's shape {tuple(input.shape)} (it holds one weight per class, the last dim)"
                               ) from None
        pw = pos_weight._data.astype(compute_dtype(input._data.dtype), copy=False)
    return _pointwise(name, BCEWithLogitsLoss(reduction, w, pw), input, target, True)


# ----------------------------------------------------------------------------------------------
# Losses composed of minigrad ops (exact derivatives of any order for free)
# ----------------------------------------------------------------------------------------------
def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence KL(target || exp(input)) with ``input`` in log space.

    loss = target (log target - input) (0 where target == 0), or exp(target) (target - input) with
    ``log_target=True``. 'batchmean' divides the sum by the batch size input.size(0), which is the
    mathematically correct KL; 'mean' divides by the number of elements, as torch.
    """
    name = "kl_div"
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    _check_reduction(name, reduction, _REDUCTIONS + ("batchmean",))
    _check_tensor(name, "input", input)
    _check_tensor(name, "target", target)
    check_same_device(name, input, target)
    if reduction == "mean":
        warnings.warn("kl_div: reduction='mean' divides the total loss by both the batch size and the support "
                      "size; 'batchmean' divides only by the batch size, which matches the math of KL divergence",
                      stacklevel=2)
    input, target = binary_operands(input, target, name)
    _check_float(name, "input", input)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        safe = where(target == 0, 1.0, target)  # 0 log 0 = 0; a negative target still gives nan, as torch
        loss = target * (safe.log() - input)
    if reduction == "batchmean":
        total = loss.sum()
        return total / input.shape[0] if input.ndim else total
    return _reduce(loss, reduction)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0, size_average=None,
                          reduce=None, reduction: str = "mean") -> Tensor:
    """1 - cos(x1, x2) where target = 1, max(0, cos(x1, x2) - margin) where target = -1.

    Shapes: inputs (N, D) with target (N,), or (D,) with a 0-d target. As torch, the cosine here is
    sum(x1 x2) / sqrt((||x1||^2 + 1e-12)(||x2||^2 + 1e-12)).
    """
    name = "cosine_embedding_loss"
    reduction = _start(name, input1, target, reduction, size_average, reduce)
    _check_tensor(name, "input2", input2)
    if input1.ndim not in (1, 2) or input2.ndim != input1.ndim or target.ndim != input1.ndim - 1:
        raise RuntimeError(f"{name}: expected inputs of shape (N, D) with target (N,), or (D,) with a 0-d "
                           f"target; got input1 {tuple(input1.shape)}, input2 {tuple(input2.shape)}, "
                           f"target {tuple(target.shape)}")
    x1, x2 = binary_operands(input1, input2, name)
    _check_float(name, "input", x1)
    dim = input1.ndim - 1
    eps = 1e-12
    prod = (x1 * x2).sum(dim)
    mag = ((x1 * x1).sum(dim) + eps) * ((x2 * x2).sum(dim) + eps)
    cos = prod / mag.sqrt()
    pos = where(target == 1, 1.0 - cos, 0.0)
    neg = where(target == -1, relu(cos - margin), 0.0)
    return _reduce(pos + neg, reduction)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0, size_average=None,
                        reduce=None, reduction: str = "mean") -> Tensor:
    """max(0, -target (input1 - input2) + margin): target = 1 wants input1 ranked above input2."""
    name = "margin_ranking_loss"
    reduction = _start(name, input1, target, reduction, size_average, reduce)
    _check_tensor(name, "input2", input2)
    if not (input1.ndim == input2.ndim == target.ndim):
        raise RuntimeError(f"{name}: all input tensors should have the same number of dims, but got sizes "
                           f"input1 {tuple(input1.shape)}, input2 {tuple(input2.shape)}, target {tuple(target.shape)}")
    return _reduce(relu(-target * (input1 - input2) + margin), reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, size_average=None, reduce=None,
                         reduction: str = "mean") -> Tensor:
    """x where target = 1, max(0, margin - x) where target = -1 (x is typically a distance)."""
    name = "hinge_embedding_loss"
    reduction = _start(name, input, target, reduction, size_average, reduce)
    _check_float(name, "input", input)
    out_margin = where(target != 1, relu(margin - input), 0.0)
    out_self = where(target != -1, input, 0.0)
    return _reduce(out_margin + out_self, reduction)


def soft_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """log(1 + exp(-target * input)) for targets in {1, -1}; computed without overflow."""
    name = "soft_margin_loss"
    reduction = _start(name, input, target, reduction, size_average, reduce)
    x, t = binary_operands(input, target, name)
    _check_float(name, "input", x)
    return _reduce(_log1p_exp_neg(x * t), reduction)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2.0,
                        eps: float = 1e-6, swap: bool = False, size_average=None, reduce=None,
                        reduction: str = "mean") -> Tensor:
    """max(0, d(a, p) - d(a, n) + margin) with d the pairwise p-norm distance (Schroff et al., 2015, FaceNet).

    ``swap`` uses min(d(a, n), d(p, n)) as the negative distance (Balntas et al., 2016).
    Shapes: (N, D) or (D,) for all three.
    """
    name = "triplet_margin_loss"
    reduction = _start(name, anchor, positive, reduction, size_average, reduce)
    _check_tensor(name, "negative", negative)
    if not (anchor.ndim == positive.ndim == negative.ndim) or anchor.ndim not in (1, 2):
        raise RuntimeError(f"{name}: expected anchor, positive and negative of shape (N, D) or (D,), got "
                           f"{tuple(anchor.shape)}, {tuple(positive.shape)} and {tuple(negative.shape)}")
    if margin <= 0:
        raise ValueError(f"{name}: margin must be greater than 0, got {margin}")
    from .distance import pairwise_distance

    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        from .math import minimum

        d_neg = minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce(relu(d_pos - d_neg + margin), reduction)


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False, size_average=None,
                     eps: float = 1e-8, reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of ``target`` under Poisson(rate), rate = exp(input) (or input).

    loss = exp(input) - target * input, or input - target * log(input + eps) with ``log_input=False``;
    ``full`` adds Stirling's approximation of log(target!) where target > 1.
    """
    name = "poisson_nll_loss"
    reduction = _start(name, input, target, reduction, size_average, reduce)
    x, t = binary_operands(input, target, name)
    _check_float(name, "input", x)
    loss = x.exp() - t * x if log_input else x - t * (x + eps).log()
    if full:
        big = t > 1
        safe = where(big, t, 2.0)  # keeps log(0) out of the graph where the term is masked anyway
        stirling = safe * safe.log() - safe + 0.5 * (safe * (2 * math.pi)).log()
        loss = loss + where(big, stirling, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input: Tensor, target: Tensor, var, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of ``target`` under N(input, var): 0.5 (log var + (input - target)^2 / var).

    ``var`` has the input's shape (heteroscedastic), or one dim less / a last dim of 1 (one variance
    per sample), or is a float. It is clamped to >= eps for stability; ``full`` adds 0.5 log(2 pi).
    """
    name = "gaussian_nll_loss"
    reduction = _start(name, input, target, reduction)
    if not isinstance(var, Tensor):
        from .creation import full as full_tensor

        var = full_tensor(tuple(input.shape), float(var), dtype=input.dtype, device=input.device)
    check_same_device(name, input, var)
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif not (input.ndim >= 1 and tuple(input.shape[:-1]) == tuple(var.shape[:-1]) and var.shape[-1] == 1):
            raise ValueError(f"{name}: var of shape {tuple(var.shape)} does not fit input of shape "
                             f"{tuple(input.shape)} (expected the input's shape, or one value per sample)")
    if bool((var._data < 0).any()):
        raise ValueError(f"{name}: var has negative entries")
    x, t = binary_operands(input, target, name)
    _check_float(name, "input", x)
    var = clamp(var, min=eps)
    loss = 0.5 * (var.log() + (x - t) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                                reduce=None, reduction: str = "mean") -> Tensor:
    """Mean over classes of binary cross-entropy with logits: -(t log sigmoid(x) + (1 - t) log sigmoid(-x))."""
    name = "multilabel_soft_margin_loss"
    reduction = _start(name, input, target, reduction, size_average, reduce)
    x, t = binary_operands(input, target, name)
    _check_float(name, "input", x)
    loss = t * _log1p_exp_neg(x) + (1.0 - t) * _log1p_exp_neg(-x)
    if weight is not None:
        loss = loss * weight
    loss = loss.mean(-1) if x.ndim else loss
    return _reduce(loss, reduction)
