"""Hypothesis strategies for testing ops: tensors, shapes that broadcast, valid dims, indices.

Testing your own op takes a few lines::

    from hypothesis import given
    import minigrad as mg
    from minigrad.testing import gradcheck, strategies as mst

    def softplus(x):
        return (1 + x.exp()).log()

    @given(mst.tensors(shape=mst.shapes(max_dims=3), requires_grad=True))
    def test_softplus_gradient(x):
        assert gradcheck(softplus, [x])

    @given(mst.tensors(shape=(4, 5)), mst.valid_dims(2))
    def test_sum_matches_numpy(x, dim):
        mg.testing.assert_close(x.sum(dim), x.numpy().sum(axis=dim))

``hypothesis`` is needed only here (it is in the ``dev`` extra).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .. import dtypes
from ..ops.creation import tensor as make_tensor


def shapes(min_dims: int = 0, max_dims: int = 4, min_side: int = 1, max_side: int = 5) -> st.SearchStrategy:
    """Tensor shapes (tuples of ints)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def elements(dtype=np.float64, min_value: float = -10.0, max_value: float = 10.0,
             avoid: Sequence[float] = (), min_distance: float = 1e-3) -> st.SearchStrategy:
    """Finite scalars of ``dtype`` in [min_value, max_value], at least ``min_distance`` from each kink in ``avoid``."""
    np_dtype = dtypes.to_numpy_dtype(dtype)
    if np_dtype.kind == "b":
        return st.booleans()
    if np_dtype.kind in "iu":
        return st.integers(int(min_value), int(max_value))
    width = 8 * np_dtype.itemsize if np_dtype.itemsize in (2, 4, 8) else 32
    strategy = st.floats(min_value, max_value, allow_nan=False, allow_infinity=False, width=width)
    if avoid:
        strategy = strategy.filter(lambda v: all(abs(v - k) >= min_distance for k in avoid))
    return strategy


def arrays(shape=None, dtype=np.float64, elements_strategy=None, **element_kwargs) -> st.SearchStrategy:
    """NumPy arrays of ``dtype``; ``shape`` is a tuple or a strategy (default: ``shapes()``)."""
    np_dtype = dtypes.to_numpy_dtype(dtype)
    if elements_strategy is None:
        elements_strategy = elements(np_dtype, **element_kwargs)
    return hnp.arrays(np_dtype, shapes() if shape is None else shape, elements=elements_strategy)


@st.composite
def tensors(draw, shape=None, dtype=np.float64, elements=None, requires_grad: bool = False,
            device="cpu", **element_kwargs):
    """minigrad tensors with drawn values; ``elements`` may be a strategy of scalars."""
    array = draw(arrays(shape, dtype, elements, **element_kwargs))
    return make_tensor(array, device=device, requires_grad=requires_grad)


def broadcastable_shapes(shape: Sequence[int], min_dims: int = 0, max_dims: int | None = None,
                         min_side: int = 1, max_side: int | None = None) -> st.SearchStrategy:
    """Shapes that broadcast against ``shape``."""
    return hnp.broadcastable_shapes(tuple(shape), min_dims=min_dims, max_dims=max_dims,
                                    min_side=min_side, max_side=max_side)


def mutually_broadcastable_shapes(num_shapes: int, min_dims: int = 0, max_dims: int = 4,
                                  min_side: int = 1, max_side: int = 4) -> st.SearchStrategy:
    """``num_shapes`` shapes that all broadcast together (``.input_shapes``, ``.result_shape``)."""
    return hnp.mutually_broadcastable_shapes(num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims,
                                             min_side=min_side, max_side=max_side)


@st.composite
def valid_dims(draw, ndim: int, min_size: int = 1, max_size: int | None = None, allow_none: bool = True,
               allow_negative: bool = True, single: bool = False):
    """A dim argument for a tensor of rank ``ndim``: None, an int, or a tuple of distinct dims."""
    if ndim == 0:
        return None if allow_none else draw(st.sampled_from([0, -1]) if allow_negative else st.just(0))
    dim_values = st.integers(-ndim if allow_negative else 0, ndim - 1)
    if single:
        return draw(dim_values)
    choices = [st.lists(dim_values, min_size=min_size, max_size=max_size or ndim,
                        unique_by=lambda d: d % ndim).map(tuple)]
    choices.append(dim_values)
    if allow_none:
        choices.append(st.none())
    return draw(st.one_of(*choices))


def valid_dim(ndim: int, allow_negative: bool = True) -> st.SearchStrategy:
    """One dim index (possibly negative) for a tensor of rank ``ndim`` (>= 1)."""
    return valid_dims(ndim, allow_none=False, allow_negative=allow_negative, single=True)


def index_arrays(size: int, shape=None, allow_negative: bool = True) -> st.SearchStrategy:
    """Integer index arrays into a dim of length ``size`` (repeats allowed, as real indexing has)."""
    low = -size if allow_negative else 0
    return hnp.arrays(np.int64, shapes(min_dims=1, max_dims=2, max_side=5) if shape is None else shape,
                      elements=st.integers(low, size - 1))


def basic_indices(shape: Sequence[int], allow_newaxis: bool = True, allow_ellipsis: bool = True) -> st.SearchStrategy:
    """Basic (view-producing) indices for ``shape``: ints, slices, None and Ellipsis."""
    return hnp.basic_indices(tuple(shape), allow_newaxis=allow_newaxis, allow_ellipsis=allow_ellipsis)
