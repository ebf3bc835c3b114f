"""Transformer layers against torch (weights copied via state_dict, strict), masks, errors, train/eval."""

import numpy as np
import pytest
from conftest import torch

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.testing import assert_close

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed (pip install -e .[ref])")
pytestmark = pytest.mark.filterwarnings("ignore:enable_nested_tensor is True", "ignore:Support for mismatched")

D_MODEL, NHEAD, FF, N = 8, 2, 16, 3


def _pair(make_ours, make_theirs):
    """A torch module in float64 eval mode, and ours with its weights (load_state_dict strict=True)."""
    theirs = make_theirs().double().eval()
    ours = make_ours().to(mg.float64).eval()
    ours.load_state_dict({k: mg.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()}, strict=True)
    return ours, theirs


def _both(array, requires_grad=False):
    """The same array as a minigrad and a torch tensor (None stays None)."""
    if array is None:
        return None, None
    return mg.tensor(array, requires_grad=requires_grad), torch.tensor(array, requires_grad=requires_grad)


def _check(ours, theirs, our_inputs, their_inputs, out, expected, rng):
    """Outputs, input gradients and parameter gradients agree (random cotangent)."""
    assert_close(out, expected, rtol=1e-9, atol=1e-10)
    cot = rng.standard_normal(out.shape)
    (out * mg.tensor(cot)).sum().backward()
    (expected * torch.tensor(cot)).sum().backward()
    for a, b in zip(our_inputs, their_inputs):
        assert_close(a.grad, b.grad, rtol=1e-8, atol=1e-10)
    torch_params = dict(theirs.named_parameters())
    for name, param in ours.named_parameters():
        assert_close(param.grad, torch_params[name].grad, rtol=1e-8, atol=1e-10, msg=f"{name}: ")


def _masks(rng, L, S, kind, unbatched=False):
    """(attention mask, key padding mask) as NumPy arrays in MultiheadAttention's convention."""
    if kind == "none":
        return None, None
    if kind == "causal":
        return np.triu(np.full((L, S), -np.inf), 1), None
    padding = rng.random((N, S)) > 0.7
    padding[:, 0] = False  # every query keeps a key to attend to
    if unbatched:
        padding = padding[0]
    if kind == "bool":
        attn = rng.random((L, S)) > 0.8
        attn[:, 0] = False
        return attn, padding
    return rng.standard_normal((L, S)), padding


CASES = [
    {"norm_first": False, "activation": "relu", "batch_first": False, "masks": "none"},
    {"norm_first": True, "activation": "gelu", "batch_first": True, "masks": "bool"},
    {"norm_first": False, "activation": "gelu", "batch_first": True, "masks": "causal"},
    {"norm_first": True, "activation": "relu", "batch_first": False, "masks": "float"},
    {"norm_first": True, "activation": "callable", "batch_first": False, "masks": "none", "bias": False},
    {"norm_first": False, "activation": "relu", "batch_first": False, "masks": "bool", "unbatched": True},
]
CASE_IDS = ["post-norm-relu", "pre-norm-gelu-batch-first-bool", "post-norm-causal", "pre-norm-float-masks",
            "callable-activation-no-bias", "unbatched"]


def _options(case, functional):
    activation = functional.silu if case["activation"] == "callable" else case["activation"]
    return {"d_model": D_MODEL, "nhead": NHEAD, "dim_feedforward": FF, "dropout": 0.1, "activation": activation,
            "layer_norm_eps": 1e-6, "batch_first": case["batch_first"], "norm_first": case["norm_first"],
            "bias": case.get("bias", True)}


def _sequence(rng, case, length):
    if case.get("unbatched"):
        shape = (length, D_MODEL)
    else:
        shape = (N, length, D_MODEL) if case["batch_first"] else (length, N, D_MODEL)
    return _both(rng.standard_normal(shape), requires_grad=True)


@needs_torch
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_encoder_layer_matches_torch(case):
    ours, theirs = _pair(lambda: nn.TransformerEncoderLayer(**_options(case, F)),
                         lambda: torch.nn.TransformerEncoderLayer(**_options(case, torch.nn.functional)))
    rng = np.random.default_rng(0)
    x, tx = _sequence(rng, case, 5)
    attn, padding = _masks(rng, 5, 5, case["masks"], case.get("unbatched", False))
    (mask, tmask), (pad, tpad) = _both(attn), _both(padding)
    causal = case["masks"] == "causal"
    out = ours(x, src_mask=mask, src_key_padding_mask=pad, is_causal=causal)
    expected = theirs(tx, src_mask=tmask, src_key_padding_mask=tpad, is_causal=causal)
    _check(ours, theirs, [x], [tx], out, expected, rng)


@needs_torch
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_decoder_layer_matches_torch(case):
    ours, theirs = _pair(lambda: nn.TransformerDecoderLayer(**_options(case, F)),
                         lambda: torch.nn.TransformerDecoderLayer(**_options(case, torch.nn.functional)))
    rng = np.random.default_rng(1)
    tgt, ttgt = _sequence(rng, case, 4)
    memory, tmemory = _sequence(rng, case, 6)
    tgt_attn, tgt_padding = _masks(rng, 4, 4, case["masks"], case.get("unbatched", False))
    memory_attn, memory_padding = _masks(rng, 4, 6, "bool" if case["masks"] == "causal" else case["masks"],
                                         case.get("unbatched", False))
    masks = [_both(m) for m in (tgt_attn, memory_attn, tgt_padding, memory_padding)]
    causal = case["masks"] == "causal"
    out = ours(tgt, memory, *[m[0] for m in masks], tgt_is_causal=causal)
    expected = theirs(ttgt, tmemory, *[m[1] for m in masks], tgt_is_causal=causal)
    _check(ours, theirs, [tgt, memory], [ttgt, tmemory], out, expected, rng)


@needs_torch
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_matches_torch(norm_first, batch_first):
    options = {"d_model": D_MODEL, "nhead": NHEAD, "num_encoder_layers": 2, "num_decoder_layers": 2,
               "dim_feedforward": FF, "dropout": 0.1, "batch_first": batch_first, "norm_first": norm_first}
    ours, theirs = _pair(lambda: nn.Transformer(**options), lambda: torch.nn.Transformer(**options))
    rng = np.random.default_rng(2)
    case = {"batch_first": batch_first}
    src, tsrc = _sequence(rng, case, 6)
    tgt, ttgt = _sequence(rng, case, 5)
    tgt_mask = nn.Transformer.generate_square_subsequent_mask(5, dtype=mg.float64)
    ttgt_mask = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
    padding = rng.random((N, 6)) > 0.7
    padding[:, 0] = False
    (pad, tpad) = _both(padding)
    out = ours(src, tgt, tgt_mask=tgt_mask, src_key_padding_mask=pad, memory_key_padding_mask=pad)
    expected = theirs(tsrc, ttgt, tgt_mask=ttgt_mask, src_key_padding_mask=tpad, memory_key_padding_mask=tpad)
    _check(ours, theirs, [src, tgt], [tsrc, ttgt], out, expected, rng)


@needs_torch
def test_encoder_and_decoder_stacks_match_torch():
    layer_options = {"d_model": D_MODEL, "nhead": NHEAD, "dim_feedforward": FF, "norm_first": True}
    ours, theirs = _pair(
        lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(**layer_options), 3, nn.LayerNorm(D_MODEL)),
        lambda: torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(**layer_options), 3,
                                            torch.nn.LayerNorm(D_MODEL)))
    rng = np.random.default_rng(3)
    x, tx = _sequence(rng, {"batch_first": False}, 6)
    causal, tcausal = _both(np.triu(np.ones((6, 6), bool), 1))  # detected as causal (is_causal=None)
    out, expected = ours(x, mask=causal), theirs(tx, mask=tcausal)
    _check(ours, theirs, [x], [tx], out, expected, rng)

    ours, theirs = _pair(lambda: nn.TransformerDecoder(nn.TransformerDecoderLayer(**layer_options), 2),
                         lambda: torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(**layer_options), 2))
    tgt, ttgt = _sequence(rng, {"batch_first": False}, 4)
    memory, tmemory = _sequence(rng, {"batch_first": False}, 6)
    out, expected = ours(tgt, memory), theirs(ttgt, tmemory)
    _check(ours, theirs, [tgt, memory], [ttgt, tmemory], out, expected, rng)


@needs_torch
def test_names_and_square_subsequent_mask_are_torchs():
    ours = nn.Transformer(D_MODEL, NHEAD, 2, 1, FF)
    theirs = torch.nn.Transformer(D_MODEL, NHEAD, 2, 1, FF)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
           {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    mask = nn.Transformer.generate_square_subsequent_mask(4)
    assert mask.dtype == mg.float32
    assert_close(mask, torch.nn.Transformer.generate_square_subsequent_mask(4), rtol=0, atol=0, equal_nan=False)


def test_stacked_layers_are_independent_copies():
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(D_MODEL, NHEAD, FF), 2)
    first, second = encoder.layers[0].linear1.weight, encoder.layers[1].linear1.weight
    assert first is not second and np.array_equal(first.data, second.data)
    with mg.no_grad():
        first.mul_(2.0)
    assert not np.array_equal(first.data, second.data)
    assert len(list(encoder.parameters())) == 2 * len(list(encoder.layers[0].parameters()))


def test_transformer_initialises_matrices_with_xavier():
    model = nn.Transformer(16, 2, 1, 1, 32)
    w = model.encoder.layers[0].linear1.weight.data  # (32, 16): bound sqrt(6 / 48)
    assert np.abs(w).max() <= np.sqrt(6 / 48)
    assert np.all(model.encoder.norm.weight.data == 1)


def test_dropout_only_in_training():
    layer = nn.TransformerEncoderLayer(D_MODEL, NHEAD, FF, dropout=0.5)
    x = mg.randn(5, 2, D_MODEL)
    layer.eval()
    assert_close(layer(x), layer(x), rtol=0, atol=0)
    layer.train()
    assert not np.allclose(layer(x).data, layer(x).data)


def test_errors():
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(D_MODEL, NHEAD, activation="tanh")
    with pytest.raises(ValueError, match="divisible by num_heads"):
        nn.TransformerEncoderLayer(10, 3)
    model = nn.Transformer(D_MODEL, NHEAD, 1, 1, FF)
    with pytest.raises(RuntimeError, match=r"batch number of src and tgt must be equal.*\(5, 2, 8\).*\(4, 3, 8\)"):
        model(mg.randn(5, 2, D_MODEL), mg.randn(4, 3, D_MODEL))
    with pytest.raises(RuntimeError, match=r"d_model = 8"):
        model(mg.randn(5, 2, 6), mg.randn(4, 2, 6))
    layer = nn.TransformerEncoderLayer(D_MODEL, NHEAD, FF)
    with pytest.raises(RuntimeError, match=r"src of shape .* got \(5, 2, 6\)"):
        layer(mg.randn(5, 2, 6))
    with pytest.raises(RuntimeError, match=r"attn_mask is \(4, 4\), but should be \(5, 5\)"):
        layer(mg.randn(5, 2, D_MODEL), src_mask=mg.zeros(4, 4))
