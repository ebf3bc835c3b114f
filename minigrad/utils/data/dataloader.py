"""``DataLoader``: batches of samples from a dataset, in (optionally shuffled) order.

The pieces, as in ``torch.utils.data``::

    sampler ──indices──> BatchSampler ──[i, j, ...]──> dataset[i] ... ──samples──> collate_fn ──> batch

``default_collate`` stacks the samples of a batch into minigrad Tensors, recursing into tuples,
lists and dicts. With ``prefetch=k`` (or torch's ``num_workers``), a background thread prepares
up to ``k`` batches ahead while the training step runs; NumPy releases the GIL in most array work,
so this overlaps loading with compute.
"""

from __future__ import annotations

import collections.abc
import itertools
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from ... import backend, dtypes
from ...tensor import Tensor
from .dataset import Dataset, IterableDataset, Subset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

# ----------------------------------------------------------------------------------------------
# Collation
# ----------------------------------------------------------------------------------------------
_COLLATE_TYPES = "Tensors, NumPy/CuPy arrays, numbers, strings, dicts or sequences"


def _is_array(x) -> bool:
    return isinstance(x, np.ndarray) or bool(backend.is_cuda_array(x))


def _array_dtype(array):
    """The dtype a sample array keeps in a batch: float64 becomes float32, the rest stay."""
    if array.dtype.kind in "USO":
        raise TypeError(f"default_collate: can't batch arrays of dtype {array.dtype}; expected numeric arrays")
    return dtypes.DEFAULT_FLOAT if array.dtype == np.float64 else array.dtype


def _stack(arrays: list, what: str) -> Tensor:
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        first = arrays[0].shape
        bad = next(i for i, a in enumerate(arrays) if a.shape != first)
        raise RuntimeError(
            f"default_collate: stack expects each {what} to be equal size, but got {tuple(first)} at entry 0 "
            f"and {tuple(arrays[bad].shape)} at entry {bad}"
        )
    devices = {backend.device_of(a) for a in arrays}
    if len(devices) != 1:
        raise RuntimeError(f"default_collate: can't stack {what}s on different devices: {sorted(map(str, devices))}")
    xp = backend.get_array_module(arrays[0])
    with backend.on_device(devices.pop()):
        return Tensor._make(xp.stack(arrays), None, 0, False, None)


def default_collate(batch: list) -> Any:
    """Merge a list of samples into a batch, following the structure of the first sample.

    - Tensors and NumPy/CuPy arrays are stacked along a new dim 0 into one Tensor (same shapes
      required). Tensors keep their dtype; float64 NumPy arrays become float32 (minigrad-specific:
      the default dtype models train in; pass your own ``collate_fn`` to keep float64).
    - Python ints and NumPy integer scalars become an int64 Tensor (labels), Python floats and
      NumPy float scalars a float32 Tensor, bools a bool Tensor.
    - Strings and bytes stay a list. Dicts collate per key, namedtuples per field; tuples and
      lists are transposed and collated per position (returned as a list, as torch).
    """
    if not isinstance(batch, collections.abc.Sequence) or len(batch) == 0:
        raise TypeError("default_collate expects a non-empty list of samples")
    elem = batch[0]
    if isinstance(elem, Tensor):
        if not all(isinstance(b, Tensor) for b in batch):
            raise TypeError("default_collate: batch mixes Tensors with other types")
        return _stack([b._data for b in batch], "tensor")
    if _is_array(elem):
        if not all(_is_array(b) for b in batch):
            raise TypeError("default_collate: batch mixes arrays with other types")
        out = _stack(list(batch), "array")
        target = _array_dtype(out._data)
        return out if out._data.dtype == target else Tensor._make(out._data.astype(target), None, 0, False, None)
    if isinstance(elem, (bool, np.bool_)):
        return Tensor._make(np.asarray(batch, dtype=np.bool_), None, 0, False, None)
    if isinstance(elem, (int, np.integer)):
        return Tensor._make(np.asarray(batch, dtype=np.int64), None, 0, False, None)
    if isinstance(elem, (float, np.floating)):
        return Tensor._make(np.asarray(batch, dtype=dtypes.DEFAULT_FLOAT), None, 0, False, None)
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        keys = list(elem)
        for i, sample in enumerate(batch):
            if not isinstance(sample, collections.abc.Mapping) or set(sample) != set(keys):
                raise RuntimeError(
                    f"default_collate: every dict in a batch needs the same keys; entry 0 has {sorted(map(str, keys))},"
                    f" entry {i} has {sorted(map(str, sample)) if isinstance(sample, dict) else type(sample).__name__}"
                )
        merged = {key: default_collate([sample[key] for sample in batch]) for key in keys}
        if type(elem) is dict:
            return merged
        try:
            return type(elem)(merged)  # keep OrderedDict and other dict-like types where they allow it
        except TypeError:
            return merged
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(samples)) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(sample) != size for sample in batch):
            raise RuntimeError("default_collate: each element in the batch should be a sequence of equal size")
        return [default_collate(list(samples)) for samples in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain {_COLLATE_TYPES}; found {type(elem).__name__}")


def default_convert(data: Any) -> Any:
    """Turn the arrays in one sample into Tensors without batching (used when ``batch_size=None``)."""
    if isinstance(data, Tensor):
        return data
    if _is_array(data):
        if data.dtype.kind in "USO":
            return data
        return Tensor._make(data, None, 0, False, None)
    if isinstance(data, collections.abc.Mapping):
        return {key: default_convert(value) for key, value in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, list):
        return [default_convert(d) for d in data]
    return data


# ----------------------------------------------------------------------------------------------
# The background prefetch thread
# ----------------------------------------------------------------------------------------------
_BATCH, _END, _ERROR = 0, 1, 2
_POLL_S = 0.05  # how often a blocked producer or consumer re-checks that the other side is still there


def _put(q: queue.Queue, item, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=_POLL_S)
            return True
        except queue.Full:
            pass
    return False


def _produce(batches: Iterator, q: queue.Queue, stop: threading.Event) -> None:
    """The thread's body. It holds no reference to the iterator object, so dropping that stops it."""
    try:
        for batch in batches:
            if not _put(q, (_BATCH, batch), stop):
                return
    except BaseException as exc:  # handed to the consumer, which re-raises it
        _put(q, (_ERROR, exc), stop)
        return
    _put(q, (_END, None), stop)


class _PrefetchIterator:
    """Runs ``batches`` in a daemon thread, ``depth`` batches ahead; stops when exhausted or dropped."""

    def __init__(self, batches: Iterator, depth: int, length: int | None) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._length = length
        self._thread = threading.Thread(
            target=_produce, args=(batches, self._queue, self._stop), name="minigrad-DataLoader-prefetch", daemon=True
        )
        self._finished = False
        self._thread.start()

    def __iter__(self) -> _PrefetchIterator:
        return self

    def __len__(self) -> int:
        if self._length is None:
            raise TypeError("this DataLoader's dataset has no len()")
        return self._length

    def __next__(self):
        if self._finished:
            raise StopIteration
        while True:
            try:
                kind, value = self._queue.get(timeout=_POLL_S)
                break
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    self.close()
                    raise RuntimeError("DataLoader: the prefetch thread exited without finishing") from None
        if kind == _BATCH:
            return value
        self.close()
        if kind == _ERROR:
            value.add_note("(raised while loading a batch in the DataLoader prefetch thread)")
            raise value
        raise StopIteration

    def close(self) -> None:
        """Stop the thread and wait for it (also done when the iterator is exhausted or garbage-collected)."""
        self._finished = True
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)

    def __del__(self) -> None:
        self.close()


class _Iterator:
    """The plain (no thread) iterator; it knows its length, like torch's."""

    def __init__(self, batches: Iterator, length: int | None) -> None:
        self._batches = batches
        self._length = length

    def __iter__(self) -> _Iterator:
        return self

    def __next__(self):
        return next(self._batches)

    def __len__(self) -> int:
        if self._length is None:
            raise TypeError("this DataLoader's dataset has no len()")
        return self._length


# ----------------------------------------------------------------------------------------------
# DataLoader
# ----------------------------------------------------------------------------------------------
def _fast_batch(dataset) -> Callable | None:
    """A function ``indices -> collated batch`` when the dataset can gather a batch in one go."""
    if isinstance(dataset, Subset):
        inner = _fast_batch(dataset.dataset)
        if inner is None:
            return None
        mapping = np.asarray(dataset.indices, dtype=np.int64)
        return lambda indices: inner(mapping[indices])
    if getattr(dataset, "transform", None) is not None or getattr(dataset, "target_transform", None) is not None:
        return None  # per-sample transforms must see every sample
    return getattr(dataset, "_get_batch", None)


def _positive_int(value, name: str) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"DataLoader: {name} should be a positive integer, got {name}={value!r}")


class DataLoader:
    """Iterate over ``dataset`` in batches (``torch.utils.data.DataLoader``).

    Args:
        dataset: a map-style ``Dataset`` (``len`` and ``[i]``) or an ``IterableDataset``.
        batch_size: samples per batch; ``None`` turns batching off (each sample is yielded as is,
            its arrays turned into Tensors).
        shuffle: visit a map-style dataset in a new random order every epoch.
        sampler, batch_sampler: custom index order, or custom batches of indices (exclusive with
            ``batch_size``/``shuffle``/``drop_last``).
        collate_fn: merges a list of samples into a batch (default ``default_collate``).
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        generator: a CPU ``mg.Generator`` for shuffling (each epoch draws from it, as torch).
        seed: minigrad-specific: epoch ``k``'s order is a fixed function of ``(seed, k)``, so a
            seeded run reshuffles every epoch and is reproducible; ``set_epoch(k)`` jumps to epoch ``k``.
        prefetch: minigrad-specific: prepare up to this many batches ahead in a background thread
            (0, the default, loads in the calling thread). The thread stops when the iteration ends
            or its iterator is dropped, and an exception raised while loading is re-raised in the caller.
        num_workers, prefetch_factor: torch's names; minigrad has no worker processes, so
            ``num_workers > 0`` turns on the prefetch thread with ``num_workers * prefetch_factor``
            batches ahead (the number torch keeps in flight) unless ``prefetch`` is given.
        pin_memory, persistent_workers: accepted for torch compatibility and ignored.
    """

    def __init__(
        self,
        dataset: Dataset | Iterable,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler | Iterable | None = None,
        batch_sampler: Sampler | Iterable | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[list], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        generator: backend.Generator | None = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        seed: int | None = None,
        prefetch: int | None = None,
    ) -> None:
        if batch_size is not None:
            _positive_int(batch_size, "batch_size")
        if not isinstance(num_workers, (int, np.integer)) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers should be a non-negative integer, got {num_workers!r}")
        if prefetch_factor is not None:
            _positive_int(prefetch_factor, "prefetch_factor")
        if prefetch is not None and (not isinstance(prefetch, (int, np.integer)) or prefetch < 0):
            raise ValueError(f"DataLoader: prefetch should be a non-negative integer, got prefetch={prefetch!r}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, got {type(collate_fn).__name__}")
        if generator is not None and seed is not None:
            raise ValueError("DataLoader: give either generator= or seed=, not both")
        if batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None (no batching) is incompatible with drop_last")

        is_iterable = isinstance(dataset, IterableDataset)
        if is_iterable:
            if shuffle:
                raise ValueError("DataLoader with an IterableDataset: shuffle must not be set (a stream has no order)")
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader with an IterableDataset: sampler and batch_sampler must not be set")
        else:
            if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
                raise TypeError(
                    f"DataLoader: dataset must be a map-style dataset (with __len__ and __getitem__) or an "
                    f"IterableDataset, got {type(dataset).__name__}"
                )
            if len(dataset) == 0:
                raise ValueError("DataLoader: the dataset is empty (len(dataset) == 0); there is nothing to load")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "DataLoader: batch_sampler is mutually exclusive with batch_size, shuffle, sampler and drop_last"
                )
            batch_size, drop_last = None, False

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.num_workers = int(num_workers)
        self.pin_memory = pin_memory
        self.persistent_workers = persistent_workers
        self.generator = generator
        self.seed = seed
        self._user_collate = collate_fn is not None
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if batch_size is not None or batch_sampler is not None else default_convert
        )
        if prefetch is None:
            prefetch = self.num_workers * (prefetch_factor or 2)
        self.prefetch = int(prefetch)

        self._is_iterable = is_iterable
        if is_iterable:
            self.sampler = None
            self.batch_sampler = None
        else:
            if sampler is None:
                sampler = (
                    RandomSampler(dataset, generator=generator, seed=seed) if shuffle else SequentialSampler(dataset)
                )
            self.sampler = sampler
            if batch_sampler is None and batch_size is not None:
                batch_sampler = BatchSampler(sampler, batch_size, drop_last)
            self.batch_sampler = batch_sampler

    def set_epoch(self, epoch: int) -> None:
        """Make the next epoch epoch number ``epoch`` (a seeded loader then replays that epoch's order)."""
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        if self._is_iterable:
            if not hasattr(self.dataset, "__len__"):
                raise TypeError(f"len() of a DataLoader over {type(self.dataset).__name__}: the dataset has no len()")
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)

    def _length_or_none(self) -> int | None:
        try:
            return len(self)
        except TypeError:
            return None

    def _batches(self) -> Iterator:
        """The batch stream of one epoch; index order is drawn now, in the caller's thread."""
        if self._is_iterable:
            samples = iter(self.dataset)
            if self.batch_size is None:
                return (self.collate_fn(sample) for sample in samples)
            return self._batch_stream(samples)
        if self.batch_sampler is None:
            indices = iter(self.sampler)
            return (self.collate_fn(self.dataset[i]) for i in indices)
        index_batches = iter(self.batch_sampler)
        fast = None if self._user_collate else _fast_batch(self.dataset)
        if fast is not None:
            return (fast(np.asarray(batch, dtype=np.int64)) for batch in index_batches)
        return (self.collate_fn([self.dataset[i] for i in batch]) for batch in index_batches)

    def _batch_stream(self, samples: Iterator) -> Iterator:
        while True:
            chunk = list(itertools.islice(samples, self.batch_size))
            if not chunk or (self.drop_last and len(chunk) < self.batch_size):
                return
            yield self.collate_fn(chunk)

    def __iter__(self) -> Iterator:
        batches = self._batches()
        if self.prefetch > 0:
            return _PrefetchIterator(batches, self.prefetch, self._length_or_none())
        return _Iterator(batches, self._length_or_none())

    def __repr__(self) -> str:
        return (
            f"DataLoader(dataset={type(self.dataset).__name__}, batch_size={self.batch_size}, "
            f"drop_last={self.drop_last}, prefetch={self.prefetch})"
        )
