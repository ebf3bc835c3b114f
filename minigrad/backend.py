"""The one place that decides NumPy vs CuPy.

Every op in minigrad is written once against an array module ``xp``: NumPy for tensors on the CPU,
CuPy for tensors on a CUDA GPU. This module owns that choice, the ``device`` type, moving arrays
between devices, and the per-device random generators behind ``mg.manual_seed``.

CuPy is imported lazily, on the first request for a CUDA device, so importing minigrad never needs
a GPU and never pays for CuPy's start-up.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

_cupy = None  # the cupy module once imported, False if import failed
_cupy_error: str | None = None


def _import_cupy():
    global _cupy, _cupy_error
    if _cupy is None:
        try:
            import cupy

            cupy.cuda.runtime.getDeviceCount()
            _cupy = cupy
        except Exception as exc:  # ImportError, or a CUDA driver/runtime error
            _cupy = False
            _cupy_error = f"{type(exc).__name__}: {exc}"
    return _cupy or None


def cupy_module():
    """Return the ``cupy`` module, or raise a clear error saying why CUDA is unavailable."""
    cp = _import_cupy()
    if cp is None:
        raise RuntimeError(
            "CUDA was requested but is not available: "
            + (_cupy_error or "CuPy is not installed")
            + ". Install the 'cuda' extra (pip install -e .[cuda]) on a machine with an NVIDIA GPU."
        )
    return cp


class device:
    """A device a tensor lives on: ``device("cpu")``, ``device("cuda")``, ``device("cuda:1")``.

    Like ``torch.device``: ``.type`` is ``"cpu"`` or ``"cuda"`` and ``.index`` the GPU number
    (``None`` for the CPU; ``"cuda"`` alone means the current GPU, index 0 unless changed).
    """

    __slots__ = ("type", "index")

    def __new__(cls, spec: Any = "cpu", index: int | None = None):
        if isinstance(spec, device):
            return spec
        if isinstance(spec, int):
            spec, index = "cuda", spec
        if not isinstance(spec, str):
            raise TypeError(f"device() expects a string like 'cpu' or 'cuda:0', got {spec!r}")
        kind, _, idx = spec.partition(":")
        if kind not in ("cpu", "cuda"):
            raise ValueError(f"unknown device type {kind!r} in {spec!r}; expected 'cpu' or 'cuda[:N]'")
        if idx:
            if not idx.isdigit():
                raise ValueError(f"invalid device index in {spec!r}")
            index = int(idx)
        if kind == "cpu":
            if index not in (None, 0):
                raise ValueError(f"the CPU device has no index {index}")
            index = None
        elif index is None:
            index = 0
        key = (kind, index)
        cached = _DEVICES.get(key)
        if cached is not None:
            return cached
        self = object.__new__(cls)
        object.__setattr__(self, "type", kind)
        object.__setattr__(self, "index", index)
        _DEVICES[key] = self
        return self

    def __setattr__(self, name, value):
        raise AttributeError("device is immutable")

    def __repr__(self) -> str:
        return (
            f"device(type='{self.type}')" if self.index is None else f"device(type='{self.type}', index={self.index})"
        )

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and self.type == other.type and self.index == other.index

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (str(self),))


_DEVICES: dict[tuple[str, int | None], device] = {}
CPU = device("cpu")


def device_of(array) -> device:
    """The device an ``xp`` array lives on."""
    if type(array) is np.ndarray or isinstance(array, (np.ndarray, np.generic)):
        return CPU
    return device("cuda", array.device.id)


def get_array_module(array):
    """``numpy`` for host arrays, ``cupy`` for device arrays (DeZero's and Chainer's ``xp``)."""
    if type(array) is np.ndarray or isinstance(array, (np.ndarray, np.generic)):
        return np
    return cupy_module()


def xp_for(dev: device):
    """The array module that holds arrays on ``dev``."""
    return np if dev.type == "cpu" else cupy_module()


def is_cuda_array(array) -> bool:
    return not isinstance(array, (np.ndarray, np.generic)) and _cupy and isinstance(array, _cupy.ndarray)


class _on_device:
    """Context manager making ``dev`` the current CUDA device (a no-op for the CPU)."""

    def __init__(self, dev: device):
        self.ctx = cupy_module().cuda.Device(dev.index) if dev.type == "cuda" else None

    def __enter__(self):
        if self.ctx is not None:
            self.ctx.__enter__()

    def __exit__(self, *exc):
        if self.ctx is not None:
            self.ctx.__exit__(*exc)


def on_device(dev: device) -> _on_device:
    return _on_device(dev)


def to_device(array, dev: device):
    """Copy ``array`` to ``dev`` (no copy when it is already there)."""
    src = device_of(array)
    if src == dev:
        return array
    if dev.type == "cpu":
        return array.get()
    cp = cupy_module()
    _check_cuda_index(dev)
    with cp.cuda.Device(dev.index):
        return cp.asarray(array)


def _check_cuda_index(dev: device) -> None:
    count = cupy_module().cuda.runtime.getDeviceCount()
    if dev.index >= count:
        raise RuntimeError(f"{dev} requested but only {count} CUDA device(s) are visible")


# ----------------------------------------------------------------------------------------------
# Random generators
# ----------------------------------------------------------------------------------------------
class Generator:
    """A seeded source of random numbers on one device (``torch.Generator``'s role).

    On the CPU it wraps ``numpy.random.Generator`` (PCG64); on a GPU, CuPy's ``RandomState``.
    ``get_state``/``set_state`` let ``checkpoint`` replay the same dropout masks.
    """

    def __init__(self, device: Any = "cpu"):
        self.device = _as_device(device)
        self._seed = int(np.random.SeedSequence().entropy % (2**63))
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        if self.device.type == "cpu":
            self._rng = np.random.Generator(np.random.PCG64(self._seed))
        else:
            cp = cupy_module()
            with cp.cuda.Device(self.device.index):
                self._rng = cp.random.RandomState(self._seed)

    def manual_seed(self, seed: int) -> Generator:
        self._seed = int(seed) % (2**63)
        self._reset()
        return self

    def seed(self) -> int:
        """Reseed from fresh entropy and return the new seed."""
        self.manual_seed(np.random.SeedSequence().entropy % (2**63))
        return self._seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self):
        if self.device.type == "cpu":
            return self._rng.bit_generator.state
        raise NotImplementedError("get_state is not available for CUDA generators; use manual_seed")

    def set_state(self, state) -> None:
        if self.device.type != "cpu":
            raise NotImplementedError("set_state is not available for CUDA generators; use manual_seed")
        self._rng.bit_generator.state = state

    # Raw draws used by the creation ops; ``dtype`` is a NumPy dtype.
    def uniform(self, shape, dtype, low=0.0, high=1.0):
        if self.device.type == "cpu":
            if dtype in (np.float32, np.float64):
                out = self._rng.random(shape, dtype=dtype)
            else:
                out = self._rng.random(shape, dtype=np.float32).astype(dtype)
        else:
            out = self._rng.random_sample(shape, dtype=np.float32 if dtype != np.float64 else np.float64).astype(
                dtype, copy=False
            )
        if low != 0.0 or high != 1.0:
            out = out * (high - low) + low
            out = out.astype(dtype, copy=False)
        return out

    def normal(self, shape, dtype, mean=0.0, std=1.0):
        if self.device.type == "cpu":
            if dtype in (np.float32, np.float64):
                out = self._rng.standard_normal(shape, dtype=dtype)
            else:
                out = self._rng.standard_normal(shape, dtype=np.float32).astype(dtype)
        else:
            out = self._rng.standard_normal(shape, dtype=np.float32 if dtype != np.float64 else np.float64).astype(
                dtype, copy=False
            )
        if mean != 0.0 or std != 1.0:
            out = (out * std + mean).astype(dtype, copy=False)
        return out

    def integers(self, low, high, shape, dtype):
        if self.device.type == "cpu":
            return self._rng.integers(low, high, size=shape, dtype=dtype)
        return self._rng.randint(low, high, size=shape, dtype=dtype)

    def permutation(self, n: int):
        if self.device.type == "cpu":
            return self._rng.permutation(n).astype(np.int64)
        return self._rng.permutation(n).astype(np.int64)

    def __repr__(self) -> str:
        return f"Generator(device='{self.device}', seed={self._seed})"


def _as_device(spec) -> device:
    return spec if isinstance(spec, device) else device(spec)


_default_generators: dict[device, Generator] = {}
_initial_seed: int | None = None


def default_generator(dev: device = CPU) -> Generator:
    """The process-wide generator for ``dev``, created on first use."""
    gen = _default_generators.get(dev)
    if gen is None:
        gen = Generator(dev)
        if _initial_seed is not None:
            gen.manual_seed(_initial_seed + (0 if dev.index is None else dev.index + 1))
        _default_generators[dev] = gen
    return gen


def manual_seed(seed: int) -> Generator:
    """Seed the CPU generator and every CUDA generator (those made later too), like ``torch.manual_seed``."""
    global _initial_seed
    _initial_seed = int(seed)
    for dev, gen in _default_generators.items():
        gen.manual_seed(_initial_seed + (0 if dev.index is None else dev.index + 1))
    return default_generator(CPU)


def initial_seed() -> int:
    return default_generator(CPU).initial_seed()


# ----------------------------------------------------------------------------------------------
# mg.cuda
# ----------------------------------------------------------------------------------------------
def cuda_is_available() -> bool:
    return _import_cupy() is not None


def cuda_device_count() -> int:
    cp = _import_cupy()
    return 0 if cp is None else cp.cuda.runtime.getDeviceCount()


def cuda_synchronize(dev: Any = None) -> None:
    cp = cupy_module()
    index = 0 if dev is None else _as_device(dev).index
    with cp.cuda.Device(index):
        cp.cuda.Device(index).synchronize()


def scipy_special(array):
    """``scipy.special`` for host arrays, ``cupyx.scipy.special`` for device arrays (erf, gammaln ...)."""
    if isinstance(array, (np.ndarray, np.generic)):
        import scipy.special

        return scipy.special
    cupy_module()
    import cupyx.scipy.special

    return cupyx.scipy.special
