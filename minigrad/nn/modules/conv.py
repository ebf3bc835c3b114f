"""Convolution layers: ``Conv1d``, ``Conv2d``, ``ConvTranspose1d``, ``ConvTranspose2d``, ``Unfold``, ``Fold``.

Parameters, their names and shapes, the default initialisation and ``extra_repr`` follow torch,
so a torch state dict loads unchanged.
"""

from __future__ import annotations

import math

from ...ops import conv as conv_ops
from ...ops import creation
from ...ops.spatial import pad
from .. import init
from ..parameter import Parameter
from .module import Module

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """Shared by the convolution layers: argument checks, parameters and their initialisation."""

    _dims = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride, padding, dilation, transposed: bool,
                 output_padding, groups: int, bias: bool, padding_mode: str, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        d = self._dims
        if not isinstance(groups, int) or isinstance(groups, bool) or groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups!r}")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) must be divisible by groups ({groups})")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels ({out_channels}) must be divisible by groups ({groups})")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, but got "
                             f"padding_mode={padding_mode!r}")
        self.kernel_size = conv_ops.ntuple(kernel_size, d, "kernel_size", name)
        self.stride = conv_ops.ntuple(stride, d, "stride", name)
        self.dilation = conv_ops.ntuple(dilation, d, "dilation", name)
        if any(k <= 0 for k in self.kernel_size) or any(s <= 0 for s in self.stride) or any(
                x <= 0 for x in self.dilation):
            raise ValueError(f"{name}: kernel_size, stride and dilation must be positive, got kernel_size "
                             f"{self.kernel_size}, stride {self.stride}, dilation {self.dilation}")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: invalid padding string {padding!r}, should be one of ('valid', 'same')")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions "
                                 f"(stride {self.stride})")
            self.padding = padding
        else:
            self.padding = conv_ops.ntuple(padding, d, "padding", name)
            if any(p < 0 for p in self.padding):
                raise ValueError(f"{name}: padding must be non-negative, got {self.padding}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.transposed = transposed
        self.output_padding = conv_ops.ntuple(output_padding, d, "output_padding", name)
        self.groups = groups
        self.padding_mode = padding_mode
        # what F.pad needs for the non-zero padding modes: last dim first, (left, right) each
        if self.padding == "same":
            widths = []
            for dl, k in zip(reversed(self.dilation), reversed(self.kernel_size)):
                total = dl * (k - 1)
                widths += [total // 2, total - total // 2]
            self._reversed_padding_repeated_twice = widths
        elif self.padding == "valid":
            self._reversed_padding_repeated_twice = [0, 0] * d
        else:
            self._reversed_padding_repeated_twice = [p for p in reversed(self.padding) for _ in range(2)]
        shape = ((in_channels, out_channels // groups) if transposed else (out_channels, in_channels // groups))
        self.weight = Parameter(creation.empty(*shape, *self.kernel_size, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(creation.empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # kaiming_uniform_(a=sqrt(5)) is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), torch's default
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        d = self._dims
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * d:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * d:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * d:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, False, 0, groups, bias,
                         padding_mode, device, dtype)

    def _conv_forward(self, input, weight, bias):
        fn = conv_ops.conv1d if self._dims == 1 else conv_ops.conv2d
        if self.padding_mode != "zeros":
            padded = pad(input, tuple(self._reversed_padding_repeated_twice), mode=self.padding_mode)
            return fn(padded, weight, bias, self.stride, 0, self.dilation, self.groups)
        return fn(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input):
        return self._conv_forward(input, self.weight, self.bias)


class Conv1d(_Conv):
    """1-D convolution over (N, C_in, L): weight (C_out, C_in/groups, k), bias (C_out,).

    ``padding``: int, 1-tuple, ``'valid'`` or ``'same'``; ``padding_mode``: zeros, reflect,
    replicate or circular.
    """

    _dims = 1


class Conv2d(_Conv):
    """2-D convolution over (N, C_in, H, W): weight (C_out, C_in/groups, kh, kw), bias (C_out,).

    ``groups == in_channels`` makes it depthwise. ``padding``: int, pair, ``'valid'`` or
    ``'same'``; ``padding_mode``: zeros, reflect, replicate or circular.
    """

    _dims = 2


class _ConvTranspose(_ConvNd):
    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None,
                 dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}, got '
                             f"{padding_mode!r}")
        if isinstance(padding, str):
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple of ints, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, True, output_padding,
                         groups, bias, padding_mode, device, dtype)

    def _output_padding(self, input, output_size) -> tuple:
        """The output_padding that makes the output ``output_size`` (torch's rule and checks)."""
        if output_size is None:
            return self.output_padding
        d = self._dims
        lead = 2 if input.ndim == d + 2 else 1
        size = list(output_size)
        if len(size) == lead + d:
            size = size[lead:]
        if len(size) != d:
            raise ValueError(f"{type(self).__name__}: for {input.ndim}D input, output_size must have {d} or {d + lead} "
                             f"elements (got {len(output_size)})")
        smallest = [(input.shape[lead + i] - 1) * self.stride[i] - 2 * self.padding[i]
                    + self.dilation[i] * (self.kernel_size[i] - 1) + 1 for i in range(d)]
        largest = [s + st - 1 for s, st in zip(smallest, self.stride)]
        for i in range(d):
            if not smallest[i] <= size[i] <= largest[i]:
                raise ValueError(f"{type(self).__name__}: requested an output size of {tuple(size)}, but valid sizes "
                                 f"range from {tuple(smallest)} to {tuple(largest)} (for an input of shape "
                                 f"{tuple(input.shape)})")
        return tuple(size[i] - smallest[i] for i in range(d))

    def forward(self, input, output_size=None):
        fn = conv_ops.conv_transpose1d if self._dims == 1 else conv_ops.conv_transpose2d
        output_padding = self._output_padding(input, output_size)
        return fn(input, self.weight, self.bias, self.stride, self.padding, output_padding, self.groups,
                  self.dilation)


class ConvTranspose1d(_ConvTranspose):
    """Transposed 1-D convolution: weight (C_in, C_out/groups, k); the gradient of Conv1d wrt its input."""

    _dims = 1


class ConvTranspose2d(_ConvTranspose):
    """Transposed 2-D convolution ("deconvolution"): weight (C_in, C_out/groups, kh, kw).

    ``forward(input, output_size=None)``: ``output_size`` picks the output_padding, as torch.
    """

    _dims = 2


class Unfold(Module):
    """Sliding local blocks (im2col): (N, C, H, W) -> (N, C * kh * kw, L); see ``F.unfold``."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, input):
        return conv_ops.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
                f"stride={self.stride}")


class Fold(Module):
    """Sum sliding blocks back into an image (col2im): (N, C * kh * kw, L) -> (N, C, *output_size)."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input):
        return conv_ops.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")
