"""prefetch(method="process"): worker processes, and numpy results through shared memory.

Each worker is a forked process with its own duplex pipe. A dispatcher thread in the parent sends
jobs (at most two outstanding per worker, so a worker always has its next job) and receives
results as they come, so workers keep working while the consumer is busy. Workers die with the
parent: PR_SET_PDEATHSIG on Linux when the prefetch is built on the main thread, and in any case
at the next read of their pipe (EOF once the parent is gone). A worker that dies (killed, OOM,
os._exit) makes the next read raise RuntimeError naming it; nothing waits forever.

Shared memory: a job carries a slot, a shared memory segment (multiprocessing.shared_memory,
created by the parent, so the resource tracker removes it even if the parent is killed). The
worker pickles its result with protocol 5 and writes the large out-of-band buffers (numpy
arrays' data) into the slot; the parent's arrays are views of the slot, never copied. A slot goes
back to the pool when the last array viewing it is freed. With `shm_size=0` the slot size adapts
to the results (the first results that need more are sent through the pipe); `shm_size > 0`
fixes it to `shm_size // max_buffered` bytes (SeqTools' meaning), `shm_size < 0` turns it off.
When every slot is held by the consumer the result goes through the pipe: never a stall.
"""
from __future__ import annotations

import collections
import ctypes
import mmap
import multiprocessing as mp
import os
import pickle
import selectors
import signal
import sys
import threading
import traceback
import weakref
from multiprocessing import shared_memory

import numpy as np

from chute.seq.errors import root_cause, seterr
from chute.seq.jobs import JobBoard

_RESULT, _FATAL = 0, 1
_OOB_MIN = 32 * 1024           # smaller buffers go in the pickle
_ALIGN = 64
_MAX_AUTO_SLOT = 512 << 20
_SHM_DIR = "/dev/shm"
_OUTSTANDING = 2               # jobs sent to one worker and not yet answered


class RemoteTraceback(Exception):
    """The traceback of an error raised in a worker process (set as that error's __cause__)."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text}"""'


def _die_with_parent() -> None:
    """Linux: the kernel kills this worker when the parent thread that forked it ends."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        parent = os.getppid()
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the call
            os._exit(1)
    except (OSError, AttributeError):
        pass


def _map(name: str, size: int) -> mmap.mmap:
    fd = os.open(os.path.join(_SHM_DIR, name), os.O_RDWR)
    try:
        return mmap.mmap(fd, size)
    finally:
        os.close(fd)


def _encode(value, slot, maps: dict) -> tuple[bytes, list, int]:
    """(pickle, [(offset, nbytes)] written to the slot, bytes a slot would need for all buffers)."""
    regions: list = []
    want = 0
    mm = None
    size = 0
    if slot is not None:
        _, name, size = slot
        mm = maps.get(name)
        if mm is None:
            if len(maps) > 64:
                maps.clear()
            mm = maps[name] = _map(name, size)

    def place(buf: pickle.PickleBuffer) -> bool:
        nonlocal want
        raw = buf.raw()
        n = raw.nbytes
        if n < _OOB_MIN:
            return True
        start = (want + _ALIGN - 1) // _ALIGN * _ALIGN
        want = start + n
        if mm is None or want > size:
            return True
        mm[start:start + n] = raw
        regions.append((start, n))
        return False

    payload = pickle.dumps(value, protocol=5, buffer_callback=place)
    return payload, regions, want


def _encode_error(error: BaseException) -> bytes:
    """The user's error (under any EvaluationError), its traceback text, the wrapping message."""
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    root = root_cause(error)
    outer = str(error) if root is not error else ""
    try:
        return pickle.dumps((root, text, outer), protocol=5)
    except Exception:  # the error itself does not pickle: its text does
        return pickle.dumps((None, text, outer), protocol=5)


def _worker_main(source, index: int, conn, other_ends: list, start_hook, die_with_parent: bool) -> None:
    for c in other_ends:  # the parent's ends: holding them would hide the parent's death
        c.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if die_with_parent:
        _die_with_parent()
    seterr("wrap")
    if start_hook is not None:
        try:
            start_hook(index)
        except BaseException:
            conn.send((_FATAL, f"start_hook failed in worker {index}:\n{traceback.format_exc()}"))
            return
    maps: dict = {}
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        gen, job, slot = msg
        regions: list = []
        want = 0
        try:
            value = source[job]
        except BaseException as e:
            ok, payload = False, _encode_error(e)
        else:
            try:
                payload, regions, want = _encode(value, slot, maps)
                ok = True
            except Exception as e:
                err = TypeError(f"the item could not be sent to the parent process (is it picklable?): "
                                f"{type(e).__name__}: {e}")
                ok, payload, regions = False, _encode_error(err), []
            del value
        try:
            conn.send((_RESULT, gen, job, ok, payload, slot[0] if regions else None, regions, want))
        except (BrokenPipeError, OSError):
            return


class _Slot:
    __slots__ = ("id", "name", "size", "map", "shm")

    def __init__(self, sid: int, size: int):
        self.id = sid
        self.shm = shared_memory.SharedMemory(create=True, size=size)
        self.name = self.shm.name
        self.size = size
        self.map = _map(self.name, size)
        self.shm.close()  # the segment stays (by name) until unlinked; self.map is our view of it


class _SlotPool:
    """Shared memory slots, owned by the parent. `take` is called by the dispatcher thread;
    `give_back` from any thread (a finalizer), so the free list is a deque."""

    def __init__(self, shm_size: int, max_buffered: int, max_slots: int):
        self.enabled = shm_size >= 0 and os.path.isdir(_SHM_DIR)
        self.fixed = shm_size > 0
        self.size = max(shm_size // max_buffered, _ALIGN) if self.fixed else 0
        self.max_slots = max_slots
        self.slots: dict[int, _Slot] = {}
        self.free: collections.deque = collections.deque()
        self.next_id = 0
        self.closed = False

    def take(self) -> _Slot | None:
        if not self.enabled or self.size == 0 or self.closed:
            return None
        while self.free:
            s = self.slots.get(self.free.popleft())
            if s is not None and s.size >= self.size:
                return s
            if s is not None:  # smaller than the results now need: retire it
                self._drop(s)
        if len(self.slots) >= self.max_slots:
            return None
        s = _Slot(self.next_id, self.size)
        self.next_id += 1
        self.slots[s.id] = s
        return s

    def give_back(self, sid: int) -> None:
        self.free.append(sid)

    def wants(self, nbytes: int) -> None:
        """A result needed `nbytes` (auto mode grows the slots for the next jobs)."""
        if self.enabled and not self.fixed and nbytes > self.size:
            self.size = min(-(-nbytes // (1 << 20)) * (1 << 20), _MAX_AUTO_SLOT)
            if nbytes > _MAX_AUTO_SLOT:
                self.size = 0

    def view(self, sid: int, regions: list) -> list:
        """numpy views of the regions of slot `sid`; the slot is free again once they are all gone."""
        s = self.slots[sid]
        base = np.frombuffer(s.map, np.uint8, count=s.size)
        weakref.finalize(base, self.give_back, sid)
        return [base[o:o + n] for o, n in regions]

    def _drop(self, s: _Slot) -> None:
        self.slots.pop(s.id, None)
        try:
            s.shm.unlink()
        except FileNotFoundError:
            pass

    def close(self) -> None:
        self.closed = True
        for s in list(self.slots.values()):
            self._drop(s)  # arrays still viewing a slot keep its mapping; the name goes now


class ProcessBackend:
    """Worker processes fed by a dispatcher thread (see the module docstring)."""

    def __init__(self, source, board: JobBoard, nworkers: int, start_hook, max_buffered: int, shm_size: int):
        self.board = board
        self.pool = _SlotPool(shm_size, max_buffered, max_slots=board.window + _OUTSTANDING * nworkers + 2)
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        on_main = threading.current_thread() is threading.main_thread()
        self.conns: list = []
        self.procs: list = []
        for k in range(nworkers):
            mine, theirs = ctx.Pipe(duplex=True)
            p = ctx.Process(target=_worker_main, name=f"chute.seq.prefetch-{k}",
                            args=(source, k, theirs, [*self.conns, mine], start_hook, on_main), daemon=True)
            p.start()
            theirs.close()
            self.conns.append(mine)
            self.procs.append(p)
        self.outstanding = [0] * nworkers
        self._slot_of: dict = {}  # (worker, generation, job) -> the slot sent with the job
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        self.starved = True  # a worker could take a job and none is pending: new jobs must wake the thread
        board.on_submit = self._wake
        self.thread = threading.Thread(target=self._run, name="chute.seq.prefetch-dispatch", daemon=True)
        self.thread.start()

    def _wake(self) -> None:
        """Called with board.cv held when jobs were added."""
        if not self.starved:
            return  # the dispatcher is waiting for results and sends the new jobs when one comes
        self.starved = False
        try:
            os.write(self.wake_w, b"x")
        except (BlockingIOError, OSError):
            pass

    def _dispatch(self) -> None:
        board = self.board
        with board.cv:
            for k, conn in enumerate(self.conns):
                while self.outstanding[k] < _OUTSTANDING and board.pending and self.procs[k].is_alive():
                    gen, job = board.pending.popleft()
                    slot = self.pool.take()
                    try:
                        conn.send((gen, job, None if slot is None else (slot.id, slot.name, slot.size)))
                    except OSError:
                        board.pending.appendleft((gen, job))
                        if slot is not None:
                            self.pool.give_back(slot.id)
                        return
                    self.outstanding[k] += 1
                    if slot is not None:
                        self._slot_of[(k, gen, job)] = slot.id
            self.starved = not board.pending and any(n < _OUTSTANDING for n in self.outstanding)

    def _receive(self, k: int) -> None:
        try:
            msg = self.conns[k].recv()
        except (EOFError, OSError):
            self._died(k)
            return
        if msg[0] == _FATAL:
            self.board.fail(msg[1])
            return
        _, gen, job, ok, payload, sid, regions, want = msg
        self.outstanding[k] -= 1
        sent = self._slot_of.pop((k, gen, job), None)
        self.pool.wants(want)
        try:
            if ok and regions:
                value = pickle.loads(payload, buffers=self.pool.view(sid, regions))
            else:
                if sent is not None:
                    self.pool.give_back(sent)
                value = pickle.loads(payload)
        except Exception as e:
            ok, value = False, (None, f"the result of item {job} could not be unpickled: {e!r}", "")
        self.board.finish(gen, job, ok, value)

    def _died(self, k: int) -> None:
        p = self.procs[k]
        p.join(0.5)
        code = p.exitcode
        how = (f"killed by signal {-code} ({signal.Signals(-code).name})" if code is not None and code < 0
               else f"exit code {code}")
        self.board.fail(f"a prefetch worker died unexpectedly (worker {k}, pid {p.pid}, {how})")

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        for k, c in enumerate(self.conns):
            sel.register(c, selectors.EVENT_READ, ("result", k))
        for k, p in enumerate(self.procs):
            sel.register(p.sentinel, selectors.EVENT_READ, ("died", k))
        sel.register(self.wake_r, selectors.EVENT_READ, ("wake", -1))
        try:
            self._loop(sel)
        finally:
            sel.close()

    def _loop(self, sel: selectors.BaseSelector) -> None:
        board = self.board
        while not board.closed and board.failure is None:
            self._dispatch()
            try:
                events = sel.select(timeout=0.5)
            except OSError:
                return
            dead = []
            for key, _ in events:
                what, k = key.data
                if what == "wake":
                    try:
                        os.read(self.wake_r, 4096)
                    except OSError:
                        pass
                elif what == "result":
                    self._receive(k)
                else:
                    dead.append(k)
            for k in dead:
                if board.closed:
                    return
                # results it sent before dying are still in the pipe
                while self.conns[k].poll(0):
                    self._receive(k)
                    if board.failure is not None:
                        return
                self._died(k)
                return

    @staticmethod
    def shutdown(board: JobBoard, conns: list, procs: list, thread: threading.Thread, pool: _SlotPool,
                 fds: tuple) -> None:
        board.close()
        try:
            os.write(fds[1], b"x")
        except OSError:
            pass
        for c in conns:
            try:
                c.send(None)
            except OSError:
                pass
        thread.join(2)
        for p in procs:
            p.join(0.5)
            if p.is_alive():
                p.kill()
                p.join(1)
        for c in conns:
            c.close()
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass
        pool.close()

    def finalizer_args(self) -> tuple:
        return (self.board, self.conns, self.procs, self.thread, self.pool, (self.wake_r, self.wake_w))
