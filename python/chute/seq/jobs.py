"""The parent's book of prefetch jobs, shared by the thread and process backends.

Jobs are item numbers of the source. The consumer asks for job j: the board keeps the jobs
[j, j + window) submitted (pending, running or done), so at most `window` results wait in memory.
Asking for any job other than the next one starts a new generation at it: pending jobs are
dropped and results of older generations are discarded when they arrive. Workers take pending
jobs and report results. One condition variable guards everything; waits are 100 ms slices so
Ctrl-C reaches the consumer, and a broken backend (a dead worker) is raised, never waited on.
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable


class JobBoard:
    """Thread-safe: one consumer (any thread, one at a time), any number of workers."""

    def __init__(self, njobs: int | None, window: int):
        self.cv = threading.Condition()
        self.njobs = njobs
        self.window = window
        self.pending: deque = deque()    # (generation, job)
        self.done: dict = {}             # job -> (ok, value), current generation only
        self.gen = 0
        self.next_submit = 0
        self.expected = 0
        self.failure: str | None = None  # the backend broke: every later request raises this
        self.closed = False
        self.on_submit: Callable[[], None] | None = None  # the process backend's wake-up

    def _refill(self) -> None:
        limit = self.expected + self.window
        if self.njobs is not None:
            limit = min(limit, self.njobs)
        added = self.next_submit < limit
        while self.next_submit < limit:
            self.pending.append((self.gen, self.next_submit))
            self.next_submit += 1
        if added:
            self.cv.notify_all()
            if self.on_submit is not None:
                self.on_submit()

    def result(self, job: int) -> tuple[bool, object]:
        """(ok, value or error) of `job`, waiting for it; RuntimeError when the backend broke."""
        with self.cv:
            if self.failure is not None:
                raise RuntimeError(self.failure)
            if job != self.expected:
                self.gen += 1
                self.pending.clear()
                self.done.clear()
                self.expected = self.next_submit = job
            self._refill()
            while job not in self.done:
                if self.failure is not None:
                    raise RuntimeError(self.failure)
                self.cv.wait(0.1)
            out = self.done.pop(job)
            self.expected = job + 1
            self._refill()
            return out

    def take(self, block: bool = True) -> tuple[int, int] | None:
        """A pending (generation, job) for a worker; None when closed (or, unblocked, when none)."""
        with self.cv:
            while not self.pending:
                if self.closed or not block:
                    return None
                self.cv.wait()
            if self.closed:
                return None
            return self.pending.popleft()

    def finish(self, gen: int, job: int, ok: bool, value) -> None:
        with self.cv:
            if gen == self.gen and not self.closed:
                self.done[job] = (ok, value)
                self.cv.notify_all()

    def fail(self, message: str) -> None:
        with self.cv:
            if self.failure is None:
                self.failure = message
            self.cv.notify_all()

    def close(self) -> None:
        with self.cv:
            self.closed = True
            self.pending.clear()
            self.done.clear()
            self.cv.notify_all()
