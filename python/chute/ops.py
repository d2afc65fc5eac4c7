"""Image ops that run inside chute's C++ engine (no Python per sample).

Use them as values of a transform dict: `ds.dataloader().transform({"images": chute.ops.Compose([
chute.ops.RandomResizedCrop(224), chute.ops.RandomHorizontalFlip(), chute.ops.Normalize(MEAN, STD)]),
"labels": None})`. Random ops are deterministic for (seed, epoch, sample index).
"""
from __future__ import annotations

from typing import Sequence


def _size(size) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    h, w = size
    return int(h), int(w)


class Op:
    """Base class: an engine op is described by a spec the engine parses."""

    def specs(self) -> list[dict]:
        raise TypeError(f"{type(self).__name__} is not an engine op")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.specs()})"


class RandomResizedCrop(Op):
    """torchvision's RandomResizedCrop; on JPEG samples only the crop region is decoded, at the
    largest DCT downscale that keeps it at least `size`."""

    def __init__(self, size, scale: Sequence[float] = (0.08, 1.0), ratio: Sequence[float] = (3 / 4, 4 / 3)):
        self.height, self.width = _size(size)
        self.scale = (float(scale[0]), float(scale[1]))
        self.ratio = (float(ratio[0]), float(ratio[1]))
        if not 0 < self.scale[0] <= self.scale[1] <= 1:
            raise ValueError(f"RandomResizedCrop scale must satisfy 0 < lo <= hi <= 1, got {scale}")
        if not 0 < self.ratio[0] <= self.ratio[1]:
            raise ValueError(f"RandomResizedCrop ratio must satisfy 0 < lo <= hi, got {ratio}")

    def specs(self):
        return [{"kind": "RandomResizedCrop", "height": self.height, "width": self.width, "scale": self.scale, "ratio": self.ratio}]


class Resize(Op):
    """Bilinear resize to exactly `size` (h, w), or to a square for an int."""

    def __init__(self, size):
        self.height, self.width = _size(size)

    def specs(self):
        return [{"kind": "Resize", "height": self.height, "width": self.width}]


class CenterCrop(Op):
    def __init__(self, size):
        self.height, self.width = _size(size)

    def specs(self):
        return [{"kind": "CenterCrop", "height": self.height, "width": self.width}]


class RandomHorizontalFlip(Op):
    def __init__(self, p: float = 0.5):
        if not 0 <= p <= 1:
            raise ValueError(f"RandomHorizontalFlip p must be in [0, 1], got {p}")
        self.p = float(p)

    def specs(self):
        return [{"kind": "RandomHorizontalFlip", "p": self.p}]


class Normalize(Op):
    """(pixel / 255 - mean) / std per channel, as float32 CHW. Must be last."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        if len(mean) != len(std) or not len(mean):
            raise ValueError("Normalize needs mean and std of the same, non-zero length")
        if any(s == 0 for s in std):
            raise ValueError("Normalize std must not contain zeros")
        self.mean = [float(m) for m in mean]
        self.std = [float(s) for s in std]

    def specs(self):
        return [{"kind": "Normalize", "mean": self.mean, "std": self.std}]


class ToCHW(Op):
    """uint8 HWC to uint8 CHW. Must be last."""

    def specs(self):
        return [{"kind": "ToCHW"}]


class Compose(Op):
    def __init__(self, ops: Sequence[Op]):
        for op in ops:
            if not isinstance(op, Op):
                raise TypeError(f"chute.ops.Compose takes chute.ops ops, got {type(op).__name__}; "
                                "use a Python callable as the transform for other functions")
        self.ops = list(ops)

    def specs(self):
        return [s for op in self.ops for s in op.specs()]


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
