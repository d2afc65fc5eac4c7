"""TQL and weighted sampling in the engine against numpy and DuckDB on the same data, one run.

    .venv-bench/bin/python bench/bench_query.py [--rows 10000000]

1. WHERE on a class_label column (10M rows): chute `ds.query("SELECT * WHERE labels == 'c7'")`
   against numpy's `np.flatnonzero(labels == 7)` and DuckDB's `SELECT rowid ... WHERE label = 7` over
   the same array (registered zero-copy). Rows/s and ratios; results verified equal.
2. A query mixing text `contains` and `shape()` over 1M rows, against a Python loop and DuckDB.
3. `sample_by` over 10M weights (an array, and a TQL weight expression).
4. The parser fuzz: 100,000 generated queries, none may crash the process.
Writes bench/results/query.json.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def best(fn, k=3):
    times, out = [], None
    for _ in range(k):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--text-rows", type=int, default=1_000_000)
    p.add_argument("--fuzz", type=int, default=100_000)
    p.add_argument("--out", default=os.path.join(HERE, "results", "query.json"))
    args = p.parse_args()

    import duckdb

    import chute

    res: dict = {"rows": args.rows, "text_rows": args.text_rows, "cores": os.cpu_count()}
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(dir=os.path.join(HERE, "..", "data") if os.path.isdir(os.path.join(HERE, "..", "data")) else None) as tmp:
        # ---- 1. WHERE on class_label ----
        labels = rng.integers(0, 100, args.rows).astype(np.uint32)
        ds = chute.empty(os.path.join(tmp, "labels"))
        ds.create_tensor("labels", htype="class_label", class_names=[f"c{i}" for i in range(100)])
        t0 = time.perf_counter()
        with ds:
            ds.labels.extend(labels[:, None])
        res["write_labels_s"] = round(time.perf_counter() - t0, 3)
        ds = chute.load(ds.path, read_only=True)
        t_chute, got = best(lambda: ds.query("SELECT * WHERE labels == 'c7'").sample_indices)
        t_np, want = best(lambda: np.flatnonzero(labels == 7))
        con = duckdb.connect()
        con.register("t", {"i": np.arange(args.rows), "label": labels})
        t_duck, duck = best(lambda: con.execute("SELECT i FROM t WHERE label = 7").fetchnumpy()["i"])
        assert np.array_equal(np.asarray(got), want) and np.array_equal(np.sort(duck), want), "results differ"
        res["where_class_label"] = {
            "chute_rows_per_s": args.rows / t_chute, "numpy_rows_per_s": args.rows / t_np, "duckdb_rows_per_s": args.rows / t_duck,
            "chute_vs_numpy": t_np / t_chute, "chute_vs_duckdb": t_duck / t_chute, "matches": len(want)}
        print(f"WHERE labels == 'c7' over {args.rows:,} rows: chute {t_chute:.3f} s, numpy {t_np:.4f} s, duckdb {t_duck:.4f} s "
              f"(chute/numpy {t_np / t_chute:.3f}x, chute/duckdb {t_duck / t_chute:.3f}x)", flush=True)

        # ---- 2. contains + shape over text and ragged rows ----
        n = args.text_rows
        words = ["red", "blue", "green", "cat", "dog", "bird"]
        texts = [" ".join(random.Random(i).choices(words, k=3)) for i in range(n)]
        lens = rng.integers(0, 4, n)
        ds2 = chute.empty(os.path.join(tmp, "text"))
        ds2.create_tensor("text", htype="text")
        ds2.create_tensor("boxes", htype="bbox")
        t0 = time.perf_counter()
        with ds2:
            ds2.text.extend(texts)
            ds2.boxes.extend([np.zeros((k, 4), np.float32) for k in lens])
        res["write_text_s"] = round(time.perf_counter() - t0, 3)
        ds2 = chute.load(ds2.path, read_only=True)
        q = "SELECT * WHERE contains(text, 'red') AND shape(boxes)[0] >= 2"
        t_chute2, got2 = best(lambda: ds2.query(q).sample_indices, k=1)
        t_py, want2 = best(lambda: [i for i in range(n) if "red" in texts[i] and lens[i] >= 2], k=1)
        con.register("u", {"i": np.arange(n), "text": np.array(texts, dtype=object), "nboxes": lens})
        t_duck2, duck2 = best(lambda: con.execute("SELECT i FROM u WHERE contains(text, 'red') AND nboxes >= 2").fetchnumpy()["i"])
        assert got2 == want2 and sorted(duck2.tolist()) == want2
        res["contains_and_shape"] = {"chute_rows_per_s": n / t_chute2, "python_rows_per_s": n / t_py,
                                     "duckdb_rows_per_s": n / t_duck2, "chute_vs_duckdb": t_duck2 / t_chute2}
        print(f"{q!r} over {n:,} rows: chute {t_chute2:.3f} s, python loop {t_py:.3f} s, duckdb {t_duck2:.4f} s", flush=True)

        # ---- 3. sample_by over 10M weights ----
        w = rng.random(args.rows)
        t_s, picked = best(lambda: ds.sample_by(w, size=args.rows, seed=1).sample_indices, k=1)
        t_nps, _ = best(lambda: np.random.default_rng(1).choice(args.rows, size=args.rows, p=w / w.sum()), k=1)
        t_tql, picked2 = best(lambda: ds.sample_by("max_weight(labels == 'c1': 5, labels != 'c1': 1)", size=args.rows, seed=1).sample_indices, k=1)
        assert len(picked) == args.rows and len(picked2) == args.rows
        res["sample_by"] = {"array_weights_s": t_s, "numpy_choice_s": t_nps, "tql_weights_s": t_tql}
        print(f"sample_by over {args.rows:,} weights: array {t_s:.2f} s (numpy choice {t_nps:.2f} s), TQL max_weight {t_tql:.2f} s", flush=True)

    # ---- 4. fuzz ----
    small = chute.empty(os.path.join(tempfile.mkdtemp(), "f"))
    small.create_tensor("labels", htype="class_label", class_names=["a", "b"])
    small.create_tensor("num", dtype="int32")
    small.extend({"labels": [0, 1, 1], "num": [np.array([i], np.int32) for i in range(3)]})
    toks = ["SELECT", "*", "WHERE", "labels", "num", "==", "!=", "<", ">=", "AND", "OR", "NOT", "IN", "(", ")", ",",
            "BETWEEN", "ORDER", "BY", "DESC", "LIMIT", "OFFSET", "PERCENT", "UNION", "3", "'a'", "[", "]", ":", "shape",
            "contains", "ARRAY", "SAMPLE", "max_weight", "+", "-", "%", "'", '"', "1e", ".5", "\n", "random()"]
    r = random.Random(0)
    ok = errors = 0
    t0 = time.perf_counter()
    for _ in range(args.fuzz):
        text = " ".join(r.choices(toks, k=r.randint(0, 14))) if r.random() < 0.8 else "".join(
            chr(r.randint(0, 0x2FF)) for _ in range(r.randint(0, 30)))
        try:
            small.query(text)
            ok += 1
        except chute.QueryError:
            errors += 1
    res["fuzz"] = {"queries": args.fuzz, "ran": ok, "query_errors": errors, "seconds": round(time.perf_counter() - t0, 2)}
    print(f"fuzz: {args.fuzz:,} generated queries, {ok:,} ran, {errors:,} clean QueryErrors, no crash", flush=True)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1, default=float)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
