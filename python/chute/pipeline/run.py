"""A running pipeline: the coordinator thread, the task stages and their worker processes.

The parent is the hub. Its coordinator thread reads the sources, runs the light stages
(stages.py), cuts each task stage's input into chunks of numbered items, hands the chunks to the
stage's workers (at most two in flight per worker), puts their results back in order (a reorder
buffer bounded by the chunks in flight) and passes them on. Every pipe is non-blocking on the
parent's side and watched by one selector, together with every worker's sentinel, so a result, a
death, a source that blocks, a timer or Ctrl-C is seen at once and the parent never waits on a
worker that waits on it.

Chunks adapt to the work: a stage aims at ~10 ms of work per chunk (from the workers' own timings),
so 100,000 small items travel in chunks of hundreds and images travel one or two at a time. Each
stage's buffer is bounded (a source is read only while every stage below it has room), so memory
stays flat whatever the source's length.

Failure: the first error (a stage's exception, a dead worker, a source that raised) ends the run:
every worker is killed and joined, the shared memory goes with the last process, and the caller's
wait raises PipelineExecutionError. Ctrl-C in the waiting thread does the same, then re-raises
KeyboardInterrupt.
"""
from __future__ import annotations

import atexit
import errno
import fcntl
import math
import multiprocessing as mp
import os
import pickle
import selectors
import signal
import threading
import time
import weakref
from collections import deque

from chute.pipeline.errors import PipelineExecutionError
from chute.pipeline.shm import Arena, Outbox, discard, outbox_bytes, pack
from chute.pipeline.stages import Collector, IteratorSource, SequenceSource, Stage
from chute.pipeline.worker import TaskSpec, frame, worker_main

MAX_INFLIGHT = 2  # chunks per worker: one running, one waiting in its pipe
TARGET_SECONDS = 0.01  # of work per chunk
MAX_CHUNK = 1024
PIPE_BYTES = 1 << 20
F_SETPIPE_SZ = 1031


class Worker:
    __slots__ = ("stage", "k", "proc", "wfd", "rfd", "pending", "inflight", "rbuf", "stopping", "closed",
                 "exited", "writing")

    def __init__(self, stage: TaskStage, k: int):
        self.stage = stage
        self.k = k
        self.proc = None
        self.wfd = -1
        self.rfd = -1
        self.pending = bytearray()
        self.inflight: list[int] = []  # chunk ids, oldest first
        self.rbuf = bytearray()
        self.stopping = False
        self.closed = False
        self.exited = False
        self.writing = False


class TaskStage(Stage):
    """`task` and `class_task`: `count` worker processes (see the module docstring)."""

    def __init__(self, name: str, spec: TaskSpec, count: int, ordered: bool):
        super().__init__(name)
        self.spec = spec
        self.count = count
        self.ordered = ordered
        self.buffer: deque = deque()
        self.workers = [Worker(self, k) for k in range(count)]
        self.run: Run | None = None
        self.outbox: Outbox | None = None
        self.next_chunk = 0
        self.next_release = 0
        self.done: dict[int, tuple] = {}
        self.chunks: dict[int, tuple[Worker, int, list]] = {}  # id -> (worker, first position, origins)
        self.dispatched = 0
        self.per_item: float | None = None

    # ---- flow ----
    def push(self, origin, packed, payload):
        if not self.wanted:
            return self.drop(packed, payload)
        self.received += 1
        self.buffer.append((origin, packed, payload))

    def chunk_target(self) -> int:
        if self.per_item is None:
            return 8
        return max(1, min(MAX_CHUNK, int(TARGET_SECONDS / max(self.per_item, 1e-7))))

    def room(self):
        return len(self.buffer) < max(4 * self.count, min(8192, 2 * self.count * self.chunk_target()))

    def dispatch(self) -> None:
        buf = self.buffer
        while buf:
            w = min((w for w in self.workers if not w.stopping and len(w.inflight) < MAX_INFLIGHT),
                    key=lambda w: len(w.inflight), default=None)
            if w is None:
                return
            n = min(len(buf), self.chunk_target(), max(1, math.ceil(len(buf) / self.count)))
            origins, payloads = [], []
            start = self.dispatched
            for i in range(n):
                origin, packed, payload = buf.popleft()
                if not packed:
                    try:
                        payload = pack(payload, self.outbox)
                    except Exception as e:
                        self.received = start + i + 1
                        raise self.fail(e, origin, payload, "could not send an item to its workers") from e
                origins.append(origin)
                payloads.append(payload)
            cid = self.next_chunk
            self.next_chunk += 1
            self.dispatched += n
            self.chunks[cid] = (w, start, origins)
            w.inflight.append(cid)
            self.run.send(w, ("chunk", cid, payloads))

    def on_done(self, w: Worker, cid: int, outs: list, seconds: float) -> None:
        w.inflight.remove(cid)
        _, _, origins = self.chunks.pop(cid)
        if outs:
            per = seconds / len(outs)
            self.per_item = per if self.per_item is None else 0.7 * self.per_item + 0.3 * per
        if not self.wanted:
            for out in outs:
                if out is not None:
                    discard(out, self.arena)
        elif not self.ordered:
            self.release(origins, outs)
        else:
            self.done[cid] = (origins, outs)
            while self.next_release in self.done:
                self.release(*self.done.pop(self.next_release))
                self.next_release += 1
        self.maybe_finish()

    def release(self, origins: list, outs: list) -> None:
        for origin, out in zip(origins, outs):
            if out is not None:  # None: on_error dropped the item
                self.emit(origin, True, out)

    # ---- ends ----
    def end(self):
        self.maybe_finish()

    def maybe_finish(self) -> None:
        if self.finished or self.chunks or self.done:
            return
        if self.wanted and (self.open_parents > 0 or self.buffer):
            return
        self.finish()
        for w in self.workers:
            if not w.stopping:
                w.stopping = True
                self.run.send(w, ("stop",))

    def on_unwanted(self) -> None:
        while self.buffer:
            _, packed, payload = self.buffer.popleft()
            self.drop(packed, payload)
        for _, outs in self.done.values():  # held for order by nobody now
            for out in outs:
                if out is not None:
                    discard(out, self.arena)
        self.done.clear()
        self.maybe_finish()

    # ---- errors ----
    def where(self, cid, index) -> tuple[int | None, object]:
        if cid is None or cid not in self.chunks:
            return None, None
        _, start, origins = self.chunks[cid]
        return start + index, origins[index]

    def worker_error(self, w: Worker, cid, index, info: dict) -> PipelineExecutionError:
        pos, origin = self.where(cid, index) if index is not None else (None, None)
        at = "" if pos is None else f" on its item {pos}" + ("" if origin is None else f" (source item {origin})")
        item = "" if info["item"] is None else f"\nitem: {info['item']}"
        msg = (f"stage {self.index} '{self.name}' failed{at} while {info['during']}: {info['type']}: "
               f"{info['message']}{item}\n\nTraceback in worker pid {info['pid']}:\n{info['traceback']}")
        err = PipelineExecutionError(msg, stage=self.name, stage_index=self.index, position=pos,
                                     source_index=origin, item=info["item"], traceback=info["traceback"],
                                     pid=info["pid"])
        if info["exception"] is not None:
            try:
                err.__cause__ = pickle.loads(info["exception"])
            except Exception:  # the text above already carries it
                pass
        return err

    def death_error(self, w: Worker) -> PipelineExecutionError:
        code = w.proc.exitcode
        if code is None:
            how = "stopped answering"
        elif code < 0:
            try:
                how = f"was killed by signal {-code} ({signal.Signals(-code).name})"
            except ValueError:
                how = f"was killed by signal {-code}"
        else:
            how = f"exited with code {code}"
        pos = origin = None
        if w.inflight:
            _, start, origins = self.chunks[w.inflight[0]]
            pos, origin = start, origins[0] if origins else None
            spans = []
            for cid in w.inflight:
                _, first, chunk_origins = self.chunks[cid]
                spans.append(f"{first}..{first + len(chunk_origins) - 1}")
            doing = (f" while it held the stage's items {', '.join(spans)}"
                     f"{'' if origin is None else f' (the first from source item {origin})'}")
        elif w.stopping:
            doing = " while shutting down (close_method)"
        else:
            doing = " while idle"
        msg = (f"stage {self.index} '{self.name}': worker process pid {w.proc.pid} {how}{doing}; "
               f"the run was stopped (an out-of-memory kill, os._exit or a crash in native code do this)")
        return PipelineExecutionError(msg, stage=self.name, stage_index=self.index, position=pos,
                                      source_index=origin, pid=w.proc.pid)


class Interrupted(Exception):
    """The waiting thread asked the run to stop (Ctrl-C)."""


_LIVE: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _kill_live_runs() -> None:  # an interpreter exiting with a run in flight leaves no worker behind
    for r in list(_LIVE):
        r.kill_workers()


class Run:
    """One execution of a pipeline's stages (built by api.py), started on its own thread."""

    def __init__(self, stages: list[Stage], collectors: list[Collector]):
        self.stages = stages
        self.collectors = collectors
        self.tasks = [s for s in stages if isinstance(s, TaskStage)]
        self.sources = [s for s in stages if isinstance(s, (SequenceSource, IteratorSource))]
        self.timed = [s for s in stages if type(s).deadline is not Stage.deadline]
        self.workers = [w for t in self.tasks for w in t.workers]
        self.error: BaseException | None = None
        self.interrupt = False
        self.arena: Arena | None = None
        self.sel: selectors.BaseSelector | None = None
        self.wake_lock = threading.Lock()
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        for s in self.sources:
            if isinstance(s, IteratorSource):
                s.wake = self.wake
        for t in self.tasks:
            t.run = self
        self.thread = threading.Thread(target=self._main, name="chute-pipeline", daemon=True)

    # ---- the caller's side ----
    def start(self) -> Run:
        if "fork" not in mp.get_all_start_methods():
            raise RuntimeError("chute.pipeline runs its task stages in forked processes; this platform has no fork")
        _LIVE.add(self)
        self.thread.start()
        return self

    def wait(self) -> list[list]:
        try:
            while self.thread.is_alive():
                self.thread.join(0.1)
        except KeyboardInterrupt:
            self.stop()
            raise
        if self.error is not None:
            raise self.error
        return [c.items for c in self.collectors]

    def stop(self) -> None:
        """Stops the run from another thread and waits for it to be torn down."""
        self.interrupt = True
        self.wake()
        self.thread.join(5.0)
        if self.thread.is_alive():  # the coordinator is inside a slow light-stage function
            self.kill_workers()
            self.thread.join()

    def wake(self) -> None:
        with self.wake_lock:  # never write to a closed (and maybe reused) descriptor
            if self.wake_w < 0:
                return
            try:
                os.write(self.wake_w, b"\0")
            except BlockingIOError:  # full: a wake-up is pending anyway
                pass

    def kill_workers(self) -> None:
        for w in self.workers:
            p = w.proc
            if p is not None and not w.exited and p.exitcode is None:
                try:
                    p.kill()
                except (OSError, ValueError):  # already reaped or closed
                    pass

    # ---- the coordinator thread ----
    def _main(self) -> None:
        try:
            self._setup()
            self._loop()
        except BaseException as e:
            self.error = e
        finally:
            self._teardown()

    def _setup(self) -> None:
        size = outbox_bytes()
        if size > 0 and self.workers:
            self.arena = Arena(len(self.workers) + 1, size)
        for s in self.stages + self.collectors:
            s.arena = self.arena
        parent_box = self.arena.outbox(0) if self.arena is not None else None
        for t in self.tasks:
            t.outbox = parent_box
        ends = []
        for w in self.workers:
            in_r, in_w = os.pipe()
            out_r, out_w = os.pipe()
            for fd in (in_w, out_w):
                try:
                    fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_BYTES)
                except OSError:  # above /proc/sys/fs/pipe-max-size: the default size works too
                    pass
            ends.append((in_r, out_w))
            w.wfd, w.rfd = in_w, out_r
        every = [self.wake_r, self.wake_w] + [fd for w in self.workers for fd in (w.wfd, w.rfd)] + \
            [fd for pair in ends for fd in pair]
        ctx = mp.get_context("fork")
        producer = 1
        try:
            for w, (in_r, out_w) in zip(self.workers, ends):
                keep = (in_r, out_w)
                proc = ctx.Process(target=worker_main, name=f"chute-pipeline {w.stage.name}#{w.k}",
                                   args=(w.stage.spec, in_r, out_w, self.arena, producer,
                                         [fd for fd in every if fd not in keep]))
                proc.start()
                w.proc = proc
                producer += 1
        finally:
            for pair in ends:
                for fd in pair:
                    os.close(fd)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.wake_r, selectors.EVENT_READ, ("wake", None))
        for w in self.workers:
            os.set_blocking(w.wfd, False)
            os.set_blocking(w.rfd, False)
            self.sel.register(w.rfd, selectors.EVENT_READ, ("read", w))
            self.sel.register(w.proc.sentinel, selectors.EVENT_READ, ("exit", w))
        for s in self.sources:
            s.open_parents = 0
            if isinstance(s, IteratorSource):
                s.start()
        for s in self.stages:
            if s.open_parents == 0 and not isinstance(s, (SequenceSource, IteratorSource)):
                s.end()  # a stage with no parent in the run (cannot happen from the builder)

    def _loop(self) -> None:
        sel = self.sel
        while True:
            if self.interrupt:
                raise Interrupted()
            busy = self._pump()
            if self._finished():
                return
            timeout = 0 if busy else self._timeout()
            for key, _ in sel.select(timeout):
                kind, w = key.data
                if kind == "read":
                    self._read(w)
                elif kind == "exit":
                    self._exited(w)
                elif kind == "write":
                    self._flush(w)
                else:
                    try:
                        while os.read(self.wake_r, 4096):
                            pass
                    except BlockingIOError:
                        pass
            if self.timed:
                now = time.monotonic()
                for s in self.timed:
                    s.tick(now)

    def _pump(self) -> bool:
        busy = False
        for s in self.sources:
            for _ in range(16):
                if not s.pull():
                    break
                busy = True
            else:
                busy = busy or s.more()
        for t in self.tasks:
            t.dispatch()
        return busy

    def _timeout(self) -> float:
        due = [d for d in (s.deadline() for s in self.timed) if d is not None]
        if not due:
            return 1.0
        return max(0.0, min(due) - time.monotonic())

    def _finished(self) -> bool:
        return all(c.finished for c in self.collectors) and all(w.exited for w in self.workers)

    # ---- pipes ----
    def send(self, w: Worker, msg) -> None:
        data = frame(msg)
        if w.pending:
            w.pending += data
            return
        try:
            n = os.write(w.wfd, data)
        except BlockingIOError:
            n = 0
        except BrokenPipeError:  # the worker is gone; its sentinel tells the story
            return
        if n < len(data):
            w.pending += memoryview(data)[n:]
            if not w.writing:
                w.writing = True
                self.sel.register(w.wfd, selectors.EVENT_WRITE, ("write", w))

    def _flush(self, w: Worker) -> None:
        try:
            n = os.write(w.wfd, w.pending)
        except BlockingIOError:
            return
        except BrokenPipeError:
            n = len(w.pending)
        del w.pending[:n]
        if not w.pending and w.writing:
            w.writing = False
            self.sel.unregister(w.wfd)

    def _read(self, w: Worker) -> bool:
        """Reads what `w` wrote and handles every whole message; False at end of file."""
        eof = False
        while True:
            try:
                data = os.read(w.rfd, PIPE_BYTES)
            except BlockingIOError:
                break
            except OSError as e:
                if e.errno != errno.EBADF:
                    raise
                eof = True
                break
            if not data:
                eof = True
                break
            w.rbuf += data
            if len(data) < PIPE_BYTES:
                break
        buf = w.rbuf
        pos = 0
        while len(buf) - pos >= 8:
            n = int.from_bytes(buf[pos:pos + 8], "little")
            if len(buf) - pos - 8 < n:
                break
            msg = pickle.loads(memoryview(buf)[pos + 8:pos + 8 + n])
            pos += 8 + n
            self._handle(w, msg)
        if pos:
            del buf[:pos]
        if eof and not w.exited:
            self._exited(w)
        return not eof

    def _handle(self, w: Worker, msg) -> None:
        kind = msg[0]
        if kind == "done":
            w.stage.on_done(w, msg[1], msg[2], msg[3])
        elif kind == "error":
            raise w.stage.worker_error(w, msg[1], msg[2], msg[3])
        elif kind == "closed":
            w.closed = True

    def _exited(self, w: Worker) -> None:
        if w.exited:
            return
        w.exited = True
        self._read(w)  # what it wrote before it ended (it all sits in the pipe now)
        w.proc.join(1.0)
        self.sel.unregister(w.rfd)
        self.sel.unregister(w.proc.sentinel)
        if w.writing:
            self.sel.unregister(w.wfd)
            w.writing = False
        if not w.closed:
            raise w.stage.death_error(w)

    def _teardown(self) -> None:
        failed = self.error is not None
        for s in self.stages:
            try:
                s.close(failed)
            except Exception as e:  # keep the first error; a failing close still must not leak workers
                if self.error is None:
                    self.error = e
        self.kill_workers()
        for w in self.workers:
            if w.proc is not None:
                w.proc.join()
                w.exited = True
                w.proc.close()
                w.proc = None
            for fd in (w.wfd, w.rfd):
                if fd >= 0:
                    os.close(fd)
            w.wfd = w.rfd = -1
        if self.sel is not None:
            self.sel.close()
        with self.wake_lock:
            os.close(self.wake_r)
            os.close(self.wake_w)
            self.wake_r = self.wake_w = -1
        if self.arena is not None:
            self.arena.close()
        if isinstance(self.error, Interrupted):
            self.error = KeyboardInterrupt()
        _LIVE.discard(self)
