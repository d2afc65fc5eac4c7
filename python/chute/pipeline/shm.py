"""How items cross between the parent and the stage workers: pickled (protocol 5), with every large
contiguous buffer (a numpy array's data, a bytearray) copied into shared memory instead of the
pickle stream, so a big array costs one memcpy on each side and is never pickled element by element.

The shared memory is one anonymous `MAP_SHARED` mapping made by the parent before it forks the
workers: every process of the run sees it, it has no name in /dev/shm, and the kernel frees it when
the last process of the run exits, so no crash, kill or Ctrl-C can leave a segment behind.

The mapping is cut into one outbox per producer (the parent and each worker). A producer allocates
blocks in its own outbox, front to back like a ring; the consumer of an item copies its buffers out
and clears the block's in-use byte; the producer reclaims cleared blocks in allocation order before
it allocates. A full outbox is not an error: the buffer then travels inside the pickle stream.

Thread-safety: an Outbox belongs to one thread of one process (the producer); `unpack` and `free`
may run in any process, each on blocks nobody else reads.
"""
from __future__ import annotations

import mmap
import os
import pickle
from collections import deque

HEADER = 64  # bytes before each block's data: byte 0 is the in-use flag; data stays 64-byte aligned
THRESHOLD = 32 * 1024  # buffers at least this large go through shared memory
DEFAULT_OUTBOX_MB = 32


def outbox_bytes() -> int:
    """Size of each producer's outbox (CHUTE_PIPELINE_SHM_MB, default 32 MiB; 0 turns shared memory off).
    Pages are only allocated when touched."""
    return int(float(os.environ.get("CHUTE_PIPELINE_SHM_MB", DEFAULT_OUTBOX_MB)) * (1 << 20)) // 4096 * 4096


class Arena:
    """The run's shared mapping: `producers` outboxes of `size` bytes each."""

    def __init__(self, producers: int, size: int):
        self.size = size
        self.producers = producers
        self.mm = mmap.mmap(-1, producers * size, flags=mmap.MAP_SHARED,
                            prot=mmap.PROT_READ | mmap.PROT_WRITE)
        self.view = memoryview(self.mm)

    def outbox(self, producer: int) -> Outbox:
        return Outbox(self, producer * self.size, self.size)

    def free(self, locs) -> None:
        for off, _n in locs:
            self.view[off - HEADER] = 0

    def close(self) -> None:
        self.view.release()
        self.mm.close()


class Outbox:
    """One producer's part of the arena, allocated as a ring (see the module docstring)."""

    def __init__(self, arena: Arena, base: int, size: int):
        self.arena = arena
        self.view = arena.view
        self.base = base
        self.size = size
        self.head = 0
        self.live: deque[tuple[int, int]] = deque()  # (start, total), oldest first

    def _reclaim(self) -> None:
        live, view, base = self.live, self.view, self.base
        while live and view[base + live[0][0]] == 0:
            live.popleft()
        if not live:
            self.head = 0

    def alloc(self, n: int) -> int | None:
        """Offset (in the arena) of `n` writable bytes, or None when the outbox is full."""
        total = HEADER + (n + 63) // 64 * 64
        if total > self.size:
            return None
        self._reclaim()
        head = self.head
        if not self.live:
            start = 0
        else:
            tail = self.live[0][0]
            if head >= tail:  # free space is [head, size) and [0, tail)
                if head + total <= self.size:
                    start = head
                elif total < tail:
                    start = 0
                else:
                    return None
            elif head + total < tail:  # free space is [head, tail); never let head reach tail
                start = head
            else:
                return None
        self.view[self.base + start] = 1
        self.live.append((start, total))
        self.head = start + total
        return self.base + start + HEADER


def pack(value, outbox: Outbox | None):
    """`value` as bytes (a pickle), or as (pickle, ((offset, nbytes), ...)) when buffers went to shared memory."""
    if outbox is None:
        return pickle.dumps(value, protocol=5)
    locs = []
    view = outbox.view

    def out_of_band(buf: pickle.PickleBuffer) -> bool:
        raw = buf.raw()
        n = raw.nbytes
        if n < THRESHOLD:
            return True  # in band
        off = outbox.alloc(n)
        if off is None:
            return True
        view[off:off + n] = raw
        locs.append((off, n))
        return False

    try:
        data = pickle.dumps(value, protocol=5, buffer_callback=out_of_band)
    except BaseException:
        outbox.arena.free(locs)
        raise
    return (data, tuple(locs)) if locs else data


def unpack(packed, arena: Arena | None):
    """The value `pack` made; its shared-memory blocks are copied out (writable) and freed."""
    if type(packed) is bytes:
        return pickle.loads(packed)
    data, locs = packed
    view = arena.view
    buffers = []
    for off, n in locs:
        buffers.append(bytearray(view[off:off + n]))
        view[off - HEADER] = 0
    return pickle.loads(data, buffers=buffers)


def discard(packed, arena: Arena | None) -> None:
    """Frees the shared memory of an item nobody will read."""
    if type(packed) is tuple and arena is not None:
        arena.free(packed[1])
