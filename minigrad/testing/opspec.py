"""Op specs: describe an op once, get its forward, backward and double-backward tests for free.

An ``OpSpec`` names the minigrad function, a NumPy reference, a hypothesis strategy that draws
test cases, the kinks to avoid, tolerances, and whether double backward must work (or must be
refused with a clear error). The ``check_*`` functions below are the generic tests; minigrad's own
test suite runs every row of its spec table through them, and you can do the same for your ops::

    spec = OpSpec("softplus", fn=lambda x: (1 + x.exp()).log(),
                  ref=lambda x: np.log1p(np.exp(x)),
                  cases=unary_cases())
    @given(st.data())
    def test_softplus(data):
        case = data.draw(spec.cases)
        check_forward(spec, case); check_backward(spec, case); check_double_backward(spec, case)
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from ..autograd.engine import grad as autograd_grad
from ..autograd.engine import topological_order
from ..autograd.grad_mode import no_grad
from ..ops.creation import tensor as make_tensor
from ..tensor import Tensor
from .gradcheck import assert_close, gradcheck, gradgradcheck
from .strategies import arrays, elements, shapes


@dataclass
class Case:
    """One drawn test case: array arguments (in order) and fixed keyword arguments."""

    args: tuple
    kwargs: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        shown = ", ".join(
            f"array{tuple(a.shape)}:{a.dtype}" if isinstance(a, np.ndarray) else repr(a) for a in self.args
        )
        return f"Case({shown}; {self.kwargs})"


@dataclass(repr=False)
class OpSpec:
    """Everything the generic tests need to know about one op.

    fn:        minigrad callable ``fn(*tensors, **kwargs)`` returning a Tensor or tuple of Tensors.
    ref:       NumPy reference ``ref(*arrays, **kwargs)`` (float64), or None to skip that check.
    cases:     hypothesis strategy of ``Case``.
    grad_args: indices of the arguments to differentiate (default: every floating-point array).
    avoid:     ``avoid(case) -> bool``; True rejects a case (non-differentiable points, ties ...).
    double_backward: True (checked with gradgradcheck), "refuses" (must raise a clear error), or
               False (not applicable, e.g. the op has no gradient at all).
    torch_fn:  same call on torch tensors, to compare forward and gradients with PyTorch (it may
               raise NotImplementedError for a case torch cannot express).
    differentiable: False for ops with no gradient (comparisons, argmax ...).
    """

    name: str
    fn: Callable
    ref: Callable | None
    cases: st.SearchStrategy
    grad_args: tuple | None = None
    avoid: Callable | None = None
    atol: float = 1e-6
    rtol: float = 1e-6
    grad_atol: float = 1e-5
    grad_rtol: float = 1e-3
    double_backward: bool | str = True
    torch_fn: Callable | None = None
    differentiable: bool = True
    float32: bool = True
    gradcheck_eps: float = 1e-6
    notes: str = ""

    def __repr__(self) -> str:
        return f"OpSpec({self.name})"


# ----------------------------------------------------------------------------------------------
# Case strategies for the common shapes of ops
# ----------------------------------------------------------------------------------------------
def unary_cases(min_value: float = -5.0, max_value: float = 5.0, avoid: tuple = (), max_dims: int = 3,
                kwargs: st.SearchStrategy | None = None, min_dims: int = 0) -> st.SearchStrategy:
    """One float64 array, elements in [min_value, max_value] away from the ``avoid`` kinks."""
    kw = st.just({}) if kwargs is None else kwargs
    arr = arrays(shapes(min_dims=min_dims, max_dims=max_dims, max_side=4), np.float64,
                 elements(np.float64, min_value, max_value, avoid=avoid, min_distance=1e-2))
    return st.builds(lambda a, k: Case((a,), k), arr, kw)


@st.composite
def broadcast_cases(draw, n: int = 2, min_value: float = -5.0, max_value: float = 5.0, avoid: tuple = (),
                    max_dims: int = 3):
    """``n`` float64 arrays with mutually broadcastable shapes."""
    from hypothesis.extra.numpy import mutually_broadcastable_shapes

    shapes_ = draw(mutually_broadcastable_shapes(num_shapes=n, min_dims=0, max_dims=max_dims, max_side=4))
    el = elements(np.float64, min_value, max_value, avoid=avoid, min_distance=1e-2)
    return Case(tuple(draw(arrays(s, np.float64, el)) for s in shapes_.input_shapes))


# ----------------------------------------------------------------------------------------------
# Generic checks
# ----------------------------------------------------------------------------------------------
def _grad_args(spec: OpSpec, case: Case) -> tuple:
    if not spec.differentiable:
        return ()
    if spec.grad_args is not None:
        return spec.grad_args
    return tuple(i for i, a in enumerate(case.args) if isinstance(a, np.ndarray) and a.dtype.kind == "f")


def _tensors(spec: OpSpec, case: Case, dtype=None, device="cpu", requires_grad=True) -> list:
    grad_args = _grad_args(spec, case)
    out = []
    for i, a in enumerate(case.args):
        if isinstance(a, np.ndarray):
            arr = a.astype(dtype) if dtype is not None and a.dtype.kind == "f" else a
            out.append(make_tensor(arr, device=device, requires_grad=requires_grad and i in grad_args))
        else:
            out.append(a)
    return out


def _as_list(out) -> list:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _prepare(spec: OpSpec, case: Case) -> None:
    if spec.avoid is not None:
        assume(not spec.avoid(case))


def check_forward(spec: OpSpec, case: Case) -> None:
    """Forward equals the NumPy reference in float64; float32 in gives float32 out and stays close."""
    _prepare(spec, case)
    if spec.ref is None:
        return
    expected = _as_list(spec.ref(*case.args, **case.kwargs))
    with no_grad():
        got = _as_list(spec.fn(*_tensors(spec, case), **case.kwargs))
    assert len(got) == len(expected), f"{spec.name}: {len(got)} outputs, reference has {len(expected)}"
    for g, e in zip(got, expected):
        assert_close(g, np.asarray(e), rtol=spec.rtol, atol=spec.atol, check_dtype=False, msg=f"{spec.name} forward: ")
    if spec.float32 and any(isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in case.args):
        with no_grad():
            got32 = _as_list(spec.fn(*_tensors(spec, case, dtype=np.float32), **case.kwargs))
        for g, e in zip(got32, expected):
            e = np.asarray(e)
            if e.dtype.kind == "f":
                assert g.dtype.name == "float32", f"{spec.name}: float32 inputs gave {g.dtype} (no silent float64)"
                scale = max(1.0, float(np.abs(e).max(initial=0)))
                assert_close(g, e, rtol=1e-4, atol=1e-4 * scale, check_dtype=False,
                             msg=f"{spec.name} float32 forward: ")


def check_backward(spec: OpSpec, case: Case) -> None:
    """Gradients equal central differences (random directions and random cotangents, float64)."""
    _prepare(spec, case)
    if not spec.differentiable or not _grad_args(spec, case):
        return
    tensors = _tensors(spec, case)
    gradcheck(lambda *xs: spec.fn(*xs, **case.kwargs), tensors, eps=spec.gradcheck_eps,
              atol=spec.grad_atol, rtol=spec.grad_rtol)


def check_double_backward(spec: OpSpec, case: Case) -> None:
    """Second derivatives equal finite differences of the first, or the op refuses clearly."""
    _prepare(spec, case)
    if not spec.differentiable or not _grad_args(spec, case) or spec.double_backward is False:
        return
    tensors = _tensors(spec, case)
    fn = lambda *xs: spec.fn(*xs, **case.kwargs)  # noqa: E731
    if spec.double_backward == "refuses":
        outs = [o for o in _as_list(fn(*tensors)) if isinstance(o, Tensor) and o.requires_grad]
        wrt = [t for t in tensors if isinstance(t, Tensor) and t.requires_grad]
        grads = autograd_grad(outs, wrt, [o * 0 + 1 for o in outs], create_graph=True, allow_unused=True)
        loss = sum((g * g).sum() for g in grads if g is not None)
        try:
            loss.backward()
        except RuntimeError as error:
            assert "double backward" in str(error), f"{spec.name}: unclear refusal: {error}"
            return
        raise AssertionError(f"{spec.name}: declared to refuse double backward, but it ran")
    gradgradcheck(fn, tensors, eps=spec.gradcheck_eps, atol=spec.grad_atol * 10, rtol=spec.grad_rtol * 10)


def check_inputs_unchanged(spec: OpSpec, case: Case) -> None:
    """Neither forward nor backward writes into an input's memory."""
    _prepare(spec, case)
    tensors = _tensors(spec, case)
    before = [t._data.copy() if isinstance(t, Tensor) else None for t in tensors]
    outs = [o for o in _as_list(spec.fn(*tensors, **case.kwargs)) if isinstance(o, Tensor)]
    if spec.differentiable:
        diff = [o for o in outs if o.requires_grad]
        if diff:
            loss = sum((o * make_tensor(np.random.default_rng(0).standard_normal(o.shape))).sum() for o in diff)
            loss.backward()
    for i, (t, b) in enumerate(zip(tensors, before)):
        if b is not None:
            assert np.array_equal(t._data, b, equal_nan=True), f"{spec.name} modified its input {i}"


def check_graph_freed(spec: OpSpec, case: Case) -> None:
    """After backward every node is released and freed by reference counting alone (no cycles)."""
    _prepare(spec, case)
    if not spec.differentiable or not _grad_args(spec, case):
        return
    tensors = _tensors(spec, case)
    outs = [o for o in _as_list(spec.fn(*tensors, **case.kwargs)) if isinstance(o, Tensor) and o.requires_grad]
    if not outs:
        return
    nodes = topological_order([o.grad_fn for o in outs if o.grad_fn is not None])
    refs = [weakref.ref(n) for n in nodes]
    loss = sum(o.sum() for o in outs)
    loss.backward()
    kept = [n.name() for n in nodes if not n._released]
    assert not kept, f"{spec.name}: nodes {kept} still hold their saved values after backward"
    del outs, loss, nodes
    enabled = gc.isenabled()
    gc.disable()
    try:
        alive = [r() for r in refs if r() is not None]
        assert not alive, f"{spec.name}: graph nodes {[n.name() for n in alive]} outlive the graph (reference cycle?)"
    finally:
        if enabled:
            gc.enable()


def check_against_torch(spec: OpSpec, case: Case, torch: Any) -> None:
    """Forward and every gradient equal PyTorch's on the same float64 inputs."""
    _prepare(spec, case)
    if spec.torch_fn is None:
        return
    grad_args = _grad_args(spec, case)
    ours = _tensors(spec, case)
    theirs = [torch.tensor(a, requires_grad=i in grad_args) if isinstance(a, np.ndarray) else a
              for i, a in enumerate(case.args)]
    out_ours = _as_list(spec.fn(*ours, **case.kwargs))
    try:
        out_theirs = _as_list(spec.torch_fn(*theirs, **case.kwargs))
    except NotImplementedError:  # torch cannot express this case (e.g. negative slice steps)
        return
    for a, b in zip(out_ours, out_theirs):
        assert_close(a, b, rtol=max(spec.rtol, 1e-6), atol=max(spec.atol, 1e-6), check_dtype=False,
                     msg=f"{spec.name} vs torch forward: ")
    if not grad_args or not spec.differentiable:
        return
    rng = np.random.default_rng(1)
    pairs = [(a, b) for a, b in zip(out_ours, out_theirs) if isinstance(a, Tensor) and a.requires_grad]
    cot = [rng.standard_normal(a.shape) for a, _ in pairs]
    g_ours = autograd_grad([a for a, _ in pairs], [ours[i] for i in grad_args],
                           [make_tensor(c) for c in cot], allow_unused=True)
    g_theirs = torch.autograd.grad([b for _, b in pairs], [theirs[i] for i in grad_args],
                                   [torch.tensor(c) for c in cot], allow_unused=True)
    for i, a, b in zip(grad_args, g_ours, g_theirs):
        if b is None:
            assert a is None or not np.any(a._data), f"{spec.name}: torch gives no gradient for input {i}, we do"
            continue
        assert a is not None, f"{spec.name}: no gradient for input {i}, torch has one"
        assert_close(a, b, rtol=max(spec.grad_rtol * 1e-3, 1e-6), atol=1e-6, check_dtype=False,
                     msg=f"{spec.name} vs torch gradient of input {i}: ")


def check_device(spec: OpSpec, case: Case, device: str) -> None:
    """Forward and gradients on ``device`` equal the CPU's (float32 tolerances)."""
    _prepare(spec, case)
    grad_args = _grad_args(spec, case)
    results = []
    for dev in ("cpu", device):
        tensors = _tensors(spec, case, dtype=np.float32, device=dev)
        outs = _as_list(spec.fn(*tensors, **case.kwargs))
        grads = []
        diff = [o for o in outs if isinstance(o, Tensor) and o.requires_grad]
        if diff and grad_args:
            grads = autograd_grad(diff, [tensors[i] for i in grad_args],
                                  [o * 0 + 1 for o in diff], allow_unused=True)
        results.append((outs, grads))
    (cpu_out, cpu_grads), (dev_out, dev_grads) = results
    for a, b in zip(cpu_out, dev_out):
        if isinstance(a, Tensor):
            assert str(b.device).startswith(device.split(":")[0]), f"{spec.name}: output left {device}"
            assert_close(b, a, rtol=1e-4, atol=1e-5, check_dtype=False, msg=f"{spec.name} on {device}: ")
    for a, b in zip(cpu_grads, dev_grads):
        if a is not None:
            assert_close(b, a, rtol=1e-4, atol=1e-5, check_dtype=False, msg=f"{spec.name} gradient on {device}: ")


ALL_CHECKS = (check_forward, check_backward, check_double_backward, check_inputs_unchanged, check_graph_freed)
