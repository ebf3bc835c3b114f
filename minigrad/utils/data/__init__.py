"""Datasets, samplers and the ``DataLoader`` (``torch.utils.data``'s API).

```python
from minigrad.utils.data import DataLoader, TensorDataset, random_split

train, val = random_split(TensorDataset(x, y), [0.9, 0.1], generator=mg.Generator().manual_seed(0))
for xb, yb in DataLoader(train, batch_size=64, shuffle=True, seed=0):
    ...
```
"""

from .dataloader import DataLoader, default_collate, default_convert
from .dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    Subset,
    TensorDataset,
    random_split,
)
from .sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)

__all__ = [
    "BatchSampler",
    "ChainDataset",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "IterableDataset",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "Subset",
    "SubsetRandomSampler",
    "TensorDataset",
    "WeightedRandomSampler",
    "default_collate",
    "default_convert",
    "random_split",
]
