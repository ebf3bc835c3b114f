"""``minigrad.nn.functional`` (``F``): the stateless form of every layer, with torch's names.

Each function lives with its op family in ``minigrad/ops/``; this module only gathers them.
"""

from ..ops.linalg import bilinear, linear
from ..ops.math import relu, sigmoid, tanh

__all__ = ["bilinear", "linear", "relu", "sigmoid", "tanh"]
