"""mg.save / mg.load: round trips, the safetensors byte format, atomic writes and corrupt files."""

import json
import math
import os
from collections import OrderedDict

import numpy as np
import pytest
from conftest import torch

import minigrad as mg
import minigrad.nn as nn
from minigrad import serialization

try:
    import safetensors.numpy as st_numpy
except ImportError:  # the safetensors package is optional: the format is written by minigrad itself
    st_numpy = None

needs_safetensors = pytest.mark.skipif(st_numpy is None, reason="the safetensors package is not installed")
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")
FORMATS = ["safetensors", "npz"]


def _mlp():
    return nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 3))


def _assert_same_tensor(actual, expected):
    assert isinstance(actual, mg.Tensor)
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(actual.detach().numpy(), expected.detach().numpy())


def _header(path):
    raw = open(path, "rb").read()
    length = int.from_bytes(raw[:8], "little")
    return raw, length, json.loads(raw[8 : 8 + length])


def _rewrite(path, header, data=None, pad=True):
    """A hand-made safetensors file with ``header`` (a dict) and ``data`` bytes."""
    raw, length, _ = _header(path)
    data = raw[8 + length :] if data is None else data
    text = json.dumps(header).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text + data)


# ----- round trips ---------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_state_dict_round_trip_keeps_keys_order_dtypes_and_values(tmp_path, fmt):
    sd = OrderedDict(
        [
            ("z.weight", mg.randn(3, 4)),
            ("a.bias", mg.randn(3, dtype=mg.float64)),
            ("count", mg.tensor(7)),
            ("mask", mg.tensor([True, False, True])),
            ("half", mg.randn(2, 2).half()),
            ("small", mg.tensor([1, -2], dtype=mg.int8)),
            ("bytes", mg.tensor([255, 0], dtype=mg.uint8)),
            ("i16", mg.tensor([300], dtype=mg.int16)),
            ("i32", mg.tensor([[1, 2]], dtype=mg.int32)),
            ("empty", mg.zeros(0, 5)),
            ("scalar", mg.tensor(2.5)),
        ]
    )
    path = tmp_path / f"sd.{fmt}"
    mg.save(sd, path)
    loaded = mg.load(path)
    assert type(loaded) is OrderedDict
    assert list(loaded) == list(sd)
    for key in sd:
        _assert_same_tensor(loaded[key], sd[key])


@pytest.mark.parametrize("fmt", FORMATS)
def test_single_tensor_round_trip_keeps_requires_grad_and_parameter(tmp_path, fmt):
    x = mg.randn(2, 3, requires_grad=True)
    mg.save(x, tmp_path / f"x.{fmt}")
    y = mg.load(tmp_path / f"x.{fmt}")
    _assert_same_tensor(y, x)
    assert y.requires_grad and y.is_leaf and not isinstance(y, nn.Parameter)

    p = nn.Parameter(mg.randn(4))
    mg.save({"p": p}, tmp_path / f"p.{fmt}")
    q = mg.load(tmp_path / f"p.{fmt}")["p"]
    assert isinstance(q, nn.Parameter) and q.requires_grad
    _assert_same_tensor(q, p)


@pytest.mark.parametrize("fmt", FORMATS)
def test_nested_checkpoint_round_trip_is_faithful(tmp_path, fmt):
    model = _mlp()
    optimizer_state = {
        "state": {
            0: {"step": mg.tensor(3.0), "exp_avg": mg.randn(8, 4), "exp_avg_sq": mg.rand(8, 4)},
            1: {"step": 3, "momentum_buffer": None},
        },
        "param_groups": [
            {
                "lr": 1e-3,
                "betas": (0.9, 0.999),
                "eps": 1e-8,
                "weight_decay": 0,
                "amsgrad": False,
                "foreach": None,
                "params": [0, 1, 2, 3],
                "initial_lr": float("inf"),
                "limit": float("-inf"),
                "nan": float("nan"),
            }
        ],
    }
    checkpoint = {
        "model": model.state_dict(),
        "optimizer": optimizer_state,
        "epoch": 5,
        "name": "run-1",
        "scale": np.float32(0.25),
        "rng": np.arange(4, dtype=np.uint32),
        "dtype": mg.float16,
        "device": mg.device("cpu"),
        "keys": {(1, "a"): "tuple key", 2.5: "float key", None: "none", True: "bool"},
        "nested": [[], (), {}, [mg.ones(2)]],
    }
    path = tmp_path / f"ckpt.{fmt}"
    mg.save(checkpoint, path)
    out = mg.load(path)

    assert list(out) == list(checkpoint)
    assert list(out["model"]) == list(checkpoint["model"])
    for key, value in checkpoint["model"].items():
        _assert_same_tensor(out["model"][key], value)
    state = out["optimizer"]["state"]
    assert list(state) == [0, 1]  # int keys stay ints
    _assert_same_tensor(state[0]["exp_avg"], optimizer_state["state"][0]["exp_avg"])
    _assert_same_tensor(state[0]["step"], optimizer_state["state"][0]["step"])
    assert state[1] == {"step": 3, "momentum_buffer": None}
    group, saved_group = out["optimizer"]["param_groups"][0], optimizer_state["param_groups"][0]
    assert group["betas"] == (0.9, 0.999) and isinstance(group["betas"], tuple)
    assert group["weight_decay"] == 0 and type(group["weight_decay"]) is int
    assert group["lr"] == saved_group["lr"] and type(group["lr"]) is float
    assert group["initial_lr"] == math.inf and group["limit"] == -math.inf and math.isnan(group["nan"])
    assert group["foreach"] is None and group["amsgrad"] is False and group["params"] == [0, 1, 2, 3]
    assert out["epoch"] == 5 and out["name"] == "run-1"
    assert type(out["scale"]) is np.float32 and out["scale"] == np.float32(0.25)
    assert isinstance(out["rng"], np.ndarray) and out["rng"].dtype == np.uint32
    np.testing.assert_array_equal(out["rng"], np.arange(4))
    assert out["dtype"] is mg.float16 and out["device"] == mg.device("cpu")
    assert out["keys"] == checkpoint["keys"]
    assert out["nested"][:3] == [[], (), {}]
    _assert_same_tensor(out["nested"][3][0], mg.ones(2))


@pytest.mark.parametrize("fmt", FORMATS)
def test_state_dict_loads_into_a_module_strictly(tmp_path, fmt):
    source, target = _mlp(), _mlp()
    x = mg.randn(5, 4)
    mg.save(source.state_dict(), tmp_path / f"m.{fmt}")
    result = target.load_state_dict(mg.load(tmp_path / f"m.{fmt}"), strict=True)
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(target(x).detach().numpy(), source(x).detach().numpy())


def test_non_contiguous_and_view_tensors_are_saved_by_value(tmp_path):
    base = mg.arange(12.0).reshape(3, 4)
    sd = {"t": base.T, "row": base[1], "col": base[:, 2]}
    mg.save(sd, tmp_path / "v.safetensors")
    out = mg.load(tmp_path / "v.safetensors")
    for key in sd:
        _assert_same_tensor(out[key], sd[key])
        assert out[key].is_contiguous()


def test_names_are_dotted_paths_and_collisions_stay_distinct(tmp_path):
    a, b, c = mg.ones(1), mg.zeros(1), mg.full((1,), 2.0)
    obj = {"a.b": {"c": a}, "a": {"b.c": b}, "__metadata__": c}
    path = tmp_path / "c.safetensors"
    mg.save(obj, path)
    _, _, header = _header(path)
    names = set(header) - {"__metadata__"}
    assert names == {"a.b.c", "a.b.c~1", "__metadata__~1"}
    out = mg.load(path)
    _assert_same_tensor(out["a.b"]["c"], a)
    _assert_same_tensor(out["a"]["b.c"], b)
    _assert_same_tensor(out["__metadata__"], c)


def test_map_location(tmp_path):
    mg.save({"w": mg.ones(2)}, tmp_path / "w.safetensors")
    assert mg.load(tmp_path / "w.safetensors", map_location="cpu")["w"].device == mg.device("cpu")
    assert mg.load(tmp_path / "w.safetensors", map_location={"cuda:0": "cpu"})["w"].device == mg.device("cpu")
    seen = []

    def location(tensor, saved):
        seen.append(saved)
        return tensor * 2

    out = mg.load(tmp_path / "w.safetensors", map_location=location)
    assert seen == ["cpu"]
    np.testing.assert_array_equal(out["w"].numpy(), [2.0, 2.0])
    with pytest.raises(TypeError, match="map_location"):
        mg.load(tmp_path / "w.safetensors", map_location=3)
    with pytest.raises(TypeError, match="map_location returned"):
        mg.load(tmp_path / "w.safetensors", map_location=lambda t, saved: "cpu")


@pytest.mark.skipif(mg.cuda.is_available(), reason="checks the error raised where CUDA is missing")
def test_tensor_saved_on_cuda_needs_map_location_without_cuda(tmp_path):
    mg.save({"w": mg.ones(2)}, tmp_path / "w.safetensors")
    raw, length, header = _header(tmp_path / "w.safetensors")
    document = json.loads(header["__metadata__"]["minigrad"])
    document["structure"]["items"][0][1]["device"] = "cuda:0"  # as if saved from a GPU
    header["__metadata__"]["minigrad"] = json.dumps(document)
    _rewrite(tmp_path / "w.safetensors", header)
    with pytest.raises(RuntimeError, match="saved on cuda:0.*map_location='cpu'"):
        mg.load(tmp_path / "w.safetensors")
    out = mg.load(tmp_path / "w.safetensors", map_location="cpu")
    np.testing.assert_array_equal(out["w"].numpy(), [1.0, 1.0])


@pytest.mark.parametrize("fmt", FORMATS)
def test_gpu_tensors_round_trip(tmp_path, device, fmt):
    x = mg.randn(3, 2, device=device)
    mg.save({"x": x}, tmp_path / f"g.{fmt}")
    y = mg.load(tmp_path / f"g.{fmt}")["x"]
    assert y.device == x.device
    np.testing.assert_array_equal(y.cpu().numpy(), x.cpu().numpy())
    assert mg.load(tmp_path / f"g.{fmt}", map_location="cpu")["x"].device == mg.device("cpu")


# ----- bfloat16 -------------------------------------------------------------------------------------
@pytest.mark.skipif(mg.bfloat16.numpy is None, reason="bfloat16 needs ml_dtypes")
@pytest.mark.parametrize("fmt", FORMATS)
def test_bfloat16_round_trip(tmp_path, fmt):
    x = mg.randn(3, 4).to(mg.bfloat16)
    mg.save({"x": x}, tmp_path / f"b.{fmt}")
    _assert_same_tensor(mg.load(tmp_path / f"b.{fmt}")["x"], x)


@pytest.mark.skipif(mg.bfloat16.numpy is not None, reason="checks the error raised where ml_dtypes is missing")
def test_bfloat16_file_without_ml_dtypes_is_a_clear_error(tmp_path):
    path = tmp_path / "b.safetensors"
    mg.save({"x": mg.zeros(2, dtype=mg.int16)}, path)
    _rewrite(path, {"x": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}})
    with pytest.raises(RuntimeError, match="'x' is bfloat16.*ml_dtypes"):
        mg.load(path)


@needs_torch
@pytest.mark.skipif(mg.bfloat16.numpy is None, reason="bfloat16 needs ml_dtypes")
def test_bfloat16_from_torch(tmp_path):
    from safetensors.torch import save_file

    t = torch.randn(3, 2).to(torch.bfloat16)
    save_file({"t": t}, str(tmp_path / "t.safetensors"))
    out = mg.load(tmp_path / "t.safetensors")["t"]
    np.testing.assert_array_equal(out.float().numpy(), t.float().numpy())


# ----- the safetensors format, against the reference library --------------------------------------
@needs_safetensors
def test_safetensors_bytes_equal_the_reference_writer(tmp_path):
    sd = {
        "b.weight": mg.randn(3, 4),
        "a": mg.arange(5),
        "mask": mg.tensor([True, False]),
        "h": mg.ones(3, dtype=mg.float16),
        "é \"quoted\"\n": mg.zeros(0, 2, dtype=mg.int8),
        "d": mg.randn(2, dtype=mg.float64),
        "i": mg.tensor([1, 2, 3], dtype=mg.int32),
        "s": mg.tensor(4, dtype=mg.int16),
        "u": mg.tensor([7], dtype=mg.uint8),
    }
    path = tmp_path / "x.safetensors"
    mg.save(sd, path)
    raw, length, header = _header(path)
    assert length % 8 == 0
    reference = st_numpy.save({k: v.numpy() for k, v in sd.items()}, metadata=header["__metadata__"])
    assert raw == reference


@needs_safetensors
def test_minigrad_file_loads_with_safetensors_numpy(tmp_path):
    sd = {"w": mg.randn(3, 4), "n": mg.tensor([1, 2]), "m": mg.tensor([True])}
    mg.save(sd, tmp_path / "x.safetensors")
    out = st_numpy.load_file(str(tmp_path / "x.safetensors"))
    assert set(out) == set(sd)
    for key in sd:
        assert out[key].dtype == sd[key].numpy().dtype
        np.testing.assert_array_equal(out[key], sd[key].numpy())


@needs_torch
@needs_safetensors
def test_minigrad_file_loads_with_safetensors_torch(tmp_path):
    from safetensors.torch import load_file

    sd = {"w": mg.randn(3, 4), "n": mg.tensor([1, 2]), "m": mg.tensor([True]), "h": mg.ones(2).half()}
    mg.save(sd, tmp_path / "x.safetensors")
    out = load_file(str(tmp_path / "x.safetensors"))
    for key in sd:
        assert str(out[key].dtype).removeprefix("torch.") == str(sd[key].dtype).removeprefix("minigrad.")
        np.testing.assert_array_equal(out[key].numpy(), sd[key].numpy())


@needs_torch
@needs_safetensors
def test_torch_safetensors_file_loads_into_a_minigrad_module(tmp_path):
    from safetensors.torch import save_file

    torch_model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    save_file(torch_model.state_dict(), str(tmp_path / "t.safetensors"))
    state = mg.load(tmp_path / "t.safetensors")
    assert set(state) == set(torch_model.state_dict())
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    model.load_state_dict(state, strict=True)
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    expected = torch_model(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(model(mg.tensor(x)).detach().numpy(), expected, rtol=1e-5, atol=1e-6)


def test_foreign_npz_loads_as_a_dict_in_file_order(tmp_path):
    np.savez(tmp_path / "f.npz", b=np.ones(2, np.float32), a=np.arange(3))
    out = mg.load(tmp_path / "f.npz")
    assert list(out) == ["b", "a"]
    _assert_same_tensor(out["a"], mg.arange(3))


def test_npz_file_is_readable_by_numpy(tmp_path):
    sd = {"w": mg.randn(2, 2), "allow_pickle": mg.ones(1)}  # a name np.savez could not take as a keyword
    mg.save(sd, tmp_path / "x.npz")
    with np.load(tmp_path / "x.npz", allow_pickle=False) as archive:
        np.testing.assert_array_equal(archive["w"], sd["w"].numpy())
        np.testing.assert_array_equal(archive["allow_pickle"], [1.0])
        document = json.loads(archive["__minigrad__"].tobytes())
    assert document["format"] == "1"


# ----- what cannot be saved, and bad arguments ------------------------------------------------------
def test_unsupported_values_are_refused_before_writing(tmp_path):
    path = tmp_path / "x.safetensors"
    with pytest.raises(TypeError, match="cannot save a value of type function at 'a.f'"):
        mg.save({"a": {"f": lambda: 0}}, path)
    with pytest.raises(TypeError, match="dict key of type object"):
        mg.save({object(): 1}, path)
    x = mg.randn(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="non-leaf tensor at 'y'.*detach"):
        mg.save({"y": x * 2}, path)
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_bad_paths(tmp_path):
    with pytest.raises(ValueError, match=r"\.safetensors or \.npz"):
        mg.save(mg.ones(1), tmp_path / "x.pt")
    with pytest.raises(ValueError, match=r"\.safetensors or \.npz"):
        mg.load(tmp_path / "x.pth")
    with pytest.raises(TypeError, match="file path"):
        mg.save(mg.ones(1), open(os.devnull, "wb"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        mg.save(mg.ones(1), tmp_path / "missing" / "x.safetensors")
    with pytest.raises(FileNotFoundError, match="no such file"):
        mg.load(tmp_path / "nothing.safetensors")


# ----- atomic writes --------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_crash_mid_write_keeps_the_previous_file(tmp_path, monkeypatch, fmt):
    path = tmp_path / f"ckpt.{fmt}"
    old = {"w": mg.ones(3), "b": mg.zeros(2)}
    mg.save(old, path)
    before = path.read_bytes()
    calls = []

    def write_then_crash(*args):
        calls.append(args)
        if len(calls) == 2:
            raise KeyboardInterrupt("simulated crash halfway through")
        return real(*args)

    real = serialization._write_array_bytes if fmt == "safetensors" else serialization._write_npy
    monkeypatch.setattr(serialization, real.__name__, write_then_crash)
    with pytest.raises(KeyboardInterrupt):
        mg.save({"w": mg.full((3,), 5.0), "b": mg.full((2,), 6.0)}, path)
    assert len(calls) == 2  # the crash really happened after something had been written
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary file left behind
    monkeypatch.undo()
    _assert_same_tensor(mg.load(path)["w"], old["w"])


def test_save_replaces_the_file_and_keeps_normal_permissions(tmp_path):
    path = tmp_path / "x.safetensors"
    mg.save({"a": mg.ones(1)}, path)
    mg.save({"a": mg.zeros(1)}, path)
    _assert_same_tensor(mg.load(path)["a"], mg.zeros(1))
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


# ----- corrupt files ---------------------------------------------------------------------------------
@pytest.fixture
def good_file(tmp_path):
    path = tmp_path / "good.safetensors"
    mg.save({"a": mg.arange(4.0), "b": mg.ones(2, 2)}, path)
    return path


def _load_fails(path, pattern):
    before = path.read_bytes()
    with pytest.raises(RuntimeError, match=pattern) as info:
        mg.load(path)
    assert str(path) in str(info.value)
    assert path.read_bytes() == before


def test_truncated_files_are_rejected(good_file):
    raw = good_file.read_bytes()
    good_file.write_bytes(raw[:5])
    _load_fails(good_file, "too short")
    good_file.write_bytes(raw[:40])
    _load_fails(good_file, "header length field says .* only 32 bytes follow")
    _, length, _ = _header_of(raw)
    good_file.write_bytes(raw[: 8 + length + 10])
    _load_fails(good_file, "past the end of the 10-byte data.*truncated")


def _header_of(raw):
    length = int.from_bytes(raw[:8], "little")
    return raw, length, json.loads(raw[8 : 8 + length])


def test_bad_header_length_and_json(good_file):
    raw = good_file.read_bytes()
    good_file.write_bytes((10**12).to_bytes(8, "little") + raw[8:])
    _load_fails(good_file, "over the 100 MB limit")
    good_file.write_bytes((16).to_bytes(8, "little") + b'{"a": [1, 2, 3}}' + raw[24:])
    _load_fails(good_file, "not valid JSON")
    good_file.write_bytes((8).to_bytes(8, "little") + b"[1, 2]  ")
    _load_fails(good_file, "does not start with")
    good_file.write_bytes((8).to_bytes(8, "little") + b"{\xff\xfe}    ")
    _load_fails(good_file, "not valid JSON")


def test_bad_tensor_descriptions(good_file):
    _, _, header = _header(good_file)
    cases = [
        ({"dtype": "Q7", "shape": [4], "data_offsets": [0, 16]}, "unknown dtype 'Q7'"),
        ({"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}, "invalid shape"),
        ({"dtype": "F32", "shape": [4], "data_offsets": [16, 0]}, "end before they begin"),
        ({"dtype": "F32", "shape": [4], "data_offsets": [0, 12]}, "needs 16 bytes"),
        ({"dtype": "F32", "shape": [4], "data_offsets": [0, 160]}, "past the end"),
        ({"dtype": "F32", "shape": [4]}, "exactly 'dtype', 'shape' and 'data_offsets'"),
        ({"dtype": "U32", "shape": [4], "data_offsets": [0, 16]}, "uint32, which minigrad tensors do not support"),
        ({"dtype": "F8_E4M3", "shape": [16], "data_offsets": [0, 16]}, "F8_E4M3, which minigrad does not support"),
    ]
    for description, pattern in cases:
        broken = dict(header, a=description)
        _rewrite(good_file, broken)
        _load_fails(good_file, pattern)


def test_overlapping_holes_and_trailing_bytes(good_file):
    raw, length, header = _header(good_file)
    data = raw[8 + length :]
    assert len(data) == 32
    overlapping = dict(header, b={"dtype": "F32", "shape": [2, 2], "data_offsets": [8, 24]})
    _rewrite(good_file, overlapping, data=data[:24])
    _load_fails(good_file, "overlap")
    hole = dict(header, a={"dtype": "F32", "shape": [2], "data_offsets": [0, 8]})
    _rewrite(good_file, hole)
    _load_fails(good_file, "hole")
    _rewrite(good_file, header, data=data + b"\0" * 4)
    _load_fails(good_file, "4 bytes after the last tensor")


def test_unsorted_header_order_is_valid_but_duplicates_are_not(good_file):
    raw, length, header = _header(good_file)
    meta = header.pop("__metadata__")
    reordered = {"b": header["b"], "a": header["a"], "__metadata__": meta}
    _rewrite(good_file, reordered)
    out = mg.load(good_file)
    _assert_same_tensor(out["a"], mg.arange(4.0))
    text = json.dumps({"a": header["a"], "b": header["b"]})[:-1] + ', "a": ' + json.dumps(header["a"]) + "}"
    text = text.encode() + b" " * (-len(text) % 8)
    good_file.write_bytes(len(text).to_bytes(8, "little") + text + raw[8 + length :])
    _load_fails(good_file, "duplicate key 'a'")


def test_corrupt_structure_document(good_file):
    _, _, header = _header(good_file)
    document = json.loads(header["__metadata__"]["minigrad"])
    cases = [
        ("{not json", "not valid JSON"),
        (json.dumps({"format": "99", "structure": None}), "format '99'"),
        (json.dumps({"format": "1"}), "has no 'structure'"),
        (json.dumps(dict(document, structure={"type": "tensor", "name": "zzz"})), "tensor 'zzz' the file does not"),
        (json.dumps(dict(document, structure={"type": "mystery"})), "unknown node type 'mystery'"),
        (json.dumps(dict(document, structure={"type": "dict", "items": [[["list"], 1]]})), "key cannot be"),
        (json.dumps(dict(document, structure={"type": "float", "value": "big"})), "bad float value"),
    ]
    for text, pattern in cases:
        _rewrite(good_file, dict(header, __metadata__={"minigrad": text}))
        _load_fails(good_file, pattern)
    _rewrite(good_file, dict(header, __metadata__={"minigrad": 3}))
    _load_fails(good_file, "must map strings to strings")


def test_corrupt_npz(tmp_path):
    path = tmp_path / "x.npz"
    mg.save({"w": mg.ones(3)}, path)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    _load_fails(path, "not a readable .npz")
    path.write_bytes(b"definitely not a zip")
    _load_fails(path, "not a readable .npz")
    np.savez(path, w=np.array([{"pickled": 1}], dtype=object))
    _load_fails(path, "cannot be read")


# ----- state-dict errors through the save/load path -------------------------------------------------
def test_load_state_dict_errors_name_the_keys_and_shapes(tmp_path):
    source = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))
    mg.save(source.state_dict(), tmp_path / "m.safetensors")
    state = mg.load(tmp_path / "m.safetensors")

    wider = nn.Sequential(nn.Linear(4, 9), nn.Linear(9, 2))
    before = [p.detach().numpy().copy() for p in wider.parameters()]
    with pytest.raises(RuntimeError, match=r"size mismatch for 0\.weight.*\(8, 4\).*\(9, 4\)"):
        wider.load_state_dict(state)
    for p, old in zip(wider.parameters(), before):
        np.testing.assert_array_equal(p.detach().numpy(), old)

    deeper = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2), nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "2\.weight", "2\.bias"'):
        deeper.load_state_dict(state)
    shallow = nn.Sequential(nn.Linear(4, 8))
    with pytest.raises(RuntimeError, match=r'Unexpected key\(s\) in state_dict: "1\.weight", "1\.bias"'):
        shallow.load_state_dict(state)
    result = shallow.load_state_dict(state, strict=False)
    assert result.unexpected_keys == ["1.weight", "1.bias"]


# ----- resuming training in a new process -------------------------------------------------------------
def _run_script(*args):
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(mg.__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_resume_script.py")
    command = [sys.executable, script, *map(str, args)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("fmt", FORMATS)
def test_resume_in_a_new_process_matches_an_uninterrupted_run(tmp_path, fmt):
    steps, split = 10, 6
    checkpoint = tmp_path / f"ckpt.{fmt}"
    _run_script("full", tmp_path, steps)
    _run_script("first", tmp_path, steps, split, checkpoint)
    _run_script("resume", tmp_path, steps, split, checkpoint)
    full = json.loads((tmp_path / "losses-full.json").read_text())
    first = json.loads((tmp_path / "losses-first.json").read_text())
    resumed = json.loads((tmp_path / "losses-resume.json").read_text())
    assert len(full) == steps and len(first) == split and len(resumed) == steps - split
    assert first + resumed == full  # identical floats, not merely close
    assert full[-1] < full[0]  # it did train
