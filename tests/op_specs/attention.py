"""Spec rows for attention (minigrad/ops/attention.py): the math path and the tiled flash path."""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad.nn.functional as F
from minigrad.nn.attention import flash_attention
from minigrad.testing.opspec import Case, OpSpec

from ._helpers import array


def reference_attention(q, k, v, mask=None, is_causal=False, scale=None, **_):
    """softmax(q k^T * scale + mask) v in float64; rows with nothing to attend to give zeros."""
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ np.swapaxes(k, -1, -2) * scale
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == np.bool_ else s + mask
    if is_causal:
        L, S = s.shape[-2:]
        s = np.where(np.tril(np.ones((L, S), bool)), s, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    dead = m == -np.inf
    e = np.exp(s - np.where(dead, 0, m))
    total = e.sum(axis=-1, keepdims=True)
    return (e / np.where(dead, 1, total)) @ v


def _torch_attention(q, k, v, mask=None, is_causal=False, scale=None, **kwargs):
    import torch

    return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal,
                                                            scale=scale, enable_gqa=kwargs.get("enable_gqa", False))


@st.composite
def _mask_for(draw, scores_shape, kinds=("none", "bool", "float")):
    """None, or a bool/float mask whose shape broadcasts to ``scores_shape`` (some dims 1 or dropped)."""
    kind = draw(st.sampled_from(kinds))
    if kind == "none":
        return None
    keep = draw(st.lists(st.booleans(), min_size=len(scores_shape), max_size=len(scores_shape)))
    shape = tuple(n if kept else 1 for n, kept in zip(scores_shape, keep))
    shape = shape[draw(st.integers(0, max(0, len(shape) - 2))):]
    if kind == "bool":
        return draw(hnp.arrays(np.bool_, shape))
    return draw(array(st.just(shape), -2.0, 2.0))


@st.composite
def _attention_cases(draw, flash=False, gqa=False):
    batch = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, max_side=3))
    q_batch, kv_batch = batch.input_shapes
    L, S = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    E, Ev = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    kwargs = {}
    if gqa:
        kv_heads, group = draw(st.integers(1, 2)), draw(st.integers(2, 3))
        q_batch, kv_batch = (2, kv_heads * group), (2, kv_heads)
        kwargs["enable_gqa"] = True
    q = draw(array(st.just(q_batch + (L, E)), -2.0, 2.0))
    k = draw(array(st.just(kv_batch + (S, E)), -2.0, 2.0))
    v = draw(array(st.just(kv_batch + (S, Ev)), -2.0, 2.0))
    mask = None if gqa else draw(_mask_for(np.broadcast_shapes(q_batch, kv_batch) + (L, S)))
    if mask is None:
        kwargs["is_causal"] = draw(st.booleans())
    kwargs["scale"] = draw(st.sampled_from([None, 0.3, 1.5]))
    if flash:
        kwargs["block_q"], kwargs["block_k"] = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return Case((q, k, v, mask), kwargs)


def _flash(q, k, v, mask=None, **kwargs):
    return flash_attention(q, k, v, attn_mask=mask, **kwargs)


def _sdpa(q, k, v, mask=None, **kwargs):
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, **kwargs)


def _gqa_reference(q, k, v, mask=None, enable_gqa=True, **kwargs):
    group = q.shape[-3] // k.shape[-3]
    return reference_attention(q, np.repeat(k, group, axis=-3), np.repeat(v, group, axis=-3), mask, **kwargs)


SPECS = [
    OpSpec("scaled_dot_product_attention", _sdpa, reference_attention, _attention_cases(),
           torch_fn=_torch_attention, atol=1e-10, rtol=1e-9),
    OpSpec("scaled_dot_product_attention_gqa", _sdpa, _gqa_reference, _attention_cases(gqa=True),
           torch_fn=_torch_attention, atol=1e-10, rtol=1e-9),
    OpSpec("flash_attention", _flash, reference_attention, _attention_cases(flash=True), grad_args=(0, 1, 2),
           torch_fn=_torch_attention, atol=1e-10, rtol=1e-9,
           notes="tiles of 1-4 rows/columns, so ragged edges, skipped causal tiles and rescaling all occur"),
]
