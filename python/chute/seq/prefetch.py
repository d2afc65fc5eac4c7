"""prefetch: ordered look-ahead over a sequence with background threads or processes.

Reading item i of the prefetched view returns `seq[i]`, computed ahead by the workers; reading the
items in order keeps `max_buffered` of them in flight or waiting. Any other access restarts the
look-ahead at the item asked for. Over `unbatch(s, k)` the workers compute whole batches `s[j]`
(each batch once, its items handed out in order), which is what grouping for a shared cache means.

Errors: a failure at item i raises EvaluationError naming i and where the prefetch was built
(with the failing inner view's message), the user's original error as `__cause__`; with
seterr("passthrough"), the original itself. A process worker's error keeps its traceback as the
original's `__cause__` (a RemoteTraceback); an error that cannot be pickled arrives as an
EvaluationError with its text. A dead worker raises RuntimeError.
"""
from __future__ import annotations

import itertools
import os
import threading
import weakref
from collections.abc import Callable, Iterator

from chute.seq.errors import CreationSite, EvaluationError, evaluation_error, passthrough, root_cause
from chute.seq.jobs import JobBoard
from chute.seq.processes import ProcessBackend, RemoteTraceback
from chute.seq.shape import Unbatching
from chute.seq.sources import as_source
from chute.seq.utils import View, size_or_none


def _thread_worker(board: JobBoard, source, start_hook: Callable | None) -> None:
    if start_hook is not None:
        try:
            start_hook()
        except BaseException as e:
            board.fail(f"start_hook failed in a prefetch thread: {type(e).__name__}: {e}")
            return
    while True:
        got = board.take()
        if got is None:
            return
        gen, job = got
        try:
            value, ok = source[job], True
        except BaseException as e:
            value, ok = e, False
        board.finish(gen, job, ok, value)
        del value


class ThreadBackend:
    def __init__(self, source, board: JobBoard, nworkers: int, start_hook: Callable | None):
        self.threads = [threading.Thread(target=_thread_worker, args=(board, source, start_hook),
                                         name=f"chute.seq.prefetch-{k}", daemon=True) for k in range(nworkers)]
        for t in self.threads:
            t.start()

    @staticmethod
    def shutdown(board: JobBoard) -> None:
        board.close()


class Prefetch(View):
    """See the module docstring. Safe to read from several threads (reads are serialised)."""

    __slots__ = ("sequence", "_size", "_board", "_bs", "_current", "_lock", "_site", "_finalizer", "_backend")

    def __init__(self, seq, nworkers: int, method: str, max_buffered: int, start_hook, shm_size: int):
        self._site = CreationSite()
        self.sequence = seq
        self._size = size_or_none(seq)
        grouped = isinstance(seq, Unbatching)
        self._bs = seq.batch_size if grouped else 1
        source = seq.sequence if grouped else seq
        window = max(1, max_buffered // self._bs)
        self._board = board = JobBoard(size_or_none(source), window)
        self._current: tuple[int, object] | None = None  # grouped: (job, batch) being handed out
        self._lock = threading.Lock()
        if method == "thread":
            self._backend = ThreadBackend(source, board, nworkers, start_hook)
            self._finalizer = weakref.finalize(self, ThreadBackend.shutdown, board)
        else:
            self._backend = b = ProcessBackend(source, board, nworkers, start_hook, max_buffered, shm_size)
            self._finalizer = weakref.finalize(self, ProcessBackend.shutdown, *b.finalizer_args())

    def __len__(self) -> int:
        if self._size is None:
            raise TypeError("object of type 'Prefetch' has no len() (its sequence has none)")
        return self._size

    def close(self) -> None:
        """Stops the workers now (otherwise when the view is garbage collected, or at exit)."""
        self._finalizer()

    def __enter__(self) -> Prefetch:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _raise(self, item: int, error) -> None:
        if isinstance(error, tuple):  # from a worker process: (original or None, traceback text, outer message)
            original, text, outer = error
            if original is None:
                raise EvaluationError(f"Failed to evaluate item {item} in prefetch: the worker's error could "
                                      f"not be pickled; it was:\n{text}")
            original.__cause__ = RemoteTraceback(text)
        else:
            original = root_cause(error)
            outer = str(error) if original is not error else ""
        if passthrough():
            raise original
        err = evaluation_error(original, item, "prefetch", self._site)
        if outer:
            err = EvaluationError(f"{err}\n{outer}")
        raise err from original

    def _get(self, i: int):
        with self._lock:
            if not self._finalizer.alive:
                raise RuntimeError("this prefetch was closed")
            job, k = divmod(i, self._bs)
            if self._bs > 1 and self._current is not None and self._current[0] == job:
                return self._current[1][k]
            ok, value = self._board.result(job)
            if not ok:
                self._current = None
                self._raise(i, value)
            if self._bs == 1:
                return value
            self._current = (job, value)
            return value[k]

    def __iter__(self) -> Iterator:
        if self._size is not None:
            for i in range(self._size):
                yield self._get(i)
            return
        for i in itertools.count():
            try:
                yield self._get(i)
            except EvaluationError as e:  # the end of a sequence without len
                if isinstance(e.__cause__, IndexError):
                    return
                raise
            except IndexError:
                return


def prefetch(seq, nworkers: int = 0, method: str = "thread", max_buffered: int | None = 10,
             start_hook: Callable | None = None, shm_size: int = 0):
    """`seq`, with its next items computed ahead by `nworkers` background workers, in order.

    nworkers: 0 returns `seq` itself (SeqTools' behaviour); a negative value leaves that many
    cores free. method: "thread" (start_hook() is called in each thread) or "process" (forked
    workers; start_hook(worker_index) in each). max_buffered: items computed ahead (any value >= 1,
    for both methods). shm_size (processes): 0 sizes the shared memory slots for numpy results
    automatically, > 0 gives `shm_size // max_buffered` bytes per slot, < 0 sends results through
    the pipe. Call `.close()` (or use `with`) to stop the workers early."""
    if max_buffered is None:
        max_buffered = 10
    if max_buffered <= 0:
        raise ValueError("max_buffered must be greater than 0")
    if method not in ("thread", "process"):
        raise ValueError(f"method must be 'thread' or 'process', got {method!r}")
    if nworkers == 0:
        return seq
    if nworkers < 0:
        nworkers = len(os.sched_getaffinity(0)) + nworkers if hasattr(os, "sched_getaffinity") else (
            (os.cpu_count() or 1) + nworkers)
        if nworkers <= 0:
            raise ValueError("nworkers leaves no core for the workers")
    return Prefetch(as_source(seq), int(nworkers), method, int(max_buffered), start_hook, int(shm_size))
