"""minigrad keeps freed array memory in the process (glibc mallopt), so a training step's arrays
reuse the previous step's pages instead of faulting fresh zeroed pages in from the kernel."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt is Linux-only")

# Allocate, touch and free a 48 MiB array (above glibc's 32 MiB dynamic mmap-threshold cap) three
# times; print the minor page faults of the last round.
_SCRIPT = """
import resource, numpy as np
{setup}
def round_trip():
    a = np.empty(12 << 20, dtype=np.float32)
    a.fill(1.0)
    del a
round_trip(); round_trip()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
round_trip()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(setup: str, malloc_env: str | None) -> int:
    env = dict(os.environ)
    env.pop("MINIGRAD_MALLOC", None)
    if malloc_env is not None:
        env["MINIGRAD_MALLOC"] = malloc_env
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT.format(setup=setup)], env=env, capture_output=True, text=True, check=True
    )
    return int(out.stdout.strip())


def test_freed_arrays_are_reused_without_page_faults():
    import minigrad._allocator as allocator

    if not allocator.configure():
        pytest.skip("the C library here is not glibc (no mallopt)")
    # glibc's default: a 48 MiB block is mmapped and unmapped each time, so every round faults its
    # pages in afresh (~12,000 4 KiB pages, or ~24 transparent huge pages, each zeroed by the kernel)
    system = _faults("import minigrad", "system")
    kept = _faults("import minigrad", None)
    assert kept < 64, f"{kept} page faults with minigrad's malloc settings (system default: {system})"
    assert system > kept, f"MINIGRAD_MALLOC=system should leave glibc's defaults ({system} vs {kept} faults)"


def test_system_setting_leaves_glibc_alone():
    import minigrad._allocator as allocator

    if not allocator.configure():
        pytest.skip("the C library here is not glibc (no mallopt)")
    out = subprocess.run(
        [sys.executable, "-c", "import minigrad._allocator as a; print(a.configured)"],
        env={**os.environ, "MINIGRAD_MALLOC": "system"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "False"
