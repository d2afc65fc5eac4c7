"""Read hooks for debugging pipelines: `debug` (a callback on reads) and `monitor_throughput`."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

from chute.seq.sources import as_source
from chute.seq.utils import View, index_of, normalize, size_or_none


class Debug(View):
    """Calls `func(index, value)` on reads, at most `max_calls` times and `max_rate` times a second."""

    __slots__ = ("sequence", "func", "max_calls", "max_rate", "n_calls", "last_call")

    def __init__(self, sequence, func: Callable, max_calls: int | None = None, max_rate: float | None = None):
        self.sequence = as_source(sequence)
        self.func = func
        self.max_calls = max_calls
        self.max_rate = max_rate
        self.n_calls = 0
        self.last_call = time.monotonic()

    def __len__(self) -> int:
        return len(self.sequence)

    def _silenced(self) -> bool:
        if self.max_calls is not None and self.n_calls >= self.max_calls:
            return True
        return self.max_rate is not None and time.monotonic() - self.last_call < 1.0 / self.max_rate

    def _notify(self, i: int, value) -> None:
        if not self._silenced():
            self.func(i, value)
            self.last_call = time.monotonic()
            self.n_calls += 1

    def _get(self, i: int):
        value = self.sequence[i]
        self._notify(i, value)
        return value

    def __iter__(self) -> Iterator:
        for i, value in enumerate(self.sequence):
            self._notify(i, value)
            yield value


def debug(sequence, func: Callable, max_calls: int | None = None, max_rate: float | None = None) -> Debug:
    """The sequence, calling `func(index, value)` whenever an item is read (rate- and count-limited)."""
    return Debug(sequence, func, max_calls, max_rate)


class ThroughputMonitor(View):
    """Times the reads: `read_delay()` (mean seconds per item), `throughput()` (items per second of
    reading), `reset()`. Integer indices only. Thread-safe counters."""

    __slots__ = ("sequence", "n_calls", "time_spent", "_lock")

    def __init__(self, sequence):
        self.sequence = as_source(sequence)
        self.n_calls = 0
        self.time_spent = 0.0
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.n_calls, self.time_spent = 0, 0.0

    def throughput(self) -> float:
        if self.n_calls == 0:
            raise RuntimeError("cannot measure throughput before any item was read")
        return self.n_calls / self.time_spent if self.time_spent > 0 else float("inf")

    def read_delay(self) -> float:
        if self.n_calls == 0:
            raise RuntimeError("cannot measure read delay before any item was read")
        return self.time_spent / self.n_calls

    def __len__(self) -> int:
        return len(self.sequence)

    def _count(self, seconds: float) -> None:
        with self._lock:
            self.n_calls += 1
            self.time_spent += seconds

    def __getitem__(self, key):
        if isinstance(key, slice):
            raise TypeError("ThroughputMonitor indices must be integers, not slice")
        return self._get(normalize(self, index_of(self, key), size_or_none(self)))

    def _get(self, i: int):
        t0 = time.perf_counter()
        value = self.sequence[i]
        self._count(time.perf_counter() - t0)
        return value

    def __iter__(self) -> Iterator:
        it = iter(self.sequence)
        while True:
            t0 = time.perf_counter()
            try:
                value = next(it)
            except StopIteration:
                return
            self._count(time.perf_counter() - t0)
            yield value


def monitor_throughput(sequence) -> ThroughputMonitor:
    """The sequence, timing every read: `.read_delay()`, `.throughput()`, `.reset()`."""
    return ThroughputMonitor(sequence)
