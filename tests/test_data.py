"""minigrad.utils.data: datasets, samplers, collation and the DataLoader (with its prefetch thread)."""

import gc
import threading
import time
from collections import OrderedDict, namedtuple

import numpy as np
import pytest
from conftest import torch

import minigrad as mg
from minigrad.utils.data import (
    BatchSampler,
    ChainDataset,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    random_split,
)


def _labels(loader):
    """The label tensor of every batch of one epoch, as lists."""
    return [batch[1].tolist() for batch in loader]


class Squares(Dataset):
    """A plain map-style dataset: item i is (array [i, i], i * i), with no batch fast path."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return np.array([i, i], dtype=np.float64), i * i


class Stream(IterableDataset):
    def __init__(self, n, with_len=True):
        self.n = n
        self.with_len = with_len

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        if not self.with_len:
            raise TypeError("no len")
        return self.n


class Exploding(Dataset):
    """Raises on item ``bad``."""

    def __init__(self, n, bad):
        self.n, self.bad = n, bad

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.bad:
            raise KeyError(f"broken sample {i}")
        return np.float32(i)


# ----- datasets ---------------------------------------------------------------------------------
def test_tensor_dataset_items_and_errors():
    x = mg.arange(12).reshape(6, 2)
    y = mg.arange(6)
    ds = TensorDataset(x, y)
    assert len(ds) == 6
    xi, yi = ds[4]
    assert xi.tolist() == [8, 9] and yi.item() == 4
    assert not xi.requires_grad
    with pytest.raises(ValueError, match=r"size mismatch.*\(6, 2\).*\(5,\)"):
        TensorDataset(x, mg.arange(5))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()
    with pytest.raises(TypeError, match="Tensors or NumPy"):
        TensorDataset([1, 2, 3])
    # NumPy arrays are accepted and wrapped
    assert TensorDataset(np.zeros((3, 2)))[1][0].shape == (2,)


def test_subset_concat_and_add():
    a, b = Squares(3), Squares(4)
    cat = a + b
    assert isinstance(cat, ConcatDataset) and len(cat) == 7
    assert [cat[i][1] for i in range(7)] == [0, 1, 4, 0, 1, 4, 9]
    assert cat[-1][1] == 9 and cat[-7][1] == 0
    with pytest.raises(IndexError):
        cat[7]
    with pytest.raises(IndexError):
        cat[-8]
    with pytest.raises(ValueError, match="empty"):
        ConcatDataset([])
    sub = Subset(b, [3, 1])
    assert len(sub) == 2 and sub[0][1] == 9 and sub[1][1] == 1


def test_chain_dataset():
    chain = Stream(2) + Stream(3)
    assert isinstance(chain, ChainDataset)
    assert list(chain) == [0, 1, 0, 1, 2] and len(chain) == 5
    with pytest.raises(TypeError, match="IterableDataset"):
        ChainDataset([Squares(2)])


def test_random_split_ints_fractions_and_errors():
    ds = Squares(10)
    parts = random_split(ds, [3, 7], generator=mg.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [3, 7]
    assert sorted(parts[0].indices + parts[1].indices) == list(range(10))
    again = random_split(ds, [3, 7], generator=mg.Generator().manual_seed(0))
    assert again[0].indices == parts[0].indices
    other = random_split(ds, [3, 7], generator=mg.Generator().manual_seed(1))
    assert other[0].indices != parts[0].indices
    # fractions: floor each, remainder round-robin (torch's rule): 10 * [0.25, 0.25, 0.5] -> 2, 2, 5 (+1 to the first)
    assert [len(p) for p in random_split(ds, [0.25, 0.25, 0.5])] == [3, 2, 5]
    with pytest.raises(ValueError, match="sum to 9.*10 samples"):
        random_split(ds, [4, 5])
    with pytest.raises(ValueError, match="non-negative"):
        random_split(ds, [12, -2])
    with pytest.raises(TypeError, match="must be an mg.Generator"):
        random_split(ds, [5, 5], generator=np.random.default_rng(0))


@pytest.mark.skipif(torch is None, reason="torch is not installed")
def test_random_split_fraction_sizes_match_torch():
    for n, fractions in [(10, [0.25, 0.25, 0.5]), (7, [0.3, 0.7]), (101, [0.1, 0.2, 0.3, 0.4])]:
        ours = [len(p) for p in random_split(Squares(n), fractions)]
        theirs = [len(p) for p in torch.utils.data.random_split(range(n), fractions)]
        assert ours == theirs


# ----- samplers ---------------------------------------------------------------------------------
def test_sequential_and_batch_sampler_lengths():
    seq = SequentialSampler(range(7))
    assert list(seq) == list(range(7)) and len(seq) == 7
    keep = BatchSampler(seq, 3, drop_last=False)
    drop = BatchSampler(seq, 3, drop_last=True)
    assert list(keep) == [[0, 1, 2], [3, 4, 5], [6]] and len(keep) == 3
    assert list(drop) == [[0, 1, 2], [3, 4, 5]] and len(drop) == 2
    with pytest.raises(ValueError, match="batch_size"):
        BatchSampler(seq, 0, False)


def test_random_sampler_permutes_and_reshuffles():
    sampler = RandomSampler(range(20), generator=mg.Generator().manual_seed(3))
    first, second = list(sampler), list(sampler)
    assert sorted(first) == list(range(20)) and sorted(second) == list(range(20))
    assert first != second
    replayed = RandomSampler(range(20), generator=mg.Generator().manual_seed(3))
    assert list(replayed) == first and list(replayed) == second


def test_random_sampler_seed_is_a_function_of_seed_and_epoch():
    a = RandomSampler(range(50), seed=7)
    epochs = [list(a) for _ in range(3)]
    assert epochs[0] != epochs[1] != epochs[2]
    b = RandomSampler(range(50), seed=7)
    b.set_epoch(2)
    assert list(b) == epochs[2]
    assert list(RandomSampler(range(50), seed=8)) != epochs[0]


def test_random_sampler_replacement_and_num_samples():
    s = RandomSampler(range(5), replacement=True, num_samples=40, seed=0)
    draws = list(s)
    assert len(draws) == 40 and set(draws) <= set(range(5)) and len(s) == 40
    # more samples than items without replacement: whole permutations chained
    chained = list(RandomSampler(range(4), num_samples=10, seed=0))
    assert len(chained) == 10 and sorted(chained[:4]) == [0, 1, 2, 3] and sorted(chained[4:8]) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="positive integer.*empty"):
        RandomSampler([])
    with pytest.raises(ValueError, match="either generator= or seed="):
        RandomSampler(range(3), generator=mg.Generator(), seed=1)


def test_subset_and_weighted_samplers():
    sub = list(SubsetRandomSampler([10, 20, 30], generator=mg.Generator().manual_seed(0)))
    assert sorted(sub) == [10, 20, 30]
    w = WeightedRandomSampler([0.0, 1.0, 0.0, 3.0], num_samples=400, generator=mg.Generator().manual_seed(0))
    draws = np.array(list(w))
    assert set(draws.tolist()) <= {1, 3}
    assert 0.65 < (draws == 3).mean() < 0.85  # expected 0.75
    no_rep = list(WeightedRandomSampler([1.0, 1.0, 1.0], 3, replacement=False))
    assert sorted(no_rep) == [0, 1, 2]
    with pytest.raises(ValueError, match="without replacement"):
        WeightedRandomSampler([1.0, 0.0], 2, replacement=False)
    with pytest.raises(ValueError, match="non-negative"):
        WeightedRandomSampler([1.0, -1.0], 2)


# ----- collation --------------------------------------------------------------------------------
def test_default_collate_types_and_dtypes():
    batch = default_collate([(np.zeros(3), 1, 0.5, True, "a"), (np.ones(3), 2, 1.5, False, "b")])
    images, labels, floats, flags, names = batch
    assert images.shape == (2, 3) and images.dtype == mg.float32  # float64 arrays -> float32
    assert labels.dtype == mg.int64 and labels.tolist() == [1, 2]
    assert floats.dtype == mg.float32 and floats.tolist() == [0.5, 1.5]
    assert flags.dtype == mg.bool and flags.tolist() == [True, False]
    assert names == ["a", "b"]
    # tensors keep their dtype, integer arrays keep theirs, NumPy integer scalars become int64
    t = default_collate([mg.tensor([1.0], dtype=mg.float64), mg.tensor([2.0], dtype=mg.float64)])
    assert t.dtype == mg.float64 and t.shape == (2, 1)
    assert default_collate([np.zeros(2, np.uint8)] * 3).dtype == mg.uint8
    assert default_collate([np.int32(3), np.int32(4)]).dtype == mg.int64


def test_default_collate_nested_structures():
    Pair = namedtuple("Pair", "x y")
    out = default_collate([{"img": np.zeros((2, 2)), "meta": Pair(1, [2.0, 3.0])}] * 4)
    assert out["img"].shape == (4, 2, 2)
    assert isinstance(out["meta"], Pair) and out["meta"].x.tolist() == [1] * 4
    assert [v.tolist() for v in out["meta"].y] == [[2.0] * 4, [3.0] * 4]
    ordered = default_collate([OrderedDict(b=1, a=2)] * 2)
    assert isinstance(ordered, OrderedDict) and list(ordered) == ["b", "a"]


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match=r"equal size.*\(3,\) at entry 0.*\(4,\) at entry 1"):
        default_collate([np.zeros(3), np.zeros(4)])
    with pytest.raises(RuntimeError, match="same keys"):
        default_collate([{"a": 1}, {"b": 1}])
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([(1, 2), (1,)])
    with pytest.raises(TypeError, match="found object"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="non-empty"):
        default_collate([])


@pytest.mark.skipif(torch is None, reason="torch is not installed")
def test_default_collate_matches_torch_structure():
    samples = [(np.full((2,), i, dtype=np.float32), i, {"k": np.float32(i)}) for i in range(3)]
    ours = default_collate(samples)
    theirs = torch.utils.data.default_collate(samples)
    assert type(ours) is type(theirs) and len(ours) == len(theirs)
    np.testing.assert_array_equal(ours[0].numpy(), theirs[0].numpy())
    np.testing.assert_array_equal(ours[1].numpy(), theirs[1].numpy())
    np.testing.assert_array_equal(ours[2]["k"].numpy(), theirs[2]["k"].numpy())


# ----- DataLoader ----------------------------------------------------------------------------------
def test_loader_batches_in_order_and_len():
    ds = Squares(10)
    loader = DataLoader(ds, batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 == len(batches)
    assert [b[1].tolist() for b in batches] == [[0, 1, 4, 9], [16, 25, 36, 49], [64, 81]]
    assert batches[0][0].shape == (4, 2) and batches[0][0].dtype == mg.float32
    dropped = DataLoader(ds, batch_size=4, drop_last=True)
    assert len(dropped) == 2 == len(list(dropped))
    assert len(DataLoader(ds, batch_size=5, drop_last=True)) == 2
    assert len(DataLoader(ds, batch_size=11, drop_last=True)) == 0


def test_loader_tensor_dataset_fast_path_equals_per_sample_collate():
    x = mg.randn(23, 3, 4)
    y = mg.randint(0, 5, (23,))
    ds = TensorDataset(x, y)
    fast = list(DataLoader(ds, batch_size=5, shuffle=True, seed=1))
    slow = list(DataLoader(ds, batch_size=5, shuffle=True, seed=1, collate_fn=default_collate))
    assert len(fast) == len(slow) == 5
    for (fx, fy), (sx, sy) in zip(fast, slow):
        np.testing.assert_array_equal(fx.numpy(), sx.numpy())
        np.testing.assert_array_equal(fy.numpy(), sy.numpy())
        assert fx.dtype == sx.dtype and fy.dtype == sy.dtype == mg.int64
    # through a Subset too
    sub = Subset(ds, [22, 0, 7])
    (sx, sy), = list(DataLoader(sub, batch_size=3))
    np.testing.assert_array_equal(sx.numpy(), x.numpy()[[22, 0, 7]])


def test_seeded_loader_reshuffles_each_epoch_reproducibly():
    ds = TensorDataset(mg.arange(40), mg.arange(40))
    loader = DataLoader(ds, batch_size=8, shuffle=True, seed=123)
    epochs = [_labels(loader) for _ in range(3)]
    flat = [sum(e, []) for e in epochs]
    assert all(sorted(f) == list(range(40)) for f in flat)
    assert flat[0] != flat[1] and flat[1] != flat[2]
    assert flat[0] != list(range(40))
    rerun = DataLoader(ds, batch_size=8, shuffle=True, seed=123)
    assert [_labels(rerun) for _ in range(3)] == epochs
    jump = DataLoader(ds, batch_size=8, shuffle=True, seed=123)
    jump.set_epoch(2)
    assert _labels(jump) == epochs[2]
    assert _labels(DataLoader(ds, batch_size=8, shuffle=True, seed=124)) != epochs[0]


def test_generator_loader_reproducible_and_global_seed():
    ds = TensorDataset(mg.arange(30), mg.arange(30))
    a = DataLoader(ds, batch_size=10, shuffle=True, generator=mg.Generator().manual_seed(5))
    b = DataLoader(ds, batch_size=10, shuffle=True, generator=mg.Generator().manual_seed(5))
    ea, eb = [_labels(a) for _ in range(2)], [_labels(b) for _ in range(2)]
    assert ea == eb and ea[0] != ea[1]
    mg.manual_seed(11)
    g1 = _labels(DataLoader(ds, batch_size=10, shuffle=True))
    mg.manual_seed(11)
    g2 = _labels(DataLoader(ds, batch_size=10, shuffle=True))
    assert g1 == g2


def test_loader_iterable_dataset_batching():
    loader = DataLoader(Stream(10), batch_size=4)
    assert [b.tolist() for b in loader] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert len(loader) == 3
    dropped = DataLoader(Stream(10), batch_size=4, drop_last=True)
    assert [b.tolist() for b in dropped] == [[0, 1, 2, 3], [4, 5, 6, 7]] and len(dropped) == 2
    assert list(DataLoader(Stream(3), batch_size=None)) == [0, 1, 2]  # no batching: samples as they are
    with pytest.raises(TypeError, match="no len"):
        len(DataLoader(Stream(3, with_len=False), batch_size=2))
    with pytest.raises(ValueError, match="shuffle"):
        DataLoader(Stream(3), shuffle=True)
    with pytest.raises(ValueError, match="sampler"):
        DataLoader(Stream(3), sampler=[0, 1])


def test_loader_custom_sampler_batch_sampler_and_collate():
    ds = Squares(6)
    loader = DataLoader(ds, batch_size=2, sampler=[5, 4, 3, 2, 1, 0])
    assert _labels(loader) == [[25, 16], [9, 4], [1, 0]]
    by_batches = DataLoader(ds, batch_sampler=[[0, 5], [1]])
    assert _labels(by_batches) == [[0, 25], [1]] and len(by_batches) == 2
    summed = DataLoader(ds, batch_size=3, collate_fn=lambda samples: sum(s[1] for s in samples))
    assert list(summed) == [0 + 1 + 4, 9 + 16 + 25]
    single = DataLoader(ds, batch_size=None)
    first = next(iter(single))
    assert isinstance(first[0], mg.Tensor) and first[0].shape == (2,) and first[1] == 0


def test_loader_argument_errors():
    ds = Squares(4)
    with pytest.raises(ValueError, match="batch_size should be a positive integer.*0"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(ds, batch_size=-3)
    with pytest.raises(ValueError, match="empty"):
        DataLoader(Squares(0))
    with pytest.raises(ValueError, match="empty"):
        DataLoader(TensorDataset(mg.zeros(0, 3)), batch_size=2, shuffle=True)
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler is mutually exclusive"):
        DataLoader(ds, batch_size=2, batch_sampler=[[0]])
    with pytest.raises(ValueError, match="either generator= or seed="):
        DataLoader(ds, shuffle=True, seed=1, generator=mg.Generator())
    with pytest.raises(TypeError, match="collate_fn must be callable"):
        DataLoader(ds, collate_fn=3)
    with pytest.raises(ValueError, match="prefetch"):
        DataLoader(ds, prefetch=-1)
    with pytest.raises(TypeError, match="map-style"):
        DataLoader(object())


# ----- prefetch thread -------------------------------------------------------------------------------
def _prefetch_threads():
    return [t for t in threading.enumerate() if t.name == "minigrad-DataLoader-prefetch"]


def _wait_until_no_prefetch_threads(timeout=5.0):
    deadline = time.monotonic() + timeout
    while _prefetch_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    return not _prefetch_threads()


def test_prefetch_gives_the_same_batches():
    ds = TensorDataset(mg.randn(50, 3), mg.arange(50))
    plain = DataLoader(ds, batch_size=7, shuffle=True, seed=0)
    ahead = DataLoader(ds, batch_size=7, shuffle=True, seed=0, prefetch=3)
    for _ in range(2):  # two epochs: the epoch counter advances the same way
        for (px, py), (ax, ay) in zip(plain, ahead, strict=True):
            np.testing.assert_array_equal(px.numpy(), ax.numpy())
            np.testing.assert_array_equal(py.numpy(), ay.numpy())
    assert _wait_until_no_prefetch_threads()
    # num_workers > 0 maps to the prefetch thread
    assert DataLoader(ds, num_workers=2).prefetch == 4


def test_prefetch_thread_stops_when_iteration_ends():
    loader = DataLoader(Squares(9), batch_size=2, prefetch=2)
    it = iter(loader)
    assert len(it) == 5
    assert len(list(it)) == 5
    assert not it._thread.is_alive()
    with pytest.raises(StopIteration):
        next(it)


def test_prefetch_thread_stops_when_iterator_and_loader_are_dropped():
    loader = DataLoader(Squares(1000), batch_size=1, prefetch=2)
    it = iter(loader)
    next(it)
    thread = it._thread
    assert thread.is_alive()  # blocked on a full queue, waiting for the consumer
    del it, loader
    gc.collect()
    thread.join(timeout=5.0)
    assert not thread.is_alive()
    # breaking out of a for loop drops the iterator too
    for _ in DataLoader(Squares(1000), batch_size=1, prefetch=2):
        break
    gc.collect()
    assert _wait_until_no_prefetch_threads()


def test_prefetch_propagates_dataset_exceptions():
    loader = DataLoader(Exploding(10, bad=5), batch_size=2, prefetch=2)
    it = iter(loader)
    assert next(it).tolist() == [0.0, 1.0]
    assert next(it).tolist() == [2.0, 3.0]
    with pytest.raises(KeyError, match="broken sample 5") as info:
        next(it)
    assert any("prefetch thread" in note for note in getattr(info.value, "__notes__", []))
    assert not it._thread.is_alive()
    with pytest.raises(StopIteration):
        next(it)
    # and without the thread the same error surfaces directly
    with pytest.raises(KeyError, match="broken sample 5"):
        list(DataLoader(Exploding(10, bad=5), batch_size=2))
