"""Deep Lake 3's module-level functions: empty, dataset, load, like, delete, exists.

Every path is a local folder or ``s3://bucket/prefix`` (any S3-compatible server through
``creds={"endpoint_url": ...}``; see chute.remote for how credentials are found)."""
from __future__ import annotations

import os
import warnings

from chute import _core
from chute._internal.handle import DatasetHandle
from chute.dataset.view import Dataset
from chute.errors import DatasetAlreadyExistsError, DatasetLockedError, DatasetNotFoundError
from chute.remote import is_remote, storage_options


def _path(path) -> str:
    p = os.fspath(path)
    if "://" in p and not is_remote(p):
        scheme = p.split("://", 1)[0]
        raise ValueError(f"'{p}': only local paths and s3:// URLs are supported (not {scheme}://; GCS, R2 and MinIO "
                         "are read through their S3 interface with creds={'endpoint_url': ...})")
    return p


def exists(path, creds: dict | None = None, token: str | None = None) -> bool:
    """True when `path` holds a dataset."""
    p = _path(path)
    return _core.Dataset.exists(p, storage_options(p, creds))


def empty(path, overwrite: bool = False, creds: dict | None = None, **kwargs) -> Dataset:
    """Creates a new, empty dataset. overwrite=True replaces a dataset already there."""
    p = _path(path)
    if not is_remote(p):
        if exists(p) and not overwrite:
            raise DatasetAlreadyExistsError(f"a dataset already exists at '{p}'; use chute.load, or overwrite=True to replace it")
        if not exists(p) and os.path.isdir(p) and os.listdir(p):
            raise DatasetAlreadyExistsError(f"'{p}' is a folder that is not empty and not a dataset; refusing to create a dataset in it")
    elif not overwrite and exists(p, creds):
        raise DatasetAlreadyExistsError(f"a dataset already exists at '{p}'; use chute.load, or overwrite=True to replace it")
    try:
        return Dataset(DatasetHandle.create(p, overwrite, creds))
    except ValueError as e:
        if "holds objects and is not a dataset" in str(e):
            raise DatasetAlreadyExistsError(str(e)) from None
        raise


def load(path, read_only: bool | None = None, creds: dict | None = None, local_cache_size: int = 0,
         **kwargs) -> Dataset:
    """Opens an existing dataset. read_only=None opens it for writing when the folder is writable and
    no other process writes it, else read-only (with a warning when another process holds the lock);
    read_only=False raises DatasetLockedError (naming the holder's pid) in that case. For an
    s3:// dataset, `local_cache_size` (MB) keeps the chunks it reads in a cache on local disk
    ($CHUTE_CACHE_DIR, default ~/.cache/chute), so later epochs read them from there."""
    p, address = split_address(_path(path))
    if is_remote(p):
        return _load_remote(p, read_only, creds, local_cache_size, address)
    if not exists(p):
        if os.path.isdir(p):
            raise DatasetNotFoundError(f"'{p}' is not a dataset: it has no dataset_meta.json")
        raise DatasetNotFoundError(f"no dataset at '{p}'")
    if read_only is None:
        if not os.access(p, os.W_OK):
            return _open(p, True, address=address)
        try:
            return _open(p, False, address=address)
        except DatasetLockedError as e:
            # Deep Lake 3's behaviour: another writer holds the lock, so this process reads. Every
            # DDP rank loading the dataset its launcher is writing gets here.
            warnings.warn(f"{e}; opening it read-only", stacklevel=2)
            return _open(p, True, address=address)
    return _open(p, bool(read_only), address=address)


def split_address(path: str) -> tuple[str, str]:
    """Deep Lake's "path@address" (a branch or commit id): the path and the address ("" for none).
    Only the last '@' counts, and only when no '/' follows it, so "/home/a@b/ds" is a plain path."""
    head, sep, tail = path.rpartition("@")
    if not sep or not head or "/" in tail or not tail:
        return path, ""
    return head, tail


def _load_remote(p: str, read_only: bool | None, creds: dict | None, cache: int, address: str = "") -> Dataset:
    if not exists(p, creds):  # a missing bucket, refused credentials or no endpoint raise here
        raise DatasetNotFoundError(f"no dataset at '{p}' (no dataset_meta.json under that prefix)")
    if read_only is None:
        try:
            return _open(p, False, creds, cache, address)
        except DatasetLockedError as e:
            warnings.warn(f"{e}; opening it read-only", stacklevel=3)
            return _open(p, True, creds, cache, address)
    return _open(p, bool(read_only), creds, cache, address)


def dataset(path, read_only: bool | None = None, overwrite: bool = False, creds: dict | None = None,
            **kwargs) -> Dataset:
    """Opens the dataset at `path`, creating an empty one if there is none."""
    p = _path(path)
    if exists(p, creds) and not overwrite:
        return load(p, read_only=read_only, creds=creds)
    return empty(p, overwrite=overwrite, creds=creds)


def like(dest, src: Dataset | str, tensors: list | None = None, overwrite: bool = False,
         creds: dict | None = None, **kwargs) -> Dataset:
    """A new empty dataset with the tensors (metas and infos, no samples) of `src`. `creds` are the
    destination's (Deep Lake 3's signature); a source path is opened with the same ones."""
    source = src if isinstance(src, Dataset) else load(src, read_only=True, creds=creds)
    out = empty(dest, overwrite=overwrite, creds=creds)
    with out:
        for name, t in source.tensors.items():
            if tensors is None or name in tensors:
                out.create_tensor_like(name, t)
    return out


def delete(path, force: bool = False, large_ok: bool = False, creds: dict | None = None) -> None:
    """Deletes the dataset at `path` (only a dataset: a plain folder is left alone)."""
    p = _path(path)
    if not exists(p, creds):
        raise DatasetNotFoundError(f"no dataset at '{p}' to delete")
    _core.Dataset.remove(p, "it was deleted by chute.delete", storage_options(p, creds))


def _open(path: str, read_only: bool, creds: dict | None = None, local_cache_size: int = 0,
          address: str = "") -> Dataset:
    return Dataset(DatasetHandle.open(path, read_only, creds, local_cache_size, address))
