"""Differential fuzz of TQL: the column-at-a-time compiler against the row-by-row evaluator.

    .venv/bin/python bench/fuzz_tql_differential.py [--queries 100000] [--seed 0]

Every query comes from the bench's TQL grammar (bench_query.fuzz_query: WHERE, SAMPLE BY, ORDER BY,
LIMIT/OFFSET, set operations, some of them broken on purpose). Each runs twice on the same rows
with the same seed, once as usual (compiled where the compiler can) and once with
`row_by_row=True` (the evaluator that defines TQL's semantics), on two datasets x three row sets:

- "mixed": single class labels whose names are the grammar's string literals ('a', 'red', 'r*d',
  'c7', ...), int32 numbers, text with empty strings and literal * and ?, ragged bboxes, json
  (objects with and without 'k', lists, null), a 4-d embedding with a NaN row, int64 `x`; text,
  json and `nope` (60 rows) are shorter than the other tensors, so some rows lack them (nulls).
- "other": the same names with other types: multi-label class labels, float64 numbers with NaN
  and +-inf, fixed-shape bboxes, json lists of strings, uint8 `x` with some empty rows, no `emb`
  and no `nope` (unknown tensors).
- row sets: every row; an out-of-order view with repeats that reaches past the short tensors; a
  view of rows every short tensor has (so their columns compile).

The two runs must give the same rows in the same order, or raise the same exception class.
Prints how many ran, how many matched, and every mismatch (query, rows, both outcomes). Exit
status 1 when anything mismatched. tests/test_tql_differential.py runs a few thousand of these.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time

import numpy as np

import chute
from chute._internal.handle import dataset_handle

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench_query import fuzz_query  # noqa: E402  (the one TQL grammar; not copied here)

N = 300  # rows by default: one compiled block, one row-by-row part (--rows 5000: several of each)
TEXTS = ["", "red", "r*d", "a?b", "*", "?", "a b", "Red", "c7", "rd", "bred", "\u00e9t\u00e9", "x" * 40, "'q'"]


def _mixed(path: str, N: int):

    rng = np.random.default_rng(11)
    ds = chute.empty(path)
    ds.create_tensor("labels", htype="class_label", class_names=["a", "b", "red", "c7", "r*d"])
    ds.create_tensor("num", dtype="int32")
    ds.create_tensor("text", htype="text")
    ds.create_tensor("boxes", htype="bbox")
    ds.create_tensor("js", htype="json")
    ds.create_tensor("emb", htype="embedding", dtype="float32")
    ds.create_tensor("x", dtype="int64")
    ds.create_tensor("nope", dtype="float32")  # here a tensor of 60 rows (the grammar's unknown name)
    js_kinds = [lambda i: {"k": i % 7}, lambda i: {"k": "v" if i % 2 else "red"}, lambda i: {}, lambda i: [1, i, 3],
                lambda i: ["a", "red"], lambda i: {"k": 2.5, "j": [1, 2]}, lambda i: None]
    emb = rng.normal(size=(N, 4)).astype(np.float32)
    emb[7] = np.nan
    emb[8] = 0
    with ds:
        ds.labels.extend(rng.integers(0, 5, N).astype(np.uint32)[:, None])
        ds.num.extend(rng.integers(-3, 6, N).astype(np.int32)[:, None])
        ds.text.extend([TEXTS[i % len(TEXTS)] for i in range(N - 40)])  # rows N-40.. lack text
        ds.boxes.extend([rng.integers(-2, 5, (int(k), 4)).astype(np.float32) for k in rng.integers(0, 4, N)])
        ds.js.extend([js_kinds[i % len(js_kinds)](i) for i in range(N - 25)])  # rows N-25.. lack json
        ds.emb.extend(emb)
        ds.x.extend(rng.integers(-1, 3, N)[:, None])
        ds.nope.extend(rng.normal(size=(60, 1)).astype(np.float32))
    return chute.load(path, read_only=True)


def _other(path: str, N: int):

    rng = np.random.default_rng(12)
    ds = chute.empty(path)
    ds.create_tensor("labels", htype="class_label", class_names=["a", "b", "red"])
    ds.create_tensor("num", dtype="float64")
    ds.create_tensor("text", htype="text")
    ds.create_tensor("boxes", htype="bbox")
    ds.create_tensor("js", htype="json")
    ds.create_tensor("x", dtype="uint8")
    nums = rng.normal(size=N) * 3
    nums[::17] = np.nan
    nums[5], nums[6], nums[9] = np.inf, -np.inf, 0.0
    with ds:
        ds.labels.extend([rng.integers(0, 3, int(k)).astype(np.uint32) for k in rng.integers(0, 3, N)])
        ds.num.extend(nums[:, None])
        ds.text.extend([TEXTS[(i * 5) % len(TEXTS)] for i in range(N)])
        ds.boxes.extend(rng.integers(0, 3, (N, 2, 4)).astype(np.float32))
        ds.js.extend([["a", "red", "x"][: i % 4] for i in range(N)])
        ds.x.extend([np.array([i % 4], np.uint8) if i % 9 else np.zeros(0, np.uint8) for i in range(N)])
    return chute.load(path, read_only=True)


def make_datasets(root: str, N: int = N):
    """[(name, core, [(rows name, rows_or_count), ...])] over the two datasets of N rows."""
    out = []
    for name, make in (("mixed", _mixed), ("other", _other)):
        ds = make(os.path.join(root, name), N)
        r = np.random.default_rng(3)
        past = r.choice(N, 2 * N // 5).astype(np.uint64)  # out of order, with repeats, past the short tensors
        inside = np.sort(r.choice(N - 40, N // 2, replace=False)).astype(np.uint64)[::-1].copy()
        out.append((name, dataset_handle(ds).core, [("all", N), ("view", past), ("covered", inside)]))
    return out


def outcome(core, q: str, rows, seed: int, row_by_row: bool):
    try:
        return "rows", core.query(q, rows, seed, row_by_row=row_by_row).tolist()
    except Exception as e:  # noqa: BLE001 - the class is what is compared
        return type(e).__name__, str(e)


def differ(core, q: str, rows, seed: int):
    """(compiled outcome, row-by-row outcome, whether they agree)."""
    a = outcome(core, q, rows, seed, False)
    b = outcome(core, q, rows, seed, True)
    same = a == b if a[0] == "rows" or b[0] == "rows" else a[0] == b[0]
    return a, b, same


def run(n_queries: int, seed: int, targets, report=print):
    """Runs n_queries generated queries over the targets (round robin).
    Returns (ran, agreed, gave_rows, mismatches); gave_rows counts agreeing queries that returned rows."""
    r = random.Random(seed)
    cases = [(name, core, rname, rows) for name, core, sets in targets for rname, rows in sets]
    ran = agreed = gave_rows = 0
    mismatches = []
    for k in range(n_queries):
        q = fuzz_query(r, broken=r.random() < 0.1)  # mostly well-formed: the parser is shared
        name, core, rname, rows = cases[k % len(cases)]
        s = r.randrange(1 << 32)
        a, b, same = differ(core, q, rows, s)
        ran += 1
        if same:
            agreed += 1
            gave_rows += a[0] == "rows"
        else:
            mismatches.append((name, rname, q, s, a, b))
            report(f"MISMATCH on {name}/{rname} (seed {s}): {q!r}\n  compiled:   {a!r:.300}\n  row by row: {b!r:.300}")
    return ran, agreed, gave_rows, mismatches


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--queries", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rows", type=int, default=N)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        targets = make_datasets(tmp, args.rows)
        t0 = time.perf_counter()
        ran, agreed, gave_rows, mismatches = run(args.queries, args.seed, targets)
        dt = time.perf_counter() - t0
    print(f"differential TQL fuzz over {args.rows:,}-row datasets: {ran:,} queries ran on both paths in {dt:.1f} s; {agreed:,} matched "
          f"({gave_rows:,} of them returned rows, the rest the same error class on both paths), "
          f"{len(mismatches):,} mismatched")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
