"""Collapse diagnostics for the non-contrastive methods (BYOL, SimSiam, DINO).

Without negatives nothing in the loss forbids a constant output; these numbers show whether a run
collapsed:

- ``output_std``: SimSiam's (Chen & He, 2021, Sec. 4.1) per-dimension standard deviation of the
  l2-normalised outputs, averaged over dimensions. A collapsed encoder gives ~0; outputs spread over
  the unit sphere give about 1/sqrt(d).
- ``entropy`` and ``kl_divergence``: DINO's (Caron et al., 2021, Fig. 7) teacher entropy
  H(P_t) and KL(P_t || P_s) over the K prototypes. Collapse to the uniform distribution has
  H = log K, collapse to one prototype H = 0; both have KL -> 0.
"""

from __future__ import annotations

import minigrad as mg
import minigrad.nn.functional as F


@mg.no_grad()
def output_std(z: mg.Tensor) -> float:
    """mean_j std_i( z_i / ||z_i|| )_j for outputs ``z`` of shape (N, d)."""
    return F.normalize(z.detach(), dim=1).std(dim=0).mean().item()


@mg.no_grad()
def entropy(probs: mg.Tensor) -> float:
    """Mean over the batch of H(p) = -sum_k p_k log p_k, for probabilities ``probs`` of shape (N, K)."""
    return -(probs * probs.clamp(min=1e-12).log()).sum(dim=1).mean().item()


@mg.no_grad()
def kl_divergence(probs: mg.Tensor, log_q: mg.Tensor) -> float:
    """Mean over the batch of KL(p || q) = sum_k p_k (log p_k - log q_k); ``log_q`` are log-probabilities."""
    return (probs * (probs.clamp(min=1e-12).log() - log_q)).sum(dim=1).mean().item()
