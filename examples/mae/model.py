"""The masked autoencoder of He et al. (2022), "Masked Autoencoders Are Scalable Vision Learners".

An asymmetric encoder-decoder on image patches:

- per sample, a random 75% of the L patches is masked: uniform noise is sorted (``ids_shuffle``),
  the first ``L * (1 - mask_ratio)`` patches in that order are kept (``ids_keep``), and
  ``ids_restore = argsort(ids_shuffle)`` puts a shuffled sequence back in image order;
- the encoder (the shared ViT, ``tokens`` then ``encode``) sees only the visible patches and [cls];
- a lighter decoder embeds them to a narrower width, appends a learned [mask] token for every
  masked patch, unshuffles with ``ids_restore``, adds its own position embedding, runs a few
  blocks and predicts each patch's pixels;
- the loss is the mean squared error on the masked patches only, against pixels normalised per
  patch (``norm_pix_loss``): target = (patch - mean(patch)) / sqrt(var(patch) + 1e-6).

Both position embeddings are fixed 2-D sine-cosine tables, as in the paper.
"""

from __future__ import annotations

import numpy as np

import minigrad as mg
import minigrad.nn as nn

from ..common.backbones import Block, VisionTransformer


def patchify(images: mg.Tensor, patch_size: int) -> mg.Tensor:
    """``(N, C, H, W) -> (N, L, P*P*C)``, patches in row-major order (the order of the ViT's tokens)."""
    n, c, h, w = images.shape
    p = patch_size
    x = images.reshape(n, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(n, (h // p) * (w // p), p * p * c)


def unpatchify(patches: mg.Tensor, patch_size: int, channels: int = 1) -> mg.Tensor:
    """The inverse of ``patchify``: ``(N, L, P*P*C) -> (N, C, H, W)`` for a square grid."""
    n, length, _ = patches.shape
    p, grid = patch_size, int(round(length ** 0.5))
    x = patches.reshape(n, grid, grid, p, p, channels).permute(0, 5, 1, 3, 2, 4)
    return x.reshape(n, channels, grid * p, grid * p)


def random_masking(x: mg.Tensor, mask_ratio: float, noise: mg.Tensor | None = None):
    """Keep a random ``1 - mask_ratio`` of the tokens of each sample (MAE's per-sample shuffle).

    ``x``: ``(N, L, D)``; ``noise``: ``(N, L)`` uniform noise (drawn here if not given).
    Returns ``(x_visible (N, L_keep, D), mask (N, L) with 1 = masked, ids_restore (N, L))``, with
    ``L_keep = int(L * (1 - mask_ratio))``; tokens with the smallest noise are kept.
    """
    n, length, dim = x.shape
    len_keep = int(length * (1 - mask_ratio))
    if noise is None:
        noise = mg.rand(n, length, device=x.device)
    ids_shuffle = noise.argsort(dim=1)
    ids_restore = ids_shuffle.argsort(dim=1)
    ids_keep = ids_shuffle[:, :len_keep]
    x_visible = x.gather(1, ids_keep.unsqueeze(-1).expand(-1, -1, dim))
    mask = mg.cat([mg.zeros(n, len_keep, device=x.device), mg.ones(n, length - len_keep, device=x.device)], dim=1)
    mask = mask.gather(1, ids_restore)  # back to image order
    return x_visible, mask, ids_restore


def sincos_pos_embed(dim: int, grid: int, cls_token: bool = True) -> np.ndarray:
    """Fixed 2-D sine-cosine position embedding ``(1 + grid*grid, dim)`` (a zero row for [cls]).

    Half the channels encode the row, half the column, each as sin/cos of ``pos / 10000^(2i/d)``.
    """
    if dim % 4:
        raise ValueError(f"sincos_pos_embed needs dim divisible by 4, got {dim}")

    def one_axis(positions: np.ndarray, d: int) -> np.ndarray:
        omega = 1.0 / 10000 ** (np.arange(d // 2) / (d / 2))
        angles = positions[:, None] * omega[None]
        return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)

    rows, cols = np.meshgrid(np.arange(grid, dtype=np.float64), np.arange(grid, dtype=np.float64), indexing="ij")
    table = np.concatenate([one_axis(rows.ravel(), dim // 2), one_axis(cols.ravel(), dim // 2)], axis=1)
    if cls_token:
        table = np.concatenate([np.zeros((1, dim)), table])
    return table.astype(np.float32)


class MaskedAutoencoder(nn.Module):
    """MAE around the shared ViT encoder: ``loss, pred, mask = mae(images)``."""

    def __init__(self, encoder: VisionTransformer, decoder_dim: int = 32, decoder_depth: int = 2,
                 decoder_heads: int = 4, mask_ratio: float = 0.75, norm_pix_loss: bool = True):
        super().__init__()
        self.encoder = encoder
        self.mask_ratio, self.norm_pix_loss = mask_ratio, norm_pix_loss
        self.patch_size = encoder.patch_embed.proj.kernel_size[0]
        self.in_chans = encoder.patch_embed.proj.in_channels
        grid = int(round(encoder.patch_embed.num_patches ** 0.5))
        # the encoder's positions become the fixed sine-cosine table
        with mg.no_grad():
            encoder.pos_embed.data[...] = sincos_pos_embed(encoder.dim, grid)[None]
        encoder.pos_embed.requires_grad_(False)

        self.decoder_embed = nn.Linear(encoder.dim, decoder_dim)
        self.mask_token = nn.Parameter(mg.zeros(1, 1, decoder_dim))
        nn.init.normal_(self.mask_token, std=0.02)
        self.register_buffer("decoder_pos_embed", mg.tensor(sincos_pos_embed(decoder_dim, grid)[None]))
        self.decoder_blocks = nn.ModuleList([Block(decoder_dim, decoder_heads, 4.0) for _ in range(decoder_depth)])
        self.decoder_norm = nn.LayerNorm(decoder_dim)
        self.decoder_pred = nn.Linear(decoder_dim, self.patch_size ** 2 * self.in_chans)

    def forward_encoder(self, images: mg.Tensor, mask_ratio: float, noise: mg.Tensor | None = None):
        """Embed all patches, keep the visible ones, run the ViT on [cls] + visible: ``(latent, mask, ids_restore)``."""
        tokens = self.encoder.tokens(images)
        visible, mask, ids_restore = random_masking(tokens, mask_ratio, noise)
        return self.encoder.encode(visible), mask, ids_restore

    def forward_decoder(self, latent: mg.Tensor, ids_restore: mg.Tensor) -> mg.Tensor:
        """Visible tokens + [mask] tokens, unshuffled to image order -> pixels of every patch ``(N, L, P*P*C)``."""
        x = self.decoder_embed(latent)
        n, length = ids_restore.shape
        masked = self.mask_token.expand(n, length + 1 - x.shape[1], -1)
        patches = mg.cat([x[:, 1:], masked], dim=1)
        patches = patches.gather(1, ids_restore.unsqueeze(-1).expand(-1, -1, x.shape[2]))
        x = mg.cat([x[:, :1], patches], dim=1) + self.decoder_pos_embed
        for block in self.decoder_blocks:
            x = block(x)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:]

    def target(self, images: mg.Tensor) -> mg.Tensor:
        """Patch pixels, normalised per patch when ``norm_pix_loss``."""
        target = patchify(images, self.patch_size)
        if self.norm_pix_loss:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True, correction=0)
            target = (target - mean) / (var + 1e-6) ** 0.5
        return target

    def forward_loss(self, images: mg.Tensor, pred: mg.Tensor, mask: mg.Tensor) -> mg.Tensor:
        """Mean over masked patches of the per-patch mean squared error: sum(mask * mse) / sum(mask)."""
        per_patch = ((pred - self.target(images)) ** 2).mean(dim=-1)
        return (per_patch * mask).sum() / mask.sum()

    def forward(self, images: mg.Tensor, mask_ratio: float | None = None, noise: mg.Tensor | None = None):
        latent, mask, ids_restore = self.forward_encoder(images, self.mask_ratio if mask_ratio is None else mask_ratio,
                                                         noise)
        pred = self.forward_decoder(latent, ids_restore)
        return self.forward_loss(images, pred, mask), pred, mask


class PooledFeatures(nn.Module):
    """The encoder on all patches (no masking), pooled to one vector: what the probes read.

    ``pooling="mean"`` averages the patch tokens (MAE's global pooling), ``"cls"`` takes [cls].
    """

    def __init__(self, encoder: VisionTransformer, pooling: str = "mean"):
        super().__init__()
        if pooling not in ("mean", "cls"):
            raise ValueError(f"pooling must be 'mean' or 'cls', got {pooling!r}")
        self.encoder, self.pooling = encoder, pooling

    def forward(self, images: mg.Tensor) -> mg.Tensor:
        x = self.encoder.encode(self.encoder.tokens(images))
        return x[:, 1:].mean(dim=1) if self.pooling == "mean" else x[:, 0]
