"""Rows of a shard, whatever its type: how many, a slice of them, and several shards' rows joined.

A shard is one of:
- a pandas DataFrame or Series, or a numpy array: rows along the first axis;
- a dict, list or tuple whose leaves (at any depth) are such arrays, all of one length: the
  structure is kept and every leaf sliced alike ({"x": images, "y": labels});
- any other list or tuple: its items are the rows (Orca flattens and regroups a list shard).
Anything else is one row.
"""
from __future__ import annotations

import importlib
import sys
from typing import Any

import numpy as np


def pandas():
    """pandas, imported when first needed (importing chute does not import it)."""
    return importlib.import_module("pandas")


def is_frame(obj: Any) -> bool:
    pd = sys.modules.get("pandas")  # an object cannot be a DataFrame before pandas is imported
    return pd is not None and isinstance(obj, (pd.DataFrame, pd.Series))


def is_dataframe(obj: Any) -> bool:
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(obj, pd.DataFrame)


def is_series(obj: Any) -> bool:
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(obj, pd.Series)


def is_array(obj: Any) -> bool:
    return isinstance(obj, np.ndarray) or is_frame(obj)


def leaves(obj: Any, path: str = "data") -> list[tuple[str, Any]]:
    """(path, leaf) for every leaf of a nested dict/list/tuple, e.g. ("data['x'][0]", array)."""
    if isinstance(obj, dict):
        return [x for k, v in obj.items() for x in leaves(v, f"{path}[{k!r}]")]
    if isinstance(obj, (list, tuple)):
        return [x for i, v in enumerate(obj) for x in leaves(v, f"{path}[{i}]")]
    return [(path, obj)]


def is_structured(obj: Any) -> bool:
    """A dict/list/tuple whose leaves are arrays of one length."""
    if not isinstance(obj, (dict, list, tuple)) or not obj:
        return False
    ls = leaves(obj)
    return all(is_array(v) and np.ndim(v) > 0 for _, v in ls) and len({len(v) for _, v in ls}) == 1


def num_rows(obj: Any) -> int:
    if is_array(obj):
        return len(obj) if np.ndim(obj) > 0 else 1
    if is_structured(obj):
        return len(leaves(obj)[0][1])
    if isinstance(obj, (list, tuple, dict, str, bytes)) or hasattr(obj, "__len__"):
        return len(obj)
    return 1


def _map(obj: Any, fn) -> Any:
    if isinstance(obj, dict):
        return {k: _map(v, fn) for k, v in obj.items()}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_map(v, fn) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_map(v, fn) for v in obj)
    return fn(obj)


def take_rows(obj: Any, start: int, stop: int) -> Any:
    """Rows [start, stop) of a shard, of the shard's type."""
    if is_frame(obj):
        return obj.iloc[start:stop]
    if isinstance(obj, np.ndarray):
        return obj[start:stop]
    if is_structured(obj):
        return _map(obj, lambda leaf: take_rows(leaf, start, stop))
    if isinstance(obj, (list, tuple)):
        return obj[start:stop]
    raise TypeError(f"cannot take rows of a shard of type {type(obj).__name__}")


def concat_rows(parts: list) -> Any:
    """The rows of several shards of one type, in order, as one shard of that type."""
    if not parts:
        raise ValueError("nothing to concatenate")
    first = parts[0]
    if is_frame(first):
        return pandas().concat(parts)
    if isinstance(first, np.ndarray):
        return np.concatenate(parts)
    if is_structured(first):
        flat = [[leaf for _, leaf in leaves(p)] for p in parts]
        joined = iter([concat_rows([f[k] for f in flat]) for k in range(len(flat[0]))])
        return _map(first, lambda _leaf: next(joined))
    if isinstance(first, (list, tuple)):
        out: list = []
        for p in parts:
            out.extend(p)
        return type(first)(out) if type(first) in (list, tuple) else out
    raise TypeError(f"cannot concatenate shards of type {type(first).__name__}")


def even_bounds(n_rows: int, n_parts: int) -> list[tuple[int, int]]:
    """np.array_split's row ranges: the first n_rows % n_parts parts get one row more."""
    base, extra = divmod(n_rows, n_parts)
    out, start = [], 0
    for k in range(n_parts):
        stop = start + base + (1 if k < extra else 0)
        out.append((start, stop))
        start = stop
    return out


def check_partitionable(data: Any) -> int:
    """The number of rows of `data` for XShards.partition; a clear error for anything else."""
    if is_array(data):
        if np.ndim(data) == 0:
            raise ValueError("XShards.partition: a 0-d array has no rows to split")
        return len(data)
    if isinstance(data, (dict, list, tuple)):
        ls = leaves(data)
        if not data or not ls:
            raise ValueError("XShards.partition: the data is empty")
        bad = [p for p, v in ls if not (is_array(v) and np.ndim(v) > 0)]
        if bad:
            kinds = ", ".join(f"{p} is {type(v).__name__}" for p, v in ls if p in bad[:3])
            raise TypeError(f"XShards.partition takes a numpy array, a pandas DataFrame or a nested list/tuple/dict "
                            f"of numpy arrays; {kinds}")
        lengths = {p: len(v) for p, v in ls}
        if len(set(lengths.values())) > 1:
            raise ValueError("XShards.partition: the arrays must have the same number of rows, got "
                             + ", ".join(f"{p}: {n}" for p, n in lengths.items()))
        return next(iter(lengths.values()))
    raise TypeError(f"XShards.partition takes a numpy array, a pandas DataFrame or a nested list/tuple/dict of "
                    f"numpy arrays, got {type(data).__name__}")
