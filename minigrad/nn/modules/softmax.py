"""Softmax layers: ``Softmax``, ``LogSoftmax``, ``Softmin``, ``Softmax2d`` over ``minigrad.ops.softmax``."""

from __future__ import annotations

from ...ops import softmax as S
from ...tensor import Tensor
from .module import Module


class _SoftmaxBase(Module):
    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_SoftmaxBase):
    """exp(x_i) / sum_j exp(x_j) along ``dim`` (the values along it are positive and sum to 1)."""

    def forward(self, input: Tensor) -> Tensor:
        return S.softmax(input, self.dim)


class LogSoftmax(_SoftmaxBase):
    """log(softmax(x)) along ``dim``, computed stably (use with ``NLLLoss``)."""

    def forward(self, input: Tensor) -> Tensor:
        return S.log_softmax(input, self.dim)


class Softmin(_SoftmaxBase):
    """softmax(-x) along ``dim``."""

    def forward(self, input: Tensor) -> Tensor:
        return S.softmin(input, self.dim)


class Softmax2d(Module):
    """Softmax over the channels at each location of a (N, C, H, W) or (C, H, W) input."""

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in (3, 4):
            raise RuntimeError(f"Softmax2d: expected input of shape (N, C, H, W) or (C, H, W), got shape "
                             f"{tuple(input.shape)}")
        return S.softmax(input, -3)
