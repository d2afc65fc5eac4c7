"""Loader worker processes for Python transforms: engine batches reach them as torch tensors in
shared memory (one segment per column), results come back the same way, in order."""
from __future__ import annotations

import traceback
from typing import Any

import numpy as np

from chute import _core
from chute.errors import ChuteError, DecodeError, TransformError
from chute.loader.collate import finish_batch


class _SlotRef:
    """Where a column of a batch lies in a shared slot: offsets and shapes of its arrays."""

    def __init__(self, dtype, shapes, offsets, stacked: bool):
        self.dtype, self.shapes, self.offsets, self.stacked = dtype, shapes, offsets, stacked


def _pack(columns: dict, slot, capacity: int):
    """Copies the batch's arrays into `slot` (a MAP_SHARED mapping the workers inherited) and returns
    the metadata that replaces them; None when the batch does not fit (it then travels as torch
    shared-memory tensors)."""
    arrays = {k: ([v], True) if isinstance(v, np.ndarray) else (v, False) for k, v in columns.items()
              if isinstance(v, np.ndarray) or (isinstance(v, list) and v and all(isinstance(a, np.ndarray) for a in v))}
    total = sum(a.nbytes + 64 for vs, _ in arrays.values() for a in vs)
    if total > capacity:
        return None
    out, at = dict(columns), 0
    buf = np.frombuffer(slot, dtype=np.uint8, count=capacity)
    for k, (vs, stacked) in arrays.items():
        shapes, offsets = [], []
        for a in vs:
            at = (at + 63) // 64 * 64
            n = a.nbytes
            buf[at:at + n] = np.ascontiguousarray(a).reshape(-1).view(np.uint8)
            shapes.append(a.shape)
            offsets.append(at)
            at += n
        out[k] = _SlotRef(vs[0].dtype, shapes, offsets, stacked)
    return out


def _unpack(columns: dict, slot) -> dict:
    out = {}
    for k, v in columns.items():
        if isinstance(v, _SlotRef):
            arrays = [np.frombuffer(slot, dtype=v.dtype, count=int(np.prod(shape)), offset=off).reshape(shape)
                      for shape, off in zip(v.shapes, v.offsets)]
            out[k] = arrays[0] if v.stacked else arrays
        else:
            out[k] = v
    return out


def _to_shared(columns: dict):
    import torch

    out = {}
    for k, v in columns.items():
        if isinstance(v, np.ndarray):
            out[k] = torch.from_numpy(v)
        elif isinstance(v, list) and v and all(isinstance(a, np.ndarray) for a in v):
            out[k] = [torch.from_numpy(a) for a in v]
        else:
            out[k] = v
    return out


def _from_shared(columns: dict) -> dict:
    import torch

    out = {}
    for k, v in columns.items():
        if isinstance(v, torch.Tensor):
            out[k] = v.numpy()
        elif isinstance(v, list) and v and isinstance(v[0], torch.Tensor):
            out[k] = [t.numpy() for t in v]
        else:
            out[k] = v
    return out


def _worker_main(spec: dict, inbox, outbox, slots) -> None:
    import torch

    torch.set_num_threads(1)
    while True:
        item = inbox.get()
        if item is None:
            return
        number, indices, slot, payload = item
        try:
            columns = _unpack(payload, slots[slot]) if slot is not None else _from_shared(payload)
            result = finish_batch(spec, np.asarray(indices), columns)
            outbox.put((number, "ok", result))
        except DecodeError as e:  # a damaged stored sample, not the transform: the same error as in-process
            outbox.put((number, "decode", str(e)))
        except BaseException as e:  # everything reaches the parent, with its traceback
            index = getattr(e, "index", None)
            outbox.put((number, "error", (index, "".join(traceback.format_exception(e)), f"{type(e).__name__}: {e}")))


class WorkerPool:
    """num_workers processes (fork) that run Python transforms and collate_fn. Batch k goes to worker
    k % n; results come back in order. Engine batches are copied into shared slots (anonymous
    MAP_SHARED mappings made before the fork, reused for every batch: no files, no page faults after
    the first use); results come back through torch's shared-memory queues."""

    def __init__(self, num_workers: int, spec: dict, slot_bytes: int = 0, slots_per_worker: int = 2):
        try:
            import torch.multiprocessing as tmp
        except ImportError:
            raise ChuteError("num_workers > 0 needs torch (batches reach workers as shared-memory tensors)") from None
        import mmap

        ctx = tmp.get_context("fork")
        self.slot_bytes = slot_bytes
        self.slots = [mmap.mmap(-1, slot_bytes) for _ in range(num_workers * slots_per_worker)] if slot_bytes else []
        self.outbox = ctx.Queue()
        self.inboxes = [ctx.Queue() for _ in range(num_workers)]
        self.procs = [ctx.Process(target=_worker_main, args=(spec, q, self.outbox, self.slots), daemon=True) for q in self.inboxes]
        # The engine's process-wide decode pool keeps idle threads; a thread holding a lock (the
        # allocator's, the pool's own) at fork time would leave it locked forever in the child.
        # Dropping the pool joins them; the next engine call makes a new one.
        _core.release_shared_pool()
        for p in self.procs:
            p.start()
        self.spec = spec
        self._closed = False

    def run(self, engine_batches, prefetch_factor: int):
        n = len(self.procs)
        inflight = max(1, prefetch_factor) * n
        try:
            yield from self._run(engine_batches, inflight, n)
        except BaseException:
            self.close()  # batches still in flight would answer the next run
            raise

    def _run(self, engine_batches, inflight: int, n: int):
        """Yields (engine batch number, batch or None, errors of rows dropped) for the non-empty
        engine batches, in order; `engine_batches` yields (number, indices, columns)."""
        import queue

        results: dict[int, Any] = {}
        numbers: dict[int, int] = {}
        sent = 0
        want = 0
        source = iter(engine_batches)
        exhausted = False
        while True:
            while not exhausted and sent - want < inflight:
                try:
                    k, indices, columns = next(source)
                except StopIteration:
                    exhausted = True
                    break
                if len(indices) == 0:
                    continue
                numbers[sent] = k
                # Slot reuse is safe: at most len(slots) batches are in flight, and a batch's result
                # (never a view of its slot: it crossed a process boundary) has arrived before its
                # slot comes round again.
                slot = sent % len(self.slots) if self.slots else None
                packed = _pack(columns, self.slots[slot], self.slot_bytes) if slot is not None else None
                if packed is None:
                    slot, packed = None, _to_shared(columns)
                self.inboxes[sent % n].put((sent, indices.tolist(), slot, packed))
                sent += 1
            if want >= sent and exhausted:
                return
            while want not in results:
                try:
                    number, status, payload = self.outbox.get(timeout=0.1)
                except queue.Empty:
                    dead = [p for p in self.procs if not p.is_alive()]
                    if dead:
                        raise ChuteError(f"a loader worker process died (exit code {dead[0].exitcode})") from None
                    continue
                if status == "decode":
                    raise DecodeError(payload)
                if status == "error":
                    index, tb, text = payload
                    raise TransformError(index, None, f"{text}\n--- worker traceback ---\n{tb}")
                results[number] = payload
            batch, skipped = results.pop(want)
            yield numbers.pop(want), batch, skipped
            want += 1

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for q in self.inboxes:
            try:
                q.put(None)
            except Exception:
                pass
        for p in self.procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
        for q in self.inboxes + [self.outbox]:
            q.close()
            q.join_thread()
        for m in self.slots:
            m.close()
        self.slots = []
