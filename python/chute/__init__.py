"""chute: a data engine for training neural networks.

Deep Lake 3-compatible datasets (read and write), a C++ engine that decodes on its own threads,
and Deep Lake 3's API names, so `import chute as deeplake` runs Deep Lake 3 scripts on local data.

Layout of the package (Python mirrors the concepts; the engine is the private extension
`chute._core`, wrapped by the typed classes below):
- `chute.dataset`: datasets, tensors, row views, samples, htypes, and the module-level functions
  `empty`, `load`, `dataset`, `like`, `delete`, `exists` (all re-exported here).
- `chute.loader`: `DataLoader`, the loader builder; its run, worker processes and collate.
- `chute.ops`: image ops that run inside the engine. `chute.random`: the default seed.
- `chute.errors`: chute's exceptions (each also a built-in: ValueError, OSError, KeyError...).
- `chute.transform`: the parallel transform executor, `compute`, `compose` and `.eval` (re-exported
  here); `chute.util.exceptions` holds every exception under Deep Lake 3's import path.
- `chute.pipeline`: `Pipeline`, staged pipelines with olympipe's API, one process pool per task stage.
- `chute.shards`: `XShards`, Orca's data-parallel shards of Python objects (local process pool or Ray).
- `chute.ray`: the format as a Ray Data source and sink, and the executor's `scheduler="ray"`
  (Ray itself is imported only when one of them is used).
- `chute.seq`: SeqTools' lazy sequence views and prefetch (`import chute.seq as seqtools`).
- `chute.ingest`: `ingest_classification`. `chute.cli`: the `chute` command. `chute.demo`.
- `chute._internal`: helpers shared by the subpackages (the dataset handle, argument checks,
  sample encoding, weighted draws, progress bars); not public API. `chute._version`: the version,
  the one place it is written.
`chute.pipeline`, `chute.seq` and `chute.shards` are imported on first use (`import chute` stays fast).
Imports point one way: `cli`, `demo` -> `ingest` -> `dataset` -> `loader` -> `ops`, and all of
them -> `_internal` -> `errors` -> `_core`; no cycle, no module imports another's private names
(tests/test_package_layout.py checks both).

Concurrency rules (the engine's, and how they are enforced, are in cpp/README.md, "Concurrency
rules"):
- One dataset may be used from several threads at once: appends, flushes, create_tensor, reads,
  queries and loaders. The engine serialises writers and gives readers (and each loader run) a
  snapshot.
- One process writes a dataset at a time. Another process that loads it gets it read-only, with
  a warning (`read_only=False` raises DatasetLockedError naming the writer's pid).
- A read-only open never writes to the dataset's folder.
"""
import importlib

from chute import (  # noqa: F401  (chute._core is the engine, exposed for power users)
    _core,
    ops,
    random,
    ray,  # noqa: F401,I001  (registers scheduler="ray"; imports Ray only when used)
    util,  # noqa: F401  (chute.util.exceptions: Deep Lake 3's import path)
    version,  # noqa: F401  (chute.version: log and diff of the commit tree)
)
from chute._version import __version__  # the one place the version is written
from chute.dataset import Dataset, Sample, Tensor, delete, empty, exists, like, load, read
from chute.errors import (
    AllSamplesSkippedError,
    CheckoutError,
    ChuteError,
    DatasetAlreadyExistsError,
    DatasetLockedError,
    DatasetNotFoundError,
    DecodeError,
    DynamicTensorNumpyError,
    EmptyCommitError,
    FormatError,
    InvalidArgument,
    InvalidInputDataError,
    InvalidOutputDatasetError,
    InvalidTensorNameError,
    InvalidTransformDataset,
    IoError,
    QueryError,
    ReadOnlyModeError,
    ResourceError,
    SampleAppendError,
    SampleUpdateError,
    TensorAlreadyExistsError,
    TensorDoesNotExistError,
    TensorDtypeMismatchError,
    TensorInvalidSampleShapeError,
    TensorMismatchError,
    TransformError,
    UnsupportedSchedulerError,
    VersionControlError,
)
from chute.ingest import ingest_classification
from chute.loader import DataLoader
from chute.transform import compose, compute

# `chute.dataset` (in __all__) is the subpackage, bound here by the imports above; called, it is
# Deep Lake's `deeplake.dataset(path)`.

# Subpackages imported on first use (`chute.seq.smap`, `import chute.shards`), so that `import chute`
# stays fast (README: import time) for the many programs that use neither.
_LAZY_SUBPACKAGES = ("pipeline", "seq", "shards")


def __getattr__(name: str):
    if name in _LAZY_SUBPACKAGES:
        return importlib.import_module(f"chute.{name}")
    raise AttributeError(f"module 'chute' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_SUBPACKAGES))


__all__ = [
    "__version__",
    "AllSamplesSkippedError", "CheckoutError", "ChuteError", "EmptyCommitError", "InvalidArgument", "SampleUpdateError",
    "VersionControlError", "InvalidInputDataError", "InvalidOutputDatasetError",
    "InvalidTransformDataset", "TensorMismatchError", "UnsupportedSchedulerError", "compose", "compute", "DataLoader", "Dataset", "DatasetAlreadyExistsError", "DatasetLockedError", "DatasetNotFoundError",
    "DecodeError", "DynamicTensorNumpyError", "FormatError", "InvalidTensorNameError", "IoError", "QueryError",
    "ReadOnlyModeError", "ResourceError", "Sample",
    "SampleAppendError", "Tensor", "TensorAlreadyExistsError", "TensorDoesNotExistError",
    "TensorDtypeMismatchError", "TensorInvalidSampleShapeError", "TransformError", "dataset", "delete",
    "empty", "exists", "ingest_classification", "like", "load", "ops", "random", "read",
]
