"""``BatchNorm1d``, ``BatchNorm2d``, ``BatchNorm3d`` (Ioffe & Szegedy, 2015), with torch's
parameters, buffers and train/eval behaviour. The math is ``F.batch_norm`` (minigrad/ops/norm.py).

``_NormBase`` holds what batch and instance norm share: ``weight``/``bias`` (with ``affine``) and
the buffers ``running_mean``, ``running_var`` and ``num_batches_tracked`` (with
``track_running_stats``), named as torch's so state dicts load both ways.
"""

from __future__ import annotations

from ... import dtypes
from ...ops import creation
from ...ops.inplace import overwrite
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module


class _NormBase(Module):
    """Parameters and running-statistic buffers shared by batch and instance norm."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *, bias: bool = True) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(creation.empty(num_features, device=device, dtype=dtype))
            if bias:
                self.bias = Parameter(creation.empty(num_features, device=device, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", creation.zeros(num_features, device=device, dtype=dtype))
            self.register_buffer("running_var", creation.ones(num_features, device=device, dtype=dtype))
            self.register_buffer("num_batches_tracked", creation.tensor(0, dtype=dtypes.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_channels(self, input, channel_dim: int, error: type = RuntimeError) -> None:
        channels = input.shape[channel_dim]
        if channels != self.num_features:
            raise error(
                f"{type(self).__name__}: expected input with {self.num_features} channels (num_features) at dim "
                f"{channel_dim}, got input of shape {tuple(input.shape)} with {channels} channels"
            )

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    _dims: tuple = ()

    def _check_input_dim(self, input) -> None:
        if input.ndim not in self._dims:
            expected = " or ".join(f"{d}D" for d in self._dims)
            raise ValueError(f"{type(self).__name__}: expected {expected} input (got {input.ndim}D input of shape "
                             f"{tuple(input.shape)})")

    def forward(self, input):
        self._check_input_dim(input)
        self._check_channels(input, 1)
        # checked here too (F.batch_norm checks again): bad input must not count as a batch
        if not input.is_floating_point():
            raise TypeError(f"{type(self).__name__}: expected a floating-point input, got {input.dtype}")
        if self.training and input.numel() == input.shape[1]:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                             f"{tuple(input.shape)}")
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            count = self.num_batches_tracked
            overwrite(count, count._data + 1, "num_batches_tracked")
            if self.momentum is None:  # a cumulative moving average: the mean of all batches so far
                momentum = 1.0 / float(count.item())
        # batch statistics in training, and in eval too when no running statistics are kept
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        # running statistics are updated only when tracked and training; read when evaluating
        keep = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if keep else None, self.running_var if keep else None,
                            self.weight, self.bias, use_batch_stats, momentum, self.eps)


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) input, per channel C."""

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W) input, per channel C."""

    _dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch norm over (N, C, D, H, W) input, per channel C."""

    _dims = (5,)
