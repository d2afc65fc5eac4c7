"""add_cache: keep the most recently read items of a sequence."""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, MutableMapping

from chute.seq.sources import as_source
from chute.seq.utils import View


class _Pending:
    """An item being computed by one thread; others asking for it wait for the same result."""

    __slots__ = ("done", "value", "error")

    def __init__(self):
        self.done = threading.Event()
        self.value = None
        self.error: BaseException | None = None


class CachedSequence(View):
    """A least-recently-used cache of `cache_size` items over a sequence. Thread-safe, and a miss
    is computed outside the lock: threads read different items in parallel, and threads asking
    for the same missing item compute it once (the others wait for it). Writes go through to the
    sequence and update the cache. Iteration reads the sequence directly (a cache cannot help)."""

    __slots__ = ("sequence", "cache", "cache_size", "_lock", "_pending")

    def __init__(self, sequence, cache_size: int = 1, cache: MutableMapping | None = None):
        if cache_size < 0:
            raise ValueError("cache_size must be >= 0")
        self.sequence = as_source(sequence)
        self.cache = OrderedDict() if cache is None else cache
        self.cache_size = cache_size
        self._lock = threading.Lock()
        self._pending: dict[int, _Pending] = {}

    def __len__(self) -> int:
        return len(self.sequence)

    def _store(self, i: int, value) -> None:
        """With the lock held."""
        if self.cache_size <= 0:
            return
        cache = self.cache
        if i not in cache:
            while len(cache) >= self.cache_size:
                if isinstance(cache, OrderedDict):
                    cache.popitem(last=False)
                else:
                    del cache[next(iter(cache))]
        cache[i] = value

    def _get(self, i: int):
        with self._lock:
            cache = self.cache
            if i in cache:
                if isinstance(cache, OrderedDict):
                    cache.move_to_end(i)
                return cache[i]
            waiting = self._pending.get(i)
            if waiting is None:
                mine = self._pending[i] = _Pending()
        if waiting is not None:
            waiting.done.wait()
            if waiting.error is not None:
                raise waiting.error
            return waiting.value
        try:
            value = self.sequence[i]
        except BaseException as e:
            mine.error = e
            raise
        else:
            mine.value = value
            with self._lock:
                self._store(i, value)
        finally:
            with self._lock:
                self._pending.pop(i, None)
            mine.done.set()
        return value

    def _set(self, i: int, value) -> None:
        with self._lock:
            self.sequence[i] = value
            if i in self.cache:
                self.cache[i] = value

    def __iter__(self) -> Iterator:
        return iter(self.sequence)


def add_cache(arr, cache_size: int = 1, cache: MutableMapping | None = None) -> CachedSequence:
    """The sequence with a cache of its `cache_size` most recently read items (by reference)."""
    return CachedSequence(arr, cache_size, cache)
