"""The op-spec table: one row per op, gathered from the family modules beside this file.

Each family module (math.py, reduce.py, conv.py, ...) defines ``SPECS``, a list of
``minigrad.testing.opspec.OpSpec``. ``tests/test_op_specs.py`` runs every row through the generic
checks: forward vs NumPy, gradients vs finite differences, double backward (or a clear refusal),
inputs not mutated, graph freed, and PyTorch and GPU agreement where available.
"""

import importlib
import pkgutil

ALL_SPECS = []
for _module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if not _module.name.startswith("_"):
        ALL_SPECS += importlib.import_module(f"{__name__}.{_module.name}").SPECS

_names = [spec.name for spec in ALL_SPECS]
assert len(_names) == len(set(_names)), f"duplicate spec names: {sorted(n for n in _names if _names.count(n) > 1)}"
