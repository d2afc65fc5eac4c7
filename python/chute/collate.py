"""Turning engine batches into what the training loop gets: arrays, torch or tf tensors, decoded
text and JSON, PIL images, and Python transforms plus collate_fn. Runs in the calling process or in
a loader worker process."""
from __future__ import annotations

import io
import json

import numpy as np

from chute.errors import TransformError
from chute.ops import Op




def _decode_bytes_value(htype: str, raw: bytes):
    s = raw.decode("utf-8")
    return s if htype == "text" else json.loads(s)


def _values(spec: dict, columns: dict) -> dict:
    """Engine columns → per-tensor batch values (arrays, lists of arrays, strings, objects, PIL images)."""
    out = {}
    for n in spec["names"]:
        col = columns[n]
        h = spec["htypes"][n]
        dm = spec["decode"].get(n)
        if dm == "pil":
            from PIL import Image

            out[n] = [Image.open(io.BytesIO(b)) for b in col]
        elif dm == "tobytes":
            out[n] = list(col)
        elif h in ("text", "json", "list", "tag"):
            out[n] = [_decode_bytes_value(h, b) for b in col]
        else:
            out[n] = col
    return out


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


def finish_batch(spec: dict, indices: np.ndarray, columns: dict):
    values = _values(spec, columns)
    mode = spec["mode"]
    transform = spec["transform"]
    py_dict = isinstance(transform, dict) and any(v is not None and not isinstance(v, Op) for v in transform.values())
    if callable(transform) and not isinstance(transform, dict) or py_dict or spec["collate_fn"] is not None:
        samples = []
        for r in range(len(indices)):
            sample = {n: values[n][r] for n in spec["names"]}
            if spec["return_index"]:
                sample["index"] = int(indices[r])
            try:
                if isinstance(transform, dict):
                    for n, fn in transform.items():
                        if fn is not None and not isinstance(fn, Op) and n in sample:
                            sample[n] = fn(sample[n], **spec["transform_kwargs"])
                elif transform is not None:
                    sample = transform(sample, **spec["transform_kwargs"])
            except Exception as e:
                raise TransformError(int(indices[r]), None, f"transform failed on sample index {int(indices[r])}: "
                                     f"{type(e).__name__}: {e}") from e
            samples.append(sample)
        collate = spec["collate_fn"] or _default_collate(mode)
        try:
            return collate(samples)
        except Exception as e:
            raise TransformError(int(indices[0]), None, f"collate_fn failed on the batch starting at index "
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
