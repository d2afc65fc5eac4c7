"""Partitions to and from chute datasets, Ray Data datasets and files. Functions here take and give
lists of partitions (object or Ray object refs); XShards wraps them.

- A dataset is written by the transform executor (`chute.compute(...).eval`): one input per
  partition, segments written in parallel (worker processes for the local backend, threads that
  fetch the Ray objects for the Ray backend) and merged in partition order; atomic as eval is.
- A dataset is read as partitions of whole chunks: row ranges end where the chunks of the tensor
  with the most chunks end, so no two partitions decode the same chunk.
- Files: one partition per group of consecutive files, each read by pandas in a worker.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from chute._internal.chunks import chunk_groups
from chute._internal.handle import tensor_core
from chute.dataset import Dataset, dataset, delete, exists, load
from chute.errors import DynamicTensorNumpyError
from chute.shards import structure
from chute.shards.backend import LocalBackend, RayBackend, ray_module
from chute.transform import compute

Backend = LocalBackend | RayBackend


# ---- files ----------------------------------------------------------------------------------
def expand_paths(path: Any) -> list[str]:
    """A file, a list of files or a directory (its files, sorted; names starting with '.' or '_'
    skipped, as Spark's _SUCCESS) as a list of files."""
    items = list(path) if isinstance(path, (list, tuple)) else [path]
    files: list[str] = []
    for p in items:
        if not isinstance(p, (str, os.PathLike)):
            raise ValueError(f"The file path is invalid/empty: {p!r} is not a path")
        p = os.fspath(p)
        if os.path.isdir(p):
            files.extend(os.path.join(p, f) for f in sorted(os.listdir(p))
                         if not f.startswith((".", "_")) and os.path.isfile(os.path.join(p, f)))
        elif os.path.isfile(p):
            files.append(p)
        else:
            raise ValueError(f"The file path is invalid/empty: {p!r} does not exist")
    if not files:
        raise ValueError(f"The file path is invalid/empty: no files in {path!r}")
    return files


def file_groups(files: list[str], parts: int) -> list[list[str]]:
    return [files[a:b] for a, b in structure.even_bounds(len(files), min(parts, len(files)))]


def read_files(reader: str, group: list[str], kwargs: dict) -> Any:
    pd = structure.pandas()
    frames = [getattr(pd, reader)(f, **kwargs) for f in group]
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


# ---- chute datasets -------------------------------------------------------------------------
def schema(shard: Any) -> dict | str:
    """{key: (dtype, sample shape)} of a dict of arrays, or why it is not one."""
    if not isinstance(shard, dict) or not shard:
        return f"a {type(shard).__name__}"
    out = {}
    for k, v in shard.items():
        if not isinstance(k, str):
            return f"a dict with the non-str key {k!r}"
        a = np.asarray(v) if not isinstance(v, np.ndarray) else v
        if a.ndim == 0 or a.dtype.kind not in "biuf":
            return f"a dict whose '{k}' is {a.dtype} with {a.ndim} dims (numeric arrays of rows are written)"
        out[k] = (a.dtype.str, a.shape[1:], len(a))
    if len({n for _, _, n in out.values()}) > 1:
        return f"a dict of arrays of different lengths {({k: n for k, (_, _, n) in out.items()})}"
    return out


@compute
def write_partition(shard, samples_out):
    """One partition (a dict of arrays of rows, or a Ray ref of one) appended as rows."""
    if type(shard).__name__ == "ObjectRef":
        shard = ray_module().get(shard)
    for k, v in shard.items():
        samples_out[k].extend(np.asarray(v))


def write_dataset(parts: list, backend: Backend, target: Any, schemas: list, progressbar: bool) -> Dataset:
    bad = [(i, s) for i, s in enumerate(schemas) if isinstance(s, str)]
    if bad:
        i, s = bad[0]
        raise TypeError(f"to_dataset writes partitions that are dicts of numeric arrays {{tensor: rows}}; shard {i} "
                        f"is {s}")
    keys = [sorted(s) for s in schemas]
    if any(k != keys[0] for k in keys):
        raise ValueError(f"to_dataset: every partition must have the same keys, got {keys[0]} and "
                         f"{next(k for k in keys if k != keys[0])}")
    created = not isinstance(target, Dataset) and not exists(target)
    ds = target if isinstance(target, Dataset) else dataset(target)
    try:
        _write(parts, backend, ds, keys[0], schemas, progressbar)
    except BaseException:
        if created:  # the dataset this call made goes again: the path is as before
            delete(ds.path)
        raise
    return ds


def _write(parts: list, backend: Backend, ds: Dataset, keys: list[str], schemas: list, progressbar: bool) -> None:
    have = ds.tensors
    for k in keys:
        dtypes = {np.dtype(s[k][0]) for s in schemas}
        if len(dtypes) > 1:
            raise TypeError(f"to_dataset: tensor '{k}' gets arrays of different dtypes {sorted(map(str, dtypes))}")
        if k in have and have[k].dtype is not None and np.dtype(have[k].dtype) != next(iter(dtypes)):
            raise TypeError(f"to_dataset: tensor '{k}' of {ds.path} has dtype {have[k].dtype}, the partitions "
                            f"have {next(iter(dtypes))}")
    for k in keys:
        if k not in have:
            ds.create_tensor(k, dtype=np.dtype(schemas[0][k][0]).name)
    if isinstance(backend, LocalBackend):
        scheduler = "processed" if backend.num_workers > 0 else "serial"
        workers = backend.num_workers
    else:
        scheduler, workers = "threaded", min(len(parts), os.cpu_count() or 1)
    write_partition().eval(list(parts), ds, num_workers=workers, scheduler=scheduler, progressbar=progressbar,
                           skip_ok=True)


def dataset_ranges(ds: Dataset, names: list[str], parts: int) -> list[tuple[int, int]]:
    tensors = ds.tensors
    total = min(tensors[n].num_samples for n in names)
    if total == 0:
        return []
    cores = [tensor_core(tensors[n]) for n in names]
    if not all(hasattr(c, "chunk_ends") for c in cores):  # an engine without the chunk index binding
        return [r for r in structure.even_bounds(total, min(parts, total)) if r[1] > r[0]]
    ends = max((np.asarray(c.chunk_ends()) for c in cores), key=len)
    return chunk_groups(ends.tolist(), total, parts)


def open_dataset(ds: Any, tensors: Sequence[str] | None) -> tuple[Dataset, list[str]]:
    if not isinstance(ds, Dataset):
        ds = load(ds, read_only=True)
    if not ds.index.is_full:
        raise ValueError("XShards.from_dataset takes a whole dataset or group, not a view of some rows")
    if not ds.read_only:
        ds.flush()  # the workers open the folder: they read what is published
    have = ds.tensors
    names = list(have) if tensors is None else list(tensors)
    missing = [n for n in names if n not in have]
    if missing:
        raise KeyError(f"dataset '{ds.path}' has no tensors {missing} (it has {sorted(have)})")
    if not names:
        raise ValueError(f"dataset '{ds.path}' has no tensors to read")
    return ds, names


def read_rows(path: str, group: str, names: list[str], start: int, stop: int, creds: dict | None = None) -> dict:
    ds = load(path, read_only=True, creds=creds)
    if group:
        ds = ds[group]
    out = {}
    for n in names:
        t = ds[n][start:stop]
        try:
            out[n] = t.numpy()
        except DynamicTensorNumpyError:
            out[n] = t.numpy(aslist=True)
    return out


# ---- Ray Data -------------------------------------------------------------------------------
def _kind(shard: Any) -> str:
    if structure.is_dataframe(shard):
        return "pandas"
    if isinstance(shard, np.ndarray):
        return "numpy"
    if isinstance(shard, dict) and shard and all(isinstance(v, np.ndarray) and v.ndim > 0 for v in shard.values()):
        return "dict"
    return type(shard).__name__


def _to_arrow(shard: dict) -> Any:
    import pyarrow as pa
    from ray.data.extensions import ArrowTensorArray

    return pa.table({k: (ArrowTensorArray.from_numpy(v) if v.ndim > 1 else pa.array(v)) for k, v in shard.items()})


def to_ray_dataset(parts: list, backend: Backend) -> Any:
    ray = ray_module()
    if not ray.is_initialized():
        raise RuntimeError("to_ray_dataset needs a running Ray: call ray.init() or chute.shards.init(backend='ray')")
    rb = backend if isinstance(backend, RayBackend) else RayBackend()
    refs = parts if isinstance(backend, RayBackend) else rb.put(parts)
    kinds = set(rb.get(rb.run([(_kind, (r,)) for r in refs], "to_ray_dataset")))
    if kinds == {"pandas"}:
        return ray.data.from_pandas_refs(refs)
    if kinds == {"numpy"}:
        return ray.data.from_numpy_refs(refs)
    if kinds == {"dict"}:
        return ray.data.from_arrow_refs(rb.run([(_to_arrow, (r,)) for r in refs], "to_ray_dataset"))
    raise TypeError(f"to_ray_dataset converts partitions of pandas DataFrames, numpy arrays or dicts of numpy arrays "
                    f"(one kind for all); these are {sorted(kinds)}")


def from_ray_dataset(ds: Any, backend: Backend) -> list:
    ray = ray_module()
    if not isinstance(ds, ray.data.Dataset):
        raise TypeError(f"XShards.from_ray_dataset takes a ray.data.Dataset, got {type(ds).__name__}")
    refs = ds.to_pandas_refs()
    return list(refs) if isinstance(backend, RayBackend) else ray.get(list(refs))
