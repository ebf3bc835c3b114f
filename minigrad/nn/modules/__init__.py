"""All layer classes, one family per file."""

from .activation import *  # noqa: F403
from .batchnorm import BatchNorm1d, BatchNorm2d, BatchNorm3d
from .container import ModuleDict, ModuleList, Sequential
from .instancenorm import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d
from .linear import Bilinear, Flatten, Identity, Linear, Unflatten
from .module import Module
from .normalization import GroupNorm, LayerNorm, LocalResponseNorm, RMSNorm

__all__ = [name for name in dir() if not name.startswith("_") and name[0].isupper()]
