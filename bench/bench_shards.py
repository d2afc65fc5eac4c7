"""chute.shards' transform_shard against Dask's map_partitions, on a 10M-row CSV in 8 files (8
partitions). Writes bench/results/shards.json (or --out).

    .venv/bin/python bench/bench_shards.py [--rows 10000000] [--files 8] [--repeat 3]

Dask runs in its own venv (`python3 -m venv .venv-dask && .venv-dask/bin/pip install
"dask[dataframe]" pandas`); each row runs in its own process, one after another:

| row | start-up (timed apart) | load (timed apart) | the jobs |
| --- | --- | --- | --- |
| chute local | `chute.shards.init("local")` (a fork per step: no pool to start) | `read_csv(dir)` (Orca: min(files, CPUs) partitions) + `repartition(8)` | `transform_shard(f)`, results back in the driver |
| chute ray | `ray.init(num_cpus=CPUs)` + `init("ray")` | same, partitions in Ray's object store | `transform_shard(f)`, results in the object store |
| dask threads | none | `dd.read_csv(dir/*.csv, blocksize=None)`: 8 partitions | `map_partitions(f).persist()` (default threaded scheduler) |
| dask processes | none (a pool per compute) | same | `persist(scheduler="processes")` |

Two jobs, each timed best of --repeat: `enrich` (a row-wise pandas job, the output as big as the
input: new numeric columns and a string column) and `aggregate` (a groupby per partition, the small
results combined in the driver). Before timing, every row's results are checked against the same
job run by pandas on the whole file (row count, sums of the new columns, the aggregate table).
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DASK_PY = os.path.join(ROOT, ".venv-dask", "bin", "python")


# ---- the jobs (the same code for every system) ---------------------------------------------
def enrich(df):
    out = df[df["qty"] > 1].copy()
    out["total"] = out["price"] * out["qty"]
    out["discounted"] = out["total"] * 0.9 - out["qty"]
    out["tag"] = out["location"].str.lower() + "-" + (out["qty"] % 7).astype(str)
    return out


def aggregate(df):
    return df.groupby("location").agg(n=("qty", "size"), qty=("qty", "sum"), price=("price", "sum"))


def combine(parts):
    import pandas as pd

    return pd.concat(parts).groupby(level=0).sum().sort_index()


def summary(enriched_parts, agg) -> dict:
    """What every row must agree on."""
    rows = sum(len(p) for p in enriched_parts)
    total = sum(float(p["total"].sum()) for p in enriched_parts)
    tags = sum(int(p["tag"].str.len().sum()) for p in enriched_parts)
    return {"rows": rows, "total": round(total, 2), "tag_chars": tags,
            "agg": {str(k): [int(r["n"]), int(r["qty"]), round(float(r["price"]), 2)] for k, r in agg.iterrows()}}


# ---- data ----------------------------------------------------------------------------------
def make_csv(folder: str, rows: int, files: int) -> dict:
    import numpy as np
    import pandas as pd

    marker = os.path.join(folder, "_COMPLETE")
    want = f"{rows} {files}"
    if os.path.exists(marker) and open(marker).read() == want:
        return {"made": False}
    t0 = time.perf_counter()
    os.makedirs(folder, exist_ok=True)
    for f in glob.glob(os.path.join(folder, "*.csv")):
        os.remove(f)
    rng = np.random.default_rng(0)
    locations = np.array([f"Loc{i:02d}" for i in range(40)])
    start = 0
    for k in range(files):
        n = rows // files + (1 if k < rows % files else 0)
        df = pd.DataFrame({"id": np.arange(start, start + n), "location": locations[rng.integers(0, 40, n)],
                           "price": np.round(rng.random(n) * 100, 2), "qty": rng.integers(0, 10, n)})
        df.to_csv(os.path.join(folder, f"part-{k:03d}.csv"), index=False)
        start += n
    with open(marker, "w") as f:
        f.write(want)
    return {"made": True, "seconds": round(time.perf_counter() - t0, 1)}


def reference(folder: str) -> dict:
    import pandas as pd

    df = pd.concat([pd.read_csv(f) for f in sorted(glob.glob(os.path.join(folder, "*.csv")))], ignore_index=True)
    return summary([enrich(df)], aggregate(df).sort_index())


# ---- rows (each in its own process) --------------------------------------------------------
def best(fn, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), times, out


def row_chute(backend: str, folder: str, parts: int, repeat: int) -> dict:
    t0 = time.perf_counter()
    import chute.shards as shards

    imported = time.perf_counter() - t0
    cpus = os.cpu_count() or 1
    t0 = time.perf_counter()
    if backend == "ray":
        import ray

        ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    shards.init(backend)
    startup = time.perf_counter() - t0
    t0 = time.perf_counter()
    xs = shards.read_csv(folder)
    read = time.perf_counter() - t0
    t0 = time.perf_counter()
    xs = xs.repartition(parts).cache()
    repart = time.perf_counter() - t0
    assert xs.num_partitions() == parts
    # verify once, then time
    enriched = xs.transform_shard(enrich)
    check = summary(enriched.collect(), combine(xs.transform_shard(aggregate).collect()))
    del enriched
    t_enrich, all_enrich, _ = best(lambda: xs.transform_shard(enrich), repeat)
    t_agg, all_agg, _ = best(lambda: combine(xs.transform_shard(aggregate).collect()), repeat)
    if backend == "ray":
        t0 = time.perf_counter()
        ray.shutdown()
        shutdown = time.perf_counter() - t0
    else:
        shutdown = 0.0
    return {"import_s": imported, "startup_s": startup, "read_s": read, "repartition_s": repart,
            "load_s": read + repart, "enrich_s": t_enrich, "enrich_all_s": all_enrich, "aggregate_s": t_agg,
            "aggregate_all_s": all_agg, "shutdown_s": shutdown, "check": check}


def row_dask(scheduler: str, folder: str, parts: int, repeat: int) -> dict:
    t0 = time.perf_counter()
    import dask
    import dask.dataframe as dd

    imported = time.perf_counter() - t0
    t0 = time.perf_counter()
    ddf = dd.read_csv(os.path.join(folder, "*.csv"), blocksize=None).persist(scheduler=scheduler)
    read = time.perf_counter() - t0
    assert ddf.npartitions == parts, ddf.npartitions
    meta_e = enrich(ddf._meta)
    meta_a = aggregate(ddf._meta)
    enriched = ddf.map_partitions(enrich, meta=meta_e).persist(scheduler=scheduler)
    check = summary([enriched.compute(scheduler="sync")],
                    combine([ddf.map_partitions(aggregate, meta=meta_a).compute(scheduler=scheduler)]))
    del enriched
    t_enrich, all_enrich, _ = best(lambda: ddf.map_partitions(enrich, meta=meta_e).persist(scheduler=scheduler),
                                   repeat)
    t_agg, all_agg, _ = best(
        lambda: combine([ddf.map_partitions(aggregate, meta=meta_a).compute(scheduler=scheduler)]), repeat)
    return {"import_s": imported, "startup_s": 0.0, "read_s": read, "repartition_s": 0.0, "load_s": read,
            "enrich_s": t_enrich, "enrich_all_s": all_enrich, "aggregate_s": t_agg, "aggregate_all_s": all_agg,
            "shutdown_s": 0.0, "check": check, "dask": dask.__version__}


ROWS = {
    "chute local": (sys.executable, ["chute", "local"]),
    "chute ray": (sys.executable, ["chute", "ray"]),
    "dask threads": (DASK_PY, ["dask", "threads"]),
    "dask processes": (DASK_PY, ["dask", "processes"]),
}


def run_row(name: str, folder: str, parts: int, repeat: int) -> dict:
    python, (kind, mode) = ROWS[name]
    if not os.path.exists(python):
        return {"skipped": f"{python} not found (see the module docstring for the Dask venv)"}
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    t0 = time.perf_counter()
    p = subprocess.run([python, os.path.abspath(__file__), "--row", kind, mode, folder, str(parts), str(repeat)],
                       capture_output=True, text=True, env=env, timeout=3600)
    wall = time.perf_counter() - t0
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("#result ")]
    if p.returncode != 0 or not lines:
        raise SystemExit(f"row {name!r} failed (rc {p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}")
    out = json.loads(lines[-1][len("#result "):])
    out["process_wall_s"] = wall
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--files", type=int, default=8, help="CSV files = partitions")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--only", action="append", choices=sorted(ROWS), help="run only these rows")
    p.add_argument("--data", default=None, help="CSV folder (default data/shards_csv_<rows>_<files>)")
    p.add_argument("--out", help="JSON path (default bench/results/shards.json)")
    p.add_argument("--row", nargs=5, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.row:
        kind, mode, folder, parts, repeat = a.row
        fn = row_chute if kind == "chute" else row_dask
        print("#result " + json.dumps(fn(mode, folder, int(parts), int(repeat))), flush=True)
        return {}

    sys.path.insert(0, HERE)
    import common as C

    folder = a.data or os.path.join(C.DATA, f"shards_csv_{a.rows}_{a.files}")
    made = make_csv(folder, a.rows, a.files)
    how = f"made in {made['seconds']:.1f} s" if made["made"] else "found"
    C.log(f"data: {folder} ({how})")
    ref = reference(folder)
    C.log(f"reference (pandas on the whole file): {ref['rows']} enriched rows")
    runs = {}
    for name in a.only or list(ROWS):
        C.log(f"row: {name}")
        r = run_row(name, folder, a.files, a.repeat)
        if "skipped" in r:
            C.log(f"  skipped: {r['skipped']}")
            runs[name] = r
            continue
        ok = r["check"] == ref
        if not ok:
            raise SystemExit(f"row {name!r}: results differ from pandas on the whole file:\n{r['check']}\n{ref}")
        r["verified"] = True
        del r["check"]
        runs[name] = r
    timed = {k: v for k, v in runs.items() if "skipped" not in v}
    ratios = {}
    for base in ("dask threads", "dask processes"):
        for mine in ("chute local", "chute ray"):
            if base in timed and mine in timed:
                for job in ("enrich_s", "aggregate_s"):
                    ratios[f"{mine} / {base} ({job[:-2]})"] = round(timed[mine][job] / timed[base][job], 3)
    result = {"benchmark": "shards", "rows": a.rows, "partitions": a.files, "repeat": a.repeat,
              "machine": C.machine_info(), "runs": runs, "ratios_time": ratios,
              "note": "times in seconds; enrich/aggregate are best of repeat; startup, load and shutdown apart"}
    header = ["row", "startup s", "load s", "enrich s", "aggregate s", "process wall s"]
    print(C.table([[k, f"{v['startup_s']:.2f}", f"{v['load_s']:.2f}", f"{v['enrich_s']:.2f}",
                    f"{v['aggregate_s']:.2f}", f"{v['process_wall_s']:.1f}"] for k, v in timed.items()], header))
    for k, v in ratios.items():
        print(f"{k}: {v:.2f}x the time")
    path = C.write_json("shards.json", result, a.out)
    C.log(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
