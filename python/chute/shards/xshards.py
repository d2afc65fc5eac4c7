"""XShards: a Python object split into partitions (one object per partition), processed in
parallel with the user's own code. Orca's API (`bigdl.orca.data.XShards`), on chute's backends.

    shards = XShards.partition([train_images, train_labels])          # rows split evenly
    shards = shards.transform_shard(lambda d: {"x": d[0], "y": d[1]})  # fn runs once per partition
    shards.collect()                                                   # the partitions, in order

Every operation is eager, as Orca's default: the result is computed (and cached) when the call
returns. `transform_shard` uncaches its parent unless the user called `cache()` on it; an uncached
XShards with a parent is recomputed from it when used again (Spark's lineage), one made from data
keeps its partitions.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chute._internal.handle import dataset_handle
from chute.shards import convert, structure
from chute.shards.backend import LocalBackend, RayBackend, ShardTransformError, current, ray_module

Backend = LocalBackend | RayBackend


class SharedValue:
    """A read-only value every shard's function can read as `.value` (Orca's Spark broadcast). On
    the Ray backend it is put in the object store once; on the local one the forked workers
    inherit it."""

    def __init__(self, data: Any):
        backend = current()
        self._ref = backend.put([data])[0] if backend.name == "ray" else None
        self._data = None if self._ref is not None else data

    @property
    def value(self) -> Any:
        if self._ref is not None:
            return ray_module().get(self._ref)
        return self._data

    def unpersist(self) -> None:
        self._ref = None
        self._data = None


def _positive(name: str, n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{name} must be a positive int, got {n!r}")
    return int(n)


class XShards:
    """Partitions of Python objects on a backend (see chute.shards.init). Made by
    `XShards.partition`, `chute.shards.read_csv/read_json/read_parquet`, `XShards.from_dataset`
    and `XShards.from_ray_dataset`; not constructed directly."""

    def __init__(self, parts: list | None, backend: Backend, recipe: Callable[[], list] | None = None):
        self._backend = backend
        self._parts = parts
        self._recipe = recipe
        self._cached = True
        self._user_cached = False

    # ---- making -------------------------------------------------------------------------------
    @classmethod
    def partition(cls, data: Any, num_shards: int | None = None) -> XShards:
        """Splits `data` (a numpy array, a pandas DataFrame, or a nested list/tuple/dict of numpy
        arrays with one number of rows) into `num_shards` partitions of rows, as np.array_split
        does, keeping the structure in every partition. Default: the backend's CPU count."""
        rows = structure.check_partitionable(data)
        backend = current()
        n = backend.default_partitions() if num_shards is None else _positive("num_shards", num_shards)
        if rows < n:
            raise ValueError(f"XShards.partition: {rows} rows cannot be split into {n} shards (fewer rows than "
                             f"shards); pass num_shards <= {rows}")
        parts = [_copy(structure.take_rows(data, a, b)) for a, b in structure.even_bounds(rows, n)]
        return cls(backend.put(parts), backend)

    @classmethod
    def from_partitions(cls, parts: Sequence[Any]) -> XShards:
        """An XShards whose partitions are the given objects, one each (Orca's
        `XShards` over `sc.parallelize(parts, len(parts))`)."""
        if isinstance(parts, (str, bytes)) or not isinstance(parts, Sequence) or not len(parts):
            raise ValueError("XShards.from_partitions takes a non-empty list of partitions")
        backend = current()
        return cls(backend.put(list(parts)), backend)

    # ---- the partitions -----------------------------------------------------------------------
    @property
    def backend(self) -> str:
        """"local" or "ray"."""
        return self._backend.name

    def _partitions(self) -> list:
        if self._parts is not None:
            return self._parts
        assert self._recipe is not None
        return self._recipe()

    def _run(self, fn: Callable, what: str, *args, inline: bool = True) -> list:
        """fn(partition, *args) per partition on this backend: new partitions (handles). `inline`:
        fn is chute's own and does not modify its input, so the local backend may run it here."""
        tasks = [(fn, (p, *args)) for p in self._partitions()]
        if isinstance(self._backend, LocalBackend):
            return self._backend.run(tasks, what, inline=inline)
        return self._backend.run(tasks, what)

    def _gather(self, fn: Callable, what: str, *args) -> list:
        """fn(partition, *args) per partition, the (small) results here."""
        return self._backend.get(self._run(fn, what, *args))

    def _derived(self, parts: list, recipe: Callable[[], list] | None) -> XShards:
        return XShards(parts, self._backend, recipe)

    # ---- Orca's API ---------------------------------------------------------------------------
    def transform_shard(self, func: Callable, *args) -> XShards:
        """`func(partition, *args)` for every partition, in parallel (worker processes or Ray
        tasks): a new XShards of the results. When func raises, ShardTransformError names the
        shard and carries the worker's traceback."""
        if not callable(func):
            raise TypeError(f"transform_shard takes a function (partition, *args) -> partition, got "
                            f"{type(func).__name__}")
        what = f"transform_shard({getattr(func, '__qualname__', type(func).__name__)})"

        def recipe() -> list:
            return self._run(func, what, *args, inline=False)

        out = self._derived(recipe(), recipe)
        if not self._user_cached:
            self.uncache()
        return out

    def collect(self) -> list:
        """Every partition, in order, in this process."""
        return self._backend.get(self._partitions())

    def first(self) -> Any:
        """The first partition."""
        return self._backend.get(self._partitions()[:1])[0]

    def take(self, n: int) -> list:
        """The first n partitions (Spark's rdd.take: one element per partition here)."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"take(n) needs an int >= 0, got {n!r}")
        return self._backend.get(self._partitions()[:int(n)])

    def num_partitions(self) -> int:
        return len(self._partitions())

    def __len__(self) -> int:
        """The number of rows of every partition together (rows of a DataFrame or array; of a
        dict/list/tuple of equal-length arrays, their length; else len() of the partition)."""
        return int(sum(self._gather(structure.num_rows, "len")))

    def len(self) -> int:
        return len(self)

    def __getitem__(self, key: Any) -> XShards:
        """The column or key `key` of every partition (df[key], d[key])."""
        try:
            return self._derived(self._run(_select, "select", key), None)
        except ShardTransformError as e:
            if e.error_type == "KeyError":
                raise KeyError(f"Invalid key for this XShards: {key!r} (shard {e.index} has no such column or "
                               f"key)") from None
            raise

    def cache(self) -> XShards:
        """Keeps the partitions (computing them now if they were dropped)."""
        if self._parts is None:
            self._parts = self._partitions()
        self._cached = True
        self._user_cached = True
        return self

    def uncache(self) -> XShards:
        """Drops the partitions when they can be recomputed from a parent (they are then
        recomputed on each use); `is_cached()` is False afterwards."""
        self._cached = False
        self._user_cached = False
        if self._recipe is not None:
            self._parts = None
        return self

    def is_cached(self) -> bool:
        return self._cached

    def compute(self) -> XShards:
        """Orca's eager trigger: everything here is already eager, so this caches."""
        return self.cache()

    def repartition(self, num_partitions: int) -> XShards:
        """The same rows in `num_partitions` partitions of (nearly) equal size, in order, each of
        the partitions' type: DataFrames and arrays are sliced and concatenated, a dict/list/tuple
        of arrays leaf by leaf, a list's items regrouped. (Orca hash-partitions DataFrame rows;
        this keeps their order.) Partitions may be empty when there are fewer rows."""
        n = _positive("num_partitions", num_partitions)
        parts = self._partitions()
        rows = self._gather(_rows_or_type, "repartition")
        bad = [r for r in rows if isinstance(r, str)]
        if bad:
            raise TypeError(f"repartition: partitions of type {bad[0]} cannot be split into rows (it takes DataFrames, "
                            f"arrays, lists and dicts/lists/tuples of equal-length arrays)")
        starts = np.concatenate([[0], np.cumsum(rows)])
        tasks = []
        for a, b in structure.even_bounds(int(starts[-1]), n):
            spans, sources = [], []
            for i in range(len(parts)):
                lo, hi = max(a, int(starts[i])), min(b, int(starts[i + 1]))
                if hi > lo:
                    spans.append((lo - int(starts[i]), hi - int(starts[i])))
                    sources.append(parts[i])
            if not spans:  # an empty partition of the same type
                spans, sources = [(0, 0)], [parts[0]]
            tasks.append((_assemble, (spans, *sources)))
        return self._derived(self._run_tasks(tasks, "repartition"), None)

    def _run_tasks(self, tasks: list, what: str) -> list:
        if isinstance(self._backend, LocalBackend):
            return self._backend.run(tasks, what, inline=True)
        return self._backend.run(tasks, what)

    def partition_by(self, cols: str | list[str], num_partitions: int | None = None) -> XShards:
        """Pandas DataFrame partitions only: rows with the same value of `cols` go to the same
        partition (a hash of the value picks one of `num_partitions`, default the current number);
        partitions may be empty."""
        n = self.num_partitions() if num_partitions is None else _positive("num_partitions", num_partitions)
        columns = [cols] if isinstance(cols, str) else list(cols)
        if not columns or not all(isinstance(c, str) for c in columns):
            raise ValueError(f"partition_by: cols must be a column name or a list of them, got {cols!r}")
        kinds = self._gather(_frame_check, "partition_by", columns)
        for i, k in enumerate(kinds):
            if k:
                raise TypeError(f"partition_by: {k} (shard {i})")
        pieces = self._run(_bucket, "partition_by", columns, n)
        tasks = [(_pick_and_concat, (j, *pieces)) for j in range(n)]
        return self._derived(self._run_tasks(tasks, "partition_by"), None)

    def unique(self) -> np.ndarray:
        """The distinct values of a pandas Series XShards (e.g. `shards["location"].unique()`), in
        order of first appearance."""
        found = self._gather(_unique, "unique")
        if any(isinstance(f, str) for f in found):
            kind = next(f for f in found if isinstance(f, str))
            raise TypeError(f"unique() works on XShards of pandas Series (e.g. shards['column'].unique()); these "
                            f"partitions are {kind}")
        return structure.pandas().unique(np.concatenate(found)) if found else np.array([])

    def split(self) -> list[XShards]:
        """Partitions that are tuples/lists of k items give k XShards, the i-th holding item i of
        every partition."""
        lengths = self._gather(_tuple_len, "split")
        if any(n < 0 for n in lengths) or len(set(lengths)) != 1:
            raise ValueError(f"split() needs every partition to be a tuple or list of the same length; got lengths "
                             f"{['not a tuple/list' if n < 0 else n for n in lengths]}")
        return [self._derived(self._run(_item, "split", i), None) for i in range(lengths[0])]

    def zip(self, other: XShards) -> XShards:
        """Partitions (a, b) of this XShards and `other`, which must have the same number of
        partitions and of rows in each."""
        if not isinstance(other, XShards):
            raise TypeError(f"zip takes an XShards, got {type(other).__name__}")
        if other._backend.name != self._backend.name:
            raise ValueError(f"zip: the XShards live on different backends ({self.backend} and {other.backend})")
        if self.num_partitions() != other.num_partitions():
            raise ValueError(f"zip: the XShards have {self.num_partitions()} and {other.num_partitions()} partitions; "
                             f"they must have the same number")
        mine, theirs = self._gather(structure.num_rows, "zip"), other._gather(structure.num_rows, "zip")
        if mine != theirs:
            raise ValueError(f"zip: the partitions must have the same number of rows, got {mine} and {theirs}")
        tasks = [(_pair, (a, b)) for a, b in zip(self._partitions(), other._partitions())]
        return self._derived(self._run_tasks(tasks, "zip"), None)

    # ---- chute datasets and Ray Data -----------------------------------------------------------
    def to_dataset(self, path_or_ds: Any, progressbar: bool = False) -> Any:
        """Appends the rows of partitions that are dicts of numeric arrays {tensor: rows} to a chute
        dataset (a path, created when there is none, or a Dataset), in partition order, with the
        transform executor: partitions written in parallel, merged at the end. Missing tensors are
        created (dtype from the arrays) once every partition has been checked. Atomic as eval: when
        it raises, every tensor has its rows as before; a dataset the call created is deleted, a
        tensor it created in an existing dataset stays, empty.
        Returns the dataset."""
        schemas = self._gather(convert.schema, "to_dataset")
        return convert.write_dataset(self._partitions(), self._backend, path_or_ds, schemas, progressbar)

    @classmethod
    def from_dataset(cls, ds: Any, tensors: Sequence[str] | None = None, num_shards: int | None = None) -> XShards:
        """A chute dataset (a path or a Dataset) as partitions {tensor: array of rows} of whole
        chunks: at most `num_shards` (default the backend's CPU count) contiguous row ranges that
        end at chunk ends (of the tensor with the most chunks), read in parallel by workers that
        open the folder (a writable `ds` is flushed first)."""
        backend = current()
        n = backend.default_partitions() if num_shards is None else _positive("num_shards", num_shards)
        ds, names = convert.open_dataset(ds, tensors)
        ranges = convert.dataset_ranges(ds, names, n)
        if not ranges:
            raise ValueError(f"XShards.from_dataset: dataset '{ds.path}' has no rows in {names}")
        creds = dataset_handle(ds).creds  # an s3:// dataset's workers open it with the same creds
        tasks = [(convert.read_rows, (ds.path, ds.group_name, names, a, b, creds)) for a, b in ranges]
        return cls(backend.run(tasks, "from_dataset"), backend)

    def to_ray_dataset(self) -> Any:
        """A `ray.data.Dataset` with one block per partition (pandas DataFrames, numpy arrays or
        dicts of numpy arrays, multi-dimensional ones as Arrow tensor columns). Needs Ray running."""
        return convert.to_ray_dataset(self._partitions(), self._backend)

    @classmethod
    def from_ray_dataset(cls, ds: Any) -> XShards:
        """A ray.data.Dataset as pandas DataFrame partitions, one per block (Ray sizes its blocks:
        `repartition` for a given number)."""
        backend = current()
        return cls(convert.from_ray_dataset(ds, backend), backend)

    def __repr__(self) -> str:
        return f"XShards({self.num_partitions()} partitions, backend={self.backend!r})"


def _copy(obj: Any) -> Any:
    if isinstance(obj, np.ndarray) or structure.is_frame(obj):
        return obj.copy()
    if structure.is_structured(obj):
        return structure.concat_rows([obj])  # concatenating copies every leaf
    return obj


# ---- per-partition functions (module level: they pickle by name for spawned workers and Ray) ---
def _select(shard: Any, key: Any) -> Any:
    try:
        return shard[key]
    except (KeyError, IndexError, TypeError):
        raise KeyError(f"Invalid key for this XShards: {key!r}") from None


def _rows_or_type(shard: Any) -> int | str:
    try:
        structure.take_rows(shard, 0, 0)
    except TypeError:
        return type(shard).__name__
    return structure.num_rows(shard)


def _assemble(spans: list[tuple[int, int]], *sources) -> Any:
    return structure.concat_rows([structure.take_rows(s, a, b) for (a, b), s in zip(spans, sources)])


def _frame_check(shard: Any, columns: list[str]) -> str:
    if not structure.is_dataframe(shard):
        return f"works on pandas DataFrame partitions, this one is {type(shard).__name__}"
    missing = [c for c in columns if c not in shard.columns]
    return f"no column {missing} in {list(shard.columns)}" if missing else ""


def _bucket(df: Any, columns: list[str], n: int) -> list:
    if len(df):
        h = structure.pandas().util.hash_pandas_object(df[columns], index=False).to_numpy() % np.uint64(n)
    else:
        h = np.zeros(0, dtype=np.uint64)
    return [df[h == j] for j in range(n)]


def _pick_and_concat(j: int, *pieces) -> Any:
    return structure.pandas().concat([p[j] for p in pieces])


def _unique(shard: Any) -> Any:
    if not structure.is_series(shard):
        return type(shard).__name__
    return np.asarray(shard.unique())


def _tuple_len(shard: Any) -> int:
    return len(shard) if isinstance(shard, (tuple, list)) else -1


def _item(shard: Any, i: int) -> Any:
    return shard[i]


def _pair(a: Any, b: Any) -> tuple:
    return (a, b)
