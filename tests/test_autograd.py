"""The engine: graph walk, accumulation, retain_graph, hooks, version counters, higher order, memory."""

import gc
import weakref

import numpy as np
import pytest
from conftest import torch

import minigrad as mg
from minigrad.autograd.graph import dump, saved_tensors_info, to_dot
from minigrad.testing import assert_close, gradcheck
from minigrad.utils.checkpoint import checkpoint


def leaf(*shape, dtype=mg.float64):
    return mg.randn(*shape, dtype=dtype, requires_grad=True)


# ----- the walk ---------------------------------------------------------------------------------
def test_node_reuse_accumulates_every_path():
    a = mg.tensor(3.0, requires_grad=True)
    b = a + a  # 2a
    c = b * b  # 4a^2, dc/da = 8a
    c.backward()
    assert a.grad.item() == pytest.approx(24.0)


def test_diamond_graph():
    x = mg.tensor(2.0, requires_grad=True)
    y = x * 3
    z = y.exp() + y.sin() + y * y  # three paths through y
    z.backward()
    expected = 3 * (np.exp(6.0) + np.cos(6.0) + 2 * 6.0)
    assert x.grad.item() == pytest.approx(expected)


def test_chain_of_100k_ops_backpropagates_without_recursion():
    x = mg.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0


def test_leaf_gradients_accumulate_across_backward_calls():
    x = leaf(3)
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    assert_close(x.grad, np.full(3, 5.0))


def test_gradients_of_shared_arrays_do_not_alias():
    # Add passes the same gradient to both inputs; a.grad and b.grad must not share memory
    a, b = leaf(3), leaf(3)
    (a.reshape(3) + b).sum().backward()
    a.grad.zero_()
    assert_close(b.grad, np.ones(3))
    assert not np.shares_memory(a.grad.data, b.grad.data)


def test_seed_gradient_is_not_aliased_into_grad():
    x = leaf(3)
    seed = mg.ones(3, dtype=mg.float64)
    (x + 0).backward(seed)
    (x + 0).backward(seed)  # accumulates into x.grad in place
    assert_close(seed, np.ones(3))
    assert_close(x.grad, np.full(3, 2.0))


def test_broadcast_gradient_is_reduced_to_the_input_shape():
    x, b = leaf(4, 3), leaf(3)
    (x + b).sum().backward()
    assert b.grad.shape == (3,)
    assert_close(b.grad, np.full(3, 4.0))


def test_backward_on_non_scalar_needs_gradient():
    x = leaf(2, 3)
    with pytest.raises(RuntimeError, match=r"scalar outputs.*\(2, 3\)"):
        (x * 2).backward()


def test_backward_gradient_shape_mismatch_names_both_shapes():
    x = leaf(2, 3)
    with pytest.raises(RuntimeError, match=r"\(3,\).*\(2, 3\)"):
        (x * 2).backward(mg.ones(3, dtype=mg.float64))


def test_backward_on_tensor_without_grad_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.ones(3).sum().backward()


# ----- freeing ---------------------------------------------------------------------------------
def test_second_backward_through_a_freed_graph_raises():
    x = leaf(3)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf(3)
    y = (x.exp() * 2).sum()
    y.backward(retain_graph=True)
    first = x.grad.clone()
    y.backward()
    assert_close(x.grad, 2 * first.data)


def test_saved_arrays_are_freed_after_backward():
    x = leaf(100)
    y = x.exp().tanh().sum()
    assert saved_tensors_info(y)[0] > 0
    y.backward()
    assert saved_tensors_info(y) == (0, 0)


def test_graph_is_collected_by_refcount_after_backward():
    x = leaf(10)
    y = (x * 2).exp().sum()
    ref = weakref.ref(y.grad_fn)
    y.backward()
    gc.disable()
    try:
        del y
        assert ref() is None
    finally:
        gc.enable()


def test_outputs_are_held_weakly():
    x = leaf(5)
    y = x.exp()
    z = y.sum()
    ref = weakref.ref(y)
    del y
    gc.collect()
    assert ref() is None  # the Sum node does not keep its input tensor alive
    z.backward()
    assert_close(x.grad, np.exp(x.data))


# ----- grad modes and hooks --------------------------------------------------------------------
def test_no_grad_records_nothing():
    x = leaf(3)
    with mg.no_grad():
        y = x * 2
        with mg.enable_grad():
            z = x * 3
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad
    assert mg.is_grad_enabled()


def test_no_grad_as_decorator_and_inference_mode():
    x = leaf(3)

    @mg.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    with mg.inference_mode():
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad


def test_set_grad_enabled():
    x = leaf(2)
    with mg.set_grad_enabled(False):
        assert not (x + 1).requires_grad
    assert (x + 1).requires_grad


def test_detach_shares_memory_and_cuts_the_graph():
    x = leaf(3)
    d = (x * 2).detach()
    assert not d.requires_grad and d.grad_fn is None
    y = x * 2
    assert np.shares_memory(y.detach().data, y.data)


def test_hooks_on_leaf_and_non_leaf():
    x = leaf(3)
    y = x * 2
    seen = []
    y.register_hook(lambda g: seen.append(g.clone()))
    handle = x.register_hook(lambda g: g * 10)  # replaces the leaf's gradient
    y.sum().backward()
    assert_close(seen[0], np.ones(3))
    assert_close(x.grad, np.full(3, 20.0))
    handle.remove()
    x.grad = None
    (x * 2).sum().backward()
    assert_close(x.grad, np.full(3, 2.0))


def test_leaf_hook_sees_the_total_gradient_once():
    x = leaf(2)
    calls = []
    x.register_hook(lambda g: calls.append(g.clone()))
    (x * 2 + x * 3).sum().backward()
    assert len(calls) == 1
    assert_close(calls[0], np.full(2, 5.0))


def test_retain_grad_on_non_leaf():
    x = leaf(3)
    y = x * 2
    z = y * y
    assert y.grad is None
    y.retain_grad()
    z.sum().backward()
    assert_close(y.grad, 2 * y.data)
    w = x * 3
    w.sum().backward()
    assert w.grad is None  # non-leaf grads are not kept unless asked


def test_requires_grad_only_for_floating_point():
    with pytest.raises(RuntimeError, match="floating-point"):
        mg.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(RuntimeError, match="int64"):
        mg.arange(3).requires_grad_()


# ----- in-place and version counters -----------------------------------------------------------
def test_inplace_on_saved_tensor_raises_naming_the_op():
    x = leaf(3)
    y = x.exp()  # Exp saves its output
    y.add_(1)
    with pytest.raises(RuntimeError, match=r"modified by an in-place operation by add_.*Exp"):
        y.sum().backward()


def test_inplace_through_a_view_bumps_the_shared_version():
    x = leaf(2, 3)
    y = x.sigmoid()  # saves its output
    with mg.no_grad():
        y[0].zero_()  # a view of y
    with pytest.raises(RuntimeError, match="in-place"):
        y.sum().backward()


def test_inplace_on_leaf_requiring_grad_is_refused():
    x = leaf(3)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        x.add_(1)
    with mg.no_grad():
        x.add_(1)  # allowed: this is how optimizers update parameters
    assert x._version == 1


def test_inplace_on_non_leaf_keeps_gradients_right():
    x = leaf(3)
    y = x * 2
    y.mul_(x)  # y = 2x * x
    y.add_(1)
    y.sum().backward()
    assert_close(x.grad, 4 * x.data)


def test_inplace_unary_methods_record_the_right_gradient():
    x = leaf(4)
    y = x * 1
    y.sin_()
    y.sum().backward()
    assert_close(x.grad, np.cos(x.data))


def test_setitem_gradients_flow_to_value_and_untouched_positions():
    x = leaf(5)
    v = leaf(2)
    y = x * 1
    y[1:3] = v * 3
    (y * mg.arange(5, dtype=mg.float64)).sum().backward()
    assert_close(x.grad, np.array([0.0, 0.0, 0.0, 3.0, 4.0]))
    assert_close(v.grad, np.array([3.0, 6.0]))


def test_setitem_builds_a_tensor_from_pieces():
    a, b = leaf(3), leaf(3)
    out = mg.zeros(2, 3, dtype=mg.float64)
    out[0] = a
    out[1] = b * 2
    out.sum().backward()
    assert_close(a.grad, np.ones(3))
    assert_close(b.grad, np.full(3, 2.0))


def test_advanced_indexing_repeated_indices_accumulate():
    x = leaf(4)
    idx = mg.tensor([0, 2, 0, 0])
    x[idx].sum().backward()
    assert_close(x.grad, np.array([3.0, 0.0, 1.0, 0.0]))


def test_inplace_shape_mismatch_raises_before_modifying():
    x = mg.zeros(3)
    with pytest.raises(RuntimeError, match=r"\(3,\).*\(2, 3\)"):
        x.add_(mg.ones(2, 3))
    assert_close(x, np.zeros(3))
    assert x._version == 0


def test_inplace_dtype_that_cannot_be_cast_raises():
    x = mg.zeros(3, dtype=mg.int64)
    with pytest.raises(RuntimeError, match="can't be cast"):
        x.add_(1.5)


# ----- higher order ------------------------------------------------------------------------------
def test_third_derivative_of_cube():
    x = mg.tensor(1.7, dtype=mg.float64, requires_grad=True)
    (g1,) = mg.grad(x ** 3, x, create_graph=True)
    (g2,) = mg.grad(g1, x, create_graph=True)
    (g3,) = mg.grad(g2, x)
    assert g1.item() == pytest.approx(3 * 1.7 ** 2)
    assert g2.item() == pytest.approx(6 * 1.7)
    assert g3.item() == pytest.approx(6.0)


def test_hessian_vector_product_of_a_small_mlp_matches_finite_differences():
    rng = np.random.default_rng(0)
    data = mg.tensor(rng.standard_normal((8, 3)))
    target = mg.tensor(rng.standard_normal((8, 1)))
    w1 = mg.tensor(rng.standard_normal((3, 5)) * 0.5, requires_grad=True)
    w2 = mg.tensor(rng.standard_normal((5, 1)) * 0.5, requires_grad=True)

    def loss_of(a, b):
        hidden = (data @ a).tanh()
        return ((hidden @ b - target) ** 2).mean()

    v1, v2 = rng.standard_normal((3, 5)), rng.standard_normal((5, 1))
    g1, g2 = mg.grad(loss_of(w1, w2), [w1, w2], create_graph=True)
    dot = (g1 * mg.tensor(v1)).sum() + (g2 * mg.tensor(v2)).sum()
    hv1, hv2 = mg.grad(dot, [w1, w2])

    eps = 1e-5

    def grads_at(shift):
        a = mg.tensor(w1.data + shift * v1, requires_grad=True)
        b = mg.tensor(w2.data + shift * v2, requires_grad=True)
        return mg.grad(loss_of(a, b), [a, b])

    plus, minus = grads_at(eps), grads_at(-eps)
    assert_close(hv1, (plus[0].data - minus[0].data) / (2 * eps), rtol=1e-5, atol=1e-7)
    assert_close(hv2, (plus[1].data - minus[1].data) / (2 * eps), rtol=1e-5, atol=1e-7)


def test_grad_returns_without_touching_dot_grad():
    x, w = leaf(3), leaf(3)
    (gx,) = mg.grad((x * w).sum(), x)
    assert_close(gx, w.data)
    assert x.grad is None and w.grad is None


def test_grad_allow_unused():
    x, y = leaf(2), leaf(2)
    with pytest.raises(RuntimeError, match="not to have been used"):
        mg.grad((x * 2).sum(), [x, y])
    gx, gy = mg.grad((x * 2).sum(), [x, y], allow_unused=True)
    assert gy is None
    assert_close(gx, np.full(2, 2.0))


def test_grad_with_respect_to_an_intermediate():
    x = leaf(3)
    y = x * 2
    z = (y ** 2).sum()
    (gy,) = mg.grad(z, y)
    assert_close(gy, 2 * y.data)


def test_refused_double_backward_is_a_clear_error():
    x = mg.tensor([0.0, 2.0, 3.0], dtype=mg.float64, requires_grad=True)
    (g,) = mg.grad(x.prod(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="double backward"):
        g.sum().backward()


# ----- anomaly detection -------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_detect_anomaly_names_the_forward_op():
    x = mg.tensor([-1.0, 1.0], requires_grad=True)
    with mg.autograd.detect_anomaly():
        with pytest.raises(RuntimeError, match=r"Sqrt returned nan"):
            x.sqrt()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_detect_anomaly_names_the_backward_op_and_where_it_was_created():
    x = mg.tensor([0.0, 1.0], requires_grad=True)
    with mg.autograd.detect_anomaly(check_nan=False):
        y = (x.sqrt() * 0 + x).sum()  # d sqrt / dx = inf at 0
    with mg.autograd.detect_anomaly():
        with pytest.raises(RuntimeError, match=r"(?s)Sqrt.backward returned nan or inf.*test_autograd.py"):
            y.backward()


# ----- checkpoint ------------------------------------------------------------------------------
def test_checkpoint_gives_the_same_gradients_with_fewer_saved_arrays():
    rng = np.random.default_rng(0)
    w = [mg.tensor(rng.standard_normal((16, 16)) * 0.3, requires_grad=True) for _ in range(4)]
    x = mg.tensor(rng.standard_normal((8, 16)), requires_grad=True)

    def block(h):
        for weight in w:
            h = (h @ weight).tanh()
        return h

    plain = block(x).sum()
    saved_plain = saved_tensors_info(plain)[0]
    plain.backward()
    expected = [p.grad.clone() for p in w] + [x.grad.clone()]
    for t in w + [x]:
        t.grad = None

    ckpt = checkpoint(block, x).sum()
    saved_ckpt = saved_tensors_info(ckpt)[0]
    ckpt.backward()
    for got, want in zip([p.grad for p in w] + [x.grad], expected):
        assert_close(got, want)
    assert saved_ckpt < saved_plain / 3, (saved_ckpt, saved_plain)


def test_checkpoint_replays_random_numbers():
    w = leaf(6)

    def noisy(h):
        return h * (mg.rand(6, dtype=mg.float64) > 0.5)

    mg.manual_seed(3)
    out = checkpoint(noisy, w * 1)
    mask = (out.data != 0)
    out.sum().backward()
    assert_close(w.grad, mask.astype(np.float64))


# ----- custom functions ---------------------------------------------------------------------------
class Cube(mg.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 3 * x ** 2


class ScaleBy(mg.autograd.Function):
    """A function with a non-tensor argument and a saved output."""

    @staticmethod
    def forward(ctx, x, factor):
        out = x.exp() * factor
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out, None


def test_custom_function_gradient_and_double_backward():
    x = leaf(4)
    assert gradcheck(Cube.apply, [x])
    (g,) = mg.grad(Cube.apply(x).sum(), x, create_graph=True)
    (gg,) = mg.grad(g.sum(), x)
    assert_close(gg, 6 * x.data)


def test_custom_function_with_saved_output_and_constant_argument():
    x = leaf(3)
    assert gradcheck(lambda t: ScaleBy.apply(t, 2.5), [x])
    assert ScaleBy.apply(x, 2.0).grad_fn.name() == "ScaleByBackward"


def test_custom_function_without_grad_returns_plain_tensor():
    with mg.no_grad():
        assert Cube.apply(leaf(2)).grad_fn is None


# ----- introspection ---------------------------------------------------------------------------
def test_dump_and_dot_describe_the_graph():
    x, w = leaf(2, 3), leaf(3, 4)
    y = (x @ w).relu().sum()
    text = dump(y)
    assert "Sum" in text and "Relu" in text and "MatMul" in text and "leaf float64 (3, 4)" in text
    dot = to_dot(y)
    assert dot.startswith("digraph") and dot.count("->") >= 4 and "MatMul" in dot


# ----- dtypes and promotion --------------------------------------------------------------------
def test_python_and_numpy_scalars_never_promote_float32():
    x = mg.ones(3)
    assert (x * 2.5).dtype == mg.float32
    assert (x * np.float64(2.5)).dtype == mg.float32
    assert (np.float64(2.5) * x).dtype == mg.float32
    assert (x + mg.tensor(1.0, dtype=mg.float64)).dtype == mg.float32  # 0-d tensors are weak
    assert (x + mg.ones(3, dtype=mg.float64)).dtype == mg.float64
    assert (mg.arange(3) * 1.5).dtype == mg.float32
    assert (mg.arange(3) / mg.arange(1, 4)).dtype == mg.float32


def test_default_dtypes_follow_torch():
    assert mg.tensor([1.0, 2.0]).dtype == mg.float32
    assert mg.tensor([1, 2]).dtype == mg.int64
    assert mg.tensor(np.array([1.0])).dtype == mg.float64
    assert mg.tensor([True]).dtype == mg.bool
    assert mg.arange(3).dtype == mg.int64 and mg.arange(0, 1, 0.5).dtype == mg.float32


def test_gradients_come_back_in_the_input_dtype():
    x32 = mg.randn(3, requires_grad=True)
    x64 = mg.randn(3, dtype=mg.float64, requires_grad=True)
    (x32 * x64).sum().backward()
    assert x32.grad.dtype == mg.float32 and x64.grad.dtype == mg.float64


def test_incompatible_shapes_show_both():
    with pytest.raises(RuntimeError, match=r"\(2, 3\) and \(4,\)"):
        mg.ones(2, 3) + mg.ones(4)
    with pytest.raises(RuntimeError, match=r"2x3 and 4x5"):
        mg.ones(2, 3) @ mg.ones(4, 5)


@pytest.mark.skipif(torch is None, reason="torch is not installed")
def test_mlp_gradients_match_torch():
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in [(16, 8), (8, 32), (32,), (32, 4)]]
    ours = [mg.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    labels = rng.integers(0, 4, 16)

    def loss(lib, x, w1, b1, w2):
        logits = (x @ w1 + b1).relu() @ w2
        return (logits.logsumexp(1) - logits[lib.arange(16), lib.tensor(labels)]).mean()

    loss(mg, *ours).backward()
    loss(torch, *theirs).backward()
    for a, b in zip(ours, theirs):
        assert_close(a.grad, b.grad, rtol=1e-10, atol=1e-12)
