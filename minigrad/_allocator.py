"""Keep freed array memory in the process for the next training step (CPU, glibc Linux).

Every training step allocates and frees the same activation, gradient and workspace arrays. NumPy
takes array memory from C's ``malloc``; glibc serves blocks above its mmap threshold (128 KiB at
start, raised up to 32 MiB as blocks are freed) straight from the kernel with ``mmap`` and returns
them with ``munmap`` when freed, and trims the heap top back to the kernel once it is free. The next
step then gets fresh pages, and the kernel zero-fills each 4 KiB page on its first touch: on the
ViT-tiny benchmark that was ~28,000 page faults and ~0.13 s of kernel time per step (~20% of it).

PyTorch's GPU caching allocator exists for the same reason. On the CPU we need no allocator of our
own: two of glibc's documented ``mallopt`` settings make ``malloc`` keep the memory instead:

- ``M_MMAP_THRESHOLD`` = 256 MiB: blocks up to that size come from the heap, whose freed space is
  reused by the next allocation of the same size without touching the kernel;
- ``M_TRIM_THRESHOLD`` = 1 GiB: up to that much free memory stays at the top of the heap.

The cost is that the process's resident memory stays at its high-water mark (up to 1 GiB above what
is live) instead of shrinking between steps. Set ``MINIGRAD_MALLOC=system`` before importing
minigrad to leave glibc's defaults alone. The settings apply to the whole process (any library
calling ``malloc`` benefits alike), are made once at import, and are skipped where the C library
is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc <malloc.h>
MMAP_THRESHOLD_BYTES = 256 << 20
TRIM_THRESHOLD_BYTES = 1 << 30

configured = False  # whether the settings were applied in this process


def configure() -> bool:
    """Apply the settings above if this is glibc and ``MINIGRAD_MALLOC`` is not ``system``."""
    global configured
    if configured or os.environ.get("MINIGRAD_MALLOC", "").lower() == "system":
        return configured
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others: no mallopt
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    configured = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
    return configured
