"""Checking gradients against numerical derivatives, and comparing tensors.

``gradcheck`` compares the engine's vector-Jacobian products with central differences in float64:

* random mode (default): for random cotangents v on the outputs and random directions u on each
  input, the directional derivative (L(x + eps u) - L(x - eps u)) / 2 eps of L = <v, f(x)> must
  equal <grad_x L, u>. A wrong gradient almost surely fails, and the cost does not grow with the
  input size. Random cotangents matter: an all-ones cotangent hides bugs that sum to zero.
* full mode (``mode="full"``): the whole Jacobian, one column per perturbed input element and one
  row per one-hot cotangent; for small inputs, and for locating an error.

``gradgradcheck`` runs the same check on the gradient function itself (second derivatives).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from ..autograd.engine import grad as autograd_grad
from ..autograd.grad_mode import enable_grad, no_grad
from ..tensor import Tensor


class GradcheckError(AssertionError):
    """A gradient differs from its numerical estimate (the message says where and by how much)."""


def _to_numpy(value) -> np.ndarray:
    if isinstance(value, (np.ndarray, np.generic, int, float, bool)):
        return np.asarray(value)
    if isinstance(value, Tensor):
        data = value._data
        return data if isinstance(data, np.ndarray) else data.get()
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        return value.detach().cpu().numpy()
    if hasattr(value, "get") and not isinstance(value, dict):  # a cupy array
        return value.get()
    return np.asarray(value)


_DEFAULT_TOLERANCES = {  # (rtol, atol), as torch.testing.assert_close
    np.dtype(np.float16): (1e-3, 1e-5),
    np.dtype(np.float32): (1.3e-6, 1e-5),
    np.dtype(np.float64): (1e-7, 1e-7),
}


def assert_close(actual, expected, rtol: float | None = None, atol: float | None = None,
                 equal_nan: bool = False, check_dtype: bool = True, msg: str = "") -> None:
    """Assert ``|actual - expected| <= atol + rtol * |expected|`` elementwise, with a helpful report.

    Accepts minigrad tensors, NumPy/CuPy arrays, torch tensors and scalars. Default tolerances
    depend on the dtype, as in ``torch.testing.assert_close``.
    """
    a, e = _to_numpy(actual), _to_numpy(expected)
    if a.shape != e.shape:
        raise AssertionError(f"{msg}shapes differ: actual {a.shape}, expected {e.shape}")
    if check_dtype and isinstance(actual, Tensor) and isinstance(expected, Tensor) and a.dtype != e.dtype:
        raise AssertionError(f"{msg}dtypes differ: actual {a.dtype}, expected {e.dtype}")
    if a.dtype.kind in "biu" and e.dtype.kind in "biu":
        if not np.array_equal(a, e):
            bad = np.argwhere(a != e)
            raise AssertionError(f"{msg}integer tensors differ at {len(bad)} positions, first at {tuple(bad[0])}: "
                                 f"{a[tuple(bad[0])]} != {e[tuple(bad[0])]}")
        return
    default = _DEFAULT_TOLERANCES.get(np.promote_types(a.dtype, e.dtype), (1.3e-6, 1e-5))
    rtol = default[0] if rtol is None else rtol
    atol = default[1] if atol is None else atol
    a64, e64 = a.astype(np.float64), e.astype(np.float64)
    close = np.isclose(a64, e64, rtol=rtol, atol=atol, equal_nan=equal_nan)
    if close.all():
        return
    diff = np.abs(a64 - e64)
    diff = np.where(np.isnan(diff), np.inf, diff)
    worst = np.unravel_index(np.argmax(np.where(close, -1, diff)), a.shape) if a.ndim else ()
    rel = diff / np.maximum(np.abs(e64), np.finfo(np.float64).tiny)
    raise AssertionError(
        f"{msg}tensors are not close: {int((~close).sum())} of {close.size} elements differ "
        f"(rtol={rtol}, atol={atol}).\n"
        f"  greatest difference at index {tuple(int(i) for i in worst)}: "
        f"actual {a64[worst]!r}, expected {e64[worst]!r}\n"
        f"  max abs diff {float(diff.max()):.3e}, max rel diff {float(rel[np.isfinite(rel)].max(initial=0)):.3e}"
    )


def _as_float64_leaves(inputs: Sequence) -> list:
    """Fresh float64 copies of the floating inputs (keeping requires_grad), others as they are."""
    out = []
    for x in inputs:
        if isinstance(x, Tensor) and x.is_floating_point():
            copy = Tensor._make(x._data.astype(np.float64), None, 0, False, None)
            copy.requires_grad = x.requires_grad
            out.append(copy)
        else:
            out.append(x)
    return out


def _outputs(fn, inputs) -> list:
    out = fn(*inputs)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    return [o for o in outs if isinstance(o, Tensor) and o.is_floating_point()]


def _random_like(array, rng) -> np.ndarray:
    return np.asarray(rng.standard_normal(array.shape))


def gradcheck(fn: Callable, inputs: Sequence, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              mode: str = "random", n_directions: int = 2, seed: int = 0, raise_exception: bool = True) -> bool:
    """Check ``fn``'s gradients w.r.t. every input that requires grad against central differences.

    ``fn`` takes the inputs and returns a Tensor or a tuple of Tensors. Floating inputs are copied
    to float64 first (finite differences need it). Returns True, or raises ``GradcheckError``
    (returns False when ``raise_exception=False``).
    """
    if mode not in ("random", "full"):
        raise ValueError(f"gradcheck mode must be 'random' or 'full', got {mode!r}")
    inputs = _as_float64_leaves(inputs)
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad")
    rng = np.random.default_rng(seed)
    try:
        if mode == "random":
            _check_random(fn, inputs, wrt, eps, atol, rtol, n_directions, rng)
        else:
            _check_full(fn, inputs, wrt, eps, atol, rtol)
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def _scalar_loss(fn, inputs, cotangents) -> float:
    with no_grad():
        outs = _outputs(fn, inputs)
    return float(sum(float(np.sum(_to_numpy(o).astype(np.float64) * v)) for o, v in zip(outs, cotangents)))


def _analytic(fn, inputs, wrt, cotangents, create_graph=False):
    outs = _outputs(fn, inputs)
    if len(outs) != len(cotangents):
        raise GradcheckError("gradcheck: fn returned a different number of outputs on a second call")
    pairs = [(o, v) for o, v in zip(outs, cotangents) if o.requires_grad]
    if not pairs:
        return [None] * len(wrt)
    seeds = [Tensor._make(np.asarray(v, dtype=o._data.dtype), None, 0, False, None) for o, v in pairs]
    grads = autograd_grad([o for o, _ in pairs], [inputs[i] for i in wrt], seeds, allow_unused=True,
                          create_graph=create_graph)
    return list(grads)


def _perturbed(inputs, index, delta):
    out = list(inputs)
    x = inputs[index]
    out[index] = Tensor._make(np.asarray(x._data + delta), None, 0, False, None)
    return out


def _check_random(fn, inputs, wrt, eps, atol, rtol, n_directions, rng):
    with no_grad():
        outs = _outputs(fn, inputs)
    cotangents = [_random_like(o._data, rng) for o in outs]
    grads = _analytic(fn, inputs, wrt, cotangents)
    for g, i in zip(grads, wrt):
        x = inputs[i]
        g_np = np.zeros(x.shape) if g is None else _to_numpy(g).astype(np.float64)
        if g_np.shape != tuple(x.shape):
            raise GradcheckError(
                f"gradient for input {i} has shape {g_np.shape}, but the input has shape {tuple(x.shape)}"
            )
        for _ in range(n_directions):
            u = _random_like(x._data, rng)
            plus = _scalar_loss(fn, _perturbed(inputs, i, eps * u), cotangents)
            minus = _scalar_loss(fn, _perturbed(inputs, i, -eps * u), cotangents)
            numeric = (plus - minus) / (2 * eps)
            analytic = float(np.sum(g_np * u))
            if not math.isclose(analytic, numeric, rel_tol=rtol, abs_tol=atol * max(1.0, math.sqrt(x._data.size))):
                raise GradcheckError(
                    f"gradient for input {i} (shape {tuple(x.shape)}) disagrees with central differences along a "
                    f"random direction: analytic {analytic:.8g}, numerical {numeric:.8g} "
                    f"(difference {abs(analytic - numeric):.3g}, eps={eps}, atol={atol}, rtol={rtol})"
                )


def _check_full(fn, inputs, wrt, eps, atol, rtol):
    with no_grad():
        outs = _outputs(fn, inputs)
    sizes = [o._data.size for o in outs]
    n_out = sum(sizes)
    for i in wrt:
        x = inputs[i]
        n_in = x._data.size
        numeric = np.zeros((n_out, n_in))
        for j in range(n_in):
            delta = np.zeros(n_in)
            delta[j] = eps
            delta = delta.reshape(x.shape)
            with no_grad():
                plus = _outputs(fn, _perturbed(inputs, i, delta))
                minus = _outputs(fn, _perturbed(inputs, i, -delta))
            numeric[:, j] = np.concatenate(
                [(_to_numpy(p).astype(np.float64) - _to_numpy(m).astype(np.float64)).ravel() / (2 * eps)
                 for p, m in zip(plus, minus)]
            )
        analytic = np.zeros((n_out, n_in))
        row = 0
        for k in range(len(outs)):
            for r in range(sizes[k]):
                cotangents = [np.zeros(out._data.shape) for out in outs]
                cotangents[k].reshape(-1)[r] = 1.0
                g = _analytic(fn, inputs, [i], cotangents)[0]
                if g is not None:
                    analytic[row] = _to_numpy(g).astype(np.float64).ravel()
                row += 1
        if not np.allclose(analytic, numeric, rtol=rtol, atol=atol):
            bad = np.unravel_index(np.argmax(np.abs(analytic - numeric)), analytic.shape)
            raise GradcheckError(
                f"Jacobian of output element {bad[0]} w.r.t. element {bad[1]} of input {i} (shape {tuple(x.shape)}): "
                f"analytic {analytic[bad]:.8g}, numerical {numeric[bad]:.8g}\n"
                f"analytic:\n{analytic}\nnumerical:\n{numeric}"
            )


def gradgradcheck(fn: Callable, inputs: Sequence, grad_outputs: Sequence | None = None, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, mode: str = "random", seed: int = 0,
                  raise_exception: bool = True) -> bool:
    """Check second derivatives: gradcheck applied to (inputs, v) -> d<v, fn(inputs)>/d inputs."""
    inputs = _as_float64_leaves(inputs)
    rng = np.random.default_rng(seed + 1)
    with no_grad():
        outs = _outputs(fn, inputs)
    if grad_outputs is None:
        grad_outputs = [Tensor._make(np.asarray(rng.standard_normal(o.shape)), None, 0, False, None) for o in outs]
    cot = [Tensor._make(_to_numpy(g).astype(np.float64), None, 0, False, None) for g in grad_outputs]
    for c in cot:
        c.requires_grad = True
    n = len(inputs)
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]

    def first_derivative(*args):
        xs, vs = list(args[:n]), args[n:]
        # the finite-difference passes hand in plain copies: make them differentiable again
        xs = [x.detach().requires_grad_() if i in wrt and not x.requires_grad else x for i, x in enumerate(xs)]
        with enable_grad():
            outputs = _outputs(fn, xs)
            pairs = [(o, v) for o, v in zip(outputs, vs) if o.requires_grad]
            grads = autograd_grad([o for o, _ in pairs], [xs[i] for i in wrt], [v for _, v in pairs],
                                  create_graph=True, allow_unused=True)
        return tuple(g if g is not None else xs[i] * 0 for g, i in zip(grads, wrt))

    return gradcheck(first_derivative, list(inputs) + cot, eps=eps, atol=atol, rtol=rtol, mode=mode, seed=seed,
                     raise_exception=raise_exception)
