"""Spec rows for recurrent ops (minigrad/ops/rnn.py) and the padding/packing helpers (nn/utils/rnn.py).

The NumPy references below are written independently of minigrad: one plain loop over time per
sequence. A packed batch is checked against running every sequence alone (the reverse direction
starting at its own last element), so the packed layout is tested, not assumed.
"""

import numpy as np
from hypothesis import strategies as st
from scipy.special import expit

import minigrad as mg
from minigrad.nn.utils import rnn as rnn_utils
from minigrad.ops import rnn as R
from minigrad.testing.opspec import Case, OpSpec

from ._helpers import array

GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


# ----------------------------------------------------------------------------------------------
# NumPy references: one step, and a whole sequence run one sequence at a time
# ----------------------------------------------------------------------------------------------
def _np_step(mode, x, state, w_ih, w_hh, b_ih, b_hh, w_hr=None):
    """One step for a batch; returns (new state, pre-activations that must stay away from kinks)."""
    b_ih = 0.0 if b_ih is None else b_ih
    b_hh = 0.0 if b_hh is None else b_hh
    if mode == "lstm":
        h, c = state
        i, f, g, o = np.split(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh, 4, axis=-1)
        c = expit(f) * c + expit(i) * np.tanh(g)
        h = expit(o) * np.tanh(c)
        return ((h if w_hr is None else h @ w_hr.T), c), None
    if mode == "gru":
        h = state
        x_r, x_z, x_n = np.split(x @ w_ih.T + b_ih, 3, axis=-1)
        h_r, h_z, h_n = np.split(h @ w_hh.T + b_hh, 3, axis=-1)
        r, z = expit(x_r + h_r), expit(x_z + h_z)
        n = np.tanh(x_n + r * h_n)
        return (1 - z) * n + z * h, None
    pre = x @ w_ih.T + b_ih + state @ w_hh.T + b_hh
    return (np.tanh(pre) if mode == "rnn_tanh" else np.maximum(pre, 0)), pre


def _np_sequence(mode, x, state, weights, reverse=False, lengths=None):
    """Run (T, B, I) sequences one by one (the first ``lengths[b]`` steps of column b).

    Returns the outputs (T, B, P) (zeros past each length), the final states, and the pre-activations.
    """
    T, B = x.shape[:2]
    lengths = [T] * B if lengths is None else lengths
    outputs, finals, pres = [], [], []
    for b in range(B):
        s = tuple(v[b : b + 1] for v in state) if mode == "lstm" else state[b : b + 1]
        order = range(lengths[b] - 1, -1, -1) if reverse else range(lengths[b])
        out = {}
        for t in order:
            s, pre = _np_step(mode, x[t, b : b + 1], s, *weights)
            out[t] = s[0] if mode == "lstm" else s
            if pre is not None:
                pres.append(pre)
        outputs.append([out.get(t, np.zeros_like(out[0])) for t in range(T)])
        finals.append(s)
    y = np.stack([np.concatenate([outputs[b][t] for b in range(B)]) for t in range(T)])
    if mode == "lstm":
        final = tuple(np.concatenate([f[k] for f in finals]) for k in range(2))
    else:
        final = np.concatenate(finals)
    return y, final, pres


def _packed_rows(lengths):
    """(t, b) of every packed element in packed order, for lengths sorted longest first."""
    return [(t, b) for t in range(lengths[0]) for b in range(len(lengths)) if lengths[b] > t]


# ----------------------------------------------------------------------------------------------
# Case strategies
# ----------------------------------------------------------------------------------------------
@st.composite
def _cell_cases(draw, mode):
    gates = GATES[mode]
    batch, inputs, hidden = draw(st.integers(0, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    lead = () if batch == 0 else (batch,)  # batch 0 means an unbatched (1-D) input
    x = draw(array(st.just(lead + (inputs,)), -2.0, 2.0))
    states = [draw(array(st.just(lead + (hidden,)), -1.0, 1.0)) for _ in range(2 if mode == "lstm" else 1)]
    w_ih = draw(array(st.just((gates * hidden, inputs)), -1.0, 1.0))
    w_hh = draw(array(st.just((gates * hidden, hidden)), -1.0, 1.0))
    if draw(st.booleans()):
        biases = [draw(array(st.just((gates * hidden,)), -1.0, 1.0)) for _ in range(2)]
    else:
        biases = [None, None]
    return Case((x, *states, w_ih, w_hh, *biases))


@st.composite
def _sequence_cases(draw, mode, proj=False):
    """Random T, B, I, H; time-major or packed (random lengths), forward or reverse, with or without bias."""
    gates = GATES[mode]
    T, B = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    inputs, hidden = draw(st.integers(1, 4)), draw(st.integers(2 if proj else 1, 4))
    size = draw(st.integers(1, hidden - 1)) if proj else hidden
    packed = draw(st.booleans())
    lengths = sorted(draw(st.lists(st.integers(1, T), min_size=B, max_size=B)), reverse=True) if packed else None
    x = draw(array(st.just((T, B, inputs)), -2.0, 2.0))
    if packed:
        x = np.stack([x[t, b] for t, b in _packed_rows(lengths)])
    h0 = draw(array(st.just((B, size)), -1.0, 1.0))
    c0 = [draw(array(st.just((B, hidden)), -1.0, 1.0))] if mode == "lstm" else []
    w_ih = draw(array(st.just((gates * hidden, inputs)), -1.0, 1.0))
    w_hh = draw(array(st.just((gates * hidden, size)), -1.0, 1.0))
    bias = draw(st.booleans())
    biases = [draw(array(st.just((gates * hidden,)), -1.0, 1.0)) for _ in range(2)] if bias else [None, None]
    w_hr = [draw(array(st.just((size, hidden)), -1.0, 1.0))] if proj else []
    kwargs = {"reverse": draw(st.booleans()), "batch_sizes": None}
    if packed:
        kwargs["batch_sizes"] = [sum(n > t for n in lengths) for t in range(lengths[0])]
    return Case((x, h0, *c0, w_ih, w_hh, *biases, *w_hr), kwargs)


# ----------------------------------------------------------------------------------------------
# The functions under test, their references, and torch's
# ----------------------------------------------------------------------------------------------
def _cell_fn(mode):
    cell = getattr(mg, f"{mode}_cell")
    if mode == "lstm":
        return lambda x, h, c, *w: cell(x, (h, c), *w)
    return cell


def _cell_ref(mode):
    def ref(x, *rest):
        n_states = 2 if mode == "lstm" else 1
        states, weights = rest[:n_states], rest[n_states:]
        out, _ = _np_step(mode, x, states if mode == "lstm" else states[0], *weights)
        return out

    return ref


def _cell_torch(mode):
    def call(x, *rest):
        import torch

        unbatched = x.ndim == 1
        if unbatched:
            x = x.unsqueeze(0)
            rest = [r.unsqueeze(0) if r is not None and i < (2 if mode == "lstm" else 1) else r
                    for i, r in enumerate(rest)]
        if mode == "lstm":
            out = torch.lstm_cell(x, (rest[0], rest[1]), *rest[2:])
        else:
            out = getattr(torch, f"{mode}_cell")(x, *rest)
        squeeze = (lambda t: t.squeeze(0)) if unbatched else (lambda t: t)  # noqa: E731
        return tuple(squeeze(t) for t in out) if mode == "lstm" else squeeze(out)

    return call


def _split(mode, args, proj=False):
    """(x, states, (w_ih, w_hh, b_ih, b_hh, w_hr)) from a sequence case's argument list."""
    n_states = 2 if mode == "lstm" else 1
    x, states, rest = args[0], tuple(args[1 : 1 + n_states]), list(args[1 + n_states :])
    w_hr = rest.pop() if proj else None
    return x, states, (*rest, w_hr)


def _sequence_fn(mode, proj=False):
    fn = getattr(R, f"{mode}_sequence")

    def call(*args, reverse, batch_sizes):
        x, states, (w_ih, w_hh, b_ih, b_hh, w_hr) = _split(mode, args, proj)
        kw = {"w_hr": w_hr} if mode == "lstm" else {}
        hx = states if mode == "lstm" else states[0]
        y, final = fn(x, hx, w_ih, w_hh, b_ih, b_hh, reverse=reverse, batch_sizes=batch_sizes, **kw)
        return (y, *final) if mode == "lstm" else (y, final)

    return call


def _lengths(batch_sizes):
    return [sum(1 for s in batch_sizes if s > b) for b in range(batch_sizes[0])]


def _sequence_ref(mode, proj=False):
    def ref(*args, reverse, batch_sizes):
        x, states, weights = _split(mode, args, proj)
        if batch_sizes is not None:  # unpack into a padded (T, B, I) batch first
            lengths = _lengths(batch_sizes)
            padded = np.zeros((lengths[0], len(lengths), x.shape[1]))
            for row, (t, b) in enumerate(_packed_rows(lengths)):
                padded[t, b] = x[row]
        else:
            lengths, padded = None, x
        y, final, _ = _np_sequence(mode, padded, states if mode == "lstm" else states[0], weights, reverse, lengths)
        if batch_sizes is not None:
            y = np.stack([y[t, b] for t, b in _packed_rows(lengths)])
        return (y, *final) if mode == "lstm" else (y, final)

    return ref


def _sequence_torch(mode, proj=False):
    """torch's fused layer; a reverse run is the reverse half of a bidirectional one (other half detached)."""

    def call(*args, reverse, batch_sizes):
        import torch

        x, states, (w_ih, w_hh, b_ih, b_hh, w_hr) = _split(mode, args, proj)
        params = [w for w in (w_ih, w_hh, b_ih, b_hh, w_hr) if w is not None]
        states = [s.unsqueeze(0) for s in states]
        if reverse:
            params = [p.detach() for p in params] + params
            states = [torch.cat([s.detach(), s]) for s in states]
        hx = tuple(states) if mode == "lstm" else states[0]
        flags = (b_ih is not None, 1, 0.0, False, reverse)
        if batch_sizes is None:
            out = getattr(torch, mode)(x, hx, params, *flags, False)
        else:
            out = getattr(torch, mode)(x, torch.tensor(batch_sizes), hx, params, *flags)
        y, finals = out[0], out[1:]
        if reverse:
            y = y[..., y.shape[-1] // 2 :]
        return (y, *(f[-1] for f in finals))

    return call


def _relu_kink(case):
    """A relu pre-activation within finite-difference reach of 0 (the gradient jumps there)."""
    if "reverse" in case.kwargs:
        x, states, weights = _split("rnn_relu", case.args)
        kw = case.kwargs
        lengths = _lengths(kw["batch_sizes"]) if kw["batch_sizes"] is not None else None
        if lengths is not None:
            padded = np.zeros((lengths[0], len(lengths), x.shape[1]))
            for row, (t, b) in enumerate(_packed_rows(lengths)):
                padded[t, b] = x[row]
            x = padded
        _, _, pres = _np_sequence("rnn_relu", x, states[0], weights, kw["reverse"], lengths)
    else:
        x, h, *weights = case.args
        pres = [_np_step("rnn_relu", x, h, *weights)[1]]
    return any(np.any(np.abs(p) < 1e-3) for p in pres)


# ----------------------------------------------------------------------------------------------
# Padding and packing
# ----------------------------------------------------------------------------------------------
@st.composite
def _pad_cases(draw):
    n = draw(st.integers(1, 4))
    trailing = draw(st.sampled_from([(), (2,), (2, 3)]))
    seqs = [draw(array(st.just((draw(st.integers(0 if k else 1, 4)),) + trailing))) for k in range(n)]
    kwargs = {"batch_first": draw(st.booleans()), "padding_value": draw(st.sampled_from([0.0, -1.5])),
              "padding_side": draw(st.sampled_from(["right", "left"]))}
    return Case(tuple(seqs), kwargs)


def _np_pad(*seqs, batch_first, padding_value, padding_side):
    T = max(len(s) for s in seqs)
    out = np.full((T, len(seqs)) + seqs[0].shape[1:], padding_value)
    for b, s in enumerate(seqs):
        if len(s):
            out[(T - len(s) if padding_side == "left" else 0) :][: len(s), b] = s
    return out.swapaxes(0, 1) if batch_first else out


@st.composite
def _pack_cases(draw):
    T, B = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    trailing = draw(st.sampled_from([(), (3,)]))
    lengths = draw(st.lists(st.integers(1, T), min_size=B, max_size=B))
    batch_first = draw(st.booleans())
    enforce_sorted = draw(st.booleans())
    if enforce_sorted:
        lengths = sorted(lengths, reverse=True)
    x = draw(array(st.just(((B, T) if batch_first else (T, B)) + trailing)))
    return Case((x,), {"lengths": lengths, "batch_first": batch_first, "enforce_sorted": enforce_sorted})


def _np_pack(x, lengths, batch_first, enforce_sorted):
    if batch_first:
        x = x.swapaxes(0, 1)
    order = sorted(range(len(lengths)), key=lambda b: -lengths[b])  # stable, as torch
    return np.stack([x[t, order[j]] for t, j in _packed_rows([lengths[b] for b in order])])


@st.composite
def _unpack_cases(draw):
    B = draw(st.integers(1, 4))
    lengths = sorted(draw(st.lists(st.integers(1, 4), min_size=B, max_size=B)), reverse=True)
    trailing = draw(st.sampled_from([(), (2,)]))
    data = draw(array(st.just((sum(lengths),) + trailing)))
    order = draw(st.permutations(range(B)))
    extra = draw(st.integers(0, 2))
    batch_sizes = [sum(n > t for n in lengths) for t in range(lengths[0])]
    kwargs = {"batch_sizes": batch_sizes, "sorted_indices": list(order), "batch_first": draw(st.booleans()),
              "padding_value": draw(st.sampled_from([0.0, 2.5])), "total_length": lengths[0] + extra}
    return Case((data,), kwargs)


def _np_unpack(data, batch_sizes, sorted_indices, batch_first, padding_value, total_length):
    lengths = _lengths(batch_sizes)
    out = np.full((total_length, len(lengths)) + data.shape[1:], padding_value)
    for row, (t, j) in enumerate(_packed_rows(lengths)):
        out[t, sorted_indices[j]] = data[row]
    return out.swapaxes(0, 1) if batch_first else out


def _unpack_fn(data, batch_sizes, sorted_indices, batch_first, padding_value, total_length):
    packed = rnn_utils.PackedSequence(data, mg.tensor(batch_sizes), mg.tensor(sorted_indices))
    return rnn_utils.pad_packed_sequence(packed, batch_first, padding_value, total_length)[0]


def _unpack_torch(data, batch_sizes, sorted_indices, batch_first, padding_value, total_length):
    import torch

    packed = torch.nn.utils.rnn.PackedSequence(data, torch.tensor(batch_sizes), torch.tensor(sorted_indices))
    return torch.nn.utils.rnn.pad_packed_sequence(packed, batch_first, padding_value, total_length)[0]


def _torch_utils(name):
    def call(*args, **kwargs):
        import torch

        fn = getattr(torch.nn.utils.rnn, name)
        if name == "pad_sequence":
            return fn(list(args), **kwargs)
        return fn(*args, **kwargs).data

    return call


SPECS = []
for _mode in GATES:
    SPECS.append(OpSpec(f"{_mode}_cell", _cell_fn(_mode), _cell_ref(_mode), _cell_cases(_mode),
                        avoid=_relu_kink if _mode == "rnn_relu" else None, torch_fn=_cell_torch(_mode)))
    SPECS.append(OpSpec(f"{_mode}_sequence", _sequence_fn(_mode), _sequence_ref(_mode), _sequence_cases(_mode),
                        avoid=_relu_kink if _mode == "rnn_relu" else None, double_backward="refuses",
                        torch_fn=_sequence_torch(_mode)))
SPECS += [
    OpSpec("lstm_sequence_proj", _sequence_fn("lstm", True), _sequence_ref("lstm", True),
           _sequence_cases("lstm", proj=True), double_backward="refuses", torch_fn=_sequence_torch("lstm", True)),
    OpSpec("pad_sequence", lambda *seqs, **kw: rnn_utils.pad_sequence(list(seqs), **kw), _np_pad, _pad_cases(),
           torch_fn=_torch_utils("pad_sequence")),
    OpSpec("pack_padded_sequence", lambda x, **kw: rnn_utils.pack_padded_sequence(x, **kw).data, _np_pack,
           _pack_cases(), torch_fn=_torch_utils("pack_padded_sequence")),
    OpSpec("pad_packed_sequence", _unpack_fn, _np_unpack, _unpack_cases(), torch_fn=_unpack_torch),
]
