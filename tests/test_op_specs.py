"""Every row of the op-spec table (tests/op_specs) through the generic checks.

For each op: forward vs its NumPy reference (float64, and float32 stays float32), gradients vs
float64 central differences with random cotangents, double backward vs finite differences of the
gradient (or a clear refusal), inputs never mutated, and the graph released and freed after
backward. With torch installed, forward and gradients also equal PyTorch's; on a GPU, the CPU's.
"""

import pytest
from conftest import GPU, torch
from hypothesis import given
from hypothesis import strategies as st
from op_specs import ALL_SPECS

from minigrad.testing.opspec import (
    check_against_torch,
    check_backward,
    check_device,
    check_double_backward,
    check_forward,
    check_graph_freed,
    check_inputs_unchanged,
)

SPEC_IDS = [spec.name for spec in ALL_SPECS]


@pytest.mark.parametrize("spec", ALL_SPECS, ids=SPEC_IDS)
@given(data=st.data())
def test_forward_matches_reference(spec, data):
    check_forward(spec, data.draw(spec.cases, label="case"))


@pytest.mark.parametrize("spec", [s for s in ALL_SPECS if s.differentiable], ids=lambda s: s.name)
@given(data=st.data())
def test_backward_matches_finite_differences(spec, data):
    check_backward(spec, data.draw(spec.cases, label="case"))


@pytest.mark.parametrize("spec", [s for s in ALL_SPECS if s.differentiable and s.double_backward], ids=lambda s: s.name)
@given(data=st.data())
def test_double_backward(spec, data):
    check_double_backward(spec, data.draw(spec.cases, label="case"))


@pytest.mark.parametrize("spec", ALL_SPECS, ids=SPEC_IDS)
@given(data=st.data())
def test_inputs_not_mutated(spec, data):
    check_inputs_unchanged(spec, data.draw(spec.cases, label="case"))


@pytest.mark.parametrize("spec", [s for s in ALL_SPECS if s.differentiable], ids=lambda s: s.name)
@given(data=st.data())
def test_graph_freed_after_backward(spec, data):
    check_graph_freed(spec, data.draw(spec.cases, label="case"))


@pytest.mark.skipif(torch is None, reason="torch is not installed (pip install -e .[ref])")
@pytest.mark.parametrize("spec", [s for s in ALL_SPECS if s.torch_fn is not None], ids=lambda s: s.name)
@given(data=st.data())
def test_matches_torch(spec, data):
    check_against_torch(spec, data.draw(spec.cases, label="case"), torch)


@pytest.mark.gpu
@pytest.mark.skipif(not GPU, reason="needs CuPy and a CUDA GPU")
@pytest.mark.parametrize("spec", ALL_SPECS, ids=SPEC_IDS)
@given(data=st.data())
def test_gpu_matches_cpu(spec, data):
    check_device(spec, data.draw(spec.cases, label="case"), "cuda")


def test_spec_table_covers_the_public_math_api():
    names = {spec.name.split("_")[0] for spec in ALL_SPECS}
    for op in ["add", "sub", "mul", "div", "pow", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "clamp", "where"]:
        assert op in names, f"no spec row for {op}"
