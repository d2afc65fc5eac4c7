"""Loader worker processes for Python transforms: engine batches reach them as torch tensors in
shared memory (one segment per column), results come back the same way, in order."""
from __future__ import annotations

import traceback
from typing import Any

import numpy as np

from chute.collate import finish_batch
from chute.errors import ChuteError, TransformError




class _Packed:
    """A ragged list of arrays packed into one tensor (one shared-memory segment per column)."""

    def __init__(self, flat, shapes, dtype):
        self.flat, self.shapes, self.dtype = flat, shapes, dtype


def _to_shared(columns: dict):
    import torch

    out = {}
    for k, v in columns.items():
        if isinstance(v, np.ndarray):
            out[k] = torch.from_numpy(v)
        elif isinstance(v, list) and v and all(isinstance(a, np.ndarray) for a in v) and len({a.dtype for a in v}) == 1:
            flat = np.concatenate([a.reshape(-1) for a in v])
            out[k] = _Packed(torch.from_numpy(flat), [a.shape for a in v], v[0].dtype)
        else:
            out[k] = v
    return out


def _from_shared(columns: dict) -> dict:
    import torch

    out = {}
    for k, v in columns.items():
        if isinstance(v, torch.Tensor):
            out[k] = v.numpy()
        elif isinstance(v, _Packed):
            flat = v.flat.numpy()
            arrays, at = [], 0
            for shape in v.shapes:
                n = int(np.prod(shape))
                arrays.append(flat[at:at + n].reshape(shape))
                at += n
            out[k] = arrays
        else:
            out[k] = v
    return out


def _worker_main(spec: dict, inbox, outbox) -> None:
    import torch

    torch.set_num_threads(1)
    while True:
        item = inbox.get()
        if item is None:
            return
        number, indices, payload = item
        try:
            result = finish_batch(spec, np.asarray(indices), _from_shared(payload))
            outbox.put((number, "ok", result))
        except BaseException as e:  # everything reaches the parent, with its traceback
            index = getattr(e, "index", None)
            outbox.put((number, "error", (index, "".join(traceback.format_exception(e)), f"{type(e).__name__}: {e}")))


class WorkerPool:
    """num_workers processes (fork) that run Python transforms and collate_fn. Batch k goes to worker
    k % n; results come back in order. Tensors travel through torch's shared-memory queues."""

    def __init__(self, num_workers: int, spec: dict):
        try:
            import torch.multiprocessing as tmp
        except ImportError:
            raise ChuteError("num_workers > 0 needs torch (batches reach workers as shared-memory tensors)") from None
        ctx = tmp.get_context("fork")
        self.outbox = ctx.Queue()
        self.inboxes = [ctx.Queue() for _ in range(num_workers)]
        self.procs = [ctx.Process(target=_worker_main, args=(spec, q, self.outbox), daemon=True) for q in self.inboxes]
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
        import queue

        results: dict[int, Any] = {}
        sent = 0
        want = 0
        source = iter(engine_batches)
        exhausted = False
        while True:
            while not exhausted and sent - want < inflight:
                try:
                    indices, columns = next(source)
                except StopIteration:
                    exhausted = True
                    break
                if len(indices) == 0:
                    continue
                self.inboxes[sent % n].put((sent, indices.tolist(), _to_shared(columns)))
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
                if status == "error":
                    index, tb, text = payload
                    raise TransformError(index, None, f"{text}\n--- worker traceback ---\n{tb}")
                results[number] = payload
            yield results.pop(want)
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
