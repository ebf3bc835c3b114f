"""Variable-length batches for recurrent layers: padding and packing, with torch's names.

A batch of sequences of different lengths is either *padded* to the longest one (a (T, B, *) tensor,
or (B, T, *) with ``batch_first``, plus the lengths) or *packed*: sorted by length, longest first,
and stored time step after time step, step t holding only the ``batch_sizes[t]`` sequences still
running. ``nn.RNN``/``nn.LSTM``/``nn.GRU`` take a ``PackedSequence`` and never touch the padding: a
sequence's final state is the one after its own last element, and the reverse direction of a
bidirectional layer starts there.

Every conversion here is one gather or one scatter of rows, so gradients flow through all of them.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence

import numpy as np

from ... import dtypes
from ...backend import get_array_module
from ...ops.creation import tensor as _tensor
from ...ops.rnn import check_batch_sizes, gather_rows, scatter_rows
from ...ops.shape import cat, unbind
from ...tensor import Tensor

_PackedSequenceBase = namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])


class PackedSequence(_PackedSequenceBase):
    """A packed batch of variable-length sequences (made by ``pack_padded_sequence``/``pack_sequence``).

    data: (sum(lengths), *) the elements, time step after time step; batch_sizes: int64 CPU tensor,
    how many sequences are still running at each step; sorted_indices: the batch order by length
    (``None`` when the input was already sorted); unsorted_indices: its inverse.
    """

    __slots__ = ()

    def __new__(cls, data: Tensor, batch_sizes: Tensor | None = None, sorted_indices: Tensor | None = None,
                unsorted_indices: Tensor | None = None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs) -> PackedSequence:
        """``data.to(...)``; the index tensors follow it to its device, ``batch_sizes`` stays on the CPU."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        device = data.device
        move = (lambda t: None if t is None else t.to(device))  # noqa: E731
        return type(self)(data, self.batch_sizes, move(self.sorted_indices), move(self.unsorted_indices))

    def cpu(self) -> PackedSequence:
        return self.to("cpu")

    def cuda(self, device=None) -> PackedSequence:
        return self.to("cuda" if device is None else device)

    def float(self) -> PackedSequence:
        return self.to(dtypes.float32)

    def double(self) -> PackedSequence:
        return self.to(dtypes.float64)

    def half(self) -> PackedSequence:
        return self.to(dtypes.float16)

    @property
    def is_cuda(self) -> bool:
        return self.data.device.type == "cuda"


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The inverse of a permutation given as an index tensor (``None`` stays ``None``)."""
    if permutation is None:
        return None
    xp = get_array_module(permutation._data)
    inverse = xp.empty_like(permutation._data)
    inverse[permutation._data] = xp.arange(permutation._data.shape[0], dtype=inverse.dtype)
    return Tensor._make(inverse, None, 0, False, None)


def _host_lengths(lengths, name: str) -> np.ndarray:
    if isinstance(lengths, Tensor):
        if lengths._data.dtype.kind not in "iu":
            raise TypeError(f"{name}: lengths must hold integers, got dtype {lengths.dtype}")
        values = np.asarray(lengths.tolist(), dtype=np.int64)
    else:
        values = np.asarray(lengths)
        if values.size and values.dtype.kind not in "iu":
            raise TypeError(f"{name}: lengths must be integers, got {list(values.tolist())}")
        values = values.astype(np.int64)
    if values.ndim != 1:
        raise ValueError(f"{name}: lengths must be 1-D (one length per sequence), got shape {values.shape}")
    return values


def _packed_positions(sizes: np.ndarray, batch: int):
    """(time step, sorted batch slot) of each packed element, in packed order."""
    running = np.arange(batch)[None, :] < sizes[:, None]  # (T, B): slot j still running at step t
    return np.nonzero(running)


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (T, B, *) (or (B, T, *) with ``batch_first``) of sequences of the given lengths.

    With ``enforce_sorted=True`` the lengths must be in decreasing order; otherwise the batch is
    sorted here and ``sorted_indices`` records the order (``pad_packed_sequence`` undoes it).
    """
    name = "pack_padded_sequence"
    if input.ndim < 2:
        raise ValueError(f"{name}: expected input of at least 2 dims (T, B, *), got shape {tuple(input.shape)}")
    lengths = _host_lengths(lengths, name)
    T, B = (input.shape[1], input.shape[0]) if batch_first else input.shape[:2]
    if lengths.shape[0] != B:
        raise ValueError(f"{name}: got {lengths.shape[0]} lengths for a batch of {B} sequences "
                         f"(input shape {tuple(input.shape)}, batch_first={batch_first})")
    if enforce_sorted:
        if np.any(lengths[:-1] < lengths[1:]):
            raise RuntimeError(
                f"`lengths` array must be sorted in decreasing order when `enforce_sorted` is True, got "
                f"{lengths.tolist()}. You can pass `enforce_sorted=False` to pack_padded_sequence and/or "
                f"pack_sequence to sidestep this requirement if you do not need ONNX exportability."
            )
        order = np.arange(B)
    else:
        order = np.argsort(-lengths, kind="stable")
    lengths_sorted = lengths[order]
    if B == 0 or lengths_sorted[-1] <= 0:
        raise RuntimeError(f"{name}: length of all samples has to be greater than 0, got lengths {lengths.tolist()}")
    if lengths_sorted[0] > T:
        raise RuntimeError(f"{name}: a sequence length of {int(lengths_sorted[0])} exceeds the padded length {T} "
                           f"of input shape {tuple(input.shape)} (batch_first={batch_first})")
    batch_sizes = (lengths_sorted[None, :] > np.arange(lengths_sorted[0])[:, None]).sum(axis=1)
    steps, slots = _packed_positions(batch_sizes, B)
    batch = order[slots]
    rows = batch * T + steps if batch_first else steps * B + batch
    xp = get_array_module(input._data)
    data = gather_rows(input.reshape((T * B,) + tuple(input.shape[2:])), xp.asarray(rows))
    sorted_indices = None if enforce_sorted else _tensor(order, dtype=dtypes.int64, device=input.device)
    return PackedSequence(data, _tensor(batch_sizes, dtype=dtypes.int64), sorted_indices, None)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """Undo ``pack_padded_sequence``: returns the padded batch (T, B, *) (or (B, T, *)) and the lengths.

    The batch comes back in its original order; ``total_length`` pads to that many steps (at least the
    longest sequence). lengths: an int64 CPU tensor.
    """
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence: expected a PackedSequence, got {type(sequence).__name__}")
    data, batch_sizes, sorted_indices, unsorted_indices = sequence
    sizes = np.asarray(check_batch_sizes(batch_sizes), dtype=np.int64)
    B, T = int(sizes[0]), len(sizes)
    if data.ndim < 1 or data.shape[0] != sizes.sum():
        raise RuntimeError(f"pad_packed_sequence: data of shape {tuple(data.shape)} does not hold sum(batch_sizes) = "
                           f"{int(sizes.sum())} rows")
    if total_length is not None:
        if total_length < T:
            raise ValueError(
                f"Expected total_length to be at least the length of the longest sequence in input, but got "
                f"total_length={total_length} and max sequence length being {T}"
            )
        T = total_length
    steps, slots = _packed_positions(sizes, B)
    order = np.arange(B) if sorted_indices is None else np.asarray(sorted_indices.tolist(), dtype=np.int64)
    batch = order[slots]
    rows = batch * T + steps if batch_first else steps * B + batch
    xp = get_array_module(data._data)
    padded = scatter_rows(data, xp.asarray(rows), T * B, float(padding_value))
    padded = padded.reshape(((B, T) if batch_first else (T, B)) + tuple(data.shape[1:]))
    lengths_sorted = (sizes[:, None] > np.arange(B)[None, :]).sum(axis=0)
    lengths = np.empty_like(lengths_sorted)
    lengths[order] = lengths_sorted
    return padded, _tensor(lengths, dtype=dtypes.int64)


def pad_sequence(sequences: Sequence[Tensor] | Tensor, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack sequences of shapes (L_i, *) into one (T, B, *) tensor (or (B, T, *)), T = max L_i.

    Shorter sequences are padded with ``padding_value`` on the right (or the ``'left'``).
    """
    if padding_side not in ("left", "right"):
        raise ValueError(f"pad_sequence: padding_side must be 'left' or 'right', got {padding_side!r}")
    if isinstance(sequences, Tensor):
        sequences = unbind(sequences, 0)
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("pad_sequence: received an empty list of sequences")
    for k, s in enumerate(sequences):
        if not isinstance(s, Tensor):
            raise TypeError(f"pad_sequence: sequences[{k}] is a {type(s).__name__}, expected a Tensor")
        if s.ndim < 1 or s.shape[1:] != sequences[0].shape[1:]:
            shapes = ", ".join(str(tuple(t.shape)) for t in sequences)
            raise RuntimeError(f"pad_sequence: all sequences must have the same shape after the first (time) dim, "
                               f"got shapes {shapes}")
    lengths = np.array([s.shape[0] for s in sequences], dtype=np.int64)
    B, T = len(sequences), int(lengths.max())
    batch = np.repeat(np.arange(B), lengths)
    steps = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    if padding_side == "left":
        steps = steps + (T - lengths)[batch]
    rows = batch * T + steps if batch_first else steps * B + batch
    xp = get_array_module(sequences[0]._data)
    data = cat(sequences, 0) if len(sequences) > 1 else sequences[0]
    padded = scatter_rows(data, xp.asarray(rows), T * B, float(padding_value))
    return padded.reshape(((B, T) if batch_first else (T, B)) + tuple(sequences[0].shape[1:]))


def unpad_sequence(padded_sequences: Tensor, lengths, batch_first: bool = False) -> list[Tensor]:
    """Split a padded batch back into a list of its sequences (right padding), each (L_i, *)."""
    lengths = _host_lengths(lengths, "unpad_sequence")
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    if lengths.shape[0] != padded_sequences.shape[0] or (lengths.size and lengths.max() > padded_sequences.shape[1]):
        raise ValueError(f"unpad_sequence: lengths {lengths.tolist()} do not fit a padded batch of shape "
                         f"{tuple(padded_sequences.shape)} (batch_first={batch_first})")
    return [padded_sequences[b, : int(n)] for b, n in enumerate(lengths)]


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences of shapes (L_i, *) (longest first when ``enforce_sorted``)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """Undo ``pack_sequence``: the list of sequences, in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


__all__ = [
    "PackedSequence",
    "invert_permutation",
    "pack_padded_sequence",
    "pack_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "unpack_sequence",
    "unpad_sequence",
]
