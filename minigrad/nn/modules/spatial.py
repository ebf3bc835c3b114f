"""Spatial layers: ``Upsample`` (and the UpsamplingNearest2d/Bilinear2d shorthands), ``PixelShuffle``,
``PixelUnshuffle`` and the padding layers (``ZeroPad``, ``ConstantPad``, ``ReflectionPad``,
``ReplicationPad``, ``CircularPad`` in 1-D and 2-D). Arguments and ``extra_repr`` follow torch.
"""

from __future__ import annotations

from ...ops import spatial
from ...ops.conv import ntuple
from .module import Module


class Upsample(Module):
    """Resize (N, C, L) or (N, C, H, W) input to ``size`` or by ``scale_factor``; see ``F.interpolate``."""

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None):
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode, self.align_corners = mode, align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return spatial.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                                   recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self) -> str:
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return f"{info}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """``Upsample(mode='nearest')`` for 4-D input."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(mode='bilinear', align_corners=True)`` for 4-D input."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class PixelShuffle(Module):
    """(*, C * r^2, H, W) -> (*, C, H * r, W * r) (sub-pixel convolution, Shi et al., 2016)."""

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input):
        return spatial.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H * r, W * r) -> (*, C * r^2, H, W), the inverse of PixelShuffle."""

    def __init__(self, downscale_factor: int):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input):
        return spatial.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class _PadNd(Module):
    """Pads the last ``_dims`` dims; ``padding`` is an int or torch's (left, right[, top, bottom]) tuple."""

    _dims = 2
    _mode = "constant"

    def __init__(self, padding):
        super().__init__()
        self.padding = ntuple(padding, 2 * self._dims, "padding", type(self).__name__)

    def forward(self, input):
        return spatial.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ConstantPad1d(_PadNd):
    """Pad the last dim with a constant ``value``."""

    _dims = 1

    def __init__(self, padding, value: float):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return spatial.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad2d(ConstantPad1d):
    """Pad the last two dims with a constant ``value``; padding (left, right, top, bottom)."""

    _dims = 2


class ZeroPad1d(_PadNd):
    """Pad the last dim with zeros."""

    _dims = 1


class ZeroPad2d(_PadNd):
    """Pad the last two dims with zeros; padding (left, right, top, bottom)."""

    _dims = 2


class ReflectionPad1d(_PadNd):
    """Pad the last dim with its mirror image (the edge itself not repeated)."""

    _dims, _mode = 1, "reflect"


class ReflectionPad2d(_PadNd):
    """Pad the last two dims with their mirror image (the edge itself not repeated)."""

    _dims, _mode = 2, "reflect"


class ReplicationPad1d(_PadNd):
    """Pad the last dim by repeating the edge value."""

    _dims, _mode = 1, "replicate"


class ReplicationPad2d(_PadNd):
    """Pad the last two dims by repeating the edge values."""

    _dims, _mode = 2, "replicate"


class CircularPad1d(_PadNd):
    """Pad the last dim by wrapping around."""

    _dims, _mode = 1, "circular"


class CircularPad2d(_PadNd):
    """Pad the last two dims by wrapping around."""

    _dims, _mode = 2, "circular"
