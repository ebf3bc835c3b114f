"""``InstanceNorm1d``, ``InstanceNorm2d``, ``InstanceNorm3d`` (Ulyanov et al., 2016), with torch's
defaults (``affine=False``, ``track_running_stats=False``) and unbatched inputs. The math is
``F.instance_norm`` (minigrad/ops/norm.py).
"""

from __future__ import annotations

import warnings

from ...ops.shape import squeeze, unsqueeze
from .. import functional as F
from .batchnorm import _NormBase


class _InstanceNorm(_NormBase):
    _no_batch_dims: int = 0  # dims of an unbatched input: (C, L) is 2 for InstanceNorm1d

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = False,
                 track_running_stats: bool = False, device=None, dtype=None, *, bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def forward(self, input):
        unbatched, batched = self._no_batch_dims, self._no_batch_dims + 1
        if input.ndim not in (unbatched, batched):
            raise ValueError(f"{type(self).__name__}: expected {unbatched}D (unbatched) or {batched}D (batched) input "
                             f"(got {input.ndim}D input of shape {tuple(input.shape)})")
        channel_dim = input.ndim - unbatched
        if input.shape[channel_dim] != self.num_features:
            if self.affine or self.track_running_stats:  # the per-channel parameters or statistics must fit
                self._check_channels(input, channel_dim, ValueError)
            warnings.warn(f"{type(self).__name__}: input's size at dim={channel_dim} ({input.shape[channel_dim]}) "
                          f"does not match num_features ({self.num_features}), which is not used because "
                          "affine=False", stacklevel=2)
        if input.ndim == unbatched:
            return squeeze(self._normalize(unsqueeze(input, 0)), 0)
        return self._normalize(input)

    def _normalize(self, input):
        return F.instance_norm(input, self.running_mean, self.running_var, self.weight, self.bias,
                               self.training or not self.track_running_stats,
                               self.momentum if self.momentum is not None else 0.0, self.eps)


class InstanceNorm1d(_InstanceNorm):
    """Instance norm of (N, C, L) or unbatched (C, L) input: each (sample, channel) over L."""

    _no_batch_dims = 2


class InstanceNorm2d(_InstanceNorm):
    """Instance norm of (N, C, H, W) or unbatched (C, H, W) input: each (sample, channel) over H, W."""

    _no_batch_dims = 3


class InstanceNorm3d(_InstanceNorm):
    """Instance norm of (N, C, D, H, W) or unbatched (C, D, H, W) input."""

    _no_batch_dims = 4
