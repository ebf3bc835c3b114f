"""MNIST, Fashion-MNIST and CIFAR-10: downloaded from their official hosts, checked, cached, parsed.

The classes follow torchvision's: ``MNIST(root=None, train=True, transform=None,
target_transform=None, download=False)``. Files are kept as torchvision keeps them
(``<root>/MNIST/raw/*.gz``, ``<root>/FashionMNIST/raw/*.gz``, ``<root>/cifar-10-batches-py/``), so
a folder torchvision filled works as ``root`` too; ``root`` defaults to ``$MINIGRAD_DATA`` or
``~/.cache/minigrad``. Every file is checked against the MD5 of the official release.

Items are ``(image, label)``: a float32 NumPy array ``(C, H, W)`` in [0, 1] and an int. ``transform``
and ``target_transform`` apply per sample; the augmentations in ``minigrad.transforms`` work on
whole batches and are meant for the loader's output. Without transforms a ``DataLoader`` gathers
each batch in one step.
"""

from __future__ import annotations

import gzip
import os
import pickle
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..tensor import Tensor
from ..utils.data import Dataset
from ._download import data_root, ensure_file, md5sum

# IDX type codes (the third byte of the magic number) and the dtypes they stand for, big-endian
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST format; gzipped when the name ends in ``.gz``) into an array.

    Layout: two zero bytes, a type code, the number of dims ``d``; ``d`` big-endian uint32 sizes;
    then the values, big-endian, in C order.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise RuntimeError(f"{path} is not an IDX file (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise RuntimeError(f"{path}: the IDX header says shape {shape} ({expected} bytes), the file has {len(raw)}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


class _VisionDataset(Dataset):
    """Images ``data`` (uint8, ``(N, C, H, W)``) and labels ``targets`` (int64), as float [0, 1] samples."""

    classes: list[str] = []

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        download: bool = False,
    ) -> None:
        self.root = data_root(root)
        self.train = bool(train)
        self.transform = transform
        self.target_transform = target_transform
        self.data, self.targets = self._load(bool(download))
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}

    def _load(self, download: bool) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def __len__(self) -> int:
        return self.data.shape[0]

    def __getitem__(self, index: int):
        image = self.data[index].astype(np.float32) / 255.0
        label = int(self.targets[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    def _get_batch(self, indices: np.ndarray) -> tuple[Tensor, Tensor]:
        """A whole batch in one gather (used by ``DataLoader`` when there are no transforms)."""
        images = self.data[indices].astype(np.float32) / 255.0
        return Tensor._make(images, None, 0, False, None), Tensor._make(self.targets[indices], None, 0, False, None)

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return f"{type(self).__name__}(split={split}, samples={len(self)}, root={str(self.root)!r})"


class MNIST(_VisionDataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images, 1x28x28 (LeCun et al., 1998).

    Downloaded from the S3 mirror torchvision uses, falling back to yann.lecun.com.
    """

    mirrors = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
    folder = "MNIST"
    files = {
        True: ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
        False: ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    }
    md5 = {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
               "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    @property
    def raw_folder(self) -> Path:
        return self.root / self.folder / "raw"

    def _load(self, download: bool) -> tuple[np.ndarray, np.ndarray]:
        who = type(self).__name__
        paths = [
            ensure_file([m + name for m in self.mirrors], self.raw_folder / name, self.md5[name], download, who)
            for name in self.files[self.train]
        ]
        images, labels = read_idx(paths[0]), read_idx(paths[1])
        if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise RuntimeError(
                f"{who}: expected images (N, H, W) and labels (N,), got {images.shape} in {paths[0].name} "
                f"and {labels.shape} in {paths[1].name}"
            )
        return np.ascontiguousarray(images[:, None], dtype=np.uint8), labels.astype(np.int64)


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 10 kinds of clothing in MNIST's format and sizes (Xiao et al., 2017)."""

    mirrors = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
    folder = "FashionMNIST"
    md5 = {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles CIFAR batches, refusing every global but the few NumPy needs to rebuild an array.

    A pickle can run arbitrary code; a data file has no reason to, so anything else is an error.
    """

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 store bytes
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR-10 batch file")
        if module.startswith("numpy.core."):  # NumPy 2 moved numpy.core to numpy._core
            module = "numpy._core." + module[len("numpy.core."):]
        return super().find_class(module, name)


def _unpickle(path: Path) -> dict:
    with open(path, "rb") as f:
        content = _BatchUnpickler(f, encoding="bytes").load()
    if not isinstance(content, dict):
        raise RuntimeError(f"{path} does not hold a CIFAR batch (a dict), got {type(content).__name__}")
    # Python 2 pickles (the official files) have bytes keys; accept str keys too
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in content.items()}


class CIFAR10(_VisionDataset):
    """CIFAR-10: 50,000 training and 10,000 test colour images, 3x32x32, in 10 classes (Krizhevsky, 2009).

    Downloads the official "python version" archive, extracts its batches to
    ``<root>/cifar-10-batches-py`` and reads them. ``data`` is uint8 ``(N, 3, 32, 32)`` (channels
    first, unlike torchvision's ``(N, 32, 32, 3)``).
    """

    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    archive = "cifar-10-python.tar.gz"
    folder = "cifar-10-batches-py"
    batches = {True: [f"data_batch_{i}" for i in range(1, 6)], False: ["test_batch"]}
    meta = "batches.meta"
    md5 = {
        "cifar-10-python.tar.gz": "c58f30108f718f92721af3b95e74349a",
        "data_batch_1": "c99cafc152244af753f735de768cd75f",
        "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
        "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
        "data_batch_4": "634d18415352ddfa80567beed471001a",
        "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
        "test_batch": "40351d587109b95175f43aff81a1287e",
        "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
    }
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    def _batches_ok(self, names: list[str]) -> bool:
        folder = self.root / self.folder
        return all((folder / n).is_file() and md5sum(folder / n) == self.md5[n] for n in names)

    def _extract(self, archive: Path, names: list[str]) -> None:
        """Extract only the expected regular files, each written atomically (no path from the tar is trusted)."""
        folder = self.root / self.folder
        folder.mkdir(parents=True, exist_ok=True)
        wanted = {f"{self.folder}/{n}": n for n in names}
        found = set()
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = wanted.get(member.name)
                if name is None or not member.isfile():
                    continue
                fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
                try:
                    with os.fdopen(fd, "wb") as out:
                        out.write(tar.extractfile(member).read())
                    if md5sum(tmp) != self.md5[name]:
                        raise RuntimeError(
                            f"CIFAR10: {name} in {archive} has the wrong md5; the archive is not the official one"
                        )
                    os.replace(tmp, folder / name)
                finally:
                    if os.path.exists(tmp):
                        os.remove(tmp)
                found.add(name)
        missing = sorted(set(names) - found)
        if missing:
            raise RuntimeError(f"CIFAR10: {archive} lacks {missing} under {self.folder}/")

    def _load(self, download: bool) -> tuple[np.ndarray, np.ndarray]:
        names = self.batches[self.train] + [self.meta]
        if not self._batches_ok(names):
            archive = ensure_file([self.url], self.root / self.archive, self.md5[self.archive], download, "CIFAR10")
            self._extract(archive, names)
        folder = self.root / self.folder
        label_names = _unpickle(folder / self.meta).get("label_names")
        if label_names is not None:
            self.classes = [n.decode() if isinstance(n, bytes) else str(n) for n in label_names]
        images, labels = [], []
        for name in self.batches[self.train]:
            batch = _unpickle(folder / name)
            data = np.asarray(batch["data"], dtype=np.uint8)
            if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(batch["labels"]) != data.shape[0]:
                raise RuntimeError(f"CIFAR10: {folder / name} holds data of shape {data.shape}, expected (N, 3072)")
            images.append(data.reshape(-1, 3, 32, 32))
            labels.append(np.asarray(batch["labels"], dtype=np.int64))
        return np.concatenate(images), np.concatenate(labels)
