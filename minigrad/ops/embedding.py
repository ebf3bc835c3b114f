"""``embedding`` (a learned lookup table) and ``one_hot``.

embedding(idx, W) = W[idx]: the rows of W at the given indices, output shape idx.shape + (D,).
Its gradient scatter-adds the output gradient back into a (V, D) zero matrix, so an index used
k times receives the sum of its k gradients. No gradient reaches the ``padding_idx`` row (its vector
stays what it is, e.g. zero). ``scale_grad_by_freq`` divides each occurrence's gradient by how
often its index appears in the batch. ``max_norm`` renormalises, in place, the referenced rows
whose norm exceeds it before the lookup (as torch, outside autograd).
"""

from __future__ import annotations

import math

from .. import dtypes
from ..autograd.grad_mode import no_grad
from ..autograd.op import Op
from ..backend import get_array_module
from ..tensor import Tensor
from ._common import check_same_device, constant


class Embedding(Op):
    """y = W[index]. Backward scatter-adds ``scale * gy`` into the rows (``scale`` = None: all ones).

    ``scale`` (one factor per index position) zeroes the padding positions and applies
    ``scale_grad_by_freq``; it belongs to the definition of the gradient, not of the output.
    """

    def __init__(self, index, scale, by_freq=False):
        self.index, self.scale, self.by_freq = index, scale, by_freq

    def forward(self, W):
        self.rows = W.shape[0]
        return get_array_module(W).take(W, self.index, axis=0)

    def backward(self, gy):
        return EmbeddingBackward(self.index, self.rows, self.scale, self.by_freq)(gy)


class EmbeddingBackward(Op):
    """gW = zeros(V, D) with gW[index[m]] += scale[m] * gy[m] (repeated indices accumulate)."""

    def __init__(self, index, rows, scale, by_freq=False):
        self.index, self.rows, self.scale, self.by_freq = index, rows, scale, by_freq

    def forward(self, gy):
        xp = get_array_module(gy)
        D = gy.shape[-1]
        g = gy.reshape(-1, D)
        ct = dtypes.DEFAULT_FLOAT if gy.dtype.itemsize < 4 else gy.dtype  # accumulate halves in float32
        if self.scale is not None:
            g = g * self.scale.reshape(-1, 1)
        out = xp.zeros((self.rows, D), dtype=ct)
        # add.at on the flat view: one element per (index, column) pair, so NumPy takes its fast
        # 1-d path (several times faster than add.at over rows, or sort + reduceat)
        flat = (self.index.reshape(-1, 1).astype(dtypes.DEFAULT_INT) * D + xp.arange(D)).reshape(-1)
        xp.add.at(out.reshape(-1), flat, g.reshape(-1).astype(ct, copy=False))
        return out.astype(gy.dtype, copy=False)

    def backward(self, ggW):
        if self.by_freq:
            # the frequency scaling is a rule for the gradient, not the derivative of any function, so
            # there is no exact second derivative to give (torch returns one that drops the scaling)
            raise RuntimeError("double backward through embedding with scale_grad_by_freq=True is not supported")
        # the adjoint of the scatter: gather the rows, times the same per-position factor
        gg = Embedding(self.index, None)(ggW)
        if self.scale is not None:
            gg = gg * constant(self.scale.reshape(self.index.shape + (1,)))
        return gg


def _check_index(name: str, input: Tensor) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: argument 'input' must be a Tensor, not {type(input).__name__}")
    if input._data.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected an integer (int64 or int32) index tensor, got {input.dtype}")


def _renorm_(weight: Tensor, index, max_norm: float, norm_type: float) -> None:
    """Scale the rows of ``weight`` referenced by ``index`` whose ``norm_type``-norm exceeds ``max_norm``."""
    from .inplace import _bump

    xp = get_array_module(weight._data)
    rows = xp.unique(index.reshape(-1))
    sub = weight._data[rows]
    a = xp.abs(sub.astype(dtypes.DEFAULT_FLOAT) if sub.dtype.itemsize < 4 else sub)
    if norm_type == math.inf:
        norms = a.max(axis=1)
    elif norm_type == 1:
        norms = a.sum(axis=1)
    else:
        norms = (a**norm_type).sum(axis=1) ** (1.0 / norm_type)
    big = norms > max_norm
    if bool(big.any()):
        scale = max_norm / (norms[big] + 1e-7)  # torch's 1e-7 keeps the new norm just below max_norm
        weight._data[rows[big]] = (sub[big] * scale[:, None]).astype(weight._data.dtype, copy=False)
        _bump(weight, "embedding_renorm_")


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Look up rows of ``weight`` (V, D) at the integer indices ``input`` (any shape): output input.shape + (D,).

    ``padding_idx``: that row gets no gradient. ``max_norm``: referenced rows with a larger
    ``norm_type``-norm are rescaled in place first. ``scale_grad_by_freq``: gradients are divided by
    each index's count in ``input``. ``sparse`` is accepted for torch compatibility; the gradient
    is always a dense (V, D) tensor.
    """
    name = "embedding"
    _check_index(name, input)
    if not isinstance(weight, Tensor):
        raise TypeError(f"{name}: argument 'weight' must be a Tensor, not {type(weight).__name__}")
    check_same_device(name, input, weight)
    if weight.ndim != 2:
        raise RuntimeError(f"{name}: 'weight' must be 2-D (num_embeddings, embedding_dim), got shape "
                           f"{tuple(weight.shape)}")
    V = weight.shape[0]
    index = input._data
    if index.size:
        lo, hi = int(index.min()), int(index.max())
        if lo < 0 or hi >= V:
            raise IndexError(f"{name}: index {lo if lo < 0 else hi} is out of range for a weight with {V} rows "
                             f"(valid indices are 0..{V - 1})")
    padding_idx = _padding_index(name, padding_idx, V)
    if max_norm is not None and index.size:
        with no_grad():
            _renorm_(weight, index, float(max_norm), float(norm_type))
    scale = None
    xp = get_array_module(index)
    ct = weight._data.dtype
    if scale_grad_by_freq and index.size:
        counts = xp.bincount(index.reshape(-1), minlength=V)
        scale = (1.0 / counts[index]).astype(ct)
    if padding_idx is not None:
        keep = index != padding_idx
        scale = keep.astype(ct) if scale is None else scale * keep
    return Embedding(index, scale, bool(scale_grad_by_freq))(weight)


def _padding_index(name: str, padding_idx, rows: int):
    if padding_idx is None:
        return None
    if not -rows <= padding_idx < rows:
        raise ValueError(f"{name}: padding_idx must be within num_embeddings ({rows}), got {padding_idx}")
    return padding_idx + rows if padding_idx < 0 else padding_idx


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 tensor of shape tensor.shape + (num_classes,), 1 at each value's position (num_classes=-1: max + 1)."""
    _check_index("one_hot", tensor)
    data = tensor._data
    xp = get_array_module(data)
    if num_classes == -1:
        if data.size == 0:
            raise RuntimeError("one_hot: can not infer the number of classes from an empty tensor; pass num_classes")
        num_classes = int(data.max()) + 1
    elif num_classes < -1:
        raise RuntimeError(f"one_hot: num_classes should be -1 or a non-negative number, got {num_classes}")
    if data.size:
        lo, hi = int(data.min()), int(data.max())
        if lo < 0:
            raise RuntimeError(f"one_hot: class values must be non-negative, got {lo}")
        if hi >= num_classes:
            raise RuntimeError(f"one_hot: class values must be smaller than num_classes ({num_classes}), got {hi}")
    out = (data[..., None] == xp.arange(num_classes)).astype(dtypes.DEFAULT_INT)
    return constant(out)
