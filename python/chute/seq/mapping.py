"""smap and starmap: a function over the items of sequences, evaluated on every access."""
from __future__ import annotations

from collections.abc import Callable, Iterator

from chute.seq.errors import CreationSite, evaluation_error
from chute.seq.sources import as_source
from chute.seq.utils import View, get_many


class Mapping(View):
    """Item i is `f(*(s[i] for s in sequences))`, computed on each access (nothing is kept).
    The length is the first sequence's."""

    __slots__ = ("f", "sequences", "_site", "_star")

    def __init__(self, f: Callable, sequences, star: bool = False):
        if not callable(f):
            raise TypeError(f"f must be callable, got {type(f).__name__}")
        if not sequences:
            raise ValueError("smap needs at least one sequence")
        self.f = f
        self.sequences = tuple(as_source(s) for s in sequences)
        self._star = star
        self._site = CreationSite()

    def __len__(self) -> int:
        return len(self.sequences[0])

    def _fail(self, error: Exception, i: int):
        err = evaluation_error(error, i, type(self).__name__, self._site)
        if err is error:
            raise error
        raise err from error

    def _call(self, args: tuple, i: int):
        try:
            return self.f(*args[0]) if self._star else self.f(*args)
        except Exception as e:
            self._fail(e, i)

    def _get(self, i: int):
        try:
            args = tuple(s[i] for s in self.sequences)
        except Exception as e:
            self._fail(e, i)
        return self._call(args, i)

    def _get_many(self, rows: range) -> list:
        try:
            columns = [get_many(s, rows) for s in self.sequences]
        except Exception:  # evaluate one by one, so the error names its item
            return [self._get(i) for i in rows]
        return [self._call(args, i) for i, args in zip(rows, zip(*columns))]

    def __iter__(self) -> Iterator:
        i = 0
        iterators = [iter(s) for s in self.sequences]
        try:
            for args in zip(*iterators):
                yield self._call(args, i)
                i += 1
        except Exception as e:  # raised by a source's iterator
            self._fail(e, i)


def smap(f: Callable, *sequences) -> Mapping:
    """`[f(*xs) for xs in zip(*sequences)]`, lazily: each access calls f again. A chute tensor
    among the sequences gives f numpy arrays decoded by the engine."""
    return Mapping(f, sequences)


def starmap(f: Callable, sequence) -> Mapping:
    """`[f(*args) for args in sequence]`, lazily (itertools.starmap with random access)."""
    return Mapping(f, (sequence,), star=True)
