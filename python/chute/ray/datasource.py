"""`chute.ray.read`: a chute (Deep Lake 3) dataset as a `ray.data.Dataset`.

One read task per group of whole chunks (the row ranges come from the chunk index, so no task
reads a chunk another task reads), row counts and in-memory sizes from the metadata, samples
decoded by the engine inside the task (`decode=False` leaves images as their stored JPEG/PNG
bytes). Numeric tensors become Arrow tensor columns (variable-shaped when shapes differ), text
becomes strings, json and list tensors Python objects; class labels are their numbers (shape (k,)).
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

import numpy as np

from chute._internal.chunks import chunk_groups
from chute._internal.handle import tensor_core
from chute.dataset import load
from chute.dataset.htypes import is_image
from chute.ray.scheduler import ray_module

ROWS_PER_BLOCK = 256  # a read task yields blocks of at most this many rows (bounded memory)

_source_class = None


def read(path, tensors: Sequence[str] | None = None, decode: bool = True,
         override_num_blocks: int | None = None, ray_remote_args: dict | None = None, creds: dict | None = None):
    """The dataset at `path` (its `tensors`, default all) as a `ray.data.Dataset` of rows
    {tensor: value}. Each read task yields its chunks' rows in row order; the blocks of different tasks
    come in row order when Ray keeps block order (`rd.context.execution_options.preserve_order = True`,
    or on `ray.data.DataContext.get_current()` before the read), and otherwise as the tasks finish,
    as with every Ray reader. `ray_remote_args` go to the read tasks
    (`{"scheduling_strategy": "SPREAD"}`, `num_cpus`, ...). `path` may be s3://bucket/prefix, with `creds`
    as chute.load takes them (they travel to the read tasks)."""
    ray = ray_module()
    source = _datasource_class()(str(path), list(tensors) if tensors is not None else None, bool(decode), creds)
    if override_num_blocks is None:
        # One read task per chunk. Left to Ray, the block count would come from its minimum of 200
        # blocks, and a dataset of fewer chunks would have each task's output cut into blocks of a
        # few rows (measured: 1,000 images in 207 blocks of 4-6 rows, 2x slower than 9 blocks).
        override_num_blocks = max(1, len(source.chunk_ends))
    return ray.data.read_datasource(source, override_num_blocks=override_num_blocks,
                                    ray_remote_args=dict(ray_remote_args or {}))


def _datasource_class():
    """The Datasource subclass, made on first use so that importing chute never imports Ray."""
    global _source_class
    if _source_class is None:
        ray = ray_module()
        _source_class = type("ChuteDatasource", (ray.data.Datasource,), {
            "__init__": _init, "get_name": lambda self: "Chute",
            "estimate_inmemory_data_size": _estimate, "get_read_tasks": _read_tasks,
            "__module__": __name__, "__reduce__": _reduce,
        })
    return _source_class


def _rebuild(path: str, tensors, decode: bool, creds: dict | None = None):
    return _datasource_class()(path, tensors, decode, creds)


def _reduce(self):
    return (_rebuild, (self.path, self.tensors, self.decode, self.creds))


def _init(self, path: str, tensors: list[str] | None, decode: bool, creds: dict | None = None) -> None:
    ray_module().data.Datasource.__init__(self)
    self.path, self.decode, self.creds = path, decode, creds
    ds = load(path, read_only=True, creds=creds)
    have = ds.tensors
    names = list(have) if tensors is None else tensors
    missing = [n for n in names if n not in have]
    if missing:
        raise KeyError(f"dataset '{path}' has no tensors {missing} (it has {sorted(have)})")
    if not names:
        raise ValueError(f"dataset '{path}' has no tensors to read")
    self.tensors = names
    self.num_rows = min(have[n].num_samples for n in names)
    # the tensor with the most chunks sets the boundaries; the others' chunks fall where they fall
    ends = max((tensor_core(have[n]).chunk_ends() for n in names), key=len)
    self.chunk_ends = [int(e) for e in ends if e < self.num_rows] + [self.num_rows]
    self.row_bytes = sum(_row_bytes(have[n], decode) for n in names)


def _row_bytes(t, decode: bool) -> int:
    m = t.meta
    if not decode and is_image(t.htype) and t.sample_compression:
        return _stored_row_bytes(t)
    shape = m.get("max_shape") or []
    item = np.dtype(m["dtype"]).itemsize if m.get("dtype") not in (None, "str", "Any", "List") else 64
    return int(np.prod(shape, dtype=np.int64)) * item if shape else item


def _stored_row_bytes(t) -> int:
    return max(1, tensor_core(t).nbytes_on_disk() // max(1, t.num_samples))


def _estimate(self) -> int:
    return int(self.row_bytes * self.num_rows)


def _read_tasks(self, parallelism: int, per_task_row_limit: int | None = None, data_context=None):
    ray = ray_module()
    groups = chunk_groups(self.chunk_ends, self.num_rows, max(1, parallelism))
    tasks = []
    for start, stop in groups:
        meta = ray.data.block.BlockMetadata(num_rows=stop - start, size_bytes=self.row_bytes * (stop - start),
                                            input_files=None, exec_stats=None)
        tasks.append(ray.data.ReadTask(_reader(self.path, self.tensors, self.decode, start, stop, self.creds), meta,
                                       per_task_row_limit=per_task_row_limit))
    return tasks


def _reader(path: str, tensors: list[str], decode: bool, start: int, stop: int, creds: dict | None = None):
    def read_fn() -> Iterator:
        ray = ray_module()
        ds = load(path, read_only=True, creds=creds)
        for a in range(start, stop, ROWS_PER_BLOCK):
            b = min(stop, a + ROWS_PER_BLOCK)
            batch = {name: _column(ds[name], a, b, decode) for name in tensors}
            yield ray.data.block.BlockAccessor.batch_to_block(batch)
    return read_fn


def _column(t, a: int, b: int, decode: bool):
    core = tensor_core(t)
    rows = list(range(a, b))
    if core.is_bytes_htype:
        values = t[a:b].data()["value"]
        if t.htype == "text":
            return np.array(values, dtype=object)
        out = np.empty(len(values), dtype=object)
        for k, v in enumerate(values):
            out[k] = json.dumps(v)  # json and list rows as their JSON text: Arrow needs one type
        return out
    if not decode and is_image(t.htype) and t.sample_compression:
        out = np.empty(len(rows), dtype=object)
        for k, i in enumerate(rows):
            out[k] = core.tobytes(i)
        return out
    # one stacked array when every shape is equal; else a list of views of one buffer, which Arrow
    # takes as a variable-shaped tensor column without a copy
    return core.read_batch(rows, 0, False, True)
