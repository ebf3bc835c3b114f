"""Image augmentations on whole batches, for supervised and self-supervised training.

Every transform takes a batch ``(N, C, H, W)`` (or one image ``(C, H, W)``) of floating-point
images in [0, 1], as a NumPy or CuPy array or a minigrad Tensor, and returns the same kind of
object. Random transforms draw their parameters per sample, as arrays, and apply them to the
whole batch at once: no Python loop runs over samples or pixels. The names and defaults are
torchvision's (``RandomResizedCrop``, ``ColorJitter``, ``GaussianBlur`` ...), with deterministic
functional versions beside them (``resized_crop``, ``rotate``, ``adjust_hue`` ...).

Randomness: each random transform has its own CPU generator, from ``seed=`` or ``generator=``
(an ``mg.Generator``), else the global one (so ``mg.manual_seed`` makes a pipeline reproducible).
Parameters are drawn on the host, so a seeded transform gives the same crops, flips and colours
on the CPU and the GPU; only full-size noise (``GaussianNoise``) is drawn on the array's device.

Resampling (crops, resizes) is separable: each output row (column) is a weighted sum of input
rows (columns), so a resized crop is two batched matrix products ``Ry @ x @ Rx^T`` with one small
weight matrix per sample and axis. Upscaling uses bilinear weights (``F.interpolate(mode="bilinear",
align_corners=False)``); downscaling widens the triangle filter to the scale factor (antialiasing,
as torchvision's ``antialias=True``). Rotations and translations map every output pixel back into the
input and interpolate there (a gather with computed index grids).

Self-supervised helpers: ``MultiView``/``TwoViews`` (several independently augmented views of one
batch, as SimCLR and BYOL need) and ``MultiCrop`` (2 global + N local crops, as SwAV and DINO).
Augmentations are not recorded by autograd: they act on data.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence

import numpy as np

from . import backend
from .tensor import Tensor

_GRAY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R 601 luma, as torchvision's rgb_to_grayscale


# ----------------------------------------------------------------------------------------------
# Batches in, batches out
# ----------------------------------------------------------------------------------------------
def _unwrap(images, who: str):
    """``(array (N, C, H, W), rewrap)``: ``rewrap(out)`` restores the caller's type and rank."""
    if isinstance(images, Tensor):
        array, to_tensor = images._data, True
    elif isinstance(images, np.ndarray) or backend.is_cuda_array(images):
        array, to_tensor = images, False
    else:
        raise TypeError(f"{who}: expected a NumPy/CuPy array or a minigrad Tensor, got {type(images).__name__}")
    if array.ndim not in (3, 4):
        raise ValueError(f"{who}: expected images (N, C, H, W) or (C, H, W), got shape {tuple(array.shape)}")
    if array.dtype.kind != "f":
        raise TypeError(
            f"{who}: expected floating-point images in [0, 1], got dtype {array.dtype} "
            "(convert uint8 images with x.astype(np.float32) / 255)"
        )
    single = array.ndim == 3
    if single:
        array = array[None]

    def rewrap(out):
        if single:
            out = out[0]
        return Tensor._make(out, None, 0, False, None) if to_tensor else out

    return array, rewrap


def _pair(value, who: str, name: str) -> tuple:
    if isinstance(value, numbers.Number):
        return (value, value)
    value = tuple(value)
    if len(value) != 2:
        raise ValueError(f"{who}: {name} should be a number or a pair, got {value}")
    return value


def _range(value, who: str, name: str, center: float | None = None, bound: tuple = (-math.inf, math.inf)) -> tuple:
    """A ``(low, high)`` range: a single number ``v`` means ``center -+ v`` (or ``(-v, v)``)."""
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"{who}: {name} as a single number must be non-negative, got {value}")
        c = 0.0 if center is None else center
        low, high = c - value, c + value
        if center is not None:
            low = max(low, bound[0])
    else:
        low, high = _pair(value, who, name)
    if not bound[0] <= low <= high <= bound[1]:
        raise ValueError(f"{who}: {name} must satisfy {bound[0]} <= low <= high <= {bound[1]}, got ({low}, {high})")
    return float(low), float(high)


def _per_sample(values, n: int, who: str, name: str) -> np.ndarray:
    """A number or a length-``n`` sequence as a host float64 array ``(n,)``."""
    array = np.asarray(values.get() if hasattr(values, "get") else values, dtype=np.float64)
    if array.ndim == 0:
        array = np.full(n, float(array))
    if array.shape != (n,):
        raise ValueError(f"{who}: {name} must be a number or one value per sample ({n}), got shape {array.shape}")
    return array


class _Random:
    """Base of the random transforms: one CPU generator, from ``seed``, ``generator`` or the global one."""

    def __init__(self, generator: backend.Generator | None = None, seed: int | None = None) -> None:
        if generator is not None and seed is not None:
            raise ValueError(f"{type(self).__name__}: give either generator= or seed=, not both")
        if generator is not None:
            if not isinstance(generator, backend.Generator) or generator.device.type != "cpu":
                raise TypeError(f"{type(self).__name__}: generator must be a CPU mg.Generator, got {generator!r}")
        self._generator = backend.Generator("cpu").manual_seed(seed) if seed is not None else generator

    @property
    def generator(self) -> backend.Generator:
        return self._generator if self._generator is not None else backend.default_generator(backend.CPU)

    def _uniform(self, n: int, low: float, high: float) -> np.ndarray:
        return self.generator.uniform((n,), np.float64, low, high)

    def _coin(self, n: int, p: float) -> np.ndarray:
        return self.generator.uniform((n,), np.float64) < p

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


def _check_p(p: float, who: str) -> float:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{who}: p must be a probability in [0, 1], got {p}")
    return float(p)


def _select(mask: np.ndarray, changed, original):
    """Per-sample choice between two batches (``mask`` is a host bool array ``(N,)``)."""
    xp = backend.get_array_module(original)
    return xp.where(xp.asarray(mask)[:, None, None, None], changed, original)


# ----------------------------------------------------------------------------------------------
# Geometry: flips, crops and resizes (separable resampling)
# ----------------------------------------------------------------------------------------------
def hflip(images):
    """Mirror left-right."""
    x, rewrap = _unwrap(images, "hflip")
    return rewrap(x[..., ::-1].copy())


def vflip(images):
    """Mirror top-bottom."""
    x, rewrap = _unwrap(images, "vflip")
    return rewrap(x[..., ::-1, :].copy())


def _resample_matrices(xp, start, length, n_in: int, n_out: int, antialias: bool, dtype):
    """``(N, n_out, n_in)`` weights resampling ``[start, start + length)`` of each sample's axis to ``n_out``.

    Output pixel ``i`` is centred at source position ``start + (i + 0.5) * scale`` (``scale = length
    / n_out``, positions measured from the first pixel's edge). Its weights are a triangle around
    that position, ``max(0, 1 - |centre_j - position| / support)`` over the centres ``centre_j = j + 0.5``
    of the source pixels inside the box, renormalised to sum to 1; ``support`` is 1 (bilinear) or,
    when antialiasing a downscale, the scale factor. Dropping the weights of pixels outside the box
    is the border clamping of ``F.interpolate(..., align_corners=False)`` applied to the crop, so
    the result equals cropping first and resizing after, as torchvision's ``resized_crop``.
    """
    scale = length / n_out
    position = start[:, None] + (xp.arange(n_out, dtype=dtype) + 0.5) * scale[:, None]
    support = xp.maximum(scale, 1.0) if antialias else xp.ones_like(scale)
    centres = xp.arange(n_in, dtype=dtype) + 0.5
    w = xp.maximum(1.0 - xp.abs(centres[None, None, :] - position[..., None]) / support[:, None, None], 0.0)
    in_box = (centres[None, :] > start[:, None]) & (centres[None, :] < (start + length)[:, None])
    w = w * in_box[:, None, :]
    total = w.sum(-1, keepdims=True)
    return (w / xp.where(total > 0, total, 1.0)).astype(dtype, copy=False)


def resized_crop(images, top, left, height, width, size, antialias: bool = True):
    """Crop the box ``(top, left, height, width)`` of each image and resize it to ``size``.

    The box values are numbers or one value per sample (arrays of length N), in pixels; they may be
    fractional. ``size`` is an int (square) or ``(h, w)``. Bilinear, antialiased when downscaling.
    """
    x, rewrap = _unwrap(images, "resized_crop")
    return rewrap(_resized_crop(x, top, left, height, width, _size(size, "resized_crop"), antialias))


def _resized_crop(x, top, left, height, width, size: tuple[int, int], antialias: bool):
    xp = backend.get_array_module(x)
    n, _, h_in, w_in = x.shape
    box = [_per_sample(v, n, "resized_crop", k)
           for k, v in (("top", top), ("left", left), ("height", height), ("width", width))]
    if (box[2] <= 0).any() or (box[3] <= 0).any():
        raise ValueError("resized_crop: crop height and width must be positive")
    top_, left_, height_, width_ = (xp.asarray(v, dtype=x.dtype) for v in box)
    Ry = _resample_matrices(xp, top_, height_, h_in, size[0], antialias, x.dtype)
    Rx = _resample_matrices(xp, left_, width_, w_in, size[1], antialias, x.dtype)
    return Ry[:, None] @ x @ Rx[:, None].transpose(0, 1, 3, 2)


def resize(images, size, antialias: bool = True):
    """Resize to ``size`` (int or ``(h, w)``): bilinear, antialiased when downscaling."""
    x, rewrap = _unwrap(images, "resize")
    _, _, h, w = x.shape
    return rewrap(_resized_crop(x, 0, 0, h, w, _size(size, "resize"), antialias))


def _size(size, who: str) -> tuple[int, int]:
    h, w = _pair(size, who, "size")
    if not all(isinstance(v, (int, np.integer)) and v > 0 for v in (h, w)):
        raise ValueError(f"{who}: size must be a positive int or a pair of them, got {size!r}")
    return int(h), int(w)


class RandomResizedCrop(_Random):
    """A random box of random area and aspect ratio, resized to ``size`` (Inception-style; SimCLR's main augmentation).

    Per sample, as torchvision: up to 10 tries draw an area fraction from ``scale`` and a log-uniform
    aspect ratio from ``ratio`` and keep the first box that fits; if none fits, the central box
    with the closest allowed ratio. Box sides and offsets are whole pixels.
    """

    def __init__(
        self,
        size,
        scale: tuple[float, float] = (0.08, 1.0),
        ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0),
        antialias: bool = True,
        generator: backend.Generator | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(generator, seed)
        self.size = _size(size, "RandomResizedCrop")
        self.scale = _range(scale, "RandomResizedCrop", "scale", bound=(0.0, math.inf))
        self.ratio = _range(ratio, "RandomResizedCrop", "ratio", bound=(1e-12, math.inf))
        if self.scale[1] <= 0:
            raise ValueError(f"RandomResizedCrop: scale must allow a positive area, got {scale}")
        self.antialias = antialias

    def boxes(self, n: int, height: int, width: int) -> tuple[np.ndarray, ...]:
        """Draw ``(top, left, box_height, box_width)`` for ``n`` images of ``height x width`` (int arrays)."""
        tries = 10
        gen = self.generator
        area = height * width * gen.uniform((n, tries), np.float64, *self.scale)
        log_ratio = gen.uniform((n, tries), np.float64, math.log(self.ratio[0]), math.log(self.ratio[1]))
        aspect = np.exp(log_ratio)
        w = np.rint(np.sqrt(area * aspect)).astype(np.int64)
        h = np.rint(np.sqrt(area / aspect)).astype(np.int64)
        fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
        first = fits.argmax(axis=1)
        rows = np.arange(n)
        h, w, found = h[rows, first], w[rows, first], fits.any(axis=1)
        # the fallback: the central box, its ratio clamped into the allowed range
        in_ratio = width / height
        if in_ratio < self.ratio[0]:
            fb_w, fb_h = width, int(round(width / self.ratio[0]))
        elif in_ratio > self.ratio[1]:
            fb_h, fb_w = height, int(round(height * self.ratio[1]))
        else:
            fb_h, fb_w = height, width
        h, w = np.where(found, h, fb_h), np.where(found, w, fb_w)
        u = gen.uniform((2, n), np.float64)
        top = np.where(found, np.floor(u[0] * (height - h + 1)), (height - h) // 2).astype(np.int64)
        left = np.where(found, np.floor(u[1] * (width - w + 1)), (width - w) // 2).astype(np.int64)
        return top, left, h, w

    def __call__(self, images):
        x, rewrap = _unwrap(images, "RandomResizedCrop")
        top, left, h, w = self.boxes(x.shape[0], x.shape[2], x.shape[3])
        return rewrap(_resized_crop(x, top, left, h, w, self.size, self.antialias))


class RandomCrop(_Random):
    """A random ``size`` window after ``padding`` pixels of ``fill`` on every side (CIFAR-10's: 32, padding=4)."""

    def __init__(self, size, padding: int = 0, fill: float = 0.0, generator=None, seed: int | None = None) -> None:
        super().__init__(generator, seed)
        self.size = _size(size, "RandomCrop")
        if not isinstance(padding, (int, np.integer)) or padding < 0:
            raise ValueError(f"RandomCrop: padding must be a non-negative int, got {padding!r}")
        self.padding = int(padding)
        self.fill = float(fill)

    def __call__(self, images):
        x, rewrap = _unwrap(images, "RandomCrop")
        xp = backend.get_array_module(x)
        p = self.padding
        if p:
            x = xp.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=self.fill)
        n, c, h, w = x.shape
        out_h, out_w = self.size
        if out_h > h or out_w > w:
            raise ValueError(f"RandomCrop: crop size {self.size} is larger than the (padded) image {(h, w)}")
        u = self.generator.uniform((2, n), np.float64)
        top = xp.asarray(np.floor(u[0] * (h - out_h + 1)).astype(np.int64))
        left = xp.asarray(np.floor(u[1] * (w - out_w + 1)).astype(np.int64))
        rows = (top[:, None] + xp.arange(out_h))[:, None, :, None]
        cols = (left[:, None] + xp.arange(out_w))[:, None, None, :]
        return rewrap(x[xp.arange(n)[:, None, None, None], xp.arange(c)[None, :, None, None], rows, cols])


class RandomHorizontalFlip(_Random):
    """Mirror left-right with probability ``p``, independently per sample."""

    def __init__(self, p: float = 0.5, generator=None, seed: int | None = None) -> None:
        super().__init__(generator, seed)
        self.p = _check_p(p, "RandomHorizontalFlip")

    def __call__(self, images):
        x, rewrap = _unwrap(images, "RandomHorizontalFlip")
        return rewrap(_select(self._coin(x.shape[0], self.p), x[..., ::-1], x))


class RandomVerticalFlip(_Random):
    """Mirror top-bottom with probability ``p``, independently per sample."""

    def __init__(self, p: float = 0.5, generator=None, seed: int | None = None) -> None:
        super().__init__(generator, seed)
        self.p = _check_p(p, "RandomVerticalFlip")

    def __call__(self, images):
        x, rewrap = _unwrap(images, "RandomVerticalFlip")
        return rewrap(_select(self._coin(x.shape[0], self.p), x[..., ::-1, :], x))


# ----------------------------------------------------------------------------------------------
# Geometry: rotations and translations (inverse mapping + interpolation)
# ----------------------------------------------------------------------------------------------
def affine(images, angle=0.0, translate=(0.0, 0.0), scale=1.0, interpolation: str = "bilinear", fill: float = 0.0):
    """Rotate by ``angle`` degrees (counter-clockwise), scale, then translate by ``(dx, dy)`` pixels.

    About the image centre, as torchvision's ``affine``. Each argument is a number or one value per
    sample (``translate`` a pair or an ``(N, 2)`` array). Every output pixel is mapped back into
    the input and read there (``"bilinear"`` or ``"nearest"``); the area that comes from outside the
    image is ``fill``.
    """
    x, rewrap = _unwrap(images, "affine")
    if interpolation not in ("bilinear", "nearest"):
        raise ValueError(f"affine: interpolation must be 'bilinear' or 'nearest', got {interpolation!r}")
    return rewrap(_affine(x, angle, translate, scale, interpolation, float(fill)))


def _affine(x, angle, translate, scale, interpolation: str, fill: float):
    xp = backend.get_array_module(x)
    n, c, h, w = x.shape
    angle_ = _per_sample(angle, n, "affine", "angle")
    scale_ = _per_sample(scale, n, "affine", "scale")
    if (scale_ <= 0).any():
        raise ValueError("affine: scale must be positive")
    shift = np.asarray(translate, dtype=np.float64)
    if shift.shape not in ((2,), (n, 2)):
        raise ValueError(f"affine: translate must be a pair or an (N, 2) array, got shape {shift.shape}")
    shift = np.broadcast_to(shift, (n, 2))
    # inverse map: output offset q from the centre comes from input offset R(-angle) (q - t) / s. With y
    # pointing down, a counter-clockwise turn by a maps (x, y) to (x cos a + y sin a, -x sin a + y cos a).
    theta = np.deg2rad(angle_)
    cos, sin = np.cos(theta) / scale_, np.sin(theta) / scale_
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    to = dict(dtype=x.dtype)
    cos, sin = xp.asarray(cos, **to)[:, None, None], xp.asarray(sin, **to)[:, None, None]
    tx, ty = (xp.asarray(np.ascontiguousarray(shift[:, i]), **to)[:, None, None] for i in (0, 1))
    qx = xp.arange(w, dtype=x.dtype)[None, None, :] - cx - tx
    qy = xp.arange(h, dtype=x.dtype)[None, :, None] - cy - ty
    src_x = cos * qx - sin * qy + cx
    src_y = sin * qx + cos * qy + cy
    return _sample(x, src_y, src_x, interpolation, fill)


def _sample(x, src_y, src_x, interpolation: str, fill: float):
    """Read ``x`` (N, C, H, W) at fractional positions ``(src_y, src_x)`` (N, H', W'); outside reads ``fill``."""
    xp = backend.get_array_module(x)
    n, c, h, w = x.shape
    flat = x.reshape(n, c, h * w)
    out_shape = (n, c) + src_y.shape[1:]

    def read(yi, xi):
        inside = (yi >= 0) & (yi < h) & (xi >= 0) & (xi < w)
        index = (xp.clip(yi, 0, h - 1) * w + xp.clip(xi, 0, w - 1)).reshape(n, 1, -1)
        values = xp.take_along_axis(flat, xp.broadcast_to(index, (n, c, index.shape[-1])), axis=2)
        return values.reshape(out_shape), inside[:, None]

    if interpolation == "nearest":
        values, inside = read(xp.rint(src_y).astype(np.int64), xp.rint(src_x).astype(np.int64))
        return xp.where(inside, values, xp.asarray(fill, dtype=x.dtype))
    y0, x0 = xp.floor(src_y), xp.floor(src_x)
    fy, fx = (src_y - y0)[:, None], (src_x - x0)[:, None]
    y0, x0 = y0.astype(np.int64), x0.astype(np.int64)
    out = xp.zeros(out_shape, dtype=x.dtype)
    outside = xp.zeros(out_shape[:1] + (1,) + out_shape[2:], dtype=x.dtype)
    for dy, dx, weight in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
        values, inside = read(y0 + dy, x0 + dx)
        out += xp.where(inside, values, 0.0) * weight
        outside += xp.where(inside, 0.0, weight)
    return (out + fill * outside).astype(x.dtype, copy=False) if fill else out


def rotate(images, angle, interpolation: str = "bilinear", fill: float = 0.0):
    """Rotate by ``angle`` degrees counter-clockwise about the centre (a number or one per sample)."""
    return affine(images, angle=angle, interpolation=interpolation, fill=fill)


class RandomAffine(_Random):
    """Random rotation, translation and scaling per sample (torchvision's ``RandomAffine`` without shear).

    ``degrees``: ``d`` means ``uniform(-d, d)``, or a ``(min, max)`` pair. ``translate=(a, b)``: shifts
    drawn from ``uniform(-a * W, a * W)`` and ``uniform(-b * H, b * H)``, rounded to whole pixels as
    torchvision does. ``scale=(lo, hi)``: a zoom factor ``uniform(lo, hi)``.
    """

    def __init__(
        self,
        degrees=0.0,
        translate: tuple[float, float] | None = None,
        scale: tuple[float, float] | None = None,
        interpolation: str = "bilinear",
        fill: float = 0.0,
        generator=None,
        seed: int | None = None,
    ) -> None:
        super().__init__(generator, seed)
        who = type(self).__name__
        self.degrees = _range(degrees, who, "degrees")
        if translate is not None:
            translate = _pair(translate, who, "translate")
            if not all(0.0 <= t <= 1.0 for t in translate):
                raise ValueError(f"{who}: translate fractions must be in [0, 1], got {translate}")
        self.translate = translate
        self.scale = None if scale is None else _range(scale, who, "scale", bound=(1e-12, math.inf))
        if interpolation not in ("bilinear", "nearest"):
            raise ValueError(f"{who}: interpolation must be 'bilinear' or 'nearest', got {interpolation!r}")
        self.interpolation = interpolation
        self.fill = float(fill)

    def __call__(self, images):
        x, rewrap = _unwrap(images, type(self).__name__)
        n, _, h, w = x.shape
        angle = self._uniform(n, *self.degrees)
        shift = np.zeros((n, 2))
        if self.translate is not None:
            shift[:, 0] = np.rint(self._uniform(n, -self.translate[0] * w, self.translate[0] * w))
            shift[:, 1] = np.rint(self._uniform(n, -self.translate[1] * h, self.translate[1] * h))
        zoom = 1.0 if self.scale is None else self._uniform(n, *self.scale)
        return rewrap(_affine(x, angle, shift, zoom, self.interpolation, self.fill))


class RandomRotation(RandomAffine):
    """Rotate each sample by an angle drawn from ``uniform(-degrees, degrees)`` (or a ``(min, max)`` pair)."""

    def __init__(self, degrees, interpolation: str = "bilinear", fill: float = 0.0, generator=None, seed=None) -> None:
        super().__init__(degrees, interpolation=interpolation, fill=fill, generator=generator, seed=seed)


# ----------------------------------------------------------------------------------------------
# Colour
# ----------------------------------------------------------------------------------------------
def rgb_to_grayscale(images, num_output_channels: int = 1):
    """Luma ``0.299 R + 0.587 G + 0.114 B`` (a 1-channel image is already gray), repeated to ``num_output_channels``."""
    x, rewrap = _unwrap(images, "rgb_to_grayscale")
    return rewrap(_gray(x, num_output_channels))


def _gray(x, channels: int = 1):
    xp = backend.get_array_module(x)
    if x.shape[1] == 1:
        gray = x
    elif x.shape[1] == 3:
        weights = xp.asarray(_GRAY_WEIGHTS, dtype=x.dtype)
        gray = (x * weights[None, :, None, None]).sum(axis=1, keepdims=True)
    else:
        raise ValueError(f"colour transforms expect 1 or 3 channels, got {x.shape[1]}")
    return xp.broadcast_to(gray, (x.shape[0], channels) + x.shape[2:]).copy() if channels > 1 else gray


def _blend(x, other, factor):
    """``factor * x + (1 - factor) * other``, clipped to [0, 1] (``factor`` per sample)."""
    xp = backend.get_array_module(x)
    f = xp.asarray(factor, dtype=x.dtype).reshape(-1, 1, 1, 1)
    return xp.clip(f * x + (1 - f) * other, 0.0, 1.0)


def adjust_brightness(images, factor):
    """Scale intensities by ``factor`` (0 gives black, 1 the original); clipped to [0, 1]."""
    x, rewrap = _unwrap(images, "adjust_brightness")
    return rewrap(_brightness(x, _per_sample(factor, x.shape[0], "adjust_brightness", "factor")))


def adjust_contrast(images, factor):
    """Blend with the image's mean gray level (0 gives a flat gray image, 1 the original)."""
    x, rewrap = _unwrap(images, "adjust_contrast")
    return rewrap(_contrast(x, _per_sample(factor, x.shape[0], "adjust_contrast", "factor")))


def adjust_saturation(images, factor):
    """Blend with the grayscale image (0 gives gray, 1 the original); no effect on 1-channel images."""
    x, rewrap = _unwrap(images, "adjust_saturation")
    return rewrap(_saturation(x, _per_sample(factor, x.shape[0], "adjust_saturation", "factor")))


def adjust_hue(images, hue_factor):
    """Turn hues by ``hue_factor`` of a full turn (in [-0.5, 0.5]); no effect on 1-channel images.

    The turn is a rotation of the colour cube about its gray diagonal, so grays stay gray and
    brightness is kept; it is close to, not identical with, torchvision's shift of the HSV hue.
    """
    x, rewrap = _unwrap(images, "adjust_hue")
    factor = _per_sample(hue_factor, x.shape[0], "adjust_hue", "hue_factor")
    if (np.abs(factor) > 0.5).any():
        raise ValueError("adjust_hue: hue_factor must be in [-0.5, 0.5]")
    return rewrap(_hue(x, factor))


def _brightness(x, factor):
    return _blend(x, 0.0, factor)


def _contrast(x, factor):
    mean = _gray(x).mean(axis=(1, 2, 3), keepdims=True)
    return _blend(x, mean, factor)


def _saturation(x, factor):
    return x if x.shape[1] == 1 else _blend(x, _gray(x), factor)


def _hue(x, factor):
    if x.shape[1] == 1:
        return x
    xp = backend.get_array_module(x)
    theta = 2 * np.pi * np.asarray(factor, dtype=np.float64)
    k = np.full(3, 1 / np.sqrt(3))
    cross = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    # Rodrigues: R = cos I + sin [k]x + (1 - cos) k k^T, one matrix per sample
    R = (np.cos(theta)[:, None, None] * np.eye(3) + np.sin(theta)[:, None, None] * cross
         + (1 - np.cos(theta))[:, None, None] * np.outer(k, k))
    out = xp.einsum("nij,njhw->nihw", xp.asarray(R, dtype=x.dtype), x)
    return xp.clip(out, 0.0, 1.0)


class ColorJitter(_Random):
    """Random brightness, contrast, saturation and hue per sample, in a random order per batch.

    Each of ``brightness``, ``contrast``, ``saturation`` is ``v`` (factor ``uniform(max(0, 1 - v), 1 + v)``)
    or a ``(min, max)`` pair; ``hue`` is ``h`` (shift ``uniform(-h, h)`` of a full turn, ``h <= 0.5``) or
    a pair. 0 turns a component off. Works on 1-channel images too (saturation and hue then do nothing).
    """

    def __init__(self, brightness=0.0, contrast=0.0, saturation=0.0, hue=0.0, generator=None, seed=None) -> None:
        super().__init__(generator, seed)
        self.brightness = _range(brightness, "ColorJitter", "brightness", center=1.0, bound=(0.0, math.inf))
        self.contrast = _range(contrast, "ColorJitter", "contrast", center=1.0, bound=(0.0, math.inf))
        self.saturation = _range(saturation, "ColorJitter", "saturation", center=1.0, bound=(0.0, math.inf))
        self.hue = _range(hue, "ColorJitter", "hue", bound=(-0.5, 0.5))

    def __call__(self, images):
        x, rewrap = _unwrap(images, "ColorJitter")
        n = x.shape[0]
        steps = [
            (_brightness, self.brightness, (1.0, 1.0)),
            (_contrast, self.contrast, (1.0, 1.0)),
            (_saturation, self.saturation, (1.0, 1.0)),
            (_hue, self.hue, (0.0, 0.0)),
        ]
        # draw every factor first, so the draws do not depend on the order
        factors = [self._uniform(n, *bounds) for _, bounds, _ in steps]
        for i in self.generator.permutation(4).tolist():
            fn, bounds, identity = steps[i]
            if bounds != identity:
                x = fn(x, factors[i])
        return rewrap(x)


class RandomGrayscale(_Random):
    """Turn a sample gray (keeping its channel count) with probability ``p``."""

    def __init__(self, p: float = 0.1, generator=None, seed: int | None = None) -> None:
        super().__init__(generator, seed)
        self.p = _check_p(p, "RandomGrayscale")

    def __call__(self, images):
        x, rewrap = _unwrap(images, "RandomGrayscale")
        return rewrap(_select(self._coin(x.shape[0], self.p), _gray(x, x.shape[1]), x))


def solarize(images, threshold: float):
    """Invert the pixels at or above ``threshold``: ``x -> 1 - x`` where ``x >= threshold`` (BYOL's solarization)."""
    x, rewrap = _unwrap(images, "solarize")
    return rewrap(_solarize(x, threshold))


def _solarize(x, threshold: float):
    xp = backend.get_array_module(x)
    return xp.where(x >= threshold, 1.0 - x, x).astype(x.dtype, copy=False)


class RandomSolarize(_Random):
    """``solarize(x, threshold)`` with probability ``p`` per sample."""

    def __init__(self, threshold: float, p: float = 0.5, generator=None, seed: int | None = None) -> None:
        super().__init__(generator, seed)
        self.threshold = float(threshold)
        self.p = _check_p(p, "RandomSolarize")

    def __call__(self, images):
        x, rewrap = _unwrap(images, "RandomSolarize")
        return rewrap(_select(self._coin(x.shape[0], self.p), _solarize(x, self.threshold), x))


# ----------------------------------------------------------------------------------------------
# Blur, noise, normalisation
# ----------------------------------------------------------------------------------------------
def _gaussian_kernels(size: int, sigma: np.ndarray) -> np.ndarray:
    offsets = np.arange(size) - (size - 1) / 2.0
    k = np.exp(-(offsets[None, :] ** 2) / (2.0 * sigma[:, None] ** 2))
    return k / k.sum(axis=1, keepdims=True)


def gaussian_blur(images, kernel_size, sigma):
    """Blur with a Gaussian of standard deviation ``sigma`` (a number, a pair for (y, x), or one per sample).

    Separable: one 1-D kernel over rows, then over columns; the border is reflected, as torchvision,
    so the blur of a constant image is that constant. ``kernel_size`` is an odd int or pair.
    """
    x, rewrap = _unwrap(images, "gaussian_blur")
    kh, kw = _kernel_size(kernel_size, "gaussian_blur")
    n = x.shape[0]
    sigma = np.asarray(sigma, dtype=np.float64)
    if sigma.ndim == 0 or sigma.shape == (2,):
        sy, sx = np.broadcast_to(sigma, (2,))
        sy, sx = np.full(n, sy), np.full(n, sx)
    elif sigma.shape == (n,):
        sy = sx = sigma
    else:
        raise ValueError(f"gaussian_blur: sigma must be a number, a pair or one per sample, got shape {sigma.shape}")
    if (sy <= 0).any() or (sx <= 0).any():
        raise ValueError("gaussian_blur: sigma must be positive")
    return rewrap(_blur(x, kh, kw, sy, sx))


def _kernel_size(kernel_size, who: str) -> tuple[int, int]:
    kh, kw = _pair(kernel_size, who, "kernel_size")
    if not all(isinstance(k, (int, np.integer)) and k > 0 and k % 2 == 1 for k in (kh, kw)):
        raise ValueError(f"{who}: kernel_size must be a positive odd int or a pair of them, got {kernel_size!r}")
    return int(kh), int(kw)


def _blur(x, kh: int, kw: int, sy: np.ndarray, sx: np.ndarray):
    xp = backend.get_array_module(x)
    n, c, h, w = x.shape
    wy = xp.asarray(_gaussian_kernels(kh, sy), dtype=x.dtype)
    wx = xp.asarray(_gaussian_kernels(kw, sx), dtype=x.dtype)
    padded = xp.pad(x, ((0, 0), (0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2)), mode="reflect")
    # a loop over the kernel taps (a handful), each a whole-batch shifted multiply-add
    rows = sum(wy[:, t, None, None, None] * padded[:, :, t : t + h, :] for t in range(kh))
    return sum(wx[:, t, None, None, None] * rows[:, :, :, t : t + w] for t in range(kw))


class GaussianBlur(_Random):
    """Gaussian blur, ``sigma`` drawn per sample from ``uniform(*sigma)`` (SimCLR: kernel ~10% of the image side)."""

    def __init__(self, kernel_size, sigma=(0.1, 2.0), generator=None, seed: int | None = None) -> None:
        super().__init__(generator, seed)
        self.kernel_size = _kernel_size(kernel_size, "GaussianBlur")
        if isinstance(sigma, numbers.Number):
            sigma = (sigma, sigma)  # a fixed sigma, as torchvision
        self.sigma = _range(sigma, "GaussianBlur", "sigma", bound=(0.0, math.inf))
        if self.sigma[0] <= 0:
            raise ValueError(f"GaussianBlur: sigma must be positive, got {sigma}")

    def __call__(self, images):
        x, rewrap = _unwrap(images, "GaussianBlur")
        s = self._uniform(x.shape[0], *self.sigma)
        return rewrap(_blur(x, *self.kernel_size, s, s))


class GaussianNoise(_Random):
    """Add ``normal(mean, sigma)`` noise to every pixel, then clip to [0, 1] if ``clip`` (torchvision v2's)."""

    def __init__(self, mean: float = 0.0, sigma: float = 0.1, clip: bool = True, generator=None, seed=None) -> None:
        super().__init__(generator, seed)
        if sigma < 0:
            raise ValueError(f"GaussianNoise: sigma must be non-negative, got {sigma}")
        self.mean, self.sigma, self.clip = float(mean), float(sigma), clip

    def __call__(self, images):
        x, rewrap = _unwrap(images, "GaussianNoise")
        xp = backend.get_array_module(x)
        dev = backend.device_of(x)
        if dev.type == "cpu":
            noise = self.generator.normal(x.shape, x.dtype, self.mean, self.sigma)
        else:  # draw on the GPU from a generator seeded by the host one: reproducible, no transfer
            seed = int(self.generator.integers(0, 2**62, (), np.int64))
            with backend.on_device(dev):
                noise = backend.Generator(dev).manual_seed(seed).normal(x.shape, x.dtype, self.mean, self.sigma)
        out = x + noise
        return rewrap(xp.clip(out, 0.0, 1.0) if self.clip else out)


def normalize(images, mean: Sequence[float], std: Sequence[float]):
    """``(x - mean[c]) / std[c]`` per channel."""
    x, rewrap = _unwrap(images, "normalize")
    xp = backend.get_array_module(x)
    c = x.shape[1]
    mean_, std_ = np.asarray(mean, dtype=np.float64).reshape(-1), np.asarray(std, dtype=np.float64).reshape(-1)
    for name, v in (("mean", mean_), ("std", std_)):
        if v.size not in (1, c):
            raise ValueError(f"normalize: {name} has {v.size} values for images with {c} channels")
    if (std_ == 0).any():
        raise ValueError(f"normalize: std evaluated to zero ({list(std_)}), which would divide by zero")
    m = xp.asarray(np.broadcast_to(mean_, (c,)), dtype=x.dtype)[None, :, None, None]
    s = xp.asarray(np.broadcast_to(std_, (c,)), dtype=x.dtype)[None, :, None, None]
    return rewrap((x - m) / s)


class Normalize:
    """``(x - mean[c]) / std[c]`` per channel (CIFAR-10's: ``(0.4914, 0.4822, 0.4465)``, ``(0.247, 0.243, 0.261)``)."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self.mean, self.std = tuple(np.atleast_1d(mean).tolist()), tuple(np.atleast_1d(std).tolist())
        if any(s == 0 for s in self.std):
            raise ValueError(f"Normalize: std evaluated to zero ({self.std}), which would divide by zero")

    def __call__(self, images):
        return normalize(images, self.mean, self.std)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"


# ----------------------------------------------------------------------------------------------
# Combinators and self-supervised views
# ----------------------------------------------------------------------------------------------
class Compose:
    """Apply ``transforms`` in order."""

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"Compose: every transform must be callable, got {type(t).__name__}")

    def __call__(self, images):
        for t in self.transforms:
            images = t(images)
        return images

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n])"


class RandomApply(_Random):
    """Apply ``transforms`` (a callable or a list, composed) to each sample with probability ``p``.

    The transforms run on the whole batch and each sample then keeps the result or its original,
    so they must keep the image size (colour, blur, flips, rotations).
    """

    def __init__(self, transforms, p: float = 0.5, generator=None, seed: int | None = None) -> None:
        super().__init__(generator, seed)
        self.transforms = transforms if callable(transforms) else Compose(transforms)
        self.p = _check_p(p, "RandomApply")

    def __call__(self, images):
        x, rewrap = _unwrap(images, "RandomApply")
        use = self._coin(x.shape[0], self.p)
        if not use.any():
            return rewrap(x)
        changed, _ = _unwrap(self.transforms(x), "RandomApply")
        if changed.shape != x.shape:
            raise ValueError(f"RandomApply: the transforms changed the shape {x.shape} to {changed.shape}; "
                             "they must keep the image size")
        return rewrap(_select(use, changed, x))


class MultiView:
    """Several independently augmented views of the same batch, as a list (SimCLR, BYOL, MoCo).

    ``MultiView(t, n_views=2)`` applies ``t`` twice (fresh random draws each time);
    ``MultiView(t1, t2, ...)`` applies each transform once, for asymmetric pipelines such as BYOL's.
    """

    def __init__(self, *transforms: Callable, n_views: int | None = None) -> None:
        if not transforms:
            raise ValueError("MultiView needs at least one transform")
        if not all(callable(t) for t in transforms):
            raise TypeError("MultiView: every transform must be callable")
        if n_views is not None:
            if len(transforms) != 1:
                raise ValueError("MultiView: n_views goes with a single transform")
            if not isinstance(n_views, int) or n_views < 1:
                raise ValueError(f"MultiView: n_views must be a positive int, got {n_views!r}")
            transforms = transforms * n_views
        self.transforms = list(transforms)

    def __call__(self, images) -> list:
        return [t(images) for t in self.transforms]

    def __len__(self) -> int:
        return len(self.transforms)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, self.transforms))})"


class TwoViews(MultiView):
    """Two augmented views of a batch: ``TwoViews(t)`` (SimCLR) or ``TwoViews(t1, t2)`` (BYOL's asymmetric pair)."""

    def __init__(self, transform: Callable, transform2: Callable | None = None) -> None:
        super().__init__(transform, transform if transform2 is None else transform2)


class MultiCrop(_Random):
    """Multi-crop (SwAV, DINO): ``n_global`` large crops and ``n_local`` small ones of each image.

    Returns a list: ``n_global`` batches at ``global_size`` (crop area fraction from
    ``global_scale``, DINO's default (0.4, 1)), then ``n_local`` batches at ``local_size`` (from
    ``local_scale``, DINO's (0.05, 0.4)). ``global_transforms`` (one callable, or one per global
    crop, for DINO's asymmetric blur/solarize) and ``local_transform`` are applied after cropping.
    """

    def __init__(
        self,
        global_size,
        local_size,
        n_local: int = 6,
        n_global: int = 2,
        global_scale: tuple[float, float] = (0.4, 1.0),
        local_scale: tuple[float, float] = (0.05, 0.4),
        global_transforms: Callable | Sequence[Callable] | None = None,
        local_transform: Callable | None = None,
        generator=None,
        seed: int | None = None,
    ) -> None:
        super().__init__(generator, seed)
        for name, value, low in (("n_global", n_global, 1), ("n_local", n_local, 0)):
            if not isinstance(value, int) or value < low:
                raise ValueError(f"MultiCrop: {name} must be an int >= {low}, got {value!r}")
        self.n_global, self.n_local = n_global, n_local
        # the crops share this transform's generator (the global one if none), so one seed fixes every crop
        self.global_crop = RandomResizedCrop(global_size, scale=global_scale, generator=self._generator)
        self.local_crop = RandomResizedCrop(local_size, scale=local_scale, generator=self._generator)
        if global_transforms is None or callable(global_transforms):
            global_transforms = [global_transforms] * n_global
        global_transforms = list(global_transforms)
        if len(global_transforms) != n_global:
            raise ValueError(f"MultiCrop: {len(global_transforms)} global_transforms for {n_global} global crops")
        self.global_transforms = global_transforms
        self.local_transform = local_transform

    def __call__(self, images) -> list:
        views = []
        for t in self.global_transforms:
            crop = self.global_crop(images)
            views.append(crop if t is None else t(crop))
        for _ in range(self.n_local):
            crop = self.local_crop(images)
            views.append(crop if self.local_transform is None else self.local_transform(crop))
        return views


__all__ = [
    "ColorJitter",
    "Compose",
    "GaussianBlur",
    "GaussianNoise",
    "MultiCrop",
    "MultiView",
    "Normalize",
    "RandomAffine",
    "RandomApply",
    "RandomCrop",
    "RandomGrayscale",
    "RandomHorizontalFlip",
    "RandomResizedCrop",
    "RandomRotation",
    "RandomSolarize",
    "RandomVerticalFlip",
    "TwoViews",
    "adjust_brightness",
    "adjust_contrast",
    "adjust_hue",
    "adjust_saturation",
    "affine",
    "gaussian_blur",
    "hflip",
    "normalize",
    "resize",
    "resized_crop",
    "rgb_to_grayscale",
    "rotate",
    "solarize",
    "vflip",
]
