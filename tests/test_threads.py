"""mg.set_num_threads / mg.get_num_threads (torch's names): minigrad's thread pool and BLAS's threads."""

import threading

import numpy as np
import pytest

import minigrad as mg
from minigrad import _parallel


@pytest.fixture
def restore_threads():
    before = _parallel._threads
    yield
    _parallel._threads = None
    mg.set_num_threads(_parallel.num_threads() if before is None else before)
    _parallel._threads = before


def _threads_used(items: int = 8) -> set:
    return set(_parallel.parallel_map(lambda _: threading.current_thread().name, list(range(items))))


def test_one_thread_runs_parallel_loops_in_the_caller(restore_threads):
    mg.set_num_threads(1)
    assert mg.get_num_threads() == 1
    assert _threads_used() == {threading.current_thread().name}


def test_two_threads_use_the_pool(restore_threads):
    mg.set_num_threads(2)
    assert mg.get_num_threads() == 2
    names = _threads_used()
    assert names and all(name.startswith("minigrad") for name in names)


def test_blas_threads_follow_when_threadpoolctl_is_present(restore_threads):
    libraries = _parallel._blas()
    if not libraries:
        pytest.skip("threadpoolctl is not installed: BLAS threads cannot be set")
    mg.set_num_threads(1)
    assert all(lib.num_threads == 1 for lib in libraries)
    mg.set_num_threads(2)
    assert all(lib.num_threads == 2 for lib in libraries)


def test_results_do_not_depend_on_the_thread_count(restore_threads):
    x = np.random.default_rng(0).standard_normal((32, 65, 768)).astype(np.float32)
    outputs = []
    for n in (1, 2):
        mg.set_num_threads(n)
        t = mg.tensor(x, requires_grad=True)
        y = mg.nn.functional.gelu(t)
        y.sum().backward()
        outputs.append((y.detach().numpy(), t.grad.numpy()))
    np.testing.assert_array_equal(outputs[0][0], outputs[1][0])
    np.testing.assert_array_equal(outputs[0][1], outputs[1][1])


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_bad_thread_counts_raise(bad, restore_threads):
    before = mg.get_num_threads()
    with pytest.raises(RuntimeError, match="positive integer"):
        mg.set_num_threads(bad)
    assert mg.get_num_threads() == before
