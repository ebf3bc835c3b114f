"""minigrad.datasets: digits, hard digits, the Shakespeare corpus and tokenizers, and the downloaders.

The download tests never touch the network: they write tiny files in the real formats (gzipped
IDX, a CIFAR tarball of pickled batches) to tmp_path, serve them through a patched fetch function
and patch the expected MD5 table to those files' checksums.
"""

import gzip
import hashlib
import importlib
import io
import pickle
import sys
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad.datasets import (
    CIFAR10,
    MNIST,
    CharDataset,
    CharTokenizer,
    FashionMNIST,
    SequenceDataset,
    WordTokenizer,
    data_root,
    digits,
    hard_digits,
    read_idx,
    shakespeare,
    shakespeare_works,
)
from minigrad.utils.data import DataLoader, TensorDataset, default_collate

digits_module = importlib.import_module("minigrad.datasets.digits")
download_module = importlib.import_module("minigrad.datasets._download")
vision_module = importlib.import_module("minigrad.datasets.vision")


# ----- digits -----------------------------------------------------------------------------------
def test_digits_arrays_split_and_dataset():
    x, y = digits()
    assert x.shape == (1797, 1, 8, 8) and x.dtype == np.float32 and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    xtr, ytr = digits("train")
    xte, yte = digits("test")
    assert len(ytr) + len(yte) == 1797 and abs(len(yte) - 0.2 * 1797) < 5
    # stratified: every class holds out about test_size of its samples
    counts_all, counts_test = np.bincount(y, minlength=10), np.bincount(yte, minlength=10)
    np.testing.assert_allclose(counts_test / counts_all, 0.2, atol=0.01)
    # train and test are disjoint and together the whole set
    full = {row.tobytes() for row in x.reshape(1797, -1)}
    train_rows = {row.tobytes() for row in xtr.reshape(len(xtr), -1)}
    test_rows = {row.tobytes() for row in xte.reshape(len(xte), -1)}
    assert train_rows | test_rows == full
    # seeded: same seed same split, another seed another split
    np.testing.assert_array_equal(digits("test", seed=0)[1], yte)
    assert not np.array_equal(digits("test", seed=1)[0], xte)
    ds = digits("train", as_dataset=True)
    assert isinstance(ds, TensorDataset) and len(ds) == len(ytr)
    assert ds[0][0].shape == (1, 8, 8) and ds[0][1].dtype == mg.int64
    assert digits(flatten=True)[0].shape == (1797, 64)


@pytest.mark.parametrize("size", [16, 32, 12])
def test_digits_upscaled_bilinear_matches_interpolate(size, torch_module):
    x8, _ = digits("test")
    x, _ = digits("test", size=size)
    assert x.shape == (len(x8), 1, size, size) and 0.0 <= x.min() and x.max() <= 1.0
    expected = torch_module.nn.functional.interpolate(
        torch_module.from_numpy(x8), size=(size, size), mode="bilinear", align_corners=False
    ).numpy()
    np.testing.assert_allclose(x, expected, atol=1e-6)


def test_digits_nearest_is_pixel_replication():
    x8, _ = digits("test")
    x16, _ = digits("test", size=16, interpolation="nearest")
    np.testing.assert_array_equal(x16, x8.repeat(2, axis=2).repeat(2, axis=3))


def test_digits_errors():
    with pytest.raises(ValueError, match="split"):
        digits("validation")
    with pytest.raises(ValueError, match="size"):
        digits(size=0)
    with pytest.raises(ValueError, match="interpolation"):
        digits(size=16, interpolation="bicubic")
    with pytest.raises(ValueError, match="test_size"):
        digits("train", test_size=1.5)


def test_digits_without_scikit_learn_names_the_extra(monkeypatch):
    digits_module._sklearn_digits.cache_clear()
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    try:
        with pytest.raises(ImportError, match=r"scikit-learn.*examples"):
            digits()
    finally:
        digits_module._sklearn_digits.cache_clear()


def _nearest_centroid_accuracy(x_train, y_train, x_test, y_test):
    a, b = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    centroids = np.stack([a[y_train == c].mean(0) for c in range(10)])
    distances = ((b[:, None, :] - centroids[None]) ** 2).sum(-1)
    return (distances.argmin(1) == y_test).mean()


def test_hard_digits_shapes_reproducible_and_hard():
    xtr, ytr = hard_digits("train", canvas=32)
    xte, yte = hard_digits("test", canvas=32)
    n_test = len(digits("test")[1])
    assert xtr.shape == (1797 - n_test, 1, 32, 32) and xte.shape == (n_test, 1, 32, 32) and xtr.dtype == np.float32
    assert xtr.min() >= 0.0 and xtr.max() <= 1.0
    # labels are the source digits' labels, split the same way as digits()
    np.testing.assert_array_equal(yte, digits("test")[1])
    again, _ = hard_digits("test", canvas=32)
    np.testing.assert_array_equal(again, xte)
    other, _ = hard_digits("test", canvas=32, seed=1)
    assert not np.array_equal(other, xte)
    # raw pixels are far from enough here, while they are on the plain digits
    plain = _nearest_centroid_accuracy(*digits("train"), *digits("test"))
    hard = _nearest_centroid_accuracy(xtr, ytr, xte, yte)
    assert plain > 0.85 and hard < 0.5 and hard > 0.1


def test_hard_digits_construction():
    # without clutter and noise, each image is one digit: ink inside a square box of the drawn size
    clean, labels = hard_digits("test", canvas=40, fragments=0, strokes=0, noise=0.0, digit_size=(0.5, 0.5))
    assert clean.shape == (len(labels), 1, 40, 40)
    for image in clean[:20, 0]:
        rows, cols = np.flatnonzero(image.any(1)), np.flatnonzero(image.any(0))
        assert rows[-1] - rows[0] + 1 <= 20 and cols[-1] - cols[0] + 1 <= 20  # side 0.5 * 40
        assert image.max() > 0.5
    # clutter and noise add ink around the digit
    noisy, _ = hard_digits("test", canvas=40, digit_size=(0.5, 0.5))
    assert (noisy > 0).mean() > 2 * (clean > 0).mean()
    copies, copy_labels = hard_digits("test", canvas=16, copies=3, fragments=0, strokes=0, noise=0.0)
    assert copies.shape == (3 * len(labels), 1, 16, 16)
    assert np.bincount(copy_labels).sum() == 3 * np.bincount(labels).sum()
    with pytest.raises(ValueError, match="canvas"):
        hard_digits(canvas=4)
    with pytest.raises(ValueError, match="digit_size"):
        hard_digits(digit_size=(0.8, 0.2))
    with pytest.raises(ValueError, match="copies"):
        hard_digits(copies=0)


# ----- Shakespeare ----------------------------------------------------------------------------------
def test_shakespeare_splits_and_works():
    works = shakespeare_works()
    assert len(works) == 23 and "hamlet" in works and "sonnets" in works
    train, val = shakespeare("train"), shakespeare("val")
    assert 2_500_000 < len(train) < 3_000_000 and 250_000 < len(val) < 400_000
    assert "To be, or not to be" in shakespeare("all", works=["hamlet"])
    one = shakespeare("all", works="sonnets")
    parts = shakespeare("train", works="sonnets"), shakespeare("val", works="sonnets")
    assert parts[0] + parts[1] == one and parts[0].endswith("\n")  # cut at a line break
    assert len(parts[1]) == pytest.approx(0.1 * len(one), rel=0.05)
    with pytest.raises(ValueError, match="unknown work.*'hamlett'"):
        shakespeare(works=["hamlett"])
    with pytest.raises(ValueError, match="split"):
        shakespeare("test")
    with pytest.raises(ValueError, match="val_fraction"):
        shakespeare(val_fraction=0.0)


def test_packaged_corpus_size_and_attribution():
    folder = Path(importlib.import_module("minigrad.datasets").__file__).parent / "data"
    size = (folder / "shakespeare.tar.gz").stat().st_size
    assert 0.8e6 < size < 1.6e6
    readme = (folder / "README.md").read_text()
    for phrase in ("public domain", "CC-BY 2.5", "Open Knowledge Foundation", "Project Gutenberg", "shakespeare"):
        assert phrase in readme


def test_char_tokenizer_round_trip_and_errors():
    text = shakespeare("all", works="sonnets")
    tok = CharTokenizer(text)
    assert tok.vocab == sorted(set(text)) and tok.vocab_size == len(tok)
    ids = tok.encode(text)
    assert ids.dtype == np.int64 and ids.shape == (len(text),)
    assert tok.decode(ids) == text
    assert tok.decode(mg.tensor(ids[:5])) == text[:5] and tok.decode(ids[:5].tolist()) == text[:5]
    assert tok.stoi[text[0]] == ids[0] and tok.itos[int(ids[0])] == text[0]
    custom = CharTokenizer(vocab=["b", "a", "\n"])
    np.testing.assert_array_equal(custom.encode("ab\na"), [1, 0, 2, 1])
    assert custom.decode([2, 0]) == "\nb"
    with pytest.raises(ValueError, match=r"\['z'\] are not in the vocabulary"):
        custom.encode("abz")
    with pytest.raises(ValueError, match="out of range"):
        custom.decode([3])
    with pytest.raises(ValueError, match="exactly one"):
        CharTokenizer()


def test_word_tokenizer():
    tok = WordTokenizer("O'er the king's men, the men; 'tis 1603!  The END", lower=True)
    assert tok.tokenize("O'er the king's men, 'tis 1603!") == ["o'er", "the", "king's", "men", ",", "'", "tis",
                                                              "1603", "!"]
    assert tok.vocab[:3] == ["<unk>", "the", "men"]  # by frequency (3, 2), ties alphabetical after
    assert tok.counts.sum() == len(tok.tokenize("O'er the king's men, the men; 'tis 1603!  The END"))
    ids = tok.encode("the men, unseen!")
    assert ids.dtype == np.int64 and ids[3] == 0  # unknown word -> <unk>
    assert tok.decode(ids) == "the men, <unk>!"
    small = WordTokenizer("a a a b b c", min_freq=2)
    assert small.vocab == ["<unk>", "a", "b"] and small.counts.tolist() == [1, 3, 2]
    assert WordTokenizer("a a a b b c", max_size=2).vocab == ["<unk>", "a"]
    assert WordTokenizer("The the", lower=False).vocab_size == 3
    with pytest.raises(ValueError, match="min_freq"):
        WordTokenizer("a", min_freq=0)


def test_sequence_and_char_datasets():
    tokens = np.arange(20)
    ds = SequenceDataset(tokens, block_size=5)
    assert len(ds) == 15
    x, y = ds[3]
    assert x.tolist() == [3, 4, 5, 6, 7] and y.tolist() == [4, 5, 6, 7, 8] and x.dtype == mg.int64
    assert ds[-1][1].tolist() == [15, 16, 17, 18, 19]
    strided = SequenceDataset(tokens, block_size=5, stride=5)
    assert len(strided) == 3 and strided[2][0].tolist() == [10, 11, 12, 13, 14]
    with pytest.raises(IndexError):
        ds[15]
    # the loader's batch gather equals per-sample collation
    fast = list(DataLoader(ds, batch_size=4, shuffle=True, seed=0))
    slow = list(DataLoader(ds, batch_size=4, shuffle=True, seed=0, collate_fn=default_collate))
    for (fx, fy), (sx, sy) in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(fx.numpy(), sx.numpy())
        np.testing.assert_array_equal(fy.numpy(), sy.numpy())
    with pytest.raises(ValueError, match="too few"):
        SequenceDataset(np.arange(5), block_size=5)
    with pytest.raises(ValueError, match="1-D integer"):
        SequenceDataset(np.zeros((2, 8), dtype=np.int64), block_size=2)
    chars = CharDataset("hello world", block_size=4)
    x, y = chars[0]
    assert chars.tokenizer.decode(x) == "hell" and chars.tokenizer.decode(y) == "ello"
    assert chars.vocab_size == len(set("hello world"))


# ----- downloads: tiny files in the real formats ---------------------------------------------------------
def _idx_bytes(array: np.ndarray) -> bytes:
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


class FakeServer:
    """Stands in for the network: serves bytes by URL, counts requests, fails unknown URLs like an offline host."""

    def __init__(self, files=None):
        self.files = dict(files or {})
        self.requests = []

    def __call__(self, url, out):
        self.requests.append(url)
        if url not in self.files:
            raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")
        out.write(self.files[url])


@pytest.fixture
def mnist_files(monkeypatch):
    """Tiny MNIST-format gz files (5 train, 3 test images of 28x28) served at the official URLs."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": np.array([3, 1, 4, 1, 5], dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": np.array([9, 2, 6], dtype=np.uint8),
    }
    blobs = {name: gzip.compress(_idx_bytes(a), mtime=0) for name, a in arrays.items()}
    for name, blob in blobs.items():
        monkeypatch.setitem(MNIST.md5, name, _md5(blob))
    server = FakeServer({MNIST.mirrors[0] + name: blob for name, blob in blobs.items()})
    monkeypatch.setattr(download_module, "_fetch", server)
    return arrays, blobs, server


def test_mnist_download_parse_and_cache(tmp_path, mnist_files):
    arrays, _, server = mnist_files
    train = MNIST(tmp_path, train=True, download=True)
    assert train.data.shape == (5, 1, 28, 28) and train.data.dtype == np.uint8
    np.testing.assert_array_equal(train.data[:, 0], arrays["train-images-idx3-ubyte.gz"])
    assert train.targets.tolist() == [3, 1, 4, 1, 5] and train.targets.dtype == np.int64
    image, label = train[2]
    assert image.shape == (1, 28, 28) and image.dtype == np.float32 and label == 4
    np.testing.assert_allclose(image[0], arrays["train-images-idx3-ubyte.gz"][2] / 255.0)
    assert (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").is_file()
    assert len(server.requests) == 2
    # cached: no more requests, and download=False is enough now
    again = MNIST(tmp_path, train=True, download=False)
    np.testing.assert_array_equal(again.data, train.data)
    assert len(server.requests) == 2
    test = MNIST(tmp_path, train=False, download=True)
    assert len(test) == 3 and test.targets.tolist() == [9, 2, 6]
    # the loader gathers whole batches, equal to per-sample collation
    (fx, fy), = DataLoader(train, batch_size=5)
    (sx, sy), = DataLoader(train, batch_size=5, collate_fn=default_collate)
    np.testing.assert_array_equal(fx.numpy(), sx.numpy())
    np.testing.assert_array_equal(fy.numpy(), sy.numpy())
    # per-sample transforms are applied (and switch the loader to per-sample loading)
    flipped = MNIST(tmp_path, train=True, transform=lambda im: im[:, :, ::-1], target_transform=lambda t: t + 10)
    (bx, by), = DataLoader(flipped, batch_size=5)
    np.testing.assert_array_equal(bx.numpy(), fx.numpy()[:, :, :, ::-1])
    assert by.tolist() == [13, 11, 14, 11, 15]


def test_mnist_falls_back_to_the_second_mirror(tmp_path, mnist_files):
    _, blobs, server = mnist_files
    server.files = {MNIST.mirrors[1] + name: blob for name, blob in blobs.items()}
    assert len(MNIST(tmp_path, download=True)) == 5
    assert server.requests[0].startswith(MNIST.mirrors[0]) and server.requests[1].startswith(MNIST.mirrors[1])


def test_mnist_offline_error_says_what_and_where(tmp_path, mnist_files):
    _, _, server = mnist_files
    server.files = {}
    target = tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte.gz"
    with pytest.raises(RuntimeError) as info:
        MNIST(tmp_path, download=True)
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz" in message and str(target) in message
    assert MNIST.mirrors[0] + "train-images-idx3-ubyte.gz" in message and "by hand" in message
    assert "name resolution" in message  # the underlying error of each mirror
    # without download=True: a missing file is named, with how to get it
    with pytest.raises(RuntimeError, match=r"(?s)not found.*train-images.*download=True.*https://ossci-datasets"):
        MNIST(tmp_path, download=False)
    assert not any(p.name.endswith(".part") for p in tmp_path.rglob("*"))


def test_mnist_checksum_failure_leaves_no_corrupt_file(tmp_path, mnist_files):
    _, blobs, server = mnist_files
    name = "train-images-idx3-ubyte.gz"
    server.files[MNIST.mirrors[0] + name] = blobs[name][:-10]  # a truncated download
    with pytest.raises(RuntimeError, match=r"(?s)checksum mismatch.*discarded"):
        MNIST(tmp_path, download=True)
    folder = tmp_path / "MNIST" / "raw"
    assert not (folder / name).exists()
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary files left
    # a corrupt file already in the cache is reported, and replaced when download=True
    (folder / name).write_bytes(b"garbage")
    with pytest.raises(RuntimeError, match=r"corrupt or incomplete.*md5"):
        MNIST(tmp_path, download=False)
    server.files[MNIST.mirrors[0] + name] = blobs[name]
    assert len(MNIST(tmp_path, download=True)) == 5


def test_fashion_mnist_uses_its_own_files(tmp_path, monkeypatch):
    images = np.full((2, 28, 28), 7, dtype=np.uint8)
    labels = np.array([0, 9], dtype=np.uint8)
    blobs = {"train-images-idx3-ubyte.gz": gzip.compress(_idx_bytes(images)),
             "train-labels-idx1-ubyte.gz": gzip.compress(_idx_bytes(labels))}
    for name, blob in blobs.items():
        monkeypatch.setitem(FashionMNIST.md5, name, _md5(blob))
    server = FakeServer({FashionMNIST.mirrors[0] + n: b for n, b in blobs.items()})
    monkeypatch.setattr(download_module, "_fetch", server)
    ds = FashionMNIST(tmp_path, download=True)
    assert (tmp_path / "FashionMNIST" / "raw" / "train-labels-idx1-ubyte.gz").is_file()
    assert all(url.startswith("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/") for url in server.requests)
    assert ds.classes[9] == "Ankle boot" and ds.targets.tolist() == [0, 9]
    assert MNIST.md5["train-images-idx3-ubyte.gz"] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"  # untouched


def test_read_idx_formats_and_errors(tmp_path):
    values = np.arange(24, dtype=np.int32).reshape(2, 3, 4) - 5
    (tmp_path / "a.idx").write_bytes(_idx_bytes(values))
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx"), values)
    floats = np.linspace(0, 1, 6, dtype=np.float32)
    (tmp_path / "f.gz").write_bytes(gzip.compress(_idx_bytes(floats)))
    np.testing.assert_array_equal(read_idx(tmp_path / "f.gz"), floats)
    (tmp_path / "bad.idx").write_bytes(b"\x01\x02\x08\x01" + bytes(8))
    with pytest.raises(RuntimeError, match="not an IDX file"):
        read_idx(tmp_path / "bad.idx")
    (tmp_path / "short.idx").write_bytes(_idx_bytes(values)[:-3])
    with pytest.raises(RuntimeError, match=r"shape \(2, 3, 4\)"):
        read_idx(tmp_path / "short.idx")


def test_data_root_default_and_env(monkeypatch, tmp_path):
    monkeypatch.delenv("MINIGRAD_DATA", raising=False)
    assert data_root() == Path.home() / ".cache" / "minigrad"
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path))
    assert data_root() == tmp_path
    assert data_root(tmp_path / "x") == tmp_path / "x"


def _cifar_tarball(per_batch=2, extra_members=()):
    """A CIFAR-10 'python version' archive with tiny batches pickled like the official ones (bytes keys)."""
    rng = np.random.default_rng(1)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batches[name] = {
            b"batch_label": name.encode(),
            b"labels": rng.integers(0, 10, per_batch).tolist(),
            b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
            b"filenames": [b"x.png"] * per_batch,
        }
    meta = {b"label_names": [n.encode() for n in CIFAR10.classes], b"num_cases_per_batch": per_batch}
    files = {name: pickle.dumps(b, protocol=2) for name, b in batches.items()}
    files["batches.meta"] = pickle.dumps(meta, protocol=2)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, blob in list(files.items()) + list(extra_members):
            info = tarfile.TarInfo(name if name.startswith(("/", ".")) else f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return buffer.getvalue(), batches, files


@pytest.fixture
def cifar_archive(monkeypatch):
    archive, batches, files = _cifar_tarball(extra_members=[("../evil.txt", b"outside the data folder")])
    monkeypatch.setitem(CIFAR10.md5, CIFAR10.archive, _md5(archive))
    for name, blob in files.items():
        monkeypatch.setitem(CIFAR10.md5, name, _md5(blob))
    server = FakeServer({CIFAR10.url: archive})
    monkeypatch.setattr(download_module, "_fetch", server)
    return batches, server


def test_cifar10_download_extract_and_parse(tmp_path, cifar_archive):
    batches, server = cifar_archive
    root = tmp_path / "data"
    train = CIFAR10(root, train=True, download=True)
    assert train.data.shape == (10, 3, 32, 32) and train.data.dtype == np.uint8
    expected = np.concatenate([batches[f"data_batch_{i}"][b"data"] for i in range(1, 6)]).reshape(-1, 3, 32, 32)
    np.testing.assert_array_equal(train.data, expected)
    assert train.targets.tolist() == sum((batches[f"data_batch_{i}"][b"labels"] for i in range(1, 6)), [])
    assert train.classes == CIFAR10.classes and train.class_to_idx["truck"] == 9
    image, label = train[0]
    assert image.shape == (3, 32, 32) and 0.0 <= image.min() and image.max() <= 1.0
    assert (root / "cifar-10-batches-py" / "data_batch_5").is_file()
    assert not (tmp_path / "evil.txt").exists() and not (root / "evil.txt").exists()  # tar paths are not trusted
    test = CIFAR10(root, train=False)  # extracted batches are reused, no download
    assert len(test) == 2 and len(server.requests) == 1


def test_cifar10_offline_and_checksum_errors(tmp_path, cifar_archive):
    _, server = cifar_archive
    good = server.files[CIFAR10.url]
    with pytest.raises(RuntimeError, match=r"(?s)not found.*cifar-10-python\.tar\.gz.*www\.cs\.toronto\.edu"):
        CIFAR10(tmp_path, download=False)
    server.files = {}
    with pytest.raises(RuntimeError, match=r"(?s)could not download cifar-10-python\.tar\.gz.*by hand"):
        CIFAR10(tmp_path, download=True)
    server.files = {CIFAR10.url: good[:1000]}
    with pytest.raises(RuntimeError, match="checksum mismatch"):
        CIFAR10(tmp_path, download=True)
    assert not (tmp_path / CIFAR10.archive).exists()
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".part")]


def test_cifar_batches_refuse_code_in_pickles(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("this must not run",))

    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": Payload()}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load (__builtin__|builtins)\.print"):
        vision_module._unpickle(path)
    # an ordinary NumPy array (as in the official files) loads
    path.write_bytes(pickle.dumps({b"data": np.arange(3, dtype=np.uint8), b"labels": [1]}, protocol=2))
    loaded = vision_module._unpickle(path)
    np.testing.assert_array_equal(loaded["data"], [0, 1, 2])
    assert loaded["labels"] == [1]


def test_digits_dataset_through_a_loader():
    x, y = digits("train", size=16)
    loader = DataLoader(digits("train", size=16, as_dataset=True), batch_size=32, shuffle=True, seed=0)
    seen = []
    for xb, yb in loader:
        assert xb.shape[1:] == (1, 16, 16) and xb.dtype == mg.float32 and yb.dtype == mg.int64
        seen.append(yb.numpy())
    assert len(loader) == -(-len(y) // 32)
    np.testing.assert_array_equal(np.sort(np.concatenate(seen)), np.sort(y))
