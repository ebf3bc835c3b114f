"""Backbones shared by the vision examples: a Vision Transformer and a small ResNet.

Both take images ``(N, C, H, W)`` and return one feature vector per image (``num_classes=0``) or
logits. Sized for 32x32 grayscale digits on a CPU; the ``gpu`` presets make them wider and deeper.
"""

from __future__ import annotations

import math

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F


# ----------------------------------------------------------------------------------------------
# Vision Transformer (Dosovitskiy et al., 2021, "An Image is Worth 16x16 Words")
# ----------------------------------------------------------------------------------------------
class PatchEmbed(nn.Module):
    """Cut the image into non-overlapping P x P patches and project each to ``dim`` (a strided conv)."""

    def __init__(self, img_size: int, patch_size: int, in_chans: int, dim: int):
        super().__init__()
        if img_size % patch_size:
            raise ValueError(f"image size {img_size} is not a multiple of the patch size {patch_size}")
        self.num_patches = (img_size // patch_size) ** 2
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, images: mg.Tensor) -> mg.Tensor:
        return self.proj(images).flatten(2).transpose(1, 2)  # (N, num_patches, dim)


class Attention(nn.Module):
    """Multi-head self-attention: softmax(Q K^T / sqrt(d)) V per head, heads concatenated and projected."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: mg.Tensor, return_attention: bool = False):
        n, tokens, dim = x.shape
        q, k, v = self.qkv(x).reshape(n, tokens, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        if return_attention:  # the explicit form, to look at the maps (DINO's figure)
            weights = (q @ k.mT * (1.0 / math.sqrt(dim // self.heads))).softmax(-1)
            out = weights @ v
        else:
            weights, out = None, F.scaled_dot_product_attention(q, k, v)
        out = self.proj(out.transpose(1, 2).reshape(n, tokens, dim))
        return (out, weights) if return_attention else out


class Block(nn.Module):
    """Pre-norm transformer block: x + Attn(LN(x)), then x + MLP(LN(x)) with a GELU MLP."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: mg.Tensor, return_attention: bool = False):
        if return_attention:
            out, weights = self.attn(self.norm1(x), return_attention=True)
            x = x + out
            return x + self.mlp(self.norm2(x)), weights
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class HybridStem(nn.Module):
    """The ViT paper's hybrid input (Sec. 3.1): patches of a CNN feature map instead of raw image patches.

    A 3x3 convolution at full resolution, then one stride-2 3x3 convolution per halving until the
    map is ``img_size / patch_size`` wide (two for ``patch_size=4``: an 8x8 map of a 32x32 image);
    each position is one token (patch size 1 on the feature map), so the token grid is the same
    as raw ``patch_size`` patches'. It takes the place of ``PatchEmbed`` (``stem="conv"``).
    """

    def __init__(self, in_chans: int, dim: int, img_size: int, patch_size: int = 4):
        super().__init__()
        halvings = int(math.log2(patch_size)) if patch_size > 1 else 0
        if 2 ** halvings != patch_size or img_size % patch_size:
            raise ValueError(f"the hybrid stem halves the map: patch_size must be a power of two dividing "
                             f"img_size={img_size}, got {patch_size}")
        self.num_patches = (img_size // patch_size) ** 2
        widths = [16 * 2 ** i for i in range(halvings)]  # 16, 32, ... channels before the last conv
        layers, cin = [nn.Conv2d(in_chans, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU()], 16
        for width in widths[1:]:
            layers += [nn.Conv2d(cin, width, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
            cin = width
        layers.append(nn.Conv2d(cin, dim, 3, stride=2 if halvings else 1, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, images: mg.Tensor) -> mg.Tensor:
        return self.net(images).flatten(2).transpose(1, 2)  # (N, num_patches, dim)


class VisionTransformer(nn.Module):
    """ViT: patch embedding, a learnable [cls] token, learned positions, pre-norm blocks, final LayerNorm.

    ``forward`` returns one feature per image (or logits with ``num_classes > 0``): the final [cls]
    token (``pool="cls"``) or the mean of the final patch tokens (``pool="mean"``, the global average
    pooling the ViT paper compares with [cls] in its Appendix D.3, and MAE's ``global_pool``).
    ``stem="patch"`` embeds raw P x P patches (the pure ViT); ``stem="conv"`` the hybrid's CNN
    feature map (``HybridStem``: the same token grid, ``patch_size`` a power of two).
    ``freeze_patch_embed=True`` keeps the random patch projection fixed (MoCo v3's stability trick).
    """

    def __init__(self, img_size: int = 32, patch_size: int = 4, in_chans: int = 1, dim: int = 64, depth: int = 4,
                 heads: int = 4, mlp_ratio: float = 2.0, num_classes: int = 0, freeze_patch_embed: bool = False,
                 stem: str = "patch", pool: str = "cls"):
        super().__init__()
        if pool not in ("cls", "mean"):
            raise ValueError(f"pool must be 'cls' or 'mean', got {pool!r}")
        self.dim = self.feature_dim = dim
        self.pool = pool
        if stem == "patch":
            self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, dim)
        elif stem == "conv":
            self.patch_embed = HybridStem(in_chans, dim, img_size, patch_size)
        else:
            raise ValueError(f"stem must be 'patch' or 'conv', got {stem!r}")
        self.cls_token = nn.Parameter(mg.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(mg.zeros(1, self.patch_embed.num_patches + 1, dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        self.blocks = nn.ModuleList([Block(dim, heads, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes) if num_classes else nn.Identity()
        if freeze_patch_embed:
            self.patch_embed.requires_grad_(False)

    def tokens(self, images: mg.Tensor) -> mg.Tensor:
        """Patch tokens with their positional embeddings, (N, num_patches, dim), without [cls]."""
        return self.patch_embed(images) + self.pos_embed[:, 1:]

    def encode(self, tokens: mg.Tensor) -> mg.Tensor:
        """Prepend [cls] and run the blocks and final norm on a (possibly partial) token sequence."""
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(tokens.shape[0], -1, -1)
        x = mg.cat([cls, tokens], dim=1)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def pooled(self, x: mg.Tensor) -> mg.Tensor:
        """One feature per image from the encoded sequence ([cls] first): [cls], or the mean patch token."""
        return x[:, 0] if self.pool == "cls" else x[:, 1:].mean(dim=1)

    def forward(self, images: mg.Tensor) -> mg.Tensor:
        return self.head(self.pooled(self.encode(self.tokens(images))))

    @mg.no_grad()
    def last_attention(self, images: mg.Tensor) -> mg.Tensor:
        """The last block's attention weights, (N, heads, tokens, tokens): row 0 is where [cls] looks."""
        tokens = self.tokens(images)
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(tokens.shape[0], -1, -1)
        x = mg.cat([cls, tokens], dim=1)
        for block in self.blocks[:-1]:
            x = block(x)
        _, weights = self.blocks[-1](x, return_attention=True)
        return weights


# ----------------------------------------------------------------------------------------------
# A small ResNet (He et al., 2016), for 32x32 inputs
# ----------------------------------------------------------------------------------------------
class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with a shortcut (a 1x1 conv when the shape changes)."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: mg.Tensor) -> mg.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """A stem conv, one BasicBlock per stage (stride 2 after the first), global average pooling."""

    def __init__(self, in_chans: int = 1, widths: tuple = (16, 32, 64), num_classes: int = 0):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_chans, widths[0], 3, padding=1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU())
        stages, cin = [], widths[0]
        for i, width in enumerate(widths):
            stages.append(BasicBlock(cin, width, stride=1 if i == 0 else 2))
            cin = width
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.feature_dim = cin
        self.head = nn.Linear(cin, num_classes) if num_classes else nn.Identity()

    def forward(self, images: mg.Tensor) -> mg.Tensor:
        return self.head(self.pool(self.stages(self.stem(images))).flatten(1))
