"""Data for the self-supervised examples: unlabelled hard digits and the augmentation pipelines."""

from __future__ import annotations

import numpy as np

from minigrad import transforms as T


def unlabeled_images(canvas: int = 32, copies: int = 1, seed: int = 0, limit: int | None = None) -> np.ndarray:
    """Hard digits of the training split, labels dropped: what self-supervised pre-training sees."""
    from minigrad.datasets import hard_digits

    images, _ = hard_digits("train", canvas=canvas, copies=copies, seed=seed)
    return images if limit is None else images[:limit]


def batches(images: np.ndarray, batch_size: int, rng: np.random.Generator, drop_last: bool = True):
    """One epoch of shuffled mini-batches (views of ``images``)."""
    order = rng.permutation(len(images))
    stop = len(order) - (len(order) % batch_size if drop_last else 0)
    for start in range(0, stop, batch_size):
        yield images[order[start:start + batch_size]]


def ssl_augmentation(size: int = 32, scale: tuple = (0.3, 1.0), blur: bool = True, seed: int | None = None):
    """The SimCLR-style view generator for grayscale digits.

    Random resized crops (the augmentation SimCLR found most important: it forces position and
    scale invariance), brightness/contrast jitter, Gaussian blur and noise. No flips: a mirrored
    2 is not a 2.
    """
    steps = [
        T.RandomResizedCrop(size, scale=scale, ratio=(0.75, 1.33), seed=seed),
        T.RandomApply([T.ColorJitter(brightness=0.4, contrast=0.4, seed=None if seed is None else seed + 1)], p=0.8,
                      seed=None if seed is None else seed + 2),
    ]
    if blur:
        steps.append(T.RandomApply([T.GaussianBlur(3, sigma=(0.1, 1.0), seed=None if seed is None else seed + 3)],
                                   p=0.5, seed=None if seed is None else seed + 4))
    steps.append(T.GaussianNoise(sigma=0.05, seed=None if seed is None else seed + 5))
    return T.Compose(steps)
