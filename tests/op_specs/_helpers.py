"""Small builders shared by the spec modules."""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minigrad.testing.opspec import Case
from minigrad.testing.strategies import arrays, elements, shapes


def torch_fn(path: str):
    """A callable that resolves ``torch.<path>`` when called (torch is optional)."""

    def call(*args, **kwargs):
        import torch

        target = torch
        for part in path.split("."):
            target = getattr(target, part)
        return target(*args, **kwargs)

    return call


def floats(min_value=-5.0, max_value=5.0, avoid=(), min_distance=1e-2):
    return elements(np.float64, min_value, max_value, avoid=avoid, min_distance=min_distance)


def array(shape_strategy=None, min_value=-5.0, max_value=5.0, avoid=(), min_dims=0, max_dims=3, max_side=4):
    if shape_strategy is None:
        shape_strategy = shapes(min_dims=min_dims, max_dims=max_dims, max_side=max_side)
    return arrays(shape_strategy, np.float64, floats(min_value, max_value, avoid))


@st.composite
def with_dims(draw, min_dims=1, max_dims=3, max_side=4, min_value=-5.0, max_value=5.0, multi=True,
              allow_none=True, keepdim=True, extra=None):
    """One array and a ``dim`` (int, tuple or None) valid for it, plus ``keepdim``."""
    from minigrad.testing.strategies import valid_dims

    x = draw(array(shapes(min_dims=min_dims, max_dims=max_dims, max_side=max_side), min_value, max_value))
    if multi:
        dim = draw(valid_dims(x.ndim, allow_none=allow_none))
    else:
        dim = draw(valid_dims(x.ndim, allow_none=False, single=True))
    kwargs = {"dim": dim}
    if keepdim:
        kwargs["keepdim"] = draw(st.booleans())
    if extra:
        kwargs.update(draw(extra))
    return Case((x,), kwargs)


def np_dims(dim):
    """A dim argument as NumPy's ``axis``."""
    return dim


def mutually_broadcast(n, max_dims=3):
    return hnp.mutually_broadcastable_shapes(num_shapes=n, min_dims=0, max_dims=max_dims, max_side=4)
