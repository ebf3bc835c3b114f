"""Built-in datasets.

- ``digits()``, ``hard_digits()``: handwritten digits that work offline (scikit-learn's bundled set).
- ``shakespeare()``, ``CharTokenizer``, ``WordTokenizer``, ``CharDataset``, ``SequenceDataset``: the
  packaged Shakespeare corpus and what a language model needs to read it.
- ``MNIST``, ``FashionMNIST``, ``CIFAR10``: downloaded from the official hosts on request
  (``download=True``), checksummed and cached in ``$MINIGRAD_DATA`` or ``~/.cache/minigrad``.
"""

from ._download import data_root
from .digits import digits, hard_digits
from .text import (
    CharDataset,
    CharTokenizer,
    SequenceDataset,
    WordTokenizer,
    shakespeare,
    shakespeare_works,
)
from .vision import CIFAR10, MNIST, FashionMNIST, read_idx

__all__ = [
    "CIFAR10",
    "MNIST",
    "CharDataset",
    "CharTokenizer",
    "FashionMNIST",
    "SequenceDataset",
    "WordTokenizer",
    "data_root",
    "digits",
    "hard_digits",
    "read_idx",
    "shakespeare",
    "shakespeare_works",
]
