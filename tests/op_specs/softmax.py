"""Spec rows for softmax, log_softmax and softmin (minigrad/ops/softmax.py).

References are the textbook float64 formulas (SciPy's stable log-softmax). Shapes and the dim are
drawn; the "large" rows draw logits up to +-1e4, where a naive exp overflows.
"""

import numpy as np
import scipy.special
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.testing.opspec import Case, OpSpec
from minigrad.testing.strategies import shapes

from ._helpers import array


@st.composite
def _dim_cases(draw, scale=1.0):
    x = draw(array(shapes(min_dims=0, max_dims=3, max_side=5)))
    ndim = max(x.ndim, 1)
    dim = draw(st.integers(-ndim, ndim - 1))
    return Case((np.asarray(x * scale),), {"dim": dim})


def _softmax_ref(x, dim):
    return scipy.special.softmax(x, axis=dim if x.ndim else None)


def _log_softmax_ref(x, dim):
    return scipy.special.log_softmax(x, axis=dim if x.ndim else None)


def _torch(name):
    def call(x, dim):
        import torch

        return getattr(torch, name)(x, dim)

    return call


def _torch_softmin(x, dim):
    import torch

    return torch.nn.functional.softmin(x, dim)


SPECS = [
    OpSpec("softmax", mg.softmax, _softmax_ref, _dim_cases(), torch_fn=_torch("softmax")),
    OpSpec("log_softmax", mg.log_softmax, _log_softmax_ref, _dim_cases(), torch_fn=_torch("log_softmax")),
    OpSpec("softmin", F.softmin, lambda x, dim: _softmax_ref(-x, dim), _dim_cases(), torch_fn=_torch_softmin),
    OpSpec("softmax_method", lambda x, dim: x.softmax(dim), _softmax_ref, _dim_cases(), torch_fn=_torch("softmax")),
    OpSpec("softmax_large_logits", F.softmax, _softmax_ref, _dim_cases(2000.0), torch_fn=_torch("softmax"),
           atol=1e-6),
    OpSpec("log_softmax_large_logits", F.log_softmax, _log_softmax_ref, _dim_cases(2000.0),
           torch_fn=_torch("log_softmax"), atol=1e-6, rtol=1e-6),
]
