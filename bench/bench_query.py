"""TQL and weighted sampling in the engine against numpy and DuckDB on the same data, one run.

    .venv-bench/bin/python bench/bench_query.py [--rows 10000000]
    .venv-bench/bin/python bench/bench_query.py --only where --repeats 20   # part 1 alone, printed only

1. WHERE on a class_label column (10M rows): chute `ds.query("SELECT * WHERE labels == 'c7'")`
   (a view holding the selected rows' index array) against numpy's `np.flatnonzero(labels == 7)`
   and DuckDB's `SELECT i ... WHERE label = 7` over the same arrays in memory (registered
   zero-copy). Best of 3 (chute's first query also reads the column from the dataset's chunks into
   its column cache; that first time is reported on its own). Rows/s and ratios; results verified equal.
2. A query mixing text `contains` and `shape()` over 1M rows, against a Python loop and DuckDB
   (first and best of 3, as above); vector search (ORDER BY l2_norm(emb - ARRAY[...]) LIMIT 10 over
   200k 128-d embeddings) against numpy.
3. `sample_by` over 10M weights (an array, and a TQL weight expression), against numpy's
   `Generator.choice(p=...)`.
4. The parser fuzz: 100,000 queries from a grammar of TQL (valid and broken), none may crash the
   process; reports how many ran and how many were clean QueryErrors.
Writes bench/results/query.json (with --only, writes only to an explicit --out).
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


COLUMNS = ["labels", "num", "text", "boxes", "js", "emb", "nope"]
FUNCS = ["shape", "contains", "any", "all", "all_strict", "sum", "avg", "amin", "amax", "abs", "sqrt", "l2_norm",
         "l1_norm", "linf_norm", "dot", "cosine_similarity", "random", "row_number", "logical_and", "bogus"]


def fuzz_expr(r: random.Random, depth: int = 0) -> str:
    """A random TQL expression from the grammar: mostly well-formed, with types mixed at random.
    Comparisons, IN, BETWEEN and AND/OR inside another expression are parenthesised (TQL does not
    chain comparisons: `a == b < c` is a syntax error)."""
    def nest(e: str) -> str:
        return f"({e})" if depth > 0 else e

    k = r.randrange(12 if depth < 4 else 4)
    if k == 0:
        return r.choice(["0", "1", "-2", "3.5", "1e3", "TRUE", "FALSE", "NULL"])
    if k == 1:
        return r.choice(["'a'", "'b'", "'red'", "'r*d'", "'?'", "''", "'c7'"])
    if k in (2, 3):
        return r.choice(COLUMNS)
    if k == 4:
        return nest(f"{fuzz_expr(r, depth + 1)} {r.choice(['==', '=', '!=', '<', '<=', '>', '>='])} {fuzz_expr(r, depth + 1)}")
    if k == 5:
        return f"({fuzz_expr(r, depth + 1)} {r.choice(['+', '-', '*', '/', '%'])} {fuzz_expr(r, depth + 1)})"
    if k == 6:
        return nest(f"{fuzz_expr(r, depth + 1)} {r.choice(['AND', 'OR'])} {r.choice(['NOT ', ''])}{fuzz_expr(r, depth + 1)}")
    if k == 7:
        args = ", ".join(fuzz_expr(r, depth + 1) for _ in range(r.randrange(3)))
        return f"{r.choice(FUNCS)}({args})"
    if k == 8:
        idx = r.choice(["0", "-1", "1:3", ":, 0", "'k'", "5"])
        return f"{r.choice(['shape(boxes)', 'boxes', 'js', 'num', 'text', 'emb', 'labels'])}[{idx}]"
    if k == 9:
        items = ", ".join(fuzz_expr(r, depth + 1) for _ in range(r.randrange(1, 4)))
        return nest(f"{fuzz_expr(r, depth + 1)} {r.choice(['', 'NOT '])}IN ({items})")
    if k == 10:
        return nest(f"{fuzz_expr(r, depth + 1)} BETWEEN {fuzz_expr(r, depth + 1)} AND {fuzz_expr(r, depth + 1)}")
    return f"ARRAY[{', '.join(r.choice(['1', '2', '-0.5', 'num', 'x']) for _ in range(r.randrange(6)))}]"


def fuzz_query(r: random.Random, broken: bool = True) -> str:
    """A whole query: clauses from the grammar, then (with `broken`, sometimes) a random edit that
    breaks it or a bare SELECT."""
    parts = [r.choice(["SELECT *"] * 4 + ["select *", "SELECT labels, num"] + (["SELECT"] if broken else []))]
    if r.random() < 0.9:
        parts.append("WHERE " + fuzz_expr(r))
    if r.random() < 0.2:
        w = ", ".join(f"{fuzz_expr(r)}: {r.choice(['1', '2', '-1', 'num', 'text'])}" for _ in range(r.randrange(1, 3)))
        parts.append(r.choice([f"SAMPLE BY max_weight({w})", f"SAMPLE BY sum_weight({w})", f"SAMPLE BY {fuzz_expr(r)}"])
                     + r.choice(["", " REPLACE TRUE", " REPLACE FALSE"]))
    if r.random() < 0.3:
        parts.append(f"ORDER BY {fuzz_expr(r)} {r.choice(['', 'ASC', 'DESC'])}")
    if r.random() < 0.3:
        parts.append(r.choice(["LIMIT 2", "LIMIT 50 PERCENT", "LIMIT -1", "OFFSET 1", "LIMIT 1 OFFSET 1", "LIMIT 7"]))
    q = " ".join(parts)
    if r.random() < 0.2:
        q = f"({q}) {r.choice(['UNION', 'INTERSECT', 'EXCEPT'])} ({q})"
    if broken and r.random() < 0.25 and q:  # break it: drop, duplicate or replace a character
        i = r.randrange(len(q))
        q = r.choice([q[:i] + q[i + 1:], q[:i] + q[i] * 2 + q[i:], q[:i] + chr(r.randrange(1, 0x2FF)) + q[i + 1:]])
    return q


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--text-rows", type=int, default=1_000_000)
    p.add_argument("--emb-rows", type=int, default=200_000)
    p.add_argument("--fuzz", type=int, default=100_000)
    p.add_argument("--only", choices=["where"], help="run part 1 (WHERE over --rows) and nothing else")
    p.add_argument("--repeats", type=int, default=3, help="WHERE timings are the best of this many")
    p.add_argument("--out", help="results file (default bench/results/query.json; none with --only)")
    args = p.parse_args()
    if args.out is None and not args.only:
        args.out = os.path.join(HERE, "results", "query.json")

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
        q1 = "SELECT * WHERE labels == 'c7'"
        t_first, _ = best(lambda: ds.query(q1), k=1)
        t_chute, view = best(lambda: ds.query(q1), k=args.repeats)
        got = view.sample_indices
        t_np, want = best(lambda: np.flatnonzero(labels == 7), k=args.repeats)
        con = duckdb.connect()
        con.register("t", {"i": np.arange(args.rows), "label": labels})
        t_duck, duck = best(lambda: con.execute("SELECT i FROM t WHERE label = 7").fetchnumpy()["i"], k=args.repeats)
        assert np.array_equal(np.asarray(got), want) and np.array_equal(np.sort(duck), want), "results differ"
        res["where_class_label"] = {
            "chute_rows_per_s": args.rows / t_chute, "numpy_rows_per_s": args.rows / t_np, "duckdb_rows_per_s": args.rows / t_duck,
            "chute_vs_numpy": t_np / t_chute, "chute_vs_duckdb": t_duck / t_chute, "matches": len(want),
            "chute_first_query_s": t_first, "chute_s": t_chute, "numpy_s": t_np, "duckdb_s": t_duck}
        print(f"WHERE labels == 'c7' over {args.rows:,} rows: chute {t_chute:.4f} s (first query {t_first:.3f} s), "
              f"numpy {t_np:.4f} s, duckdb {t_duck:.4f} s "
              f"(chute/numpy {t_np / t_chute:.3f}x, chute/duckdb {t_duck / t_chute:.3f}x)", flush=True)
        if args.only == "where":
            write_results(res, args.out)
            return

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
        t_first2, _ = best(lambda: ds2.query(q), k=1)
        t_chute2, view2 = best(lambda: ds2.query(q))
        got2 = view2.sample_indices
        t_py, want2 = best(lambda: [i for i in range(n) if "red" in texts[i] and lens[i] >= 2], k=1)
        con.register("u", {"i": np.arange(n), "text": np.array(texts, dtype=object), "nboxes": lens})
        t_duck2, duck2 = best(lambda: con.execute("SELECT i FROM u WHERE contains(text, 'red') AND nboxes >= 2").fetchnumpy()["i"])
        assert got2 == want2 and sorted(duck2.tolist()) == want2
        res["contains_and_shape"] = {"chute_rows_per_s": n / t_chute2, "python_rows_per_s": n / t_py,
                                     "duckdb_rows_per_s": n / t_duck2, "chute_vs_duckdb": t_duck2 / t_chute2,
                                     "chute_first_query_s": t_first2, "chute_s": t_chute2, "python_s": t_py, "duckdb_s": t_duck2}
        print(f"{q!r} over {n:,} rows: chute {t_chute2:.4f} s (first query {t_first2:.3f} s), python loop {t_py:.3f} s, "
              f"duckdb {t_duck2:.4f} s (chute/duckdb {t_duck2 / t_chute2:.3f}x)", flush=True)

        # ---- 2b. vector search: ORDER BY l2_norm over embeddings ----
        ne, dim = args.emb_rows, 128
        emb = rng.normal(size=(ne, dim)).astype(np.float32)
        ds3 = chute.empty(os.path.join(tmp, "emb"))
        ds3.create_tensor("emb", htype="embedding", dtype="float32")
        with ds3:
            ds3.emb.extend(emb)
        ds3 = chute.load(ds3.path, read_only=True)
        qv = rng.normal(size=dim)
        q3 = "SELECT * ORDER BY l2_norm(emb - ARRAY[" + ", ".join(f"{x:.6f}" for x in qv) + "]) LIMIT 10"
        qv = np.array([float(f"{x:.6f}") for x in qv])
        t_first3, _ = best(lambda: ds3.query(q3), k=1)
        t_chute3, view3 = best(lambda: ds3.query(q3))
        t_np3, want3 = best(lambda: np.argsort(np.sqrt(((emb.astype(np.float64) - qv) ** 2).sum(1)), kind="stable")[:10])
        assert view3.sample_indices == list(want3)
        res["vector_search"] = {"rows": ne, "dim": dim, "chute_s": t_chute3, "chute_first_query_s": t_first3, "numpy_s": t_np3,
                                "chute_vs_numpy": t_np3 / t_chute3}
        print(f"ORDER BY l2_norm(emb - ARRAY[...]) LIMIT 10 over {ne:,} x {dim}: chute {t_chute3:.3f} s "
              f"(first query {t_first3:.3f} s), numpy {t_np3:.3f} s ({t_np3 / t_chute3:.2f}x)", flush=True)

        # ---- 3. sample_by over 10M weights ----
        w = rng.random(args.rows)
        t_s, picked = best(lambda: ds.sample_by(w, size=args.rows, seed=1), k=1)
        t_nps, _ = best(lambda: np.random.default_rng(1).choice(args.rows, size=args.rows, p=w / w.sum()), k=1)
        t_tql, picked2 = best(lambda: ds.sample_by("max_weight(labels == 'c1': 5, labels != 'c1': 1)", size=args.rows, seed=1), k=1)
        assert len(picked) == args.rows and len(picked2) == args.rows
        res["sample_by"] = {"array_weights_s": t_s, "numpy_choice_s": t_nps, "tql_weights_s": t_tql, "array_vs_numpy": t_nps / t_s}
        print(f"sample_by over {args.rows:,} weights: array {t_s:.2f} s (numpy choice {t_nps:.2f} s, {t_nps / t_s:.1f}x), "
              f"TQL max_weight {t_tql:.2f} s", flush=True)

    # ---- 4. fuzz ----
    small = chute.empty(os.path.join(tempfile.mkdtemp(), "f"))
    small.create_tensor("labels", htype="class_label", class_names=["a", "b"])
    small.create_tensor("num", dtype="int32")
    small.create_tensor("text", htype="text")
    small.create_tensor("boxes", htype="bbox")
    small.create_tensor("js", htype="json")
    small.extend({"labels": [0, 1, 1], "num": [np.array([i], np.int32) for i in range(3)], "text": ["red", "", "a b"],
                  "boxes": [np.zeros((i, 4), np.float32) for i in range(3)], "js": [{"k": 1}, {}, {"k": "v"}]})
    r = random.Random(0)
    ok = errors = 0
    t0 = time.perf_counter()
    for _ in range(args.fuzz):
        text = fuzz_query(r)
        try:
            small.query(text)
            ok += 1
        except chute.QueryError:
            errors += 1
    res["fuzz"] = {"queries": args.fuzz, "ran": ok, "query_errors": errors, "seconds": round(time.perf_counter() - t0, 2)}
    print(f"fuzz: {args.fuzz:,} generated queries, {ok:,} ran, {errors:,} clean QueryErrors, no crash", flush=True)
    write_results(res, args.out)


def write_results(res: dict, out: str | None) -> None:
    if out is None:
        return
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(res, f, indent=1, default=float)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
