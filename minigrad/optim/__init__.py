"""``minigrad.optim``: optimizers on raw arrays, learning-rate schedules and model EMAs, with torch's names."""

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .ema import ModelEMA, cosine_momentum, ema_update_
from .lamb import LAMB
from .lars import LARS, exclude_bias_and_norm
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = [
    "LAMB", "LARS", "SGD", "Adagrad", "Adam", "AdamW", "ModelEMA", "Optimizer", "RMSprop", "cosine_momentum",
    "ema_update_", "exclude_bias_and_norm", "lr_scheduler",
]
