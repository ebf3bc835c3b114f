"""The backward pass: walk the graph from the outputs back to the leaves.

1. Order the nodes once: an iterative depth-first search from the roots gives a reverse post-order,
   in which every node comes after all nodes that consume its outputs. No recursion, so a chain of
   100,000 ops is fine, and no re-sorting per node.
2. Walk that order. A node's output gradients are complete when it is reached; hooks and
   ``retain_grad`` see them, then ``node.backward`` turns them into input gradients. The engine
   (not each op) reduces a broadcast gradient back to its input's shape and casts it to the input's
   dtype, then adds it into the producer's slot or the leaf's running total.
3. Free each node's saved values as soon as it has run (unless ``retain_graph``).
4. Accumulate into the leaves' ``.grad`` (``backward``) or return the gradients (``mg.grad``).

With ``create_graph=True`` step 2 runs with grad mode on, so the backward ops themselves are
recorded and the result can be differentiated again.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from .grad_mode import _State


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None) -> None:
    """Accumulate the gradients of ``tensors`` into the ``.grad`` of the leaves they depend on."""
    roots, seeds = _roots(tensors, grad_tensors)
    if retain_graph is None:
        retain_graph = create_graph
    targets = None
    if inputs is not None:
        targets = _as_tensor_list(inputs, "inputs")
        if not targets:
            raise RuntimeError("backward(inputs=...) needs at least one tensor")
    _run(roots, seeds, retain_graph, create_graph, targets, accumulate=True)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """Return d(outputs)/d(inputs) without touching any ``.grad`` (``torch.autograd.grad``)."""
    roots, seeds = _roots(outputs, grad_outputs)
    targets = _as_tensor_list(inputs, "inputs")
    for i, t in enumerate(targets):
        if not t.requires_grad:
            raise RuntimeError(f"inputs[{i}] (shape {tuple(t.shape)}) does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    result = _run(roots, seeds, retain_graph, create_graph, targets, accumulate=False)
    for i, g in enumerate(result):
        if g is None and not allow_unused:
            raise RuntimeError(
                f"one of the differentiated tensors (inputs[{i}], shape {tuple(targets[i].shape)}) appears "
                "not to have been used in the graph; pass allow_unused=True if this is intended"
            )
    return tuple(result)


# ----------------------------------------------------------------------------------------------
def _as_tensor_list(value, what: str) -> list:
    from minigrad.tensor import Tensor

    items = [value] if isinstance(value, Tensor) else list(value)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"{what}[{i}] must be a Tensor, got {type(t).__name__}")
    return items


def _roots(tensors, grad_tensors):
    from minigrad.tensor import Tensor

    roots = _as_tensor_list(tensors, "tensors")
    if grad_tensors is None:
        grad_tensors = [None] * len(roots)
    elif isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors]
    else:
        grad_tensors = list(grad_tensors)
    if len(grad_tensors) != len(roots):
        raise RuntimeError(f"got {len(grad_tensors)} gradients for {len(roots)} tensors")
    seeds = []
    for i, (root, g) in enumerate(zip(roots, grad_tensors)):
        if not root.requires_grad:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn "
                f"(shape {tuple(root.shape)}): nothing to differentiate"
            )
        if g is None:
            if root._data.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs; this output has shape "
                    f"{tuple(root.shape)}. Pass gradient= (a tensor of that shape) to backward()."
                )
            xp = _xp(root._data)
            g = Tensor._make(xp.ones(root._data.shape, root._data.dtype), None, 0, False, None)
        else:
            if not isinstance(g, Tensor):
                from minigrad.ops.creation import as_tensor_like

                g = as_tensor_like(g, root)
            if g._data.shape != root._data.shape:
                raise RuntimeError(
                    f"mismatch in shape: gradient {i} has shape {tuple(g.shape)} but output {i} has "
                    f"shape {tuple(root.shape)}"
                )
            if g._data.dtype != root._data.dtype:
                g = g.to(root.dtype)
        seeds.append(g)
    return roots, seeds


def _xp(array):
    from minigrad.backend import get_array_module

    return get_array_module(array)


def topological_order(roots: Sequence) -> list:
    """Nodes reachable from ``roots`` (op nodes), each after every node that consumes its outputs."""
    order = []
    visited = set()
    for start in roots:
        if start in visited:
            continue
        visited.add(start)
        stack = [(start, iter(start.next_edges or ()))]
        while stack:
            node, edges = stack[-1]
            for edge in edges:
                if type(edge) is tuple and edge[0] not in visited:
                    child = edge[0]
                    visited.add(child)
                    stack.append((child, iter(child.next_edges or ())))
                    break
            else:
                stack.pop()
                order.append(node)
    order.reverse()
    return order


def _needed_nodes(order: list, targets: list) -> set:
    """For ``mg.grad``: the nodes whose backward leads to a target (others are skipped)."""
    leaf_ids = {id(t) for t in targets if t._grad_fn is None}
    captured = {t._grad_fn for t in targets if t._grad_fn is not None}
    needed = set()
    for node in reversed(order):  # producers before consumers
        for edge in node.next_edges or ():
            if edge is None:
                continue
            if type(edge) is tuple:
                if edge[0] in needed or edge[0] in captured:
                    needed.add(node)
                    break
            elif id(edge) in leaf_ids:
                needed.add(node)
                break
    return needed


def _run(roots, seeds, retain_graph, create_graph, targets, accumulate):
    from minigrad.ops.shape import sum_to
    from minigrad.tensor import Tensor

    order = topological_order([r._grad_fn for r in roots if r._grad_fn is not None])
    grads: dict = {}  # node -> [gradient of each output]
    leaf_grads: dict = {}  # id(leaf) -> [leaf, gradient]
    aliased: set = set()  # ids of arrays that something outside the engine may hold

    def total(a, b):
        # Summing gradients is the engine's own bookkeeping: plain arrays unless building a graph.
        if create_graph:
            return a + b
        return Tensor._make(_add(a._data, b._data), None, 0, False, None)

    def send(edge, g):
        if type(edge) is tuple:
            node, index = edge
            slot = grads.get(node)
            if slot is None:
                slot = grads[node] = [None] * node._n_out
            slot[index] = g if slot[index] is None else total(slot[index], g)
        else:
            entry = leaf_grads.get(id(edge))
            if entry is None:
                leaf_grads[id(edge)] = [edge, g]
            else:
                entry[1] = total(entry[1], g)

    for root, seed in zip(roots, seeds):
        aliased.add(id(seed._data))
        send((root._grad_fn, root._out_index) if root._grad_fn is not None else root, seed)

    captures = None
    needed = None
    if targets is not None:
        captures = {}
        for pos, t in enumerate(targets):
            if t._grad_fn is not None:
                captures.setdefault(t._grad_fn, []).append((t._out_index, pos))
        needed = _needed_nodes(order, targets)
    result = [None] * len(targets) if targets is not None else None

    profiler = _State.profiler
    anomaly = _State.anomaly and _State.anomaly_check_nan
    previous_mode = _State.grad_enabled, _State.anomaly_check_nan
    _State.grad_enabled = create_graph
    # the ops a backward runs are checked as one: by the gradients each node returns
    _State.anomaly_check_nan = False
    try:
        for node in order:
            gys = grads.pop(node, None)
            if gys is None:
                continue
            if node._released:
                node._raise_freed()
            if node._out_hooks:
                _run_output_hooks(node, gys)
            if node._retained_grads:
                _store_retained_grads(node, gys, create_graph, aliased)
            if captures is not None:
                for index, pos in captures.get(node, ()):
                    result[pos] = gys[index]
                if node not in needed:
                    continue
            if node._n_out > 1:
                _fill_missing(node, gys)
            start = time.perf_counter() if profiler is not None else 0.0
            gxs = node.backward(*gys)
            if profiler is not None:
                profiler._record(node.name(), "backward", time.perf_counter() - start, _nbytes(gxs))
            if type(gxs) is not tuple:
                gxs = (gxs,)
            edges = node.next_edges
            if len(gxs) != len(edges):
                raise RuntimeError(f"{node.name()}.backward returned {len(gxs)} gradients for {len(edges)} inputs")
            for i, (edge, gx) in enumerate(zip(edges, gxs)):
                if edge is None or gx is None:
                    continue
                shape, dtype = node.input_meta[i]
                data = gx._data
                if data.shape != shape:
                    gx = _reduce_to_shape(gx, shape, node, i, sum_to)
                if data.dtype != dtype:
                    gx = gx.to(dtype)
                if anomaly:
                    _check_gradient(node, i, gx)
                send(edge, gx)
            if not retain_graph:
                node._release()
    finally:
        _State.grad_enabled, _State.anomaly_check_nan = previous_mode

    # Leaves last: the hooks of a leaf see its total gradient, as with torch's AccumulateGrad.
    target_ids = None if targets is None else {id(t): pos for pos, t in enumerate(targets)}
    for leaf, g in leaf_grads.values():
        if leaf._hooks:
            for hook in list(leaf._hooks):
                replaced = hook(g)
                if replaced is not None:
                    g = replaced
        if target_ids is not None:
            pos = target_ids.get(id(leaf))
            if pos is None:
                continue
            if not accumulate:
                result[pos] = g
                continue
        _accumulate_leaf(leaf, g, create_graph, aliased)
    if accumulate and targets is not None:
        for t, g in zip(targets, result):
            if g is not None and t._grad_fn is not None:
                _accumulate_leaf(t, g, create_graph, aliased)
    return result


def _reduce_to_shape(gx, shape, node, index, sum_to):
    try:
        return sum_to(gx, shape)
    except (ValueError, RuntimeError):
        raise RuntimeError(
            f"{node.name()}.backward returned a gradient of shape {tuple(gx.shape)} for input {index}, "
            f"which has shape {tuple(shape)}"
        ) from None


def _fill_missing(node, gys) -> None:
    """A multi-output op whose outputs were not all used gets zeros for the unused ones."""
    from minigrad.tensor import Tensor

    for i, g in enumerate(gys):
        if g is None:
            shape, dtype, xp = node._out_meta[i]
            gys[i] = Tensor._make(xp.zeros(shape, dtype), None, 0, False, None)


def _run_output_hooks(node, gys) -> None:
    for index, hooks in node._out_hooks.items():
        if gys[index] is None:
            continue
        for hook in list(hooks):
            replaced = hook(gys[index])
            if replaced is not None:
                gys[index] = replaced


def _store_retained_grads(node, gys, create_graph, aliased) -> None:
    for index, ref in node._retained_grads.items():
        tensor = ref()
        if tensor is not None and gys[index] is not None:
            _accumulate_leaf(tensor, gys[index], create_graph, aliased)


def _accumulate_leaf(leaf, g, create_graph, aliased) -> None:
    """``leaf.grad += g``, in place when the engine owns ``leaf.grad`` and nothing else can see it."""
    from minigrad.tensor import Tensor

    if create_graph:
        leaf._grad = g if leaf._grad is None else leaf._grad + g
        leaf._grad_owned = False
        return
    data = g._data
    current = leaf._grad
    if current is None:
        # Never hand out an array someone else may hold or write (the user's seed gradient, a
        # view of another gradient, an array already given to another leaf): copy those.
        if id(data) in aliased or data.base is not None or not data.flags.writeable:
            data = data.copy()
        aliased.add(id(data))
        leaf._grad = Tensor._make(data, None, 0, False, None)
        leaf._grad_owned = True
    elif leaf._grad_owned and current._grad_fn is None and current._data.shape == data.shape:
        current._data += data
    else:
        leaf._grad = Tensor._make(_add(current._data, data), None, 0, False, None)
        leaf._grad_owned = True


def _add(a, b):
    total = a + b
    return np.asarray(total) if isinstance(total, np.generic) else total  # NumPy: 0-d + 0-d is a scalar


def _check_gradient(node, index, gx) -> None:
    from .op import _all_finite

    if not _all_finite(gx._data):
        where = node._created_at or "(run the forward pass inside detect_anomaly() to see where)\n"
        raise RuntimeError(
            f"anomaly detected: {node.name()}.backward returned nan or inf in the gradient for input "
            f"{index} (shape {tuple(gx.shape)}).\nThe op was created at:\n{where}"
        )


def _nbytes(gxs) -> int:
    items = gxs if isinstance(gxs, tuple) else (gxs,)
    return sum(g._data.nbytes for g in items if g is not None)
