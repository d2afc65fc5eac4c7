"""Turning engine batches into what the training loop gets: arrays, torch or tf tensors, decoded
text and JSON, PIL images, and Python transforms plus collate_fn. Runs in the calling process or in
a loader worker process."""
from __future__ import annotations

import io

import numpy as np

from chute._internal.encoding import decode_stored_bytes, is_bytes_htype
from chute.errors import DecodeError, TransformError
from chute.ops import Op


def _values(spec: dict, indices: np.ndarray, columns: dict) -> tuple[dict, np.ndarray, list[str]]:
    """Engine columns → per-tensor batch values (arrays, lists of arrays, strings, objects, PIL
    images), the indices of the rows kept, and the errors of rows dropped because their bytes did
    not decode (with ignore_errors; else that is raised)."""
    out = {}
    dropped: dict[int, str] = {}
    for n in spec["names"]:
        col = columns[n]
        h = spec["htypes"][n]
        dm = spec["decode"].get(n)
        if dm == "pil":
            from PIL import Image

            out[n] = [Image.open(io.BytesIO(b)) for b in col]
        elif dm == "tobytes":
            out[n] = list(col)
        elif is_bytes_htype(h):
            values = []
            for r, b in enumerate(col):
                try:
                    values.append(decode_stored_bytes(h, b, n, int(indices[r])))
                except DecodeError as e:
                    if not spec.get("ignore_errors"):
                        raise
                    dropped.setdefault(r, str(e))
                    values.append(None)
            out[n] = values
        else:
            out[n] = col
    if not dropped:
        return out, indices, []
    keep = [r for r in range(len(indices)) if r not in dropped]
    for n, v in out.items():
        out[n] = v[keep] if isinstance(v, np.ndarray) else [v[r] for r in keep]
    return out, indices[keep], [dropped[r] for r in sorted(dropped)]


def _name(fn) -> str:
    return getattr(fn, "__qualname__", None) or type(fn).__name__


def _check_sample(sample, transform, mode: str, index: int) -> None:
    """What a callable transform returns must be something the default collate can batch."""
    if sample is None:
        raise TransformError(index, None, f"transform {_name(transform)} returned None for sample index {index}; "
                             "it must return the sample (a dict {tensor: value}), or pass a collate_fn that takes it")
    if mode != "pytorch" and not isinstance(sample, dict):
        # torch's default_collate batches tuples and lists; chute's numpy / tensorflow batches are dicts
        raise TransformError(index, None, f"transform {_name(transform)} returned a {type(sample).__name__} for "
                             f"sample index {index}; .{mode}() batches dicts {{tensor: value}} (pass a collate_fn "
                             "to batch anything else)")


def _torch_value(v):
    import torch

    if isinstance(v, np.ndarray):
        if v.dtype == np.uint16:
            v = v.astype(np.int32)
        elif v.dtype in (np.uint32, np.uint64):
            v = v.astype(np.int64)
        return torch.from_numpy(v)
    if isinstance(v, list) and v and isinstance(v[0], np.ndarray):
        return [_torch_value(a) for a in v]
    return v


def finish_batch(spec: dict, indices: np.ndarray, columns: dict) -> tuple[object, list[str]]:
    """The batch the training loop gets (None when every row was dropped) and the errors of the
    rows dropped here (ignore_errors)."""
    values, indices, skipped = _values(spec, indices, columns)
    if len(indices) == 0:
        return None, skipped
    return _finish(spec, indices, values), skipped


def _finish(spec: dict, indices: np.ndarray, values: dict):
    mode = spec["mode"]
    transform = spec["transform"]
    py_dict = isinstance(transform, dict) and any(v is not None and not isinstance(v, Op) for v in transform.values())
    if callable(transform) and not isinstance(transform, dict) or py_dict or spec["collate_fn"] is not None:
        samples = []
        for r in range(len(indices)):
            sample = {n: values[n][r] for n in spec["names"]}
            if spec["return_index"]:
                sample["index"] = int(indices[r])
            index = int(indices[r])
            try:
                if isinstance(transform, dict):
                    for n, fn in transform.items():
                        if fn is not None and not isinstance(fn, Op) and n in sample:
                            sample[n] = fn(sample[n], **spec["transform_kwargs"])
                            if sample[n] is None and spec["collate_fn"] is None:
                                raise TransformError(index, None, f"transform['{n}'] ({_name(fn)}) returned None "
                                                     f"for sample index {index}; it must return the tensor's new value")
                elif transform is not None:
                    sample = transform(sample, **spec["transform_kwargs"])
                    if spec["collate_fn"] is None:
                        _check_sample(sample, transform, mode, index)
            except TransformError:
                raise
            except Exception as e:
                raise TransformError(index, None, f"transform failed on sample index {index}: "
                                     f"{type(e).__name__}: {e}") from e
            samples.append(sample)
        collate = spec["collate_fn"] or _default_collate(mode)
        what = "collate_fn" if spec["collate_fn"] is not None else f"the default {mode} collate"
        try:
            return collate(samples)
        except Exception as e:
            raise TransformError(int(indices[0]), None, f"{what} failed on the batch starting at index "
                                 f"{int(indices[0])}: {type(e).__name__}: {e}") from e
    if spec["return_index"]:
        values["index"] = indices.astype(np.int64)
    if mode == "pytorch":
        return {k: _torch_value(v) for k, v in values.items()}
    if mode == "tensorflow":
        import tensorflow as tf

        return {k: tf.convert_to_tensor(v) if isinstance(v, np.ndarray) else v for k, v in values.items()}
    return values


def _default_collate(mode: str):
    if mode == "pytorch":
        from torch.utils.data import default_collate

        def collate(samples):
            return default_collate([{k: _torch_value(v) if isinstance(v, np.ndarray) else v for k, v in s.items()}
                                    if isinstance(s, dict) else s for s in samples])

        return collate

    def collate_np(samples):
        if not samples or not isinstance(samples[0], dict):
            return samples
        out = {}
        for k in samples[0]:
            vals = [s[k] for s in samples]
            if all(isinstance(v, np.ndarray) for v in vals) and len({v.shape for v in vals}) == 1:
                out[k] = np.stack(vals)
            elif all(isinstance(v, (int, float, np.number)) for v in vals):
                out[k] = np.asarray(vals)
            else:
                out[k] = vals
        if mode == "tensorflow":
            import tensorflow as tf

            out = {k: tf.convert_to_tensor(v) if isinstance(v, np.ndarray) else v for k, v in out.items()}
        return out

    return collate_np
