"""Dropout (Srivastava et al., 2014, "Dropout: A Simple Way to Prevent Neural Networks from Overfitting").

Inverted dropout: in training each element is kept with probability 1 - p and scaled by 1 / (1 - p),
so the expected output equals the input and evaluation needs no rescaling. ``dropout1d/2d/3d``
drop whole channels (one draw per (sample, channel)), for convolutional features whose neighbours
are correlated (Tompson et al., 2015). ``alpha_dropout`` keeps SELU's self-normalising mean and
variance (Klambauer et al., 2017).

Masks come from minigrad's seeded default generator for the input's device, so ``mg.manual_seed``
makes them reproducible and ``utils.checkpoint`` replays the same mask when it recomputes.
"""

from __future__ import annotations

import math
import warnings

from .. import backend, dtypes
from ..autograd.op import Op
from ..tensor import Tensor
from ._common import constant


class Dropout(Op):
    """y = x * mask, with mask = keep / (1 - p) drawn once; the gradient is gy * mask."""

    def __init__(self, mask):
        self.mask = mask

    def forward(self, x):
        return x * self.mask

    def backward(self, gy):
        return gy * constant(self.mask)  # the mask is a constant of the draw: exact to any order


def _check(name: str, input, p: float) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: argument 'input' must be a Tensor, not {type(input).__name__}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: dropout probability has to be between 0 and 1, but got {p}")
    if not dtypes.is_floating(input._data.dtype):
        raise TypeError(f"{name}: expected a floating-point input, got {input.dtype}")


def _keep_mask(input: Tensor, shape: tuple, p: float):
    """keep / (1 - p) in the input's dtype, with one Bernoulli(1 - p) draw per element of ``shape``."""
    generator = backend.default_generator(input.device)
    with backend.on_device(input.device):
        draw = generator.uniform(shape, input._data.dtype if input._data.dtype.itemsize >= 4 else dtypes.DEFAULT_FLOAT)
    mask = (draw >= p).astype(input._data.dtype)
    if p < 1.0:  # p = 1 drops everything: the mask stays all zeros (no 0 * inf)
        mask *= 1.0 / (1.0 - p)
    return mask


def _apply(input: Tensor, mask, inplace: bool) -> Tensor:
    if inplace:
        return input.mul_(constant(mask))
    return Dropout(mask)(input)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1 / (1 - p); identity unless training."""
    _check("dropout", input, p)
    if not training or p == 0.0:
        return input
    return _apply(input, _keep_mask(input, tuple(input.shape), p), inplace)


def _feature_dropout(name: str, input: Tensor, p: float, training: bool, inplace: bool, batched_ndim: int) -> Tensor:
    """Drop whole channels: one draw per (N, C) of an (N, C, *spatial) input, or per C of (C, *spatial)."""
    _check(name, input, p)
    if input.ndim not in (batched_ndim - 1, batched_ndim):
        raise RuntimeError(
            f"{name}: expected {batched_ndim - 1}-D or {batched_ndim}-D input, but received a {input.ndim}-D input "
            f"of shape {tuple(input.shape)}")
    if not training or p == 0.0:
        return input
    lead = 2 if input.ndim == batched_ndim else 1
    shape = tuple(input.shape[:lead]) + (1,) * (input.ndim - lead)
    return _apply(input, _keep_mask(input, shape, p), inplace)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Channel-wise dropout of (N, C, L) or (C, L) inputs."""
    return _feature_dropout("dropout1d", input, p, training, inplace, 3)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Channel-wise dropout of (N, C, H, W) or (C, H, W) inputs.

    As torch, a 3-D input is taken as (N, C, L) (channel-wise 1-d dropout), with a warning.
    """
    if isinstance(input, Tensor) and input.ndim == 3:
        warnings.warn("dropout2d: received a 3D input and assuming that channel-wise 1D dropout behavior is "
                      "desired: the input is interpreted as shape (N, C, L), as torch does; use dropout1d for "
                      "that, or give a 4D (N, C, H, W) input", stacklevel=2)
        return _feature_dropout("dropout2d", input, p, training, inplace, 3)
    return _feature_dropout("dropout2d", input, p, training, inplace, 4)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Channel-wise dropout of (N, C, D, H, W) or (C, D, H, W) inputs."""
    return _feature_dropout("dropout3d", input, p, training, inplace, 5)


# SELU's constants (Klambauer et al., 2017): the value a dropped unit takes is SELU's negative saturation.
_SELU_ALPHA = 1.6732632423543772
_SELU_SCALE = 1.0507009873554805
_ALPHA_PRIME = -_SELU_ALPHA * _SELU_SCALE


def _alpha(name: str, input: Tensor, p: float, training: bool, inplace: bool, shape) -> Tensor:
    _check(name, input, p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input.mul_(0.0) if inplace else input * 0.0
    generator = backend.default_generator(input.device)
    with backend.on_device(input.device):
        draw = generator.uniform(shape, dtypes.DEFAULT_FLOAT if input._data.dtype.itemsize < 4 else input._data.dtype)
    keep = (draw >= p).astype(input._data.dtype)
    # a (x keep + alpha' (1 - keep)) + b keeps zero mean and unit variance for standardised inputs
    a = 1.0 / math.sqrt((1.0 - p) * (1.0 + p * _ALPHA_PRIME**2))
    b = -a * _ALPHA_PRIME * p
    offset = constant(((1.0 - keep) * (a * _ALPHA_PRIME) + b).astype(input._data.dtype, copy=False))
    scale = (keep * a).astype(input._data.dtype, copy=False)
    if inplace:
        return input.mul_(constant(scale)).add_(offset)
    return Dropout(scale)(input) + offset


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Dropout for SELU networks: dropped units take SELU's saturation value, then an affine map restores
    the mean and variance."""
    return _alpha("alpha_dropout", input, p, training, inplace, tuple(input.shape) if isinstance(input, Tensor) else ())


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """``alpha_dropout`` of whole channels of an (N, C, ...) input."""
    if isinstance(input, Tensor) and input.ndim < 2:
        raise RuntimeError(f"feature_alpha_dropout: expected an input with at least 2 dims (N, C, ...), got shape "
                           f"{tuple(input.shape)}")
    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2) if isinstance(input, Tensor) else ()
    return _alpha("feature_alpha_dropout", input, p, training, inplace, shape)
