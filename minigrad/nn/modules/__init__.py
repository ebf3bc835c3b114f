"""All layer classes, one family per file."""

from .activation import *  # noqa: F403
from .container import ModuleDict, ModuleList, Sequential
from .linear import Bilinear, Flatten, Identity, Linear, Unflatten
from .module import Module

__all__ = [name for name in dir() if not name.startswith("_") and name[0].isupper()]
