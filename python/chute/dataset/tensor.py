"""Tensor: one column of a dataset, or a view of some of its rows.

A Tensor is a thin view over the engine's `_core.Tensor` and the dataset's `DatasetHandle` (which
decides when its writes are published); it never holds the `Dataset` it came from. Thread-safe as
the engine tensor is: appends from several threads are serialised, reads see a snapshot.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from chute import _core
from chute._internal.encoding import decode_stored_bytes, json_default
from chute._internal.handle import DatasetHandle
from chute.dataset.htypes import is_image
from chute.dataset.index import Index
from chute.dataset.sample import Sample
from chute.errors import (
    DecodeError,
    DynamicTensorNumpyError,
    FormatError,
    SampleAppendError,
    SampleUpdateError,
    TensorDtypeMismatchError,
    TensorInvalidSampleShapeError,
)

# class_label samples are uint32 (Deep Lake's class_label dtype)
_MAX_LABEL = 2**32 - 1


def _to_json(name: str, htype: str, value, k: int) -> bytes:
    try:
        return json.dumps(value, default=json_default).encode("utf-8")
    except TypeError as e:  # an object json cannot write
        raise TensorDtypeMismatchError(f"tensor '{name}' ({htype}) cannot store the sample as JSON: {e}") from None
    except ValueError as e:  # a circular reference
        raise SampleAppendError(name, f"cannot store the sample as {htype}: {e}", k) from None


class Info:
    """tensor_info.json as attributes and items (class_names, coords, ...). Writes go to the dataset."""

    def __init__(self, tensor: Tensor):
        object.__setattr__(self, "_tensor", tensor)

    def _load(self) -> dict:
        return json.loads(self._tensor._core.info_json())

    def _store(self, d: dict) -> None:
        t = self._tensor
        t._handle.check_writable(t.key)
        t._core.set_info_json(json.dumps(d, default=json_default))
        t._handle.flush_unless_batched()

    def __getattr__(self, key: str):
        d = self._load()
        if key in d:
            return d[key]
        raise AttributeError(f"tensor '{self._tensor.key}' has no info '{key}'")

    def __setattr__(self, key: str, value) -> None:
        d = self._load()
        d[key] = list(value) if key == "class_names" else value
        self._store(d)

    def __getitem__(self, key: str):
        return self._load()[key]

    def __setitem__(self, key: str, value) -> None:
        self.__setattr__(key, value)

    def __contains__(self, key: str) -> bool:
        return key in self._load()

    def update(self, *args, **kwargs) -> None:
        d = self._load()
        d.update(*args, **kwargs)
        self._store(d)

    def keys(self):
        return self._load().keys()

    def __repr__(self) -> str:
        return repr(self._load())


class Tensor:
    """A tensor of a dataset. `ds.images`, `ds["images"]`; indexing gives a view of some rows."""

    def __init__(self, handle: DatasetHandle, core: _core.Tensor, key: str, index: Index | None = None):
        self._handle = handle
        self._core = core
        self.key = key
        self._index = index if index is not None else Index()

    def __chute_core__(self) -> _core.Tensor:
        """The engine tensor, for chute's own modules (`chute._internal.handle.tensor_core`)."""
        return self._core

    # ---- description ----
    @property
    def meta(self) -> dict:
        return json.loads(self._core.meta_json())

    @property
    def htype(self) -> str:
        return self._core.htype

    @property
    def base_htype(self) -> str:
        return self.htype.split(".")[0]

    @property
    def dtype(self) -> np.dtype | None:
        d = self._core.dtype
        if d is None:
            return None
        if d in ("str", "Any", "List"):
            return np.dtype(object) if d != "str" else np.dtype(str)
        return np.dtype(d)

    @property
    def sample_compression(self) -> str | None:
        return self._core.sample_compression or None

    @property
    def chunk_compression(self) -> str | None:
        return self._core.chunk_compression or None

    @property
    def info(self) -> Info:
        return Info(self)

    @property
    def num_samples(self) -> int:
        return self._core.length

    def _rows(self) -> np.ndarray:
        return self._index.indices(self._core.length)

    def __len__(self) -> int:
        if self._index.scalar:
            raise TypeError("a single sample has no len(); use .shape")
        return len(self._rows())

    @property
    def shape(self) -> tuple:
        """(rows, *sample dims) with None on dims that differ between samples; a single sample's own shape."""
        if self._index.scalar:
            return tuple(self._core.shape(int(self._rows()[0])))
        rows = self._rows()
        if self._index.is_full:
            m = self.meta
            mn, mx = m.get("min_shape") or [], m.get("max_shape") or []
            return (len(rows), *[a if a == b else None for a, b in zip(mn, mx)])
        shapes = [self._core.shape(int(i)) for i in rows]
        if not shapes:
            return (0,)
        dims = []
        for d in range(len(shapes[0])):
            vals = {s[d] for s in shapes if len(s) > d}
            dims.append(vals.pop() if len(vals) == 1 else None)
        return (len(rows), *dims)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, item) -> Tensor:
        return Tensor(self._handle, self._core, self.key, self._index.compose(item, self._core.length))

    def __setitem__(self, item, value) -> None:
        """Deep Lake's update: `t[i] = x`, `t[2:5] = [a, b, c]`. Published like an append (at
        once, or at the end of a `with ds:` block); a chunk an older commit reads is never changed."""
        view = self[item]
        rows = view._rows()
        if view._index.scalar:
            values = [value]
        else:
            values = list(value) if not isinstance(value, np.ndarray) else [v for v in value]
            if len(values) != len(rows):
                raise ValueError(f"tensor '{self.key}': {len(rows)} rows are updated with {len(values)} values")
        self._handle.check_writable(self.key)
        self.update_rows([int(r) for r in rows], values)
        self._handle.flush_unless_batched()

    def update_rows(self, rows: list[int], values: list) -> None:
        """Replaces row rows[k] by values[k]; every value is checked and converted before any row
        changes. The caller publishes the write."""
        converted = [self._convert_for_row(v, row) for row, v in zip(rows, values)]
        for row, c in zip(rows, converted):
            self._write(c, row, update=True)

    def _convert_for_row(self, value, row: int):
        """_convert, with errors naming the row updated (not a place in an append call)."""
        try:
            return self._convert(value, 0)
        except SampleAppendError as e:
            raise SampleUpdateError(self.key, str(e).replace(f"tensor '{self.key}', sample 0 of the call: ", ""),
                                    row) from None
        except (TensorDtypeMismatchError, TensorInvalidSampleShapeError, _core.DecodeError) as e:
            text = str(e).replace(" (sample 0 of the call)", "").replace(", sample 0 of the call", "")
            raise type(e)(f"{text} (row {row})") from None

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return f"Tensor(key={self.key!r}, htype={self.htype!r}, shape={self.shape})"

    # ---- reading ----
    def _decode_bytes(self, index: int) -> Any:
        return decode_stored_bytes(self.htype, self._core.tobytes(index), self.key, index)

    def numpy(self, aslist: bool = False, fetch_chunks: bool = False, num_threads: int = 0):
        """The samples as one array (or a list of arrays when aslist=True or shapes differ).
        Decoding runs on the engine's threads with the GIL released."""
        rows = self._rows()
        if self._core.is_bytes_htype:
            values = [self._decode_bytes(int(i)) for i in rows]
            if self.htype == "list":
                arrs = [np.array(v) for v in values]
                if self._index.scalar:
                    return arrs[0]
                return arrs if aslist else _stack_or_raise(arrs, self.key)
            dtype = str if self.htype == "text" else object
            if self._index.scalar:
                return np.array([values[0]], dtype=dtype)
            if aslist:
                return [np.array([v], dtype=dtype) for v in values]
            out = np.empty((len(values), 1), dtype=object)
            for k, v in enumerate(values):
                out[k, 0] = v
            return out if dtype is object else out.astype(str)
        if self._index.scalar:
            return self._core.read(int(rows[0]))
        out = self._core.read_batch(rows.tolist(), num_threads, aslist)
        if isinstance(out, list) and not aslist:
            if not out:
                return np.zeros((0,), dtype=self.dtype)
            raise DynamicTensorNumpyError(
                f"tensor '{self.key}' has samples of different shapes ({out[0].shape} and others); "
                f"use numpy(aslist=True)"
            )
        return out

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def tobytes(self) -> bytes:
        """The stored bytes of one sample: the original JPEG or PNG for image tensors."""
        if not self._index.scalar:
            raise ValueError("tobytes() needs a single sample, e.g. tensor[0].tobytes()")
        return self._core.tobytes(int(self._rows()[0]))

    def data(self, aslist: bool = False) -> dict:
        """Htype-aware values: {'value': ...}, plus 'text' (class names) for class_label."""
        h = self.htype
        if self._core.is_bytes_htype:
            rows = self._rows()
            values = [self._decode_bytes(int(i)) for i in rows]
            return {"value": values[0] if self._index.scalar else values}
        if h == "class_label":
            names = self._class_names()
            value = self.numpy(aslist=True) if not self._index.scalar else self.numpy()
            rows = self._rows().reshape(-1)
            if self._index.scalar:
                return {"value": value, "text": self._label_texts(names, value, int(rows[0])) if names else []}
            return {"value": value,
                    "text": [self._label_texts(names, a, int(r)) for a, r in zip(value, rows)] if names else []}
        return {"value": self.numpy(aslist=aslist)}

    def _class_names(self) -> list[str]:
        """tensor_info.json's class_names, checked: a damaged file is a FormatError naming the tensor."""
        info = json.loads(self._core.info_json())
        names = info.get("class_names", [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise FormatError(f"tensor '{self.key}': tensor_info.json 'class_names' must be a list of strings, "
                              f"got {json.dumps(names)[:100]}")
        return names

    def _label_texts(self, names: list[str], labels: np.ndarray, row: int) -> list[str]:
        out = []
        for v in labels.reshape(-1):
            if not 0 <= int(v) < len(names):
                raise DecodeError(f"tensor '{self.key}' index {row}: label {int(v)} has no class name "
                                  f"(class_names has {len(names)})")
            out.append(names[int(v)])
        return out

    def text(self):
        return self.data()["value"]

    def dict(self):
        return self.data()["value"]

    def list(self):
        return self.data()["value"]

    # ---- writing ----
    def append(self, sample) -> None:
        self.extend([sample])

    def extend(self, samples: Iterable | np.ndarray, progressbar: bool = False) -> None:
        self._handle.check_writable(self.key)
        if not self._index.is_full:
            raise ValueError(f"cannot append to a view of tensor '{self.key}'")
        # A str, bytes or dict iterates as characters or keys: one sample meant for append()
        if (isinstance(samples, (str, bytes, dict)) or not hasattr(samples, "__iter__")
                or (isinstance(samples, np.ndarray) and samples.ndim == 0)):
            raise TypeError(f"tensor '{self.key}': extend() takes a sequence of samples, got {type(samples).__name__} "
                            "(use append() for one sample)")
        if self._extend_array(samples):
            self._handle.flush_unless_batched()
            return
        converted = [self._convert(s, k) for k, s in enumerate(samples)]
        for k, c in enumerate(converted):
            self._write(c, k)
        self._handle.flush_unless_batched()

    def _extend_array(self, samples) -> bool:
        """Bulk path: a numeric ndarray of same-shape samples goes to the engine in one call.
        The first sample runs through the ordinary checks; the rest share its shape and dtype."""
        if not isinstance(samples, np.ndarray) or samples.ndim == 0 or len(samples) == 0:
            return False
        if samples.dtype.kind not in "biuf" or self._core.is_bytes_htype or self.sample_compression is not None:
            return False
        if self.htype.startswith("image"):
            return False
        if self.htype == "class_label":
            if samples.ndim == 1:
                samples = samples[:, None]
            if samples.dtype.kind not in "iu" or (samples.size and not 0 <= samples.min() <= samples.max() <= self._label_max()):
                return False  # the per-sample path gives the precise error
            # ints within the label range, whatever their width (np.arange's int64): Deep Lake 3 takes them too
            samples = samples.astype(self.dtype or np.uint32)
        kind, first = self._convert(samples[0], 0)
        if kind != "array":
            return False
        arr = self._as_array(samples)
        if arr.shape[1:] != first.shape:
            return False
        try:
            self._core.append_many(np.ascontiguousarray(arr))
        except _core.InvalidArgument as e:
            raise SampleAppendError(self.key, str(e)) from None
        return True

    def _class_index(self, names: list, label: str, new: list) -> int:
        if label in names:
            return names.index(label)
        names.append(label)
        new.append(label)
        return len(names) - 1

    def _convert(self, sample, k: int):
        """Checks and converts one sample into what the engine stores: ('array', ndarray),
        ('compressed', bytes, compression) or ('bytes', bytes, shape)."""
        h = self.htype
        name = self.key
        try:
            if h == "text":
                if not isinstance(sample, str):
                    if isinstance(sample, np.ndarray) and sample.size == 1:
                        sample = str(sample.reshape(-1)[0])
                    else:
                        raise TensorDtypeMismatchError(f"tensor '{name}' (text) takes str, got {type(sample).__name__}")
                try:
                    return ("bytes", sample.encode("utf-8"), (1,))
                except UnicodeEncodeError as e:  # a lone surrogate: no UTF-8 for it
                    raise SampleAppendError(name, f"the text has no UTF-8 encoding ({e.reason}: "
                                                  f"{sample[e.start:e.end]!r} at position {e.start})", k) from None
            if h == "json":
                return ("bytes", _to_json(name, "json", sample, k), (1,))
            if h == "list":
                if not isinstance(sample, (list, tuple, np.ndarray)):
                    raise TensorDtypeMismatchError(f"tensor '{name}' (list) takes a list, got {type(sample).__name__}")
                items = list(sample.tolist() if isinstance(sample, np.ndarray) else sample)
                return ("bytes", _to_json(name, "list", items, k), (len(items),))
            if isinstance(sample, Sample):
                return self._convert_file(sample)
            if h == "class_label":
                return ("array", self._convert_labels(sample))
            arr = self._as_array(sample)
            if is_image(h):
                if arr.ndim == 2:
                    arr = arr[:, :, None]
                if arr.ndim != 3 or arr.shape[-1] not in (1, 3, 4):
                    raise TensorInvalidSampleShapeError(
                        f"tensor '{name}' (image) takes HxWxC arrays with C in (1, 3, 4), got shape {arr.shape}"
                    )
                if self.sample_compression == "jpeg" and arr.shape[-1] == 4:
                    raise TensorInvalidSampleShapeError(f"tensor '{name}' (jpeg) cannot store 4-channel images")
            elif h == "bbox":
                if arr.ndim == 0 or arr.shape[-1] != 4:
                    raise TensorInvalidSampleShapeError(f"tensor '{name}' (bbox) needs the last dimension to be 4, got shape {arr.shape}")
            elif h == "embedding" and arr.ndim != 1:
                raise TensorInvalidSampleShapeError(f"tensor '{name}' (embedding) takes 1-D vectors, got shape {arr.shape}")
            ndim = self._sample_ndim()
            if ndim and arr.ndim != ndim:
                raise TensorInvalidSampleShapeError(
                    f"tensor '{name}' holds {ndim}-dimensional samples, got shape {arr.shape}"
                )
            return ("array", arr)
        except SampleAppendError:
            raise
        except (TensorDtypeMismatchError, TensorInvalidSampleShapeError) as e:
            raise type(e)(f"{e} (sample {k} of the call)") from None
        except _core.DecodeError as e:
            raise _core.DecodeError(f"tensor '{name}', sample {k} of the call: {e}") from None

    def _sample_ndim(self) -> int:
        """The rank of the tensor's samples (0 while it has none). Kept once known: samples never
        change rank (a cleared tensor, length 0, is asked again)."""
        if self._core.length == 0:
            self._ndim = 0
            return 0
        if not getattr(self, "_ndim", 0):
            self._ndim = len(self.meta.get("min_shape") or [])
        return self._ndim

    def _as_array(self, sample) -> np.ndarray:
        want = self.dtype
        name = self.key
        is_numpy = isinstance(sample, (np.ndarray, np.generic))
        try:
            arr = np.asarray(sample)
        except Exception as e:  # ragged nested lists etc.
            raise TensorInvalidSampleShapeError(f"tensor '{name}': cannot make an array of the sample ({e})") from None
        if arr.dtype == object or arr.dtype.kind in "USV":
            raise TensorDtypeMismatchError(f"tensor '{name}' takes numbers, got {arr.dtype} ({type(sample).__name__})")
        if want is None:
            return np.ascontiguousarray(arr)
        if arr.dtype != want:
            ok = np.can_cast(arr.dtype, want, "safe")
            if not ok and not is_numpy:
                # Python numbers: accept when the values survive the cast exactly.
                with np.errstate(all="ignore"):
                    cast = arr.astype(want)
                ok = np.array_equal(cast.astype(arr.dtype), arr) if arr.size else True
            if not ok:
                raise TensorDtypeMismatchError(
                    f"tensor '{name}' has dtype {want}, the sample is {arr.dtype} and cannot be cast without loss"
                )
            arr = arr.astype(want)
        return np.ascontiguousarray(arr)

    def _label_max(self) -> int:
        if self.dtype is not None and self.dtype.kind in "iu":
            return min(_MAX_LABEL, int(np.iinfo(self.dtype).max))
        return _MAX_LABEL

    def _convert_labels(self, sample) -> np.ndarray:
        names = getattr(self, "_pending_names", None)
        if names is None:
            names = list(self._class_names())
        new: list = []
        hi = self._label_max()
        items = sample.tolist() if isinstance(sample, np.ndarray) else sample
        if not isinstance(items, (list, tuple)):
            items = [items]
        out = []
        for v in items:
            if isinstance(v, str):
                out.append(self._class_index(names, v, new))
            elif isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 0 <= v <= hi:
                out.append(int(v))
            else:
                raise TensorDtypeMismatchError(
                    f"tensor '{self.key}' (class_label) takes class names or ints from 0 to {hi}, got {v!r}"
                )
        if new:
            self._pending_names = names
        return np.asarray(out, dtype=np.uint32)

    def _convert_file(self, s: Sample):
        comp = s.compression
        if comp is None:
            raise _core.DecodeError(f"file '{s.path}' is not a JPEG or PNG image")
        if self.sample_compression == comp:
            s.shape  # noqa: B018 - validates the header now, so a bad file fails before any write
            return ("compressed", s.buffer, comp)
        return ("array", np.ascontiguousarray(s.array))

    def _write(self, converted, k: int, update: bool = False) -> None:
        """Appends a converted sample (k: its place in the call), or with update=True replaces row k."""
        kind = converted[0]
        try:
            if update:
                if kind == "array":
                    self._core.update_array(k, converted[1])
                elif kind == "compressed":
                    self._core.update_compressed(k, converted[1], converted[2])
                else:
                    self._core.update_bytes(k, converted[1], list(converted[2]))
            elif kind == "array":
                self._core.append_array(converted[1])
            elif kind == "compressed":
                self._core.append_compressed(converted[1], converted[2])
            else:
                self._core.append_bytes(converted[1], list(converted[2]))
        except _core.VersionControlError:
            raise
        except _core.InvalidArgument as e:
            if update:
                raise SampleUpdateError(self.key, str(e), k) from None
            raise SampleAppendError(self.key, str(e), k) from None
        names = getattr(self, "_pending_names", None)
        if names is not None:
            self._pending_names = None
            d = json.loads(self._core.info_json())
            d["class_names"] = names
            self._core.set_info_json(json.dumps(d))


def _stack_or_raise(arrs: Sequence[np.ndarray], key: str) -> np.ndarray:
    shapes = {a.shape for a in arrs}
    if len(shapes) > 1:
        raise DynamicTensorNumpyError(f"tensor '{key}' has samples of different shapes; use numpy(aslist=True)")
    return np.stack(arrs) if arrs else np.zeros((0,))


def extend_rows(tensors: dict[str, Tensor], samples: dict) -> None:
    """Appends `samples[k]` (a list) to `tensors[k]` for every k: every sample of every tensor is
    checked and converted before anything is written, so a bad sample leaves every tensor as it
    was. The caller publishes the write (its dataset's `flush_unless_batched`)."""
    converted = {k: [tensors[k]._convert(s, i) for i, s in enumerate(v)] for k, v in samples.items()}
    for k, items in converted.items():
        for i, c in enumerate(items):
            tensors[k]._write(c, i)


class SegmentWriter:
    """Writes samples to an engine tensor that no dataset publishes (an executor's segment,
    `_core.Tensor.make_segment` or `_core.open_segment`), with the checks and conversions of
    `Tensor.extend`. `convert` checks one sample without writing; `write` stores a converted one."""

    def __init__(self, core: _core.Tensor, key: str):
        self._tensor = Tensor(None, core, key)  # no handle: nothing here publishes

    def convert(self, sample, k: int):
        return self._tensor._convert(sample, k)

    def write(self, converted, k: int) -> None:
        self._tensor._write(converted, k)
