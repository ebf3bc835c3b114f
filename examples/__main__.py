"""Run an example: ``python -m examples <name> [--preset smoke|cpu|gpu] [--device cpu|cuda] [--out DIR] [--seed N]``.

``python -m examples list`` lists them. Each example folder has a ``train.py`` defining
``DESCRIPTION``, ``PRESETS`` (smoke: seconds, for tests; cpu: the default, minutes on 2 cores;
gpu: bigger, for a GPU machine) and ``run(config, context) -> dict`` returning its headline
numbers, which are written to ``DIR/metrics.json`` with the final loss and wall time.
"""

from __future__ import annotations

import argparse
import sys

from .common.runner import available_examples, run_example


def main(argv=None) -> int:
    examples = available_examples()
    parser = argparse.ArgumentParser(prog="python -m examples", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", help="an example name, or 'list'")
    parser.add_argument("--preset", default="cpu", choices=["smoke", "cpu", "gpu"])
    parser.add_argument("--device", default=None, help="cpu or cuda (default: the preset's)")
    parser.add_argument("--out", default=None, help="output folder (default runs/<name>)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override preset settings")
    args = parser.parse_args(argv)
    if args.name == "list":
        width = max(len(n) for n in examples)
        for name, module in sorted(examples.items()):
            print(f"{name:<{width}}  {module.DESCRIPTION}")
        return 0
    if args.name not in examples:
        parser.error(f"unknown example {args.name!r}; run 'python -m examples list'")
    overrides = dict(item.split("=", 1) for item in args.set)
    run_example(args.name, preset=args.preset, device=args.device, out=args.out, seed=args.seed, overrides=overrides)
    return 0


if __name__ == "__main__":
    sys.exit(main())
