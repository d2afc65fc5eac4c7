"""DatasetHandle: the one internal object behind every view of an opened dataset.

`chute.Dataset` (and its group and row views), `chute.Tensor`, `DatasetInfo` and tensor infos are
thin public classes over one `DatasetHandle`: it owns the engine's `_core.Dataset`, the depth of
nested `with ds:` blocks, the read-only check and the rule of when a write is published. Other
subpackages (the loader, ingestion, the CLI) reach the engine objects of a public object through
`dataset_handle(ds)` and `tensor_core(t)`, which call the `__chute_handle__` / `__chute_core__`
methods those classes define, never through their private attributes.
"""
from __future__ import annotations

import os
import threading
from typing import Any, Protocol

from chute import _core
from chute._internal.storage import storage_options
from chute.errors import ReadOnlyModeError


class DatasetHandle:
    """One opened dataset, shared by all its views. Thread-safe: the engine serialises writers and
    gives readers snapshots; the `with ds:` depth changes under a lock, so blocks on several
    threads publish once, when the last one exits."""

    __slots__ = ("core", "creds", "local_cache_size", "_depth", "_lock")

    def __init__(self, core: _core.Dataset, creds: dict | None = None, local_cache_size: int = 0):
        self.core = core
        # What the dataset was opened with, for workers that open its segments (never shown).
        self.creds = creds
        self.local_cache_size = local_cache_size
        self._depth = 0  # > 0 inside `with ds:`; writes are published when it returns to 0
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: str | os.PathLike, read_only: bool, creds: dict | None = None,
             local_cache_size: int = 0, address: str = "") -> DatasetHandle:
        p = os.fspath(path)
        return cls(_core.Dataset.open(p, read_only, storage_options(p, creds, local_cache_size), address), creds,
                   local_cache_size)

    @classmethod
    def create(cls, path: str | os.PathLike, overwrite: bool, creds: dict | None = None) -> DatasetHandle:
        p = os.fspath(path)
        return cls(_core.Dataset.create(p, overwrite, storage_options(p, creds)), creds)

    def storage_options(self) -> _core.S3Options:
        """The engine's storage options of this dataset (for a worker's open_segment)."""
        return storage_options(self.path, self.creds)

    @property
    def path(self) -> str:
        return self.core.path

    @property
    def read_only(self) -> bool:
        return self.core.read_only

    def check_writable(self, tensor: str | None = None) -> None:
        """ReadOnlyModeError (naming `tensor` when given) unless this open may write;
        VersionControlError when a commit that is not a branch head is checked out."""
        if not self.core.read_only:
            if not self.core.at_head:
                raise _core.VersionControlError(
                    f"dataset '{self.path}' is checked out at commit '{self.core.pending_commit_id}', which is not a "
                    f"branch head; checkout a branch, or make one here with checkout(name, create=True), to write")
            return
        if tensor is None:
            raise ReadOnlyModeError(f"dataset '{self.path}' is open read-only; load it with read_only=False to write")
        raise ReadOnlyModeError(f"dataset '{self.path}' is read-only; cannot modify tensor '{tensor}'")

    def flush_unless_batched(self) -> None:
        """After a write: publish it (crash-safely) now, unless a `with ds:` block publishes it on exit."""
        if self._depth == 0:
            self.core.flush()

    def flush(self) -> None:
        self.core.flush()

    def begin_batch(self) -> None:
        with self._lock:
            self._depth += 1

    def end_batch(self) -> None:
        with self._lock:
            self._depth -= 1
            last = self._depth == 0
        if last and not self.core.read_only:
            self.core.flush()


class _HasHandle(Protocol):
    def __chute_handle__(self) -> DatasetHandle: ...


class _HasCore(Protocol):
    def __chute_core__(self) -> Any: ...


def dataset_handle(ds: _HasHandle) -> DatasetHandle:
    """The handle behind a `chute.Dataset` or any group or row view of it."""
    return ds.__chute_handle__()


def tensor_core(t: _HasCore) -> _core.Tensor:
    """The engine tensor (`_core.Tensor`) behind a `chute.Tensor` or any view of it."""
    return t.__chute_core__()
