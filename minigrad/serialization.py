"""Checkpoints: ``mg.save(obj, path)`` and ``mg.load(path)`` in the ``.safetensors`` and ``.npz`` formats.

What can be saved: a Tensor, a state dict (``model.state_dict()``), and nested containers of
tensors and plain values such as an optimizer's state dict (``{'state': {0: {'step': ...,
'exp_avg': Tensor}}, 'param_groups': [...]}``) or a whole training checkpoint
(``{'model': ..., 'optimizer': ..., 'epoch': 3}``). ``load`` gives back the same structure: dict
key types and order, tuples versus lists, ints versus floats, ``requires_grad`` and ``Parameter``.
Nothing is pickled, so loading a file never runs code from it.

The format is picked by the file extension.

``.safetensors`` (https://github.com/huggingface/safetensors) is written byte for byte as the
reference library writes it: 8 bytes of header length N (unsigned, little-endian), N bytes of
compact JSON header padded with spaces to a multiple of 8, then the raw little-endian, C-ordered
tensor data without holes. The header lists ``__metadata__`` first, then the tensors sorted by
dtype (widest first) and then by name, each as ``{"dtype", "shape", "data_offsets": [begin, end]}``
with offsets into the data section. A plain state dict is therefore an ordinary safetensors file:
``safetensors.torch.load_file`` reads it under the same keys, and files written by torch load here.

``.npz`` is NumPy's zip of ``.npy`` arrays, one per tensor, plus a ``__minigrad__`` uint8 array
holding the structure document below (bfloat16 is stored as its uint16 bits, since ``.npy`` has no
bfloat16).

**How a structure is flattened.** Every tensor becomes one entry named by its path, the keys joined
with dots: ``fc1.weight`` in a state dict, ``optimizer.state.0.exp_avg`` in a checkpoint, ``tensor``
for a lone tensor. The names are only labels (a rare collision gets a ``~1`` suffix); the structure
document says where each one goes: the JSON ``{"format": "1", "structure": node}``, stored in
``__metadata__["minigrad"]`` for safetensors. Each value becomes one node:

======================================  =================================================
value                                   node
======================================  =================================================
``None``, bool, int, str, finite float  itself
list                                    a JSON list of nodes
tuple                                   ``{"type": "tuple", "items": [node, ...]}``
dict / OrderedDict                      ``{"type": "dict" | "ordered_dict", "items": [[key node, node], ...]}``
nan / inf / -inf                        ``{"type": "float", "value": "nan" | "inf" | "-inf"}``
NumPy scalar                            ``{"type": "scalar", "dtype": "float32", "value": node}``
Tensor                                  ``{"type": "tensor", "name": entry}``, plus ``"requires_grad": true``,
                                        ``"parameter": true``, ``"device": "cuda:0"`` when they apply
NumPy/CuPy array                        ``{"type": "array", "name": entry}`` (loaded back as an array)
``mg.dtype`` / ``mg.device``            ``{"type": "dtype" | "device", "value": "float32" | "cuda:0"}``
======================================  =================================================

A safetensors or npz file without this document (written by another program) loads as a dict of
tensors in the file's order.

**Writes are atomic**: the file is written under a temporary name in the target's directory,
flushed and fsynced, then renamed over the target, so a crash leaves the old file intact and never
a partial one. **Reads are checked**: a truncated or corrupt file (impossible header length, bad
JSON, offsets that overlap, leave holes or run past the end, an unknown dtype, a broken structure)
raises ``RuntimeError`` naming the file and the problem before anything is returned.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import sys
import zipfile
import zlib
from collections import OrderedDict
from typing import Any

import numpy as np

from . import backend, dtypes
from .tensor import Tensor

__all__ = ["save", "load"]

FORMAT_VERSION = "1"
_METADATA_KEY = "minigrad"  # safetensors: __metadata__["minigrad"] holds the structure document
_NPZ_STRUCTURE = "__minigrad__"  # npz: the document as a uint8 array under this name
_MAX_HEADER = 100_000_000  # the reference reader's limit on the JSON header

# safetensors dtype codes in the reference implementation's order (narrowest first); the writer
# lays tensors out widest first so every tensor is aligned, as the reference does.
_SAFETENSORS_RANK = [
    "BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0",
    "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "C64", "F64", "I64", "U64",
]  # fmt: skip
_RANK = {code: i for i, code in enumerate(_SAFETENSORS_RANK)}
_CODE_OF = {
    np.dtype(np.bool_): "BOOL",
    np.dtype(np.uint8): "U8",
    np.dtype(np.int8): "I8",
    np.dtype(np.int16): "I16",
    np.dtype(np.uint16): "U16",
    np.dtype(np.float16): "F16",
    np.dtype(np.int32): "I32",
    np.dtype(np.uint32): "U32",
    np.dtype(np.float32): "F32",
    np.dtype(np.float64): "F64",
    np.dtype(np.int64): "I64",
    np.dtype(np.uint64): "U64",
}
_BF16 = dtypes.bfloat16.numpy  # None without ml_dtypes (careful: NumPy says np.dtype("f8") == None)
if _BF16 is not None:
    _CODE_OF[_BF16] = "BF16"
_DTYPE_OF = {code: dt for dt, code in _CODE_OF.items()}


# ----------------------------------------------------------------------------------------------
# Public functions
# ----------------------------------------------------------------------------------------------
def save(obj: Any, f: str | os.PathLike) -> None:
    """Save a tensor, a state dict or nested containers of them to ``f`` (``torch.save``).

    The format follows the extension: ``.safetensors`` (readable by the safetensors library and
    torch) or ``.npz``. The write is atomic: ``f`` is either the complete new file or untouched.
    """
    path = _check_path(f, "save")
    writer = _WRITERS[_format_of(path, "save")]
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"mg.save: the directory {directory!r} does not exist")
    if os.path.isdir(path):
        raise IsADirectoryError(f"mg.save: {path!r} is a directory")
    flat = _Flattener()
    structure = flat.encode(obj, [])  # every error about obj is raised here, before any I/O
    writer(path, structure, flat.entries)


def load(f: str | os.PathLike, map_location=None, weights_only: bool | None = None) -> Any:
    """Load what ``save`` wrote (or any safetensors/npz file) from ``f`` (``torch.load``).

    ``map_location`` moves tensors: a device (``"cpu"``, ``mg.device("cuda:1")``), a dict mapping
    saved device names to new ones (``{"cuda:0": "cpu"}``), or a function
    ``fn(tensor, saved_device_name)`` returning the tensor to use (``None`` keeps the default).
    By default tensors return to the device they were saved from. ``weights_only`` is accepted for
    torch compatibility: minigrad files hold only data, never code.
    """
    path = _check_path(f, "load")
    _check_map_location(map_location)
    reader = _READERS[_format_of(path, "load")]
    if not os.path.exists(path):
        raise FileNotFoundError(f"mg.load: no such file: {path!r}")
    structure, arrays = reader(path)
    return _Builder(arrays, map_location, path).build(structure)


# ----------------------------------------------------------------------------------------------
# Paths and formats
# ----------------------------------------------------------------------------------------------
def _check_path(f, what: str) -> str:
    if isinstance(f, (str, os.PathLike)):
        return os.fspath(f)
    raise TypeError(
        f"mg.{what} expects a file path (str or os.PathLike), got {type(f).__name__}; "
        "file objects are not supported because writes are made atomic by renaming a finished file"
    )


def _format_of(path: str, what: str) -> str:
    lower = path.lower()
    for extension in (".safetensors", ".npz"):
        if lower.endswith(extension):
            return extension
    raise ValueError(f"mg.{what}: cannot tell the format of {path!r}; use a .safetensors or .npz extension")


def _fail(path: str, problem: str) -> RuntimeError:
    return RuntimeError(f"mg.load: {path!r} is not a valid checkpoint: {problem}")


@contextlib.contextmanager
def _atomic_write(path: str):
    """Open a temporary file next to ``path`` for writing; on success fsync it and rename it onto ``path``."""
    directory = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    # os.open with mode 0o666 lets the umask decide the permissions, as for any new file
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------------------------
# Flattening a structure into entries + a JSON document
# ----------------------------------------------------------------------------------------------
class _Entry:
    """One tensor or array to write: its name and array (possibly on a GPU)."""

    __slots__ = ("name", "array", "node")

    def __init__(self, name: str, array, node: dict):
        self.name = name
        self.array = array
        self.node = node  # the structure node naming this entry (the npz writer tags bfloat16 on it)

    def host_array(self) -> np.ndarray:
        """The data as a C-contiguous little-endian NumPy array."""
        array = backend.to_device(self.array, backend.CPU) if backend.is_cuda_array(self.array) else self.array
        if not array.flags.c_contiguous:
            array = array.copy(order="C")
        if array.dtype.byteorder == ">" or (array.dtype.byteorder == "=" and sys.byteorder == "big"):
            array = array.astype(array.dtype.newbyteorder("<"))
        return array


class _Flattener:
    """Turns a value into a structure node, collecting tensors and arrays as named entries."""

    def __init__(self):
        self.entries: dict[str, _Entry] = {}

    def encode(self, obj, path: list):
        if isinstance(obj, Tensor):
            return self._tensor(obj, path)
        if isinstance(obj, np.ndarray) or backend.is_cuda_array(obj):
            return self._add({"type": "array"}, obj, path)
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return int(obj)  # an IntEnum or other int subclass is saved as its value
        if isinstance(obj, float):
            return _float_node(obj)
        if isinstance(obj, np.generic) and obj.dtype.name in _SCALAR_TYPES:
            return {"type": "scalar", "dtype": obj.dtype.name, "value": self.encode(obj.item(), path)}
        if isinstance(obj, dtypes.dtype):
            return {"type": "dtype", "value": obj.name}
        if isinstance(obj, backend.device):
            return {"type": "device", "value": str(obj)}
        if isinstance(obj, list):
            return [self.encode(value, path + [str(i)]) for i, value in enumerate(obj)]
        if isinstance(obj, tuple):
            return {"type": "tuple", "items": [self.encode(value, path + [str(i)]) for i, value in enumerate(obj)]}
        if isinstance(obj, dict):
            kind = "ordered_dict" if isinstance(obj, OrderedDict) else "dict"
            items = [[_key_node(key, path), self.encode(value, path + [str(key)])] for key, value in obj.items()]
            return {"type": kind, "items": items}
        raise TypeError(
            f"mg.save: cannot save a value of type {type(obj).__name__} at {_where(path)}; supported are tensors, "
            "arrays, dicts, lists, tuples, str, int, float, bool, None, NumPy scalars, dtypes and devices"
        )

    def _tensor(self, t: Tensor, path: list) -> dict:
        if t.requires_grad and t.grad_fn is not None:
            raise RuntimeError(
                f"mg.save: refusing to save the non-leaf tensor at {_where(path)}, which requires grad "
                f"(produced by {t.grad_fn.name()}): its graph cannot be saved. Save t.detach() instead."
            )
        if t.dtype.numpy is None or t._data.dtype not in _CODE_OF:
            raise TypeError(f"mg.save: tensors of dtype {t.dtype} cannot be saved (at {_where(path)})")
        node = self._add({"type": "tensor"}, t._data, path or ["tensor"])
        if t.requires_grad:
            node["requires_grad"] = True
        if _is_parameter(t):
            node["parameter"] = True
        if t.device.type != "cpu":
            node["device"] = str(t.device)
        return node

    def _add(self, node: dict, array, path: list) -> dict:
        """Name ``array`` after its path (unique among the entries) and record it; return ``node`` naming it."""
        if array.dtype not in _CODE_OF:
            raise TypeError(f"mg.save: arrays of dtype {array.dtype} cannot be saved (at {_where(path)})")
        base = ".".join(path) if path else "array"
        name, suffix = base, 0
        while name in self.entries or name in ("__metadata__", _NPZ_STRUCTURE):
            suffix += 1
            name = f"{base}~{suffix}"
        node["name"] = name
        self.entries[name] = _Entry(name, array, node)
        return node


def _float_node(value: float):
    if math.isfinite(value):
        return value
    return {"type": "float", "value": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}


def _key_node(key, path: list):
    """Dict keys keep their type: ints stay ints (an optimizer's ``state`` is keyed by parameter index)."""
    if key is None or isinstance(key, (bool, str, int)):
        return key
    if isinstance(key, float):
        return _float_node(key)
    if isinstance(key, tuple):
        return {"type": "tuple", "items": [_key_node(k, path) for k in key]}
    raise TypeError(
        f"mg.save: cannot save a dict key of type {type(key).__name__} at {_where(path)} "
        "(keys must be str, int, float, bool, None or tuples of those)"
    )


def _where(path: list) -> str:
    return "'" + ".".join(path) + "'" if path else "the top level"


def _is_parameter(t: Tensor) -> bool:
    from .nn.parameter import Parameter

    return isinstance(t, Parameter)


# ----------------------------------------------------------------------------------------------
# .safetensors
# ----------------------------------------------------------------------------------------------
def _write_safetensors(path: str, structure, entries: dict) -> None:
    order = sorted(entries.values(), key=lambda e: (-_RANK[_CODE_OF[e.array.dtype]], e.name))
    header: dict = {"__metadata__": {_METADATA_KEY: _document(structure)}}
    offset = 0
    for entry in order:
        nbytes = int(entry.array.size) * entry.array.dtype.itemsize
        header[entry.name] = {
            "dtype": _CODE_OF[entry.array.dtype],
            "shape": [int(n) for n in entry.array.shape],
            "data_offsets": [offset, offset + nbytes],
        }
        offset += nbytes
    encoded = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)  # pad so the data section starts 8-byte aligned
    if len(encoded) > _MAX_HEADER:
        raise ValueError(f"mg.save: the safetensors header would be {len(encoded)} bytes, over the 100 MB limit")
    with _atomic_write(path) as file:
        file.write(len(encoded).to_bytes(8, "little"))
        file.write(encoded)
        for entry in order:
            _write_array_bytes(file, entry.host_array())


def _write_array_bytes(file, array: np.ndarray) -> None:
    if array.size:
        file.write(array.reshape(-1).view(np.uint8))


def _read_safetensors(path: str):
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        length, header = _read_header(file, size, path)
        data_start = 8 + length
        entries = _check_entries(header, size - data_start, path)
        arrays = {}
        for name, (code, shape, begin, end) in entries.items():
            arrays[name] = _read_array(file, data_start + begin, end - begin, code, shape, name, path)
    structure = _structure_from_metadata(header.get("__metadata__"), path)
    if structure is None:
        structure = {"type": "dict", "items": [[name, {"type": "tensor", "name": name}] for name in arrays]}
    return structure, arrays


def _read_header(file, size: int, path: str) -> tuple[int, dict]:
    if size < 8:
        raise _fail(path, f"the file has only {size} bytes, too short for the 8-byte header length of safetensors")
    length = int.from_bytes(file.read(8), "little")
    if length > _MAX_HEADER:
        raise _fail(path, f"the header length field says {length} bytes, over the 100 MB limit (corrupt?)")
    if 8 + length > size:
        raise _fail(
            path, f"the header length field says {length} bytes but only {size - 8} bytes follow it (truncated?)"
        )
    raw = file.read(length)
    if not raw.startswith(b"{"):
        raise _fail(path, "the JSON header does not start with '{'")
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, ValueError) as error:
        raise _fail(path, f"the header is not valid JSON ({error})") from None
    if not isinstance(header, dict):
        raise _fail(path, "the header is not a JSON object")
    return length, header


def _unique_keys(pairs: list) -> dict:
    out = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _check_entries(header: dict, data_size: int, path: str) -> dict:
    """Validate every tensor description; return name -> (code, shape, begin, end) in header order."""
    entries = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise _fail(path, f"tensor {name!r} must be described by exactly 'dtype', 'shape' and 'data_offsets'")
        code, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if code not in _RANK:
            raise _fail(path, f"tensor {name!r} has unknown dtype {code!r}")
        if not isinstance(shape, list) or not all(_is_count(n) for n in shape):
            raise _fail(path, f"tensor {name!r} has an invalid shape {shape!r}")
        if not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_count(n) for n in offsets):
            raise _fail(path, f"tensor {name!r} has invalid data_offsets {offsets!r}")
        begin, end = offsets
        if begin > end:
            raise _fail(path, f"tensor {name!r} has data_offsets [{begin}, {end}] that end before they begin")
        if end > data_size:
            raise _fail(
                path, f"tensor {name!r} has data_offsets [{begin}, {end}] past the end of the {data_size}-byte data "
                "section (truncated file?)"
            )
        itemsize = _itemsize(code)
        expected = math.prod(shape) * itemsize if itemsize is not None else None
        if expected is not None and end - begin != expected:
            raise _fail(
                path, f"tensor {name!r} of dtype {code} and shape {tuple(shape)} needs {expected} bytes but its "
                f"data_offsets [{begin}, {end}] span {end - begin}"
            )
        entries[name] = (code, tuple(shape), begin, end)
    _check_layout(entries, data_size, path)
    return entries


def _check_layout(entries: dict, data_size: int, path: str) -> None:
    """The data section must be covered exactly once: no overlap, no hole, nothing left over."""
    position, previous = 0, None
    for name, (_, _, begin, end) in sorted(entries.items(), key=lambda item: item[1][2:]):
        if begin < position:
            raise _fail(path, f"the data of tensors {previous!r} and {name!r} overlap")
        if begin > position:
            raise _fail(path, f"bytes {position} to {begin} of the data belong to no tensor (a hole before {name!r})")
        position, previous = end, name
    if position != data_size:
        raise _fail(path, f"the data section has {data_size - position} bytes after the last tensor")


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _itemsize(code: str) -> int | None:
    dt = _DTYPE_OF.get(code)
    if dt is not None:
        return dt.itemsize
    return {"BF16": 2, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1, "C64": 8}.get(code)  # None: sub-byte types


def _read_array(file, start: int, nbytes: int, code: str, shape: tuple, name: str, path: str) -> np.ndarray:
    dt = _DTYPE_OF.get(code)
    if dt is None:
        if code == "BF16":
            raise _fail(path, f"tensor {name!r} is bfloat16, which needs the 'ml_dtypes' package (pip install it)")
        raise _fail(path, f"tensor {name!r} has dtype {code}, which minigrad does not support")
    little = dt.newbyteorder("<") if dt.itemsize > 1 else dt
    array = np.empty(shape, dtype=little)
    if nbytes:
        file.seek(start)
        if file.readinto(array.reshape(-1).view(np.uint8)) != nbytes:
            raise _fail(path, f"the data of tensor {name!r} ends early (the file changed while being read?)")
    return array if little == dt else array.astype(dt)


def _structure_from_metadata(metadata, path: str):
    if metadata is None:
        return None
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise _fail(path, "__metadata__ must map strings to strings")
    if _METADATA_KEY not in metadata:
        return None
    return _parse_document(metadata[_METADATA_KEY].encode("utf-8"), path)


def _parse_document(raw: bytes, path: str):
    """The structure from a ``{"format": "1", "structure": ...}`` document."""
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise _fail(path, f"the minigrad structure document is not valid JSON ({error})") from None
    if not isinstance(document, dict) or "structure" not in document:
        raise _fail(path, "the minigrad structure document has no 'structure'")
    version = document.get("format")
    if version != FORMAT_VERSION:
        raise _fail(path, f"it uses minigrad checkpoint format {version!r}; this version reads format {FORMAT_VERSION}")
    return document["structure"]


# ----------------------------------------------------------------------------------------------
# .npz
# ----------------------------------------------------------------------------------------------
def _document(structure) -> str:
    return json.dumps({"format": FORMAT_VERSION, "structure": structure}, separators=(",", ":"))


def _write_npz(path: str, structure, entries: dict) -> None:
    with _atomic_write(path) as file, zipfile.ZipFile(file, mode="w", compression=zipfile.ZIP_STORED) as archive:
        for entry in entries.values():
            array = entry.host_array()
            if _BF16 is not None and array.dtype == _BF16:  # .npy cannot describe bfloat16: store its bits
                array = array.view(np.uint16)
                entry.node["dtype"] = "bfloat16"
            _write_npy(archive, entry.name, array)
        text = _document(structure).encode("utf-8")  # after the loop, which may tag bfloat16 nodes
        _write_npy(archive, _NPZ_STRUCTURE, np.frombuffer(text, dtype=np.uint8))


def _write_npy(archive: zipfile.ZipFile, name: str, array: np.ndarray) -> None:
    with archive.open(name + ".npy", mode="w", force_zip64=True) as member:
        np.lib.format.write_array(member, array, allow_pickle=False)


def _read_npz(path: str):
    arrays = {}
    with open(path, "rb") as file:  # opened first: a missing or unreadable file is not a format error
        try:
            with zipfile.ZipFile(file) as archive:
                for member in archive.namelist():
                    if not member.endswith(".npy"):
                        raise _fail(path, f"member {member!r} is not a .npy array")
                    with archive.open(member) as stream:
                        arrays[member[: -len(".npy")]] = np.lib.format.read_array(stream, allow_pickle=False)
        except zipfile.BadZipFile as error:
            raise _fail(path, f"it is not a readable .npz (zip) file ({error})") from None
        except (ValueError, EOFError, OSError, zlib.error) as error:
            raise _fail(path, f"an array in the .npz cannot be read ({error})") from None
    document = arrays.pop(_NPZ_STRUCTURE, None)
    if document is None:
        structure = {"type": "dict", "items": [[name, {"type": "tensor", "name": name}] for name in arrays]}
        return structure, arrays
    if document.dtype != np.uint8 or document.ndim != 1:
        raise _fail(path, f"the {_NPZ_STRUCTURE} entry is not a 1-D uint8 array")
    return _parse_document(document.tobytes(), path), arrays


_SCALAR_TYPES = {np.dtype(t).name for t in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
                                             np.uint32, np.uint64, np.float16, np.float32, np.float64)}
_WRITERS = {".safetensors": _write_safetensors, ".npz": _write_npz}
_READERS = {".safetensors": _read_safetensors, ".npz": _read_npz}


# ----------------------------------------------------------------------------------------------
# Rebuilding values from a structure
# ----------------------------------------------------------------------------------------------
def _check_map_location(map_location) -> None:
    if map_location is None or callable(map_location) or isinstance(map_location, (str, backend.device)):
        return
    if isinstance(map_location, dict):
        for key, value in map_location.items():
            if not isinstance(key, str) or not isinstance(value, (str, backend.device)):
                raise TypeError("mg.load: a map_location dict maps saved device names (str) to devices")
        return
    raise TypeError(f"mg.load: map_location must be a device, a dict or a function, got {type(map_location).__name__}")


class _Builder:
    """Checks a structure document against the loaded arrays and rebuilds the saved value."""

    def __init__(self, arrays: dict, map_location, path: str):
        self.arrays = arrays
        self.map_location = map_location
        self.path = path

    def build(self, structure):
        self._check(structure, depth=0)  # a broken document fails here, before any tensor is made
        return self._build(structure)

    def _bad(self, problem: str) -> RuntimeError:
        return _fail(self.path, f"the minigrad structure document is corrupt: {problem}")

    def _check(self, node, depth: int) -> None:
        if depth > 100:
            raise self._bad("it is nested more than 100 levels deep")
        if node is None or isinstance(node, (bool, int, float, str)):
            return
        if isinstance(node, list):
            for item in node:
                self._check(item, depth + 1)
            return
        if not isinstance(node, dict):
            raise self._bad(f"unexpected node {node!r}")
        kind = node.get("type")
        if kind in ("tensor", "array"):
            self._check_array_node(node, kind)
        elif kind in ("tuple", "dict", "ordered_dict"):
            items = node.get("items")
            if not isinstance(items, list):
                raise self._bad(f"a {kind} node without an 'items' list")
            for item in items:
                if kind == "tuple":
                    self._check(item, depth + 1)
                    continue
                if not (isinstance(item, list) and len(item) == 2):
                    raise self._bad(f"a {kind} item is not a [key, value] pair")
                key = item[0]
                if isinstance(key, list) or (isinstance(key, dict) and key.get("type") not in ("tuple", "float")):
                    raise self._bad(f"a {kind} key cannot be {key!r}")
                self._check(key, depth + 1)
                self._check(item[1], depth + 1)
        elif kind == "float":
            if node.get("value") not in ("nan", "inf", "-inf"):
                raise self._bad(f"bad float value {node.get('value')!r}")
        elif kind == "scalar":
            name = node.get("dtype")
            if not isinstance(name, str) or name not in _SCALAR_TYPES:
                raise self._bad(f"unknown scalar dtype {name!r}")
            self._check(node.get("value"), depth + 1)
        elif kind == "dtype":
            if node.get("value") not in dtypes._NAMES:
                raise self._bad(f"unknown dtype {node.get('value')!r}")
        elif kind == "device":
            self._device(node.get("value"))
        else:
            raise self._bad(f"unknown node type {kind!r}")

    def _check_array_node(self, node: dict, kind: str) -> None:
        name = node.get("name")
        if not isinstance(name, str) or name not in self.arrays:
            raise self._bad(f"it refers to a tensor {name!r} the file does not contain")
        array = self.arrays[name]
        tag = node.get("dtype")
        if tag is not None:
            if tag != "bfloat16" or array.dtype != np.uint16:
                raise self._bad(f"unexpected dtype tag {tag!r} on {name!r} (an array of {array.dtype})")
            if _BF16 is None:
                raise _fail(self.path, f"tensor {name!r} is bfloat16, which needs the 'ml_dtypes' package")
        elif kind == "tensor" and array.dtype not in dtypes._FROM_NUMPY:
            raise _fail(self.path, f"tensor {name!r} has dtype {array.dtype}, which minigrad tensors do not support")
        if node.get("requires_grad") and tag is None and array.dtype.kind != "f":
            raise self._bad(f"the non-float tensor {name!r} is marked requires_grad")
        saved = self._device(node.get("device", "cpu"))
        if callable(self.map_location):
            return  # the function decides where each tensor goes
        target = self._target(str(saved))
        if backend.device(target).type == "cuda" and not backend.cuda_is_available():
            raise RuntimeError(
                f"mg.load: {self.path!r} holds a tensor saved on {saved}, but CUDA is not available here; "
                "pass map_location='cpu' to load it onto the CPU"
            )

    def _device(self, name) -> backend.device:
        if not isinstance(name, str):
            raise self._bad(f"bad device {name!r}")
        try:
            return backend.device(name)
        except (TypeError, ValueError, RuntimeError):
            raise self._bad(f"bad device {name!r}") from None

    def _target(self, saved: str):
        location = self.map_location
        if isinstance(location, dict):
            return location.get(saved, saved)
        return saved if location is None else location

    def _build(self, node):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self._build(item) for item in node]
        kind = node["type"]
        if kind == "tensor":
            return self._tensor(node)
        if kind == "array":
            return self._array(node)
        if kind == "tuple":
            return tuple(self._build(item) for item in node["items"])
        if kind in ("dict", "ordered_dict"):
            out = OrderedDict() if kind == "ordered_dict" else {}
            for key, value in node["items"]:
                key, value = self._build(key), self._build(value)
                try:
                    out[key] = value
                except TypeError:
                    raise self._bad(f"the dict key {key!r} is not hashable") from None
            return out
        if kind == "float":
            return float(node["value"])
        if kind == "scalar":
            return np.dtype(node["dtype"]).type(self._build(node["value"]))
        if kind == "dtype":
            return dtypes._NAMES[node["value"]]
        return backend.device(node["value"])

    def _array(self, node: dict):
        array = self.arrays[node["name"]]
        if node.get("dtype") == "bfloat16":
            array = array.view(_BF16)
        return array

    def _tensor(self, node: dict) -> Tensor:
        array = self._array(node)
        saved = node.get("device", "cpu")
        tensor = Tensor._make(array, None, 0, False, None)
        target = saved
        if callable(self.map_location):
            moved = self.map_location(tensor, saved)
            if moved is not None:
                if not isinstance(moved, Tensor):
                    raise TypeError(f"mg.load: map_location returned {type(moved).__name__}, expected a Tensor or None")
                tensor, target = moved, None
        else:
            target = self._target(saved)
        if target is not None:
            target = backend.device(target)
            if target.type != "cpu":
                tensor = Tensor._make(backend.to_device(array, target), None, 0, False, None)
        if node.get("parameter"):
            from .nn.parameter import Parameter

            return Parameter(tensor, requires_grad=bool(node.get("requires_grad")))
        if node.get("requires_grad"):
            tensor.requires_grad_(True)
        return tensor
