"""Shared test setup: hypothesis profiles, devices, and the optional torch reference.

Profiles (select with HYPOTHESIS_PROFILE=...): ``ci`` (fast, the CI default), ``dev`` (more
examples) and ``thorough`` (many; for a night run). GPU tests are the same tests with a
``device`` parameter; the cuda ones skip where CuPy or a GPU is missing.
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import minigrad as mg

settings.register_profile("ci", max_examples=8, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                                 HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=30, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
settings.register_profile("thorough", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

try:
    import torch

    torch.set_default_dtype(torch.float32)
except ImportError:  # torch is optional: reference tests skip without it
    torch = None

GPU = mg.cuda.is_available()
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu,
                                              pytest.mark.skipif(not GPU, reason="needs CuPy and a CUDA GPU")])]


@pytest.fixture
def torch_module():
    if torch is None:
        pytest.skip("torch is not installed (pip install -e .[ref])")
    return torch


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


@pytest.fixture(autouse=True)
def _seed():
    mg.manual_seed(0)
    np.random.seed(0)
    yield
