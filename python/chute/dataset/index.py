"""Index views: which rows of a dataset a view selects (an int, a slice or a list of ints)."""
from __future__ import annotations

import numpy as np


class Index:
    """Rows selected from a tensor of some length. `scalar` views (ds[3]) drop the first axis."""

    __slots__ = ("_item", "scalar")

    def __init__(self, item=None):
        if isinstance(item, Index):
            self._item, self.scalar = item._item, item.scalar
            return
        if item is None:
            item = slice(None)
        if isinstance(item, (bool, np.bool_)):
            raise TypeError("a boolean is not an index")
        if isinstance(item, (int, np.integer)):
            self._item, self.scalar = int(item), True
        elif isinstance(item, slice):
            self._item, self.scalar = item, False
        elif isinstance(item, (list, tuple, np.ndarray, range)):
            arr = np.asarray(item)
            if arr.dtype == bool:
                arr = np.flatnonzero(arr)
            if arr.size and not np.issubdtype(arr.dtype, np.integer):
                raise TypeError(f"index lists must hold integers, got {arr.dtype}")
            self._item, self.scalar = arr.astype(np.int64).reshape(-1), False
        else:
            raise TypeError(f"cannot index with {type(item).__name__}")

    @property
    def is_full(self) -> bool:
        return isinstance(self._item, slice) and self._item == slice(None)

    def indices(self, length: int) -> np.ndarray:
        """The absolute row numbers, checked against `length`."""
        it = self._item
        if isinstance(it, int):
            i = it + length if it < 0 else it
            if not 0 <= i < length:
                raise IndexError(f"index {it} is out of range for length {length}")
            return np.array([i], dtype=np.int64)
        if isinstance(it, slice):
            return np.arange(*it.indices(length), dtype=np.int64)
        out = np.where(it < 0, it + length, it)
        bad = (out < 0) | (out >= length)
        if bad.any():
            raise IndexError(f"index {int(it[bad][0])} is out of range for length {length}")
        return out

    def compose(self, item, length: int) -> Index:
        """The view of this view: `item` indexes into this view's rows. A slice of a slice stays a
        slice and an int of a slice is computed, so `view[i]` costs O(1) however long the view."""
        if self.scalar:
            raise IndexError("cannot index a single sample's view by row again")
        sub = Index(item)
        it = self._item
        if isinstance(it, slice):
            base = range(*it.indices(length))
            if isinstance(sub._item, int):
                i = sub._item + len(base) if sub._item < 0 else sub._item
                if not 0 <= i < len(base):
                    raise IndexError(f"index {sub._item} is out of range for length {len(base)}")
                return Index(base[i])
            if isinstance(sub._item, slice):
                r = base[sub._item]
                # a range that runs down to row 0 has stop -1, which a slice would read from the end
                return Index(slice(r.start, r.stop if r.stop >= 0 else None, r.step) if len(r) else slice(0, 0))
            picked = sub.indices(len(base))
            return Index(base.start + picked * base.step)
        base = self.indices(length)
        picked = sub.indices(len(base))
        if sub.scalar:
            return Index(int(base[picked][0]))
        return Index(base[picked])

    def __repr__(self) -> str:
        return f"Index({self._item!r})"
