"""Views that pick items: arange, gather/take, cycle, repeat, interleave, switch/case, uniter."""
from __future__ import annotations

import bisect
import itertools
import threading
from collections import deque
from collections.abc import Iterable, Iterator

from chute.seq.sources import as_source
from chute.seq.utils import SeqSlice, View, index_of, isint, size_or_none


class Arange(View):
    """A lazy `range`; a slice of it is another Arange."""

    __slots__ = ("_range",)

    def __init__(self, start: int, stop: int | None = None, step: int | None = None):
        if stop is None and step is None:
            start, stop = 0, start
        self._range = range(start, stop, 1 if step is None else step)

    start = property(lambda self: self._range.start)
    step = property(lambda self: self._range.step)
    stop = property(lambda self: self._range.start + len(self._range) * self._range.step)

    def __len__(self) -> int:
        return len(self._range)

    def __getitem__(self, key):
        if isinstance(key, slice):
            r = self._range[key]
            out = Arange.__new__(Arange)
            out._range = r
            return out
        return self._range[index_of(self, key)]

    def _get(self, i: int) -> int:
        return self._range[i]

    def _get_many(self, rows: range) -> list:
        r = self._range
        return [r[i] for i in rows]

    def __iter__(self) -> Iterator[int]:
        return iter(self._range)


def arange(start: int, stop: int | None = None, step: int | None = None) -> Arange:
    """Lazy equivalent of `range(start, stop, step)`."""
    return Arange(start, stop, step)


class Gathering(View):
    """Item k is `sequence[indexes[k]]`. Writable. Gathering a gathering composes the indexes, so
    `.sequence` is never a Gathering; a slice is a Gathering with `.indexes` sliced."""

    __slots__ = ("sequence", "indexes")

    def __init__(self, sequence, indexes):
        if isinstance(sequence, Gathering):
            self.indexes = [sequence.indexes[i] for i in indexes]
            self.sequence = sequence.sequence
        else:
            self.indexes = indexes
            self.sequence = as_source(sequence)

    def __len__(self) -> int:
        return len(self.indexes)

    def __getitem__(self, key):
        if isinstance(key, slice):
            return Gathering(self.sequence, self.indexes[key])
        return super().__getitem__(key)

    def _get(self, i: int):
        return self.sequence[self.indexes[i]]

    def _set(self, i: int, value) -> None:
        self.sequence[self.indexes[i]] = value

    def __iter__(self) -> Iterator:
        seq = self.sequence
        for i in self.indexes:
            yield seq[i]


def gather(sequence, indexes) -> Gathering:
    """`[sequence[i] for i in indexes]` as a view (writable)."""
    return Gathering(sequence, indexes)


def take(sequence, indexes) -> Gathering:
    """Alias of `gather`."""
    return Gathering(sequence, indexes)


class Cycle(View):
    """`sequence` repeated up to `size` items. Writable (writes the underlying item)."""

    __slots__ = ("sequence", "size")

    def __init__(self, sequence, size: int):
        self.sequence = as_source(sequence)
        self.size = int(size)

    def __len__(self) -> int:
        return self.size

    def _get(self, i: int):
        return self.sequence[i % len(self.sequence)]

    def _set(self, i: int, value) -> None:
        self.sequence[i % len(self.sequence)] = value

    def __iter__(self) -> Iterator:
        return itertools.islice(itertools.cycle(self.sequence), self.size) if self.size else iter(())


class InfiniteCycle(View):
    """`sequence` repeated forever: no len, no negative index; a slice needs a stop."""

    __slots__ = ("sequence",)

    def __init__(self, sequence):
        self.sequence = as_source(sequence)

    def __getitem__(self, key):
        if isinstance(key, slice):
            start = 0 if key.start is None else key.start
            if start < 0 or key.stop is None or key.stop < 0:
                raise IndexError("cannot use indices relative to the end on an infinite cycle")
            n = len(self.sequence)
            shift = start - start % n  # keep the numbers small: the pattern repeats every n
            return Cycle(self.sequence, key.stop - shift)[start - shift:key.stop - shift:key.step]
        return super().__getitem__(key)

    def _get(self, i: int):
        return self.sequence[i % len(self.sequence)]

    def _set(self, i: int, value) -> None:
        self.sequence[i % len(self.sequence)] = value

    def __iter__(self) -> Iterator:
        while True:
            yield from self.sequence


def cycle(sequence, limit: int | None = None) -> View:
    """`sequence` repeated without end, or up to `limit` items."""
    return InfiniteCycle(sequence) if limit is None else Cycle(sequence, limit)


class Repetition(View):
    """One value `times` times; assigning any item changes the value everywhere."""

    __slots__ = ("value", "times")

    def __init__(self, value, times: int):
        self.value = value
        self.times = times

    @property
    def object(self):  # SeqTools' attribute name
        return self.value

    def __len__(self) -> int:
        return self.times

    def _get(self, i: int):
        return self.value

    def _set(self, i: int, value) -> None:
        self.value = value

    def __iter__(self) -> Iterator:
        return itertools.repeat(self.value, self.times)


class InfiniteRepetition(View):
    """One value without end: no len; a slice needs a stop and gives a Repetition."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __getitem__(self, key):
        if isinstance(key, slice):
            start = 0 if key.start is None else key.start
            if start < 0 or key.stop is None or key.stop < 0:
                raise IndexError("cannot use indices relative to the end on an infinite repetition")
            return Repetition(self.value, len(range(start, key.stop, 1 if key.step is None else key.step)))
        return super().__getitem__(key)

    def __setitem__(self, key, value) -> None:
        if isinstance(key, slice):
            start = 0 if key.start is None else key.start
            if start < 0 or key.stop is None or key.stop < 0:
                raise IndexError("cannot use indices relative to the end on an infinite repetition")
            values = list(value)
            if len(values) != len(range(start, key.stop, 1 if key.step is None else key.step)):
                raise ValueError("InfiniteRepetition only supports one-to-one assignment")
            if values:
                self.value = values[-1]
            return
        super().__setitem__(key, value)

    def _get(self, i: int):
        return self.value

    def _set(self, i: int, value) -> None:
        self.value = value

    def __iter__(self) -> Iterator:
        return itertools.repeat(self.value)


def repeat(value, times: int | None = None) -> View:
    """A sequence of `value` repeated `times` times (None: without end)."""
    if times is None:
        return InfiniteRepetition(value)
    if not isint(times) or times < 0:
        raise TypeError(f"times must be a non-negative integer or None, got {times!r}")
    return Repetition(value, int(times))


class Interleaving(View):
    """Round robin over sequences of any lengths: once the shortest ones end, the round robin goes
    on over those left (`[1, 2, 3]` and `[9]` give `[1, 9, 2, 3]`). Writable."""

    __slots__ = ("sequences", "_phase_out", "_phase_in", "_active")

    def __init__(self, sequences):
        self.sequences = sequences
        lengths = [len(s) for s in sequences]
        # phase p: the sequences longer than the p-th distinct length are still going
        self._phase_out, self._phase_in, self._active = [0], [0], []
        done = 0
        for level in sorted(set(lengths)):
            active = [k for k, n in enumerate(lengths) if n > done]
            self._active.append(active)
            self._phase_out.append(self._phase_out[-1] + (level - done) * len(active))
            self._phase_in.append(level)
            done = level

    def __len__(self) -> int:
        return self._phase_out[-1]

    def _locate(self, i: int) -> tuple[int, int]:
        p = bisect.bisect_right(self._phase_out, i) - 1
        active = self._active[p]
        q, r = divmod(i - self._phase_out[p], len(active))
        return active[r], self._phase_in[p] + q

    def _get(self, i: int):
        s, k = self._locate(i)
        return self.sequences[s][k]

    def _set(self, i: int, value) -> None:
        s, k = self._locate(i)
        self.sequences[s][k] = value

    def __iter__(self) -> Iterator:
        return _round_robin(self.sequences)


def _round_robin(sequences) -> Iterator:
    iterators = deque(iter(s) for s in sequences)
    while iterators:
        it = iterators.popleft()
        try:
            v = next(it)
        except StopIteration:
            continue
        yield v
        iterators.append(it)


class IterInterleaving:
    """Interleaving of iterables without len: iteration only."""

    def __init__(self, sequences):
        self.sequences = sequences

    def __iter__(self) -> Iterator:
        return _round_robin(self.sequences)


def interleave(*sequences):
    """Items taken in turn from each sequence, continuing with those left when some end."""
    sequences = [as_source(s) for s in sequences]
    if any(size_or_none(s) is None for s in sequences):
        return IterInterleaving(sequences)
    return Interleaving(sequences)


class Case(View):
    """Item i is `values[selector[i]][i]`. Writable (writes into the selected sequence)."""

    __slots__ = ("selector", "values")

    def __init__(self, selector, *values):
        n = size_or_none(selector)
        if n is not None and any(size_or_none(v) not in (None, n) for v in values):
            raise ValueError("all inputs must have the same size as the selector")
        self.selector = as_source(selector)
        self.values = tuple(as_source(v) for v in values)

    def __len__(self) -> int:
        return len(self.selector)

    def _get(self, i: int):
        return self.values[self.selector[i]][i]

    def _set(self, i: int, value) -> None:
        self.values[self.selector[i]][i] = value


def switch(condition, x, y) -> Case:
    """Item i is `x[i]` where `condition[i]` is true, else `y[i]`."""
    return Case(condition, y, x)


def case(selector, *values) -> Case:
    """Item i is `values[selector[i]][i]`."""
    return Case(selector, *values)


class _Cursor:
    """One iterator over the iterable, at item `next_i`, with the last items it gave."""

    __slots__ = ("iterable", "it", "next_i", "recent")

    def __init__(self, iterable, cache_size: int):
        self.iterable = iterable
        self.it = iter(iterable)
        self.next_i = 0
        self.recent: deque = deque(maxlen=cache_size)

    @property
    def first(self) -> int:
        """The lowest item this cursor can give without restarting."""
        return self.next_i - len(self.recent)

    def get(self, i: int):
        if self.first <= i < self.next_i:
            return self.recent[i - self.next_i]
        if i < self.first:
            self.it, self.next_i = iter(self.iterable), 0
            self.recent.clear()
        while self.next_i < i:
            self.recent.append(next(self.it))
            self.next_i += 1
        value = next(self.it)
        self.next_i += 1
        self.recent.append(value)
        return value


class UnIter(View):
    """Random access over an iterable, by restarting iterators: `n_parallel` of them, each keeping
    its last `cache_size` items. `len` raises TypeError unless `size` is given. Thread-safe."""

    __slots__ = ("iterable", "size", "_cursors", "_lock")

    def __init__(self, iterable: Iterable, cache_size: int = 0, n_parallel: int = 1, size: int | None = None):
        if n_parallel < 1:
            raise ValueError("n_parallel must be at least 1")
        self.iterable = iterable
        self.size = size
        self._cursors = [_Cursor(iterable, cache_size) for _ in range(n_parallel)]
        self._lock = threading.Lock()

    def __len__(self) -> int:
        if self.size is None:
            raise TypeError("uniter of unknown size has no len(); pass size=")
        return self.size

    def __getitem__(self, key):
        if isinstance(key, slice):
            if self.size is None:
                raise TypeError("cannot slice a uniter of unknown size")
            return SeqSlice(self, key)
        return super().__getitem__(key)

    def _get(self, i: int):
        with self._lock:
            # the cursor closest below i; when every cursor is past i, restart the least recently used
            best = None
            for c in self._cursors:
                if c.first <= i and (best is None or c.first > best.first):
                    best = c
            if best is None:
                best = self._cursors[-1]
            self._cursors.remove(best)
            self._cursors.insert(0, best)
            try:
                return best.get(i)
            except StopIteration:
                raise IndexError(f"uniter index {i} is past the end of the iterable") from None

    def __iter__(self) -> Iterator:
        return iter(self.iterable) if self.size is None else itertools.islice(self.iterable, self.size)


def uniter(iterable: Iterable, cache_size: int = 0, n_parallel: int = 1, size: int | None = None) -> UnIter:
    """A sequence over an iterable: item i restarts (or advances) an iterator to reach it."""
    return UnIter(iterable, cache_size, n_parallel, size)
