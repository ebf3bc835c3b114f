"""``minigrad.nn``: modules, parameters, initialisation and functional ops, with torch's names."""

from . import functional, init, utils
from .modules import *  # noqa: F403
from .modules import __all__ as _modules_all
from .parameter import Parameter
