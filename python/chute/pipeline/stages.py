"""The stages that run in the parent, on the run's coordinator thread: sources, filter, explode,
batch, temporal_batch, reduce, limit, debug, split, gather, the dataset sink and the collectors of
results. (Task stages, which own worker processes, are in run.py.)

Items flow by `push(origin, packed, payload)`: `origin` is the index of the source item the item
came from, `payload` is the value itself or, when `packed`, its `shm.pack` form (an item is only
unpacked by a stage that needs its value). A stage finishes when all its parents have finished
(`parent_done`); it then emits what it held back (a last batch, a reduced value) and tells its
children. A stage whose children no longer want items (all behind a satisfied `limit`) stops
wanting them too, up to the sources, which then stop reading.

Thread-safety: only the coordinator thread touches a run's stages, except the feeder thread of an
iterator source, which shares one deque with it under a condition variable.
"""
from __future__ import annotations

import os
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable

from chute.pipeline.errors import PipelineExecutionError, short_repr
from chute.pipeline.shm import Arena, discard, unpack


class Stage:
    """A node of a running pipeline (see the module docstring)."""

    def __init__(self, name: str):
        self.name = name
        self.index = 0
        self.arena: Arena | None = None
        self.parents: list[Stage] = []
        self.children: list[Stage] = []
        self.open_parents = 0
        self.finished = False
        self.wanted = True
        self.received = 0

    # ---- flow ----
    def push(self, origin, packed: bool, payload) -> None:
        raise NotImplementedError

    def value(self, packed: bool, payload):
        return unpack(payload, self.arena) if packed else payload

    def emit(self, origin, packed: bool, payload) -> None:
        children = self.children
        if len(children) == 1:
            children[0].push(origin, packed, payload)
            return
        if packed and type(payload) is tuple:  # shared memory is read once: give each child the value
            payload, packed = unpack(payload, self.arena), False
        for c in children:
            c.push(origin, packed, payload)

    def drop(self, packed: bool, payload) -> None:
        if packed:
            discard(payload, self.arena)

    def room(self) -> bool:
        """Whether this stage can take more items without growing a buffer past its bound."""
        return all(c.room() for c in self.children if c.wanted)

    # ---- ends ----
    def parent_done(self) -> None:
        self.open_parents -= 1
        if self.open_parents <= 0:
            self.end()

    def end(self) -> None:
        """All parents finished: emit what is held back, then finish."""
        self.finish()

    def finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        for c in self.children:
            c.parent_done()

    def child_unwanted(self) -> None:
        if self.wanted and not any(c.wanted for c in self.children):
            self.wanted = False
            self.on_unwanted()
            for p in self.parents:
                p.child_unwanted()

    def on_unwanted(self) -> None:
        pass

    def close(self, failed: bool) -> None:
        """The run is over (failed or not): release what the stage holds."""

    # ---- timers ----
    def deadline(self) -> float | None:
        return None

    def tick(self, now: float) -> None:
        pass

    # ---- errors ----
    def fail(self, exc: BaseException, origin, item, what: str = "failed") -> PipelineExecutionError:
        pos = self.received - 1
        text = f"{type(exc).__name__}: {exc}"
        msg = (f"stage {self.index} '{self.name}' {what} on its item {pos}"
               f"{'' if origin is None else f' (source item {origin})'}: {text}\nitem: {short_repr(item)}")
        err = PipelineExecutionError(msg, stage=self.name, stage_index=self.index, position=pos,
                                     source_index=origin, item=short_repr(item), pid=os.getpid(),
                                     traceback="".join(traceback.format_exception(exc)))
        err.__cause__ = exc
        return err


def fn_name(fn) -> str:
    if fn is None:
        return ""
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__


# ---- sources ----

class SequenceSource(Stage):
    """A list, tuple or range: read on the coordinator thread, a slice at a time."""

    STEP = 256

    def __init__(self, name: str, data):
        super().__init__(name)
        self.data = data
        self.pos = 0
        self.open_parents = 0

    def more(self) -> bool:
        return not self.finished and self.wanted

    def pull(self) -> bool:
        """Reads a slice if the children have room; True if it read anything."""
        if not self.more() or not self.room():
            return False
        start, stop = self.pos, min(self.pos + self.STEP, len(self.data))
        data = self.data
        for i in range(start, stop):
            self.received += 1
            self.emit(i, False, data[i])
        self.pos = stop
        if stop >= len(data):
            self.finish()
        return stop > start

    def on_unwanted(self) -> None:
        self.finish()


class IteratorSource(Stage):
    """Any other iterable (a generator, a camera, a socket): a feeder thread iterates it into a
    bounded deque and wakes the coordinator through a pipe, so a blocking `next()` never stalls
    the run (results keep flowing, temporal batches keep closing, Ctrl-C works)."""

    BOUND = 1024

    def __init__(self, name: str, data: Iterable, wake: Callable[[], None] | None = None):
        super().__init__(name)
        self.data = data
        self.wake = wake or (lambda: None)  # the run sets it
        self.queue: deque = deque()
        self.cond = threading.Condition()
        self.stopping = False
        self.exhausted = False
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._feed, name="chute-pipeline-source", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _feed(self) -> None:
        try:
            for x in self.data:
                with self.cond:
                    while len(self.queue) >= self.BOUND and not self.stopping:
                        self.cond.wait(0.1)
                    if self.stopping:
                        return
                    self.queue.append(x)
                    first = len(self.queue) == 1
                if first:
                    self.wake()
        except BaseException as e:
            self.error = e
        finally:
            with self.cond:
                self.exhausted = True
            self.wake()

    def more(self) -> bool:
        return not self.finished and self.wanted

    def pull(self) -> bool:
        if not self.more() or not self.room():
            return False
        with self.cond:
            items = list(self.queue)
            self.queue.clear()
            exhausted = self.exhausted
            self.cond.notify_all()
        for x in items:
            self.emit(self.received, False, x)
            self.received += 1
        if exhausted and not items:
            if self.error is not None:
                self.received += 1
                raise self.fail(self.error, None, "<next item>", "failed producing the next item")
            self.finish()
        return bool(items)

    def on_unwanted(self) -> None:
        self.close(False)
        self.finish()

    def close(self, failed: bool) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify_all()


# ---- one item at a time ----

class FilterStage(Stage):
    def __init__(self, name: str, fn):
        super().__init__(name)
        self.fn = fn

    def push(self, origin, packed, payload):
        if not self.wanted:
            return self.drop(packed, payload)
        self.received += 1
        v = self.value(packed, payload)
        try:
            keep = v is not None if self.fn is None else self.fn(v)
        except Exception as e:
            raise self.fail(e, origin, v) from e
        if keep:
            self.emit(origin, False, v)


class ExplodeStage(Stage):
    def __init__(self, name: str, fn):
        super().__init__(name)
        self.fn = fn

    def push(self, origin, packed, payload):
        if not self.wanted:
            return self.drop(packed, payload)
        self.received += 1
        v = self.value(packed, payload)
        try:
            for x in (v if self.fn is None else self.fn(v)):
                self.emit(origin, False, x)
        except PipelineExecutionError:
            raise
        except Exception as e:
            raise self.fail(e, origin, v) from e


class DebugStage(Stage):
    def push(self, origin, packed, payload):
        if not self.wanted:
            return self.drop(packed, payload)
        self.received += 1
        v = self.value(packed, payload)
        print(f"[chute.pipeline pid {os.getpid()}] {short_repr(v)}", flush=True)
        self.emit(origin, False, v)


class LimitStage(Stage):
    def __init__(self, name: str, n: int):
        super().__init__(name)
        self.n = n

    def push(self, origin, packed, payload):
        if not self.wanted or self.received >= self.n:
            return self.drop(packed, payload)
        self.received += 1
        self.emit(origin, packed, payload)
        if self.received >= self.n:
            self.satisfied()

    def satisfied(self) -> None:
        self.finish()
        self.wanted = False
        for p in self.parents:
            p.child_unwanted()


class GatherStage(Stage):
    def push(self, origin, packed, payload):
        if not self.wanted:
            return self.drop(packed, payload)
        self.received += 1
        self.emit(origin, packed, payload)


class SplitStage(Stage):
    """`fn(item)` returns an n-tuple; slot i goes to branch i unless it is None. Its children are
    the branches the run needs (`ports[i]`, None for a branch nobody waits for)."""

    def __init__(self, name: str, fn, n: int):
        super().__init__(name)
        self.fn = fn
        self.n = n
        self.ports: list[Stage | None] = [None] * n

    def push(self, origin, packed, payload):
        if not self.wanted:
            return self.drop(packed, payload)
        self.received += 1
        v = self.value(packed, payload)
        try:
            out = self.fn(v)
            out = tuple(out)
            if len(out) != self.n:
                raise ValueError(f"the split function returned {len(out)} values for {self.n} branches")
        except Exception as e:
            raise self.fail(e, origin, v) from e
        for port, x in zip(self.ports, out):
            if port is not None and x is not None:
                port.push(origin, False, x)


# ---- holding items back ----

class BatchStage(Stage):
    def __init__(self, name: str, size: int, keep_incomplete: bool):
        super().__init__(name)
        self.size = size
        self.keep_incomplete = keep_incomplete
        self.buf: list = []
        self.first = None

    def push(self, origin, packed, payload):
        if not self.wanted:
            return self.drop(packed, payload)
        self.received += 1
        if not self.buf:
            self.first = origin
        self.buf.append(self.value(packed, payload))
        if len(self.buf) >= self.size:
            out, self.buf = self.buf, []
            self.emit(self.first, False, out)

    def end(self):
        if self.buf and self.keep_incomplete and self.wanted:
            out, self.buf = self.buf, []
            self.emit(self.first, False, out)
        self.finish()


class TemporalBatchStage(Stage):
    """Emits what arrived during each window of `seconds` (a window opens with its first item)."""

    def __init__(self, name: str, seconds: float):
        super().__init__(name)
        self.seconds = seconds
        self.buf: list = []
        self.first = None
        self.due: float | None = None

    def push(self, origin, packed, payload):
        if not self.wanted:
            return self.drop(packed, payload)
        self.received += 1
        now = time.monotonic()
        if self.due is not None and now >= self.due:
            self.tick(now)
        if not self.buf:
            self.first = origin
            self.due = now + self.seconds
        self.buf.append(self.value(packed, payload))

    def deadline(self):
        return self.due

    def tick(self, now):
        if self.due is not None and now >= self.due:
            out, self.buf, self.due = self.buf, [], None
            if out:
                self.emit(self.first, False, out)

    def end(self):
        if self.buf and self.wanted:
            out, self.buf, self.due = self.buf, [], None
            self.emit(self.first, False, out)
        self.finish()


class ReduceStage(Stage):
    def __init__(self, name: str, acc, fn):
        super().__init__(name)
        self.acc = acc
        self.fn = fn

    def push(self, origin, packed, payload):
        if not self.wanted:
            return self.drop(packed, payload)
        self.received += 1
        v = self.value(packed, payload)
        try:
            self.acc = self.fn(v, self.acc)
        except Exception as e:
            raise self.fail(e, origin, v) from e

    def end(self):
        if self.wanted:
            self.emit(None, False, self.acc)
        self.finish()


# ---- ends of the graph ----

class IntoStage(Stage):
    """Appends each item (a dict {tensor: value}) to a dataset inside one `with ds:` block,
    publishing with `ds.flush()` every `flush_every` rows, so a crash keeps every row up to the
    last flush and a finished (or failed) run publishes every row appended before it ended."""

    def __init__(self, name: str, ds, flush_every: int):
        super().__init__(name)
        self.ds = ds
        self.flush_every = flush_every
        self.entered = False
        self.appended = 0

    def push(self, origin, packed, payload):
        if not self.wanted:
            return self.drop(packed, payload)
        self.received += 1
        v = self.value(packed, payload)
        if not self.entered:
            self.ds.__enter__()
            self.entered = True
        try:
            self.ds.append(v)
        except Exception as e:
            raise self.fail(e, origin, v, "could not append") from e
        self.appended += 1
        if self.flush_every and self.appended % self.flush_every == 0:
            self.ds.flush()

    def end(self):
        self.close(False)
        self.finish()

    def close(self, failed):
        if self.entered:
            self.entered = False
            self.ds.__exit__(None, None, None)


class Collector(Stage):
    """The results of one output of the run (or a counter, for wait_for_completion)."""

    def __init__(self, name: str, keep: bool):
        super().__init__(name)
        self.keep = keep
        self.items: list = []

    def room(self):
        return True

    def push(self, origin, packed, payload):
        self.received += 1
        if self.keep:
            self.items.append(self.value(packed, payload))
        else:
            self.drop(packed, payload)
