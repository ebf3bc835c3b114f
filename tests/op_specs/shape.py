"""Spec rows for shape ops (minigrad/ops/shape.py) and dtype/device conversion (ops/convert.py)."""

import numpy as np
from hypothesis import strategies as st

import minigrad as mg
from minigrad.testing.opspec import Case, OpSpec

from ._helpers import array, torch_fn


def _t(name):
    """torch.Tensor method ``name`` as a function (x.reshape(...) etc.)."""
    return lambda x, *a, **k: getattr(x, name)(*a, **k)


@st.composite
def _reshape_cases(draw):
    x = draw(array(min_dims=0, max_dims=3))
    size = x.size
    divisors = [d for d in range(1, size + 1) if size % d == 0]
    first = draw(st.sampled_from(divisors))
    shape = draw(st.sampled_from([(first, size // first), (size,), (first, -1), (-1, 1, first)]))
    return Case((x,), {"shape": shape})


@st.composite
def _permute_cases(draw):
    x = draw(array(min_dims=1))
    return Case((x,), {"dims": tuple(draw(st.permutations(range(x.ndim))))})


@st.composite
def _transpose_cases(draw):
    x = draw(array(min_dims=2))
    return Case((x,), {"dim0": draw(st.integers(-x.ndim, x.ndim - 1)), "dim1": draw(st.integers(-x.ndim, x.ndim - 1))})


@st.composite
def _expand_cases(draw):
    x = draw(array(min_dims=1, max_dims=2, max_side=3).filter(lambda a: 1 in a.shape or a.ndim == 1))
    target = tuple(draw(st.integers(1, 3)) if s == 1 else s for s in x.shape)
    lead = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    return Case((x,), {"sizes": lead + target})


@st.composite
def _squeeze_cases(draw):
    shape = draw(st.lists(st.sampled_from([1, 2, 3]), min_size=1, max_size=4))
    x = draw(array(st.just(tuple(shape))))
    return Case((x,), {"dim": draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)))})


@st.composite
def _unsqueeze_cases(draw):
    x = draw(array())
    return Case((x,), {"dim": draw(st.integers(-x.ndim - 1, x.ndim))})


@st.composite
def _flip_cases(draw):
    x = draw(array(min_dims=1))
    dims = draw(st.lists(st.integers(0, x.ndim - 1), min_size=1, unique=True))
    return Case((x,), {"dims": tuple(dims)})


@st.composite
def _roll_cases(draw):
    x = draw(array(min_dims=1))
    d = draw(st.integers(0, x.ndim - 1))
    return Case((x,), {"shifts": draw(st.integers(-5, 5)), "dims": d})


@st.composite
def _repeat_cases(draw):
    x = draw(array(min_dims=1, max_dims=2, max_side=3))
    reps = tuple(draw(st.lists(st.integers(1, 3), min_size=x.ndim, max_size=x.ndim + 1)))
    return Case((x,), {"repeats": reps})


@st.composite
def _cat_cases(draw):
    base = draw(array(min_dims=1, max_side=3))
    dim = draw(st.integers(-base.ndim, base.ndim - 1))
    pieces = [base]
    for _ in range(draw(st.integers(1, 2))):
        shape = list(base.shape)
        shape[dim] = draw(st.integers(1, 3))
        pieces.append(draw(array(st.just(tuple(shape)))))
    return Case(tuple(pieces), {"dim": dim})


@st.composite
def _stack_cases(draw):
    base = draw(array(max_side=3))
    others = [draw(array(st.just(base.shape))) for _ in range(draw(st.integers(1, 2)))]
    return Case((base, *others), {"dim": draw(st.integers(-base.ndim - 1, base.ndim))})


@st.composite
def _split_cases(draw):
    x = draw(array(min_dims=1, max_side=5))
    dim = draw(st.integers(0, x.ndim - 1))
    return Case((x,), {"size": draw(st.integers(1, max(1, x.shape[dim]))), "dim": dim})


@st.composite
def _chunk_cases(draw):
    x = draw(array(min_dims=1, max_side=5))
    return Case((x,), {"chunks": draw(st.integers(1, 4)), "dim": draw(st.integers(0, x.ndim - 1))})


@st.composite
def _dim_case(draw, min_dims=1):
    x = draw(array(min_dims=min_dims))
    return Case((x,), {"dim": draw(st.integers(-x.ndim, x.ndim - 1))})


@st.composite
def _movedim_cases(draw):
    x = draw(array(min_dims=2))
    return Case((x,), {"source": draw(st.integers(0, x.ndim - 1)), "destination": draw(st.integers(0, x.ndim - 1))})


@st.composite
def _flatten_cases(draw):
    x = draw(array(min_dims=1))
    a, b = sorted([draw(st.integers(0, x.ndim - 1)), draw(st.integers(0, x.ndim - 1))])
    return Case((x,), {"start_dim": a, "end_dim": b})


@st.composite
def _narrow_cases(draw):
    x = draw(array(min_dims=1, max_side=5))
    dim = draw(st.integers(0, x.ndim - 1))
    start = draw(st.integers(0, x.shape[dim] - 1))
    return Case((x,), {"dim": dim, "start": start, "length": draw(st.integers(1, x.shape[dim] - start))})


def _np_squeeze(x, dim):
    if dim is None:
        return np.squeeze(x)
    return np.squeeze(x, dim) if x.shape[dim] == 1 else x


def _np_roll(x, shifts, dims):
    return np.roll(x, shifts, dims)


def _np_split(x, size, dim):
    n = x.shape[dim]
    bounds = list(range(size, n, size))
    return tuple(np.split(x, bounds, axis=dim))


def _np_chunk(x, chunks, dim):
    size = -(-x.shape[dim] // chunks)
    return _np_split(x, size, dim)


def _np_repeat_interleave(x, repeats, dim):
    return np.repeat(x, repeats, axis=dim)


SPECS = [
    OpSpec("reshape", lambda x, shape: x.reshape(shape), lambda x, shape: np.reshape(x, shape), _reshape_cases(),
           torch_fn=lambda x, shape: x.reshape(shape)),
    OpSpec("flatten", mg.flatten, lambda x, start_dim, end_dim: x.reshape(
        x.shape[:start_dim] + (-1,) + x.shape[end_dim + 1:]), _flatten_cases(), torch_fn=torch_fn("flatten")),
    OpSpec("permute", lambda x, dims: x.permute(dims), lambda x, dims: np.transpose(x, dims), _permute_cases(),
           torch_fn=lambda x, dims: x.permute(dims)),
    OpSpec("transpose", mg.transpose, lambda x, dim0, dim1: np.swapaxes(x, dim0, dim1), _transpose_cases(),
           torch_fn=torch_fn("transpose")),
    OpSpec("expand", lambda x, sizes: x.expand(sizes), lambda x, sizes: np.broadcast_to(x, sizes), _expand_cases(),
           torch_fn=lambda x, sizes: x.expand(sizes)),
    OpSpec("squeeze", lambda x, dim: mg.squeeze(x, dim), _np_squeeze, _squeeze_cases(),
           torch_fn=lambda x, dim: x.squeeze() if dim is None else x.squeeze(dim)),
    OpSpec("unsqueeze", mg.unsqueeze, lambda x, dim: np.expand_dims(x, dim), _unsqueeze_cases(),
           torch_fn=torch_fn("unsqueeze")),
    OpSpec("flip", mg.flip, lambda x, dims: np.flip(x, dims), _flip_cases(), torch_fn=torch_fn("flip")),
    OpSpec("roll", mg.roll, _np_roll, _roll_cases(), torch_fn=torch_fn("roll")),
    OpSpec("repeat", lambda x, repeats: x.repeat(*repeats), lambda x, repeats: np.tile(x, repeats), _repeat_cases(),
           torch_fn=lambda x, repeats: x.repeat(*repeats)),
    OpSpec("tile", lambda x, repeats: mg.tile(x, repeats[1:]), lambda x, repeats: np.tile(x, repeats[1:]),
           _repeat_cases(), torch_fn=lambda x, repeats: __import__("torch").tile(x, repeats[1:])),
    OpSpec("repeat_interleave", lambda x, dim: mg.repeat_interleave(x, 3, dim),
           lambda x, dim: np.repeat(x, 3, axis=dim), _dim_case(),
           torch_fn=lambda x, dim: __import__("torch").repeat_interleave(x, 3, dim)),
    OpSpec("cat", lambda *xs, dim: mg.cat(xs, dim), lambda *xs, dim: np.concatenate(xs, axis=dim), _cat_cases(),
           torch_fn=lambda *xs, dim: __import__("torch").cat(xs, dim)),
    OpSpec("stack", lambda *xs, dim: mg.stack(xs, dim), lambda *xs, dim: np.stack(xs, axis=dim), _stack_cases(),
           torch_fn=lambda *xs, dim: __import__("torch").stack(xs, dim)),
    OpSpec("split", lambda x, size, dim: mg.split(x, size, dim), _np_split, _split_cases(),
           torch_fn=lambda x, size, dim: __import__("torch").split(x, size, dim)),
    OpSpec("chunk", mg.chunk, _np_chunk, _chunk_cases(), torch_fn=torch_fn("chunk")),
    OpSpec("unbind", mg.unbind, lambda x, dim: tuple(np.moveaxis(x, dim, 0)), _dim_case(), torch_fn=torch_fn("unbind")),
    OpSpec("movedim", mg.movedim, lambda x, source, destination: np.moveaxis(x, source, destination),
           _movedim_cases(), torch_fn=torch_fn("movedim")),
    OpSpec("narrow", mg.narrow, lambda x, dim, start, length: np.take(x, range(start, start + length), axis=dim),
           _narrow_cases(), torch_fn=torch_fn("narrow")),
    OpSpec("broadcast_to", lambda x, sizes: mg.broadcast_to(x, sizes), lambda x, sizes: np.broadcast_to(x, sizes),
           _expand_cases(), torch_fn=lambda x, sizes: __import__("torch").broadcast_to(x, sizes)),
    OpSpec("contiguous_of_transpose", lambda x: x.mT.contiguous(),
           lambda x: np.ascontiguousarray(np.swapaxes(x, -1, -2)),
           st.builds(lambda a: Case((a,)), array(min_dims=2)), torch_fn=lambda x: x.mT.contiguous()),
    OpSpec("to_float32_and_back", lambda x: x.float().double() * 2,
           lambda x: x.astype(np.float32).astype(np.float64) * 2,
           st.builds(lambda a: Case((a,)), array()), atol=1e-6, float32=False, gradcheck_eps=1e-2, grad_atol=1e-4,
           torch_fn=lambda x: x.float().double() * 2),
    OpSpec("clone", mg.clone, np.copy, st.builds(lambda a: Case((a,)), array()), torch_fn=torch_fn("clone")),
]
