"""How step time and peak memory grow: with batch size, with sequence length for attention (the
plain and the flash path), and with the number of time steps for the LSTM.

    python -m bench.scaling                                  # table, JSON and plot under bench/results/
    python -m bench.scaling --quick                          # fewer points, for a quick look
    python -m bench.scaling --only attention --device cuda   # one sweep, on a GPU machine

Every point reuses ``bench.run``: both libraries timed in alternating blocks in this process (median
step), peak memory measured in a fresh subprocess per library and point (resident-set rise on the
CPU). The attention sweep runs minigrad twice, with ``sdpa_kernel`` forcing the math path (the whole
L x S score matrix) and then the flash path (one tile of scores at a time), against torch's default.
"""

from __future__ import annotations

import argparse
import json
import os

from .run import _libraries, measure_memory, time_workload

#: sweep name -> (workload, swept size, values, fixed sizes, quick values)
SWEEPS = {
    "mlp_batch": ("mlp", "batch", [32, 64, 128, 256, 512, 1024], {}, [64, 256, 1024]),
    "vit_batch": ("vit_tiny", "batch", [8, 16, 32, 64], {}, [8, 32, 64]),
    "attention": ("attention", "seq", [256, 512, 1024, 2048, 4096], {"batch": 1, "heads": 4, "head_dim": 64},
                  [512, 1024, 2048, 4096]),
    "lstm_steps": ("lstm_lm", "steps", [16, 32, 64, 128, 256], {"batch": 16}, [16, 64, 256]),
}


def _variants(sweep: str, libs: dict) -> list[tuple[str, dict, dict]]:
    """(label, libraries, extra sizes) measured at each point of a sweep."""
    if sweep != "attention":
        return [("", libs, {})]
    mg_only = {"minigrad": libs["minigrad"]}
    torch_only = {"torch": libs["torch"]} if "torch" in libs else {}
    variants = [("math", mg_only, {"backend": "MATH"}), ("flash", mg_only, {"backend": "FLASH_ATTENTION"})]
    return variants + ([("default", torch_only, {})] if torch_only else [])


def run_sweep(sweep: str, libs: dict, device: str, quick: bool, memory: bool) -> list[dict]:
    workload, key, values, fixed, quick_values = SWEEPS[sweep]
    rows = []
    for value in quick_values if quick else values:
        for label, chosen, extra in _variants(sweep, libs):
            sizes = {**fixed, key: value, **extra}
            times, _ = time_workload(workload, chosen, device, warmup=1, steps=4, rounds=2, sizes=sizes)
            for lib_name, ms in times.items():
                peak = measure_memory(lib_name, workload, device, sizes) if memory else None
                name = lib_name + (f" ({label})" if label else "")
                rows.append({"sweep": sweep, "workload": workload, "x": key, "value": value, "library": name,
                             "ms": ms, "peak_mb": peak})
                print(f"  {sweep:<11} {key}={value:<5} {name:<20} {ms:10.2f} ms   "
                      f"{'-' if peak is None else f'{peak:8.1f} MB'}", flush=True)
    return rows


def plot(rows: list, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweeps = list(dict.fromkeys(r["sweep"] for r in rows))
    fig, axes = plt.subplots(len(sweeps), 2, figsize=(10, 3.2 * len(sweeps)), squeeze=False)
    for row_axes, sweep in zip(axes, sweeps):
        points = [r for r in rows if r["sweep"] == sweep]
        for library in dict.fromkeys(r["library"] for r in points):
            mine = [r for r in points if r["library"] == library]
            xs = [r["value"] for r in mine]
            row_axes[0].plot(xs, [r["ms"] for r in mine], "o-", label=library)
            if all(r["peak_mb"] is not None for r in mine):
                row_axes[1].plot(xs, [max(r["peak_mb"], 0.1) for r in mine], "o-", label=library)
        for ax, ylabel in zip(row_axes, ("step time (ms)", "peak memory (MB)")):
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel(f"{points[0]['workload']}: {points[0]['x']}")
            ax.set_ylabel(ylabel)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    print(f"wrote {path}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only", default=",".join(SWEEPS), help=f"comma-separated sweeps: {', '.join(SWEEPS)}")
    parser.add_argument("--quick", action="store_true", help="two or three points per sweep")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--json", default="bench/results/scaling-cpu.json")
    parser.add_argument("--plot", default="bench/results/scaling-cpu.png")
    args = parser.parse_args(argv)
    libs = _libraries()
    rows = []
    for sweep in args.only.split(","):
        if sweep not in SWEEPS:
            parser.error(f"unknown sweep {sweep!r}; choose from {', '.join(SWEEPS)}")
        print(f"sweep {sweep} ...", flush=True)
        rows += run_sweep(sweep, libs, args.device, args.quick, not args.no_memory)
    if args.json:
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
        print(f"wrote {args.json}")
    if args.plot:
        plot(rows, args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
