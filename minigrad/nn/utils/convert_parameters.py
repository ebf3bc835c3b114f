"""Flatten parameters into one vector and back (for second-order methods, line searches, EMAs)."""

from __future__ import annotations

from collections.abc import Iterable

from ...autograd.grad_mode import no_grad
from ...ops.shape import cat, reshape
from ...tensor import Tensor


def _as_list(parameters) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"expected a Tensor at position {i}, but got: {type(p).__name__}")
    if params:
        device = params[0].device
        for p in params[1:]:
            if p.device != device:
                raise TypeError(f"Found two parameters on different devices, these are {device} and {p.device}")
    return params


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated in order into one 1-d tensor (differentiable)."""
    params = _as_list(parameters)
    if not params:
        raise RuntimeError("parameters_to_vector: expected at least one parameter")
    return cat([reshape(p, (-1,)) for p in params])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-d ``vec`` into the parameters, in order (no graph recorded).

    Unlike torch, which makes each parameter a view of ``vec``, the values are copied, so later
    changes to ``vec`` do not alter the parameters."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected a Tensor, but got: {type(vec).__name__}")
    params = _as_list(parameters)
    total = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.numel() != total:
        shapes = ", ".join(str(tuple(p.shape)) for p in params)
        raise RuntimeError(
            f"vector_to_parameters: expected a 1-d vector of {total} elements for parameters of shapes [{shapes}], "
            f"got shape {tuple(vec.shape)}"
        )
    if vec.device != params[0].device:
        raise TypeError(f"Found two parameters on different devices, these are {vec.device} and {params[0].device}")
    offset = 0
    with no_grad():
        for p in params:
            n = p.numel()
            p._data[...] = vec._data[offset:offset + n].reshape(p.shape)
            p._vc.value += 1
            offset += n
