"""Using every core: a shared thread pool for array work, and a switch for BLAS's own threads.

NumPy releases the GIL inside ufuncs and BLAS calls on large arrays, so plain Python threads run
elementwise passes truly in parallel (measured on 2 cores: ``exp`` over 100M floats 193 -> 133 ms,
a multiply 49 -> 26 ms). BLAS (OpenBLAS) already threads each big GEMM by itself, which is what the
dense layers want. When an op instead splits its own work across minigrad's threads (attention
over heads, a recurrence over batch halves), ``blas_threads(1)`` keeps the two thread pools from
fighting over the same cores.

Elementwise and row-wise kernels (GELU, SiLU, layer norm, softmax) run through ``blockwise``, the
one shared way to do this: a kernel of many NumPy passes (a GELU is ~30 ufunc calls) is applied to
blocks of about ``BLOCK`` elements (whole rows), so each block's temporaries stay in the core's L2
cache and only the first read and last write go to memory, and the blocks are shared between the
pool's threads. Measured for GELU with its derivative on (32, 65, 768) float32: one call on the
whole arrays 20 ms, 32K-element blocks 12-16 ms (one thread or two: two threads contend for the GIL
between ~5 us NumPy calls, and a GEMM's spinning OpenBLAS workers share the second core; see
bench/README.md). NumPy only; on CuPy call the kernel once on the whole arrays.

``MINIGRAD_NUM_THREADS`` sets the pool size (default: the CPUs this process may use); 1 turns
the parallel paths off. ``mg.set_num_threads(n)`` (torch's name) sets it at run time, for the pool
and for BLAS. ``threadpoolctl`` (installed with scikit-learn) is used to switch BLAS threads when
present; without it ``blas_threads`` and the BLAS half of ``set_num_threads`` do nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

_pool: ThreadPoolExecutor | None = None
_blas_libraries = None  # threadpoolctl's BLAS controllers, looked up once
_threads: int | None = None  # set by set_num_threads; overrides the environment


def num_threads() -> int:
    """Threads minigrad may use for its own parallel loops."""
    if _threads is not None:
        return _threads
    env = os.environ.get("MINIGRAD_NUM_THREADS")
    if env:
        return max(1, int(env))
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _forget_pool() -> None:
    global _pool
    _pool = None  # a forked child must not reuse the parent's worker threads


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def set_num_threads(n: int) -> None:
    """Use ``n`` threads on the CPU, as ``torch.set_num_threads``: minigrad's own pool (elementwise
    kernels, attention heads) and, where threadpoolctl is installed, BLAS's GEMM threads."""
    global _pool, _threads
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {n!r}")
    if _pool is not None:
        _pool.shutdown(wait=True)  # the next parallel loop starts a pool of the new size
        _pool = None
    _threads = n
    for lib in _blas():
        lib.set_num_threads(n)


def get_num_threads() -> int:
    """The number of CPU threads minigrad uses (``torch.get_num_threads``)."""
    return num_threads()


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=num_threads(), thread_name_prefix="minigrad")
    return _pool


def split(n: int, parts: int | None = None) -> list[tuple[int, int]]:
    """``[start, stop)`` ranges cutting ``range(n)`` into at most ``parts`` (default: the thread count)
    near-equal pieces."""
    parts = max(1, min(n, parts or num_threads()))
    bounds = [round(i * n / parts) for i in range(parts + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(parts) if bounds[i] < bounds[i + 1]]


def parallel_map(fn: Callable, items: Sequence) -> list:
    """``[fn(item) for item in items]``, run on the pool when there is more than one item and thread."""
    if len(items) <= 1 or num_threads() == 1:
        return [fn(item) for item in items]
    return list(_get_pool().map(fn, items))


#: Elements per block of ``blockwise``: four to six float32 temporaries of 128 KiB stay in a 1 MiB L2
#: cache, and a ufunc call (~1 us of overhead) does ~4 us of work. Measured fastest from 8K to 64K.
BLOCK = 1 << 15


def blockwise(kernel: Callable, *arrays, block: int = BLOCK) -> None:
    """``kernel(*[a[i:j] for a in arrays])`` for consecutive blocks of rows ``[i, j)``, on the pool.

    The arrays are C-contiguous NumPy arrays with the same first dim (the rows; 1-D arrays for an
    elementwise kernel); the kernel writes its results into some of them (outputs the caller made
    with ``np.empty``), treating rows independently. A block holds about ``block`` elements of the
    first array (at least one row); each thread takes a run of whole blocks.
    """
    n = arrays[0].shape[0]
    rows = max(1, block // max(1, arrays[0].size // max(n, 1)))
    count = -(-n // rows)  # blocks
    if count <= 1:
        kernel(*arrays)
        return

    def run(span):
        start, stop = span
        for i in range(start * rows, min(stop * rows, n), rows):  # a loop over cache-sized blocks
            kernel(*[a[i:i + rows] for a in arrays])

    parallel_map(run, split(count))


def _blas():
    global _blas_libraries
    if _blas_libraries is None:
        try:
            from threadpoolctl import ThreadpoolController

            _blas_libraries = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
        except Exception:  # threadpoolctl missing or unable to inspect this process
            _blas_libraries = []
    return _blas_libraries


@contextmanager
def blas_threads(n: int):
    """Run the block with BLAS limited to ``n`` threads (restored afterwards). Call from the main thread."""
    libraries = _blas()
    previous = [lib.num_threads for lib in libraries]
    for lib in libraries:
        lib.set_num_threads(n)
    try:
        yield
    finally:
        for lib, count in zip(libraries, previous):
            lib.set_num_threads(count)

