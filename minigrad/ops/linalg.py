"""Linear algebra: matmul (batched, broadcasting), mm, bmm, einsum, outer, dot.

Everything reaches BLAS: a batch of inputs times one weight matrix is reshaped into a single 2-D
GEMM, forward and backward, instead of a loop of small products.
"""

from __future__ import annotations

import string

import numpy as np

from ..autograd.op import Op
from ..backend import get_array_module
from ..tensor import Tensor
from ._common import binary_operands, check_same_device


def _mm(x, w):
    """x @ w for x of shape (..., n, k) and a 2-D w: one GEMM over all leading rows."""
    if x.ndim > 2 and w.ndim == 2 and x.flags.c_contiguous:
        return (x.reshape(-1, x.shape[-1]) @ w).reshape(x.shape[:-1] + (w.shape[-1],))
    return x @ w


class MatMul(Op):
    """z = x @ y for x, y of rank >= 2 with broadcast batch dims.

    dz/dx = gz @ y^T and dz/dy = x^T @ gz; when y is a plain matrix, the batch of x is folded into
    the rows so dL/dy is one GEMM (and the engine sums nothing).
    """

    def forward(self, x, y):
        self.save_inputs(0, 1)
        return _mm(x, y)

    def backward(self, gz):
        x, y = self.saved_inputs
        gx = matmul(gz, y.mT) if self.needs_input_grad[0] else None
        gy = None
        if self.needs_input_grad[1]:
            if y.ndim == 2 and x.ndim > 2:
                gy = matmul(x.reshape(-1, x.shape[-1]).mT, gz.reshape(-1, gz.shape[-1]))
            else:
                gy = matmul(x.mT, gz)
        return gx, gy


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """Matrix product with torch's rules for 1-D operands and broadcasting of batch dims."""
    if input.ndim == 0 or other.ndim == 0:
        raise RuntimeError(
            f"both arguments to matmul need to be at least 1D, but they are {input.ndim}D and {other.ndim}D"
        )
    a, b = binary_operands(input, other, "matmul")
    k_a = a.shape[-1]
    k_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if k_a != k_b:
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({_show(a.shape)} and {_show(b.shape)}): "
            f"inner dimensions {k_a} and {k_b} differ"
        )
    if a.ndim > 2 and b.ndim > 2:
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise RuntimeError(
                f"matmul: batch dimensions of {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast"
            ) from None
    squeeze_front = a.ndim == 1
    squeeze_back = b.ndim == 1
    if squeeze_front:
        a = a.unsqueeze(0)
    if squeeze_back:
        b = b.unsqueeze(-1)
    out = MatMul()(a, b)
    if squeeze_back:
        out = out.squeeze(-1)
    if squeeze_front:
        out = out.squeeze(-2 if out.ndim > 1 else 0)
    return out


def _show(shape) -> str:
    return "x".join(str(s) for s in shape) if len(shape) == 2 else str(tuple(shape))


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm expects 2-D tensors, got shapes {tuple(input.shape)} and {tuple(mat2.shape)}")
    return matmul(input, mat2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError(f"bmm expects 3-D tensors, got shapes {tuple(input.shape)} and {tuple(mat2.shape)}")
    if input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"bmm: batch sizes differ: {tuple(input.shape)} and {tuple(mat2.shape)}")
    return matmul(input, mat2)


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    if input.ndim != 1 or vec2.ndim != 1:
        raise RuntimeError(f"outer expects 1-D tensors, got shapes {tuple(input.shape)} and {tuple(vec2.shape)}")
    return input.unsqueeze(1) * vec2.unsqueeze(0)


ger = outer


def dot(input: Tensor, other: Tensor) -> Tensor:
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    if input.shape != other.shape:
        raise RuntimeError(
            f"inconsistent tensor size, expected tensor [{input.shape[0]}] and src [{other.shape[0]}] "
            "to have the same number of elements"
        )
    return matmul(input, other)


inner = dot


# ----------------------------------------------------------------------------------------------
# einsum
# ----------------------------------------------------------------------------------------------
def _parse_einsum(equation: str, shapes) -> tuple[list[str], str]:
    """Explicit subscripts, one letter per dim (``...`` expanded), and the output subscripts."""
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise RuntimeError(f"einsum(): the equation has {len(terms)} operands but {len(shapes)} tensors were given")
    used = set(equation) - set(".,->")
    free = [c for c in string.ascii_letters if c not in used]
    n_ellipsis = max((len(s) - (len(t) - 3) for t, s in zip(terms, shapes) if "..." in t), default=0)
    ell = "".join(free[:n_ellipsis])
    explicit = []
    for t, s in zip(terms, shapes):
        if "..." in t:
            k = len(s) - (len(t) - 3)
            t = t.replace("...", ell[n_ellipsis - k :] if k else "")
        if len(t) != len(s):
            raise RuntimeError(f"einsum(): subscripts '{t}' do not match an operand of shape {tuple(s)}")
        explicit.append(t)
    if arrow:
        out = rhs.replace("...", ell)
    else:
        counts = {}
        for t in explicit:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    return explicit, out


class Einsum(Op):
    """Any einsum; the gradient of each operand is another einsum of the output gradient with the
    other operands (repeated subscripts handled with identity matrices, summed-out ones by broadcast)."""

    def __init__(self, terms, out):
        self.terms, self.out = terms, out

    def forward(self, *xs):
        self.save_inputs(*range(len(xs)))
        self.shapes = [x.shape for x in xs]
        xp = get_array_module(xs[0])
        return xp.einsum(",".join(self.terms) + "->" + self.out, *xs, optimize=len(xs) > 2)

    def backward(self, gz):
        xs = self.saved_inputs
        grads = []
        for i, need in enumerate(self.needs_input_grad):
            grads.append(self._grad_of(i, gz, xs) if need else None)
        return tuple(grads)

    def _grad_of(self, i, gz, xs):
        from .creation import eye

        target = self.terms[i]
        sizes = {}
        for t, s in zip(self.terms, self.shapes):
            sizes.update(zip(t, s))
        used = set("".join(self.terms) + self.out)
        free = iter(c for c in string.ascii_letters if c not in used)
        # make the target's subscripts unique: 'ii' -> 'ij' plus an identity linking i and j
        unique, extra_terms, extra_ops, seen = "", [], [], set()
        for c in target:
            if c in seen:
                fresh = next(free)
                unique += fresh
                extra_terms.append(c + fresh)
                extra_ops.append(eye(sizes[c], dtype=gz.dtype, device=gz.device))
            else:
                unique += c
                seen.add(c)
        terms = [self.out] + [t for j, t in enumerate(self.terms) if j != i] + extra_terms
        ops = [gz] + [x for j, x in enumerate(xs) if j != i] + extra_ops
        available = set("".join(terms))
        present = "".join(c for c in unique if c in available)
        g = einsum(",".join(terms) + "->" + present, *ops)
        if present != unique:  # subscripts summed out in forward come back by broadcasting
            shape = [sizes.get(c, 1) if c in present else 1 for c in unique]
            full = tuple(sizes[c] if c in sizes else sizes[target[unique.index(c)]] for c in unique)
            g = g.reshape(shape).expand(full)
        return g


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation, e.g. ``einsum('bij,bjk->bik', a, b)``; differentiable to any order."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise RuntimeError("einsum(): must provide at least one operand")
    check_same_device("einsum", *operands)
    if any(o._data.dtype != operands[0]._data.dtype for o in operands):
        from .. import dtypes

        common = dtypes.result_type(*operands)
        operands = tuple(o.to(common) for o in operands)
    terms, out = _parse_einsum(equation, [o.shape for o in operands])
    sizes = {}
    for t, o in zip(terms, operands):
        for c, n in zip(t, o.shape):
            if sizes.setdefault(c, n) != n and n != 1 and sizes[c] != 1:
                raise RuntimeError(
                    f"einsum(): subscript '{c}' has size {n} in one operand and {sizes[c]} in another "
                    f"(shapes {[tuple(o.shape) for o in operands]})"
                )
    return Einsum(terms, out)(*operands)


class Linear(Op):
    """y = x W^T + b for x of shape (..., in), W (out, in), b (out,) or absent: one GEMM over all rows.

    dL/dx = gy W, dL/dW = gy_rows^T x_rows and dL/db = sum of gy over the rows, each written with
    minigrad ops (differentiable again). dL/dW comes out of its GEMM already in W's (out, in) layout:
    as ``matmul(x, W.mT)`` the weight's gradient would be the transpose of x^T gy, a strided view
    that every optimizer step had to copy (on the 784-1024-1024-10 MLP, ~15 ms of a ~45 ms step).
    """

    def forward(self, x, w, b=None):
        self.save_inputs(0, 1)
        self.has_bias = b is not None
        y = _mm(x, w.T)
        if b is not None:
            y += b
        return y

    def backward(self, gy):
        x, w = self.saved_inputs
        rows = gy.reshape(-1, gy.shape[-1])
        gx = matmul(gy, w) if self.needs_input_grad[0] else None
        gw = matmul(rows.mT, x.reshape(-1, x.shape[-1])) if self.needs_input_grad[1] else None
        if not self.has_bias:
            return gx, gw
        gb = rows.sum(0) if self.needs_input_grad[2] else None
        return gx, gw, gb


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = input @ weight^T + bias, for weight of shape (out_features, in_features)."""
    if input.shape[-1] != weight.shape[-1]:
        raise RuntimeError(
            f"linear: input has {input.shape[-1]} features (shape {tuple(input.shape)}) but the weight expects "
            f"{weight.shape[-1]} (weight shape {tuple(weight.shape)})"
        )
    if weight.ndim != 2 or (bias is not None and tuple(bias.shape) != (weight.shape[0],)):
        raise RuntimeError(
            f"linear: weight must be (out_features, in_features) and bias (out_features,), got weight "
            f"{tuple(weight.shape)} and bias {None if bias is None else tuple(bias.shape)}"
        )
    operands = (input, weight) if bias is None else (input, weight, bias)
    check_same_device("linear", *operands)
    if input.ndim == 0 or any(t._data.dtype != input._data.dtype for t in operands):
        out = matmul(input, weight.mT)  # mixed dtypes: matmul's promotion rules
        return out if bias is None else out + bias
    return Linear()(*operands)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y_k = input1^T weight_k input2 + bias_k."""
    out = einsum("...i,kij,...j->...k", input1, weight, input2)
    return out if bias is None else out + bias
