"""Online clustering for self-supervision: SwAV's Sinkhorn-Knopp equipartition.

Given the scores of B samples against K prototypes, find soft codes Q that agree with the scores
but spread the batch evenly over the prototypes (otherwise one prototype takes every sample and
the representation collapses). Caron et al. (2020) solve the entropy-regularised transport problem

    max_Q  Tr(Q^T S) + eps * H(Q)   over   Q >= 0,  Q 1_K = 1_B / B,  Q^T 1_B = 1_K / K,

whose solution is Q = diag(u) exp(S / eps) diag(v), found by alternately rescaling rows and columns.
"""

from __future__ import annotations

import minigrad as mg


@mg.no_grad()
def sinkhorn_knopp(scores: mg.Tensor, epsilon: float = 0.05, iterations: int = 3) -> mg.Tensor:
    """The transport plan Q (B, K) for scores (B, K): sample marginals 1/B, prototype marginals ~1/K.

    Q = exp(scores / eps) / sum, then ``iterations`` rounds of: divide every prototype column by its
    sum and by K (each prototype gets 1/K of the mass), divide every sample row by its sum and by B
    (each sample carries 1/B). The last step makes the sample marginals exact; the prototype ones are
    close after a few rounds. The codes (one distribution over prototypes per sample) are ``B * Q``.
    Computed without gradient: the codes are targets.
    """
    batch, prototypes = scores.shape
    q = (scores.float() - scores.max()) / epsilon  # a constant shift cancels in the normalisation
    q = q.exp()
    q = q / q.sum()
    for _ in range(iterations):
        q = q / (q.sum(dim=0, keepdim=True) * prototypes)
        q = q / (q.sum(dim=1, keepdim=True) * batch)
    return q
