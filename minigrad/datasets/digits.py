"""Handwritten digits, offline: scikit-learn's bundled 8x8 digits, upscaled, and a harder variant.

``digits()`` is the offline default of the examples: 1,797 real 8x8 images of the digits 0-9 (the
UCI "optical recognition of handwritten digits" test set, shipped inside scikit-learn), pixel values
0..16 scaled to [0, 1]. ``size=16`` or ``32`` upscales them for models that want bigger inputs.

``hard_digits()`` is for the self-supervised examples, which need a task where raw pixels and
random features are far from perfect: the same digits, placed at a random position and scale on a
larger canvas with fragments of other digits, random strokes and Gaussian noise (construction in
its docstring).

Both return NumPy arrays ``(images, labels)``, float32 ``(N, 1, H, W)`` in [0, 1] and int64, or a
``TensorDataset`` with ``as_dataset=True``; ``split="train"``/``"test"`` gives a seeded, stratified
split (the same ``seed`` always gives the same split).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..ops.creation import from_numpy
from ..utils.data import TensorDataset


@functools.lru_cache(maxsize=1)
def _sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise ImportError(
            "minigrad.datasets.digits reads the digits bundled with scikit-learn, which is not installed; "
            "install the 'examples' extra: pip install -e '.[examples]' (or pip install scikit-learn)"
        ) from exc
    bunch = load_digits()
    images = (bunch.images / 16.0).astype(np.float32)
    labels = bunch.target.astype(np.int64)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def _resize_matrix(n_in: int, n_out: int, interpolation: str) -> np.ndarray:
    """``(n_out, n_in)`` matrix ``R`` with ``R @ signal`` the resampled signal (one image axis).

    Same sampling as ``F.interpolate(..., align_corners=False)``: output pixel ``i`` reads the
    input at ``(i + 0.5) * n_in / n_out - 0.5``; ``"bilinear"`` mixes the two nearest input pixels
    (clamped at the border), ``"nearest"`` takes pixel ``floor(i * n_in / n_out)``.
    """
    rows = np.arange(n_out)
    R = np.zeros((n_out, n_in))
    if interpolation == "nearest":
        R[rows, np.minimum(np.floor(rows * n_in / n_out).astype(np.int64), n_in - 1)] = 1.0
        return R
    src = np.clip((rows + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    np.add.at(R, (rows, lo), 1.0 - frac)
    np.add.at(R, (rows, hi), frac)
    return R


def _resize(images: np.ndarray, size: int, interpolation: str) -> np.ndarray:
    """Resize ``(N, H, W)`` images to ``(N, size, size)`` as two matrix products (rows, then columns)."""
    n, h, w = images.shape
    if (h, w) == (size, size):
        return images.copy()
    Ry, Rx = _resize_matrix(h, size, interpolation), _resize_matrix(w, size, interpolation)
    return np.einsum("oh,nhw,pw->nop", Ry, images, Rx).astype(np.float32)


def _split_indices(labels: np.ndarray, split: str, test_size: float, seed: int) -> np.ndarray:
    """Indices of ``split``: a seeded split that holds out ``test_size`` of every class."""
    if split == "all":
        return np.arange(labels.size)
    rng = np.random.default_rng([seed, 0])
    is_test = np.zeros(labels.size, dtype=bool)
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        is_test[members[: int(round(test_size * members.size))]] = True
    return np.flatnonzero(is_test if split == "test" else ~is_test)


def _check_common(split: str, test_size: float) -> None:
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")


def _finish(images: np.ndarray, labels: np.ndarray, flatten: bool, as_dataset: bool):
    images = np.ascontiguousarray(images, dtype=np.float32)[:, None]
    if flatten:
        images = images.reshape(images.shape[0], -1)
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    if as_dataset:
        return TensorDataset(from_numpy(images), from_numpy(labels))
    return images, labels


def digits(
    split: str = "all",
    *,
    size: int = 8,
    interpolation: str = "bilinear",
    test_size: float = 0.2,
    seed: int = 0,
    flatten: bool = False,
    as_dataset: bool = False,
):
    """scikit-learn's 1,797 handwritten 8x8 digits, values scaled to [0, 1] (needs scikit-learn).

    Args:
        split: ``"all"`` (1,797), or ``"train"``/``"test"``: a seeded split holding out ``test_size``
            of each class (359 test images at the default 0.2).
        size: image side; 8 is the original, 16 or 32 (any size >= 1) resample it with
            ``interpolation``: ``"bilinear"`` (smooth, as ``F.interpolate(mode="bilinear",
            align_corners=False)``) or ``"nearest"`` (pixel replication at integer factors).
        seed: seeds the split.
        flatten: images as ``(N, size * size)`` vectors instead of ``(N, 1, size, size)``.
        as_dataset: return a ``TensorDataset(images, labels)`` instead of two NumPy arrays.

    Returns ``(images, labels)``: float32 ``(N, 1, size, size)`` in [0, 1] and int64 ``(N,)``.
    """
    _check_common(split, test_size)
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"digits: size must be a positive integer, got {size!r}")
    if interpolation not in ("bilinear", "nearest"):
        raise ValueError(f"digits: interpolation must be 'bilinear' or 'nearest', got {interpolation!r}")
    images, labels = _sklearn_digits()
    keep = _split_indices(labels, split, test_size, seed)
    out = _resize(images[keep], size, interpolation)
    return _finish(np.clip(out, 0.0, 1.0), labels[keep], flatten, as_dataset)


# ----------------------------------------------------------------------------------------------
# Hard digits
# ----------------------------------------------------------------------------------------------
def _placement(n_out: int, n_in: int, start: np.ndarray, extent: np.ndarray) -> np.ndarray:
    """``(M, n_out, n_in)`` weights that resize a length-``n_in`` signal to ``extent`` pixels and paste
    it at ``start`` on ``n_out`` output pixels (one placement per row of ``start``/``extent``).

    Output pixels whose centre lies in ``[start, start + extent)`` read the source bilinearly at
    ``(centre - start) * n_in / extent - 0.5`` (clamped to the source, as ``F.interpolate`` with
    ``align_corners=False``); all other pixels are zero.
    """
    centre = (np.arange(n_out) + 0.5)[None]
    start, extent = start[:, None], extent[:, None]
    inside = (centre >= start) & (centre < start + extent)
    u = np.clip((centre - start) * (n_in / extent) - 0.5, 0, n_in - 1)
    lo = np.floor(u)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = u - lo
    cols = np.arange(n_in)
    weights = (1.0 - frac)[..., None] * (cols == lo[..., None]) + frac[..., None] * (cols == hi[..., None])
    return weights * inside[..., None]


def _draw(sources: np.ndarray, canvas: int, top, left, extent) -> np.ndarray:
    """Draw each ``(8, 8)`` source at its own position and size on a ``canvas``-sized image."""
    Ay = _placement(canvas, sources.shape[1], top, extent)
    Ax = _placement(canvas, sources.shape[2], left, extent)
    return Ay @ sources @ Ax.transpose(0, 2, 1)


def _strokes(rng: np.random.Generator, m: int, count: int, canvas: int) -> np.ndarray:
    """``count`` anti-aliased straight strokes per image: random ends, 1-2 px wide, random intensity."""
    out = np.zeros((m, canvas, canvas), dtype=np.float32)
    centres = (np.arange(canvas, dtype=np.float32) + 0.5)
    py, px = centres[:, None], centres[None, :]
    for _ in range(count):
        y0, x0 = (rng.uniform(0, canvas, (m, 1, 1)).astype(np.float32) for _ in range(2))
        angle = rng.uniform(0, math.pi, (m, 1, 1)).astype(np.float32)
        length = rng.uniform(0.15, 0.5, (m, 1, 1)).astype(np.float32) * canvas
        dy, dx = length * np.sin(angle), length * np.cos(angle)
        width = rng.uniform(1.0, 2.0, (m, 1, 1)).astype(np.float32)
        ink = rng.uniform(0.5, 1.0, (m, 1, 1)).astype(np.float32)
        # distance from each pixel centre to the segment (projection clamped to its ends)
        t = np.clip(((py - y0) * dy + (px - x0) * dx) / (dy * dy + dx * dx), 0.0, 1.0)
        dist = np.hypot(py - (y0 + t * dy), px - (x0 + t * dx))
        out = np.maximum(out, np.clip(width / 2 + 0.5 - dist, 0.0, 1.0) * ink)
    return out


def hard_digits(
    split: str = "all",
    *,
    canvas: int = 40,
    copies: int = 1,
    digit_size: tuple[float, float] = (0.35, 0.7),
    fragments: int = 2,
    strokes: int = 2,
    noise: float = 0.1,
    test_size: float = 0.2,
    seed: int = 0,
    flatten: bool = False,
    as_dataset: bool = False,
):
    """A harder digit task: the 8x8 digits lost in clutter on a bigger canvas (needs scikit-learn).

    Each image is built from one of the 1,797 ``digits()`` (the label is that digit's), seeded and
    reproducible (same arguments, same images):

    1. the digit is resized (bilinear) to a square of side ``uniform(*digit_size) * canvas``
       pixels and pasted at a uniform random position fully on the canvas;
    2. ``fragments`` pieces of other random digits are drawn the same way: a random 3-5 x 3-5
       pixel window of a digit (the rest of it blanked), resized to a random size from the same
       range and pasted with the window's centre at a uniform random point (so pieces may hang
       off the edge), with ink strength ``uniform(0.6, 1)``;
    3. ``strokes`` straight anti-aliased strokes: random ends (length 0.15-0.5 of the canvas),
       width 1-2 px, ink ``uniform(0.5, 1)``;
    4. layers are merged by a pixelwise maximum (overlapping ink does not add up), Gaussian noise
       of standard deviation ``noise`` is added and the result clipped to [0, 1].

    Position and scale change which pixels a digit covers, and clutter looks like ink, so fixed
    features do poorly. Measured at the defaults (``copies=2`` for training, scikit-learn's
    logistic regression): raw pixels reach about 13% test accuracy (95% on ``digits()``), and
    32 random 5x5 convolution filters with ReLU and 8x8 average pooling about 43%. There is room
    for features learned with augmentations to show what they add.

    Args:
        split, test_size, seed, flatten, as_dataset: as ``digits()``. The split is made over the
            source digits, so all copies of a digit fall in the same split (no leakage).
        canvas: image side in pixels.
        copies: renderings per source digit (each with its own placement and clutter).
        digit_size: range of the digit's side as a fraction of the canvas.
        fragments, strokes: clutter items per image.
        noise: standard deviation of the added Gaussian noise.

    Returns ``(images, labels)``: float32 ``(N, 1, canvas, canvas)`` in [0, 1] and int64, with
    ``N = copies * len(split)``.
    """
    _check_common(split, test_size)
    lo_size, hi_size = digit_size
    if not isinstance(canvas, int) or canvas < 8:
        raise ValueError(f"hard_digits: canvas must be an integer >= 8, got {canvas!r}")
    if not 0.0 < lo_size <= hi_size <= 1.0:
        raise ValueError(f"hard_digits: digit_size must satisfy 0 < low <= high <= 1, got {digit_size}")
    for name, value in (("copies", copies), ("fragments", fragments), ("strokes", strokes)):
        if not isinstance(value, int) or value < (1 if name == "copies" else 0):
            raise ValueError(f"hard_digits: {name} must be a {'positive' if name == 'copies' else 'non-negative'} "
                             f"integer, got {value!r}")
    if noise < 0:
        raise ValueError(f"hard_digits: noise must be >= 0, got {noise}")

    base, base_labels = _sklearn_digits()
    n = base.shape[0]
    m = n * copies  # image k shows source digit k % n
    source = np.arange(m) % n
    rng = np.random.default_rng([seed, 1])

    extent = rng.uniform(lo_size, hi_size, m) * canvas
    top, left = (rng.uniform(0, 1, m) * (canvas - extent) for _ in range(2))
    image = _draw(base[source], canvas, top, left, extent)

    if fragments:
        k = m * fragments
        other = rng.integers(0, n, k)
        fh, fw = rng.integers(3, 6, k), rng.integers(3, 6, k)
        r0, c0 = rng.integers(0, 9 - fh), rng.integers(0, 9 - fw)
        rows, cols = np.arange(8)[None], np.arange(8)[None]
        window = (((rows >= r0[:, None]) & (rows < (r0 + fh)[:, None]))[:, :, None]
                  & ((cols >= c0[:, None]) & (cols < (c0 + fw)[:, None]))[:, None, :])
        f_extent = rng.uniform(lo_size, hi_size, k) * canvas
        # place the window's centre uniformly on the canvas
        f_top = rng.uniform(0, canvas, k) - (r0 + fh / 2) / 8 * f_extent
        f_left = rng.uniform(0, canvas, k) - (c0 + fw / 2) / 8 * f_extent
        ink = rng.uniform(0.6, 1.0, k)[:, None, None]
        pieces = _draw(base[other] * window, canvas, f_top, f_left, f_extent) * ink
        image = np.maximum(image, pieces.reshape(m, fragments, canvas, canvas).max(axis=1))
    if strokes:
        image = np.maximum(image, _strokes(rng, m, strokes, canvas))
    if noise:
        image = image + rng.normal(0.0, noise, image.shape)
    image = np.clip(image, 0.0, 1.0).astype(np.float32)

    keep_source = _split_indices(base_labels, split, test_size, seed)
    keep = np.flatnonzero(np.isin(source, keep_source))
    return _finish(image[keep], base_labels[source[keep]], flatten, as_dataset)
