"""One pass of a DataLoader over the data: the engine loader, the worker pool (if any) and the
conversion of engine batches to what the training loop gets.

Lifecycle: every live Run is closed at interpreter exit (engine threads and worker processes stop
before the interpreter tears down), and a forked child forgets its parent's runs without joining
them (their threads do not exist in the child). A Run has one consumer: the thread iterating it.
"""
from __future__ import annotations

import atexit
import os
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from chute import _core
from chute._internal.handle import tensor_core
from chute.loader.collate import finish_batch
from chute.loader.workers import WorkerPool
from chute.ops import Op

if TYPE_CHECKING:
    from chute.loader.builder import DataLoader

_LIVE_RUNS: weakref.WeakSet[Run] = weakref.WeakSet()


@atexit.register
def _close_all_runs() -> None:  # interpreter exit with a live loader: stop threads and workers first
    for run in list(_LIVE_RUNS):
        run.close()


def _after_fork_in_child() -> None:
    # The parent's engine threads do not exist here; forget (never join) the parent's runs.
    for run in list(_LIVE_RUNS):
        run._forked = True
    _LIVE_RUNS.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)

PREFETCH_BYTES = 1 << 30

_RESIZING = (_core.OpKind.RandomResizedCrop, _core.OpKind.Resize, _core.OpKind.CenterCrop)


def _estimated_sample_bytes(tensor, op_specs: list) -> int:
    """Decoded bytes of one sample of `tensor` after its engine ops (from metadata, no decode)."""
    shape = list(tensor.meta.get("max_shape") or [])
    itemsize = 1 if tensor.dtype is None or tensor.dtype.kind in "OU" else tensor.dtype.itemsize
    for op in op_specs:
        if op.kind in _RESIZING and len(shape) >= 2:
            shape[0], shape[1] = op.height, op.width
        if op.kind == _core.OpKind.Normalize:
            itemsize = 4
    return int(np.prod(shape)) * itemsize if shape else itemsize


class Run:
    """One epoch: the engine loader, the worker pool (if any) and the conversion to the output type."""

    def __init__(self, dl: DataLoader):
        self.dl = dl
        self._forked = False
        self.engine = None
        cfg = dl._cfg
        ds = dl._dataset
        self.names = dl._tensor_names()
        self.epoch = dl._state["epoch"]
        start = dl._state["consumed"] if dl._state["consumed"] is not None else cfg["offset"]
        self.start = start
        share, self.total, self.world = dl._plan(self.epoch, start)
        self.share_len = len(share)
        transform = cfg["transform"]
        dm = cfg["decode_method"] or {}
        columns = []
        ops_of: dict[str, list] = {}
        self.py_transforms: dict[str, Callable] = {}
        for n in self.names:
            t = ds[n]
            ops: list = []
            if isinstance(transform, dict):
                fn = transform.get(n)
                if isinstance(fn, Op):
                    ops = fn.specs()
                elif fn is not None:
                    self.py_transforms[n] = fn
            channels = 0
            if ops and t.htype.startswith("image"):
                mx = t.meta.get("max_shape") or []
                channels = 3 if len(mx) == 3 and mx[2] in (3, 4) else 0
            ops_of[n] = ops
            columns.append(_core.LoaderColumn(tensor=tensor_core(t), name=n, stored_bytes=dm.get(n) in ("tobytes", "pil"),
                                              ops=ops, channels=channels))
        self.decode = dm
        self.htypes = {n: ds[n].htype for n in self.names}
        self.callable_transform = transform if callable(transform) and not isinstance(transform, dict) else None
        self.needs_python = bool(self.py_transforms or self.callable_transform or cfg["collate_fn"] or dm)
        threads = cfg["num_threads"] or 0
        prefetch = max(2, int(cfg["prefetch_factor"]) * max(1, cfg["num_workers"]))
        # Bounded in bytes too: batches decoded ahead never hold more than PREFETCH_BYTES.
        per_batch = sum(_estimated_sample_bytes(ds[n], ops_of[n]) for n in self.names) * cfg["batch_size"]
        if per_batch > 0:
            prefetch = max(1, min(prefetch, PREFETCH_BYTES // per_batch))
        self.pool = None
        if dl._pool is not None and dl._pool._closed:
            dl._pool = None
        if cfg["num_workers"] > 0 and self.needs_python:
            self.pool = dl._pool if (cfg["persistent_workers"] and dl._pool is not None) else None
            if self.pool is None:
                # Forked before this run's engine threads start (a lock an engine thread holds at
                # fork time stays locked forever in the child); the pool forks once the process-wide
                # decode pool has let its threads go.
                slot_bytes = per_batch + (1 << 20) if per_batch > 0 else 0
                self.pool = WorkerPool(cfg["num_workers"], self._worker_spec(), slot_bytes, max(1, int(cfg["prefetch_factor"])))
                if cfg["persistent_workers"]:
                    dl._pool = self.pool
        try:
            self.engine = _core.Loader(columns, share, cfg["batch_size"], cfg["drop_last"], threads, prefetch,
                                       cfg["ignore_errors"], dl._seed(), self.epoch, dl.remote_readahead())
        except BaseException:
            if self.pool is not None and self.pool is not dl._pool:
                self.pool.close()
            self.pool = None
            raise
        self.num_batches = self.engine.num_batches
        _LIVE_RUNS.add(self)

    def _worker_spec(self) -> dict:
        cfg = self.dl._cfg
        return {"mode": cfg["mode"], "transform": cfg["transform"], "transform_kwargs": cfg["transform_kwargs"],
                "collate_fn": cfg["collate_fn"], "return_index": cfg["return_index"], "decode": self.decode,
                "htypes": self.htypes, "names": self.names, "ignore_errors": cfg["ignore_errors"]}

    def __iter__(self):
        dl = self.dl
        b = dl._cfg["batch_size"]
        for k, result in self._batches():
            # Batch k of the engine covers share positions up to (k + 1) * b. Counted from the
            # engine's batch number, not from the batches yielded: a batch whose every sample was
            # skipped (ignore_errors) is consumed too, or a resume would replay the next one.
            positions = min((k + 1) * b, self.share_len)
            dl._state["consumed"] = self.start + positions * self.world
            yield result
        dl._state["epoch"] = self.epoch + 1
        dl._state["consumed"] = None

    def _skipped(self, errors: list) -> None:
        if errors:
            self.dl.summary["skipped"] += len(errors)
            self.dl.summary["errors"].extend(errors)

    def _engine_batches(self):
        """(engine batch number, indices, columns) of every engine batch, empty ones included."""
        k = 0
        while True:
            try:
                indices, columns, skipped = self.engine.next(self.names)
            except StopIteration:
                return
            self._skipped(skipped)
            yield k, indices, columns
            k += 1

    def _batches(self):
        """(engine batch number, batch) of the batches that kept at least one sample."""
        spec = self._worker_spec()
        if self.pool is None:
            for k, indices, columns in self._engine_batches():
                if len(indices) == 0:
                    continue
                result, skipped = finish_batch(spec, indices, columns)
                self._skipped(skipped)
                if result is not None:
                    yield k, result
            return
        for k, result, skipped in self.pool.run(self._engine_batches(), self.dl._cfg["prefetch_factor"]):
            self._skipped(skipped)
            if result is not None:
                yield k, result

    def close(self) -> None:
        if self._forked:
            return
        if self.engine is not None:
            self.engine.close()
            self.engine = None
        if self.pool is not None and self.pool is not self.dl._pool:
            self.pool.close()
        self.pool = None
        _LIVE_RUNS.discard(self)
