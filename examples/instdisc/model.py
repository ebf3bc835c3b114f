"""InstDisc's memory bank and its noise-contrastive estimation (Wu, Xiong, Yu & Lin, 2018).

Every training image i is its own class. Its feature f_i = normalize(W g(x_i)) is compared with a
memory bank V = {v_1, ..., v_n} of l2-normalised features from earlier steps (no gradient):

    P(i | f) = exp(v_i^T f / tau) / Z                                       (eq. 2, non-parametric softmax)

The normaliser Z = sum_j exp(v_j^T f / tau) would cost n dot products, so NCE (eq. 4-6) turns the
n-way softmax into a binary task, data (the image's own entry) vs. m noise entries drawn uniformly
(P_n = 1/n):

    h(i, f) = P(i | f) / (P(i | f) + m P_n)
    J_NCE   = -log h(i, f) - sum_{j in m noise samples} log(1 - h(j, f))

with Z estimated once by Monte Carlo from the first batch, Z = n * mean_j exp(v_j^T f / tau), and
then held fixed (eq. 7). After the step the bank moves towards the new feature and is renormalised:

    v_i <- normalize(momentum * v_i + (1 - momentum) * f_i),   momentum = 0.5.
"""

from __future__ import annotations

import math

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F


class MemoryBank:
    """n l2-normalised feature vectors, one per training image, outside the graph (no gradient)."""

    def __init__(self, size: int, dim: int, momentum: float = 0.5, device: str = "cpu"):
        self.size, self.dim, self.momentum = size, dim, momentum
        self.vectors = F.normalize(mg.randn(size, dim, device=device), dim=1)  # random unit vectors at start

    @mg.no_grad()
    def fill(self, features: mg.Tensor) -> None:
        """Start from the network's own features (one pass over the data) instead of random vectors."""
        self.vectors = F.normalize(features.detach(), dim=1)

    def __getitem__(self, index: mg.Tensor) -> mg.Tensor:
        return self.vectors[index]

    @mg.no_grad()
    def update(self, index: mg.Tensor, features: mg.Tensor) -> None:
        """v_i <- normalize(momentum * v_i + (1 - momentum) * f_i) for the images of the batch."""
        mixed = self.momentum * self.vectors[index] + (1 - self.momentum) * features.detach()
        self.vectors[index] = F.normalize(mixed, dim=1)


class NCECriterion(nn.Module):
    """J_NCE with m uniform noise samples from the bank and Z fixed after the first batch."""

    def __init__(self, num_data: int, num_noise: int, temperature: float = 0.07):
        super().__init__()
        self.num_data, self.num_noise, self.temperature = num_data, num_noise, temperature
        self.Z: float | None = None  # the normalising constant, set by the first call and then fixed

    def forward(self, features: mg.Tensor, index: mg.Tensor, bank: MemoryBank) -> mg.Tensor:
        """features (B, D) l2-normalised, index (B,) their image ids; returns the mean NCE loss."""
        batch = features.shape[0]
        noise = mg.randint(0, self.num_data, (batch, self.num_noise), device=features.device)
        candidates = bank[mg.cat([index.reshape(batch, 1), noise], dim=1)]  # (B, 1 + m, D): own entry first
        similarities = (candidates @ features.unsqueeze(2)).squeeze(2)  # v_j^T f, (B, 1 + m)
        if self.Z is None:
            self.Z = (similarities.detach() / self.temperature).exp().mean().item() * self.num_data
        log_p = similarities / self.temperature - math.log(self.Z)  # log P(j | f)
        noise_mass = self.num_noise / self.num_data  # m P_n
        log_denominator = (log_p.exp() + noise_mass).log()  # log(P(j | f) + m P_n)
        log_h_data = log_p[:, 0] - log_denominator[:, 0]  # log h(i, f)
        log_one_minus_h_noise = math.log(noise_mass) - log_denominator[:, 1:]  # log(1 - h(j, f))
        return -(log_h_data + log_one_minus_h_noise.sum(dim=1)).mean()


def non_parametric_softmax_loss(features: mg.Tensor, index: mg.Tensor, bank: MemoryBank,
                                temperature: float = 0.07) -> mg.Tensor:
    """The exact objective NCE approximates (eq. 2-3): -log exp(v_i^T f / tau) / sum_j exp(v_j^T f / tau).

    All n bank entries are the classes; affordable when n is small (a few thousand images).
    """
    logits = features @ bank.vectors.T / temperature  # (B, n)
    return F.cross_entropy(logits, index)
