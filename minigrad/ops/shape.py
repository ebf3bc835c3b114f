"""Shape ops: reshape, permute, expand, squeeze, cat/stack, split, flip, roll, repeat ...

Most are views in NumPy; their outputs share memory and the version counter with the input, so
an in-place change through a view is seen by the version checks of whoever saved the base.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..autograd.op import Op
from ..backend import get_array_module
from ..tensor import Tensor
from ._common import broadcast_shapes, check_same_device, normalize_dim, normalize_dims


def _shape_arg(shape: Sequence) -> tuple:
    """Accept ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    elif len(shape) == 1 and hasattr(shape[0], "__len__") and not isinstance(shape[0], Tensor):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def _infer_shape(shape: tuple, size: int, original: tuple) -> tuple:
    """Resolve one -1 in ``shape``; a clear error if the element count does not match."""
    if shape.count(-1) > 1:
        raise RuntimeError(f"only one dimension can be inferred, got shape {list(shape)}")
    known = math.prod(s for s in shape if s != -1)
    if -1 in shape:
        if known == 0 or size % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {size} (shape {tuple(original)})")
        shape = tuple(size // known if s == -1 else s for s in shape)
    if math.prod(shape) != size or any(s < 0 for s in shape):
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {size} (shape {tuple(original)})")
    return shape


# ----------------------------------------------------------------------------------------------
class Reshape(Op):
    is_view = True

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.x_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, gy):
        return Reshape(self.x_shape)(gy)


class Permute(Op):
    is_view = True

    def __init__(self, dims):
        self.dims = dims

    def forward(self, x):
        return x.transpose(self.dims)

    def backward(self, gy):
        inverse = tuple(np.argsort(self.dims).tolist())
        return Permute(inverse)(gy)


class BroadcastTo(Op):
    """A read-only broadcast view; the gradient sums over the broadcast dims."""

    is_view = True

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.x_shape = x.shape
        return get_array_module(x).broadcast_to(x, self.shape)

    def backward(self, gy):
        return sum_to(gy, self.x_shape)


class SumTo(Op):
    """Sum a broadcast array back to ``shape`` (the engine's unbroadcast; adjoint of BroadcastTo)."""

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        self.x_shape = x.shape
        lead = x.ndim - len(self.shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, s in enumerate(self.shape) if s == 1 and x.shape[lead + i] != 1
        )
        y = x.sum(axis=axes, keepdims=True) if axes else x
        if lead:
            y = y.reshape(self.shape)
        return y

    def backward(self, gy):
        return broadcast_to(gy, self.x_shape)


class Flip(Op):
    is_view = True

    def __init__(self, dims):
        self.dims = dims

    def forward(self, x):
        return get_array_module(x).flip(x, self.dims)

    def backward(self, gy):
        return Flip(self.dims)(gy)


class Roll(Op):
    def __init__(self, shifts, dims):
        self.shifts, self.dims = shifts, dims

    def forward(self, x):
        return get_array_module(x).roll(x, self.shifts, self.dims)

    def backward(self, gy):
        back = tuple(-s for s in self.shifts) if isinstance(self.shifts, tuple) else -self.shifts
        return Roll(back, self.dims)(gy)


class Tile(Op):
    """NumPy's tile (torch's ``repeat``); the gradient sums the copies."""

    def __init__(self, reps):
        self.reps = reps

    def forward(self, x):
        self.x_shape = x.shape
        return get_array_module(x).tile(x, self.reps)

    def backward(self, gy):
        x_shape = (1,) * (len(self.reps) - len(self.x_shape)) + tuple(self.x_shape)
        split = []
        for r, s in zip(self.reps, x_shape):
            split += [r, s]
        g = gy.reshape(split).sum(tuple(range(0, len(split), 2)))
        return g.reshape(self.x_shape)


class Concat(Op):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, *xs):
        self.sizes = [x.shape[self.axis] for x in xs]
        return get_array_module(xs[0]).concatenate(xs, axis=self.axis)

    def backward(self, gy):
        bounds = np.cumsum(self.sizes)[:-1].tolist()
        return Split(bounds, self.axis)(gy)


class Stack(Op):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, *xs):
        return get_array_module(xs[0]).stack(xs, axis=self.axis)

    def backward(self, gy):
        return unbind(gy, self.axis)


class Split(Op):
    """Cut along ``axis`` at ``bounds`` (indices), returning views."""

    is_view = True

    def __init__(self, bounds, axis):
        self.bounds, self.axis = list(bounds), axis

    def forward(self, x):
        return tuple(get_array_module(x).split(x, self.bounds, axis=self.axis))

    def backward(self, *gys):
        return Concat(self.axis)(*gys)


class Contiguous(Op):
    def forward(self, x):
        return get_array_module(x).ascontiguousarray(x)

    def backward(self, gy):
        return gy


# ----------------------------------------------------------------------------------------------
def reshape(input: Tensor, *shape) -> Tensor:
    """The same elements in a new shape (one dim may be -1); a view when memory allows."""
    shape = _infer_shape(_shape_arg(shape), input._data.size, input._data.shape)
    if shape == input._data.shape:
        return input
    return Reshape(shape)(input)


def view(input: Tensor, *shape) -> Tensor:
    """Like reshape, but never copies: an error if the memory layout does not allow a view."""
    if len(shape) == 1 and not isinstance(shape[0], (tuple, list, int)) and not hasattr(shape[0], "__len__"):
        return input.to(shape[0])  # view(dtype)
    shape = _infer_shape(_shape_arg(shape), input._data.size, input._data.shape)
    probe = input._data.view()
    try:
        probe.shape = shape
    except AttributeError:
        raise RuntimeError(
            f"view size {shape} is not compatible with input tensor's size and stride (shape "
            f"{tuple(input.shape)}, not contiguous); use .reshape(...) instead"
        ) from None
    return reshape(input, shape)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    if input.ndim == 0:
        return reshape(input, (1,))
    start, end = normalize_dim(start_dim, input.ndim), normalize_dim(end_dim, input.ndim)
    if start > end:
        raise RuntimeError(f"flatten() has invalid args: start_dim {start_dim} cannot come after end_dim {end_dim}")
    shape = input.shape
    return reshape(input, shape[:start] + (math.prod(shape[start : end + 1]),) + shape[end + 1 :])


def unflatten(input: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    dim = normalize_dim(dim, input.ndim)
    shape = input.shape
    sizes = _infer_shape(tuple(sizes), shape[dim], (shape[dim],))
    return reshape(input, shape[:dim] + tuple(sizes) + shape[dim + 1 :])


def squeeze(input: Tensor, dim=None) -> Tensor:
    """Remove dims of size 1 (all of them, or those named in ``dim``)."""
    shape = input.shape
    if dim is None:
        new = tuple(s for s in shape if s != 1)
    else:
        dims = normalize_dims(dim, input.ndim) if input.ndim else ()
        new = tuple(s for i, s in enumerate(shape) if not (i in dims and s == 1))
    return reshape(input, new)


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    dim = normalize_dim(dim, input.ndim + 1)
    shape = input.shape
    return reshape(input, shape[:dim] + (1,) + shape[dim:])


def permute(input: Tensor, *dims) -> Tensor:
    dims = _shape_arg(dims)
    if len(dims) != input.ndim:
        raise RuntimeError(
            f"permute: number of dims {len(dims)} does not match the tensor's rank {input.ndim} "
            f"(shape {tuple(input.shape)})"
        )
    dims = tuple(normalize_dim(d, input.ndim) for d in dims)
    if sorted(dims) != list(range(input.ndim)):
        raise RuntimeError(f"permute: dims {dims} are not a permutation of 0..{input.ndim - 1}")
    if dims == tuple(range(input.ndim)):
        return input
    return Permute(dims)(input)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    if input.ndim < 2 and dim0 in (0, -1) and dim1 in (0, -1):
        return input
    d0, d1 = normalize_dim(dim0, input.ndim), normalize_dim(dim1, input.ndim)
    dims = list(range(input.ndim))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return permute(input, dims)


swapaxes = swapdims = transpose


def t(input: Tensor) -> Tensor:
    """Transpose a matrix (a 0-d or 1-d tensor is returned as is)."""
    if input.ndim > 2:
        raise RuntimeError(
            f"t() expects a tensor with <= 2 dimensions, but got shape {tuple(input.shape)}; use .mT or transpose"
        )
    return input if input.ndim < 2 else transpose(input, 0, 1)


def movedim(input: Tensor, source, destination) -> Tensor:
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    src = [normalize_dim(s, input.ndim) for s in src]
    dst = [normalize_dim(d, input.ndim) for d in dst]
    order = [i for i in range(input.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(input, order)


moveaxis = movedim


def expand(input: Tensor, *sizes) -> Tensor:
    """Broadcast to ``sizes`` without copying (-1 keeps a dim)."""
    sizes = _shape_arg(sizes)
    if len(sizes) < input.ndim:
        raise RuntimeError(
            f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to the number "
            f"of dimensions in the tensor ({input.ndim}), shape {tuple(input.shape)}"
        )
    lead = len(sizes) - input.ndim
    shape = tuple((input.shape[i - lead] if s == -1 else s) if i >= lead else s for i, s in enumerate(sizes))
    for i in range(input.ndim):
        have, want = input.shape[i], shape[lead + i]
        if have != want and have != 1:
            raise RuntimeError(
                f"the expanded size of the tensor ({want}) must match the existing size ({have}) at "
                f"non-singleton dimension {lead + i}. Target sizes: {list(sizes)}. Tensor sizes: {list(input.shape)}"
            )
    return broadcast_to(input, shape)


def expand_as(input: Tensor, other: Tensor) -> Tensor:
    return expand(input, other.shape)


def broadcast_to(input: Tensor, *shape) -> Tensor:
    shape = _shape_arg(shape)
    if shape == input._data.shape:
        return input
    broadcast_shapes(input.shape, shape)
    if broadcast_shapes(input.shape, shape) != shape:
        raise RuntimeError(f"cannot broadcast a tensor of shape {tuple(input.shape)} to shape {shape}")
    return BroadcastTo(shape)(input)


def broadcast_tensors(*tensors: Tensor) -> tuple:
    shape = broadcast_shapes(*(t.shape for t in tensors))
    return tuple(broadcast_to(t, shape) for t in tensors)


def sum_to(input: Tensor, shape: Sequence[int]) -> Tensor:
    """Sum ``input`` over the dims along which ``shape`` was broadcast to reach ``input.shape``."""
    shape = tuple(shape)
    if input._data.shape == shape:
        return input
    if broadcast_shapes(shape, input.shape) != input.shape:
        raise RuntimeError(f"sum_to: shape {tuple(input.shape)} is not a broadcast of {shape}")
    return SumTo(shape)(input)


def flip(input: Tensor, dims) -> Tensor:
    dims = normalize_dims(dims if not isinstance(dims, int) else (dims,), input.ndim)
    return Flip(dims)(input)


def fliplr(input: Tensor) -> Tensor:
    return flip(input, (1,))


def flipud(input: Tensor) -> Tensor:
    return flip(input, (0,))


def roll(input: Tensor, shifts, dims=None) -> Tensor:
    if dims is None:
        return Roll(shifts if isinstance(shifts, int) else tuple(shifts), None)(input)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll: shifts {shifts} and dims {dims} must have the same length")
    dims = tuple(normalize_dim(d, input.ndim) for d in dims)
    return Roll(shifts, dims)(input)


def repeat(input: Tensor, *repeats) -> Tensor:
    """Tile the tensor ``repeats[i]`` times along dim i (torch's ``Tensor.repeat``)."""
    reps = _shape_arg(repeats)
    if len(reps) < input.ndim:
        raise RuntimeError(
            f"repeat: number of repeat dims ({len(reps)}) can not be smaller than number of tensor dims ({input.ndim})"
        )
    return Tile(reps)(input)


def tile(input: Tensor, dims) -> Tensor:
    """Like repeat, but a shorter ``dims`` is padded with ones on the left."""
    reps = tuple(dims)
    reps = (1,) * (input.ndim - len(reps)) + reps
    return Tile(reps)(input)


def repeat_interleave(input: Tensor, repeats: int, dim: int | None = None) -> Tensor:
    """Repeat each element ``repeats`` times along ``dim`` (flattened when ``dim`` is None)."""
    if dim is None:
        input, dim = flatten(input), 0
    dim = normalize_dim(dim, input.ndim)
    shape = input.shape
    expanded = expand(unsqueeze(input, dim + 1), shape[: dim + 1] + (int(repeats),) + shape[dim + 1 :])
    return reshape(expanded, shape[:dim] + (shape[dim] * int(repeats),) + shape[dim + 1 :])


def contiguous(input: Tensor) -> Tensor:
    if input._data.flags.c_contiguous:
        return input
    return Contiguous()(input)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dim (all other dims must match)."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("cat expects a non-empty list of tensors")
    check_same_device("cat", *tensors)
    ref = next((t for t in tensors if t.ndim > 0), tensors[0])
    if ref.ndim == 0:
        raise RuntimeError("zero-dimensional tensor cannot be concatenated")
    axis = normalize_dim(dim, ref.ndim)
    for i, t in enumerate(tensors):
        if t.ndim != ref.ndim or any(a != b for j, (a, b) in enumerate(zip(t.shape, ref.shape)) if j != axis):
            raise RuntimeError(
                f"cat: sizes of tensors must match except in dimension {axis}; tensor 0 has shape "
                f"{tuple(ref.shape)} and tensor {i} has shape {tuple(t.shape)}"
            )
    tensors = _common_dtype(tensors)
    return Concat(axis)(*tensors)


concat = concatenate = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new dim."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty list of tensors")
    check_same_device("stack", *tensors)
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {tuple(tensors[0].shape)} at entry 0 "
                f"and {tuple(t.shape)} at entry {i}"
            )
    axis = normalize_dim(dim, tensors[0].ndim + 1)
    tensors = _common_dtype(tensors)
    return Stack(axis)(*tensors)


def hstack(tensors: Sequence[Tensor]) -> Tensor:
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Tensor]) -> Tensor:
    return cat([t if t.ndim > 1 else unsqueeze(t, 0) for t in tensors], 0)


def _common_dtype(tensors):
    from .. import dtypes

    first = tensors[0]._data.dtype
    if all(t._data.dtype == first for t in tensors):
        return tensors
    common = dtypes.result_type(*tensors)
    return [t if t._data.dtype == common else t.to(common) for t in tensors]


def split(input: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of the listed sizes."""
    axis = normalize_dim(dim, input.ndim)
    n = input.shape[axis]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0:
            raise RuntimeError(f"split expects split_size to be positive, got {size}")
        sizes = [size] * (n // size) + ([n % size] if n % size else [])
        if n == 0:
            sizes = [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {n} (input shape {tuple(input.shape)}, "
                f"dim {dim}), but got split_sizes={sizes}"
            )
    bounds = np.cumsum(sizes)[:-1].tolist()
    return Split(bounds, axis)(input)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """Split into ``chunks`` nearly equal pieces (as torch: each of size ceil(n / chunks))."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    n = input.shape[normalize_dim(dim, input.ndim)]
    return split(input, max(1, -(-n // chunks)), dim)


def unbind(input: Tensor, dim: int = 0) -> tuple:
    """All slices along ``dim``, as a tuple of tensors with that dim removed."""
    axis = normalize_dim(dim, input.ndim)
    pieces = split(input, 1, axis) if input.shape[axis] else ()
    return tuple(squeeze(p, axis) for p in pieces)


def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    axis = normalize_dim(dim, input.ndim)
    index = [slice(None)] * input.ndim
    index[axis] = slice(start, start + length)
    return input[tuple(index)]


def atleast_1d(input: Tensor) -> Tensor:
    return input if input.ndim >= 1 else reshape(input, (1,))


def atleast_2d(input: Tensor) -> Tensor:
    return input if input.ndim >= 2 else reshape(input, (1,) * (2 - input.ndim) + input.shape)
