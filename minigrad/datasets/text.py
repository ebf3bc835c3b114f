"""Text: the packaged Shakespeare corpus, character and word tokenizers, and language-modelling windows.

The corpus (23 plays and the sonnets, 3.1 MB of text; see ``data/README.md`` for source and license)
ships inside the package, so the text examples run offline::

    text = mg.datasets.shakespeare("train")
    tok = mg.datasets.CharTokenizer(mg.datasets.shakespeare("all"))
    ds = mg.datasets.CharDataset(text, block_size=128, tokenizer=tok)   # (x, y) = tokens[i:i+128], tokens[i+1:i+129]
"""

from __future__ import annotations

import collections
import functools
import importlib.resources
import re
import tarfile
from collections.abc import Sequence

import numpy as np

from ..tensor import Tensor
from ..utils.data import Dataset

_CORPUS = "shakespeare.tar.gz"


@functools.lru_cache(maxsize=1)
def _works() -> dict[str, str]:
    """``{work name: text}`` read once from the packaged archive."""
    resource = importlib.resources.files(__package__).joinpath("data", _CORPUS)
    texts = {}
    with resource.open("rb") as raw, tarfile.open(fileobj=raw, mode="r:gz") as archive:
        for member in archive.getmembers():
            if member.isfile() and member.name.endswith(".txt"):
                texts[member.name[: -len(".txt")]] = archive.extractfile(member).read().decode("utf-8")
    if not texts:
        raise RuntimeError(f"the packaged corpus {_CORPUS} holds no texts; the installation looks broken")
    return dict(sorted(texts.items()))


def shakespeare_works() -> list[str]:
    """The names of the packaged works (``"hamlet"``, ``"sonnets"``, ...), sorted."""
    return list(_works())


def shakespeare(split: str = "train", works: Sequence[str] | None = None, val_fraction: float = 0.1) -> str:
    """Shakespeare's text from the packaged corpus, offline.

    Args:
        split: ``"train"``, ``"val"`` or ``"all"``. Each work is cut at the line break nearest after
            ``(1 - val_fraction)`` of its length: the first part goes to train and the last to val, so
            both splits have every work's style and no line is split between them.
        works: names from ``shakespeare_works()`` (default all, in alphabetical order).
        val_fraction: the fraction of each work held out for ``"val"``.

    Returns the works' texts joined by a blank line. The val text may use a character the train
    text does not; build a ``CharTokenizer`` from ``shakespeare("all")`` to cover both.
    """
    if split not in ("train", "val", "all"):
        raise ValueError(f"shakespeare: split must be 'train', 'val' or 'all', got {split!r}")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"shakespeare: val_fraction must be in (0, 1), got {val_fraction}")
    corpus = _works()
    names = list(corpus) if works is None else ([works] if isinstance(works, str) else list(works))
    unknown = [w for w in names if w not in corpus]
    if unknown:
        raise ValueError(f"shakespeare: unknown work(s) {unknown}; available: {', '.join(corpus)}")
    if not names:
        raise ValueError("shakespeare: works must name at least one work")
    parts = []
    for name in names:
        text = corpus[name]
        if split == "all":
            parts.append(text)
            continue
        cut = text.find("\n", int(len(text) * (1.0 - val_fraction)))
        cut = len(text) if cut < 0 else cut + 1
        parts.append(text[:cut] if split == "train" else text[cut:])
    return "\n".join(parts)


def _ids_array(ids, vocab_size: int, who: str) -> np.ndarray:
    if isinstance(ids, Tensor):
        ids = ids.numpy(force=True) if ids.requires_grad else ids.numpy()
    array = np.asarray(ids.get() if hasattr(ids, "get") else ids)
    if array.size and array.dtype.kind not in "iu":
        raise TypeError(f"{who}.decode expects integer token ids, got dtype {array.dtype}")
    array = array.astype(np.int64).reshape(-1)
    if array.size and (array.min() < 0 or array.max() >= vocab_size):
        bad = array[(array < 0) | (array >= vocab_size)][0]
        raise ValueError(f"{who}.decode: token id {bad} is out of range for a vocabulary of {vocab_size}")
    return array


class CharTokenizer:
    """Characters as tokens: the vocabulary is the sorted set of characters of ``text`` (or ``vocab``).

    ``encode(str)`` gives a NumPy int64 array of ids (vectorised, cheap for a whole corpus);
    ``decode(ids)`` takes ids as a list, array or Tensor and gives the string back exactly.
    """

    def __init__(self, text: str | None = None, *, vocab: Sequence[str] | None = None) -> None:
        if (text is None) == (vocab is None):
            raise ValueError("CharTokenizer: give exactly one of text or vocab")
        if vocab is None:
            vocab = sorted(set(text))
        vocab = list(vocab)
        if not vocab or any(not isinstance(c, str) or len(c) != 1 for c in vocab) or len(set(vocab)) != len(vocab):
            raise ValueError("CharTokenizer: vocab must be a non-empty list of distinct single characters")
        self.vocab = vocab
        self.stoi = {c: i for i, c in enumerate(vocab)}
        self.itos = dict(enumerate(vocab))
        self._codes = np.array([ord(c) for c in vocab], dtype=np.uint32)  # id -> code point
        self._sorted = np.argsort(self._codes)  # to look code points up with searchsorted

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def __len__(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> np.ndarray:
        """The ids of the characters of ``text`` (int64 array); unknown characters raise ``ValueError``."""
        codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
        sorted_codes = self._codes[self._sorted]
        pos = np.minimum(np.searchsorted(sorted_codes, codes), len(sorted_codes) - 1)
        known = sorted_codes[pos] == codes
        if not known.all():
            missing = sorted({chr(c) for c in codes[~known][:1000]})
            raise ValueError(
                f"CharTokenizer.encode: character(s) {missing[:10]} are not in the vocabulary of {self.vocab_size}; "
                "build the tokenizer from text that contains them"
            )
        return self._sorted[pos].astype(np.int64)

    def decode(self, ids) -> str:
        """The string for ``ids`` (a list, NumPy/CuPy array or Tensor of ids)."""
        array = _ids_array(ids, self.vocab_size, "CharTokenizer")
        return self._codes[array].astype("<u4").tobytes().decode("utf-32-le")

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


class WordTokenizer:
    """Words and punctuation marks as tokens, for word-level models (Word2Vec, word language models).

    Splitting: a token is a run of letters with inner apostrophes (``"o'er"``, ``"king's"``), a run
    of digits, or any other single non-space character (punctuation); whitespace separates tokens
    and is dropped. With ``lower`` the text is lowercased first. The vocabulary is ``unk`` followed
    by the tokens seen at least ``min_freq`` times, most frequent first (ties alphabetical), cut to
    ``max_size`` entries; ``counts[i]`` is how often ``vocab[i]`` occurred (rarer tokens count as ``unk``).
    ``decode`` joins tokens with spaces and none before punctuation: readable, not the exact text.
    """

    _TOKEN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*|\d+|[^\sA-Za-z\d]")
    _NO_SPACE_BEFORE = set(".,;:!?')]")

    def __init__(
        self, text: str, *, min_freq: int = 1, max_size: int | None = None, lower: bool = True, unk: str = "<unk>"
    ) -> None:
        if min_freq < 1:
            raise ValueError(f"WordTokenizer: min_freq must be >= 1, got {min_freq}")
        if max_size is not None and max_size < 1:
            raise ValueError(f"WordTokenizer: max_size must be >= 1, got {max_size}")
        self.lower = lower
        self.unk = unk
        tokens = self.tokenize(text)
        freq = collections.Counter(tokens)
        freq.pop(unk, None)
        kept = sorted((w for w, n in freq.items() if n >= min_freq), key=lambda w: (-freq[w], w))
        if max_size is not None:
            kept = kept[: max_size - 1]
        self.vocab = [unk] + kept
        self.stoi = {w: i for i, w in enumerate(self.vocab)}
        self.itos = dict(enumerate(self.vocab))
        counts = np.array([0] + [freq[w] for w in kept], dtype=np.int64)
        counts[0] = len(tokens) - counts[1:].sum()
        self.counts = counts

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def __len__(self) -> int:
        return len(self.vocab)

    def tokenize(self, text: str) -> list[str]:
        """``text`` split into word and punctuation strings."""
        return self._TOKEN.findall(text.lower() if self.lower else text)

    def encode(self, text: str) -> np.ndarray:
        """The ids of the tokens of ``text`` (int64 array); tokens not in the vocabulary map to ``unk`` (id 0)."""
        stoi = self.stoi
        return np.fromiter((stoi.get(t, 0) for t in self.tokenize(text)), dtype=np.int64)

    def decode(self, ids) -> str:
        """The tokens for ``ids`` joined into readable text."""
        array = _ids_array(ids, self.vocab_size, "WordTokenizer")
        out: list[str] = []
        for i in array.tolist():
            word = self.vocab[i]
            if out and word not in self._NO_SPACE_BEFORE:
                out.append(" ")
            out.append(word)
        return "".join(out)

    def __repr__(self) -> str:
        return f"WordTokenizer(vocab_size={self.vocab_size}, lower={self.lower})"


class SequenceDataset(Dataset):
    """Next-token windows over a 1-D token sequence, for language modelling.

    Item ``i`` is ``(x, y)`` with ``x = tokens[s : s + block_size]`` and ``y = tokens[s + 1 : s + block_size + 1]``
    (the targets are the inputs shifted by one), ``s = i * stride``; both int64 Tensors of length
    ``block_size``. ``len`` counts every window that fits.
    """

    def __init__(self, tokens, block_size: int, stride: int = 1) -> None:
        if isinstance(tokens, Tensor):
            tokens = tokens.numpy()
        tokens = np.asarray(tokens.get() if hasattr(tokens, "get") else tokens)
        if tokens.ndim != 1 or (tokens.size and tokens.dtype.kind not in "iu"):
            raise ValueError(f"SequenceDataset: tokens must be a 1-D integer sequence, got shape {tokens.shape}, "
                             f"dtype {tokens.dtype}")
        if not isinstance(block_size, int) or block_size < 1:
            raise ValueError(f"SequenceDataset: block_size must be a positive integer, got {block_size!r}")
        if not isinstance(stride, int) or stride < 1:
            raise ValueError(f"SequenceDataset: stride must be a positive integer, got {stride!r}")
        if tokens.size < block_size + 1:
            raise ValueError(
                f"SequenceDataset: {tokens.size} tokens are too few for one window of block_size={block_size} "
                "(need block_size + 1, for the shifted targets)"
            )
        self.tokens = tokens.astype(np.int64)
        self.block_size = block_size
        self.stride = stride
        self._offsets = np.arange(block_size + 1)

    def __len__(self) -> int:
        return (self.tokens.size - self.block_size - 1) // self.stride + 1

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        n = len(self)
        index = int(index)
        if not -n <= index < n:
            raise IndexError(f"SequenceDataset index {index} is out of range for {n} windows")
        start = (index % n) * self.stride
        window = self.tokens[start : start + self.block_size + 1]
        return Tensor._make(window[:-1], None, 0, False, None), Tensor._make(window[1:], None, 0, False, None)

    def _get_batch(self, indices: np.ndarray) -> tuple[Tensor, Tensor]:
        """All windows of a batch in one gather (the DataLoader's fast path)."""
        n = len(self)
        if indices.size and (indices.min() < -n or indices.max() >= n):
            raise IndexError(f"SequenceDataset index out of range for {n} windows")
        windows = self.tokens[(indices % n)[:, None] * self.stride + self._offsets]
        x, y = np.ascontiguousarray(windows[:, :-1]), np.ascontiguousarray(windows[:, 1:])
        return Tensor._make(x, None, 0, False, None), Tensor._make(y, None, 0, False, None)


class CharDataset(SequenceDataset):
    """``SequenceDataset`` over the characters of ``text``; ``tokenizer`` defaults to ``CharTokenizer(text)``."""

    def __init__(self, text: str, block_size: int, tokenizer: CharTokenizer | None = None, stride: int = 1) -> None:
        self.tokenizer = CharTokenizer(text) if tokenizer is None else tokenizer
        super().__init__(self.tokenizer.encode(text), block_size, stride)

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.vocab_size
