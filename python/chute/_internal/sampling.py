"""Weighted row draws, shared by Dataset.sample_by and the loader's sample_by step: explicit weights
drawn in the engine (alias tables / weighted keys), and the TQL text of a SAMPLE BY expression."""
from __future__ import annotations

import numpy as np

from chute import _core


def sample_by_tql(expression: str, replace: bool, size: int | None) -> str:
    """The TQL query that draws rows by a weight expression (per-row weight, max_weight(...),
    sum_weight(...))."""
    limit = f" LIMIT {int(size)}" if size is not None else ""
    return f"SELECT * SAMPLE BY {expression} REPLACE {'TRUE' if replace else 'FALSE'}{limit}"


def draw_weighted(rows: np.ndarray | int, weights, replace: bool, size, seed: int, epoch: int) -> np.ndarray:
    """Rows drawn by explicit weights (one per row), deterministic for (seed, epoch). `rows`: the
    rows the weights are for, or a row count for rows 0..rows-1."""
    num_rows = rows if isinstance(rows, int) else len(rows)
    rows = None if isinstance(rows, int) else rows
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or not np.all(np.isfinite(w)) or (w < 0).any():
        raise ValueError("sample_by weights must be a 1-D list of finite, non-negative numbers")
    if len(w) != num_rows:
        raise ValueError(f"sample_by has {len(w)} weights for {num_rows} rows")
    n = num_rows if size is None else int(size)
    if n < 0:
        raise ValueError("sample_by size must be non-negative")
    if replace and n > 0 and w.sum() <= 0:
        raise ValueError("sample_by with replace=True needs at least one positive weight")
    if not replace and n > num_rows:
        raise ValueError(f"sample_by without replacement cannot draw {n} of {num_rows} rows")
    key = int(np.random.SeedSequence([seed, epoch, 0x53414D50]).generate_state(1, np.uint64)[0])
    picked = _core.weighted_draw(w, n, replace, key)
    return picked if rows is None else rows[picked]
