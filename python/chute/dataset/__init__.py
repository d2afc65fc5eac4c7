"""chute.dataset: Deep Lake 3's datasets, tensors and samples over chute's engine.

Layout:
- `api`: the module-level functions `empty`, `load`, `dataset`, `like`, `delete`, `exists`
  (re-exported here and as `chute.empty`, `chute.load`, ...).
- `view`: `Dataset` (a dataset folder, or a group or row view of one) and `DatasetInfo`.
- `tensor`: `Tensor` (one column, or a view of some of its rows) and its `Info`; sample checks
  and conversion before anything is written.
- `index`: `Index`, the rows a view selects. `sample`: `Sample` / `read` (a file appended as it
  is). `htypes`: Deep Lake 3's htypes (default dtype, meta and info keys, compressions).

Every view of one opened dataset shares one `chute._internal.handle.DatasetHandle` (the engine's
dataset, the `with ds:` depth, the read-only check); tensors hold that handle, not the Dataset.
`Dataset.dataloader()` builds a `chute.loader.DataLoader`; the loader depends on this package's
public classes only through `chute._internal.handle`, so `chute.loader` never imports
`chute.dataset`.

Concurrency rules (the engine's are in cpp/README.md, "Concurrency rules"):
- One dataset, many threads: one Dataset (and its views and tensors) may be used from several
  Python threads at once (appends, flushes, create_tensor, reads, queries and loaders); the engine
  serialises writers and gives readers snapshots, so a running loader never sees appends made
  after it started.
- One writer process: one process writes a dataset at a time. `chute.load` in another process
  opens it read-only with a warning (`read_only=False` raises `DatasetLockedError` naming the
  writer's pid instead); `chute.empty(path, overwrite=True)` and `chute.delete` refuse a dataset
  another process writes, and make this process's older handles refuse further writes.
- A read-only open never writes to the folder (no lock file, no journal replay, no cleanup).
- Outside `with ds:` every write is published (crash-safely) before it returns; inside, when the
  outermost block on any thread exits, or on `ds.flush()`.

`chute.dataset` is this subpackage and, called, Deep Lake's `deeplake.dataset(path)`: it opens the
dataset at `path`, creating an empty one if there is none (`chute.dataset.dataset`).
"""
from __future__ import annotations

import sys
import types

from chute.dataset.api import dataset, delete, empty, exists, like, load
from chute.dataset.index import Index
from chute.dataset.sample import Sample, read
from chute.dataset.tensor import Info, Tensor
from chute.dataset.view import Dataset, DatasetInfo

__all__ = ["Dataset", "DatasetInfo", "Index", "Info", "Sample", "Tensor", "dataset", "delete", "empty", "exists",
           "like", "load", "read"]


class _DatasetPackage(types.ModuleType):
    """`chute.dataset(path, ...)` is Deep Lake's `deeplake.dataset(path, ...)`, while `chute.dataset`
    stays an importable package (`from chute.dataset import Dataset`)."""

    def __call__(self, path, read_only: bool | None = None, overwrite: bool = False, **kwargs) -> Dataset:
        return dataset(path, read_only=read_only, overwrite=overwrite, **kwargs)


sys.modules[__name__].__class__ = _DatasetPackage
