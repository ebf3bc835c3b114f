"""Datasets: the objects a ``DataLoader`` reads samples from (``torch.utils.data``'s classes).

Two kinds, as in PyTorch:

- **map-style** (``Dataset``): ``len(ds)`` samples addressed by index, ``ds[i]``;
- **iterable-style** (``IterableDataset``): a stream, ``iter(ds)``, for data that cannot be indexed
  (a generator, a file read line by line).

``TensorDataset``, ``Subset`` and ``ConcatDataset`` compose map-style datasets; ``random_split``
cuts one into non-overlapping random pieces.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from ... import backend
from ...tensor import Tensor


class Dataset:
    """A map-style dataset: subclasses define ``__getitem__(index)`` and ``__len__()``.

    ``a + b`` concatenates two datasets (a ``ConcatDataset``), as in torch.
    """

    def __getitem__(self, index) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A dataset that is a stream of samples: subclasses define ``__iter__``.

    A ``DataLoader`` batches the stream in order (``shuffle`` and samplers do not apply). Defining
    ``__len__`` is optional; with it, ``len(loader)`` works too.
    """

    def __iter__(self) -> Iterator:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __add__(self, other: IterableDataset) -> ChainDataset:
        return ChainDataset([self, other])


def _as_tensor(value) -> Tensor:
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray) or backend.is_cuda_array(value):
        return Tensor._make(value, None, 0, False, None)
    raise TypeError(f"TensorDataset expects Tensors or NumPy/CuPy arrays, got {type(value).__name__}")


class TensorDataset(Dataset):
    """Samples are slices of tensors along their first dimension: ``ds[i] == (t[i] for t in tensors)``.

    All tensors must have the same size in dim 0. NumPy/CuPy arrays are accepted and wrapped as
    Tensors without a copy. Items are views into the tensors (no copy), and carry no autograd history.
    """

    def __init__(self, *tensors: Tensor) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        tensors = tuple(_as_tensor(t) for t in tensors)
        for t in tensors:
            if t.ndim == 0:
                raise ValueError("TensorDataset: 0-d tensors have no samples; every tensor needs a first dimension")
        sizes = [t.shape[0] for t in tensors]
        if len(set(sizes)) != 1:
            shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
            raise ValueError(f"TensorDataset: size mismatch between tensors in dim 0: shapes {shapes}")
        self.tensors = tensors

    def __getitem__(self, index) -> tuple[Tensor, ...]:
        return tuple(Tensor._make(t._data[index], None, 0, False, None) for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def _get_batch(self, indices: np.ndarray) -> tuple[Tensor, ...]:
        """The collated batch for ``indices`` in one gather per tensor (the DataLoader's fast path)."""
        out = []
        for t in self.tensors:
            xp = backend.get_array_module(t._data)
            out.append(Tensor._make(t._data[xp.asarray(indices)], None, 0, False, None))
        return tuple(out)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index):
        if isinstance(index, (list, tuple)):
            return [self.dataset[self.indices[i]] for i in index]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """Several map-style datasets one after the other: ``len`` is the sum of their lengths."""

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset; use ChainDataset")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int):
        index = int(index)
        if index < 0:
            if -index > len(self):
                raise IndexError(f"index {index} is out of range for a ConcatDataset of length {len(self)}")
            index += len(self)
        if index >= len(self):
            raise IndexError(f"index {index} is out of range for a ConcatDataset of length {len(self)}")
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = 0 if which == 0 else self.cumulative_sizes[which - 1]
        return self.datasets[which][index - start]


class ChainDataset(IterableDataset):
    """Several iterable datasets streamed one after the other."""

    def __init__(self, datasets: Iterable[IterableDataset]) -> None:
        self.datasets = list(datasets)
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset only supports IterableDataset, got {type(d).__name__}")

    def __iter__(self) -> Iterator:
        for d in self.datasets:
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)


def _split_lengths(lengths: Sequence[float], n: int) -> list[int]:
    """Integer lengths from ``lengths`` (ints summing to ``n``, or fractions summing to 1)."""
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths must not be empty")
    if any(length < 0 for length in lengths):
        raise ValueError(f"random_split: lengths must be non-negative, got {lengths}")
    if math.isclose(sum(lengths), 1.0) and sum(lengths) <= 1.0:
        # fractions: floor each, then hand out the remainder one by one, round-robin (as torch)
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        return counts
    if not all(float(length).is_integer() for length in lengths):
        raise ValueError(f"random_split: lengths must be integers or fractions summing to 1, got {lengths}")
    counts = [int(length) for length in lengths]
    if sum(counts) != n:
        raise ValueError(
            f"random_split: the lengths {counts} sum to {sum(counts)}, but the dataset has {n} samples; "
            "give integer lengths summing to len(dataset) or fractions summing to 1"
        )
    return counts


def random_split(
    dataset: Dataset, lengths: Sequence[float], generator: backend.Generator | None = None
) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random ``Subset``s of the given ``lengths``.

    ``lengths`` are integers summing to ``len(dataset)`` or fractions summing to 1 (each part gets
    ``floor(n * fraction)`` samples and the remainder goes round-robin, as torch). ``generator``
    (a CPU ``mg.Generator``) makes the split reproducible; by default the global one is used, so
    ``mg.manual_seed`` does too.
    """
    counts = _split_lengths(lengths, len(dataset))
    gen = _cpu_generator(generator, "random_split")
    order = gen.permutation(len(dataset))
    bounds = np.cumsum([0] + counts)
    return [Subset(dataset, order[a:b].tolist()) for a, b in zip(bounds[:-1], bounds[1:])]


def _cpu_generator(generator: backend.Generator | None, who: str) -> backend.Generator:
    if generator is None:
        return backend.default_generator(backend.CPU)
    if not isinstance(generator, backend.Generator):
        raise TypeError(f"{who}: generator must be an mg.Generator, got {type(generator).__name__}")
    if generator.device.type != "cpu":
        raise ValueError(f"{who}: expected a CPU generator (indices live on the host), got one on {generator.device}")
    return generator
