"""Image ops that run inside chute's C++ engine (no Python per sample).

Use them as values of a transform dict: `ds.dataloader().transform({"images": chute.ops.Compose([
chute.ops.RandomResizedCrop(224), chute.ops.RandomHorizontalFlip(), chute.ops.Normalize(MEAN, STD)]),
"labels": None})`. Random ops are deterministic for (seed, epoch, sample index).
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

from chute import _core

# The largest output side an op takes: JPEG's own limit. (Larger images could not be decoded from
# any stored JPEG, and a square one would be past the engine's cap on one decoded sample anyway.)
MAX_SIDE = 65535


def _side(op: str, v) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{op} size must be an int or a pair of ints (height, width), got {v!r}")
    if not 1 <= v <= MAX_SIDE:
        raise ValueError(f"{op} size must be between 1 and {MAX_SIDE} pixels, got {v}")
    return int(v)


def _size(op: str, size) -> tuple[int, int]:
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        return _side(op, size), _side(op, size)
    if isinstance(size, (tuple, list)) and len(size) == 2:
        return _side(op, size[0]), _side(op, size[1])
    raise TypeError(f"{op} size must be an int or a pair of ints (height, width), got {size!r}")


def _floats(op: str, what: str, values, length: int | None = None) -> list[float]:
    """Finite real numbers, as floats; `length` checks a fixed-length argument such as a range."""
    try:
        items = None if isinstance(values, (str, bytes)) else list(values)
    except TypeError:
        items = None
    if items is None:
        raise TypeError(f"{op} {what} must be a sequence of numbers, got {values!r}")
    if length is not None and len(items) != length:
        raise ValueError(f"{op} {what} must have {length} numbers, got {len(items)}")
    out = [_float(op, what, v) for v in items]
    if not all(math.isfinite(v) for v in out):
        raise ValueError(f"{op} {what} must be finite, got {out}")
    return out


def _float(op: str, what: str, v) -> float:
    if isinstance(v, (bool, str, bytes)):
        raise TypeError(f"{op} {what} must hold numbers, got {v!r}")
    try:
        return float(v)
    except (TypeError, ValueError):
        raise TypeError(f"{op} {what} must hold numbers, got {v!r}") from None


class Op:
    """Base class: an engine op is described by a spec the engine parses."""

    def specs(self) -> list[_core.ImageOp]:
        """The engine ops this op runs, in order."""
        raise TypeError(f"{type(self).__name__} is not an engine op")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


class RandomResizedCrop(Op):
    """torchvision's RandomResizedCrop; on JPEG samples only the crop region is decoded, at the
    largest DCT downscale that keeps it at least `size`."""

    def __init__(self, size, scale: Sequence[float] = (0.08, 1.0), ratio: Sequence[float] = (3 / 4, 4 / 3)):
        self.height, self.width = _size("RandomResizedCrop", size)
        self.scale = tuple(_floats("RandomResizedCrop", "scale", scale, 2))
        self.ratio = tuple(_floats("RandomResizedCrop", "ratio", ratio, 2))
        if not 0 < self.scale[0] <= self.scale[1] <= 1:
            raise ValueError(f"RandomResizedCrop scale must satisfy 0 < lo <= hi <= 1, got {scale}")
        if not 0 < self.ratio[0] <= self.ratio[1]:
            raise ValueError(f"RandomResizedCrop ratio must satisfy 0 < lo <= hi, got {ratio}")

    def specs(self):
        return [_core.ImageOp(kind=_core.OpKind.RandomResizedCrop, height=self.height, width=self.width, scale=self.scale,
                              ratio=self.ratio)]


class Resize(Op):
    """Bilinear resize to exactly `size` (h, w), or to a square for an int."""

    def __init__(self, size):
        self.height, self.width = _size("Resize", size)

    def specs(self):
        return [_core.ImageOp(kind=_core.OpKind.Resize, height=self.height, width=self.width)]


class CenterCrop(Op):
    def __init__(self, size):
        self.height, self.width = _size("CenterCrop", size)

    def specs(self):
        return [_core.ImageOp(kind=_core.OpKind.CenterCrop, height=self.height, width=self.width)]


class RandomHorizontalFlip(Op):
    def __init__(self, p: float = 0.5):
        p = _float("RandomHorizontalFlip", "p", p)
        if not 0 <= p <= 1:
            raise ValueError(f"RandomHorizontalFlip p must be in [0, 1], got {p}")
        self.p = float(p)

    def specs(self):
        return [_core.ImageOp(kind=_core.OpKind.RandomHorizontalFlip, p=self.p)]


class Normalize(Op):
    """(pixel / 255 - mean) / std per channel, as float32 CHW. Must be last."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        mean = _floats("Normalize", "mean", mean)
        std = _floats("Normalize", "std", std)
        if len(mean) != len(std) or not len(mean):
            raise ValueError(f"Normalize needs mean and std of the same, non-zero length, got {len(mean)} and {len(std)}")
        if any(s == 0 for s in std):
            raise ValueError(f"Normalize std must not contain zeros, got {std}")
        self.mean = mean
        self.std = std

    def specs(self):
        return [_core.ImageOp(kind=_core.OpKind.Normalize, mean=self.mean, std=self.std)]


class ToCHW(Op):
    """uint8 HWC to uint8 CHW. Must be last."""

    def specs(self):
        return [_core.ImageOp(kind=_core.OpKind.ToCHW)]


class Compose(Op):
    def __init__(self, ops: Sequence[Op]):
        if isinstance(ops, Op) or not isinstance(ops, (list, tuple)):
            raise TypeError(f"chute.ops.Compose takes a list of chute.ops ops, got {type(ops).__name__}")
        for op in ops:
            if not isinstance(op, Op):
                raise TypeError(f"chute.ops.Compose takes chute.ops ops, got {type(op).__name__}; "
                                "use a Python callable as the transform for other functions")
        self.ops = list(ops)

    def specs(self):
        return [s for op in self.ops for s in op.specs()]


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
