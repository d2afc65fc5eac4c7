"""The base of chute.seq's lazy views, and `SeqSlice`, the view a slice of any sequence gives.

A view answers `len`, `v[i]` (negative i counts from the end), `v[a:b:c]` (a `SeqSlice`, itself a
view; slices of slices fold into one), iteration and, where the operation can be inverted,
assignment (`v[i] = x`, `v[a:b] = xs`), which writes into the sequences underneath.
Subclasses implement `_get(i)` (and `_set(i, x)`) for 0 <= i < len; `_get_many(rows)` reads a
range of items at once, which views over chute tensors turn into one engine call.
"""
from __future__ import annotations

import operator
from collections.abc import Iterator
from numbers import Integral
from typing import Any


def isint(x) -> bool:
    """Whether `x` is an integral number (int, numpy integers), not a bool-like float."""
    return isinstance(x, Integral)


def index_of(view, key) -> int:
    """`key` as an int, checked: TypeError names the view's type, as list indexing does."""
    try:
        return operator.index(key)
    except TypeError:
        raise TypeError(f"{type(view).__name__} indices must be integers or slices, "
                        f"not {type(key).__name__}") from None


def normalize(view, key: int, size: int | None) -> int:
    """A non-negative in-range position for `key` in a view of `size` items (None: no len)."""
    if key < 0:
        if size is None:
            raise IndexError(f"cannot use negative indices on {type(view).__name__}, which has no len()")
        key += size
        if key < 0:
            raise IndexError(f"{type(view).__name__} index out of range")
    elif size is not None and key >= size:
        raise IndexError(f"{type(view).__name__} index out of range")
    return key


def size_or_none(seq) -> int | None:
    try:
        return len(seq)
    except TypeError:
        return None


def get_many(seq, rows: range) -> list:
    """[seq[i] for i in rows], in one call where the sequence can (views, lists)."""
    if isinstance(seq, View):
        return seq._get_many(rows)
    if isinstance(seq, (list, tuple)) and rows.step == 1:
        return list(seq[rows.start:rows.stop])
    return [seq[i] for i in rows]


class View:
    """A lazy, indexable view. Thread-safe for reads as far as the functions it calls are."""

    __slots__ = ("__weakref__",)

    def __len__(self) -> int:
        raise TypeError(f"object of type '{type(self).__name__}' has no len()")

    def _get(self, i: int) -> Any:
        raise NotImplementedError

    def _set(self, i: int, value) -> None:
        raise TypeError(f"'{type(self).__name__}' object does not support item assignment")

    def _get_many(self, rows: range) -> list:
        return [self._get(i) for i in rows]

    def __getitem__(self, key):
        if isinstance(key, slice):
            return SeqSlice(self, key)
        return self._get(normalize(self, index_of(self, key), size_or_none(self)))

    def __setitem__(self, key, value) -> None:
        if isinstance(key, slice):
            part = SeqSlice(self, key)
            values = list(value)
            if len(values) != len(part):
                raise ValueError(f"{type(self).__name__} only supports one-to-one assignment "
                                 f"({len(part)} items, {len(values)} values)")
            for k, v in enumerate(values):
                part[k] = v
            return
        self._set(normalize(self, index_of(self, key), size_or_none(self)), value)

    def __iter__(self) -> Iterator:
        for i in range(len(self)):
            yield self._get(i)

    def __repr__(self) -> str:
        n = size_or_none(self)
        return f"<chute.seq.{type(self).__name__} of {'unknown length' if n is None else f'{n} items'}>"


class SeqSlice(View):
    """`sequence[start:stop:step]` as a view (any sequence with len). `.sequence` is the sliced
    sequence (slices of a SeqSlice point at the original one); `.start`, `.stop`, `.step` are
    normalized, so item k is `sequence[start + k * step]`."""

    __slots__ = ("sequence", "_rows")

    def __init__(self, sequence, key: slice):
        if isinstance(sequence, SeqSlice):
            rows = sequence._rows[key]
            sequence = sequence.sequence
        else:
            rows = range(len(sequence))[key]
        self.sequence = sequence
        self._rows = rows

    @property
    def start(self) -> int:
        return self._rows.start

    @property
    def stop(self) -> int:
        return self._rows.start + len(self._rows) * self._rows.step

    @property
    def step(self) -> int:
        return self._rows.step

    def __len__(self) -> int:
        return len(self._rows)

    def _get(self, i: int):
        return self.sequence[self._rows[i]]

    def _set(self, i: int, value) -> None:
        self.sequence[self._rows[i]] = value

    def _get_many(self, rows: range) -> list:
        return get_many(self.sequence, self._rows[rows.start:rows.stop:rows.step])

    def __iter__(self) -> Iterator:
        seq = self.sequence
        for i in self._rows:
            yield seq[i]
