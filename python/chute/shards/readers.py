"""`read_csv`, `read_json`, `read_parquet`: files as an XShards of pandas DataFrames (Orca's
`bigdl.orca.data.pandas.read_csv` with its "pandas" backend): a file, a list of files or a
directory; one partition per group of consecutive files (min(number of files, the backend's CPU
count) groups), each group read by pandas in a worker and concatenated. Local paths only (on a Ray
cluster, a path every node can read).
"""
from __future__ import annotations

from typing import Any

from chute.shards import convert, structure
from chute.shards.backend import current
from chute.shards.xshards import XShards


def _read(reader: str, path: Any, kwargs: dict) -> XShards:
    files = convert.expand_paths(path)
    structure.pandas()  # imported once here: forked workers inherit it instead of each importing it
    backend = current()
    groups = convert.file_groups(files, backend.default_partitions())
    tasks = [(convert.read_files, (reader, g, kwargs)) for g in groups]
    return XShards(backend.run(tasks, reader), backend)


def read_csv(file_path: Any, **kwargs) -> XShards:
    """CSV files as pandas DataFrame partitions; kwargs go to `pandas.read_csv`."""
    return _read("read_csv", file_path, kwargs)


def read_json(file_path: Any, **kwargs) -> XShards:
    """JSON files as pandas DataFrame partitions; kwargs go to `pandas.read_json` (e.g. lines=True)."""
    return _read("read_json", file_path, kwargs)


def read_parquet(file_path: Any, **kwargs) -> XShards:
    """Parquet files as pandas DataFrame partitions; kwargs go to `pandas.read_parquet` (columns=...)."""
    return _read("read_parquet", file_path, kwargs)
