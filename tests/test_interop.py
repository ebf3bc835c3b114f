"""DLPack both ways with NumPy and torch (zero copy, dtypes kept), to_torch/from_torch, torch weights."""

import numpy as np
import pytest
from conftest import torch

import minigrad as mg
import minigrad.nn as nn
from minigrad import interop

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")
DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"]


def _sample(dtype: str, shape=(3, 4)) -> np.ndarray:
    values = np.random.default_rng(0).standard_normal(shape) * 10
    return (values > 0) if dtype == "bool" else values.astype(dtype)


# ----- NumPy ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_numpy_round_trip_shares_memory_and_keeps_dtype(dtype):
    array = _sample(dtype)
    t = mg.from_dlpack(array)
    assert t.dtype == getattr(mg, dtype) and t.shape == array.shape
    assert np.shares_memory(t.data, array)
    back = np.from_dlpack(t)
    assert back.dtype == array.dtype and np.shares_memory(back, array)
    np.testing.assert_array_equal(back, array)


def test_writes_are_seen_through_the_shared_memory():
    array = np.zeros(4, dtype=np.float32)
    t = mg.from_dlpack(array)
    t[1] = 5.0
    assert array[1] == 5.0
    array[2] = 7.0
    assert t[2].item() == 7.0


def test_dlpack_device_and_strided_views():
    t = mg.arange(12.0).reshape(3, 4)
    assert t.__dlpack_device__() == (1, 0)
    view = t.T
    back = np.from_dlpack(view)
    assert np.shares_memory(back, t.data)
    np.testing.assert_array_equal(back, t.numpy().T)
    scalar = np.from_dlpack(mg.tensor(3.5))
    assert scalar.shape == () and scalar == 3.5


def test_copy_and_device_arguments():
    array = np.ones(3, dtype=np.float32)
    copied = mg.from_dlpack(array, copy=True)
    assert not np.shares_memory(copied.data, array)
    np.testing.assert_array_equal(copied.numpy(), array)
    same = mg.from_dlpack(array, device="cpu", copy=False)
    assert np.shares_memory(same.data, array)


def test_export_refuses_tensors_that_require_grad():
    x = mg.ones(2, requires_grad=True)
    with pytest.raises(BufferError, match="require gradient.*detach"):
        np.from_dlpack(x)
    assert np.shares_memory(np.from_dlpack(x.detach()), x.data)


def test_negative_strides_are_exported_as_a_copy():
    t = mg.flip(mg.arange(6.0), 0)
    assert any(s < 0 for s in t.data.strides)
    back = np.from_dlpack(t)
    np.testing.assert_array_equal(back, [5, 4, 3, 2, 1, 0])
    with pytest.raises(BufferError, match="negative strides"):
        t.__dlpack__(copy=False)


def test_import_errors_are_clear():
    with pytest.raises(TypeError, match="__dlpack__.*got list"):
        mg.from_dlpack([1, 2])
    with pytest.raises(TypeError, match="does not support tensors of dtype complex64"):
        mg.from_dlpack(np.ones(2, dtype=np.complex64))


# ----- torch ------------------------------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_round_trip_shares_memory_and_keeps_dtype(dtype):
    source = torch.from_numpy(_sample(dtype).copy())
    t = mg.from_dlpack(source)
    assert t.dtype == getattr(mg, dtype)
    assert t.data.ctypes.data == source.data_ptr()
    back = torch.from_dlpack(t)
    assert back.dtype == source.dtype and back.data_ptr() == source.data_ptr()
    assert torch.equal(back, source)
    assert interop.from_torch(source).data.ctypes.data == source.data_ptr()
    assert interop.to_torch(t).data_ptr() == source.data_ptr()


@needs_torch
def test_torch_views_writes_and_scalars():
    base = torch.arange(12.0).reshape(3, 4)
    view = mg.from_dlpack(base.t())
    assert view.stride() == base.t().stride()
    np.testing.assert_array_equal(view.numpy(), base.t().numpy())
    view[0, 0] = 100.0
    assert base[0, 0].item() == 100.0
    scalar = mg.from_dlpack(torch.tensor(2))
    assert scalar.shape == () and scalar.dtype == mg.int64 and scalar.item() == 2
    flipped = torch.from_dlpack(mg.flip(mg.arange(4.0), 0))  # a negative-stride view: copied, not a crash
    assert flipped.tolist() == [3.0, 2.0, 1.0, 0.0]


@needs_torch
def test_to_torch_and_from_torch_detach():
    x = mg.randn(3, requires_grad=True)
    with pytest.raises(BufferError, match="require gradient"):
        torch.from_dlpack(x)
    t = interop.to_torch(x)
    assert not t.requires_grad and t.data_ptr() == x.data.ctypes.data
    y = interop.from_torch(torch.ones(2, requires_grad=True) * 3)
    assert not y.requires_grad and y.tolist() == [3.0, 3.0]
    with pytest.raises(TypeError, match="expects a torch.Tensor"):
        interop.from_torch(np.ones(2))
    with pytest.raises(TypeError, match="expects a minigrad Tensor"):
        interop.to_torch(torch.ones(2))
    with pytest.raises(TypeError, match="DLPack capsules"):
        mg.from_dlpack(torch.utils.dlpack.to_dlpack(torch.ones(2)))
    with pytest.raises(TypeError, match="dtype uint32"):
        mg.from_dlpack(torch.ones(2, dtype=torch.uint32))


@needs_torch
@pytest.mark.skipif(mg.bfloat16.numpy is None, reason="bfloat16 needs ml_dtypes")
def test_bfloat16_through_the_torch_helpers():
    source = torch.randn(4).to(torch.bfloat16)
    t = interop.from_torch(source)
    assert t.dtype == mg.bfloat16 and t.data.ctypes.data == source.data_ptr()
    back = interop.to_torch(t)
    assert back.dtype == torch.bfloat16 and torch.equal(back, source)


@needs_torch
@pytest.mark.skipif(mg.bfloat16.numpy is not None, reason="checks the error raised without ml_dtypes")
def test_bfloat16_without_ml_dtypes_is_a_clear_error():
    with pytest.raises(TypeError, match="bfloat16.*ml_dtypes"):
        interop.from_torch(torch.ones(2, dtype=torch.bfloat16))


# ----- torch weights into a minigrad model ------------------------------------------------------------
def _models():
    torch.manual_seed(0)
    reference = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3))
    x = np.random.default_rng(1).standard_normal((7, 5)).astype(np.float32)
    return reference, model, x


def _assert_same_outputs(reference, model, x):
    expected = reference(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(model(mg.tensor(x)).detach().numpy(), expected, rtol=1e-5, atol=1e-6)


@needs_torch
def test_torch_state_dict_dict_into_minigrad_model():
    reference, model, x = _models()
    result = interop.load_torch_state_dict(model, reference.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    _assert_same_outputs(reference, model, x)
    converted = interop.from_torch_state_dict(reference.state_dict())
    assert list(converted) == list(reference.state_dict())
    assert all(isinstance(v, mg.Tensor) for v in converted.values())


@needs_torch
def test_torch_weights_from_files_into_minigrad_model(tmp_path):
    reference, model, x = _models()
    torch.save(reference.state_dict(), tmp_path / "weights.pt")
    interop.load_torch_state_dict(model, tmp_path / "weights.pt")
    _assert_same_outputs(reference, model, x)

    safetensors_torch = pytest.importorskip("safetensors.torch")
    reference2, model2, _ = _models()
    with torch.no_grad():
        for p in reference2.parameters():
            p.mul_(-2)
    safetensors_torch.save_file(reference2.state_dict(), str(tmp_path / "weights.safetensors"))
    interop.load_torch_state_dict(model2, tmp_path / "weights.safetensors")
    _assert_same_outputs(reference2, model2, x)


@needs_torch
def test_minigrad_weights_into_torch_model_through_to_torch():
    reference, model, x = _models()
    state = {name: interop.to_torch(t) for name, t in model.state_dict().items()}
    reference.load_state_dict(state, strict=True)
    _assert_same_outputs(reference, model, x)


@needs_torch
def test_mismatched_torch_weights_name_the_keys():
    reference = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3))
    with pytest.raises(RuntimeError, match=r"size mismatch for 2\.weight"):
        interop.load_torch_state_dict(model, reference.state_dict())
    with pytest.raises(TypeError, match="expects a dict"):
        interop.from_torch_state_dict([torch.ones(1)])


# ----- GPU --------------------------------------------------------------------------------------------
@pytest.mark.gpu
@pytest.mark.skipif(not mg.cuda.is_available(), reason="needs CuPy and a CUDA GPU")
def test_cupy_round_trip_shares_memory():
    import cupy

    array = cupy.arange(6, dtype=cupy.float32)
    t = mg.from_dlpack(array)
    assert t.device.type == "cuda" and t.data.data.ptr == array.data.ptr
    back = cupy.from_dlpack(t)
    assert back.data.ptr == array.data.ptr
    host = mg.from_dlpack(array, device="cpu")
    assert host.device.type == "cpu" and host.tolist() == list(range(6))
    with pytest.raises(ValueError, match="needs a copy"):
        mg.from_dlpack(array, device="cpu", copy=False)
