"""Projection and prediction heads (SimCLR, MoCo v2, BYOL, SimSiam, ...)."""

from __future__ import annotations

import minigrad.nn as nn


def mlp_head(in_dim: int, hidden_dim: int, out_dim: int, layers: int = 2, batch_norm: bool = True,
             last_batch_norm: bool = False) -> nn.Sequential:
    """Linear -> (BN) -> ReLU, repeated, then a final Linear (optionally followed by an affine-free BN).

    SimCLR's projector g(.) is ``mlp_head(d, d, 128)``; BYOL's projector and predictor are
    ``mlp_head(d, 4d, 256)``; SimSiam's projector ends with BN (``last_batch_norm=True``).
    """
    modules, dim = [], in_dim
    for _ in range(layers - 1):
        modules += [nn.Linear(dim, hidden_dim, bias=not batch_norm)]
        if batch_norm:
            modules.append(nn.BatchNorm1d(hidden_dim))
        modules.append(nn.ReLU())
        dim = hidden_dim
    modules.append(nn.Linear(dim, out_dim, bias=not last_batch_norm))
    if last_batch_norm:
        modules.append(nn.BatchNorm1d(out_dim, affine=False))
    return nn.Sequential(*modules)
