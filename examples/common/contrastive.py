"""Contrastive losses and the key queue shared by SimCLR, MoCo v2, MoCo v3 and MoBY.

All of them are InfoNCE (van den Oord et al., 2018): a query q should pick its positive key k+
out of a set of keys, with logits q . k / tau on l2-normalised vectors,

    L = -log  exp(q . k+ / tau) / sum_k exp(q . k / tau).

They differ only in where the negative keys come from: the other 2N - 2 views of the batch
(SimCLR's NT-Xent), a queue of past keys (MoCo v2, MoBY), or the other keys of the batch (MoCo v3).
"""

from __future__ import annotations

import numpy as np

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F


def info_nce(query: mg.Tensor, positive_key: mg.Tensor, negative_keys: mg.Tensor, temperature: float) -> mg.Tensor:
    """MoCo's InfoNCE with the positive in column 0.

    query, positive_key: (N, D); negative_keys: (K, D); all l2-normalised.
    logits = [q . k+, q . queue^T] / tau, shape (N, 1 + K); L = cross_entropy(logits, 0).
    At random init every logit is about 0, so L is about log(K + 1).
    """
    l_pos = (query * positive_key).sum(dim=1, keepdim=True)
    l_neg = query @ negative_keys.T
    logits = mg.cat([l_pos, l_neg], dim=1) / temperature
    labels = mg.zeros(query.shape[0], dtype=mg.int64, device=query.device)
    return F.cross_entropy(logits, labels)


def nt_xent(z1: mg.Tensor, z2: mg.Tensor, temperature: float) -> mg.Tensor:
    """SimCLR's normalised temperature-scaled cross-entropy over the 2N views of a batch.

    z1, z2: (N, D) projections of the two views of the same N images. With z = normalise([z1; z2]),
    s_ij = z_i . z_j / tau, each i has one positive (its other view) and 2N - 2 negatives:

        l(i, j) = -log exp(s_ij) / sum_{k != i} exp(s_ik),   L = mean over all 2N anchors.

    At random init all similarities are about equal, so L is about log(2N - 1).
    """
    n = z1.shape[0]
    z = F.normalize(mg.cat([z1, z2], dim=0), dim=1)
    similarities = z @ z.T / temperature
    self_mask = mg.eye(2 * n, dtype=mg.bool, device=z.device)
    similarities = similarities.masked_fill(self_mask, float("-inf"))  # k != i
    positives = np.concatenate([np.arange(n, 2 * n), np.arange(n)])
    return F.cross_entropy(similarities, mg.tensor(positives, dtype=mg.int64, device=z.device))


def contrastive_in_batch(query: mg.Tensor, key: mg.Tensor, temperature: float) -> mg.Tensor:
    """MoCo v3's ctr(q, k): the keys of the other images in the batch are the negatives.

    logits = normalise(q) normalise(k)^T / tau, (N, N); labels = 0..N-1 (the diagonal);
    L = 2 tau * cross_entropy(logits, labels) (the 2 tau factor makes the gradient scale
    independent of tau, as in the paper's pseudocode).
    """
    query, key = F.normalize(query, dim=1), F.normalize(key, dim=1)
    logits = query @ key.T / temperature
    labels = mg.arange(query.shape[0], device=query.device)
    return F.cross_entropy(logits, labels) * (2 * temperature)


class KeyQueue(nn.Module):
    """A FIFO queue of the K most recent keys (MoCo): a buffer, never a parameter, never differentiated.

    ``enqueue(keys)`` writes the batch at ``ptr`` (wrapping around the end) and advances ``ptr``:
    the oldest keys are the ones overwritten. Starts as K random unit vectors, as MoCo does.
    """

    def __init__(self, dim: int, size: int):
        super().__init__()
        self.size = size
        self.register_buffer("keys", F.normalize(mg.randn(size, dim), dim=1))
        self.register_buffer("ptr", mg.zeros(1, dtype=mg.int64))

    @mg.no_grad()
    def enqueue(self, keys: mg.Tensor) -> None:
        """Dequeue the oldest len(keys) keys and enqueue ``keys`` (detached) in their place."""
        n = keys.shape[0]
        if n > self.size:
            raise ValueError(f"cannot enqueue {n} keys into a queue of {self.size}")
        start = int(self.ptr.item())
        slots = (start + np.arange(n)) % self.size
        self.keys[mg.tensor(slots, device=self.keys.device)] = keys.detach()
        self.ptr.fill_((start + n) % self.size)
