"""Spec rows for the losses (minigrad/ops/loss.py).

The references are the losses' textbook definitions in float64 NumPy (per-sample terms, then the
reduction with torch's normalisers). Batch shapes, class counts, extra spatial dims, which targets
are ignored, class weights, label smoothing and the reduction are all drawn.
"""

import math

import numpy as np
import scipy.special
from hypothesis import strategies as st

import minigrad.nn.functional as F
from minigrad.testing.opspec import Case, OpSpec

from ._helpers import array

_REDUCTION = st.sampled_from(["mean", "sum", "none"])


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _torch_f(name, **fixed):
    def call(*args, **kwargs):
        import torch.nn.functional as TF

        return getattr(TF, name)(*args, **fixed, **kwargs)

    return call


def _shape_2d_up(draw, c):
    """(C,), (N, C) or (N, C, d1[, d2])."""
    kind = draw(st.sampled_from(["unbatched", "2d", "nd"]))
    if kind == "unbatched":
        return (c,)
    n = draw(st.integers(1, 4))
    extra = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=2))) if kind == "nd" else ()
    return (n, c) + extra


# ----- cross_entropy / nll_loss with class indices ----------------------------------------------
@st.composite
def _class_cases(draw, smoothing=True, scale=1.0):
    c = draw(st.integers(1, 5))
    shape = _shape_2d_up(draw, c)
    x = np.asarray(draw(array(st.just(shape))) * scale)
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    t = np.asarray(draw(st.lists(st.integers(0, c - 1), min_size=int(np.prod(tshape)),
                                 max_size=int(np.prod(tshape)))), dtype=np.int64).reshape(tshape)
    ignore_index = draw(st.sampled_from([-100, 0, c - 1]))
    if ignore_index == -100 and t.size:
        drop = np.asarray(draw(st.lists(st.booleans(), min_size=t.size, max_size=t.size))).reshape(tshape)
        t = np.where(drop, -100, t)
    weight = draw(array(st.just((c,)), 0.2, 2.0)) if draw(st.booleans()) else None
    kwargs = {"ignore_index": ignore_index, "reduction": draw(_REDUCTION)}
    if smoothing:
        kwargs["label_smoothing"] = draw(st.sampled_from([0.0, 0.1, 0.45, 1.0]))
    return Case((x, t, weight), kwargs)


def _log_softmax(x):
    return scipy.special.log_softmax(x, axis=0 if x.ndim == 1 else 1)


def _class_nll(logp, t, weight, ignore_index, reduction, label_smoothing=0.0):
    """-(1 - eps) w_t logp_t - eps / C sum_c w_c logp_c, with torch's weighted-mean normaliser."""
    unbatched = logp.ndim == 1
    if unbatched:
        logp, t = logp[None], t[None]
    c = logp.shape[1]
    w = np.ones(c) if weight is None else weight
    lp = np.moveaxis(logp, 1, -1)  # (N, d..., C)
    valid = t != ignore_index
    safe = np.where(valid, t, 0)
    picked = np.take_along_axis(lp, safe[..., None], -1)[..., 0]
    w_t = w[safe] * valid
    nll = -w_t * picked
    smooth = -(lp * w).sum(-1) * valid
    loss = (1 - label_smoothing) * nll + label_smoothing / c * smooth
    if reduction == "mean":
        return loss.sum() / w_t.sum()
    if reduction == "sum":
        return loss.sum()
    return loss[0] if unbatched else loss


def _ce_ref(x, t, weight, ignore_index, reduction, label_smoothing):
    return _class_nll(_log_softmax(x), t, weight, ignore_index, reduction, label_smoothing)


def _nll_ref(x, t, weight, ignore_index, reduction):
    return _class_nll(x, t, weight, ignore_index, reduction)


def _nothing_counted(case):
    """'mean' over no counted target is 0/0 = nan (as torch); the reference comparison skips it."""
    x, t, weight = case.args
    if case.kwargs["reduction"] != "mean":
        return False
    return not bool(np.any(t != case.kwargs["ignore_index"]))


def _ce(x, t, weight, **kwargs):
    return F.cross_entropy(x, t, weight=weight, **kwargs)


def _nll(x, t, weight, **kwargs):
    return F.nll_loss(x, t, weight=weight, **kwargs)


# ----- cross_entropy with class probabilities -----------------------------------------------------
@st.composite
def _prob_cases(draw):
    c = draw(st.integers(1, 5))
    shape = _shape_2d_up(draw, c)
    x = draw(array(st.just(shape)))
    q = draw(array(st.just(shape), 0.0, 1.0))
    weight = draw(array(st.just((c,)), 0.2, 2.0)) if draw(st.booleans()) else None
    return Case((x, q, weight), {"reduction": draw(_REDUCTION),
                                 "label_smoothing": draw(st.sampled_from([0.0, 0.2, 1.0]))})


def _ce_prob_ref(x, q, weight, reduction, label_smoothing):
    c = x.shape[0] if x.ndim == 1 else x.shape[1]
    wshape = (c,) if x.ndim == 1 else (1, c) + (1,) * (x.ndim - 2)
    w = np.ones(wshape) if weight is None else weight.reshape(wshape)
    q = q * (1 - label_smoothing) + label_smoothing / c
    loss = -(w * q * _log_softmax(x)).sum(axis=0 if x.ndim == 1 else 1)
    if reduction == "mean":
        return loss.sum() / (x.size / c)
    return _reduce(loss, reduction)


# ----- binary cross-entropy ----------------------------------------------------------------------
@st.composite
def _binary_cases(draw, probabilities, pos_weight=False):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=3)))
    x = draw(array(st.just(shape), 0.05, 0.95) if probabilities else array(st.just(shape), -6.0, 6.0))
    t = draw(array(st.just(shape), 0.0, 1.0))
    weight = None
    if draw(st.booleans()):
        wshape = shape[draw(st.integers(0, len(shape))):]  # any trailing part broadcasts
        weight = np.asarray(draw(array(st.just(wshape), 0.2, 2.0)))
    args = (x, t, weight)
    if pos_weight:
        pw = None
        if draw(st.booleans()):
            pw = np.asarray(draw(array(st.just(shape[-1:]), 0.2, 3.0)))
        args = args + (pw,)
    return Case(args, {"reduction": draw(_REDUCTION)})


def _bce_ref(x, t, weight, reduction):
    loss = -(t * np.log(x) + (1 - t) * np.log1p(-x))
    return _reduce(loss if weight is None else loss * weight, reduction)


def _bce_logits_ref(x, t, weight, pos_weight, reduction):
    pw = 1.0 if pos_weight is None else pos_weight
    loss = -(pw * t * -np.logaddexp(0, -x) + (1 - t) * -np.logaddexp(0, x))  # log sigmoid(+-x)
    return _reduce(loss if weight is None else loss * weight, reduction)


# ----- regression losses -------------------------------------------------------------------------
@st.composite
def _pair_cases(draw, extra=None):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=3)))
    kwargs = {"reduction": draw(_REDUCTION)}
    if extra is not None:
        kwargs.update(draw(extra))
    return Case((draw(array(st.just(shape))), draw(array(st.just(shape)))), kwargs)


def _diff_near(points_key=None, points=(0.0,)):
    def avoid(case):
        d = np.abs(case.args[0] - case.args[1])
        kinks = points if points_key is None else (0.0, case.kwargs[points_key])
        return any(bool(np.any(np.abs(d - k) < 1e-2)) for k in kinks)

    return avoid


def _smooth_l1_ref(x, t, reduction, beta):
    d = np.abs(x - t)
    loss = d if beta == 0 else np.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta)
    return _reduce(loss, reduction)


def _huber_ref(x, t, reduction, delta):
    d = np.abs(x - t)
    return _reduce(np.where(d <= delta, 0.5 * d * d, delta * (d - 0.5 * delta)), reduction)


# ----- kl_div ------------------------------------------------------------------------------------
@st.composite
def _kl_cases(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    x = draw(array(st.just(shape), -4.0, 0.0))
    log_target = draw(st.booleans())
    t = draw(array(st.just(shape), -4.0, 0.0) if log_target else array(st.just(shape), 0.05, 1.0))
    return Case((x, t), {"reduction": draw(st.sampled_from(["batchmean", "sum", "none"])),
                         "log_target": log_target})


def _kl_ref(x, t, reduction, log_target):
    loss = np.exp(t) * (t - x) if log_target else t * (np.log(t) - x)
    if reduction == "batchmean":
        return loss.sum() / x.shape[0]
    return _reduce(loss, reduction)


# ----- pair/triplet embedding losses -------------------------------------------------------------
def _signs(draw, shape):
    return np.asarray(draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=int(np.prod(shape)),
                                    max_size=int(np.prod(shape))))).reshape(shape)


@st.composite
def _cosine_embedding_cases(draw):
    batched = draw(st.booleans())
    d = draw(st.integers(1, 4))
    shape = (draw(st.integers(1, 4)), d) if batched else (d,)
    x1, x2 = draw(array(st.just(shape))), draw(array(st.just(shape)))
    y = _signs(draw, shape[:1] if batched else ())
    return Case((x1, x2, y), {"margin": draw(st.sampled_from([0.0, 0.3, -0.2])), "reduction": draw(_REDUCTION)})


def _cos(x1, x2):
    axis = x1.ndim - 1
    prod = (x1 * x2).sum(axis)
    return prod / np.sqrt(((x1 * x1).sum(axis) + 1e-12) * ((x2 * x2).sum(axis) + 1e-12))


def _cosine_embedding_ref(x1, x2, y, margin, reduction):
    cos = _cos(x1, x2)
    loss = np.where(y == 1, 1 - cos, np.maximum(cos - margin, 0))
    return _reduce(loss, reduction)


def _cosine_kinks(case):
    x1, x2, y = case.args
    cos = _cos(x1, x2)
    small = np.minimum(np.linalg.norm(x1, axis=-1), np.linalg.norm(x2, axis=-1)) < 0.2
    return bool(np.any(np.abs(cos - case.kwargs["margin"]) < 1e-2) or np.any(small))


@st.composite
def _ranking_cases(draw):
    shape = (draw(st.integers(1, 5)),)
    return Case((draw(array(st.just(shape))), draw(array(st.just(shape))), _signs(draw, shape)),
                {"margin": draw(st.sampled_from([0.0, 0.5])), "reduction": draw(_REDUCTION)})


def _ranking_ref(x1, x2, y, margin, reduction):
    return _reduce(np.maximum(-y * (x1 - x2) + margin, 0), reduction)


def _ranking_kink(case):
    x1, x2, y = case.args
    return bool(np.any(np.abs(-y * (x1 - x2) + case.kwargs["margin"]) < 1e-2))


@st.composite
def _hinge_cases(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=2)))
    return Case((draw(array(st.just(shape))), _signs(draw, shape)),
                {"margin": draw(st.sampled_from([1.0, 0.5])), "reduction": draw(_REDUCTION)})


def _hinge_ref(x, y, margin, reduction):
    return _reduce(np.where(y == 1, x, np.maximum(margin - x, 0)), reduction)


@st.composite
def _soft_margin_cases(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=2)))
    return Case((draw(array(st.just(shape))), _signs(draw, shape)), {"reduction": draw(_REDUCTION)})


@st.composite
def _triplet_cases(draw):
    batched = draw(st.booleans())
    d = draw(st.integers(1, 4))
    shape = (draw(st.integers(1, 4)), d) if batched else (d,)
    a, p, n = (draw(array(st.just(shape))) for _ in range(3))
    return Case((a, p, n), {"margin": draw(st.sampled_from([1.0, 0.5])), "p": draw(st.sampled_from([1.0, 2.0, 3.0])),
                            "swap": draw(st.booleans()), "reduction": draw(_REDUCTION)})


def _dist(a, b, p, eps=1e-6):
    return (np.abs(a - b + eps) ** p).sum(-1) ** (1 / p)


def _triplet_ref(a, pos, neg, margin, p, swap, reduction):
    d_neg = _dist(a, neg, p)
    if swap:
        d_neg = np.minimum(d_neg, _dist(pos, neg, p))
    return _reduce(np.maximum(_dist(a, pos, p) - d_neg + margin, 0), reduction)


def _triplet_kinks(case):
    a, pos, neg = case.args
    kw = case.kwargs
    d_pos, d_an, d_pn = _dist(a, pos, kw["p"]), _dist(a, neg, kw["p"]), _dist(pos, neg, kw["p"])
    d_neg = np.minimum(d_an, d_pn) if kw["swap"] else d_an
    near = np.abs(d_pos - d_neg + kw["margin"]) < 1e-2
    near |= kw["swap"] and np.abs(d_an - d_pn) < 1e-2
    diffs = [a - pos + 1e-6, a - neg + 1e-6, pos - neg + 1e-6]
    return bool(np.any(near) or any(np.any(np.abs(v) < 1e-2) for v in diffs))


# ----- likelihood losses -------------------------------------------------------------------------
@st.composite
def _poisson_cases(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=2)))
    log_input = draw(st.booleans())
    x = draw(array(st.just(shape), -2.0, 2.0) if log_input else array(st.just(shape), 0.1, 4.0))
    t = draw(array(st.just(shape), 0.0, 5.0))
    return Case((x, t), {"log_input": log_input, "full": draw(st.booleans()), "reduction": draw(_REDUCTION)})


def _poisson_ref(x, t, log_input, full, reduction):
    loss = np.exp(x) - t * x if log_input else x - t * np.log(x + 1e-8)
    if full:
        safe = np.where(t > 1, t, 2.0)
        loss = loss + np.where(t > 1, safe * np.log(safe) - safe + 0.5 * np.log(2 * math.pi * safe), 0.0)
    return _reduce(loss, reduction)


def _poisson_avoid(case):
    """Stirling's term jumps at target = 1; at target = 0 torch's target gradient is nan (0 * log 0 inside
    its masked term), where ours is the finite value."""
    t = case.args[1]
    return case.kwargs["full"] and bool(np.any(np.abs(t - 1) < 1e-2) or np.any(t < 1e-2))


@st.composite
def _gaussian_cases(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    kind = draw(st.sampled_from(["same", "one_less", "last_one"]))
    vshape = {"same": shape, "one_less": shape[:-1], "last_one": shape[:-1] + (1,)}[kind]
    return Case((draw(array(st.just(shape))), draw(array(st.just(shape))), draw(array(st.just(vshape), 0.1, 3.0))),
                {"full": draw(st.booleans()), "reduction": draw(_REDUCTION)})


def _gaussian_ref(x, t, var, full, reduction):
    if var.shape != x.shape and var.shape == x.shape[:-1]:
        var = var[..., None]
    loss = 0.5 * (np.log(var) + (x - t) ** 2 / var) + (0.5 * math.log(2 * math.pi) if full else 0.0)
    return _reduce(loss, reduction)


@st.composite
def _multilabel_cases(draw):
    shape = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    t = np.asarray(draw(array(st.just(shape), 0.0, 1.0)) > 0.5, dtype=np.float64)
    return Case((draw(array(st.just(shape))), t), {"reduction": draw(_REDUCTION)})


def _multilabel_ref(x, t, reduction):
    loss = -(t * -np.logaddexp(0, -x) + (1 - t) * -np.logaddexp(0, x)).mean(-1)
    return _reduce(loss, reduction)


SPECS = [
    OpSpec("cross_entropy", _ce, _ce_ref, _class_cases(), grad_args=(0,), avoid=_nothing_counted,
           torch_fn=lambda x, t, w, **kw: _torch_f("cross_entropy")(x, t, weight=w, **kw)),
    OpSpec("cross_entropy_large_logits", _ce, _ce_ref, _class_cases(scale=2000.0), grad_args=(0,),
           avoid=_nothing_counted, torch_fn=lambda x, t, w, **kw: _torch_f("cross_entropy")(x, t, weight=w, **kw)),
    OpSpec("cross_entropy_probabilities", _ce, _ce_prob_ref, _prob_cases(), grad_args=(0, 1),
           torch_fn=lambda x, q, w, **kw: _torch_f("cross_entropy")(x, q, weight=w, **kw)),
    OpSpec("nll_loss", _nll, _nll_ref, _class_cases(smoothing=False), grad_args=(0,), avoid=_nothing_counted,
           torch_fn=lambda x, t, w, **kw: _torch_f("nll_loss")(x, t, weight=w, **kw)),
    OpSpec("binary_cross_entropy", lambda x, t, w, **kw: F.binary_cross_entropy(x, t, weight=w, **kw), _bce_ref,
           _binary_cases(True), grad_args=(0, 1),
           torch_fn=lambda x, t, w, **kw: _torch_f("binary_cross_entropy")(x, t, weight=w, **kw)),
    OpSpec("binary_cross_entropy_with_logits",
           lambda x, t, w, pw, **kw: F.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw, **kw),
           _bce_logits_ref, _binary_cases(False, pos_weight=True), grad_args=(0, 1),
           torch_fn=lambda x, t, w, pw, **kw: _torch_f("binary_cross_entropy_with_logits")(
               x, t, weight=w, pos_weight=pw, **kw)),
    OpSpec("mse_loss", F.mse_loss, lambda x, t, reduction: _reduce((x - t) ** 2, reduction), _pair_cases(),
           torch_fn=_torch_f("mse_loss")),
    OpSpec("l1_loss", F.l1_loss, lambda x, t, reduction: _reduce(np.abs(x - t), reduction), _pair_cases(),
           avoid=_diff_near(), torch_fn=_torch_f("l1_loss")),
    OpSpec("smooth_l1_loss", F.smooth_l1_loss, _smooth_l1_ref,
           _pair_cases(st.fixed_dictionaries({"beta": st.sampled_from([0.0, 0.5, 1.0, 2.0])})),
           avoid=_diff_near("beta"), torch_fn=_torch_f("smooth_l1_loss")),
    OpSpec("huber_loss", F.huber_loss, _huber_ref,
           _pair_cases(st.fixed_dictionaries({"delta": st.sampled_from([0.5, 1.0, 2.0])})),
           avoid=_diff_near("delta"), torch_fn=_torch_f("huber_loss")),
    OpSpec("kl_div", F.kl_div, _kl_ref, _kl_cases(), torch_fn=_torch_f("kl_div")),
    OpSpec("cosine_embedding_loss", F.cosine_embedding_loss, _cosine_embedding_ref, _cosine_embedding_cases(),
           grad_args=(0, 1), avoid=_cosine_kinks, torch_fn=_torch_f("cosine_embedding_loss")),
    OpSpec("margin_ranking_loss", F.margin_ranking_loss, _ranking_ref, _ranking_cases(), grad_args=(0, 1),
           avoid=_ranking_kink, torch_fn=_torch_f("margin_ranking_loss")),
    OpSpec("hinge_embedding_loss", F.hinge_embedding_loss, _hinge_ref, _hinge_cases(), grad_args=(0,),
           avoid=lambda c: bool(np.any(np.abs(c.args[0] - c.kwargs["margin"]) < 1e-2)),
           torch_fn=_torch_f("hinge_embedding_loss")),
    OpSpec("soft_margin_loss", F.soft_margin_loss, lambda x, y, reduction: _reduce(np.logaddexp(0, -y * x), reduction),
           _soft_margin_cases(), grad_args=(0,), torch_fn=_torch_f("soft_margin_loss")),
    OpSpec("triplet_margin_loss", F.triplet_margin_loss, _triplet_ref, _triplet_cases(), avoid=_triplet_kinks,
           torch_fn=_torch_f("triplet_margin_loss")),
    OpSpec("poisson_nll_loss", F.poisson_nll_loss, _poisson_ref, _poisson_cases(),
           avoid=_poisson_avoid,
           torch_fn=_torch_f("poisson_nll_loss")),
    OpSpec("gaussian_nll_loss", F.gaussian_nll_loss, _gaussian_ref, _gaussian_cases(),
           torch_fn=_torch_f("gaussian_nll_loss")),
    OpSpec("multilabel_soft_margin_loss", F.multilabel_soft_margin_loss, _multilabel_ref, _multilabel_cases(),
           grad_args=(0,), torch_fn=_torch_f("multilabel_soft_margin_loss")),
]
