"""chute.random.seed(s): the default seed of loaders and sample_by (Deep Lake's deeplake.random)."""
from __future__ import annotations

import secrets

from chute._internal.checks import MAX_SEED, check_int

__all__ = ["MAX_SEED", "get_seed", "resolve", "seed"]

_seed: int | None = None


def seed(value: int | None = None) -> None:
    """Sets the default seed; None draws a fresh one per loader."""
    global _seed
    _seed = None if value is None else check_int(value, "seed")


def get_seed() -> int | None:
    return _seed


def resolve(value: int | None) -> int:
    if value is not None:
        return check_int(value, "seed")
    if _seed is not None:
        return _seed
    return secrets.randbits(63)
