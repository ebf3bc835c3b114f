"""Recurrent layers ``RNN``, ``LSTM``, ``GRU`` and their cells, with torch's arguments, names and shapes.

A layer runs each (layer, direction) as one fused sequence op (``minigrad/ops/rnn.py``): one GEMM for
the input projection of all time steps, then a loop over time on raw arrays, forward and backward.
The cells run one step from minigrad ops and differentiate to any order. Parameters are named and laid
out as torch's (``weight_ih_l0``, ``weight_hh_l0_reverse``, ``bias_ih_l1``, ``weight_hr_l0`` ...), so a
torch state dict loads with ``strict=True``.
"""

from __future__ import annotations

import math
import numbers
import warnings

from ...ops import rnn as R
from ...ops.creation import empty, zeros
from ...ops.dropout import dropout
from ...ops.shape import cat, stack
from ...tensor import Tensor
from .. import init
from ..parameter import Parameter
from ..utils.rnn import PackedSequence
from .module import Module

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}
_OP_MODE = {"RNN_TANH": "rnn_tanh", "RNN_RELU": "rnn_relu", "LSTM": "lstm", "GRU": "gru"}


class RNNBase(Module):
    """What RNN, LSTM and GRU share: parameters per layer and direction, argument checks, the layer loop."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device=None, dtype=None) -> None:
        super().__init__()
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1:
            raise ValueError(f"dropout should be a number in range [0, 1] representing the probability of an "
                             f"element being zeroed, got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                          stacklevel=2)
        for label, value in (("bias", bias), ("batch_first", batch_first), ("bidirectional", bidirectional)):
            if not isinstance(value, bool):
                raise TypeError(f"{label} should be of type bool, got: {type(value).__name__}")
        for label, value in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers),
                             ("proj_size", proj_size)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{label} should be of type int, got: {type(value).__name__}")
        if input_size <= 0:
            raise ValueError(f"input_size must be greater than zero, got {input_size}")
        if hidden_size <= 0:
            raise ValueError(f"hidden_size must be greater than zero, got {hidden_size}")
        if num_layers <= 0:
            raise ValueError(f"num_layers must be greater than zero, got {num_layers}")
        if proj_size < 0:
            raise ValueError(f"proj_size should be a positive integer or zero to disable projections, got {proj_size}")
        if proj_size >= hidden_size:
            raise ValueError(f"proj_size has to be smaller than hidden_size, got proj_size={proj_size} and "
                             f"hidden_size={hidden_size}")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.mode = mode
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.bidirectional = bias, batch_first, bidirectional
        self.dropout, self.proj_size = float(dropout), proj_size

        gate_size = _GATES[mode] * hidden_size
        state_size = proj_size or hidden_size
        directions = 2 if bidirectional else 1
        self._all_weights = []  # parameter names per (layer, direction), in torch's order
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else state_size * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                shapes = {"weight_ih": (gate_size, layer_input), "weight_hh": (gate_size, state_size)}
                if bias:
                    shapes.update({"bias_ih": (gate_size,), "bias_hh": (gate_size,)})
                if proj_size:
                    shapes["weight_hr"] = (proj_size, hidden_size)
                for name, shape in shapes.items():
                    setattr(self, name + suffix, Parameter(empty(*shape, device=device, dtype=dtype)))
                self._all_weights.append([name + suffix for name in shapes])
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as torch."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def flatten_parameters(self) -> None:
        """Kept for torch compatibility (it packs cuDNN weights there); a no-op here."""

    @property
    def all_weights(self) -> list[list[Parameter]]:
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += f", bidirectional={self.bidirectional}"
        return s

    # ----- forward ---------------------------------------------------------------------------------
    def _weights(self, index: int) -> tuple:
        """(w_ih, w_hh, b_ih, b_hh, w_hr) of layer-direction ``index``, ``None`` where absent."""
        params = dict(zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"), (None,) * 5))
        for name in self._all_weights[index]:
            params[name.split("_l")[0]] = getattr(self, name)
        return tuple(params.values())

    def _run(self, input, hx):
        """Shared forward: returns (output, h_n, c_n or None); ``hx`` is h0 or (h0, c0) or None."""
        name = type(self).__name__
        is_lstm = self.mode == "LSTM"
        directions = 2 if self.bidirectional else 1
        state_size = self.proj_size or self.hidden_size
        weight = getattr(self, self._all_weights[0][0])
        packed = isinstance(input, PackedSequence)
        if packed:
            data, batch_sizes, sorted_indices, unsorted_indices = input
            sizes = R.check_batch_sizes(batch_sizes)
            if data.ndim != 2:
                raise RuntimeError(f"{name}: expected packed data of 2 dims (sum(batch_sizes), input_size), "
                                   f"got shape {tuple(data.shape)}")
            x, batch, unbatched = data, sizes[0], False
        else:
            if not isinstance(input, Tensor):
                raise TypeError(f"{name}: expected a Tensor or a PackedSequence as input, got {type(input).__name__}")
            if input.ndim not in (2, 3):
                raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.ndim}D instead "
                                 f"(shape {tuple(input.shape)})")
            unbatched = input.ndim == 2
            if unbatched:
                input = input.unsqueeze(1)
            elif self.batch_first:
                input = input.transpose(0, 1)
            steps, batch = input.shape[:2]
            if steps == 0 or batch == 0:
                raise RuntimeError(f"{name}: expected a non-empty sequence and batch, got input of shape "
                                   f"{tuple(input.shape)}")
            sizes, x = [batch] * steps, input.reshape(steps * batch, input.shape[2])
        if x.shape[-1] != self.input_size:
            raise RuntimeError(f"{name}: input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {x.shape[-1]} (input shape {tuple(x.shape if packed else input.shape)})")
        if x._data.dtype != weight._data.dtype:
            raise ValueError(f"{name}: input dtype ({x.dtype}) does not match weight dtype ({weight.dtype}). "
                             f"Convert input: input.to({weight.dtype}), or convert model: model.to({x.dtype})")

        layers = self.num_layers * directions
        h_shape, c_shape = (layers, batch, state_size), (layers, batch, self.hidden_size)
        if hx is None:
            h0 = c0 = None
        else:
            if is_lstm:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise TypeError(f"{name}: hx must be a tuple (h_0, c_0) of tensors, got {type(hx).__name__}")
                h0, c0 = hx
            else:
                if not isinstance(hx, Tensor):
                    raise TypeError(f"{name}: hx must be a Tensor, got {type(hx).__name__}")
                h0, c0 = hx, None
            states = [(label, t) for label, t in (("h_0", h0), ("c_0", c0)) if t is not None]
            want = 2 if unbatched else 3
            for label, t in states:
                if t.ndim != want:
                    raise RuntimeError(f"{name}: for {'unbatched 2-D' if unbatched else 'batched 3-D'} input, {label} "
                                       f"should also be {want}-D, got shape {tuple(t.shape)}")
            if unbatched:
                h0 = h0.unsqueeze(1)
                c0 = c0.unsqueeze(1) if c0 is not None else None
            for label, t, shape in (("h_0", h0, h_shape), ("c_0", c0, c_shape)):
                if t is not None and tuple(t.shape) != shape:
                    got = tuple(t.shape[:1] + t.shape[2:]) if unbatched else tuple(t.shape)
                    expected = (shape[0], shape[2]) if unbatched else shape
                    size = "proj_size" if label == "h_0" and self.proj_size else "hidden_size"
                    layout = f"num_layers * num_directions, {'' if unbatched else 'batch, '}{size}"
                    raise RuntimeError(f"{name}: expected {label} of shape {expected} ({layout}), got {got}")
                if t is not None and t._data.dtype != weight._data.dtype:
                    raise ValueError(f"{name}: {label} dtype ({t.dtype}) does not match weight dtype ({weight.dtype})")
            if packed and sorted_indices is not None:  # the states follow their sequences into length order
                h0 = h0.index_select(1, sorted_indices)
                c0 = c0.index_select(1, sorted_indices) if c0 is not None else None

        def initial(state, size, k):
            if state is None:
                return zeros(batch, size, dtype=weight.dtype, device=weight.device)
            return state[k]

        mode = _OP_MODE[self.mode]
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                k = layer * directions + direction
                c_k = initial(c0, self.hidden_size, k) if is_lstm else None
                out = R._sequence(mode, x, sizes, initial(h0, state_size, k), c_k, *self._weights(k),
                                  reverse=direction == 1)
                outputs.append(out[0])
                h_n.append(out[1])
                if is_lstm:
                    c_n.append(out[2])
            x = outputs[0] if directions == 1 else cat(outputs, 1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = dropout(x, self.dropout)
        h_n = stack(h_n, 0)
        c_n = stack(c_n, 0) if is_lstm else None
        if packed:
            if unsorted_indices is not None:
                h_n = h_n.index_select(1, unsorted_indices)
                c_n = c_n.index_select(1, unsorted_indices) if c_n is not None else None
            return PackedSequence(x, batch_sizes, sorted_indices, unsorted_indices), h_n, c_n
        output = x.reshape(steps, batch, directions * state_size)
        if unbatched:
            output, h_n = output.squeeze(1), h_n.squeeze(1)
            c_n = c_n.squeeze(1) if c_n is not None else None
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, h_n, c_n


class RNN(RNNBase):
    """Elman RNN, h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu), stacked ``num_layers`` deep.

    input (T, B, input_size) ((B, T, ...) with ``batch_first``), (T, input_size) unbatched, or a
    ``PackedSequence``; h_0 (num_layers * num_directions, B, hidden_size), zeros if omitted.
    Returns ``(output, h_n)``: output (T, B, num_directions * hidden_size), h_n like h_0.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, device=device, dtype=dtype)

    def forward(self, input, hx: Tensor | None = None):
        output, h_n, _ = self._run(input, hx)
        return output, h_n


class LSTM(RNNBase):
    """Long short-term memory (gate order i, f, g, o; Hochreiter & Schmidhuber 1997), optionally projected.

    c_t = f * c_{t-1} + i * g,  h_t = o * tanh(c_t)  (times W_hr when ``proj_size > 0``, Sak et al. 2014).
    Input as ``RNN``; hx = (h_0, c_0), h_0 (num_layers * num_directions, B, proj_size or hidden_size),
    c_0 (..., hidden_size), zeros if omitted. Returns ``(output, (h_n, c_n))``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device=None, dtype=None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device=device, dtype=dtype)

    def forward(self, input, hx: tuple[Tensor, Tensor] | None = None):
        output, h_n, c_n = self._run(input, hx)
        return output, (h_n, c_n)


class GRU(RNNBase):
    """Gated recurrent unit (gate order r, z, n; Cho et al. 2014), torch's variant:

    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h' = (1 - z) * n + z * h.
    Shapes as ``RNN``. Returns ``(output, h_n)``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)

    def forward(self, input, hx: Tensor | None = None):
        output, h_n, _ = self._run(input, hx)
        return output, h_n


# ----------------------------------------------------------------------------------------------
# Cells: one step, from minigrad ops (any-order differentiable)
# ----------------------------------------------------------------------------------------------
class RNNCellBase(Module):
    """Parameters ``weight_ih`` (gates*H, I), ``weight_hh`` (gates*H, H), ``bias_ih``, ``bias_hh`` (gates*H,)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device=None,
                 dtype=None) -> None:
        super().__init__()
        for label, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{label} must be a positive int, got {value!r}")
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.weight_ih = Parameter(empty(num_chunks * hidden_size, input_size, device=device, dtype=dtype))
        self.weight_hh = Parameter(empty(num_chunks * hidden_size, hidden_size, device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty(num_chunks * hidden_size, device=device, dtype=dtype))
            self.bias_hh = Parameter(empty(num_chunks * hidden_size, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as torch."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _prepare(self, input: Tensor, states: tuple, labels: tuple):
        """Check ranks, add the batch dim to unbatched inputs, and fill missing states with zeros."""
        name = type(self).__name__
        if not isinstance(input, Tensor) or input.ndim not in (1, 2):
            shape = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {shape}")
        for label, state in zip(labels, states):
            if state is not None and state.ndim != input.ndim:
                raise ValueError(f"{name}: Expected {label} to be {input.ndim}D like the input (shape "
                                 f"{tuple(input.shape)}), got shape {tuple(state.shape)}")
        unbatched = input.ndim == 1
        if unbatched:
            input = input.unsqueeze(0)
            states = tuple(s.unsqueeze(0) if s is not None else None for s in states)
        fill = lambda: zeros(input.shape[0], self.hidden_size, dtype=input.dtype, device=input.device)  # noqa: E731
        return input, tuple(s if s is not None else fill() for s in states), unbatched


class RNNCell(RNNCellBase):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu); input (B, I) or (I,), hx like h', zeros if omitted."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device=None, dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(input_size, hidden_size, bias, 1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        input, (hx,), unbatched = self._prepare(input, (hx,), ("hidden",))
        cell = R.rnn_tanh_cell if self.nonlinearity == "tanh" else R.rnn_relu_cell
        h = cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h.squeeze(0) if unbatched else h


class LSTMCell(RNNCellBase):
    """One LSTM step: returns (h', c'); input (B, I) or (I,), hx = (h, c), zeros if omitted."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError("LSTMCell: hx must be a tuple (h, c) of tensors")
        input, (h, c), unbatched = self._prepare(input, tuple(hx) if hx is not None else (None, None),
                                                 ("hx[0]", "hx[1]"))
        h, c = R.lstm_cell(input, (h, c), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(RNNCellBase):
    """One GRU step (torch's variant); input (B, I) or (I,), hx like the result, zeros if omitted."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        input, (hx,), unbatched = self._prepare(input, (hx,), ("hidden",))
        h = R.gru_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h.squeeze(0) if unbatched else h

