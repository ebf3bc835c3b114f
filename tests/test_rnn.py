"""Recurrent layers: nn.RNN/LSTM/GRU and the cells against torch, the fused layer against the cells,
packed batches against each sequence run alone, padding/packing helpers, numerics and bad input.

The op-level checks (gradients vs finite differences, double backward, random shapes) are spec rows
in tests/op_specs/rnn.py.
"""

import warnings

import numpy as np
import pytest
from conftest import torch

import minigrad as mg
import minigrad.nn as nn
from minigrad.autograd.engine import topological_order
from minigrad.nn.utils.rnn import (
    PackedSequence,
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
    unpack_sequence,
    unpad_sequence,
)
from minigrad.testing import assert_close, gradgradcheck

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed (pip install -e .[ref])")

CONFIGS = [  # (class name, constructor keywords)
    ("RNN", {}),
    ("RNN", {"nonlinearity": "relu", "num_layers": 2, "bias": False}),
    ("LSTM", {}),
    ("LSTM", {"num_layers": 2, "bidirectional": True, "batch_first": True}),
    ("LSTM", {"proj_size": 3, "num_layers": 2, "bidirectional": True}),
    ("LSTM", {"bias": False, "proj_size": 2}),
    ("GRU", {}),
    ("GRU", {"num_layers": 2, "bidirectional": True, "batch_first": True, "bias": False}),
]
IDS = [f"{name}-" + "-".join(f"{k}={v}" for k, v in kw.items()) for name, kw in CONFIGS]


def _pair(name, kw, input_size=4, hidden_size=5, dtype="float64"):
    """A torch module and ours with the same weights (loaded from torch's state dict, strict)."""
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(input_size, hidden_size, **kw).to(getattr(torch, dtype))
    ours = getattr(nn, name)(input_size, hidden_size, **kw).to(getattr(mg, dtype))
    ours.load_state_dict({k: mg.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()}, strict=True)
    return ours, theirs


def _states(name, kw, batch, hidden_size=5, rng=None):
    layers = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    h = rng.standard_normal((layers,) + batch + (kw.get("proj_size") or hidden_size,))
    if name == "LSTM":
        return h, rng.standard_normal((layers,) + batch + (hidden_size,))
    return h


def _flat(out):
    """(output, h_n) or (output, (h_n, c_n)) as a flat list."""
    y, state = out
    y = y.data if isinstance(y, (PackedSequence, torch.nn.utils.rnn.PackedSequence if torch else ())) else y
    return [y, *state] if isinstance(state, tuple) else [y, state]


def _compare_with_torch(ours, theirs, x, hx, rtol=1e-7, atol=1e-9):
    """Forward on the same data, backward with the same random cotangents; compare every gradient."""
    to_mg = lambda a: mg.tensor(a, requires_grad=True)  # noqa: E731
    to_t = lambda a: torch.tensor(a, requires_grad=True)  # noqa: E731
    inputs_mg = [to_mg(x)] + ([] if hx is None else [to_mg(h) for h in (hx if isinstance(hx, tuple) else (hx,))])
    inputs_t = [to_t(x)] + ([] if hx is None else [to_t(h) for h in (hx if isinstance(hx, tuple) else (hx,))])
    state_mg = None if hx is None else (tuple(inputs_mg[1:]) if isinstance(hx, tuple) else inputs_mg[1])
    state_t = None if hx is None else (tuple(inputs_t[1:]) if isinstance(hx, tuple) else inputs_t[1])
    outs_mg, outs_t = _flat(ours(inputs_mg[0], state_mg)), _flat(theirs(inputs_t[0], state_t))
    rng = np.random.default_rng(7)
    cots = [rng.standard_normal(o.shape) for o in outs_t]
    for a, b in zip(outs_mg, outs_t):
        assert_close(a, b, rtol=rtol, atol=atol, check_dtype=False)
    sum((o * mg.tensor(c).to(o.dtype)).sum() for o, c in zip(outs_mg, cots)).backward()
    sum((o * torch.tensor(c).to(o.dtype)).sum() for o, c in zip(outs_t, cots)).backward()
    for a, b in zip(inputs_mg, inputs_t):
        assert_close(a.grad, b.grad, rtol=rtol, atol=atol, check_dtype=False)
    grads_t = {k: p.grad for k, p in theirs.named_parameters()}
    for k, p in ours.named_parameters():
        assert_close(p.grad, grads_t[k], rtol=rtol, atol=atol, check_dtype=False, msg=f"gradient of {k}: ")
    return outs_mg


# ----------------------------------------------------------------------------------------------
# Parameters: names, shapes, order, initialisation, state dicts, reprs
# ----------------------------------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_parameter_names_shapes_and_order_match_torch(name, kw):
    ours, theirs = getattr(nn, name)(4, 5, **kw), getattr(torch.nn, name)(4, 5, **kw)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    assert repr(ours) == repr(theirs)
    assert [[tuple(p.shape) for p in ws] for ws in ours.all_weights] == \
        [[tuple(p.shape) for p in ws] for ws in theirs.all_weights]


@needs_torch
@pytest.mark.parametrize("name,kw", [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu", "bias": False}),
                                     ("LSTMCell", {}), ("GRUCell", {"bias": False})])
def test_cell_parameters_and_repr_match_torch(name, kw):
    ours, theirs = getattr(nn, name)(3, 7, **kw), getattr(torch.nn, name)(3, 7, **kw)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("module", [nn.LSTM(8, 64, num_layers=2, proj_size=16), nn.GRUCell(8, 64)],
                         ids=["LSTM", "GRUCell"])
def test_initialisation_is_uniform_within_one_over_sqrt_hidden(module):
    bound = 1 / np.sqrt(64)
    values = np.concatenate([p.detach().numpy().ravel() for p in module.parameters()])
    assert values.dtype == np.float32
    assert np.all(np.abs(values) <= bound)
    assert np.abs(values).max() > 0.98 * bound  # uses the whole range ...
    assert abs(values.std() - bound / np.sqrt(3)) < 0.05 * bound  # ... uniformly
    assert abs(values.mean()) < 0.02 * bound


def test_load_state_dict_refuses_wrong_shapes_and_changes_nothing():
    lstm = nn.LSTM(4, 5, num_layers=2)
    state = {k: v.detach() * 0 + 1 for k, v in lstm.state_dict().items()}
    state["weight_hh_l1"] = mg.ones(20, 4)
    before = {k: v.detach().numpy().copy() for k, v in lstm.state_dict().items()}
    with pytest.raises(RuntimeError, match="weight_hh_l1"):
        lstm.load_state_dict(state)
    for k, v in lstm.state_dict().items():
        assert np.array_equal(v.detach().numpy(), before[k])


# ----------------------------------------------------------------------------------------------
# Outputs and gradients vs torch
# ----------------------------------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("with_state", [False, True], ids=["zero-state", "given-state"])
@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_outputs_and_all_gradients_match_torch(name, kw, with_state):
    rng = np.random.default_rng(0)
    ours, theirs = _pair(name, kw)
    T, B = 6, 3
    x = rng.standard_normal((B, T, 4) if kw.get("batch_first") else (T, B, 4))
    hx = _states(name, kw, (B,), rng=rng) if with_state else None
    outs = _compare_with_torch(ours, theirs, x, hx)
    directions = 2 if kw.get("bidirectional") else 1
    assert outs[0].shape == ((B, T) if kw.get("batch_first") else (T, B)) + (directions * (kw.get("proj_size") or 5),)


@needs_torch
@pytest.mark.parametrize("name,kw", [CONFIGS[k] for k in (1, 3, 4, 7)], ids=[IDS[k] for k in (1, 3, 4, 7)])
def test_unbatched_input_matches_torch(name, kw):
    rng = np.random.default_rng(1)
    ours, theirs = _pair(name, kw)
    for hx in (None, _states(name, kw, (), rng=rng)):
        outs = _compare_with_torch(ours, theirs, rng.standard_normal((5, 4)), hx)
        assert outs[0].ndim == 2 and outs[1].ndim == 2
        ours.zero_grad()
        theirs.zero_grad()


@needs_torch
@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_float32_stays_float32_and_matches_torch(name):
    rng = np.random.default_rng(2)
    ours, theirs = _pair(name, {"num_layers": 2, "bidirectional": True}, dtype="float32")
    x = rng.standard_normal((7, 2, 4)).astype(np.float32)
    outs = _compare_with_torch(ours, theirs, x, None, rtol=1e-4, atol=1e-5)
    assert all(o.dtype == mg.float32 for o in outs)
    assert all(p.grad.dtype == mg.float32 for p in ours.parameters())


@needs_torch
@pytest.mark.parametrize("frozen", ["weights", "input"])
@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_gradients_when_only_some_inputs_require_them(name, frozen):
    rng = np.random.default_rng(12)
    ours, theirs = _pair(name, {"num_layers": 2})
    x = rng.standard_normal((4, 3, 4))
    x_mg, x_t = mg.tensor(x, requires_grad=frozen == "weights"), torch.tensor(x, requires_grad=frozen == "weights")
    if frozen == "weights":
        ours.requires_grad_(False)
        theirs.requires_grad_(False)
    out_mg, out_t = ours(x_mg)[0], theirs(x_t)[0]
    cot = rng.standard_normal(out_t.shape)
    (out_mg * mg.tensor(cot)).sum().backward()
    (out_t * torch.tensor(cot)).sum().backward()
    if frozen == "weights":
        assert_close(x_mg.grad, x_t.grad, rtol=1e-10, atol=1e-12)
        assert all(p.grad is None for p in ours.parameters())
    else:
        assert x_mg.grad is None
        for a, b in zip(ours.parameters(), theirs.parameters()):
            assert_close(a.grad, b.grad, rtol=1e-10, atol=1e-12)


def test_no_grad_forward_equals_recorded_forward():
    gru = nn.GRU(3, 4, num_layers=2, bidirectional=True)
    x = mg.randn(6, 2, 3)
    with mg.no_grad():
        y_plain, h_plain = gru(x)
    y, h = gru(x)
    assert y.requires_grad and not y_plain.requires_grad
    assert_close(y_plain, y, rtol=0, atol=0)
    assert_close(h_plain, h, rtol=0, atol=0)


# ----------------------------------------------------------------------------------------------
# The fused layer equals the cells run step by step
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,cell_name,kw", [("RNN", "RNNCell", {"nonlinearity": "relu"}), ("LSTM", "LSTMCell", {}),
                                               ("GRU", "GRUCell", {}), ("GRU", "GRUCell", {"bias": False})])
def test_fused_layer_equals_cell_by_cell(name, cell_name, kw):
    rng = np.random.default_rng(3)
    layer = getattr(nn, name)(3, 4, **kw).double()
    cell = getattr(nn, cell_name)(3, 4, **kw).double()
    cell.load_state_dict({k[: -len("_l0")]: v for k, v in layer.state_dict().items()})
    x = mg.tensor(rng.standard_normal((6, 2, 3)), requires_grad=True)
    h0 = mg.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    c0 = mg.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    is_lstm = name == "LSTM"
    y, state = layer(x, (h0[None], c0[None]) if is_lstm else h0[None])
    state = (h0, c0) if is_lstm else h0
    steps = []
    for t in range(6):
        state = cell(x[t], state)
        steps.append(state[0] if is_lstm else state)
    y_cells = mg.stack(steps)
    assert_close(y, y_cells, rtol=1e-12, atol=1e-12)
    cot = mg.tensor(rng.standard_normal(y.shape))
    wrt = [x, h0, c0] if is_lstm else [x, h0]
    fused = mg.grad((y * cot).sum(), wrt + list(layer.parameters()))
    stepwise = mg.grad((y_cells * cot).sum(), wrt + list(cell.parameters()))
    for a, b in zip(fused, stepwise):
        assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_fused_layer_is_one_graph_node_per_layer_and_direction():
    lstm = nn.LSTM(4, 5, num_layers=2, bidirectional=True)
    y, (h, c) = lstm(mg.randn(50, 2, 4))
    kinds = [node.name() for node in topological_order([y.grad_fn, h.grad_fn, c.grad_fn])]
    assert kinds.count("LSTMSequence") == 4
    assert len(kinds) < 30, f"the graph grows with the sequence length: {len(kinds)} nodes"


def test_double_backward_through_a_layer_is_refused_clearly_and_cells_support_it():
    lstm = nn.LSTM(3, 4).double()
    x = mg.randn(5, 2, 3, dtype=mg.float64, requires_grad=True)
    (gx,) = mg.grad(lstm(x)[0].pow(2).sum(), [x], create_graph=True)
    with pytest.raises(RuntimeError, match="double backward through the fused LSTMSequence op is not supported"):
        gx.sum().backward()
    cell = nn.LSTMCell(3, 4).double()
    h = mg.randn(2, 4, dtype=mg.float64, requires_grad=True)
    c = mg.randn(2, 4, dtype=mg.float64, requires_grad=True)
    assert gradgradcheck(lambda x, h, c: cell(x, (h, c)), [x[0], h, c])


# ----------------------------------------------------------------------------------------------
# Packed batches
# ----------------------------------------------------------------------------------------------
PACKED = [("RNN", {"num_layers": 2}), ("LSTM", {"bidirectional": True, "num_layers": 2}),
          ("LSTM", {"bidirectional": True, "proj_size": 2}), ("GRU", {"bidirectional": True, "batch_first": True})]


@pytest.mark.parametrize("name,kw", PACKED, ids=[p[0] + str(i) for i, p in enumerate(PACKED)])
def test_packed_batch_equals_each_sequence_run_alone(name, kw):
    """Including the reverse direction, which must start at each sequence's own last element."""
    rng = np.random.default_rng(4)
    module = getattr(nn, name)(3, 4, **kw).double()
    lengths = [2, 5, 1, 4]
    seqs = [mg.tensor(rng.standard_normal((n, 3))) for n in lengths]
    hx = _states(name, kw, (4,), hidden_size=4, rng=rng)
    hx = tuple(mg.tensor(h) for h in hx) if name == "LSTM" else mg.tensor(hx)
    packed = pack_sequence(seqs, enforce_sorted=False)
    out, state = module(packed, hx)
    padded, got_lengths = pad_packed_sequence(out)
    assert got_lengths.tolist() == lengths
    states = list(state) if name == "LSTM" else [state]
    for b, seq in enumerate(seqs):
        own_hx = tuple(h[:, b] for h in hx) if name == "LSTM" else hx[:, b]
        alone, alone_state = module(seq, own_hx)  # unbatched: (L, I)
        assert_close(padded[: lengths[b], b], alone, rtol=1e-12, atol=1e-12)
        assert np.all(padded[lengths[b]:, b].detach().numpy() == 0)
        alone_states = list(alone_state) if name == "LSTM" else [alone_state]
        for s, a in zip(states, alone_states):
            assert_close(s[:, b], a, rtol=1e-12, atol=1e-12)


@needs_torch
@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("name,kw", PACKED, ids=[p[0] + str(i) for i, p in enumerate(PACKED)])
def test_packed_batch_matches_torch(name, kw, enforce_sorted):
    rng = np.random.default_rng(5)
    ours, theirs = _pair(name, kw, input_size=3, hidden_size=4)
    lengths = [5, 4, 2, 1] if enforce_sorted else [2, 5, 1, 4]
    x = rng.standard_normal((5, 4, 3))
    hx = _states(name, kw, (4,), hidden_size=4, rng=rng)
    x_mg, x_t = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    if name == "LSTM":
        hx_mg = tuple(mg.tensor(h, requires_grad=True) for h in hx)
        hx_t = tuple(torch.tensor(h, requires_grad=True) for h in hx)
    else:
        hx_mg, hx_t = mg.tensor(hx, requires_grad=True), torch.tensor(hx, requires_grad=True)
    out_mg = ours(pack_padded_sequence(x_mg, lengths, enforce_sorted=enforce_sorted), hx_mg)
    out_t = theirs(torch.nn.utils.rnn.pack_padded_sequence(x_t, lengths, enforce_sorted=enforce_sorted), hx_t)
    assert out_mg[0].batch_sizes.tolist() == out_t[0].batch_sizes.tolist()
    flat_mg, flat_t = _flat(out_mg), _flat(out_t)
    for a, b in zip(flat_mg, flat_t):
        assert_close(a, b, rtol=1e-10, atol=1e-12)
    cots = [np.random.default_rng(6).standard_normal(o.shape) for o in flat_t]
    sum((o * mg.tensor(c)).sum() for o, c in zip(flat_mg, cots)).backward()
    sum((o * torch.tensor(c)).sum() for o, c in zip(flat_t, cots)).backward()
    leaves_mg = [x_mg, *(hx_mg if name == "LSTM" else (hx_mg,))]
    leaves_t = [x_t, *(hx_t if name == "LSTM" else (hx_t,))]
    for a, b in zip(leaves_mg + list(ours.parameters()), leaves_t + list(theirs.parameters())):
        assert_close(a.grad, b.grad, rtol=1e-10, atol=1e-12)


def test_pad_pack_round_trips_and_padded_positions_get_no_gradient():
    rng = np.random.default_rng(8)
    seqs = [mg.tensor(rng.standard_normal((n, 2)), requires_grad=True) for n in (3, 1, 4)]
    padded = pad_sequence(seqs, batch_first=True, padding_value=-9.0)
    assert padded.shape == (3, 4, 2)
    assert np.all(padded[1, 1:].detach().numpy() == -9.0)
    for back, seq in zip(unpack_sequence(pack_sequence(seqs, enforce_sorted=False)), seqs):
        assert_close(back, seq, rtol=0, atol=0)
    for back, seq in zip(unpad_sequence(padded, [3, 1, 4], batch_first=True), seqs):
        assert_close(back, seq, rtol=0, atol=0)
    x = mg.tensor(rng.standard_normal((4, 3, 2)), requires_grad=True)
    packed = pack_padded_sequence(x, mg.tensor([2, 4, 1]), enforce_sorted=False)
    assert packed.sorted_indices.tolist() == [1, 0, 2] and packed.unsorted_indices.tolist() == [1, 0, 2]
    assert packed.batch_sizes.dtype == mg.int64 and packed.batch_sizes.tolist() == [3, 2, 1, 1]
    again, lengths = pad_packed_sequence(packed, total_length=6)
    assert again.shape == (6, 3, 2) and lengths.tolist() == [2, 4, 1]
    again.sum().backward()
    mask = (np.arange(4)[:, None] < np.array([2, 4, 1])[None, :]).astype(float)[..., None]
    assert np.array_equal(x.grad.numpy(), np.broadcast_to(mask, x.shape))


def test_packed_sequence_moves_dtype_and_keeps_indices():
    packed = pack_sequence([mg.randn(3, 2), mg.randn(1, 2)])
    double = packed.double()
    assert isinstance(double, PackedSequence) and double.data.dtype == mg.float64
    assert double.batch_sizes is packed.batch_sizes and double.sorted_indices is None
    assert packed.to(mg.float32) is packed and not packed.is_cuda


# ----------------------------------------------------------------------------------------------
# Training-mode dropout between layers
# ----------------------------------------------------------------------------------------------
def test_dropout_acts_between_layers_only_in_training():
    lstm = nn.LSTM(3, 4, num_layers=2, dropout=1.0).double()
    x = mg.randn(5, 2, 3, dtype=mg.float64)
    out_train, _ = lstm(x)
    # everything between the layers is dropped: layer 2 sees zeros
    layer2 = nn.LSTM(4, 4).double()
    layer2.load_state_dict({k.replace("_l1", "_l0"): v for k, v in lstm.state_dict().items() if "_l1" in k})
    assert_close(out_train, layer2(mg.zeros(5, 2, 4, dtype=mg.float64))[0], rtol=1e-12, atol=1e-12)
    lstm.eval()
    out_eval, _ = lstm(x)
    assert not np.allclose(out_eval.detach().numpy(), out_train.detach().numpy())
    half = nn.GRU(3, 4, num_layers=3, dropout=0.5)
    mg.manual_seed(11)
    a = half(x.float())[0]
    mg.manual_seed(11)
    b = half(x.float())[0]
    assert_close(a, b, rtol=0, atol=0)
    assert not np.allclose(a.detach().numpy(), half(x.float())[0].detach().numpy())


@pytest.mark.parametrize("bad", [-0.1, 1.5, True, "0.5"])
def test_dropout_outside_unit_interval_is_refused(bad):
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        nn.LSTM(3, 4, num_layers=2, dropout=bad)


def test_dropout_with_one_layer_warns():
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.GRU(3, 4, dropout=0.2)


# ----------------------------------------------------------------------------------------------
# Numerics
# ----------------------------------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_saturated_inputs_stay_finite_and_as_accurate_as_torch(name):
    """Inputs of +-1e4 saturate every gate: no overflow, and our float32 results are as close to the
    float64 truth as torch's float32 ones (pre-activations of ~1e4 carry float32 rounding of ~1e-3,
    and the gradients w.r.t. W_ih sum terms of ~1e4 that cancel, so the yardstick is torch's own error,
    or 1e-3 of the gradient's scale)."""
    rng = np.random.default_rng(9)
    ours, theirs = _pair(name, {"bidirectional": True}, dtype="float32")
    exact = getattr(torch.nn, name)(4, 5, bidirectional=True).double()
    exact.load_state_dict(theirs.state_dict())
    x = rng.choice([-1e4, 1e4], size=(6, 2, 4)) * rng.uniform(0.5, 1, (6, 2, 4))
    cot = rng.standard_normal((6, 2, 10))
    with np.errstate(over="raise", invalid="raise", divide="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        y, _ = ours(mg.tensor(x.astype(np.float32)))
        (y * mg.tensor(cot.astype(np.float32))).sum().backward()
    results = []
    for module, dtype in ((theirs, torch.float32), (exact, torch.float64)):
        out, _ = module(torch.tensor(x, dtype=dtype))
        (out * torch.tensor(cot, dtype=dtype)).sum().backward()
        results.append([out.detach().double().numpy()] + [p.grad.double().numpy() for p in module.parameters()])
    assert y.dtype == mg.float32
    ours_all = [y.detach().numpy()] + [p.grad.numpy() for p in ours.parameters()]
    names = ["output"] + [k for k, _ in ours.named_parameters()]
    for key, a, t32, t64 in zip(names, ours_all, *results):
        assert np.isfinite(a).all(), key
        torch_error = np.abs(t32 - t64).max()
        assert np.abs(a - t64).max() <= max(4 * torch_error, 1e-3 * np.abs(t64).max(), 1e-5), key


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_float16_runs_in_float16_close_to_float32(name):
    module = getattr(nn, name)(4, 8, num_layers=2)
    x = mg.randn(10, 3, 4)
    reference, _ = module(x)
    half = getattr(nn, name)(4, 8, num_layers=2).half()
    half.load_state_dict(module.state_dict())
    x16 = x.half().requires_grad_()
    y, _ = half(x16)
    assert y.dtype == mg.float16
    assert_close(y.float(), reference, rtol=0, atol=1e-2)
    y.float().sum().backward()
    assert x16.grad.dtype == mg.float16 and np.isfinite(x16.grad.numpy()).all()


# ----------------------------------------------------------------------------------------------
# Cells
# ----------------------------------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("name,kw", [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}), ("LSTMCell", {}),
                                     ("GRUCell", {}), ("GRUCell", {"bias": False})])
@pytest.mark.parametrize("batched", [True, False])
def test_cells_match_torch(name, kw, batched):
    rng = np.random.default_rng(10)
    theirs = getattr(torch.nn, name)(3, 5, **kw).double()
    ours = getattr(nn, name)(3, 5, **kw).double()
    ours.load_state_dict({k: mg.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    lead = (2,) if batched else ()
    x = rng.standard_normal(lead + (3,))
    state = [rng.standard_normal(lead + (5,)) for _ in range(2 if name == "LSTMCell" else 1)]
    x_mg, x_t = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    s_mg = [mg.tensor(s, requires_grad=True) for s in state]
    s_t = [torch.tensor(s, requires_grad=True) for s in state]
    pack = (lambda s: tuple(s)) if name == "LSTMCell" else (lambda s: s[0])  # noqa: E731
    for hx_mg, hx_t in ((None, None), (pack(s_mg), pack(s_t))):
        out_mg, out_t = ours(x_mg, hx_mg), theirs(x_t, hx_t)
        out_mg = list(out_mg) if name == "LSTMCell" else [out_mg]
        out_t = list(out_t) if name == "LSTMCell" else [out_t]
        for a, b in zip(out_mg, out_t):
            assert_close(a, b, rtol=1e-12, atol=1e-12)
    sum(o.pow(2).sum() for o in out_mg).backward()
    sum(o.pow(2).sum() for o in out_t).backward()
    for a, b in zip([x_mg, *s_mg, *ours.parameters()], [x_t, *s_t, *theirs.parameters()]):
        assert_close(a.grad, b.grad, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------------------------
# Bad input: clear errors, raised before any work
# ----------------------------------------------------------------------------------------------
def test_wrong_input_rank_is_refused():
    with pytest.raises(ValueError, match=r"LSTM: Expected input to be 2D or 3D, got 4D instead \(shape \(2, 3, 4, 5\)"):
        nn.LSTM(5, 4)(mg.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match="GRUCell: Expected input to be 1D or 2D"):
        nn.GRUCell(5, 4)(mg.randn(2, 3, 5))


def test_input_size_mismatch_shows_both_sizes():
    with pytest.raises(RuntimeError, match=r"input.size\(-1\) must be equal to input_size. Expected 5, got 3"):
        nn.GRU(5, 4)(mg.randn(6, 2, 3))
    with pytest.raises(RuntimeError, match=r"input has 3 features .* expects input_size 5"):
        nn.LSTMCell(5, 4)(mg.randn(2, 3))


def test_wrong_initial_state_shapes_show_expected_and_got():
    lstm = nn.LSTM(3, 4, num_layers=2)
    x = mg.randn(5, 2, 3)
    with pytest.raises(RuntimeError, match=r"expected h_0 of shape \(2, 2, 4\) .* got \(1, 2, 4\)"):
        lstm(x, (mg.zeros(1, 2, 4), mg.zeros(2, 2, 4)))
    with pytest.raises(RuntimeError, match=r"expected c_0 of shape \(2, 2, 4\) .* got \(2, 3, 4\)"):
        lstm(x, (mg.zeros(2, 2, 4), mg.zeros(2, 3, 4)))
    with pytest.raises(RuntimeError, match=r"expected h_0 of shape \(2, 2, 2\) \(num_layers \* num_directions, batch, "
                                           r"proj_size\), got \(2, 2, 4\)"):
        nn.LSTM(3, 4, num_layers=2, proj_size=2)(x, (mg.zeros(2, 2, 4), mg.zeros(2, 2, 4)))
    with pytest.raises(RuntimeError, match="for unbatched 2-D input, h_0 should also be 2-D, got shape"):
        nn.RNN(3, 4)(mg.randn(5, 3), mg.zeros(1, 1, 4))
    with pytest.raises(RuntimeError, match="for batched 3-D input, h_0 should also be 3-D"):
        nn.GRU(3, 4)(x, mg.zeros(2, 4))
    with pytest.raises(TypeError, match=r"hx must be a tuple \(h_0, c_0\)"):
        lstm(x, mg.zeros(2, 2, 4))
    with pytest.raises(ValueError, match=r"Expected hidden to be 2D like the input"):
        nn.RNNCell(3, 4)(mg.randn(2, 3), mg.zeros(4))
    with pytest.raises(RuntimeError, match=r"expected hx\[1\] of shape \(2, 4\) .* got \(3, 4\)"):
        nn.LSTMCell(3, 4)(mg.randn(2, 3), (mg.zeros(2, 4), mg.zeros(3, 4)))


def test_dtype_mismatch_is_refused():
    with pytest.raises(ValueError, match="input dtype .*float64.* does not match weight dtype .*float32"):
        nn.RNN(3, 4)(mg.randn(5, 2, 3, dtype=mg.float64))


def test_packing_errors():
    x = mg.randn(4, 3, 2)
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order when `enforce_sorted` is True"):
        pack_padded_sequence(x, [2, 3, 1])
    with pytest.raises(RuntimeError, match="greater than 0"):
        pack_padded_sequence(x, [2, 0, 1], enforce_sorted=False)
    with pytest.raises(RuntimeError, match=r"length of 5 exceeds the padded length 4 of input shape \(4, 3, 2\)"):
        pack_padded_sequence(x, [5, 2, 1])
    with pytest.raises(ValueError, match="got 2 lengths for a batch of 3 sequences"):
        pack_padded_sequence(x, [2, 1])
    with pytest.raises(ValueError, match="total_length=2 and max sequence length being 4"):
        pad_packed_sequence(pack_padded_sequence(x, [4, 2, 1]), total_length=2)
    with pytest.raises(RuntimeError, match=r"same shape after the first .* got shapes \(2, 3\), \(2, 4\)"):
        pad_sequence([mg.zeros(2, 3), mg.zeros(2, 4)])
    with pytest.raises(ValueError, match="padding_side must be 'left' or 'right'"):
        pad_sequence([mg.zeros(2, 3)], padding_side="middle")


@pytest.mark.parametrize("kwargs,error,match", [
    ({"proj_size": 4}, ValueError, "proj_size has to be smaller than hidden_size"),
    ({"proj_size": -1}, ValueError, "proj_size should be a positive integer or zero"),
    ({"num_layers": 0}, ValueError, "num_layers must be greater than zero"),
    ({"bidirectional": 1}, TypeError, "bidirectional should be of type bool"),
])
def test_constructor_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        nn.LSTM(3, 4, **kwargs)
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM"):
        nn.RNNBase("GRU", 3, 4, proj_size=2)
    with pytest.raises(ValueError, match="Unknown nonlinearity 'gelu'"):
        nn.RNN(3, 4, nonlinearity="gelu")
