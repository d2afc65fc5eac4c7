"""chute.random.seed(s): the default seed of loaders and sample_by (Deep Lake's deeplake.random)."""
from __future__ import annotations

import secrets

_seed: int | None = None


def seed(value: int | None = None) -> None:
    """Sets the default seed; None draws a fresh one per loader."""
    global _seed
    if value is not None and (not isinstance(value, int) or value < 0):
        raise ValueError(f"seed must be a non-negative int, got {value!r}")
    _seed = value


def get_seed() -> int | None:
    return _seed


def resolve(value: int | None) -> int:
    if value is not None:
        return int(value)
    if _seed is not None:
        return _seed
    return secrets.randbits(63)
