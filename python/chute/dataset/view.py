"""Dataset: a Deep Lake 3 dataset folder (or a group or row view of one).

Concurrency: one Dataset may be used from several Python threads (appends, flushes, create_tensor,
reads, queries and loaders); the engine serialises writers and gives readers snapshots. One
process writes a dataset at a time; another process that loads it gets it read-only (with a
warning), and a read-only open never writes to the folder. `chute.empty(path, overwrite=True)`
and `chute.delete` refuse a dataset another process writes, and make this process's old handles
refuse further writes.
"""
from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np

from chute import _core, version
from chute import random as chute_random
from chute._internal.encoding import is_bytes_htype, json_default
from chute._internal.handle import DatasetHandle, tensor_core
from chute._internal.sampling import draw_weighted, sample_by_tql
from chute.dataset.htypes import UNSPECIFIED, is_image, spec
from chute.dataset.index import Index
from chute.dataset.tensor import Tensor, extend_rows
from chute.errors import TensorAlreadyExistsError, TensorDoesNotExistError, UnsupportedCompressionError
from chute.loader import DataLoader


class DatasetInfo:
    """dataset_info.json as a mutable mapping (Deep Lake's `ds.info`): `ds.info.update(...)`,
    `ds.info["k"] = v`, `del ds.info["k"]`, `ds.info.clear()`. Each change is a write: it is
    published at once, or at the end of a `with ds:` block."""

    def __init__(self, handle: DatasetHandle):
        self._handle = handle

    def _load(self) -> dict:
        return json.loads(self._handle.core.info_json())

    def _store(self, d: dict) -> None:
        self._handle.check_writable()
        self._handle.core.set_info_json(json.dumps(d, default=json_default))
        self._handle.flush_unless_batched()

    def update(self, *args, **kwargs) -> None:
        d = self._load()
        d.update(*args, **kwargs)
        self._store(d)

    def clear(self) -> None:
        self._store({})

    def __getitem__(self, key: str):
        return self._load()[key]

    def __setitem__(self, key: str, value) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        d = self._load()
        del d[key]
        self._store(d)

    def __getattr__(self, key: str):
        if key.startswith("_"):
            raise AttributeError(key)
        d = self._load()
        if key in d:
            return d[key]
        raise AttributeError(f"dataset info has no '{key}'")

    def __contains__(self, key) -> bool:
        return key in self._load()

    def __iter__(self):
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def keys(self):
        return self._load().keys()

    def items(self):
        return self._load().items()

    def get(self, key, default=None):
        return self._load().get(key, default)

    def __eq__(self, other) -> bool:
        return self._load() == (other._load() if isinstance(other, DatasetInfo) else other)

    def __repr__(self) -> str:
        return repr(self._load())


class Dataset:
    """Deep Lake 3's Dataset API over chute's engine.

    `ds["images"]` / `ds.images` is a tensor, `ds["train"]` a group, `ds[0:100]` a row view.
    Outside a `with ds:` block every append is flushed (published crash-safely) at once;
    inside one, on exit or on `ds.flush()`.
    """

    def __init__(self, root: DatasetHandle, group: str = "", index: Index | None = None):
        # `_root`: the handle every view of this dataset shares (tests reach the engine through
        # chute._internal.handle.dataset_handle, older ones through `ds._root.core`)
        object.__setattr__(self, "_root", root)
        object.__setattr__(self, "_group", group)
        object.__setattr__(self, "_index", index if index is not None else Index())

    def __chute_handle__(self) -> DatasetHandle:
        """The shared handle, for chute's own modules (`chute._internal.handle.dataset_handle`)."""
        return self._root

    # ---- identity ----
    @property
    def path(self) -> str:
        return self._root.core.path

    @property
    def read_only(self) -> bool:
        return self._root.core.read_only

    @property
    def group_name(self) -> str:
        return self._group.rstrip("/")

    @property
    def index(self) -> Index:
        return self._index

    def _full(self, name: str) -> str:
        return self._group + name

    # ---- tensors and groups ----
    @property
    def tensors(self) -> dict[str, Tensor]:
        """Tensors of this group and its subgroups, by name relative to the group."""
        out = {}
        for name in self._root.core.tensor_names():
            if name.startswith(self._group):
                out[name[len(self._group):]] = self._tensor(name)
        return out

    @property
    def groups(self) -> dict[str, Dataset]:
        out = {}
        for g in self._root.core.groups():
            if g.startswith(self._group):
                rel = g[len(self._group):]
                if "/" not in rel:
                    out[rel] = Dataset(self._root, g + "/", self._index)
        return out

    def _tensor(self, full: str) -> Tensor:
        return Tensor(self._root, self._root.core.tensor(full), full[len(self._group):], self._index)

    def __getitem__(self, item):
        if isinstance(item, str):
            full = self._full(item)
            if self._root.core.has_tensor(full):
                return Tensor(self._root, self._root.core.tensor(full), item, self._index)
            if full in self._root.core.groups():
                return Dataset(self._root, full + "/", self._index)
            raise TensorDoesNotExistError(
                f"tensor '{item}' does not exist in dataset '{self.path}' (tensors: {', '.join(self.tensors) or 'none'})"
            )
        if isinstance(item, (list, tuple)) and item and all(isinstance(x, str) for x in item):
            raise TypeError("select tensors with ds.dataloader().pytorch(tensors=[...]), not ds[[names]]")
        return Dataset(self._root, self._group, self._index.compose(item, self._max_len()))

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except TensorDoesNotExistError:
            raise AttributeError(f"dataset '{self.path}' has no tensor or group '{name}'") from None

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError(f"cannot set attribute '{name}' of a dataset; use create_tensor and append")

    def __contains__(self, name: str) -> bool:
        full = self._full(name)
        return self._root.core.has_tensor(full) or full in self._root.core.groups()

    def _lengths(self) -> list[int]:
        return [t.num_samples for t in self.tensors.values()]

    def _max_len(self) -> int:
        lengths = self._lengths()
        return max(lengths) if lengths else 0

    @property
    def num_samples(self) -> int:
        return len(self)

    @property
    def min_len(self) -> int:
        lengths = self._lengths()
        return min(lengths) if lengths else 0

    @property
    def max_len(self) -> int:
        return self._max_len()

    def __len__(self) -> int:
        """Rows of the view: Deep Lake counts the shortest tensor."""
        n = self.min_len
        if self._index.is_full:
            return n
        if self._index.scalar:
            return 1
        return len(self._index.indices(self._max_len()))

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return f"Dataset(path={self.path!r}, read_only={self.read_only}, tensors={list(self.tensors)})"

    def create_group(self, name: str, exist_ok: bool = False) -> Dataset:
        self._root.check_writable()
        full = self._full(name)
        if full in self._root.core.groups():
            if exist_ok:
                return Dataset(self._root, full + "/")
            raise TensorAlreadyExistsError(f"group '{name}' already exists")
        self._root.core.create_group(full)
        self._root.flush_unless_batched()
        return Dataset(self._root, full + "/")

    def create_tensor(
        self,
        name: str,
        htype: str = "generic",
        dtype: Any = UNSPECIFIED,
        sample_compression: Any = UNSPECIFIED,
        chunk_compression: Any = UNSPECIFIED,
        hidden: bool = False,
        class_names: list | None = None,
        max_chunk_size: int | None = None,
        tiling_threshold: int | None = None,
        exist_ok: bool = False,
        verbose: bool = True,
        **kwargs,
    ) -> Tensor:
        """Creates a tensor with Deep Lake 3's defaults for its htype."""
        self._root.check_writable()
        full = self._full(name)
        if self._root.core.has_tensor(full):
            if exist_ok:
                return self[name]
            raise TensorAlreadyExistsError(f"tensor '{name}' already exists in dataset '{self.path}'")
        s = spec(htype)
        if is_image(htype) and sample_compression is UNSPECIFIED and chunk_compression is UNSPECIFIED:
            raise UnsupportedCompressionError(
                f"tensor '{name}': htype '{htype}' needs sample_compression (e.g. 'jpeg' or 'png') or "
                f"chunk_compression; pass sample_compression=None to store pixels uncompressed"
            )
        sc = None if sample_compression is UNSPECIFIED else sample_compression
        cc = None if chunk_compression is UNSPECIFIED else chunk_compression
        sc = "jpeg" if sc == "jpg" else sc
        for kind, c in (("sample_compression", sc), ("chunk_compression", cc)):
            if c is None:
                continue
            allowed = s.compressions if kind == "sample_compression" else ("lz4", "zstd")
            if c not in allowed:
                raise UnsupportedCompressionError(f"tensor '{name}': {kind}='{c}' is not supported for htype '{htype}' (use one of {allowed})")
        if cc == "zstd":
            warnings.warn(
                f"tensor '{name}': chunk_compression='zstd' is a chute extension; Deep Lake 3 cannot open a "
                f"dataset that has it (use 'lz4' to stay compatible)", stacklevel=2)
        if is_bytes_htype(htype) and sc is not None:
            raise UnsupportedCompressionError(f"tensor '{name}': htype '{htype}' supports chunk_compression only")
        if dtype is UNSPECIFIED or dtype is None:
            dt = s.dtype
        else:
            dt = str(np.dtype(dtype)) if s.dtype not in ("str", "Any", "List") else s.dtype
            if htype in ("image", "image.rgb", "image.gray") and dt != "uint8" and sc in ("jpeg", "png"):
                raise UnsupportedCompressionError(f"tensor '{name}': {sc} images must be uint8, not {dt}")
            if htype == "embedding" and dt != "float32":
                raise ValueError(f"tensor '{name}': embedding tensors are float32")
        meta_extra = dict(s.meta_extra)
        info = json.loads(json.dumps(s.info))
        if htype == "class_label" and class_names is not None:
            info["class_names"] = list(class_names)
        if htype == "bbox" and "coords" in kwargs:
            info["coords"] = kwargs.pop("coords")
        if kwargs:
            raise TypeError(f"create_tensor() got unexpected arguments: {', '.join(kwargs)}")
        core = self._root.core.create_tensor(_core.TensorSpec(
            name=full, htype=htype, dtype=dt or "", sample_compression=sc or "", chunk_compression=cc or "",
            max_chunk_size=int(max_chunk_size or 0), tiling_threshold=int(tiling_threshold or 0),
            meta_extra_json=json.dumps(meta_extra), info_json=json.dumps(info, default=json_default)))
        self._root.flush_unless_batched()
        return Tensor(self._root, core, name)

    def delete_tensor(self, name: str, large_ok: bool = False) -> None:
        """Removes a tensor (with its hidden companions) from the head, at once; older commits keep it
        and `diff` records the deletion."""
        self._root.check_writable()
        full = self._full(name)
        if not self._root.core.has_tensor(full) or name not in self.tensors:
            raise TensorDoesNotExistError(f"tensor '{name}' does not exist in dataset '{self.path}'")
        self._root.core.delete_tensor(full)

    def create_tensor_like(self, name: str, source: Tensor, unlink: bool = False) -> Tensor:
        m = source.meta
        info = json.loads(tensor_core(source).info_json())
        t = self.create_tensor(
            name,
            htype=m.get("htype", "generic"),
            dtype=m.get("dtype") or UNSPECIFIED,
            sample_compression=m.get("sample_compression"),
            chunk_compression=m.get("chunk_compression"),
            max_chunk_size=m.get("max_chunk_size"),
            tiling_threshold=m.get("tiling_threshold"),
        )
        if info:
            tensor_core(t).set_info_json(json.dumps(info))
            self._root.flush_unless_batched()
        return t

    # ---- writing ----
    def append(self, sample: dict, skip_ok: bool = False, append_empty: bool = False) -> None:
        """Appends one row. Every value is checked before anything is written."""
        if not isinstance(sample, dict):
            raise TypeError(f"append() takes a dict {{tensor: sample}}, got {type(sample).__name__}; "
                            f"to append to one tensor use ds.<tensor>.append(...)")
        self.extend({k: [v] for k, v in sample.items()}, skip_ok=skip_ok, append_empty=append_empty)

    def extend(self, samples: dict, skip_ok: bool = False, append_empty: bool = False,
               ignore_errors: bool = False, progressbar: bool = False) -> None:
        """Appends rows given as {tensor: list of samples}. Nothing is written unless every sample converts."""
        self._root.check_writable()
        if not isinstance(samples, dict):
            raise TypeError(f"extend() takes a dict of {{tensor: samples}}, got {type(samples).__name__}")
        if not self._index.is_full:
            raise ValueError("cannot append to a view of a dataset; append to the dataset itself")
        tensors = {}
        for k in samples:
            if not self._root.core.has_tensor(self._full(k)):
                raise TensorDoesNotExistError(
                    f"tensor '{k}' does not exist in dataset '{self.path}' (tensors: {', '.join(self.tensors) or 'none'})"
                )
            tensors[k] = self[k]
        if not skip_ok:
            missing = [t for t in self.tensors if t not in samples]
            if missing:
                raise KeyError(f"append() is missing tensors {missing}; pass skip_ok=True to leave them out")
        for k, v in samples.items():
            if isinstance(v, (str, bytes, dict)) or not hasattr(v, "__len__"):
                raise TypeError(f"extend() takes {{tensor: list of samples}}; '{k}' has a {type(v).__name__}")
        lengths = {k: len(v) for k, v in samples.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"extend() needs the same number of samples for every tensor, got {lengths}")
        extend_rows(tensors, samples)
        self._root.flush_unless_batched()

    def flush(self) -> None:
        """Publishes everything appended so far; a crash after this loses none of it."""
        self._root.flush()

    def __enter__(self) -> Dataset:
        self._root.begin_batch()
        return self

    def __exit__(self, *exc) -> None:
        self._root.end_batch()

    def update(self, sample: dict) -> None:
        """Deep Lake's `ds[i].update({"images": x, "labels": y})`: replaces one row's values in the
        tensors named. Every value is checked and converted before any tensor changes."""
        if not self._index.scalar:
            raise ValueError("update() takes one row: ds[i].update({...}); for several rows assign ds.t[a:b] = values")
        self._root.check_writable()
        row = int(self._rows()[0])
        tensors = {k: self[k] for k in sample}
        converted = {k: tensors[k]._convert_for_row(v, row) for k, v in sample.items()}
        for k, c in converted.items():
            tensors[k]._write(c, row, update=True)
        self._root.flush_unless_batched()

    # ---- version control (Deep Lake 3's commits and branches) ----
    def commit(self, message: str | None = None, allow_empty: bool = False) -> str:
        """Freezes the head as a commit and returns its id; writes go on in a new head. Raises
        EmptyCommitError when nothing changed since the last commit (unless allow_empty)."""
        self._root.check_writable()
        return self._root.core.commit(message, allow_empty)

    def checkout(self, address: str, create: bool = False) -> str | None:
        """Switches to a branch (its head) or a commit; create=True makes branch `address` from
        here (committing uncommitted changes first, as Deep Lake does). Returns commit_id."""
        if create and self._root.read_only:
            self._root.check_writable()  # ReadOnlyModeError
        self._root.core.checkout(address, create)
        return self.commit_id

    def reset(self, force: bool = False) -> None:
        """Drops the changes made since the last commit (all of the dataset when there is none)."""
        self._root.check_writable()
        if not self._root.core.reset(force):
            print("There are no uncommitted changes on this branch.")

    def delete_branch(self, name: str) -> None:
        self._root.check_writable()
        self._root.core.delete_branch(name)

    @property
    def branch(self) -> str:
        return self._root.core.branch

    @property
    def branches(self) -> list[str]:
        return version.branches(self._root.core)

    @property
    def commit_id(self) -> str | None:
        """The last commit (the checked-out one, or the head's parent); None before the first."""
        return self._root.core.commit_id

    @property
    def pending_commit_id(self) -> str:
        """The node being read or written: a branch head, or a checked-out commit."""
        return self._root.core.pending_commit_id

    @property
    def has_head_changes(self) -> bool:
        return self._root.core.has_head_changes

    @property
    def commits(self) -> list[dict]:
        return version.commits(self._root.core)

    def get_commit_details(self, commit_id: str) -> dict:
        return version.commit_details(self._root.core, commit_id)

    def log(self) -> None:
        print(version.log_text(self._root.core))

    def diff(self, id_1: str | None = None, id_2: str | None = None, as_dict: bool = False):
        if not self._root.read_only and self._root.core.at_head:
            self._root.flush()
        return version.diff(self._root.core, id_1, id_2, as_dict)

    # ---- information ----
    @property
    def info(self) -> DatasetInfo:
        return DatasetInfo(self._root)

    def summary(self, file=None) -> str:
        rows = [("tensor", "htype", "shape", "dtype", "compression")]
        for name, t in self.tensors.items():
            shape = "(" + ", ".join("?" if d is None else str(d) for d in t.shape) + ")"
            comp = t.sample_compression or t.chunk_compression or "None"
            rows.append((name, t.htype, shape, str(tensor_core(t).dtype), comp))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = [f"Dataset(path='{self.path}', read_only={self.read_only}, tensors={list(self.tensors)})", ""]
        for k, r in enumerate(rows):
            lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
            if k == 0:
                lines.append("  ".join("-" * w for w in widths))
        text = "\n".join(lines)
        print(text, file=file)
        return text

    # ---- queries and sampling ----
    @property
    def sample_indices(self) -> list[int]:
        """The dataset rows this view selects, in order."""
        if self._index.is_full:
            return list(range(len(self)))
        return self._index.indices(self._max_len()).tolist()

    def _rows(self) -> np.ndarray:
        if self._index.is_full:
            return np.arange(len(self), dtype=np.uint64)
        return self._index.indices(self._max_len()).astype(np.uint64)

    def _query_rows(self) -> int | np.ndarray:
        """What the engine's query sees as its table: a row count for the whole dataset (no index
        array is made), else this view's rows."""
        return len(self) if self._index.is_full else self._rows()

    def query(self, query_string: str, seed: int | None = None) -> Dataset:
        """A view of the rows a TQL query selects (in ORDER BY order when it has one), evaluated in
        the engine. `SELECT *` is the only projection a view keeps: every tensor stays reachable."""
        if not isinstance(query_string, str):
            raise TypeError("query takes a TQL string")
        rows = self._root.core.query(query_string, self._query_rows(), chute_random.resolve(seed))
        return Dataset(self._root, self._group, Index(rows.view(np.int64)))

    def sample_by(self, weights, replace: bool = True, size: int | None = None, seed: int | None = None) -> Dataset:
        """A view of rows drawn by weight: a TQL expression (per-row weight, or max_weight(...) /
        sum_weight(...)), or a list / tuple / 1-D array with one weight per row."""
        s = chute_random.resolve(seed)
        if isinstance(weights, str):
            picked = self._root.core.query(sample_by_tql(weights, replace, size), self._query_rows(), s)
        else:
            picked = draw_weighted(self._query_rows(), weights, replace, size, s, 0)
        return Dataset(self._root, self._group, Index(np.asarray(picked).view(np.int64)))

    # ---- loading ----
    def dataloader(self, ignore_errors: bool = False, verbose: bool = False):
        """Deep Lake 3's loader builder: .batch().shuffle().transform().query().sample_by() then
        .pytorch() / .numpy() / .tensorflow(); runs on chute's C++ engine."""
        return DataLoader(self, ignore_errors=ignore_errors, verbose=verbose)

    def pytorch(self, transform=None, tensors=None, num_workers: int = 1, batch_size: int = 1, drop_last: bool = False,
                collate_fn=None, pin_memory: bool = False, shuffle: bool = False, buffer_size: int = 2048,
                use_local_cache: bool = False, progressbar: bool = False, return_index: bool = True,
                pad_tensors: bool = False, transform_kwargs: dict | None = None, decode_method=None,
                cache_size: int = 32 * 10**6, *args, **kwargs):
        """Deep Lake 3's open-source ds.pytorch() signature, on the same engine as ds.dataloader()."""
        dl = self.dataloader().batch(batch_size, drop_last=drop_last)
        if shuffle:
            dl = dl.shuffle(buffer_size=buffer_size)
        if transform is not None:
            dl = dl.transform(transform, **(transform_kwargs or {}))
        needs_workers = transform is not None or collate_fn is not None
        return dl.pytorch(num_workers=num_workers if needs_workers else 0, collate_fn=collate_fn,
                          tensors=None if isinstance(transform, dict) else tensors, return_index=return_index,
                          decode_method=decode_method)

    def numpy(self, aslist: bool = False) -> dict:
        return {k: t.numpy(aslist=aslist) for k, t in self.tensors.items()}

