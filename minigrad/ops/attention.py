"""Scaled dot-product attention: a plain path and a tiled online-softmax ("FlashAttention") path.

    O = softmax(Q K^T * scale + mask) V,    Q: (..., L, E), K: (..., S, E), V: (..., S, Ev)

Both paths are one op each with a fused backward. With P = softmax(S) and the output gradient dO:

    dV = P^T dO,   dP = dO V^T,   dS = P * (dP - D),   D = rowsum(dP * P) = rowsum(dO * O)
    dQ = dS K * scale,   dK = dS^T Q * scale,   d(float mask) = dS

* ``ScaledDotProductAttention`` (the "math" backend) materialises the L x S matrix P once and keeps
  it for backward.
* ``FlashAttention`` (Dao et al., 2022, "FlashAttention: Fast and Memory-Efficient Exact Attention
  with IO-Awareness") never holds more than one tile of scores: forward walks key/value tiles per
  query tile keeping a running max ``m``, a running denominator ``l`` and the output accumulator,
  and saves only O and the per-row log-sum-exp; backward recomputes each tile of P from the saved
  log-sum-exp. Extra memory is O(tile_q * tile_k + N * d) per batch-head instead of O(L * S).
  Two sums ride along in the GEMMs as one extra column: P [V, 1] gives P V and the row sums l, and
  in backward [Q, -lse] [K, 1]^T = S - lse and [dO, -D] [V, 1]^T = dP - D, which saves two passes
  over every tile.

How the work is laid out: on the CPU both paths cut the batch and head dims into groups
(``_head_groups``) run on minigrad's threads (``minigrad._parallel``) with BLAS kept to one thread, so
the GEMMs and the elementwise passes (exp above all; NumPy releases the GIL) use every core. The flash
path takes one batch-head per group with tiles that stay in the caches, the math path as many heads
as fit in about ``MATH_GROUP_SCORES`` scores. On a GPU there is one group: every tile op is vectorised
over all batch and head dims.

Which one runs: ``sdpa_kernel`` (a context manager, as ``torch.nn.attention.sdpa_kernel``) restricts
the choice; by default the flash path is used when L * S >= ``FLASH_MIN_SCORES``. When the flash
path cannot serve a call (a float mask that needs its own gradient, an empty sequence) the math
path runs and the reason is logged at DEBUG level on the ``minigrad.attention`` logger.

Conventions follow torch: a boolean ``attn_mask`` is True where attention is *allowed*, a float mask
is added to the scores, ``is_causal`` masks j > i (aligned top-left when L != S). A query row that may
attend to nothing gives a zero output and zero gradients, as torch's CPU kernels do.
Float16/bfloat16 inputs are computed in float32 and the output is cast back.

Higher order: both backwards are fused raw-array code when only first derivatives are needed; under
``create_graph=True`` they are instead written with minigrad ops (recomputing P, so O(L * S) memory),
which makes second and higher derivatives exact.

``multi_head_attention_forward`` (behind ``nn.MultiheadAttention``) projects, splits heads and calls
the ops above; its masks use MultiheadAttention's convention (True = masked out).
"""

from __future__ import annotations

import contextlib
import enum
import itertools
import logging
import math
from collections.abc import Iterator

import numpy as np

from .. import _parallel, dtypes
from ..autograd.grad_mode import _State
from ..autograd.op import Op
from ..backend import Generator, default_generator, device_of, get_array_module
from ..tensor import Tensor
from ._common import broadcast_shapes, check_same_device, constant
from .linalg import linear
from .shape import cat

_log = logging.getLogger("minigrad.attention")

#: the flash path is chosen automatically when L * S reaches this many scores per batch-head (on a
#: 2-core CPU it overtakes the math path between L = S = 256 and 384, as the L x S arrays leave the caches)
FLASH_MIN_SCORES = 1 << 17
#: the flash path's default tile on the CPU, query rows x keys of one batch-head: with P and dS of one
#: tile (2 x 512 KiB) backward stays near the caches, and the GEMMs are big enough for full BLAS speed
FLASH_CPU_TILE = (256, 512)
#: on a GPU the tiles hold about this many scores over all batch-heads together (query rows x key
#: columns x batch-heads, keys twice the rows)
FLASH_TILE_SCORES = 1 << 22
#: on the CPU the math path runs groups of batch-heads holding about this many scores each, so that a
#: group's softmax passes run in the caches
MATH_GROUP_SCORES = 1 << 16

_NEG_INF = float("-inf")


class SDPBackend(enum.Enum):
    """The implementations ``scaled_dot_product_attention`` can choose from (torch's names)."""

    MATH = "math"
    FLASH_ATTENTION = "flash"


_allowed_backends: tuple = (SDPBackend.FLASH_ATTENTION, SDPBackend.MATH)


def _as_backend(backend) -> SDPBackend:
    if isinstance(backend, SDPBackend):
        return backend
    if isinstance(backend, str):
        for b in SDPBackend:
            if backend.lower() in (b.value, b.name.lower()):
                return b
    raise ValueError(f"sdpa_kernel: unknown backend {backend!r}; expected one of "
                     f"{[b.value for b in SDPBackend]} or an SDPBackend")


@contextlib.contextmanager
def sdpa_kernel(backends, set_priority: bool = False) -> Iterator[None]:
    """Restrict ``scaled_dot_product_attention`` to some backends inside a ``with`` block.

    ``backends`` is one backend or a list: ``SDPBackend.MATH`` / ``"math"`` (materialise the L x S
    attention matrix) or ``SDPBackend.FLASH_ATTENTION`` / ``"flash"`` (tiled, O(N) memory). With
    both allowed (the default outside any block) the flash path runs when L * S >= FLASH_MIN_SCORES.
    Forcing ``"flash"`` for a call it cannot serve raises a RuntimeError naming the reason.
    ``set_priority`` is accepted for torch compatibility; the choice above does not depend on order.
    """
    global _allowed_backends
    if isinstance(backends, (list, tuple, set)):
        chosen = tuple(_as_backend(b) for b in backends)
    else:
        chosen = (_as_backend(backends),)
    if not chosen:
        raise ValueError("sdpa_kernel: expected at least one backend")
    previous = _allowed_backends
    _allowed_backends = chosen
    try:
        yield
    finally:
        _allowed_backends = previous


def _compute_dtype(dtype: np.dtype) -> np.dtype:
    """Half-precision inputs are computed in float32 (scores and exp overflow float16 easily)."""
    return np.dtype(np.float32) if dtype.itemsize < 4 else dtype


def _tile(mask, rows: slice, cols: slice):
    """The (rows, cols) block of a mask that broadcasts over the last two dims (size-1 dims kept)."""
    r = rows if mask.shape[-2] != 1 else slice(None)
    c = cols if mask.shape[-1] != 1 else slice(None)
    return mask[..., r, c]


def _scaled_keep(generator: Generator, shape: tuple, dtype: np.dtype, p: float):
    """A dropout mask of kept weights: 1 / (1 - p) with probability 1 - p, else 0 (all 0 when p = 1)."""
    keep = (generator.uniform(shape, dtype) >= p).astype(dtype)
    if p < 1:
        keep *= 1.0 / (1.0 - p)
    else:
        keep[...] = 0
    return keep


def _score_gradient(dp, D, p, keep) -> None:
    """dS = P * (dP * keep - D), in place in ``dp``."""
    if keep is not None:
        dp *= keep
    dp -= D
    dp *= p


def _safe_softmax_(s) -> None:
    """Softmax over the last axis of ``s``, in place; rows with every score at -inf become zeros."""
    if s.shape[-1] == 0:
        return
    xp = get_array_module(s)
    m = s.max(axis=-1, keepdims=True)
    m[m == _NEG_INF] = 0.0  # a fully masked row stays at -inf, so exp gives 0 and no nan appears
    s -= m
    xp.exp(s, out=s)
    denominator = s.sum(axis=-1, keepdims=True)
    denominator[denominator == 0] = 1.0
    s *= xp.reciprocal(denominator)


def _with_column(x, column):
    """[x, column] along the last axis: ``column`` is a number or a (..., n, 1) array (batch dims broadcast)."""
    xp = get_array_module(x)
    lead = x.shape[:-1] if isinstance(column, float) else broadcast_shapes(x.shape[:-1], column.shape[:-1])
    out = xp.empty(lead + (x.shape[-1] + 1,), x.dtype)
    out[..., :-1] = x
    out[..., -1:] = column
    return out


def _scratch(buffer, shape: tuple):
    """A C-contiguous ``shape`` array over the start of the flat ``buffer`` (all tiles reuse one allocation)."""
    return buffer[:math.prod(shape)].reshape(shape)


# ----------------------------------------------------------------------------------------------
# Cutting the batch and head dims into groups (run on threads on the CPU)
# ----------------------------------------------------------------------------------------------
def _head_groups(batch: tuple, heads: int) -> list[tuple]:
    """Index tuples into the batch dims, each selecting a view of about ``heads`` consecutive batch-heads.

    Leading dims are picked one by one (integers), then one dim is cut into slices; ``[()]`` (everything
    at once) when the batch has no dims.
    """
    for axis, n in enumerate(batch):
        rest = math.prod(batch[axis + 1:])
        if rest <= heads:
            step = max(1, heads // rest)
            outer = itertools.product(*(range(m) for m in batch[:axis]))
            return [o + (slice(i, min(i + step, n)),) for o in outer for i in range(0, n, step)]
    return [()]


def _part(x, index: tuple, batch_ndim: int):
    """The part of ``x`` that ``index`` (into the full batch dims) selects; x's batch dims broadcast to them.

    ``x`` ends in two non-batch dims (a matrix per batch-head); where it lacks a batch dim or has it of
    size 1, the whole dim is taken (an integer index drops it, as in the other inputs). None stays None.
    """
    if x is None or not index:
        return x
    missing = batch_ndim - (x.ndim - 2)
    picked = tuple(i if x.shape[axis - missing] != 1 else (0 if isinstance(i, int) else slice(None))
                   for axis, i in enumerate(index) if axis >= missing)
    return x[picked]


def _run_groups(work, groups: list, xp) -> None:
    """``work(number, index)`` for every group: on minigrad's threads on the CPU, in order on a GPU.

    BLAS is held to one thread meanwhile: each group's GEMMs are small, and BLAS's own threads would
    compete with ours for the same cores.
    """
    items = list(enumerate(groups))
    if xp is np and len(items) > 1 and _parallel.num_threads() > 1:
        with _parallel.blas_threads(1):
            _parallel.parallel_map(lambda item: work(*item), items)
    else:
        for number, index in items:
            work(number, index)


class _Attention(Op):
    """What both attention ops share: the masks, and the backward written with minigrad ops."""

    def __init__(self, scale: float, blocked, causal: bool, dropout_p: float):
        self.scale = scale
        self.blocked = blocked  # bool array, True where attention is NOT allowed (broadcasts to L x S), or None
        self.causal = causal
        self.dropout_p = dropout_p

    def _mask_scores(self, s, rows: slice, cols: slice, blocked, bias) -> None:
        """Add the float mask ``bias`` and set ``blocked`` / causally hidden scores of the tile to -inf, in place.

        ``blocked`` and ``bias`` are this group's parts of the masks (or None).
        """
        xp = get_array_module(s)
        if bias is not None:
            s += _tile(bias, rows, cols)
        if blocked is not None:
            xp.copyto(s, _NEG_INF, where=_tile(blocked, rows, cols))
        if self.causal and cols.stop - 1 > rows.start:  # the tile reaches above the diagonal
            first = max(cols.start, rows.start + 1)  # keys before this one are seen by every row of the tile
            future = xp.arange(first, cols.stop)[None, :] > xp.arange(rows.start, rows.stop)[:, None]
            xp.copyto(s[..., first - cols.start:], _NEG_INF, where=future)

    def _blocked_full(self, xp, L: int, S: int):
        """The boolean mask (True = hidden) that combines ``blocked`` and causality, or None."""
        blocked = self.blocked
        if self.causal:
            future = xp.arange(S)[None, :] > xp.arange(L)[:, None]
            blocked = future if blocked is None else blocked | future
        return blocked

    def _differentiable_grads(self, go: Tensor, q: Tensor, k: Tensor, v: Tensor, bias, keep, gw=None):
        """Input gradients as minigrad ops (used under create_graph=True, so they differentiate again).

        ``gw`` is the gradient of the returned attention weights, when the op returns them.
        """
        from .linalg import matmul
        from .math import exp, where
        from .reduce import logsumexp

        if q._data.dtype.itemsize < 4:
            q, k, v, go = q.float(), k.float(), v.float(), go.float()
            gw = None if gw is None else gw.float()
        xp = get_array_module(q._data)
        s = matmul(q * self.scale, k.mT)
        if bias is not None:
            s = s + bias
        blocked = self._blocked_full(xp, q.shape[-2], k.shape[-2])
        if blocked is not None:
            s = where(blocked, _NEG_INF, s)
        dead = (s._data == _NEG_INF).all(axis=-1, keepdims=True) if s.shape[-1] else None
        if dead is not None and dead.any():  # rows that attend to nothing: zero weights, no nan
            s = where(dead, 0.0, s)
        p = exp(s - logsumexp(s, -1, keepdim=True))
        if dead is not None and dead.any():
            p = where(dead, 0.0, p)
        p_dropped = p if keep is None else p * constant(keep)
        need = self.needs_input_grad
        gv = matmul(p_dropped.mT, go) if need[2] else None
        dp = matmul(go, v.mT)
        if gw is not None:
            dp = dp + gw
        if keep is not None:
            dp = dp * constant(keep)
        ds = p * (dp - (dp * p).sum(-1, keepdim=True))
        gq = matmul(ds, k) * self.scale if need[0] else None
        gk = matmul(ds.mT, q) * self.scale if need[1] else None
        return gq, gk, gv, ds


# ----------------------------------------------------------------------------------------------
# The math path: one L x S matrix
# ----------------------------------------------------------------------------------------------
class ScaledDotProductAttention(_Attention):
    """softmax(Q K^T * scale + mask) V with P kept for a fused backward. Inputs: q, k, v[, float mask].

    With ``return_weights`` it has a second output, the attention weights (after dropout), for
    ``MultiheadAttention(need_weights=True)``; their gradient joins dP in backward.
    """

    def __init__(self, scale, blocked, causal, dropout_p, generator: Generator | None = None,
                 return_weights: bool = False):
        super().__init__(scale, blocked, causal, dropout_p)
        self.generator = generator
        self.return_weights = return_weights

    def _groups(self, xp, q, k, v) -> tuple[tuple, list]:
        """The batch shape, and its groups of batch-heads (one group on a GPU, or when V adds batch dims)."""
        scores = broadcast_shapes(q.shape[:-2], k.shape[:-2])
        batch = broadcast_shapes(scores, v.shape[:-2])
        if xp is not np or scores != batch:  # P has the scores' batch shape: it must be the whole batch's
            return batch, [()]
        per_head = q.shape[-2] * k.shape[-2]
        return batch, _head_groups(batch, max(1, MATH_GROUP_SCORES // max(1, per_head)))

    def forward(self, q, k, v, bias=None):
        xp = get_array_module(q)
        ct = _compute_dtype(q.dtype)
        qs = q.astype(ct, copy=False) * self.scale
        kc, vc = k.astype(ct, copy=False), v.astype(ct, copy=False)
        bias = None if bias is None else bias.astype(ct, copy=False)
        L, S, Ev = q.shape[-2], k.shape[-2], v.shape[-1]
        batch, groups = self._groups(xp, q, k, v)
        p = xp.empty(broadcast_shapes(q.shape[:-2], k.shape[:-2]) + (L, S), ct)
        o = xp.empty(batch + (L, Ev), ct)
        # the dropout mask is drawn whole, here, so it does not depend on how the work is split
        self.keep = None if self.dropout_p == 0 else _scaled_keep(self.generator, p.shape, ct, self.dropout_p)

        def run(_, index):
            def part(x):
                return _part(x, index, len(batch))

            s = xp.matmul(part(qs), part(kc).swapaxes(-1, -2), out=part(p))
            self._mask_scores(s, slice(0, L), slice(0, S), part(self.blocked), part(bias))
            _safe_softmax_(s)
            keep = part(self.keep)
            xp.matmul(s if keep is None else s * keep, part(vc), out=part(o))

        _run_groups(run, groups, xp)
        self.save_inputs(*range(3 if bias is None else 4))
        o = o.astype(q.dtype, copy=False)
        if not self.return_weights:
            self.p = p
            self.save_outputs(0)
            return o
        if self.keep is None and ct == q.dtype:  # the weights are P itself: saved as an output, not copied
            self.p = None
            self.save_outputs(0, 1)
            return o, p
        self.p = p
        self.save_outputs(0)
        return o, (p if self.keep is None else p * self.keep).astype(q.dtype)

    def backward(self, go, gw=None):
        saved = self.saved_inputs
        q, k, v = saved[:3]
        bias = saved[3] if len(saved) > 3 else None
        if _State.grad_enabled:  # create_graph=True: the differentiable form
            gq, gk, gv, ds = self._differentiable_grads(go, q, k, v, bias, self.keep, gw)
            return (gq, gk, gv) if bias is None else (gq, gk, gv, ds if self.needs_input_grad[3] else None)
        need = self.needs_input_grad
        xp = get_array_module(q._data)
        ct = _compute_dtype(q._data.dtype)
        o = self.saved_outputs[0]._data.astype(ct, copy=False)
        g = go._data.astype(ct, copy=False)
        p = self.p if self.p is not None else self.saved_outputs[1]._data
        gw = None if gw is None else gw._data
        qs = q._data.astype(ct, copy=False) * self.scale
        kc, vc = k._data.astype(ct, copy=False), v._data.astype(ct, copy=False)
        L, S, E, Ev = q.shape[-2], k.shape[-2], q.shape[-1], v.shape[-1]
        batch, groups = self._groups(xp, qs, kc, vc)
        ds = xp.empty(batch + (L, S), ct)
        gq = xp.empty(batch + (L, E), ct) if need[0] else None
        gk = xp.empty(batch + (S, E), ct) if need[1] else None
        gv = xp.empty(batch + (S, Ev), ct) if need[2] else None

        def run(_, index):
            def part(x):
                return _part(x, index, len(batch))

            pi, keep, gi = part(p), part(self.keep), part(g)
            if gv is not None:
                xp.matmul((pi if keep is None else pi * keep).swapaxes(-1, -2), gi, out=part(gv))
            dp = xp.matmul(gi, part(vc).swapaxes(-1, -2), out=part(ds))
            if gw is None:
                D = (gi * part(o)).sum(axis=-1, keepdims=True)  # rowsum(dO * O)
            else:
                dp += part(gw)
                D = (dp * pi if keep is None else dp * keep * pi).sum(axis=-1, keepdims=True)  # rowsum(dP * P)
            _score_gradient(dp, D, pi, keep)  # now dS
            if gq is not None:
                xp.matmul(dp, part(kc), out=part(gq))
                part(gq)[...] *= self.scale
            if gk is not None:
                xp.matmul(dp.swapaxes(-1, -2), part(qs), out=part(gk))

        _run_groups(run, groups, xp)
        grads = [None if a is None else constant(a) for a in (gq, gk, gv)]
        if bias is not None:
            grads.append(constant(ds) if need[3] else None)
        return tuple(grads)


# ----------------------------------------------------------------------------------------------
# The flash path: tiles and an online softmax
# ----------------------------------------------------------------------------------------------
class FlashAttention(_Attention):
    """Tiled attention that saves only O and the row log-sum-exp (Dao et al., 2022). Inputs: q, k, v.

    A float mask is a constant here (``bias``); dropout masks are drawn per tile from a generator
    reseeded with (seed, group, tile row, tile column), so backward redraws exactly the same ones.
    """

    def __init__(self, scale, blocked, bias, causal, dropout_p, seed, block_q: int, block_k: int):
        super().__init__(scale, blocked, causal, dropout_p)
        self.bias, self.seed = bias, seed
        self.block_q, self.block_k = block_q, block_k

    @staticmethod
    def _groups(xp, batch: tuple) -> list[tuple]:
        """One batch-head per group on the CPU (a tile of one head stays in the caches), one group on a GPU."""
        return _head_groups(batch, 1) if xp is np else [()]

    def _query_tiles(self, L: int):
        return [slice(i, min(i + self.block_q, L)) for i in range(0, L, self.block_q)]

    def _key_tiles(self, rows: slice, S: int):
        # causal: row i sees keys j <= i, so key tiles starting at or after the tile's last row + 1 are skipped
        end = min(S, rows.stop) if self.causal else S
        return [slice(j, min(j + self.block_k, end)) for j in range(0, end, self.block_k)]

    def _keep(self, shape, dtype, device, group: int, rows: slice, cols: slice):
        """This tile's dropout mask, scaled by 1 / (1 - p): the same on every call."""
        state = np.random.SeedSequence((self.seed, group, rows.start, cols.start)).generate_state(1, np.uint64)[0]
        return _scaled_keep(Generator(device).manual_seed(int(state)), shape, dtype, self.dropout_p)

    def forward(self, q, k, v):
        xp = get_array_module(q)
        ct = _compute_dtype(q.dtype)
        L, Ev = q.shape[-2], v.shape[-1]
        batch = broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
        if self.bias is not None:
            self.bias = self.bias.astype(ct, copy=False)
        # Q broadcast to the whole batch (a view), so that every tile of scores has the batch's shape
        qs = xp.broadcast_to(q.astype(ct, copy=False) * self.scale, batch + q.shape[-2:])
        kc, vc = k.astype(ct, copy=False), v.astype(ct, copy=False)
        out = xp.empty(batch + (L, Ev), ct)
        self.lse = xp.empty(batch + (L, 1), ct)

        def run(group, index):
            def part(x):
                return _part(x, index, len(batch))

            self._forward_tiles(part(qs), part(kc), part(vc), part(out), part(self.lse), part(self.blocked),
                                part(self.bias), group)

        _run_groups(run, self._groups(xp, batch), xp)
        self.save_inputs(0, 1, 2)
        self.save_outputs(0)
        return out.astype(q.dtype, copy=False)

    def _forward_tiles(self, q, k, v, out, lse, blocked, bias, group: int) -> None:
        """The online softmax over one group's tiles; writes ``out`` and ``lse`` (q is already scaled)."""
        xp = get_array_module(q)
        ct, device = q.dtype, device_of(q)
        L, S, Ev = q.shape[-2], k.shape[-2], v.shape[-1]
        heads = out.shape[:-2]
        va = _with_column(v, 1.0)  # P [V, 1] = [P V, rowsum(P)]: the denominator comes out of the GEMM
        scores = xp.empty(math.prod(heads) * min(self.block_q, L) * min(self.block_k, S), ct)
        acc_buffer, pv_buffer = (xp.empty(math.prod(heads) * min(self.block_q, L) * (Ev + 1), ct) for _ in range(2))
        for rows in self._query_tiles(L):
            n = rows.stop - rows.start
            qi = q[..., rows, :]
            m = acc = None
            for cols in self._key_tiles(rows, S):
                s = xp.matmul(qi, k[..., cols, :].swapaxes(-1, -2),
                              out=_scratch(scores, heads + (n, cols.stop - cols.start)))
                self._mask_scores(s, rows, cols, blocked, bias)
                m_new = s.max(axis=-1, keepdims=True)
                if m is not None:
                    xp.maximum(m_new, m, out=m_new)
                # rows that have seen no key yet keep m = -inf; shifting them by 0 makes exp give 0, not nan
                shift = xp.where(m_new == _NEG_INF, 0.0, m_new).astype(ct, copy=False)
                s -= shift
                xp.exp(s, out=s)
                row_sum = None
                if self.dropout_p > 0:  # the denominator sums the weights before dropout
                    row_sum = s.sum(axis=-1, keepdims=True)
                    s *= self._keep(s.shape, ct, device, group, rows, cols)
                pv = xp.matmul(s, va[..., cols, :], out=_scratch(pv_buffer if m is not None else acc_buffer,
                                                                 heads + (n, Ev + 1)))
                if row_sum is not None:
                    pv[..., Ev:] = row_sum
                if m is None:
                    acc = pv
                else:
                    acc *= xp.exp(m - shift)  # rescale what was summed against the old max
                    acc += pv
                m = m_new
            l = acc[..., Ev:]
            dead = l == 0  # rows that attend to nothing: zero output, and P = 0 in backward
            l[dead] = 1.0
            xp.divide(acc[..., :Ev], l, out=out[..., rows, :])
            lse[..., rows, :] = xp.where(dead, float("inf"), shift + xp.log(l))

    def _full_keep(self, xp, ct, device, batch: tuple, L: int, S: int):
        """All tiles' dropout masks as one (batch..., L, S) array (only for the differentiable backward)."""
        keep = xp.zeros(batch + (L, S), ct)
        for group, index in enumerate(self._groups(xp, batch)):
            part = keep[index]
            for rows in self._query_tiles(L):
                for cols in self._key_tiles(rows, S):
                    shape = part.shape[:-2] + (rows.stop - rows.start, cols.stop - cols.start)
                    part[..., rows, cols] = self._keep(shape, ct, device, group, rows, cols)
        return keep

    def backward(self, go):
        q, k, v = self.saved_inputs
        xp = get_array_module(q._data)
        ct = _compute_dtype(q._data.dtype)
        device = device_of(q._data)
        L, S, E, Ev = q.shape[-2], k.shape[-2], q.shape[-1], v.shape[-1]
        batch = broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
        if _State.grad_enabled:  # create_graph=True: the differentiable form (materialises P)
            keep = None if self.dropout_p == 0 else self._full_keep(xp, ct, device, batch, L, S)
            bias = None if self.bias is None else constant(self.bias)
            return self._differentiable_grads(go, q, k, v, bias, keep)[:3]
        need = self.needs_input_grad
        (o,) = self.saved_outputs
        g, o = go._data.astype(ct, copy=False), o._data.astype(ct, copy=False)
        qs = q._data.astype(ct, copy=False) * self.scale
        kc, vc = k._data.astype(ct, copy=False), v._data.astype(ct, copy=False)
        gq = xp.zeros(batch + (L, E), ct) if need[0] else None
        gk = xp.zeros(batch + (S, E), ct) if need[1] else None
        gv = xp.zeros(batch + (S, Ev), ct) if need[2] else None

        def run(group, index):
            def part(x):
                return _part(x, index, len(batch))

            self._backward_tiles(part(qs), part(kc), part(vc), part(o), part(g), part(self.lse),
                                 part(gq), part(gk), part(gv), part(self.blocked), part(self.bias), group)

        _run_groups(run, self._groups(xp, batch), xp)
        if gq is not None:
            gq *= self.scale
        return tuple(None if a is None else constant(a) for a in (gq, gk, gv))

    def _backward_tiles(self, q, k, v, o, g, lse, gq, gk, gv, blocked, bias, group: int) -> None:
        """Accumulate one group's dQ / scale, dK and dV over its tiles (q is already scaled)."""
        xp = get_array_module(q)
        ct, device = q.dtype, device_of(q)
        L, S = q.shape[-2], k.shape[-2]
        heads = g.shape[:-2]
        D = (g * o).sum(axis=-1, keepdims=True)  # rowsum(dO * O) = rowsum(dP * P), once per row
        qa, ka = _with_column(q, -lse), _with_column(k, 1.0)  # [Q, -lse] [K, 1]^T = S - lse
        fold = self.dropout_p == 0  # with dropout, dS = P * (dP * keep - D): D cannot join the GEMM
        ga, va = (_with_column(g, -D), _with_column(v, 1.0)) if fold else (g, v)  # [dO, -D] [V, 1]^T = dP - D
        tile = math.prod(heads) * min(self.block_q, L) * min(self.block_k, S)
        p_buffer, ds_buffer = xp.empty(tile, ct), xp.empty(tile, ct)
        for rows in self._query_tiles(L):
            n = rows.stop - rows.start
            qi, gi = q[..., rows, :], g[..., rows, :]
            for cols in self._key_tiles(rows, S):
                shape = heads + (n, cols.stop - cols.start)
                p = xp.matmul(qa[..., rows, :], ka[..., cols, :].swapaxes(-1, -2), out=_scratch(p_buffer, shape))
                self._mask_scores(p, rows, cols, blocked, bias)
                xp.exp(p, out=p)  # P recomputed from the saved log-sum-exp
                keep = self._keep(shape, ct, device, group, rows, cols) if self.dropout_p > 0 else None
                if gv is not None:
                    kept = p if keep is None else xp.multiply(p, keep, out=_scratch(ds_buffer, shape))
                    gv[..., cols, :] += xp.matmul(kept.swapaxes(-1, -2), gi)
                if gq is None and gk is None:
                    continue
                ds = xp.matmul(ga[..., rows, :], va[..., cols, :].swapaxes(-1, -2), out=_scratch(ds_buffer, shape))
                if not fold:
                    ds *= keep
                    ds -= D[..., rows, :]
                ds *= p  # now dS
                if gq is not None:
                    gq[..., rows, :] += xp.matmul(ds, k[..., cols, :])
                if gk is not None:
                    gk[..., cols, :] += xp.matmul(ds.swapaxes(-1, -2), qi)


# ----------------------------------------------------------------------------------------------
# Public functions
# ----------------------------------------------------------------------------------------------
def _check_inputs(name: str, query, key, value) -> None:
    for label, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: expected {label} to be a Tensor, got {type(t).__name__}")
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise RuntimeError(
            f"{name}: expected query, key and value to be at least 2-D (..., L, E), got shapes "
            f"{tuple(query.shape)}, {tuple(key.shape)} and {tuple(value.shape)}"
        )
    if not dtypes.is_floating(query._data.dtype):
        raise TypeError(f"{name}: expected floating-point query, key and value, got {query.dtype}")
    if not (query._data.dtype == key._data.dtype == value._data.dtype):
        raise RuntimeError(
            f"{name}: expected query, key and value to have the same dtype, got {query.dtype}, "
            f"{key.dtype} and {value.dtype}"
        )
    check_same_device(name, query, key, value)
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(
            f"{name}: query and key must have the same feature size E, got query {tuple(query.shape)} "
            f"and key {tuple(key.shape)}"
        )
    if key.shape[-2] != value.shape[-2]:
        raise RuntimeError(
            f"{name}: key and value must have the same sequence length S, got key {tuple(key.shape)} "
            f"and value {tuple(value.shape)}"
        )


def _check_batch(name: str, query, key, value) -> None:
    try:
        np.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except ValueError:
        raise RuntimeError(
            f"{name}: the batch dims of query {tuple(query.shape)}, key {tuple(key.shape)} and value "
            f"{tuple(value.shape)} cannot be broadcast together"
        ) from None


def _split_mask(name: str, attn_mask, scores_shape: tuple, query: Tensor):
    """A bool mask becomes a constant 'blocked' array; a float mask stays a Tensor (it may need grad)."""
    if attn_mask is None:
        return None, None
    if not isinstance(attn_mask, Tensor):
        raise TypeError(f"{name}: expected attn_mask to be a Tensor or None, got {type(attn_mask).__name__}")
    check_same_device(name, query, attn_mask)
    kind = attn_mask._data.dtype
    if kind != np.bool_ and not dtypes.is_floating(kind):
        raise RuntimeError(f"{name}: expected attn_mask of dtype bool or a floating dtype, got {attn_mask.dtype}")
    try:
        fits = np.broadcast_shapes(attn_mask.shape, scores_shape) == tuple(scores_shape)
    except ValueError:
        fits = False
    if not fits:
        raise RuntimeError(
            f"{name}: attn_mask of shape {tuple(attn_mask.shape)} cannot be broadcast to the attention "
            f"scores' shape {tuple(scores_shape)} (batch..., L, S)"
        )
    if attn_mask.ndim < 2:
        attn_mask = attn_mask.reshape((1,) * (2 - attn_mask.ndim) + tuple(attn_mask.shape))
    if kind == np.bool_:
        return ~attn_mask._data, None
    return None, attn_mask


def _check_options(name: str, dropout_p: float, attn_mask, is_causal: bool) -> None:
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{name}: dropout_p must be in [0, 1], got {dropout_p}")
    if is_causal and attn_mask is not None:
        raise RuntimeError(f"{name}: an explicit attn_mask should not be set when is_causal=True")


def _use_flash(L: int, S: int, bias) -> bool:
    """Pick the backend for one call (see ``sdpa_kernel``), logging why the flash path was not used."""
    allowed = _allowed_backends
    reason = None
    if bias is not None and bias.requires_grad and _State.grad_enabled:
        reason = "the float attn_mask requires grad (the flash path treats masks as constants)"
    elif L == 0 or S == 0:
        reason = f"an empty sequence (L={L}, S={S})"
    if SDPBackend.FLASH_ATTENTION not in allowed:
        return False
    if SDPBackend.MATH not in allowed:
        if reason:
            raise RuntimeError(f"scaled_dot_product_attention: the flash backend was forced (sdpa_kernel) "
                               f"but cannot run this call: {reason}")
        return True
    if reason:
        _log.debug("scaled_dot_product_attention: math path, because of %s", reason)
        return False
    if L * S < FLASH_MIN_SCORES:
        _log.debug("scaled_dot_product_attention: math path, L * S = %d < FLASH_MIN_SCORES", L * S)
        return False
    return True


def _grouped_heads(name: str, query: Tensor, key: Tensor, value: Tensor, attn_mask):
    """enable_gqa: view query heads as (kv heads, group) so K and V broadcast instead of being repeated."""
    if query.ndim < 3 or key.ndim < 3 or value.ndim < 3:
        raise RuntimeError(f"{name}: enable_gqa needs a head dim (..., H, L, E), got shapes "
                           f"{tuple(query.shape)}, {tuple(key.shape)} and {tuple(value.shape)}")
    hq, hk = query.shape[-3], key.shape[-3]
    if hk != value.shape[-3] or hk == 0 or hq % hk:
        raise RuntimeError(
            f"{name}: with enable_gqa the number of query heads ({hq}) must be a multiple of the number of "
            f"key/value heads (key {tuple(key.shape)}, value {tuple(value.shape)})"
        )
    group = hq // hk
    query = query.unflatten(-3, (hk, group))
    key, value = key.unsqueeze(-3), value.unsqueeze(-3)
    if attn_mask is not None and attn_mask.ndim >= 3:
        if attn_mask.shape[-3] == hq:
            attn_mask = attn_mask.unflatten(-3, (hk, group))
        elif attn_mask.shape[-3] == 1:
            attn_mask = attn_mask.unsqueeze(-3)
    return query, key, value, attn_mask


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(query @ key^T * scale + mask) @ value, as ``torch.nn.functional.scaled_dot_product_attention``.

    Shapes: query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev); the leading dims
    broadcast. ``attn_mask`` broadcasts to (..., L, S): boolean True = may attend, float = added to the
    scores (and differentiated). ``is_causal`` hides keys j > i (top-left aligned; not together with
    ``attn_mask``). ``scale`` defaults to 1 / sqrt(E). ``dropout_p`` drops attention weights using
    minigrad's seeded generator. ``enable_gqa`` lets H query heads share H / G key/value heads.
    Rows with nothing to attend to give zeros. Runs the math or the flash path (see ``sdpa_kernel``).
    """
    name = "scaled_dot_product_attention"
    _check_inputs(name, query, key, value)
    _check_options(name, dropout_p, attn_mask, is_causal)
    heads = None
    if enable_gqa and query.ndim >= 3 and key.ndim >= 3 and query.shape[-3] != key.shape[-3]:
        heads = query.shape[-3]
        query, key, value, attn_mask = _grouped_heads(name, query, key, value, attn_mask)
    _check_batch(name, query, key, value)
    L, S = query.shape[-2], key.shape[-2]
    scores = broadcast_shapes(query.shape[:-2], key.shape[:-2]) + (L, S)
    blocked, bias = _split_mask(name, attn_mask, scores, query)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    dropout_p = float(dropout_p)
    if _use_flash(L, S, bias):
        out = _flash(query, key, value, blocked, bias, dropout_p, is_causal, scale)
    else:
        generator = default_generator(query.device) if dropout_p > 0 else None
        op = ScaledDotProductAttention(scale, blocked, is_causal, dropout_p, generator)
        out = op(query, key, value) if bias is None else op(query, key, value, bias)
    return out if heads is None else out.flatten(-4, -3)


def _tile_sizes(query: Tensor, key: Tensor, block_q: int | None, block_k: int | None) -> tuple[int, int]:
    """The flash path's tile: as given, else FLASH_CPU_TILE on the CPU, or sized so that one tile holds
    about FLASH_TILE_SCORES scores over all batch-heads on a GPU."""
    if get_array_module(query._data) is np:
        rows, cols = FLASH_CPU_TILE
    else:
        batch_heads = math.prod(broadcast_shapes(query.shape[:-2], key.shape[:-2]))
        side = math.sqrt(FLASH_TILE_SCORES / (2 * max(1, batch_heads)))
        rows = 1 << max(5, min(9, int(math.log2(side))))  # a power of two from 32 to 512
        cols = 2 * rows
    block_q = min(rows, query.shape[-2]) if block_q is None else int(block_q)
    block_k = min(cols, key.shape[-2]) if block_k is None else int(block_k)
    return block_q, block_k


def _flash(query, key, value, blocked, bias, dropout_p, is_causal, scale, block_q=None, block_k=None) -> Tensor:
    block_q, block_k = _tile_sizes(query, key, block_q, block_k)
    seed = None
    if dropout_p > 0:
        seed = int(default_generator(query.device).integers(0, 2**62, (), np.int64))
    bias_array = None if bias is None else bias._data
    return FlashAttention(scale, blocked, bias_array, is_causal, dropout_p, seed, block_q, block_k)(query, key, value)


def flash_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                    dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                    block_q: int | None = None, block_k: int | None = None) -> Tensor:
    """The tiled path of ``scaled_dot_product_attention``, called directly with chosen tile sizes.

    Same arguments and result as ``scaled_dot_product_attention``; ``block_q`` x ``block_k`` is the
    tile of scores held at a time (by default sized from FLASH_TILE_SCORES). A float ``attn_mask`` is
    treated as a constant (no gradient reaches it).
    """
    name = "flash_attention"
    _check_inputs(name, query, key, value)
    _check_options(name, dropout_p, attn_mask, is_causal)
    _check_batch(name, query, key, value)
    if (block_q is not None and block_q < 1) or (block_k is not None and block_k < 1):
        raise ValueError(f"{name}: tile sizes must be positive, got block_q={block_q}, block_k={block_k}")
    L, S = query.shape[-2], key.shape[-2]
    scores = broadcast_shapes(query.shape[:-2], key.shape[:-2]) + (L, S)
    blocked, bias = _split_mask(name, attn_mask, scores, query)
    if bias is not None and bias.requires_grad and _State.grad_enabled:
        raise RuntimeError(f"{name}: the float attn_mask requires grad, but the flash path treats masks as "
                           f"constants; detach it or use scaled_dot_product_attention")
    if L == 0 or S == 0:
        raise RuntimeError(f"{name}: empty sequences are not supported (L={L}, S={S}); "
                           f"use scaled_dot_product_attention")
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    return _flash(query, key, value, blocked, bias, float(dropout_p), is_causal, scale, block_q, block_k)


# ----------------------------------------------------------------------------------------------
# Multi-head attention (the functional form behind nn.MultiheadAttention)
# ----------------------------------------------------------------------------------------------
def _mask_kind(name: str, mask_name: str, mask) -> None:
    if mask is None:
        return
    if not isinstance(mask, Tensor):
        raise TypeError(f"{name}: expected {mask_name} to be a Tensor or None, got {type(mask).__name__}")
    if mask._data.dtype != np.bool_ and not dtypes.is_floating(mask._data.dtype):
        raise RuntimeError(f"{name}: only bool and floating types of {mask_name} are supported, got {mask.dtype}")


def _pad_key(mask):
    """One more key column that is never masked (for bias_k/bias_v and add_zero_attn)."""
    if mask is None:
        return None
    if isinstance(mask, Tensor):
        zeros = constant(get_array_module(mask._data).zeros(mask.shape[:-1] + (1,), mask._data.dtype))
        return cat([mask, zeros], -1)
    return get_array_module(mask).concatenate([mask, get_array_module(mask).zeros(mask.shape[:-1] + (1,), bool)], -1)


def _as_additive(mask, dtype):
    """A boolean 'masked out' array as a float mask of 0 / -inf; a float mask unchanged."""
    if isinstance(mask, Tensor):
        return mask
    xp = get_array_module(mask)
    return constant(xp.where(mask, _NEG_INF, 0.0).astype(dtype))


def _split_heads(x: Tensor, heads: int, batch_first: bool) -> Tensor:
    """(N, L, E) or (L, N, E) -> (N, heads, L, E / heads)."""
    if batch_first:
        n, length = x.shape[0], x.shape[1]
        return x.reshape(n, length, heads, -1).permute(0, 2, 1, 3)
    length, n = x.shape[0], x.shape[1]
    return x.reshape(length, n, heads, -1).permute(1, 2, 0, 3)


def _split_packed(x: Tensor, parts: int, heads: int, batch_first: bool) -> tuple:
    """(N, L, parts * E) or (L, N, parts * E) -> ``parts`` tensors (N, heads, L, E / heads), no copies."""
    a, b = x.shape[0], x.shape[1]
    x = x.reshape(a, b, parts, heads, -1)
    x = x.permute(2, 0, 3, 1, 4) if batch_first else x.permute(2, 1, 3, 0, 4)
    return x.unbind(0)


def multi_head_attention_forward(query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int, num_heads: int,
                                 in_proj_weight: Tensor | None, in_proj_bias: Tensor | None, bias_k: Tensor | None,
                                 bias_v: Tensor | None, add_zero_attn: bool, dropout_p: float,
                                 out_proj_weight: Tensor, out_proj_bias: Tensor | None, training: bool = True,
                                 key_padding_mask: Tensor | None = None, need_weights: bool = True,
                                 attn_mask: Tensor | None = None, use_separate_proj_weight: bool = False,
                                 q_proj_weight: Tensor | None = None, k_proj_weight: Tensor | None = None,
                                 v_proj_weight: Tensor | None = None, static_k: Tensor | None = None,
                                 static_v: Tensor | None = None, average_attn_weights: bool = True,
                                 is_causal: bool = False) -> tuple:
    """Multi-head attention (Vaswani et al., 2017) on (L, N, E) inputs, as torch's function of this name.

    head_i = softmax(Q_i K_i^T / sqrt(E / H) + mask) V_i with Q = query W_q^T + b_q (and K, V alike),
    output = concat(head_1 .. head_H) W_o^T + b_o. Masks use MultiheadAttention's convention: a
    boolean True means "masked out", a float mask is added. ``attn_mask`` is (L, S) or (N * H, L, S),
    ``key_padding_mask`` (N, S). Returns (output, weights or None); weights are (N, L, S) averaged over
    heads or (N, H, L, S). A query row with every key masked gives zeros (torch gives nan there when
    need_weights=True).
    """
    return _multi_head_attention(
        query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias, bias_k, bias_v,
        add_zero_attn, dropout_p, out_proj_weight, out_proj_bias, training, key_padding_mask, need_weights,
        attn_mask, use_separate_proj_weight, q_proj_weight, k_proj_weight, v_proj_weight, static_k, static_v,
        average_attn_weights, is_causal, batch_first=False)


def _multi_head_attention(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias, bias_k,
                          bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias, training,
                          key_padding_mask, need_weights, attn_mask, use_separate_proj_weight, q_proj_weight,
                          k_proj_weight, v_proj_weight, static_k, static_v, average_attn_weights, is_causal,
                          batch_first: bool, name: str = "multi_head_attention_forward") -> tuple:
    """``multi_head_attention_forward`` for either layout: (N, L, E) if ``batch_first`` else (L, N, E)."""
    for label, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: expected {label} to be a Tensor, got {type(t).__name__}")
    _mask_kind(name, "key_padding_mask", key_padding_mask)
    _mask_kind(name, "attn_mask", attn_mask)
    if query.ndim not in (2, 3):
        raise RuntimeError(f"{name}: expected query to be 2-D (unbatched, L x E) or 3-D (batched), "
                           f"got shape {tuple(query.shape)}")
    batched = query.ndim == 3
    if key.ndim != query.ndim or value.ndim != query.ndim:
        raise RuntimeError(f"{name}: expected key and value to be {query.ndim}-D like query "
                           f"{tuple(query.shape)}, got key {tuple(key.shape)} and value {tuple(value.shape)}")
    if key_padding_mask is not None and key_padding_mask.ndim != (2 if batched else 1):
        raise RuntimeError(f"{name}: expected key_padding_mask to be {'2-D (N, S)' if batched else '1-D (S)'}, "
                           f"got shape {tuple(key_padding_mask.shape)}")
    if attn_mask is not None and attn_mask.ndim not in (2, 3):
        raise RuntimeError(f"{name}: expected attn_mask to be 2-D (L, S) or 3-D (N * num_heads, L, S), "
                           f"got shape {tuple(attn_mask.shape)}")
    self_attention, shared_kv = query is key and key is value, key is value
    if not batched:  # a batch of one; the batch dim goes where the layout keeps it
        axis = 0 if batch_first else 1
        query = query.unsqueeze(axis)
        key = query if self_attention else key.unsqueeze(axis)
        value = key if shared_kv else value.unsqueeze(axis)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    b_axis, s_axis = (0, 1) if batch_first else (1, 0)
    L, N, E = query.shape[s_axis], query.shape[b_axis], query.shape[2]
    S = key.shape[s_axis]
    heads = num_heads
    if E != embed_dim_to_check:
        raise RuntimeError(f"{name}: expected query with embedding dim {embed_dim_to_check}, got shape "
                           f"{tuple(query.shape)}")
    if heads <= 0 or E % heads:
        raise RuntimeError(f"{name}: embed_dim {E} is not divisible by num_heads {heads}")
    head_dim = E // heads
    if key.shape[b_axis] != N or value.shape[b_axis] != N or value.shape[s_axis] != S:
        raise RuntimeError(f"{name}: query {tuple(query.shape)}, key {tuple(key.shape)} and value "
                           f"{tuple(value.shape)} must share the batch size, and key and value the sequence length")

    # masks: bool arrays (True = masked out) or float Tensors, checked against the original S
    kpm = None if key_padding_mask is None else (key_padding_mask if key_padding_mask._data.dtype != np.bool_
                                                 else key_padding_mask._data)
    if kpm is not None and tuple(kpm.shape) != (N, S):
        raise RuntimeError(f"{name}: expected key_padding_mask of shape {(N, S)}, got {tuple(kpm.shape)}")
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    use_causal = bool(is_causal) and kpm is None and not need_weights  # the hint replaces the mask
    mask = None
    if attn_mask is not None and not use_causal:
        mask = attn_mask if attn_mask._data.dtype != np.bool_ else attn_mask._data
        expected = (L, S) if attn_mask.ndim == 2 else (N * heads, L, S)
        if tuple(mask.shape) != expected:
            raise RuntimeError(f"{name}: the shape of the {attn_mask.ndim}-D attn_mask is {tuple(mask.shape)}, "
                               f"but should be {expected}")

    # projections
    if use_separate_proj_weight:
        if q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
            raise RuntimeError(f"{name}: use_separate_proj_weight=True needs q_proj_weight, k_proj_weight and "
                               f"v_proj_weight")
        b_q, b_k, b_v = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3)
        q = _split_heads(linear(query, q_proj_weight, b_q), heads, batch_first)
        k = _split_heads(linear(key, k_proj_weight, b_k), heads, batch_first)
        v = _split_heads(linear(value, v_proj_weight, b_v), heads, batch_first)
    else:
        if in_proj_weight is None:
            raise RuntimeError(f"{name}: in_proj_weight is None but use_separate_proj_weight is False")
        if key.shape[2] != E or value.shape[2] != E:
            raise RuntimeError(f"{name}: with a packed in_proj_weight, key and value need embedding dim {E}, got "
                               f"key {tuple(key.shape)} and value {tuple(value.shape)}")
        if self_attention:  # one GEMM for q, k and v
            q, k, v = _split_packed(linear(query, in_proj_weight, in_proj_bias), 3, heads, batch_first)
        elif shared_kv:  # encoder-decoder attention: one GEMM for k and v
            w_q, w_kv = in_proj_weight.split([E, 2 * E])
            b_q, b_kv = (None, None) if in_proj_bias is None else in_proj_bias.split([E, 2 * E])
            q = _split_heads(linear(query, w_q, b_q), heads, batch_first)
            k, v = _split_packed(linear(key, w_kv, b_kv), 2, heads, batch_first)
        else:
            w_q, w_k, w_v = in_proj_weight.chunk(3)
            b_q, b_k, b_v = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3)
            q = _split_heads(linear(query, w_q, b_q), heads, batch_first)
            k = _split_heads(linear(key, w_k, b_k), heads, batch_first)
            v = _split_heads(linear(value, w_v, b_v), heads, batch_first)

    if bias_k is not None or bias_v is not None:
        if bias_k is None or bias_v is None:
            raise RuntimeError(f"{name}: bias_k and bias_v must be given together")
        if static_k is not None or static_v is not None:
            raise RuntimeError(f"{name}: bias_k/bias_v cannot be added to static_k/static_v")
        k = cat([k, bias_k.reshape(1, heads, 1, head_dim).expand(N, heads, 1, head_dim)], 2)
        v = cat([v, bias_v.reshape(1, heads, 1, head_dim).expand(N, heads, 1, head_dim)], 2)
        mask, kpm = _pad_key(mask), _pad_key(kpm)
    for label, static in (("static_k", static_k), ("static_v", static_v)):
        if static is not None and (static.ndim != 3 or static.shape[0] != N * heads or static.shape[2] != head_dim):
            raise RuntimeError(f"{name}: expected {label} of shape (N * num_heads, S, head_dim) = "
                               f"({N * heads}, S, {head_dim}), got {tuple(static.shape)}")
    if static_k is not None:
        k = static_k.reshape(N, heads, static_k.shape[1], head_dim)
    if static_v is not None:
        v = static_v.reshape(N, heads, static_v.shape[1], head_dim)
    if add_zero_attn:
        zeros = constant(get_array_module(k._data).zeros((N, heads, 1, head_dim), k._data.dtype))
        k, v = cat([k, zeros], 2), cat([v, zeros], 2)
        mask, kpm = _pad_key(mask), _pad_key(kpm)
    S = k.shape[2]
    if v.shape[2] != S:
        raise RuntimeError(f"{name}: key and value lengths differ after static_k/static_v: {S} and {v.shape[2]}")
    if kpm is not None and tuple(kpm.shape) != (N, S):
        raise RuntimeError(f"{name}: expected key_padding_mask of shape {(N, S)}, got {tuple(kpm.shape)}")

    # one mask for SDPA, broadcasting to (N, H, L, S), in SDPA's convention (bool True = may attend)
    if mask is not None and mask.ndim == 3:
        mask = mask.reshape(N, heads, L, S)
    if kpm is not None:
        kpm = kpm.reshape(N, 1, 1, S)
    merged = None
    if isinstance(mask, Tensor) or isinstance(kpm, Tensor):
        parts = [_as_additive(m, query._data.dtype) for m in (mask, kpm) if m is not None]
        merged = parts[0] if len(parts) == 1 else parts[0] + parts[1]
    elif mask is not None or kpm is not None:
        blocked = mask if kpm is None else (kpm if mask is None else mask | kpm)
        merged = constant(~blocked)

    p = dropout_p if training else 0.0
    weights = None
    if need_weights:
        out, weights = _attention_with_weights(q, k, v, merged, p)
        if average_attn_weights:
            weights = weights.mean(1)
        if not batched:
            weights = weights.squeeze(0)
    else:
        out = scaled_dot_product_attention(q, k, v, merged, p, use_causal)
    out = out.permute(0, 2, 1, 3).reshape(N, L, E) if batch_first else out.permute(2, 0, 1, 3).reshape(L, N, E)
    out = linear(out, out_proj_weight, out_proj_bias)
    if not batched:
        out = out.squeeze(b_axis)
    return out, weights


def _attention_with_weights(q: Tensor, k: Tensor, v: Tensor, mask, dropout_p: float) -> tuple:
    """(softmax(q k^T / sqrt(E) + mask) v, the attention weights), on the math path."""
    scores = q.shape[:-1] + (k.shape[-2],)
    blocked, bias = _split_mask("multi_head_attention_forward", mask, scores, q)
    generator = default_generator(q.device) if dropout_p > 0 else None
    op = ScaledDotProductAttention(1.0 / math.sqrt(q.shape[-1]), blocked, False, dropout_p, generator,
                                   return_weights=True)
    return op(q, k, v) if bias is None else op(q, k, v, bias)
