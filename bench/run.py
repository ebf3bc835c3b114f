"""Time minigrad against PyTorch on the reference workloads and print one table.

    python -m bench.run                       # all workloads on the CPU
    python -m bench.run --only mlp,cnn        # a subset
    python -m bench.run --device cuda         # on a GPU machine
    python -m bench.run --json bench/results/cpu.json

Both libraries run in this one process, in alternating blocks of steps after a warm-up, and the
median step time is reported (synchronising the GPU before reading the clock). Peak memory is
measured separately, one fresh subprocess per library and workload, so the two do not pollute
each other: on the CPU it is the rise of the resident set size over the first two steps after the
model and data are built (activations, gradients, optimizer state and the allocator's own
retention); on a GPU, torch's max_memory_allocated and CuPy's memory-pool high-water mark.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time

from .workloads import WORKLOADS


def _libraries():
    import minigrad

    libs = {"minigrad": minigrad}
    try:
        import torch

        torch.set_num_threads(int(os.environ.get("BENCH_THREADS", os.cpu_count() or 1)))
        libs["torch"] = torch
    except ImportError:
        print("torch is not installed: timing minigrad alone (pip install torch==2.13.0 for the comparison)")
    return libs


def _sync(lib, device: str) -> None:
    if device.startswith("cuda"):
        lib.cuda.synchronize()


def _time_steps(step, lib, device, count):
    times = []
    for _ in range(count):
        _sync(lib, device)
        start = time.perf_counter()
        step()
        _sync(lib, device)
        times.append(time.perf_counter() - start)
    return times


#: pause before each block of steps: the other library's worker threads (torch's OpenMP, OpenBLAS)
#: busy-wait for a while after their last parallel region, and in that time they take the cores the
#: next block needs. Measured on 2 cores: without the pause the MLP step read 48 ms in this process
#: against 36 ms alone, and torch's LSTM step was slowed the same way by NumPy's threads.
SETTLE_S = 0.5


def _settle() -> None:
    time.sleep(SETTLE_S)


def time_workload(name: str, libs: dict, device: str, warmup: int, steps: int, rounds: int, sizes: dict | None = None):
    """Median step time in ms per library, timing the libraries in alternating blocks."""
    work = WORKLOADS[name]
    kwargs = dict(work.sizes["cuda" if device.startswith("cuda") else "cpu"], **(sizes or {}))
    built = {}
    for lib_name, lib in libs.items():
        try:
            built[lib_name] = work.build(lib, device, **kwargs)
        except Exception as error:  # a missing feature should show in the table, not stop the run
            print(f"  {lib_name}: cannot build {name}: {type(error).__name__}: {error}")
    for lib_name, step in built.items():
        _settle()
        _time_steps(step, libs[lib_name], device, warmup)
    samples = {lib_name: [] for lib_name in built}
    per_round = max(1, steps // rounds)
    for _ in range(rounds):
        for lib_name, step in built.items():
            _settle()
            samples[lib_name] += _time_steps(step, libs[lib_name], device, per_round)
    return {lib_name: 1000 * statistics.median(t) for lib_name, t in samples.items()}, kwargs


# ----------------------------------------------------------------------------------------------
# Peak memory, measured in a child process
# ----------------------------------------------------------------------------------------------
def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _probe_memory(lib_name: str, name: str, device: str, sizes: dict) -> float:
    """Runs in the child: peak memory (MB) over the first two steps after building the workload."""
    lib = __import__(lib_name)
    if lib_name == "torch":
        lib.set_num_threads(int(os.environ.get("BENCH_THREADS", os.cpu_count() or 1)))
    work = WORKLOADS[name]
    kwargs = dict(work.sizes["cuda" if device.startswith("cuda") else "cpu"], **sizes)
    step = work.build(lib, device, **kwargs)
    gc.collect()
    if device.startswith("cuda"):
        return _probe_gpu_memory(lib_name, lib, step)
    base = _rss_bytes()
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            time.sleep(0.0005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    for _ in range(2):
        step()
    done.set()
    sampler.join()
    peak[0] = max(peak[0], _rss_bytes())
    return (peak[0] - base) / 2**20


def _probe_gpu_memory(lib_name, lib, step) -> float:
    if lib_name == "torch":
        lib.cuda.synchronize()
        base = lib.cuda.memory_allocated()
        lib.cuda.reset_peak_memory_stats()
        for _ in range(2):
            step()
        lib.cuda.synchronize()
        return (lib.cuda.max_memory_allocated() - base) / 2**20
    import cupy

    pool = cupy.get_default_memory_pool()
    lib.cuda.synchronize()
    base = pool.used_bytes()
    pool.free_all_blocks()  # the pool's total is then the high-water mark of what these steps needed
    for _ in range(2):
        step()
    lib.cuda.synchronize()
    return (pool.total_bytes() - base) / 2**20


def measure_memory(lib_name: str, name: str, device: str, sizes: dict) -> float | None:
    cmd = [sys.executable, "-m", "bench.run", "--probe-memory", lib_name, name, device, json.dumps(sizes)]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=root, timeout=1800)
    if result.returncode != 0:
        print(f"  memory probe failed for {lib_name}/{name}: {result.stderr.strip().splitlines()[-1:]}")
        return None
    return float(result.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------------------------
def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(rows: list) -> None:
    header = (f"{'workload':<12} {'device':<6} {'minigrad ms':>12} {'torch ms':>10} {'ratio':>7} "
              f"{'mg peak MB':>11} {'torch peak MB':>14}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['workload']:<12} {r['device']:<6} {_fmt(r['minigrad_ms'], '12.3f')} {_fmt(r['torch_ms'], '10.3f')} "
              f"{_fmt(r['ratio'], '7.2f')} {_fmt(r['minigrad_peak_mb'], '11.1f')} {_fmt(r['torch_peak_mb'], '14.1f')}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated workload names")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per library (tiny_op uses 200x)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating blocks per library")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument("--sizes", default="{}", help='JSON size overrides, e.g. \'{"seq": 4096}\'')
    parser.add_argument("--probe-memory", nargs=4, metavar=("LIB", "WORKLOAD", "DEVICE", "SIZES"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe_memory:
        lib_name, name, device, sizes = args.probe_memory
        print(_probe_memory(lib_name, name, device, json.loads(sizes)))
        return 0

    libs = _libraries()
    rows = []
    for name in args.only.split(","):
        if name not in WORKLOADS:
            parser.error(f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}")
        scale = 200 if name == "tiny_op" else 1
        print(f"running {name} ...", flush=True)
        times, kwargs = time_workload(name, libs, args.device, args.warmup * scale, args.steps * scale,
                                      args.rounds, json.loads(args.sizes))
        mg_ms, torch_ms = times.get("minigrad"), times.get("torch")
        row = {"workload": name, "device": args.device, "sizes": kwargs, "minigrad_ms": mg_ms, "torch_ms": torch_ms,
               "ratio": mg_ms / torch_ms if mg_ms and torch_ms else None,
               "minigrad_peak_mb": None, "torch_peak_mb": None}
        flops = WORKLOADS[name].flops
        if flops is not None:
            row["minigrad_tflops"] = flops(**kwargs) / (mg_ms / 1000) / 1e12 if mg_ms else None
            row["torch_tflops"] = flops(**kwargs) / (torch_ms / 1000) / 1e12 if torch_ms else None
        if not args.no_memory and name != "tiny_op":
            for lib_name in times:
                row[f"{lib_name}_peak_mb"] = measure_memory(lib_name, name, args.device, json.loads(args.sizes))
        rows.append(row)
    print()
    print_table(rows)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        meta = {"machine": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
                "python": platform.python_version(), "date": time.strftime("%Y-%m-%d %H:%M")}
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "results": rows}, f, indent=2)
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
