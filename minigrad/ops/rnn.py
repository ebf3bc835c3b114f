"""Recurrent networks: Elman RNN (tanh/relu), LSTM and GRU, as single steps and as whole sequences.

The recurrences, with torch's gate order (i, f, g, o for LSTM; r, z, n for GRU) and weight layout
(``W_ih`` of shape (gates * H, I), ``W_hh`` of shape (gates * H, H), blocks stacked in that order)::

    RNN:   h' = act(W_ih x + b_ih + W_hh h + b_hh)                         act = tanh or relu
    LSTM:  i, f, g, o = sig, sig, tanh, sig of (W_ih x + b_ih + W_hh h + b_hh)  (Hochreiter &
           c' = f * c + i * g,   h' = o * tanh(c')                                Schmidhuber 1997)
           with a projection (proj_size > 0): h' = W_hr (o * tanh(c'))     (Sak et al. 2014)
    GRU:   r, z = sig(W_i[rz] x + b_i[rz] + W_h[rz] h + b_h[rz])           (Cho et al. 2014)
           n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),   h' = (1 - z) * n + z * h

Two implementations compute them:

* **Cells** (``rnn_tanh_cell``, ``rnn_relu_cell``, ``lstm_cell``, ``gru_cell``; torch's names) are one
  time step written with minigrad ops. They read like the equations, differentiate to any order, and
  are the reference the fused layers are tested against.
* **Sequence ops** (``RNNSequence``, ``LSTMSequence``, ``GRUSequence``) run one layer in one direction
  over a whole sequence as ONE graph node. The input projection of all time steps is one GEMM
  (``x`` of shape (N, I) times ``W_ih^T``); the forward then loops over time on raw arrays, one
  (B, H) x (H, gates*H) GEMM plus a handful of in-place elementwise ops per step. The backward
  (``_*SequenceGrad``) runs backpropagation through time in the same kind of loop; everything that
  does not depend on the recurrence (gate derivatives, ``dW_ih``, ``dW_hh``, ``dx``, bias sums) is
  done in bulk, outside the loop, as whole-sequence GEMMs and reductions. Building T x (a dozen)
  graph nodes per layer is avoided entirely. Their double backward is refused with a clear error;
  use the cells where higher-order gradients are needed.

Packed layout (``nn.utils.rnn.PackedSequence``): sequences sorted by length, longest first, stored
time step after time step; step t holds the first ``batch_sizes[t]`` sequences. A plain (T, B, I)
input is the special case ``batch_sizes = [B] * T``, so one loop serves both: at step t only the rows
``[:batch_sizes[t]]`` of the running state are updated, and the other rows keep their state. Running
in reverse, the active set grows, and a sequence joins (from its initial state) at its own last
element, as each sequence run alone would.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from .. import dtypes
from ..autograd.op import Op
from ..backend import get_array_module
from ..tensor import Tensor
from ._common import check_same_device
from .linalg import linear
from .math import relu, sigmoid, tanh


# ----------------------------------------------------------------------------------------------
# Cells: one time step, written with minigrad ops (the readable, any-order-differentiable reference)
# ----------------------------------------------------------------------------------------------
def rnn_tanh_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
                  b_hh: Tensor | None = None) -> Tensor:
    """One Elman RNN step, h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh).

    input (B, I) or (I,), hx (B, H) or (H,), w_ih (H, I), w_hh (H, H), biases (H,). Returns h' like hx.
    """
    _check_cell("rnn_tanh_cell", 1, input, (hx,), w_ih, w_hh, b_ih, b_hh)
    return tanh(linear(input, w_ih, b_ih) + linear(hx, w_hh, b_hh))


def rnn_relu_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
                  b_hh: Tensor | None = None) -> Tensor:
    """One Elman RNN step with ReLU, h' = relu(x W_ih^T + b_ih + h W_hh^T + b_hh) (shapes as ``rnn_tanh_cell``)."""
    _check_cell("rnn_relu_cell", 1, input, (hx,), w_ih, w_hh, b_ih, b_hh)
    return relu(linear(input, w_ih, b_ih) + linear(hx, w_hh, b_hh))


def lstm_cell(input: Tensor, hx: Sequence[Tensor], w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
              b_hh: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """One LSTM step; ``hx = (h, c)``; returns ``(h', c')``.

    input (B, I) or (I,), h and c (B, H) or (H,), w_ih (4H, I), w_hh (4H, H), biases (4H,), gate
    blocks in the order i, f, g, o:  c' = f * c + i * g,  h' = o * tanh(c').
    """
    if not isinstance(hx, (tuple, list)) or len(hx) != 2:
        raise TypeError("lstm_cell: hx must be a pair (h, c) of tensors")
    h, c = hx
    _check_cell("lstm_cell", 4, input, (h, c), w_ih, w_hh, b_ih, b_hh)
    gates = linear(input, w_ih, b_ih) + linear(h, w_hh, b_hh)
    i, f, g, o = gates.chunk(4, -1)
    c_next = sigmoid(f) * c + sigmoid(i) * tanh(g)
    return sigmoid(o) * tanh(c_next), c_next


def gru_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
             b_hh: Tensor | None = None) -> Tensor:
    """One GRU step (torch's variant: the reset gate multiplies ``W_hn h + b_hn``); returns h'.

    input (B, I) or (I,), hx (B, H) or (H,), w_ih (3H, I), w_hh (3H, H), biases (3H,), gate blocks
    in the order r, z, n:  n = tanh(x_n + r * h_n),  h' = (1 - z) * n + z * h.
    """
    _check_cell("gru_cell", 3, input, (hx,), w_ih, w_hh, b_ih, b_hh)
    x_r, x_z, x_n = linear(input, w_ih, b_ih).chunk(3, -1)
    h_r, h_z, h_n = linear(hx, w_hh, b_hh).chunk(3, -1)
    r = sigmoid(x_r + h_r)
    z = sigmoid(x_z + h_z)
    n = tanh(x_n + r * h_n)
    return (1 - z) * n + z * hx


def _check_cell(name, gates, input, states, w_ih, w_hh, b_ih, b_hh) -> None:
    if input.ndim not in (1, 2):
        raise ValueError(f"{name}: expected input to be 1-D (input_size,) or 2-D (batch, input_size), "
                         f"got shape {tuple(input.shape)}")
    if w_ih.ndim != 2 or w_hh.ndim != 2 or w_ih.shape[0] % gates or w_hh.shape[0] != w_ih.shape[0]:
        raise RuntimeError(f"{name}: expected w_ih of shape ({gates}*H, input_size) and w_hh of shape ({gates}*H, H), "
                           f"got {tuple(w_ih.shape)} and {tuple(w_hh.shape)}")
    hidden = w_ih.shape[0] // gates
    if w_hh.shape[1] != hidden:
        raise RuntimeError(f"{name}: w_hh of shape {tuple(w_hh.shape)} does not match hidden_size {hidden} "
                           f"(expected ({gates * hidden}, {hidden}))")
    if input.shape[-1] != w_ih.shape[1]:
        raise RuntimeError(f"{name}: input has {input.shape[-1]} features (shape {tuple(input.shape)}) but w_ih "
                           f"expects input_size {w_ih.shape[1]} (w_ih shape {tuple(w_ih.shape)})")
    expected = input.shape[:-1] + (hidden,)
    for k, state in enumerate(states):
        if tuple(state.shape) != expected:
            what = "hx" if len(states) == 1 else f"hx[{k}]"
            raise RuntimeError(f"{name}: expected {what} of shape {expected} for input of shape "
                               f"{tuple(input.shape)}, got {tuple(state.shape)}")
    for label, b in (("b_ih", b_ih), ("b_hh", b_hh)):
        if b is not None and tuple(b.shape) != (gates * hidden,):
            raise RuntimeError(f"{name}: expected {label} of shape ({gates * hidden},), got {tuple(b.shape)}")
    tensors = [t for t in (input, *states, w_ih, w_hh, b_ih, b_hh) if t is not None]
    check_same_device(name, *tensors)
    _check_dtypes(name, tensors)


def _check_dtypes(name, tensors) -> None:
    dtype = tensors[0]._data.dtype
    if not dtypes.is_floating(dtype):
        raise TypeError(f"{name}: expected floating-point tensors, got {tensors[0].dtype}")
    for t in tensors[1:]:
        if t._data.dtype != dtype:
            raise RuntimeError(f"{name}: expected all tensors to have dtype {tensors[0].dtype}, got {t.dtype} "
                               f"(shape {tuple(t.shape)})")


# ----------------------------------------------------------------------------------------------
# Whole-sequence ops: one graph node per layer and direction, loops over time on raw arrays
# ----------------------------------------------------------------------------------------------
def _steps(batch_sizes: list, reverse: bool) -> list:
    """(first row, number of rows) of each time step in the packed layout, in processing order."""
    starts = itertools.accumulate(batch_sizes[:-1], initial=0)
    steps = list(zip(starts, batch_sizes))
    return steps[::-1] if reverse else steps


def _sigmoid_(xp, a):
    """sigmoid(a) = 1 / (1 + exp(-a)) in place. Full relative precision for very negative a (unlike
    0.5 tanh(a/2) + 0.5, which rounds sigmoid(-20) to 0 in float32); exp(-a) may overflow to inf, which
    correctly gives 0 (callers silence NumPy's overflow warning)."""
    a *= -1.0  # not xp.negative(a, out=a): NumPy 2.4 reads wrong elements for float32 (n, 1) column views
    xp.exp(a, out=a)
    a += 1.0
    xp.reciprocal(a, out=a)
    return a


class _Sequence(Op):
    """One recurrent layer in one direction over a whole (packed) sequence.

    Inputs, in order: x (N, I), h0 (B, P), [c0 (B, H) for LSTM], W_ih, W_hh, [b_ih, b_hh], [W_hr];
    outputs: y (N, P), h_n (B, P) [, c_n (B, H)]. ``N = sum(batch_sizes)``; P = H unless projected.
    Subclasses write ``_recur`` (the time loop) and name their ``_SequenceGrad`` (the BPTT loop).
    """

    has_cell = False
    grad_class: type

    def __init__(self, batch_sizes: list, reverse: bool, bias: bool, proj: bool = False):
        self.batch_sizes, self.reverse, self.bias, self.proj = batch_sizes, reverse, bias, proj
        self.names = ["x", "h0"] + (["c0"] if self.has_cell else []) + ["W_ih", "W_hh"]
        self.names += (["b_ih", "b_hh"] if bias else []) + (["W_hr"] if proj else [])

    def forward(self, *arrays):
        a = dict(zip(self.names, arrays))
        keep = any(self.needs_input_grad)
        if keep:
            self.save_inputs(*range(len(arrays)))
        x = a["x"]
        xp = get_array_module(x)
        xg = xp.matmul(x, self._input_weight(xp, a).T)  # the input projection of every time step: one GEMM
        with np.errstate(over="ignore"):  # exp(-a) = inf in the sigmoids is the right limit (CuPy never warns)
            return self._recur(xp, xg, a, _steps(self.batch_sizes, self.reverse), keep)

    def _input_weight(self, xp, a):
        return a["W_ih"]

    def backward(self, gy, gh, *gc):
        grads = self.grad_class(self)(gy, gh, *gc, *self.saved_inputs)
        grads = iter(grads if isinstance(grads, tuple) else (grads,))
        return tuple(next(grads) if need else None for need in self.needs_input_grad)


class _SequenceGrad(Op):
    """Backpropagation through time of a ``_Sequence`` node on raw arrays (first order only).

    Inputs: the output gradients, then the forward's inputs (so that asking for a second derivative
    reaches this node and is refused instead of silently returning a wrong zero).
    """

    def __init__(self, fwd: _Sequence):
        self.kind, self.batch_sizes, self.reverse = type(fwd).__name__, fwd.batch_sizes, fwd.reverse
        self.proj = fwd.proj
        self.names, self.need, self.stash = fwd.names, fwd.needs_input_grad, fwd.stash

    def forward(self, *arrays):
        gy, gh, *rest = arrays
        gc = rest.pop(0) if len(rest) > len(self.names) else None
        a = dict(zip(self.names, rest))
        xp = get_array_module(gy)
        need = dict(zip(self.names, self.need))
        # backprop through the recurrence: gradients of the input-side and hidden-side pre-activations
        dxg, dgh, extra = self._bptt(xp, gy, gh, gc, a, _steps(self.batch_sizes, self.reverse)[::-1])
        h_prev = self.stash["h_prev"]
        out = {
            "x": lambda: xp.matmul(dxg, a["W_ih"]),
            "W_ih": lambda: xp.matmul(dxg.T, a["x"]),
            "W_hh": lambda: xp.matmul(dgh.T, h_prev),
            "b_ih": lambda: dxg.sum(axis=0),
            # RNN and LSTM add both biases to the same pre-activations: one sum serves both
            "b_hh": lambda: dgh.sum(axis=0) if dgh is not dxg or not need["b_ih"] else grads[-1].copy(),
        }
        grads = []
        for name in self.names:
            if need[name]:
                grads.append(extra[name] if name in extra else out[name]())
        self.stash = None
        return tuple(grads)

    def backward(self, *ggs):
        raise RuntimeError(
            f"double backward through the fused {self.kind} op is not supported; for higher-order gradients "
            f"run the cells step by step (mg.lstm_cell / mg.gru_cell / mg.rnn_tanh_cell or nn.LSTMCell ...)"
        )


# ----- Elman RNN ------------------------------------------------------------------------------------
class RNNSequence(_Sequence):
    """h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) over a whole sequence, act = tanh or relu."""

    def __init__(self, batch_sizes, reverse, bias, nonlinearity: str = "tanh"):
        super().__init__(batch_sizes, reverse, bias)
        self.nonlinearity = nonlinearity

    def _recur(self, xp, xg, a, steps, keep):
        if self.bias:
            xg += a["b_ih"] + a["b_hh"]
        W = a["W_hh"].T
        h = a["h0"].copy()
        y = xg  # the projection buffer becomes the output, in place
        hW = xp.empty_like(h)
        h_prev = xp.empty_like(xg) if keep else None
        for start, bs in steps:
            rows = slice(start, start + bs)
            hp = h[:bs]
            if keep:
                h_prev[rows] = hp
            out = y[rows]
            out += xp.matmul(hp, W, out=hW[:bs])
            if self.nonlinearity == "tanh":
                xp.tanh(out, out=out)
            else:
                xp.maximum(out, 0, out=out)
            hp[...] = out
        if keep:  # act'(pre-activation) from the output, in bulk: 1 - y^2, or 1 where y > 0
            deriv = 1 - y * y if self.nonlinearity == "tanh" else (y > 0).astype(y.dtype)
            self.stash = {"h_prev": h_prev, "deriv": deriv}
        return y, h


class _RNNSequenceGrad(_SequenceGrad):
    def _bptt(self, xp, gy, gh, gc, a, steps):
        deriv, W = self.stash["deriv"], a["W_hh"]
        dxg = xp.empty_like(deriv)
        dh = gh.copy()
        for start, bs in steps:
            rows = slice(start, start + bs)
            dhb = dh[:bs]
            dhb += gy[rows]
            da = dxg[rows]
            xp.multiply(dhb, deriv[rows], out=da)
            xp.matmul(da, W, out=dhb)
        return dxg, dxg, {"h0": dh}


RNNSequence.grad_class = _RNNSequenceGrad


# ----- LSTM -------------------------------------------------------------------------------------------
class LSTMSequence(_Sequence):
    """The LSTM recurrence over a whole sequence (optionally with a projection ``W_hr``)."""

    has_cell = True

    # Inside the forward the gate blocks are kept in the order i, f, o, g (torch's is i, f, g, o), so that
    # the three sigmoid gates are one block: the weights are permuted once per call, not the activations.
    @staticmethod
    def _internal_order(xp, H):
        return xp.arange(4 * H).reshape(4, H)[xp.asarray([0, 1, 3, 2])].ravel()

    def _input_weight(self, xp, a):
        return a["W_ih"][self._internal_order(xp, a["W_ih"].shape[0] // 4)]

    def _recur(self, xp, xg, a, steps, keep):
        order = self._internal_order(xp, a["W_ih"].shape[0] // 4)
        if self.bias:
            xg += (a["b_ih"] + a["b_hh"])[order]
        c0 = a["c0"]
        W = a["W_hh"][order].T
        W_hr = a["W_hr"].T if self.proj else None
        H, dtype, N = c0.shape[1], xg.dtype, xg.shape[0]
        h, c = a["h0"].copy(), c0.copy()
        y = xp.empty((N, h.shape[1]), dtype)
        rows_kept = N if keep else self.batch_sizes[0]  # without backward, scratch for one step is enough
        tanh_c = xp.empty((rows_kept, H), dtype)
        m = xp.empty((rows_kept, H), dtype) if self.proj else None
        hW = xp.empty((self.batch_sizes[0], 4 * H), dtype)
        if keep:
            h_prev, c_prev = xp.empty_like(y), xp.empty((N, H), dtype)
        for start, bs in steps:
            rows = slice(start, start + bs)
            kept = rows if keep else slice(0, bs)
            hp, cp = h[:bs], c[:bs]
            if keep:
                h_prev[rows] = hp
                c_prev[rows] = cp
            gates = xg[rows]  # the projection buffer becomes the activations, in place
            gates += xp.matmul(hp, W, out=hW[:bs])
            _sigmoid_(xp, gates[:, : 3 * H])
            xp.tanh(gates[:, 3 * H :], out=gates[:, 3 * H :])
            i, f, o, g = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :]
            cp *= f  # c' = f * c + i * g, written into the running state
            cp += i * g
            tc = tanh_c[kept]
            xp.tanh(cp, out=tc)
            if self.proj:
                xp.multiply(o, tc, out=m[kept])
                xp.matmul(m[kept], W_hr, out=y[rows])
            else:
                xp.multiply(o, tc, out=y[rows])
            hp[...] = y[rows]
        if keep:  # activations i, f, o, g (internal order)
            self.stash = {"acts": xg, "tanh_c": tanh_c, "h_prev": h_prev, "c_prev": c_prev, "m": m}
        return y, h, c


class _LSTMSequenceGrad(_SequenceGrad):
    def _bptt(self, xp, gy, gh, gc, a, steps):
        s = self.stash
        acts, tanh_c, c_prev = s["acts"], s["tanh_c"], s["c_prev"]
        N, H = tanh_c.shape
        A = acts.reshape(N, 4, H)
        i, f, o, g = A[:, 0], A[:, 1], A[:, 2], A[:, 3]  # the forward's internal order
        # Everything but the recurrence, in bulk, in torch's order i, f, g, o: dL/d(pre-activation) is
        #   i: dc * g * i(1-i)   f: dc * c_prev * f(1-f)   g: dc * i * (1-g^2)   o: dm * tanh(c) * o(1-o)
        # so per step only dc (and dm) remain to multiply in.
        Q = xp.empty_like(A)
        for k, (gate, other) in enumerate(((i, g), (f, c_prev), (g, i), (o, tanh_c))):
            if k == 2:
                xp.multiply(gate, gate, out=Q[:, k])
                xp.subtract(1.0, Q[:, k], out=Q[:, k])
            else:
                xp.subtract(1.0, gate, out=Q[:, k])
                Q[:, k] *= gate
            Q[:, k] *= other
        K = o * (1 - tanh_c * tanh_c)  # dc += dm * o * tanh'(c)
        W, W_hr = a["W_hh"], a.get("W_hr")
        dxg = xp.empty_like(acts)
        D = dxg.reshape(N, 4, H)
        dh, dc = gh.copy(), gc.copy()
        dh_all = xp.empty_like(gy) if self.proj else None
        for start, bs in steps:
            rows = slice(start, start + bs)
            dhb, dcb = dh[:bs], dc[:bs]
            dhb += gy[rows]
            if self.proj:
                dh_all[rows] = dhb
                dm = dhb @ W_hr
            else:
                dm = dhb
            dcb += dm * K[rows]
            xp.multiply(dcb[:, None, :], Q[rows, :3], out=D[rows, :3])
            xp.multiply(dm, Q[rows, 3], out=D[rows, 3])
            dcb *= f[rows]
            xp.matmul(dxg[rows], W, out=dhb)
        extra = {"h0": dh, "c0": dc}
        if self.proj:
            extra["W_hr"] = xp.matmul(dh_all.T, s["m"])
        return dxg, dxg, extra


LSTMSequence.grad_class = _LSTMSequenceGrad


# ----- GRU --------------------------------------------------------------------------------------------
class GRUSequence(_Sequence):
    """The GRU recurrence over a whole sequence (``b_hh`` stays inside: r multiplies W_hn h + b_hn)."""

    def _recur(self, xp, xg, a, steps, keep):
        if self.bias:
            xg += a["b_ih"]
        W, b_hh = a["W_hh"].T, a.get("b_hh")
        h = a["h0"].copy()
        B, H = h.shape
        y = xp.empty((xg.shape[0], H), xg.dtype)
        gh = xp.empty((B, 3 * H), xg.dtype)
        if keep:
            h_prev, hn = xp.empty_like(y), xp.empty_like(y)
        for start, bs in steps:
            rows = slice(start, start + bs)
            hp, ghb = h[:bs], gh[:bs]
            if keep:
                h_prev[rows] = hp
            xp.matmul(hp, W, out=ghb)
            if b_hh is not None:
                ghb += b_hh
            gates = xg[rows]  # the projection buffer becomes the activations r, z, n, in place
            rz, h_n = gates[:, : 2 * H], ghb[:, 2 * H :]
            rz += ghb[:, : 2 * H]
            _sigmoid_(xp, rz)
            r, z, n = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H :]
            if keep:
                hn[rows] = h_n
            h_n *= r
            n += h_n
            xp.tanh(n, out=n)
            out = y[rows]  # h' = n + z * (h - n)
            xp.subtract(hp, n, out=out)
            out *= z
            out += n
            hp[...] = out
        if keep:
            self.stash = {"acts": xg, "hn": hn, "h_prev": h_prev}
        return y, h


class _GRUSequenceGrad(_SequenceGrad):
    def _bptt(self, xp, gy, gh, gc, a, steps):
        s = self.stash
        acts, hn, h_prev = s["acts"], s["hn"], s["h_prev"]
        N, H = hn.shape
        r, z, n = acts[:, :H], acts[:, H : 2 * H], acts[:, 2 * H :]
        # in bulk: dL/da_n = dh * (1-z)(1-n^2);  dL/da_z = dh * (h_prev - n) z(1-z);  dL/da_r = dL/da_n * hn r(1-r)
        Kn = (1 - z) * (1 - n * n)
        Kz = (h_prev - n) * (z * (1 - z))
        Kr = hn * (r * (1 - r))
        W = a["W_hh"]
        dxg = xp.empty((N, 3 * H), n.dtype)
        dgh = xp.empty_like(dxg)
        dh = gh.copy()
        for start, bs in steps:
            rows = slice(start, start + bs)
            dhb = dh[:bs]
            dhb += gy[rows]
            dx, dg = dxg[rows], dgh[rows]
            dan = dx[:, 2 * H :]
            xp.multiply(dhb, Kn[rows], out=dan)
            xp.multiply(dhb, Kz[rows], out=dx[:, H : 2 * H])
            xp.multiply(dan, Kr[rows], out=dx[:, :H])
            dg[:, : 2 * H] = dx[:, : 2 * H]
            xp.multiply(dan, r[rows], out=dg[:, 2 * H :])
            dhb *= z[rows]
            dhb += dg @ W
        return dxg, dgh, {"h0": dh}


GRUSequence.grad_class = _GRUSequenceGrad


# ----------------------------------------------------------------------------------------------
# Public functional forms of one layer and direction over a whole sequence
# ----------------------------------------------------------------------------------------------
_GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


def _sequence(mode: str, x: Tensor, batch_sizes: list, h0: Tensor, c0: Tensor | None, w_ih: Tensor, w_hh: Tensor,
              b_ih: Tensor | None, b_hh: Tensor | None, w_hr: Tensor | None, reverse: bool) -> tuple:
    """Run the fused op of ``mode`` on packed rows ``x`` (N, I) (no argument checks: callers do them)."""
    bias = b_ih is not None
    weights = (w_ih, w_hh) + ((b_ih, b_hh) if bias else ()) + ((w_hr,) if w_hr is not None else ())
    if mode == "lstm":
        return LSTMSequence(batch_sizes, reverse, bias, w_hr is not None)(x, h0, c0, *weights)
    if mode == "gru":
        return GRUSequence(batch_sizes, reverse, bias)(x, h0, *weights)
    return RNNSequence(batch_sizes, reverse, bias, "tanh" if mode == "rnn_tanh" else "relu")(x, h0, *weights)


def check_batch_sizes(batch_sizes) -> list:
    """``batch_sizes`` of a packed sequence as a list of ints, checked to be positive and non-increasing."""
    if isinstance(batch_sizes, Tensor):
        if batch_sizes.ndim != 1 or batch_sizes._data.dtype.kind not in "iu":
            raise ValueError(f"batch_sizes must be a 1-D integer tensor, got shape {tuple(batch_sizes.shape)} "
                             f"and dtype {batch_sizes.dtype}")
        sizes = [int(b) for b in batch_sizes.tolist()]
    else:
        sizes = [int(b) for b in batch_sizes]
    if not sizes:
        raise RuntimeError("batch_sizes is empty: a packed sequence needs at least one time step")
    if sizes[-1] <= 0 or any(a < b for a, b in zip(sizes, sizes[1:])):
        raise RuntimeError(f"batch_sizes must be positive and non-increasing (sequences sorted by length, "
                           f"longest first), got {sizes}")
    return sizes


def _functional_sequence(mode, input, hx, w_ih, w_hh, b_ih, b_hh, w_hr, reverse, batch_sizes):
    name = f"{mode}_sequence"
    if (b_ih is None) != (b_hh is None):
        raise ValueError(f"{name}: pass both biases b_ih and b_hh, or neither")
    if mode == "lstm":
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"{name}: hx must be a pair (h0, c0) of tensors")
        h0, c0 = hx
    else:
        h0, c0 = hx, None
    gates = _GATES[mode]
    hidden = w_ih.shape[0] // gates if w_ih.ndim == 2 else 0
    state_size = w_hr.shape[0] if w_hr is not None else hidden
    if w_ih.ndim != 2 or w_ih.shape[0] != gates * hidden or hidden == 0:
        raise RuntimeError(f"{name}: expected w_ih of shape ({gates}*hidden_size, input_size), got {tuple(w_ih.shape)}")
    if tuple(w_hh.shape) != (gates * hidden, state_size):
        raise RuntimeError(f"{name}: expected w_hh of shape {(gates * hidden, state_size)}, got {tuple(w_hh.shape)}")
    if w_hr is not None and (w_hr.ndim != 2 or w_hr.shape[1] != hidden):
        raise RuntimeError(f"{name}: expected w_hr of shape (proj_size, {hidden}), got {tuple(w_hr.shape)}")
    for label, b in (("b_ih", b_ih), ("b_hh", b_hh)):
        if b is not None and tuple(b.shape) != (gates * hidden,):
            raise RuntimeError(f"{name}: expected {label} of shape ({gates * hidden},), got {tuple(b.shape)}")
    if batch_sizes is None:
        if input.ndim != 3:
            raise ValueError(f"{name}: expected input of shape (seq_len, batch, input_size), got {tuple(input.shape)}")
        T, B = input.shape[:2]
        if T == 0:
            raise RuntimeError(f"{name}: expected a sequence length greater than 0, got input of shape "
                               f"{tuple(input.shape)}")
        sizes, x = [B] * T, input.reshape(T * B, input.shape[2])
    else:
        if input.ndim != 2:
            raise ValueError(f"{name}: expected packed data of shape (sum(batch_sizes), input_size), "
                             f"got {tuple(input.shape)}")
        sizes, x = check_batch_sizes(batch_sizes), input
        if sum(sizes) != input.shape[0]:
            raise RuntimeError(f"{name}: packed data has {input.shape[0]} rows but batch_sizes sum to {sum(sizes)}")
        B = sizes[0]
    if x.shape[1] != w_ih.shape[1]:
        raise RuntimeError(f"{name}: input has {x.shape[1]} features (input shape {tuple(input.shape)}) but w_ih "
                           f"expects input_size {w_ih.shape[1]} (w_ih shape {tuple(w_ih.shape)})")
    for label, state, size in (("h0", h0, state_size), ("c0", c0, hidden)):
        if state is not None and tuple(state.shape) != (B, size):
            raise RuntimeError(f"{name}: expected {label} of shape {(B, size)}, got {tuple(state.shape)}")
    tensors = [t for t in (x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr) if t is not None]
    check_same_device(name, *tensors)
    _check_dtypes(name, tensors)
    outs = _sequence(mode, x, sizes, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, reverse)
    y = outs[0] if batch_sizes is not None else outs[0].reshape(input.shape[0], input.shape[1], -1)
    return (y, (outs[1], outs[2])) if mode == "lstm" else (y, outs[1])


def rnn_tanh_sequence(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
                      b_hh: Tensor | None = None, reverse: bool = False, batch_sizes=None) -> tuple[Tensor, Tensor]:
    """A tanh RNN layer (one direction) over a whole sequence, as one fused op; returns ``(output, h_n)``.

    input: (T, B, I) time-major, or packed rows (N, I) with ``batch_sizes`` (see the module docstring);
    hx: h0 (B, H); weights as ``rnn_tanh_cell``. ``reverse=True`` runs from each sequence's last element.
    output: (T, B, H) (or (N, H) packed); h_n: (B, H), each sequence's state after its own last step.
    First-order gradients only (double backward is refused; use ``rnn_tanh_cell`` for higher order).
    """
    return _functional_sequence("rnn_tanh", input, hx, w_ih, w_hh, b_ih, b_hh, None, reverse, batch_sizes)


def rnn_relu_sequence(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
                      b_hh: Tensor | None = None, reverse: bool = False, batch_sizes=None) -> tuple[Tensor, Tensor]:
    """``rnn_tanh_sequence`` with ReLU (the gradient at exactly 0 is 0, as torch's)."""
    return _functional_sequence("rnn_relu", input, hx, w_ih, w_hh, b_ih, b_hh, None, reverse, batch_sizes)


def lstm_sequence(input: Tensor, hx: Sequence[Tensor], w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
                  b_hh: Tensor | None = None, w_hr: Tensor | None = None, reverse: bool = False,
                  batch_sizes=None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """An LSTM layer (one direction) over a whole sequence, as one fused op; returns ``(output, (h_n, c_n))``.

    input: (T, B, I), or packed rows (N, I) with ``batch_sizes``; hx = (h0 (B, P), c0 (B, H)); w_ih (4H, I),
    w_hh (4H, P), biases (4H,), optional projection w_hr (P, H) (then h_t = W_hr (o * tanh(c_t)), P < H;
    otherwise P = H). output: (T, B, P) (or (N, P)). First-order gradients only (use ``lstm_cell`` for more).
    """
    return _functional_sequence("lstm", input, hx, w_ih, w_hh, b_ih, b_hh, w_hr, reverse, batch_sizes)


def gru_sequence(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
                 b_hh: Tensor | None = None, reverse: bool = False, batch_sizes=None) -> tuple[Tensor, Tensor]:
    """A GRU layer (one direction) over a whole sequence, as one fused op; returns ``(output, h_n)``.

    Shapes as ``rnn_tanh_sequence`` with w_ih (3H, I), w_hh (3H, H), biases (3H,). First-order only.
    """
    return _functional_sequence("gru", input, hx, w_ih, w_hh, b_ih, b_hh, None, reverse, batch_sizes)


# ----------------------------------------------------------------------------------------------
# Packing helpers: rows gathered from / scattered into a padded batch (adjoint pair, any order)
# ----------------------------------------------------------------------------------------------
class GatherRows(Op):
    """y = x[index] along dim 0 for an index without repeats; its adjoint is ``ScatterRows``."""

    def __init__(self, index):
        self.index = index

    def forward(self, x):
        self.n_rows = x.shape[0]
        return x[self.index]

    def backward(self, gy):
        return ScatterRows(self.index, self.n_rows)(gy)


class ScatterRows(Op):
    """A (n_rows, ...) array filled with ``fill`` whose rows at ``index`` are x's rows (no repeats)."""

    def __init__(self, index, n_rows: int, fill: float = 0.0):
        self.index, self.n_rows, self.fill = index, n_rows, fill

    def forward(self, x):
        xp = get_array_module(x)
        out = xp.full((self.n_rows,) + x.shape[1:], self.fill, dtype=x.dtype)
        out[self.index] = x
        return out

    def backward(self, gy):
        return GatherRows(self.index)(gy)


def gather_rows(input: Tensor, index) -> Tensor:
    """Rows ``index`` (an int array without repeats, on input's device) of ``input`` along dim 0."""
    return GatherRows(index)(input)


def scatter_rows(input: Tensor, index, n_rows: int, fill: float = 0.0) -> Tensor:
    """An (n_rows, *input.shape[1:]) tensor filled with ``fill``, with input's rows placed at ``index``."""
    return ScatterRows(index, n_rows, fill)(input)

