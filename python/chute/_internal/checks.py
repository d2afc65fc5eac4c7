"""Argument checks shared by the dataset, the loader and chute.random."""
from __future__ import annotations

import operator

# Seeds and epochs are unsigned 64-bit in the engine, and seed + epoch must not wrap: both stay
# below 2**63. The default upper bound of every int argument checked here.
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
