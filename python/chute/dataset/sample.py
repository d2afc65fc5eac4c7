"""chute.read(path): a compressed file kept as it is until a tensor needs its pixels."""
from __future__ import annotations

import os
from functools import cached_property

import numpy as np

from chute import _core

_MAGIC = ((b"\xff\xd8\xff", "jpeg"), (b"\x89PNG\r\n\x1a\n", "png"))


def sniff_compression(data: bytes, path: str = "") -> str | None:
    """The image compression of `data` from its magic bytes (the file extension is not trusted)."""
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    return None


class Sample:
    """A file read with `chute.read`. Appending it to a tensor with the same sample compression
    stores the file's bytes unchanged (no re-encoding)."""

    def __init__(self, path: str | os.PathLike | None = None, buffer: bytes | None = None):
        if buffer is None:
            if path is None:
                raise ValueError("chute.read needs a path or a buffer")
            with open(path, "rb") as f:
                buffer = f.read()
        self.path = None if path is None else os.fspath(path)
        self.buffer = buffer
        self.compression = sniff_compression(buffer)

    def _where(self) -> str:
        return f"file '{self.path}'" if self.path else "buffer"

    @cached_property
    def array(self) -> np.ndarray:
        if self.compression is None:
            raise _core.DecodeError(f"{self._where()}: not a JPEG or PNG image")
        try:
            return _core.decode_image(self.buffer, self.compression)
        except _core.DecodeError as e:
            raise _core.DecodeError(f"{self._where()}: {e}") from None

    @property
    def shape(self) -> tuple:
        if self.compression is None:
            raise _core.DecodeError(f"{self._where()}: not a JPEG or PNG image")
        try:
            return tuple(_core.image_shape(self.buffer, self.compression))
        except _core.DecodeError as e:
            raise _core.DecodeError(f"{self._where()}: {e}") from None

    def __array__(self, dtype=None, copy=None):
        a = self.array
        return a if dtype is None else a.astype(dtype)

    def __repr__(self) -> str:
        return f"Sample({self.path or 'buffer'}, compression={self.compression})"


def read(path: str | os.PathLike, verify: bool = False) -> Sample:
    """Reads a file for appending. With verify=True the image is decoded once to check it."""
    s = Sample(path)
    if verify:
        s.array  # noqa: B018 - decoding is the check
    return s
