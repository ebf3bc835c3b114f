"""``minigrad.nn.utils``: gradient clipping and parameter/vector conversion, as ``torch.nn.utils``."""

# The sequence-packing helpers (pad_sequence, pack_padded_sequence, ...) live in nn/utils/rnn.py.
from . import rnn
from .clip_grad import clip_grad_norm_, clip_grad_value_
from .convert_parameters import parameters_to_vector, vector_to_parameters

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "vector_to_parameters"]
