"""`chute.ray.write`: a `ray.data.Dataset` written into a chute dataset by Ray's write tasks.

Each write task appends its blocks' rows to segments of the dataset's tensors (chunks written into
the dataset's folder by the task, as the executor's workers do) and returns their descriptions; the
driver appends them in block order and publishes once, at the end. A write that fails leaves the
dataset as it was (a dataset the write created is deleted), and the chunks of failed tasks are
collected.
"""
from __future__ import annotations

import os

import numpy as np

from chute import _core
from chute._internal.handle import dataset_handle, tensor_core
from chute.dataset import delete, empty, exists, load
from chute.dataset.tensor import SegmentWriter
from chute.errors import TransformError
from chute.ray.scheduler import ray_module
from chute.remote import storage_options

_sink_class = None


def write(ray_dataset, path, htypes: dict[str, str] | None = None, creds: dict | None = None,
          **create_tensor_kwargs) -> None:
    """Appends every row of `ray_dataset` ({column: value} rows) to the chute dataset at `path`,
    creating it (one tensor per column) when there is none. `htypes` names a column's htype when
    the dataset is created (e.g. {"images": "image"}); other columns are generic arrays, strings
    text; `create_tensor_kwargs` maps a column to more `create_tensor` arguments for it (e.g.
    images={"sample_compression": "jpeg"}). The rows are published together when every write task
    has finished. `path` may be s3://bucket/prefix, with `creds` as chute.empty takes them."""
    ray_module()
    path = os.fspath(path)
    created = not exists(path, creds)
    ds = empty(path, creds=creds) if created else load(path, read_only=False, creds=creds)
    try:
        schema = ray_dataset.schema()
        columns = list(schema.names) if schema is not None else []
        if created:
            for name in columns:
                _create_tensor(ds, name, schema, (htypes or {}).get(name), create_tensor_kwargs.get(name, {}))
        tensors = ds.tensors
        missing = [c for c in columns if c not in tensors]
        if missing:
            raise KeyError(f"dataset '{path}' has no tensors {missing} for the Ray dataset's columns "
                           f"(it has {sorted(tensors)})")
        handle = dataset_handle(ds)
        handle.flush()
        cores = {c: tensor_core(tensors[c]) for c in columns}
        states = {c: core.save_state() for c, core in cores.items()}
        sink = _datasink_class()(path, {c: core.segment_spec() for c, core in cores.items()}, creds)
        try:
            ray_dataset.write_datasink(sink)
            for _task, descs in sorted(sink.results, key=lambda r: r[0]):
                for c, desc in descs.items():
                    cores[c].append_segment(desc)
            handle.flush()
        except BaseException:
            for c, core in cores.items():
                core.restore_state(states[c])
            handle.core.collect_orphans()
            raise
        handle.core.collect_orphans()  # chunks of write tasks Ray retried
    except BaseException:
        if created:
            del ds
            delete(path, creds=creds)
        raise


def _create_tensor(ds, name: str, schema, htype: str | None, kwargs: dict) -> None:
    field_type = schema.types[schema.names.index(name)] if hasattr(schema, "types") else None
    text = str(field_type)
    if htype is None:
        htype = "text" if text in ("string", "large_string") else "generic"
    ds.create_tensor(name, htype=htype, **kwargs)


def _datasink_class():
    """The Datasink subclass, made on first use so that importing chute never imports Ray."""
    global _sink_class
    if _sink_class is None:
        ray = ray_module()
        _sink_class = type("ChuteDatasink", (ray.data.Datasink,), {
            "__init__": _init, "write": _write, "on_write_complete": _complete, "get_name": lambda self: "Chute",
            "__module__": __name__,
        })
    return _sink_class


def _init(self, path: str, specs: dict, creds: dict | None = None) -> None:
    self.path, self.specs, self.creds, self.results = path, specs, creds, []


def _write(self, blocks, ctx):
    ray = ray_module()
    segments = {c: _core.open_segment(self.path, spec, storage_options(self.path, self.creds)) for c, spec in self.specs.items()}
    writers = {c: SegmentWriter(core, c) for c, core in segments.items()}
    row = 0
    for block in blocks:
        acc = ray.data.block.BlockAccessor.for_block(block)
        batch = acc.to_batch_format("numpy")
        n = acc.num_rows()
        for c, w in writers.items():
            values = batch[c]
            for i in range(n):
                v = values[i]
                if isinstance(v, np.ndarray) and v.dtype == object and v.ndim == 0:
                    v = v.item()
                try:
                    w.write(w.convert(v, row + i), row + i)
                except Exception as e:
                    raise TransformError(row + i, None, f"chute.ray.write: row {row + i} of write task "
                                                        f"{ctx.task_idx}, column '{c}': {e}") from e
        row += n
    return ctx.task_idx, {c: core.seal_segment() for c, core in segments.items()}


def _complete(self, write_result) -> None:
    self.results = list(write_result.write_returns)
