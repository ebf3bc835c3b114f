"""``mg.cuda``: is a GPU usable, how many, and waiting for it. CuPy is imported only when asked."""

from ..backend import cuda_device_count as device_count
from ..backend import cuda_is_available as is_available
from ..backend import cuda_synchronize as synchronize


def manual_seed_all(seed: int) -> None:
    """Seed every CUDA generator (``mg.manual_seed`` already does this)."""
    from ..backend import manual_seed

    manual_seed(seed)


__all__ = ["device_count", "is_available", "manual_seed_all", "synchronize"]
