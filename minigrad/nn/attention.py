"""``minigrad.nn.attention``: choosing how ``scaled_dot_product_attention`` runs (``torch.nn.attention``).

    from minigrad.nn.attention import SDPBackend, sdpa_kernel
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):   # or "flash"; SDPBackend.MATH / "math"
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)

Outside any ``sdpa_kernel`` block the tiled flash path runs once L * S >= ``FLASH_MIN_SCORES``.
``flash_attention`` calls the tiled path directly with chosen tile sizes. The implementation and the
tuning constants live in ``minigrad/ops/attention.py``.
"""

from ..ops.attention import SDPBackend, flash_attention, sdpa_kernel

__all__ = ["SDPBackend", "flash_attention", "sdpa_kernel"]
