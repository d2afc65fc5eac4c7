"""chute.random.seed(s): the default seed of loaders and sample_by (Deep Lake's deeplake.random)."""
from __future__ import annotations

import operator
import secrets

_seed: int | None = None

# Seeds and epochs are unsigned 64-bit in the engine, and seed + epoch must not wrap: both stay
# below 2**63.
MAX_SEED = 2**63 - 1


def check_int(value, what: str, lo: int = 0, hi: int = MAX_SEED) -> int:
    """`value` as an int in [lo, hi] (Python or numpy ints; not bools, floats or strings), or a
    TypeError / ValueError naming `what` and the value."""
    if isinstance(value, bool):
        raise TypeError(f"{what} must be an int, got {value!r}")
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an int, got {type(value).__name__} {value!r}") from None
    if not lo <= v <= hi:
        raise ValueError(f"{what} must be between {lo} and {hi}, got {v}")
    return v


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
