"""Views that regroup items: collate, concatenate, batch, unbatch, split."""
from __future__ import annotations

import bisect
import itertools
import logging
from collections.abc import Callable, Iterator

import numpy as np

from chute.errors import DynamicTensorNumpyError
from chute.seq.sources import TensorSeq, as_source
from chute.seq.utils import SeqSlice, View, get_many, isint, size_or_none

_log = logging.getLogger(__name__)

# collate functions that stack same-shape arrays: over a chute tensor the engine stacks them
_STACKERS = (np.stack, np.array, np.asarray)


class Collation(View):
    """Item i is `tuple(s[i] for s in sequences)`. Writable (a tuple is spread over the sequences)."""

    __slots__ = ("sequences",)

    def __init__(self, sequences):
        sequences = [as_source(s) for s in sequences]
        if not sequences:
            raise ValueError("collate needs at least one sequence")
        lengths = {size_or_none(s) for s in sequences}
        if len(lengths) > 1:
            raise ValueError(f"collate: sequences have different lengths {sorted(map(str, lengths))}")
        self.sequences = sequences

    def __len__(self) -> int:
        return len(self.sequences[0])

    def _get(self, i: int) -> tuple:
        return tuple([s[i] for s in self.sequences])

    def _set(self, i: int, value) -> None:
        value = tuple(value)
        if len(value) != len(self.sequences):
            raise ValueError(f"collate: assigning {len(value)} values to {len(self.sequences)} sequences")
        for s, v in zip(self.sequences, value):
            s[i] = v

    def _get_many(self, rows: range) -> list:
        return list(zip(*[get_many(s, rows) for s in self.sequences]))

    def __iter__(self) -> Iterator:
        return zip(*self.sequences)


def collate(sequences) -> Collation:
    """Item i is the tuple of the i-th items of the sequences (which must have equal lengths)."""
    return Collation(sequences)


class Concatenation(View):
    """The sequences one after the other. Nested concatenations are flattened into `.sequences`.
    Writable."""

    __slots__ = ("sequences", "offsets")

    def __init__(self, sequences):
        flat = []
        for s in sequences:
            if isinstance(s, Concatenation):
                flat.extend(s.sequences)
            else:
                flat.append(as_source(s))
        self.sequences = flat
        self.offsets = [0, *itertools.accumulate(len(s) for s in flat)]

    def __len__(self) -> int:
        return self.offsets[-1]

    def _locate(self, i: int) -> tuple[int, int]:
        k = bisect.bisect_right(self.offsets, i) - 1
        return k, i - self.offsets[k]

    def _get(self, i: int):
        k, j = self._locate(i)
        return self.sequences[k][j]

    def _set(self, i: int, value) -> None:
        k, j = self._locate(i)
        self.sequences[k][j] = value

    def _get_many(self, rows: range) -> list:
        if rows.step != 1 or not rows:
            return super()._get_many(rows)
        out: list = []
        i, stop = rows.start, rows.stop
        while i < stop:
            k, j = self._locate(i)
            n = min(stop, self.offsets[k + 1]) - i
            out.extend(get_many(self.sequences[k], range(j, j + n)))
            i += n
        return out

    def __iter__(self) -> Iterator:
        return itertools.chain.from_iterable(self.sequences)


def concatenate(sequences) -> Concatenation:
    """The sequences chained into one view."""
    return Concatenation(sequences)


class BatchView(View):
    """Item k is the list `sequence[k*size:(k+1)*size]` (read in one call where the source
    allows it: one engine call over a chute tensor), then `collate_fn(items)` if given. The last
    batch is short unless `drop_last` (dropped) or `pad` (filled with the pad value). Writable."""

    __slots__ = ("sequence", "batch_size", "drop_last", "pad", "collate_fn")

    def __init__(self, sequence, batch_size: int, drop_last: bool = False, pad=None,
                 collate_fn: Callable | None = None):
        if not isint(batch_size) or batch_size < 1:
            raise ValueError(f"batch size must be a positive integer, got {batch_size!r}")
        if drop_last and pad is not None:
            _log.warning("batch: pad is ignored because drop_last is True")
        self.sequence = as_source(sequence)
        self.batch_size = int(batch_size)
        self.drop_last = drop_last
        self.pad = pad
        self.collate_fn = collate_fn

    def __len__(self) -> int:
        n, extra = divmod(len(self.sequence), self.batch_size)
        return n + (1 if extra and not self.drop_last else 0)

    def _bounds(self, k: int) -> tuple[int, int]:
        start = k * self.batch_size
        n = size_or_none(self.sequence)
        return start, start + self.batch_size if n is None else min(start + self.batch_size, n)

    def _get(self, k: int):
        start, stop = self._bounds(k)
        pad = self.batch_size - (stop - start) if self.pad is not None and not self.drop_last else 0
        f = self.collate_fn
        if (not pad and any(f is s for s in _STACKERS)
                and isinstance(self.sequence, TensorSeq)):
            try:
                return self.sequence.read_stacked(range(start, stop))
            except DynamicTensorNumpyError:
                pass  # collate_fn gives the error (or the object array) it gives over a list
        items = get_many(self.sequence, range(start, stop))
        if pad:
            items.extend([self.pad] * pad)
        return items if f is None else f(items)

    def _set(self, k: int, value) -> None:
        start, stop = self._bounds(k)
        values = list(value)
        if self.pad is not None and len(values) == self.batch_size > stop - start:
            values = values[:stop - start]  # the padding is not stored
        if len(values) != stop - start:
            raise ValueError(f"batch {k} has {stop - start} items, got {len(values)} values "
                             "(only one-to-one assignment is supported)")
        for i, v in zip(range(start, stop), values):
            self.sequence[i] = v

    def __iter__(self) -> Iterator:
        if size_or_none(self.sequence) is None:
            return (self._get(k) for k in itertools.count())
        return (self._get(k) for k in range(len(self)))


def batch(sequence, k: int, drop_last: bool = False, pad=None, collate_fn: Callable | None = None) -> BatchView:
    """The sequence in groups of k items (lists, or `collate_fn(list)`, e.g. np.stack)."""
    return BatchView(sequence, k, drop_last, pad, collate_fn)


class Unbatching(View):
    """The items of a sequence of batches, flattened: item i is `sequence[i // size][i % size]`.
    Every batch has `batch_size` items except the last (`last_batch_size`). Writable."""

    __slots__ = ("sequence", "batch_size", "last_batch_size")

    def __init__(self, sequence, batch_size: int, last_batch_size: int | None = None):
        if not isint(batch_size) or batch_size < 1:
            raise ValueError(f"batch size must be a positive integer, got {batch_size!r}")
        self.sequence = as_source(sequence)
        self.batch_size = int(batch_size)
        self.last_batch_size = int(last_batch_size or batch_size)

    def __len__(self) -> int:
        n = len(self.sequence)
        return 0 if n == 0 else (n - 1) * self.batch_size + self.last_batch_size

    def _get(self, i: int):
        k, j = divmod(i, self.batch_size)
        return self.sequence[k][j]

    def _set(self, i: int, value) -> None:
        k, j = divmod(i, self.batch_size)
        self.sequence[k][j] = value

    def _get_many(self, rows: range) -> list:
        if rows.step != 1 or not rows:
            return super()._get_many(rows)
        bs = self.batch_size
        first, last = rows.start // bs, (rows.stop - 1) // bs
        out: list = []
        for k, b in zip(range(first, last + 1), get_many(self.sequence, range(first, last + 1))):
            lo = max(rows.start - k * bs, 0)
            hi = min(rows.stop - k * bs, bs)
            out.extend(b[j] for j in range(lo, hi))
        return out

    def __iter__(self) -> Iterator:
        return itertools.chain.from_iterable(self.sequence)


def unbatch(sequence, batch_size: int, last_batch_size: int | None = None) -> Unbatching:
    """The inverse of `batch`: the items of the batches, one after the other."""
    return Unbatching(sequence, batch_size, last_batch_size)


class Split(View):
    """Item k is `sequence[starts[k]:stops[k]]` (a slice of the sequence: a list's slice, a view's
    SeqSlice). Writable (`s[k] = values` assigns the whole part)."""

    __slots__ = ("sequence", "starts", "stops")

    def __init__(self, sequence, edges):
        sequence = as_source(sequence)
        n = len(sequence)
        if isint(edges):
            parts = int(edges) + 1
            if parts < 1 or n % parts:
                raise ValueError(f"split: {edges} cuts do not divide the {n} items into equal parts")
            size = n // parts
            self.starts = list(range(0, n, size)) if size else [0] * parts
            self.stops = [s + size for s in self.starts]
        else:
            edges = list(edges)
            if edges and not isint(edges[0]):  # (start, stop) pairs
                bounds = [(int(a), int(b)) for a, b in edges]
            else:  # cut points; the ends are implicit
                cuts = [0, *(min(max(int(e), 0), n) for e in edges), n]
                bounds = list(zip(cuts[:-1], cuts[1:]))
            self.starts = [min(max(a, 0), n) for a, _ in bounds]
            self.stops = [max(min(max(b, 0), n), s) for s, (_, b) in zip(self.starts, bounds)]
        self.sequence = sequence

    def __len__(self) -> int:
        return len(self.starts)

    def _get(self, k: int):
        s = self.sequence
        part = slice(self.starts[k], self.stops[k])
        return SeqSlice(s, part) if isinstance(s, View) else s[part]

    def _set(self, k: int, value) -> None:
        values = list(value)
        start, stop = self.starts[k], self.stops[k]
        if len(values) != stop - start:
            raise ValueError(f"split: part {k} has {stop - start} items, got {len(values)} values")
        if isinstance(self.sequence, View):
            SeqSlice(self.sequence, slice(start, stop))[:] = values
        else:
            self.sequence[start:stop] = values


def split(sequence, edges) -> Split:
    """Consecutive parts of the sequence: `edges` is a list of cut points, an int (that many cuts
    into equal parts, which must divide the length) or a list of (start, stop) pairs."""
    return Split(sequence, edges)
