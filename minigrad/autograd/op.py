"""``Op``: one node of the autograd graph.

An op's ``forward`` works on raw ``xp`` arrays and returns arrays; its ``backward`` receives the
output gradients as Tensors and returns the input gradients as Tensors, written with minigrad's
own ops so that ``create_graph=True`` differentiates the backward itself (higher order for free).

    class Mul(Op):
        def forward(self, x, y):
            self.save_inputs(0, 1)          # keep x and y for backward
            return x * y

        def backward(self, gz):
            x, y = self.saved_inputs
            return gz * y, gz * x

Calling ``Mul()(a, b)`` on Tensors runs forward and, when grad mode is on and an input requires
grad, records the node: for each input an edge to where its gradient must go (the producing node
and output slot, the leaf tensor itself, or ``None``), the input shapes and dtypes (the engine
reduces broadcast gradients back to them), and ``needs_input_grad``.

What the node keeps is explicit (Chainer's ``retain_inputs``/``retain_outputs``): saved inputs are
held as Tensors, saved outputs as their arrays (a Tensor is rebuilt on demand, pointing back at
this node, so no reference cycle forms). Anything else a forward stashes on ``self`` (masks,
indices) is a constant. All of it is freed after backward unless ``retain_graph=True``.
Outputs themselves are never held by the node.
"""

from __future__ import annotations

import traceback

import numpy as np

from ..backend import get_array_module
from .grad_mode import _State

Tensor = None  # minigrad.tensor.Tensor, bound when that module loads (it imports this one)


class _VersionCounter:
    """Shared by a tensor and its views; bumped by every in-place op on that memory."""

    __slots__ = ("value", "last_op")

    def __init__(self):
        self.value = 0
        self.last_op = None


class Op:
    """Base class of every differentiable operation (see the module docstring)."""

    __slots__ = (
        "next_edges",
        "input_meta",
        "needs_input_grad",
        "_saved_in",
        "_saved_out",
        "_n_out",
        "_out_meta",
        "_out_hooks",
        "_retained_grads",
        "_released",
        "_created_at",
        "__weakref__",
        "__dict__",
    )

    #: outputs of a view op share memory (and the version counter) with input 0
    is_view = False
    #: ops whose forward writes into input 0 and returns it (``__setitem__``); only used in place
    mutates_input = False

    # ----- what subclasses write -----------------------------------------------------------------
    def forward(self, *xs):
        raise NotImplementedError

    def backward(self, *gys):
        raise NotImplementedError

    def forward_inplace(self, x, *others):
        """Write the result into ``x`` (used by ``add_``, ``__setitem__`` ...). Override for speed."""
        x[...] = self.forward(x, *others)
        return x

    # ----- saving for backward ---------------------------------------------------------------------
    def save_inputs(self, *indices: int) -> None:
        """Keep the inputs at ``indices`` for backward (read back with ``saved_inputs``)."""
        self._saved_in = indices

    def save_outputs(self, *indices: int) -> None:
        """Keep the outputs at ``indices`` for backward (read back with ``saved_outputs``)."""
        self._saved_out = indices

    @property
    def saved_inputs(self) -> tuple:
        saved = self._saved_in
        if saved is None:
            self._raise_freed()
        for tensor, version in saved:
            if tensor._vc.value != version:
                self._raise_modified(tensor, version, "input")
        return tuple(tensor for tensor, _ in saved)

    @property
    def saved_outputs(self) -> tuple:
        saved = self._saved_out
        if saved is None:
            self._raise_freed()
        out = []
        for index, data, vc, version in saved:
            if vc.value != version:
                self._raise_modified(None, version, f"output {index}", vc)
            out.append(Tensor._make(data, self, index, True, vc))
        return tuple(out)

    def _raise_freed(self):
        raise RuntimeError(
            f"Trying to backward through the graph a second time (or to read the saved tensors of "
            f"{self.name()} after they were freed). Saved values are freed when you call .backward() "
            f"or mg.grad(); pass retain_graph=True to the first call to keep them."
        )

    def _raise_modified(self, tensor, version, what, vc=None):
        vc = vc if vc is not None else tensor._vc
        shape = f" of shape {tuple(tensor._data.shape)}" if tensor is not None else ""
        by = f" by {vc.last_op}" if vc.last_op else ""
        raise RuntimeError(
            f"one of the tensors needed for gradient computation has been modified by an in-place "
            f"operation{by}: the {what}{shape} saved by {self.name()} is at version {vc.value}; "
            f"expected version {version}. Use an out-of-place op (or .clone()) before modifying it."
        )

    # ----- calling ---------------------------------------------------------------------------------
    def __call__(self, *inputs):
        """Run forward on the inputs' arrays and, if needed, record this node in the graph."""
        if _State.slow_path:
            return _call_slow(self, inputs)
        make = Tensor._make
        self._saved_in = self._saved_out = None
        if _State.grad_enabled:
            needs = tuple([t.requires_grad for t in inputs])
            record = True in needs
        else:
            needs, record = None, False
        self.needs_input_grad = needs if record else (False,) * len(inputs)
        try:
            ys = self.forward(*[t._data for t in inputs])
        except ValueError as error:  # NumPy's shape errors, restated with the op and every input shape
            shapes = " and ".join(str(tuple(t._data.shape)) for t in inputs)
            raise RuntimeError(f"{self.name()}: {error} (input shapes {shapes})") from error
        if type(ys) is tuple:
            ys = tuple([np.asarray(y) if isinstance(y, np.generic) else y for y in ys])
            vc = inputs[0]._vc if self.is_view and ys[0].base is not None else None
            if not record:
                return tuple([make(y, None, 0, False, vc) for y in ys])
            self._record(inputs)
            outs = tuple([make(y, self, i, True, vc) for i, y in enumerate(ys)])
            self._n_out = len(ys)
            xp = get_array_module(ys[0])
            self._out_meta = tuple([(y.shape, y.dtype, xp) for y in ys])
            if self._saved_out is not None:
                self._keep_outputs(outs)
            return outs
        if isinstance(ys, np.generic):  # NumPy turns 0-d results into scalars; keep arrays
            ys = np.asarray(ys)
        vc = inputs[0]._vc if self.is_view and ys.base is not None else None
        if not record:
            return make(ys, None, 0, False, vc)
        self._record(inputs)
        out = make(ys, self, 0, True, vc)
        self._n_out = 1
        if self._saved_out is not None:
            self._keep_outputs((out,))
        return out

    def _record(self, inputs) -> None:
        edges = []
        for t in inputs:
            if not t.requires_grad:
                edges.append(None)
            elif t._grad_fn is None:
                edges.append(t)  # a leaf: its gradient is accumulated into t.grad
            else:
                edges.append((t._grad_fn, t._out_index))
        self.next_edges = edges
        self.input_meta = tuple([(t._data.shape, t._data.dtype) for t in inputs])
        if self._saved_in is not None:
            self._saved_in = tuple([(inputs[i], inputs[i]._vc.value) for i in self._saved_in])
        self._out_hooks = None
        self._retained_grads = None
        self._released = False
        self._created_at = None

    def _keep_outputs(self, outs) -> None:
        self._saved_out = tuple([(i, outs[i]._data, outs[i]._vc, outs[i]._vc.value) for i in self._saved_out])

    # ----- bookkeeping used by the engine and by introspection ---------------------------------
    def _release(self) -> None:
        """Free everything saved for backward; a later backward through this node raises."""
        self._saved_in = None
        self._saved_out = None
        self.next_edges = None
        self._released = True
        self.__dict__.clear()

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{self.name()}>"

    def saved_arrays(self) -> list:
        """The arrays this node keeps alive for backward (for memory accounting and tests)."""
        arrays = []
        if self._saved_in:
            arrays += [t._data for t, _ in self._saved_in]
        if self._saved_out:
            arrays += [data for _, data, _, _ in self._saved_out]
        for value in self.__dict__.values():
            if isinstance(value, np.ndarray) or type(value).__name__ == "ndarray":
                arrays.append(value)
        return arrays


def _call_slow(op: Op, inputs):
    """``Op.__call__`` with anomaly detection and/or the profiler active."""
    import time

    profiler = _State.profiler
    start = time.perf_counter() if profiler is not None else 0.0
    anomaly = _State.anomaly
    _State.slow_path = False
    try:
        outs = Op.__call__(op, *inputs)
    finally:
        _State.slow_path = True
    if profiler is not None:
        single = not isinstance(outs, tuple)
        nbytes = sum(o._data.nbytes for o in ((outs,) if single else outs))
        profiler._record(op.name(), "forward", time.perf_counter() - start, nbytes)
    if anomaly:
        recorded = any(o.requires_grad for o in (outs if isinstance(outs, tuple) else (outs,)))
        if recorded:
            op._created_at = user_stack()
        if _State.anomaly_check_nan:
            for i, o in enumerate(outs if isinstance(outs, tuple) else (outs,)):
                if not _all_finite(o._data):
                    where = user_stack()
                    raise RuntimeError(
                        f"anomaly detected: {op.name()} returned nan or inf in its forward output {i} "
                        f"(shape {tuple(o._data.shape)}).\nThe op was called at:\n{where}"
                    )
    return outs


_PACKAGE_DIR = __file__.rsplit("/autograd/", 1)[0]


def user_stack(limit: int = 8) -> str:
    """The caller's stack without minigrad's own frames: where in the user's code an op was made."""
    frames = [f for f in traceback.extract_stack() if not f.filename.startswith(_PACKAGE_DIR)]
    return "".join(traceback.format_list(frames[-limit:]))


def _all_finite(array) -> bool:
    if array.dtype.kind not in "fc":
        return True
    return bool(get_array_module(array).isfinite(array).all())
