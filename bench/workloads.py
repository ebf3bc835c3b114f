"""The reference workloads of BENCHMARKS.md, each written once against the torch API.

minigrad speaks torch's API, so every workload below is one function that takes the library
(``minigrad`` or ``torch``) and builds the same model, data and optimizer with it: identical
shapes, initialisation scheme (each library's default, which are the same formulas), dtype and
optimizer. ``build`` returns a zero-argument ``step`` callable that runs one full training step
(forward, backward, optimizer update) or, for attention, one forward+backward. ``conv_layers``
is an extra, finer-grained row (the CNN's convolutions alone) for the op-families issue.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass
class Workload:
    name: str
    description: str
    build: Callable  # build(lib, device, **size) -> step callable
    sizes: dict  # device type -> size keyword arguments
    flops: Callable | None = None  # size kwargs -> FLOPs of one step (for TFLOP/s), if known


def _tensor(lib, array, device, dtype=None):
    t = lib.tensor(array, device=device)
    return t if dtype is None else t.to(dtype)


def _classifier_step(lib, model, opt, inputs_shape, batch, device, classes=10):
    """One cross-entropy training step of ``model`` on fixed random inputs and labels."""
    rng = np.random.default_rng(0)
    inputs = _tensor(lib, rng.standard_normal((batch, *inputs_shape), dtype=np.float32), device)
    labels = _tensor(lib, rng.integers(0, classes, batch), device)

    def step():
        opt.zero_grad()
        loss = lib.nn.functional.cross_entropy(model(inputs), labels)
        loss.backward()
        opt.step()
        return loss

    return step


# ----------------------------------------------------------------------------------------------
def mlp(lib, device, batch=256):
    """784-1024-1024-10, ReLU, SGD lr 0.01, cross-entropy."""
    nn = lib.nn
    model = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10))
    model.to(device)
    return _classifier_step(lib, model, lib.optim.SGD(model.parameters(), lr=0.01), (784,), batch, device)


def vit_tiny(lib, device, batch=32):
    """32x32x3 input, patch 4 (Conv2d 3->192, k4 s4), cls token + learned positions, 6 pre-norm blocks
    (MHA 192/3 heads, MLP 192-768-192 GELU), final LayerNorm, Linear 192->10 on the cls token; AdamW 1e-3."""
    nn = lib.nn
    dim, heads, depth = 192, 3, 6

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm1 = nn.LayerNorm(dim)
            self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
            self.norm2 = nn.LayerNorm(dim)
            self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

        def forward(self, x):
            h = self.norm1(x)
            x = x + self.attn(h, h, h, need_weights=False)[0]
            return x + self.mlp(self.norm2(x))

    class ViT(nn.Module):
        def __init__(self):
            super().__init__()
            self.patch = nn.Conv2d(3, dim, kernel_size=4, stride=4)
            self.cls = nn.Parameter(lib.zeros(1, 1, dim))
            self.pos = nn.Parameter(lib.randn(1, 65, dim) * 0.02)
            self.blocks = nn.ModuleList([Block() for _ in range(depth)])
            self.norm = nn.LayerNorm(dim)
            self.head = nn.Linear(dim, 10)

        def forward(self, images):
            x = self.patch(images).flatten(2).transpose(1, 2)
            x = lib.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
            for block in self.blocks:
                x = block(x)
            return self.head(self.norm(x)[:, 0])

    model = ViT().to(device)
    return _classifier_step(lib, model, lib.optim.AdamW(model.parameters(), lr=1e-3), (3, 32, 32), batch, device)


def cnn(lib, device, batch=32):
    """Conv 3-64, BN, ReLU, Conv 64-128, BN, ReLU, MaxPool, Conv 128-256, BN, ReLU, MaxPool,
    Conv 256-512, BN, ReLU, adaptive avg pool, Linear 512->10; AdamW; 32x32x3 input."""
    nn = lib.nn

    def conv(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]

    model = nn.Sequential(
        *conv(3, 64), *conv(64, 128), nn.MaxPool2d(2), *conv(128, 256), nn.MaxPool2d(2), *conv(256, 512),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 10),
    ).to(device)
    return _classifier_step(lib, model, lib.optim.AdamW(model.parameters(), lr=1e-3), (3, 32, 32), batch, device)


def conv_layers(lib, device, batch=32):
    """conv2d forward + backward (input, weight and bias gradients) on each of the CNN workload's four
    layer shapes (3x3, padding 1): 3->64 and 64->128 at 32x32, 128->256 at 16x16, 256->512 at 8x8."""
    F = lib.nn.functional
    rng = np.random.default_rng(0)
    layers = []
    for cin, cout, size in ((3, 64, 32), (64, 128, 32), (128, 256, 16), (256, 512, 8)):
        x = _tensor(lib, rng.standard_normal((batch, cin, size, size), dtype=np.float32), device).requires_grad_()
        w = _tensor(lib, rng.standard_normal((cout, cin, 3, 3), dtype=np.float32) * 0.05, device).requires_grad_()
        b = _tensor(lib, np.zeros(cout, dtype=np.float32), device).requires_grad_()
        g = _tensor(lib, rng.standard_normal((batch, cout, size, size), dtype=np.float32), device)
        layers.append((x, w, b, g))

    def step():
        for x, w, b, g in layers:
            x.grad = w.grad = b.grad = None
            F.conv2d(x, w, b, padding=1).backward(g)
        return layers[-1][0]

    return step


def lstm_lm(lib, device, batch=16, steps=64):
    """Embedding(65, 512), 2-layer LSTM 512, Linear 512->65, cross-entropy over every step; Adam."""
    nn, F = lib.nn, lib.nn.functional

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(65, 512)
            self.lstm = nn.LSTM(512, 512, num_layers=2, batch_first=True)
            self.head = nn.Linear(512, 65)

        def forward(self, tokens):
            out, _ = self.lstm(self.embed(tokens))
            return self.head(out)

    model = LM().to(device)
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    tokens = _tensor(lib, rng.integers(0, 65, (batch, steps)), device)
    targets = _tensor(lib, rng.integers(0, 65, (batch, steps)), device)

    def step():
        opt.zero_grad()
        logits = model(tokens)
        loss = F.cross_entropy(logits.reshape(-1, 65), targets.reshape(-1))
        loss.backward()
        opt.step()
        return loss

    return step


def attention(lib, device, batch=8, heads=12, seq=1024, head_dim=64, causal=False, dtype="float32", backend=None):
    """Forward + backward of scaled dot-product attention; ``backend`` ("MATH" or "FLASH_ATTENTION")
    forces one path through ``lib.nn.attention.sdpa_kernel`` (default: each library's own choice)."""
    F = lib.nn.functional
    if backend is None:
        choose = contextlib.nullcontext
    else:
        attention_module = importlib.import_module(f"{lib.__name__}.nn.attention")

        def choose():
            return attention_module.sdpa_kernel(getattr(attention_module.SDPBackend, backend))
    rng = np.random.default_rng(0)
    dt = getattr(lib, dtype)
    q, k, v = (_tensor(lib, rng.standard_normal((batch, heads, seq, head_dim), dtype=np.float32), device, dt)
               .requires_grad_() for _ in range(3))
    grad = _tensor(lib, rng.standard_normal((batch, heads, seq, head_dim), dtype=np.float32), device, dt)

    def step():
        for t in (q, k, v):
            t.grad = None
        with choose():
            out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
            out.backward(grad)
        return out

    return step


def attention_flops(batch=8, heads=12, seq=1024, head_dim=64, causal=False, **_):
    """Matrix-multiply FLOPs of SDPA forward (QK^T, PV) and backward (dV, dP, dQ, dK): 6 GEMMs of
    2*B*H*N*N*d each, halved when causal; a recomputing (flash) backward does more work than this."""
    return 6 * 2.0 * batch * heads * seq * seq * head_dim / (2 if causal else 1)


def tiny_op(lib, device, size=16):
    """(x * x).sum().backward() on 16 elements: the engine's per-op cost."""
    x = _tensor(lib, np.arange(size, dtype=np.float32), device).requires_grad_()

    def step():
        (x * x).sum().backward()
        return x

    return step


WORKLOADS = {
    "mlp": Workload("mlp", "MLP 784-1024-1024-10, SGD", mlp, {"cpu": {"batch": 256}, "cuda": {"batch": 256}}),
    "vit_tiny": Workload("vit_tiny", "ViT-tiny, 6 blocks dim 192, AdamW", vit_tiny,
                         {"cpu": {"batch": 32}, "cuda": {"batch": 128}}),
    "cnn": Workload("cnn", "4-conv CNN with BN, AdamW", cnn, {"cpu": {"batch": 32}, "cuda": {"batch": 128}}),
    "conv_layers": Workload("conv_layers", "conv2d fwd+bwd on the CNN's 4 layer shapes", conv_layers,
                            {"cpu": {"batch": 32}, "cuda": {"batch": 128}}),
    "lstm_lm": Workload("lstm_lm", "Embedding + 2-layer LSTM 512 LM, Adam", lstm_lm,
                        {"cpu": {"batch": 16, "steps": 64}, "cuda": {"batch": 64, "steps": 128}}),
    "attention": Workload("attention", "SDPA fwd+bwd B8 H12 d64 N1024", attention,
                          {"cpu": {"seq": 1024}, "cuda": {"seq": 4096}}, attention_flops),
    "tiny_op": Workload("tiny_op", "(x*x).sum().backward(), 16 elements", tiny_op, {"cpu": {}, "cuda": {}}),
}

