"""Samplers: the order in which a ``DataLoader`` visits a map-style dataset (``torch.utils.data``'s).

A sampler yields dataset indices; ``BatchSampler`` groups them into lists, one list per batch.

Reproducible shuffling (minigrad-specific, beyond torch): ``RandomSampler(seed=s)`` draws epoch
``k``'s permutation from a generator seeded with ``(s, k)`` and counts epochs itself, so every epoch
has a new order, yet epoch ``k``'s order is the same in every run and can be replayed directly with
``set_epoch(k)`` (after resuming a run, say). With ``generator=`` instead, each epoch draws from that
generator, as torch does: reproducible from the generator's seed, but only in sequence.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence, Sized

import numpy as np

from ... import backend
from ...tensor import Tensor
from .dataset import _cpu_generator


class Sampler:
    """Base class: ``__iter__`` yields indices (or lists of indices, for batch samplers)."""

    def __iter__(self) -> Iterator:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")


class SequentialSampler(Sampler):
    """Indices ``0, 1, ..., len(data_source) - 1`` in order."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


def _epoch_generator(seed: int, epoch: int) -> backend.Generator:
    """A CPU generator whose state is a fixed function of ``(seed, epoch)``."""
    state = np.random.SeedSequence([int(seed) % 2**63, int(epoch)]).generate_state(1, np.uint64)[0]
    return backend.Generator("cpu").manual_seed(int(state))


class RandomSampler(Sampler):
    """Indices in a random order: a fresh permutation each epoch (or draws with ``replacement``).

    ``num_samples`` (default ``len(data_source)``) may exceed the dataset size without replacement:
    whole permutations are then chained. The randomness comes from ``seed`` (epoch ``k`` is a fixed
    function of ``(seed, k)``, see ``set_epoch``), else ``generator``, else the global generator
    (so ``mg.manual_seed`` makes it reproducible).
    """

    def __init__(
        self,
        data_source: Sized,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: backend.Generator | None = None,
        seed: int | None = None,
    ) -> None:
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement should be a bool, got {replacement!r}")
        if generator is not None and seed is not None:
            raise ValueError("RandomSampler: give either generator= or seed=, not both")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        if not isinstance(self.num_samples, (int, np.integer)) or isinstance(self.num_samples, bool) or (
            self.num_samples <= 0
        ):
            raise ValueError(
                f"RandomSampler: num_samples should be a positive integer, got num_samples={self.num_samples}"
                + (" (the dataset is empty)" if num_samples is None else "")
            )
        self.generator = None if generator is None else _cpu_generator(generator, "RandomSampler")
        self.seed = seed
        self.epoch = 0

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration produce epoch ``epoch``'s order (only meaningful with ``seed``)."""
        self.epoch = int(epoch)

    def _generator_for_this_epoch(self) -> backend.Generator:
        if self.seed is not None:
            return _epoch_generator(self.seed, self.epoch)
        return _cpu_generator(self.generator, "RandomSampler")

    def __iter__(self) -> Iterator[int]:
        gen = self._generator_for_this_epoch()
        self.epoch += 1
        n, count = len(self.data_source), self.num_samples
        if n == 0:
            raise ValueError("RandomSampler: the dataset is empty")
        if self.replacement:
            order = gen.integers(0, n, (count,), np.int64)
        else:
            rounds = -(-count // n)
            order = np.concatenate([gen.permutation(n) for _ in range(rounds)])[:count]
        return iter(order.tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order (a fresh permutation each epoch)."""

    def __init__(self, indices: Sequence[int], generator: backend.Generator | None = None) -> None:
        self.indices = indices
        self.generator = None if generator is None else _cpu_generator(generator, "SubsetRandomSampler")

    def __iter__(self) -> Iterator[int]:
        order = _cpu_generator(self.generator, "SubsetRandomSampler").permutation(len(self.indices))
        return iter([self.indices[i] for i in order.tolist()])

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probability proportional to ``weights`` (e.g. to balance classes)."""

    def __init__(
        self,
        weights: Sequence[float],
        num_samples: int,
        replacement: bool = True,
        generator: backend.Generator | None = None,
    ) -> None:
        if not isinstance(num_samples, (int, np.integer)) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(f"WeightedRandomSampler: num_samples should be a positive integer, got {num_samples!r}")
        if isinstance(weights, Tensor):
            weights = weights.detach().numpy()
        weights = np.asarray(weights, dtype=np.float64).reshape(-1)
        if weights.size == 0 or not np.all(np.isfinite(weights)) or (weights < 0).any() or weights.sum() <= 0:
            raise ValueError("WeightedRandomSampler: weights must be finite, non-negative, with a positive sum")
        if not replacement and num_samples > int((weights > 0).sum()):
            raise ValueError(
                f"WeightedRandomSampler: cannot draw {num_samples} samples without replacement "
                f"from {int((weights > 0).sum())} indices with non-zero weight"
            )
        self.weights = weights
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = None if generator is None else _cpu_generator(generator, "WeightedRandomSampler")

    def __iter__(self) -> Iterator[int]:
        gen = _cpu_generator(self.generator, "WeightedRandomSampler")
        p = self.weights / self.weights.sum()
        if self.replacement:
            cdf = np.cumsum(p)
            u = gen.uniform((self.num_samples,), np.float64)
            order = np.minimum(np.searchsorted(cdf, u * cdf[-1], side="right"), p.size - 1)
        else:
            # Gumbel top-k: sampling without replacement in one shot
            u = gen.uniform(p.shape, np.float64)
            with np.errstate(divide="ignore"):
                keys = np.log(p) - np.log(-np.log(u + 1e-300))
            order = np.argsort(-keys, kind="stable")[: self.num_samples]
        return iter(order.tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Group the indices of ``sampler`` into lists of ``batch_size`` (the last one shorter unless ``drop_last``)."""

    def __init__(self, sampler: Sampler | Sequence[int], batch_size: int, drop_last: bool) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"BatchSampler: batch_size should be a positive integer, got batch_size={batch_size!r}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a bool, got drop_last={drop_last!r}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        # Start the sampler now, not at the first next(): a seeded sampler's epoch then advances
        # when the loader's iterator is made, in the caller's thread (not the prefetch thread).
        return self._group(iter(self.sampler))

    def _group(self, indices: Iterator[int]) -> Iterator[list[int]]:
        batch: list[int] = []
        for index in indices:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
