"""Attention: scaled_dot_product_attention (math and flash paths) and nn.MultiheadAttention.

The op-spec rows (tests/op_specs/attention.py) check forward, gradients and double backward on
random shapes; here are the behaviours a reader should be able to find by name: mask conventions,
causality, fully masked rows, dropout, backend choice, the flash path's memory, float16, errors,
and MultiheadAttention against torch with copied weights.
"""

import logging
import tracemalloc

import numpy as np
import pytest
from conftest import torch
from op_specs.attention import reference_attention

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.nn.attention import SDPBackend, flash_attention, sdpa_kernel
from minigrad.testing import assert_close, gradcheck, gradgradcheck

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed (pip install -e .[ref])")


def _qkv(B=2, H=3, L=5, S=7, E=4, Ev=6, dtype=np.float64, seed=0, requires_grad=True):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(dtype) for s in ((B, H, L, E), (B, H, S, E), (B, H, S, Ev))]
    return [mg.tensor(a, requires_grad=requires_grad) for a in arrays]


def _grads(out, inputs, seed=1):
    cot = mg.tensor(np.random.default_rng(seed).standard_normal(out.shape).astype(out.data.dtype))
    return mg.grad([out], inputs, [cot])


# ----------------------------------------------------------------------------------------------
# masks and causality
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["math", "flash"])
def test_bool_mask_true_means_may_attend(path):
    q, k, v = _qkv(requires_grad=False)
    allowed = np.random.default_rng(2).random((5, 7)) > 0.4
    allowed[:, 0] = True
    with sdpa_kernel(path):
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mg.tensor(allowed))
        # changing keys/values where attention is not allowed cannot change the output
        k2, v2 = k.data.copy(), v.data.copy()
        hidden = ~allowed.any(axis=0)
        k2[..., hidden, :] += 100.0
        v2[..., hidden, :] -= 50.0
        out2 = F.scaled_dot_product_attention(q, mg.tensor(k2), mg.tensor(v2), attn_mask=mg.tensor(allowed))
    assert_close(out, reference_attention(q.data, k.data, v.data, allowed), rtol=1e-10, atol=1e-12)
    assert_close(out2, out, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("path", ["math", "flash"])
def test_bool_mask_equals_additive_minus_inf_mask(path):
    q, k, v = _qkv()
    allowed = np.random.default_rng(3).random((2, 1, 5, 7)) > 0.3
    additive = np.where(allowed, 0.0, -np.inf)
    with sdpa_kernel(path):
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mg.tensor(allowed))
        b = F.scaled_dot_product_attention(q, k, v, attn_mask=mg.tensor(additive))
    assert_close(a, b, rtol=1e-12, atol=1e-12)
    for ga, gb in zip(_grads(a, [q, k, v]), _grads(b, [q, k, v])):
        assert_close(ga, gb, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("L,S", [(6, 4), (4, 6), (5, 5)])
@pytest.mark.parametrize("path", ["math", "flash"])
def test_causal_is_top_left_aligned(path, L, S):
    q, k, v = _qkv(L=L, S=S)
    top_left = np.tril(np.ones((L, S), bool))  # query i sees keys 0..i, whatever S is
    with sdpa_kernel(path):
        causal = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        masked = F.scaled_dot_product_attention(q, k, v, attn_mask=mg.tensor(top_left))
    assert_close(causal, masked, rtol=1e-12, atol=1e-12)
    for ga, gb in zip(_grads(causal, [q, k, v]), _grads(masked, [q, k, v])):
        assert_close(ga, gb, rtol=1e-12, atol=1e-12)


@needs_torch
@pytest.mark.parametrize("path", ["math", "flash"])
def test_fully_masked_rows_give_zeros_like_torch(path):
    q, k, v = _qkv()
    allowed = np.random.default_rng(4).random((5, 7)) > 0.5
    allowed[1] = False  # query 1 may attend to nothing
    with sdpa_kernel(path):
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mg.tensor(allowed))
    grads = _grads(out, [q, k, v])
    assert np.all(out.data[..., 1, :] == 0) and np.isfinite(out.data).all()
    assert np.all(grads[0].data[..., 1, :] == 0)
    tq, tk, tv = (torch.tensor(t.data, requires_grad=True) for t in (q, k, v))
    expected = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=torch.tensor(allowed))
    cot = np.random.default_rng(1).standard_normal(out.shape)
    expected_grads = torch.autograd.grad(expected, (tq, tk, tv), torch.tensor(cot))
    assert_close(out, expected, rtol=1e-10, atol=1e-12)
    for ours, theirs in zip(grads, expected_grads):
        assert_close(ours, theirs, rtol=1e-9, atol=1e-12)


def test_masks_broadcast_over_batch_and_heads():
    q, k, v = _qkv(requires_grad=False)
    rng = np.random.default_rng(5)
    for shape in [(7,), (5, 7), (3, 1, 7), (2, 1, 5, 7), (1, 3, 5, 1)]:
        mask = rng.standard_normal(shape)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mg.tensor(mask))
        assert_close(out, reference_attention(q.data, k.data, v.data, mask), rtol=1e-10, atol=1e-12)


def test_float_mask_receives_its_gradient():
    q, k, v = _qkv(requires_grad=False)
    mask = mg.tensor(np.random.default_rng(6).standard_normal((3, 5, 7)), requires_grad=True)
    assert gradcheck(lambda m: F.scaled_dot_product_attention(q, k, v, attn_mask=m), [mask])


# ----------------------------------------------------------------------------------------------
# the flash path
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("L,S,block", [(37, 53, (8, 16)), (64, 64, (16, 16)), (50, 20, (7, 32))])
def test_flash_equals_math_in_float32(causal, L, S, block):
    q, k, v = _qkv(B=2, H=2, L=L, S=S, E=16, Ev=8, dtype=np.float32, seed=7)
    with sdpa_kernel("math"):
        expected = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    out = flash_attention(q, k, v, is_causal=causal, block_q=block[0], block_k=block[1])
    assert out.dtype == mg.float32 and out.grad_fn.name() == "FlashAttention"
    assert_close(out, expected, rtol=1e-5, atol=1e-5)
    for ga, gb in zip(_grads(out, [q, k, v]), _grads(expected, [q, k, v])):
        assert ga.dtype == mg.float32
        assert_close(ga, gb, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("causal", [False, True])
def test_flash_with_broadcast_batch_and_ragged_tiles(causal):
    # K and V broadcast over the batch dim; neither length is a multiple of the tile
    rng = np.random.default_rng(15)
    q = mg.tensor(rng.standard_normal((2, 3, 300, 16)).astype(np.float32), requires_grad=True)
    k = mg.tensor(rng.standard_normal((1, 3, 280, 16)).astype(np.float32), requires_grad=True)
    v = mg.tensor(rng.standard_normal((1, 3, 280, 8)).astype(np.float32), requires_grad=True)
    with sdpa_kernel("math"):
        expected = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    out = flash_attention(q, k, v, is_causal=causal, block_q=128, block_k=256)
    assert_close(out, expected, rtol=1e-5, atol=1e-5)
    for ga, gb in zip(_grads(out, [q, k, v]), _grads(expected, [q, k, v])):
        assert_close(ga, gb, rtol=1e-5, atol=1e-5)


def test_flash_with_masks_equals_math_in_float32():
    q, k, v = _qkv(B=2, H=2, L=33, S=41, E=8, Ev=8, dtype=np.float32, seed=8)
    rng = np.random.default_rng(9)
    allowed = rng.random((2, 1, 33, 41)) > 0.3
    allowed[0, 0, 4] = False
    additive = mg.tensor(rng.standard_normal((33, 41)).astype(np.float32))
    for mask in (mg.tensor(allowed), additive):
        with sdpa_kernel("math"):
            expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        out = flash_attention(q, k, v, attn_mask=mask, block_q=8, block_k=8)
        assert_close(out, expected, rtol=1e-5, atol=1e-5)
        for ga, gb in zip(_grads(out, [q, k, v]), _grads(expected, [q, k, v])):
            assert_close(ga, gb, rtol=1e-5, atol=1e-5)


def test_flash_never_materialises_the_score_matrix():
    L = S = 1024
    q, k, v = _qkv(B=1, H=2, L=L, S=S, E=16, Ev=16, dtype=np.float32, seed=10)
    scores_bytes = 2 * L * S * 4

    def peak(run):
        tracemalloc.start()
        out = run()
        out.backward(mg.ones_like(out))
        peak_bytes = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        for t in (q, k, v):
            t.grad = None
        return peak_bytes

    flash = peak(lambda: flash_attention(q, k, v, is_causal=True, block_q=128, block_k=128))
    with sdpa_kernel("math"):
        math_path = peak(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True))
    assert math_path > scores_bytes  # the math path holds P (and dP) ...
    assert flash < scores_bytes / 4  # ... the flash path only tiles and O(N d) arrays


def test_backend_choice(caplog):
    q, k, v = _qkv(B=1, H=1, L=600, S=600, E=4, Ev=4, dtype=np.float32)
    assert F.scaled_dot_product_attention(q, k, v).grad_fn.name() == "FlashAttention"  # long: automatic
    small = _qkv(L=8, S=8)
    assert F.scaled_dot_product_attention(*small).grad_fn.name() == "ScaledDotProductAttention"
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        assert F.scaled_dot_product_attention(*small).grad_fn.name() == "FlashAttention"
    with sdpa_kernel([SDPBackend.MATH]):
        assert F.scaled_dot_product_attention(q, k, v).grad_fn.name() == "ScaledDotProductAttention"
    # a float mask that needs its gradient: automatic choice falls back (and says why) ...
    mask = mg.zeros(600, 600, requires_grad=True)
    with caplog.at_level(logging.DEBUG, logger="minigrad.attention"):
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert out.grad_fn.name() == "ScaledDotProductAttention"
    assert "requires grad" in caplog.text
    # ... and a forced flash path refuses clearly
    with sdpa_kernel("flash"), pytest.raises(RuntimeError, match="requires grad"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    with pytest.raises(ValueError, match="unknown backend"):
        with sdpa_kernel("cudnn"):
            pass


# ----------------------------------------------------------------------------------------------
# dropout
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["math", "flash"])
def test_dropout_is_reproducible_from_the_seed(path):
    q, k, v = _qkv(L=20, S=24)
    with sdpa_kernel(path):
        mg.manual_seed(123)
        a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.3)
        b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.3)
        mg.manual_seed(123)
        c = F.scaled_dot_product_attention(q, k, v, dropout_p=0.3)
        plain = F.scaled_dot_product_attention(q, k, v)
    assert_close(a, c, rtol=0, atol=0)
    assert not np.allclose(a.data, b.data)
    assert not np.allclose(a.data, plain.data)


@pytest.mark.parametrize("path", ["math", "flash"])
def test_dropout_gradients_match_the_same_masks(path):
    q, k, v = _qkv(L=6, S=9)

    def attention(q, k, v):
        mg.manual_seed(7)  # the same dropout masks on every call
        if path == "flash":
            return flash_attention(q, k, v, dropout_p=0.4, block_q=4, block_k=4)
        with sdpa_kernel("math"):
            return F.scaled_dot_product_attention(q, k, v, dropout_p=0.4)

    assert gradcheck(attention, [q, k, v])
    assert gradgradcheck(attention, [q, k, v])


def test_dropout_gradients_through_returned_weights():
    mha = nn.MultiheadAttention(4, 2, dropout=0.3).to(mg.float64)
    x = mg.tensor(np.random.default_rng(16).standard_normal((5, 2, 4)), requires_grad=True)

    def attention(x):
        mg.manual_seed(11)
        return mha(x, x, x, average_attn_weights=False)

    assert gradcheck(attention, [x])


def test_dropout_drops_weights_and_rescales_the_rest():
    mha = nn.MultiheadAttention(8, 2, dropout=0.25, batch_first=True)
    x = mg.randn(4, 50, 8)
    with mg.no_grad():
        _, kept = mha(x, x, x, average_attn_weights=False)
        mha.eval()
        _, full = mha(x, x, x, average_attn_weights=False)
    dropped = kept.data == 0
    assert 0.2 < dropped.mean() < 0.3
    assert_close(kept.data[~dropped], full.data[~dropped] / 0.75, rtol=1e-5, atol=1e-7)


# ----------------------------------------------------------------------------------------------
# precision, stability, higher order
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["math", "flash"])
def test_float16_is_computed_in_float32(path):
    q, k, v = _qkv(L=40, S=30, E=8, Ev=8, dtype=np.float16)
    with sdpa_kernel(path):
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert out.dtype == mg.float16
    expected = reference_attention(q.data.astype(np.float64), k.data.astype(np.float64), v.data.astype(np.float64),
                                   is_causal=True)
    assert_close(out, expected, rtol=2e-3, atol=2e-3)
    gq = _grads(out, [q])[0]
    assert gq.dtype == mg.float16 and np.isfinite(gq.data).all()


@pytest.mark.parametrize("path", ["math", "flash"])
def test_extreme_logits_stay_finite(path):
    q, k, v = _qkv(L=9, S=11, dtype=np.float32)
    mask = mg.tensor(np.where(np.random.default_rng(11).random((9, 11)) > 0.5, 1e4, -1e4).astype(np.float32))
    with sdpa_kernel(path):
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=1e3)
    grads = _grads(out, [q, k, v])
    assert np.isfinite(out.data).all() and all(np.isfinite(g.data).all() for g in grads)
    expected = reference_attention(q.data.astype(np.float64), k.data.astype(np.float64), v.data.astype(np.float64),
                                   mask.data.astype(np.float64), scale=1e3)
    assert_close(out, expected, rtol=1e-3, atol=1e-3)


def test_flash_double_backward_with_masks():
    q, k, v = _qkv(L=5, S=6, E=3, Ev=2)
    allowed = mg.tensor(np.random.default_rng(12).random((5, 6)) > 0.3)
    assert gradgradcheck(lambda q, k, v: flash_attention(q, k, v, attn_mask=allowed, block_q=2, block_k=4),
                         [q, k, v])


# ----------------------------------------------------------------------------------------------
# errors
# ----------------------------------------------------------------------------------------------
def test_sdpa_errors_name_the_shapes():
    q, k, v = _qkv(requires_grad=False)
    with pytest.raises(RuntimeError, match=r"\(4, 7\) cannot be broadcast .* \(2, 3, 5, 7\)"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=mg.ones(4, 7, dtype=mg.bool))
    with pytest.raises(RuntimeError, match=r"feature size.*\(2, 3, 5, 4\).*\(2, 3, 7, 3\)"):
        F.scaled_dot_product_attention(q, k[..., :3], v)
    with pytest.raises(RuntimeError, match="sequence length"):
        F.scaled_dot_product_attention(q, k, v[..., :6, :])
    with pytest.raises(RuntimeError, match="at least 2-D"):
        F.scaled_dot_product_attention(mg.ones(4), k, v)
    with pytest.raises(RuntimeError, match="batch dims"):
        F.scaled_dot_product_attention(q, k[:1, :2], v[:1, :2])
    with pytest.raises(RuntimeError, match="same dtype"):
        F.scaled_dot_product_attention(q, k.float(), v)
    with pytest.raises(RuntimeError, match="is_causal"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=mg.ones(5, 7, dtype=mg.bool), is_causal=True)
    with pytest.raises(RuntimeError, match="dtype bool or a floating"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=mg.ones(5, 7, dtype=mg.int64))
    with pytest.raises(ValueError, match="dropout_p"):
        F.scaled_dot_product_attention(q, k, v, dropout_p=1.5)
    with pytest.raises(RuntimeError, match="multiple of the number of key/value heads"):
        F.scaled_dot_product_attention(q, k[:, :2], v[:, :2], enable_gqa=True)
    with pytest.raises(ValueError, match="tile sizes"):
        flash_attention(q, k, v, block_q=0)


# ----------------------------------------------------------------------------------------------
# MultiheadAttention against torch
# ----------------------------------------------------------------------------------------------
def _torch_mha(mha, torch_kwargs):
    reference = torch.nn.MultiheadAttention(**torch_kwargs).double()
    mha.load_state_dict({k: mg.tensor(v.detach().numpy()) for k, v in reference.state_dict().items()}, strict=True)
    return reference


MHA_CASES = {
    "defaults": {},
    "batch_first": {"batch_first": True},
    "self_attention": {"self_attention": True},
    "self_attention_batch_first_causal": {"self_attention": True, "batch_first": True, "attn_mask": "causal",
                                          "is_causal": True, "need_weights": False},
    "kdim_vdim": {"kdim": 5, "vdim": 3},
    "kdim_vdim_batch_first_masks": {"kdim": 5, "vdim": 3, "batch_first": True, "attn_mask": "bool2d",
                                    "key_padding_mask": "bool"},
    "no_bias": {"bias": False, "need_weights": False},
    "bias_kv_zero_attn": {"add_bias_kv": True, "add_zero_attn": True, "attn_mask": "float3d",
                          "key_padding_mask": "bool"},
    "per_head_weights": {"average_attn_weights": False, "attn_mask": "bool3d"},
    "float_masks_sdpa": {"attn_mask": "float2d", "key_padding_mask": "float", "need_weights": False},
    "mixed_masks": {"attn_mask": "float2d", "key_padding_mask": "bool"},
    "unbatched": {"unbatched": True, "attn_mask": "bool2d", "key_padding_mask": "bool"},
    "unbatched_self_attention": {"unbatched": True, "self_attention": True, "need_weights": False},
    "encoder_decoder": {"shared_kv": True, "key_padding_mask": "bool", "batch_first": True},
}


def _mha_masks(case, rng, N, H, L, S):
    kind = case.get("attn_mask")
    attn = None
    if kind == "causal":
        attn = np.triu(np.ones((L, S), bool), 1)
    elif kind == "bool2d":
        attn = rng.random((L, S)) > 0.8
    elif kind == "bool3d":
        attn = rng.random((N * H, L, S)) > 0.8
    elif kind == "float2d":
        attn = rng.standard_normal((L, S))
    elif kind == "float3d":
        attn = rng.standard_normal((N * H, L, S))
    if attn is not None and attn.dtype == bool:
        attn[..., 0] = False  # every query keeps a key: torch's need_weights path gives nan otherwise
    kpm = None
    if case.get("key_padding_mask") == "bool":
        kpm = rng.random((N, S)) > 0.7
        kpm[:, 0] = False
    elif case.get("key_padding_mask") == "float":
        kpm = rng.standard_normal((N, S))
    if case.get("unbatched") and kpm is not None:
        kpm = kpm[0]
    return attn, kpm


@needs_torch
@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")
@pytest.mark.parametrize("name", list(MHA_CASES))
def test_multihead_attention_matches_torch(name):
    case = MHA_CASES[name]
    E, H, N, L = 8, 2, 3, 5
    S = L if case.get("self_attention") else 6
    kdim, vdim = case.get("kdim"), case.get("vdim")
    batch_first = case.get("batch_first", False)
    options = {"embed_dim": E, "num_heads": H, "bias": case.get("bias", True),
               "add_bias_kv": case.get("add_bias_kv", False), "add_zero_attn": case.get("add_zero_attn", False),
               "kdim": kdim, "vdim": vdim, "batch_first": batch_first}
    mha = nn.MultiheadAttention(**options).to(mg.float64)
    reference = _torch_mha(mha, options)
    rng = np.random.default_rng(13)

    def shape(length, features):
        if case.get("unbatched"):
            return (length, features)
        return (N, length, features) if batch_first else (length, N, features)

    query = rng.standard_normal(shape(L, E))
    key = query if case.get("self_attention") else rng.standard_normal(shape(S, kdim or E))
    value = key if case.get("self_attention") or case.get("shared_kv") else rng.standard_normal(shape(S, vdim or E))
    attn, kpm = _mha_masks(case, rng, N, H, L, S)
    ours = {"q": mg.tensor(query, requires_grad=True)}
    ours["k"] = ours["q"] if key is query else mg.tensor(key, requires_grad=True)
    ours["v"] = ours["k"] if value is key else mg.tensor(value, requires_grad=True)
    theirs = {"q": torch.tensor(query, requires_grad=True)}
    theirs["k"] = theirs["q"] if key is query else torch.tensor(key, requires_grad=True)
    theirs["v"] = theirs["k"] if value is key else torch.tensor(value, requires_grad=True)
    kwargs = {"need_weights": case.get("need_weights", True), "is_causal": case.get("is_causal", False),
              "average_attn_weights": case.get("average_attn_weights", True)}
    out, weights = mha(ours["q"], ours["k"], ours["v"], key_padding_mask=None if kpm is None else mg.tensor(kpm),
                       attn_mask=None if attn is None else mg.tensor(attn), **kwargs)
    expected, expected_weights = reference(theirs["q"], theirs["k"], theirs["v"],
                                           key_padding_mask=None if kpm is None else torch.tensor(kpm),
                                           attn_mask=None if attn is None else torch.tensor(attn), **kwargs)
    assert_close(out, expected, rtol=1e-9, atol=1e-10)
    if kwargs["need_weights"]:
        assert_close(weights, expected_weights, rtol=1e-9, atol=1e-10)
    else:
        assert weights is None and expected_weights is None
    cot = rng.standard_normal(out.shape)
    loss = (out * mg.tensor(cot)).sum()
    expected_loss = (expected * torch.tensor(cot)).sum()
    if kwargs["need_weights"]:  # the weights' gradient must flow too
        wcot = rng.standard_normal(weights.shape)
        loss = loss + (weights * mg.tensor(wcot)).sum()
        expected_loss = expected_loss + (expected_weights * torch.tensor(wcot)).sum()
    loss.backward()
    expected_loss.backward()
    for label in ("q", "k", "v"):
        assert_close(ours[label].grad, theirs[label].grad, rtol=1e-9, atol=1e-10, msg=f"grad of {label}: ")
    torch_params = dict(reference.named_parameters())
    for param_name, param in mha.named_parameters():
        assert_close(param.grad, torch_params[param_name].grad, rtol=1e-9, atol=1e-10, msg=f"{param_name}: ")


@needs_torch
@pytest.mark.parametrize("options", [{}, {"kdim": 3, "vdim": 5}, {"bias": False}, {"add_bias_kv": True}])
def test_multihead_attention_parameters_are_torchs(options):
    mha = nn.MultiheadAttention(12, 3, **options)
    reference = torch.nn.MultiheadAttention(12, 3, **options)
    ours = {name: tuple(p.shape) for name, p in mha.named_parameters()}
    theirs = {name: tuple(p.shape) for name, p in reference.named_parameters()}
    assert ours == theirs
    assert list(mha.state_dict()) == list(reference.state_dict())
    # torch loads ours strictly too
    reference.load_state_dict({k: torch.tensor(v.data) for k, v in mha.state_dict().items()}, strict=True)


def test_multihead_attention_initialisation():
    mha = nn.MultiheadAttention(64, 4, add_bias_kv=True)
    bound = np.sqrt(6.0 / (64 + 3 * 64))  # xavier_uniform_ on the (3E, E) packed weight
    w = mha.in_proj_weight.data
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.all(mha.in_proj_bias.data == 0) and np.all(mha.out_proj.bias.data == 0)
    assert mha.bias_k.shape == (1, 1, 64) and mha.bias_k.data.std() > 0


def test_multihead_attention_train_and_eval():
    mha = nn.MultiheadAttention(8, 2, dropout=0.5)
    x = mg.randn(6, 2, 8)
    mha.eval()
    a = mha(x, x, x)[0]
    b = mha(x, x, x)[0]
    assert_close(a, b, rtol=0, atol=0)
    mha.train()
    c = mha(x, x, x, need_weights=False)[0]
    assert not np.allclose(a.data, c.data)


def test_multihead_attention_errors():
    with pytest.raises(ValueError, match="divisible by num_heads"):
        nn.MultiheadAttention(10, 3)
    mha = nn.MultiheadAttention(8, 2)
    x = mg.randn(5, 3, 8)
    with pytest.raises(RuntimeError, match=r"attn_mask is \(4, 5\), but should be \(5, 5\)"):
        mha(x, x, x, attn_mask=mg.ones(4, 5, dtype=mg.bool))
    with pytest.raises(RuntimeError, match=r"attn_mask is \(2, 5, 5\), but should be \(6, 5, 5\)"):
        mha(x, x, x, attn_mask=mg.ones(2, 5, 5, dtype=mg.bool))
    with pytest.raises(RuntimeError, match=r"key_padding_mask of shape \(3, 5\), got \(5, 3\)"):
        mha(x, x, x, key_padding_mask=mg.ones(5, 3, dtype=mg.bool))
    with pytest.raises(RuntimeError, match=r"embedding dim 8, got shape \(5, 3, 6\)"):
        mha(mg.randn(5, 3, 6), x, x)
    with pytest.raises(RuntimeError, match="2-D .* or 3-D"):
        mha(mg.randn(2, 5, 3, 8), x, x)
    with pytest.raises(RuntimeError, match="Need attn_mask"):
        mha(x, x, x, is_causal=True)
    with pytest.raises(RuntimeError, match="only bool and floating"):
        mha(x, x, x, attn_mask=mg.ones(5, 5, dtype=mg.int64))


@needs_torch
def test_functional_multi_head_attention_forward_matches_torch():
    rng = np.random.default_rng(14)
    E, H = 8, 2
    arrays = {name: rng.standard_normal(shape) for name, shape in
              [("q", (4, 3, E)), ("k", (6, 3, E)), ("v", (6, 3, E)), ("w", (3 * E, E)), ("b", (3 * E,)),
               ("wo", (E, E)), ("bo", (E,))]}
    mask = rng.random((4, 6)) > 0.8
    mask[:, 0] = False

    def call(fn, lib, **extra):
        t = {k: lib(v) for k, v in arrays.items()}
        return fn(t["q"], t["k"], t["v"], E, H, t["w"], t["b"], None, None, False, 0.0, t["wo"], t["bo"],
                  attn_mask=lib(mask), **extra)

    for need_weights in (True, False):
        out, w = call(F.multi_head_attention_forward, mg.tensor, need_weights=need_weights)
        expected, expected_w = call(torch.nn.functional.multi_head_attention_forward, torch.tensor,
                                    need_weights=need_weights)
        assert_close(out, expected, rtol=1e-10, atol=1e-12)
        if need_weights:
            assert_close(w, expected_w, rtol=1e-10, atol=1e-12)
