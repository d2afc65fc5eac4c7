"""chute tensors as sequences: item i of `ds.images` is `ds.images[i].numpy()`, decoded by the
engine (the GIL released), and a range of items is read in one engine call (`read_batch`, which
decodes on the engine's threads), so `batch(ds.images, 32)` and `batch(smap(f, ds.images), 32)`
cost one call per batch. A dataset (or a view of one) needs no adapter: it already has len and
row views (`ds[i].images.numpy()`), as in Deep Lake.
"""
from __future__ import annotations

import numpy as np

from chute.dataset import Tensor
from chute.seq.utils import View


class TensorSeq(View):
    """A chute tensor (or a view of one) with the rows it had when wrapped: item i is the numpy
    array of row i. Read-only (a tensor grows by appends, not assignment). Thread-safe: the engine
    gives each read a snapshot."""

    __slots__ = ("tensor", "_n")

    def __init__(self, tensor: Tensor):
        self.tensor = tensor
        self._n = len(tensor)

    def __len__(self) -> int:
        return self._n

    def _get(self, i: int) -> np.ndarray:
        return self.tensor[i].numpy()

    def _get_many(self, rows: range) -> list:
        if len(rows) == 0:
            return []
        return list(self.tensor[rows].numpy(aslist=True))

    def read_stacked(self, rows: range) -> np.ndarray:
        """The rows as one array (DynamicTensorNumpyError when their shapes differ)."""
        return self.tensor[rows].numpy()

    def __iter__(self):
        step = 64
        for start in range(0, self._n, step):
            yield from self._get_many(range(start, min(start + step, self._n)))


def as_source(seq):
    """What chute.seq reads items from: a TensorSeq for a chute tensor, else the sequence."""
    if isinstance(seq, Tensor):
        return TensorSeq(seq)
    return seq
