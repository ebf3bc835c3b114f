"""``MultiheadAttention`` (Vaswani et al., 2017, "Attention Is All You Need"), with torch's parameters."""

from __future__ import annotations

from ...ops import creation
from ...ops.attention import _multi_head_attention
from ...tensor import Tensor
from .. import attention as _attention_api  # noqa: F401  (so that mg.nn.attention is there after import minigrad)
from .. import init
from ..parameter import Parameter
from .linear import Linear
from .module import Module


class MultiheadAttention(Module):
    """Attention over ``num_heads`` subspaces of ``embed_dim``: concat(head_1 .. head_H) W_o^T + b_o.

    head_i = softmax(Q_i K_i^T / sqrt(embed_dim / num_heads) + mask) V_i, where Q, K, V are the
    projected query, key and value. Parameters carry torch's names: ``in_proj_weight`` (3E, E) and
    ``in_proj_bias`` (3E) when key and value have ``embed_dim`` features, else ``q_proj_weight``,
    ``k_proj_weight`` (E, kdim), ``v_proj_weight`` (E, vdim); ``out_proj`` (a Linear); ``bias_k``,
    ``bias_v`` (1, 1, E) with ``add_bias_kv``. A torch state dict loads with ``strict=True``.

    Inputs are (L, N, E) — (N, L, E) with ``batch_first`` — or unbatched (L, E). Masks follow torch's
    MultiheadAttention convention, the opposite of ``scaled_dot_product_attention``'s: a boolean True
    means "masked out"; a float mask is added to the scores. ``key_padding_mask`` is (N, S) and
    ``attn_mask`` (L, S) or (N * num_heads, L, S). ``forward`` returns (output, weights), the weights
    (N, L, S) averaged over heads, (N, num_heads, L, S) with ``average_attn_weights=False``, or None
    with ``need_weights=False`` (the fast path: no L x S weights are returned, and long sequences use
    the tiled flash kernel). A query whose keys are all masked gets a zero output (torch: nan when
    ``need_weights=True``).
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device=None, dtype=None) -> None:
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} "
                             f"and num_heads={num_heads}")
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim must be divisible by num_heads, got embed_dim={embed_dim} and "
                             f"num_heads={num_heads}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {dropout}")
        super().__init__()
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        factory = {"device": device, "dtype": dtype}
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(creation.empty(3 * embed_dim, embed_dim, **factory))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(creation.empty(embed_dim, embed_dim, **factory))
            self.k_proj_weight = Parameter(creation.empty(embed_dim, self.kdim, **factory))
            self.v_proj_weight = Parameter(creation.empty(embed_dim, self.vdim, **factory))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(creation.empty(3 * embed_dim, **factory))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, **factory)
        if add_bias_kv:
            self.bias_k = Parameter(creation.empty(1, 1, embed_dim, **factory))
            self.bias_v = Parameter(creation.empty(1, 1, embed_dim, **factory))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        # as torch: Glorot-uniform projections, zero biases, Glorot-normal bias_k / bias_v
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None,
                need_weights: bool = True, attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple:
        """(output, attention weights or None); see the class docstring for shapes and masks."""
        return _multi_head_attention(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight, self.in_proj_bias,
            self.bias_k, self.bias_v, self.add_zero_attn, self.dropout, self.out_proj.weight, self.out_proj.bias,
            self.training, key_padding_mask, need_weights, attn_mask, not self._qkv_same_embed_dim,
            self.q_proj_weight, self.k_proj_weight, self.v_proj_weight, None, None, average_attn_weights,
            is_causal, batch_first=self.batch_first, name="MultiheadAttention")
