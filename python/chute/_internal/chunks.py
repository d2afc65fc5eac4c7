"""Splitting a tensor's rows into work on chunk boundaries (chute.shards, chute.ray)."""
from __future__ import annotations

from collections.abc import Sequence


def chunk_groups(ends: Sequence[int], total: int, parts: int) -> list[tuple[int, int]]:
    """Contiguous row ranges of whole chunks (chunks end at `ends`), as near to `parts` equal
    ranges as the chunks allow; fewer when there are fewer chunks."""
    bounds = sorted({int(e) for e in ends if 0 < e < total} | {total})
    out, start = [], 0
    for k in range(1, parts + 1):
        target = total * k // parts
        cands = [e for e in bounds if e > start]
        if not cands:
            break
        stop = total if k == parts else min(cands, key=lambda e: (abs(e - target), e))
        out.append((start, stop))
        start = stop
        if start >= total:
            break
    return out
