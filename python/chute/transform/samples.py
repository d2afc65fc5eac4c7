"""What a compute function sees: `samples_out` (Deep Lake 3's TransformDataset) and, in a composed
pipeline, the rows of the stage before as `sample_in`.

`samples_out` collects the rows one input produces, by tensor: `samples_out.append({...})`,
`samples_out.images.append(x)`, `samples_out["a/b"].extend([...])`, `samples_out.a.b.append(x)`.
Nothing is checked while the function runs; `TransformDataset.rows()` and `check_lengths()` check
it afterwards, so the error can name the input.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from chute.dataset.sample import Sample
from chute.errors import InvalidTransformDataset


class TransformTensor:
    """One output tensor of one input's rows (or a group of them, for `samples_out.group.tensor`)."""

    __slots__ = ("_owner", "_key")

    def __init__(self, owner: TransformDataset, key: str):
        self._owner = owner
        self._key = key

    def append(self, sample) -> None:
        self._owner.values(self._key).append(sample)

    def extend(self, samples) -> None:
        if isinstance(samples, (str, bytes, dict)) or not hasattr(samples, "__iter__"):
            raise TypeError(f"samples_out.{self._key}.extend() takes a sequence of samples, got "
                            f"{type(samples).__name__} (use append() for one sample)")
        self._owner.values(self._key).extend(list(samples))

    def __getattr__(self, name: str) -> TransformTensor:
        if name.startswith("_"):
            raise AttributeError(name)
        return TransformTensor(self._owner, f"{self._key}/{name}")

    def __getitem__(self, item):
        if isinstance(item, str):
            return TransformTensor(self._owner, f"{self._key}/{item}")
        return self._owner.values(self._key)[item]

    def __len__(self) -> int:
        return len(self._owner.values(self._key))

    def numpy(self):
        return [as_array(v) for v in self._owner.values(self._key)]


class TransformDataset:
    """The rows one input produces: tensor name -> list of samples, in append order."""

    __slots__ = ("_data",)

    def __init__(self):
        self._data: dict[str, list] = {}

    def values(self, key: str) -> list:
        return self._data.setdefault(key, [])

    @property
    def tensors(self) -> dict[str, list]:
        return self._data

    def __getattr__(self, name: str) -> TransformTensor:
        if name.startswith("_"):
            raise AttributeError(name)
        return TransformTensor(self, name)

    def __getitem__(self, key: str) -> TransformTensor:
        if not isinstance(key, str):
            raise TypeError(f"samples_out[...] takes a tensor name, got {type(key).__name__}")
        return TransformTensor(self, key)

    def append(self, sample: dict, skip_ok: bool = False, append_empty: bool = False) -> None:
        if not isinstance(sample, dict):
            raise TypeError(f"samples_out.append() takes a dict {{tensor: sample}}, got {type(sample).__name__}")
        for k, v in _flatten(sample).items():
            self.values(k).append(v)

    def extend(self, samples: dict, skip_ok: bool = False) -> None:
        if not isinstance(samples, dict):
            raise TypeError(f"samples_out.extend() takes a dict {{tensor: samples}}, got {type(samples).__name__}")
        for k, v in _flatten(samples).items():
            TransformTensor(self, k).extend(v)

    def __len__(self) -> int:
        lengths = {len(v) for v in self._data.values()}
        return max(lengths) if lengths else 0

    def check_lengths(self) -> int:
        """The number of rows; InvalidTransformDataset when tensors got different numbers of samples."""
        lengths = {k: len(v) for k, v in self._data.items() if v}
        if len(set(lengths.values())) > 1:
            raise InvalidTransformDataset(
                f"the transform gave tensors different numbers of samples for one input: {lengths}; every "
                f"tensor it appends to must get the same number")
        return next(iter(lengths.values()), 0)

    def rows(self) -> list[TransformRow]:
        """The rows as the next stage of a pipeline sees them."""
        n = self.check_lengths()
        data = {k: v for k, v in self._data.items() if v}
        return [TransformRow({k: v[i] for k, v in data.items()}) for i in range(n)]


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and not _is_value_dict(v):
            out.update(_flatten(v, f"{prefix}{k}/"))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _is_value_dict(v: dict) -> bool:
    # a json sample is a dict too: only dicts of dicts/arrays keyed like tensors are groups; a dict
    # whose values are plain JSON scalars or lists is a sample
    return not v or not all(isinstance(x, (dict, np.ndarray, Sample)) for x in v.values())


def as_array(value) -> Any:
    if isinstance(value, Sample):
        return value.array
    if isinstance(value, (str, bytes, dict)):
        return value
    return np.asarray(value)


class RowValue:
    """One value of a row, with the accessors of a dataset row's tensor (`numpy`, `data`, `text`)."""

    __slots__ = ("_value",)

    def __init__(self, value):
        self._value = value

    def numpy(self, aslist: bool = False, fetch_chunks: bool = False):
        return as_array(self._value)

    def data(self, aslist: bool = False) -> dict:
        return {"value": self._value}

    def text(self):
        return self._value

    def dict(self):
        return self._value

    def list(self):
        return self._value

    def __array__(self, dtype=None, copy=None):
        a = np.asarray(as_array(self._value))
        return a if dtype is None else a.astype(dtype)

    def __repr__(self) -> str:
        return f"RowValue({self._value!r})"


class TransformRow:
    """A row the stage before produced: `row.images.numpy()`, `row["labels"].numpy()`, `row.keys()`."""

    __slots__ = ("_values",)

    def __init__(self, values: dict):
        self._values = values

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, key: str):
        if key in self._values:
            return RowValue(self._values[key])
        prefix = key.rstrip("/") + "/"
        sub = {k[len(prefix):]: v for k, v in self._values.items() if k.startswith(prefix)}
        if sub:
            return TransformRow(sub)
        raise KeyError(f"the row has no tensor '{key}' (it has {sorted(self._values)})")

    def __contains__(self, key: str) -> bool:
        return key in self._values

    def keys(self):
        return self._values.keys()

    @property
    def tensors(self) -> dict:
        return {k: RowValue(v) for k, v in self._values.items()}

    def __repr__(self) -> str:
        return f"TransformRow({sorted(self._values)})"
