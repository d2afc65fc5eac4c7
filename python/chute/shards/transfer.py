"""Results of the local backend's worker processes, sent back through shared memory.

A large result (numpy arrays, pandas frames, Arrow arrays: anything that pickles its buffers out of
band with protocol 5) is pickled without its buffers; the buffers are written once into a file in
/dev/shm, which the parent maps copy-on-write (private, writable, no copy until written) and
unlinks at once. Only a few hundred bytes travel through the pool's pipe. Small results, and
results whose buffers pickle in band, travel as usual.

A file is named after the parent's pid and the step, so a failed step removes what its workers
wrote (`remove_run`) and files a killed parent never unlinked are removed by the next step in any
process (`sweep`).
"""
from __future__ import annotations

import glob
import mmap
import os
import pickle
import tempfile
import uuid
from dataclasses import dataclass
from typing import Any

MIN_BYTES = 1 << 20  # below this, the pipe is as fast
_ALIGN = 64
_PREFIX = "chute-shards-"


def _folder() -> str:
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()


@dataclass
class Shipped:
    """A result whose buffers wait in `path` at `spans` (offset, length)."""
    payload: bytes
    path: str
    spans: list[tuple[int, int]]


def ship(result: Any, run: str) -> Any:
    """In a worker of the step `run`: `result`, or a Shipped stand-in whose buffers are in a
    shared file."""
    buffers: list[pickle.PickleBuffer] = []
    try:
        payload = pickle.dumps(result, protocol=5, buffer_callback=buffers.append)
    except Exception:
        return result  # the pool's own pickling reports the error
    views = [b.raw() for b in buffers]
    if sum(v.nbytes for v in views) < MIN_BYTES:
        return result
    path = os.path.join(_folder(), f"{_PREFIX}{os.getppid()}-{run}-{uuid.uuid4().hex}")
    spans, offset = [], 0
    try:
        with open(path, "wb") as f:
            for v in views:
                pad = -offset % _ALIGN
                if pad:
                    f.write(b"\0" * pad)
                    offset += pad
                f.write(v)
                spans.append((offset, v.nbytes))
                offset += v.nbytes
    except OSError:  # no room in /dev/shm: the pipe
        discard_path(path)
        return result
    return Shipped(payload, path, spans)


def receive(item: Any) -> Any:
    """In the parent: the result itself (a Shipped one mapped from its file, which is unlinked)."""
    if not isinstance(item, Shipped):
        return item
    try:
        with open(item.path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            mm = mmap.mmap(f.fileno(), size, access=mmap.ACCESS_COPY) if size else None
    finally:
        discard_path(item.path)
    view = memoryview(mm) if mm is not None else memoryview(b"")
    return pickle.loads(item.payload, buffers=[view[a:a + n] for a, n in item.spans])


def discard_path(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def new_run() -> str:
    return uuid.uuid4().hex[:12]


def remove_run(run: str) -> None:
    """After a failed step: every file its workers wrote (received or not, or half written by a
    worker that died)."""
    for path in glob.glob(os.path.join(_folder(), f"{_PREFIX}{os.getpid()}-{run}-*")):
        discard_path(path)


def sweep() -> None:
    """Removes files left by parents that died before mapping them."""
    for path in glob.glob(os.path.join(_folder(), _PREFIX + "*")):
        try:
            pid = int(os.path.basename(path)[len(_PREFIX):].split("-")[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            discard_path(path)
        except (ValueError, PermissionError, OSError):
            pass
