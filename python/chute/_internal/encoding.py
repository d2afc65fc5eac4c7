"""Stored samples as bytes and back: the JSON encoder of json / list samples and of infos, and the
decoding of stored text / json / list / tag bytes, shared by tensor reads and the loader's collate
(so a damaged sample reads as the same DecodeError on both paths)."""
from __future__ import annotations

import json

import numpy as np

from chute import _core
from chute.errors import DecodeError


def is_bytes_htype(htype: str) -> bool:
    """The htypes whose samples are UTF-8 bytes (text as it is, the others as JSON): the engine's list."""
    return _core.is_bytes_htype(htype)


def json_default(o):
    """json.dumps' `default`: numpy arrays and scalars as their Python values."""
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"{type(o).__name__} is not JSON serializable")


def decode_stored_bytes(htype: str, raw: bytes, tensor: str, index: int):
    """A stored text / json / list / tag sample as its Python value. Damaged bytes are a
    DecodeError naming the tensor and the row, as the engine's decode errors do."""
    try:
        s = raw.decode("utf-8")
        return s if htype == "text" else json.loads(s)
    except UnicodeDecodeError as e:
        raise DecodeError(f"tensor '{tensor}' index {index}: the stored {htype} is not valid UTF-8 "
                          f"(byte 0x{raw[e.start]:02x} at offset {e.start})") from None
    except json.JSONDecodeError as e:
        raise DecodeError(f"tensor '{tensor}' index {index}: the stored {htype} is not valid JSON "
                          f"({e.msg} at offset {e.pos})") from None
