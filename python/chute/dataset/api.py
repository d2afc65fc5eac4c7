"""Deep Lake 3's module-level functions: empty, dataset, load, like, delete, exists."""
from __future__ import annotations

import os
import warnings

from chute import _core
from chute._internal.handle import DatasetHandle
from chute.dataset.view import Dataset
from chute.errors import DatasetAlreadyExistsError, DatasetLockedError, DatasetNotFoundError


def _path(path) -> str:
    p = os.fspath(path)
    if "://" in p:
        raise ValueError(f"'{p}': only local paths are supported (no hub://, s3:// or gcs:// storage)")
    return p


def exists(path) -> bool:
    """True when `path` holds a dataset."""
    return _core.Dataset.exists(_path(path))


def empty(path, overwrite: bool = False, **kwargs) -> Dataset:
    """Creates a new, empty dataset. overwrite=True replaces a dataset already there."""
    p = _path(path)
    if exists(p) and not overwrite:
        raise DatasetAlreadyExistsError(f"a dataset already exists at '{p}'; use chute.load, or overwrite=True to replace it")
    if not exists(p) and os.path.isdir(p) and os.listdir(p):
        raise DatasetAlreadyExistsError(f"'{p}' is a folder that is not empty and not a dataset; refusing to create a dataset in it")
    return Dataset(DatasetHandle.create(p, overwrite))


def load(path, read_only: bool | None = None, **kwargs) -> Dataset:
    """Opens an existing dataset. read_only=None opens it for writing when the folder is writable and
    no other process writes it, else read-only (with a warning when another process holds the lock);
    read_only=False raises DatasetLockedError (naming the holder's pid) in that case."""
    p = _path(path)
    if not exists(p):
        if os.path.isdir(p):
            raise DatasetNotFoundError(f"'{p}' is not a dataset: it has no dataset_meta.json")
        raise DatasetNotFoundError(f"no dataset at '{p}'")
    if read_only is None:
        if not os.access(p, os.W_OK):
            return _open(p, True)
        try:
            return _open(p, False)
        except DatasetLockedError as e:
            # Deep Lake 3's behaviour: another writer holds the lock, so this process reads. Every
            # DDP rank loading the dataset its launcher is writing gets here.
            warnings.warn(f"{e}; opening it read-only", stacklevel=2)
            return _open(p, True)
    return _open(p, bool(read_only))


def dataset(path, read_only: bool | None = None, overwrite: bool = False, **kwargs) -> Dataset:
    """Opens the dataset at `path`, creating an empty one if there is none."""
    p = _path(path)
    if exists(p) and not overwrite:
        return load(p, read_only=read_only)
    return empty(p, overwrite=overwrite)


def like(dest, src: Dataset | str, tensors: list | None = None, overwrite: bool = False, **kwargs) -> Dataset:
    """A new empty dataset with the tensors (metas and infos, no samples) of `src`."""
    source = src if isinstance(src, Dataset) else load(src, read_only=True)
    out = empty(dest, overwrite=overwrite)
    with out:
        for name, t in source.tensors.items():
            if tensors is None or name in tensors:
                out.create_tensor_like(name, t)
    return out


def delete(path, force: bool = False, large_ok: bool = False) -> None:
    """Deletes the dataset at `path` (only a dataset: a plain folder is left alone)."""
    p = _path(path)
    if not exists(p):
        raise DatasetNotFoundError(f"no dataset at '{p}' to delete")
    _core.Dataset.remove(p, "it was deleted by chute.delete")


def _open(path: str, read_only: bool) -> Dataset:
    return Dataset(DatasetHandle.open(path, read_only))
