"""``Parameter``: a tensor that a ``Module`` registers as trainable when assigned as an attribute."""

from __future__ import annotations

from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that requires grad by default and is listed by ``Module.parameters()``.

    ``Parameter(t)`` shares memory with ``t`` (a Tensor or an array), like torch.
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        from ..ops.creation import _to_array, empty

        if data is None:
            array = empty(0)._data
        elif isinstance(data, Tensor):
            array = data._data
        else:
            array = _to_array(data, None, None, copy=False)
        self._init(array, None, 0, False, None)
        if requires_grad:
            self.requires_grad = True

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        out = Parameter(self._data.copy(), self.requires_grad)
        memo[id(self)] = out
        return out

    def __reduce_ex__(self, protocol):
        import numpy as np

        data = self._data if isinstance(self._data, np.ndarray) else self._data.get()
        return (Parameter, (data, self.requires_grad))
