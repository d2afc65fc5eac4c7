"""A task stage's worker process, and the framing of the messages it exchanges with the parent.

Each worker has two pipes of its own: chunks come in (`("chunk", id, [packed items])`, then
`("stop",)`), results go out (`("done", id, [packed result or None], seconds)`, `("error", id,
index, info)`, `("closed",)`). A frame is an 8-byte little-endian length and a protocol-5 pickle.

The worker is forked (so lambdas and closures work, as with olympipe's cloudpickle), ignores
SIGINT (the parent decides; Ctrl-C stops it through the parent) and dies with the parent
(PR_SET_PDEATHSIG) so a killed parent leaves no worker behind.
"""
from __future__ import annotations

import ctypes
import os
import pickle
import signal
import struct
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chute.pipeline.errors import short_repr
from chute.pipeline.shm import Arena, pack, unpack

_LEN = struct.Struct("<Q")


def frame(msg) -> bytes:
    data = pickle.dumps(msg, protocol=5)
    return _LEN.pack(len(data)) + data


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def read_exact(fd: int, n: int) -> bytearray:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = os.readv(fd, [view[got:]])
        if k == 0:
            raise EOFError("pipe closed")
        got += k
    return buf


def read_frame(fd: int):
    (n,) = _LEN.unpack(read_exact(fd, _LEN.size))
    return pickle.loads(read_exact(fd, n))


@dataclass
class TaskSpec:
    """What a worker runs: `fn(item)`, or `method(Cls(*args, **kwargs), item)` for class_task."""
    name: str
    fn: Callable | None = None
    cls: type | None = None
    method: Any = None  # Cls.method, or its name
    class_args: tuple = ()
    class_kwargs: dict | None = None
    close_method: Any = None
    on_error: Callable | None = None

    def make(self):
        """(callable on one item, callable at shutdown or None); runs in the worker."""
        if self.cls is None:
            return self.fn, None
        obj = self.cls(*self.class_args, **(self.class_kwargs or {}))
        call = _bind(obj, self.method)
        close = _bind(obj, self.close_method) if self.close_method is not None else None
        return call, close


def _bind(obj, method):
    if isinstance(method, str):
        return getattr(obj, method)
    bound = getattr(method, "__get__", None)
    return bound(obj, type(obj)) if bound is not None else (lambda *a: method(obj, *a))


def die_with_parent() -> None:
    """Linux: the kernel SIGKILLs this process when the thread that forked it ends (the run's
    coordinator thread, which outlives its workers unless the parent dies)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        parent = os.getppid()
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:
            os._exit(1)
    except (OSError, AttributeError):  # no prctl: the worker ends when a read finds its pipe closed
        pass


def _error_info(exc: BaseException, item, during: str) -> dict:
    try:
        pickled = pickle.dumps(exc)
        pickle.loads(pickled)
    except Exception:  # an exception that does not cross processes: its text still does
        pickled = None
    return {"type": type(exc).__name__, "message": str(exc), "during": during, "pid": os.getpid(),
            "traceback": "".join(traceback.format_exception(exc)), "exception": pickled,
            "item": None if item is _NO_ITEM else short_repr(item)}


_NO_ITEM = object()


def _fail(wfd: int, rfd: int, chunk, index, exc: BaseException, item, during: str) -> None:
    write_all(wfd, frame(("error", chunk, index, _error_info(exc, item, during))))
    try:  # the parent ends the run; wait for it (or for EOF) instead of racing it with an exit
        while read_frame(rfd)[0] != "stop":
            pass
    except (EOFError, OSError):
        pass


def worker_main(spec: TaskSpec, rfd: int, wfd: int, arena: Arena | None, producer: int,
                close_fds: list[int]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()
    for fd in close_fds:
        try:
            os.close(fd)
        except OSError:
            pass
    outbox = arena.outbox(producer) if arena is not None else None
    try:
        call, close = spec.make()
    except BaseException as e:
        _fail(wfd, rfd, None, None, e, _NO_ITEM, f"creating {getattr(spec.cls, '__name__', spec.cls)}")
        return
    on_error = spec.on_error
    perf = time.perf_counter
    while True:
        msg = read_frame(rfd)
        if msg[0] == "stop":
            break
        _, chunk, items = msg
        outs = []
        t0 = perf()
        for i, p in enumerate(items):
            value = _NO_ITEM
            try:
                value = unpack(p, arena)
                r = call(value)
            except BaseException as e:
                if on_error is None or value is _NO_ITEM:
                    _fail(wfd, rfd, chunk, i, e, value, "running")
                    return
                try:
                    r = on_error(value, e)
                except BaseException as e2:
                    _fail(wfd, rfd, chunk, i, e2, value, "running on_error")
                    return
                if r is None:
                    outs.append(None)
                    continue
            try:
                outs.append(pack(r, outbox))
            except BaseException as e:
                _fail(wfd, rfd, chunk, i, e, value, f"sending its result ({short_repr(r, 80)}) to the next stage")
                return
        write_all(wfd, frame(("done", chunk, outs, perf() - t0)))
    if close is not None:
        try:
            close()
        except BaseException as e:
            _fail(wfd, rfd, None, None, e, _NO_ITEM, "running close_method")
            return
    write_all(wfd, frame(("closed",)))
