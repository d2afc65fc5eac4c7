"""`data_in` as eval reads it: a length, the i-th input, and a way for a worker process to read it.

Accepted (Deep Lake 3's rule): anything with `__len__` and `__getitem__`. A chute dataset or view
gives its rows (`sample_in.images.numpy()`); a pandas DataFrame its rows (`df.iloc[i]`); a list,
tuple, numpy array or any other sequence its items. Iterators and generators are refused with
InvalidInputDataError (they cannot be split between workers or replayed from a checkpoint).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from chute.dataset import Dataset, load
from chute.errors import InvalidInputDataError
from chute.transform.samples import TransformRow


class InputData:
    """The inputs of one eval. Picklable: a dataset is reopened read-only by a worker process."""

    def __init__(self, data_in: Any, pad_data_in: bool = False):
        self.pad = bool(pad_data_in)
        self._ds: Dataset | None = None
        self._items: Any = None
        self._frame = False
        if isinstance(data_in, Dataset):
            self._ds = data_in
            self.path = data_in.path
            self.group = data_in.group_name
            full = data_in.index.is_full
            # absolute rows, so that a worker process can rebuild the same view
            self.rows = np.asarray(data_in.index.indices(data_in.max_len), dtype=np.int64)
            self._length = data_in.max_len if (full and self.pad) else len(data_in)
            return
        if isinstance(data_in, (str, bytes, dict)) or not (hasattr(data_in, "__len__") and
                                                           hasattr(data_in, "__getitem__")):
            raise InvalidInputDataError(
                f"data_in must support __len__ and __getitem__ (a list, tuple, numpy array, DataFrame or chute "
                f"dataset); got {type(data_in).__name__}. A generator or iterator cannot be split between "
                f"workers or resumed: pass list(...) of it instead")
        self._frame = hasattr(data_in, "iloc") and hasattr(data_in, "columns")
        self._items = data_in
        self._length = len(data_in)

    @property
    def dataset(self) -> Dataset | None:
        return self._ds

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, i: int):
        ds = self._ds
        if ds is not None:
            if self.pad and ds.index.is_full:
                # a tensor shorter than the longest gives None for the rows it lacks
                return TransformRow({name: (t[i].numpy() if i < t.num_samples else None)
                                     for name, t in ds.tensors.items()})
            return ds[i]
        if self._frame:
            return self._items.iloc[i]
        return self._items[i]

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_ds"] = None  # engine objects stay in the parent; a worker reopens the folder
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self._items is None:
            self._ds = self._reopen()

    def open_in_worker(self) -> InputData:
        """A copy for a worker process: a dataset is reopened read-only (the parent keeps writing)."""
        if self._ds is None:
            return self
        copy = InputData.__new__(InputData)
        copy.__dict__.update(self.__dict__)
        copy._ds = self._reopen()
        return copy

    def _reopen(self) -> Dataset:
        ds = load(self.path, read_only=True)
        if self.group:
            ds = ds[self.group]
        if self.pad and len(self.rows) == ds.max_len:
            return ds
        return ds[self.rows.tolist()]
