"""Activation checkpointing: trade compute for memory (Chen et al., 2016, "Training Deep Nets
with Sublinear Memory Cost").

``checkpoint(fn, *args)`` runs ``fn`` and keeps only its inputs; the graph inside ``fn`` (and
every array it saved for backward) is freed at once. In backward the segment is run again with
the same random state (so dropout masks repeat), differentiated, and its gradients flow on to
the inputs and to every parameter ``fn`` used. Same gradients, less memory held between forward
and backward.
"""

from __future__ import annotations

import numpy as np

from ..autograd.engine import grad, topological_order
from ..autograd.grad_mode import _State, enable_grad
from ..autograd.op import Op
from ..backend import CPU, default_generator, get_array_module
from ..tensor import Tensor


class Checkpoint(Op):
    """One graph node standing for a whole recomputed segment."""

    def __init__(self, function, args, kwargs, rng_state, leaves):
        self.function, self.args, self.kwargs = function, args, kwargs
        self.rng_state, self.leaves = rng_state, leaves

    def name(self) -> str:
        return f"Checkpoint[{getattr(self.function, '__name__', type(self.function).__name__)}]"

    def backward(self, *gys):
        create_graph = _State.grad_enabled
        inputs = [
            Tensor._make(a._data, None, 0, a.requires_grad, None) if isinstance(a, Tensor) else a for a in self.args
        ]
        generator = default_generator(CPU)
        if self.rng_state is not None:
            outer_state = generator.get_state()
            generator.set_state(self.rng_state)
        try:
            with enable_grad():
                outputs = self.function(*inputs, **self.kwargs)
        finally:
            if self.rng_state is not None:
                generator.set_state(outer_state)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        pairs = [(o, g) for o, g in zip(outputs, gys) if isinstance(o, Tensor) and o.requires_grad]
        arg_inputs = [a for a in inputs if isinstance(a, Tensor)]
        targets = [a for a in arg_inputs if a.requires_grad] + list(self.leaves)
        if not pairs or not targets:
            return (None,) * len(self.next_edges)
        found = grad(
            [o for o, _ in pairs],
            targets,
            [g for _, g in pairs],
            retain_graph=create_graph,
            create_graph=create_graph,
            allow_unused=True,
        )
        found = iter(found)
        arg_grads = [next(found) if a.requires_grad else None for a in arg_inputs]
        return tuple(arg_grads) + tuple(found)


def checkpoint(function, *args, preserve_rng_state: bool = True, use_reentrant: bool | None = None, **kwargs):
    """Run ``function(*args, **kwargs)`` without keeping its intermediate values for backward."""
    if not _State.grad_enabled:
        return function(*args, **kwargs)
    rng_state = default_generator(CPU).get_state() if preserve_rng_state else None
    inputs = [Tensor._make(a._data, None, 0, a.requires_grad, None) if isinstance(a, Tensor) else a for a in args]
    with enable_grad():
        outputs = function(*inputs, **kwargs)
    single = not isinstance(outputs, tuple)
    outputs = (outputs,) if single else outputs
    # Find the parameters the segment used, then free the segment's graph.
    input_ids = {id(a) for a in inputs if isinstance(a, Tensor)}
    order = topological_order([o.grad_fn for o in outputs if isinstance(o, Tensor) and o.grad_fn is not None])
    leaves, seen = [], set()
    for node in order:
        for edge in node.next_edges or ():
            if edge is not None and type(edge) is not tuple and id(edge) not in input_ids and id(edge) not in seen:
                seen.add(id(edge))
                leaves.append(edge)
    for node in order:
        node._release()
    tensor_args = [a for a in args if isinstance(a, Tensor)]
    if not leaves and not any(a.requires_grad for a in tensor_args):
        result = tuple(o.detach() if isinstance(o, Tensor) else o for o in outputs)
        return result[0] if single else result
    node = Checkpoint(function, args, kwargs, rng_state, leaves)
    node._saved_in = node._saved_out = None
    node.needs_input_grad = tuple(t.requires_grad for t in tensor_args + leaves)
    node._record(tensor_args + leaves)
    node._n_out = len(outputs)
    node._out_meta = tuple(
        (o._data.shape, o._data.dtype, get_array_module(o._data)) if isinstance(o, Tensor) else ((), np.float32, np)
        for o in outputs
    )
    result = tuple(
        Tensor._make(o._data, node, i, True, None) if isinstance(o, Tensor) and o.is_floating_point() else o
        for i, o in enumerate(outputs)
    )
    return result[0] if single else result
