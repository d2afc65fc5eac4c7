"""chute.pipeline against olympipe 2.2.0 (its own venv) and a multiprocessing.Pool, in one run:

  images   decode (Pillow) -> resize 224x224 -> JPEG encode over N ImageNet-like JPEGs, each stage
           task(count=2) (the Pool runs the three as one function in 2 processes); default N = 2000
  small    100,000 ints through three task stages (x+1, x*2, x-3), count=1 (and count=2): per-item cost
  startup  Pipeline([1]).task(f).wait_for_result(), after the import; first call and best of 5

    .venv/bin/python bench/bench_pipeline.py                  # reference sizes, 3 rounds
    .venv/bin/python bench/bench_pipeline.py --num-images 200 --small 10000 --rounds 1   # quick trial

Set up the baseline once: `python3 -m venv .venv-olympipe && .venv-olympipe/bin/pip install
olympipe==2.2.0 pillow numpy`. Each run of each row is a fresh child (bench/pipeline_jobs.py), timed
inside it around the pipeline call only (worker start-up included, the import not), with the CPU
time (user + system) of the child and its workers. Rows run round-robin, one run per row per round,
so a noisy neighbour hits every row alike; the figure is the best round. Every run is verified (count,
order, five outputs byte-equal to the serial result); the script exits 1 if a run is wrong.
Writes bench/results/pipeline.json (or --out).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402

JOBS = os.path.join(C.BENCH, "pipeline_jobs.py")
OLYMPIPE = os.path.join(C.ROOT, ".venv-olympipe", "bin", "python")
TARGET = 1.5


def run_row(row: str, args: list[str], timeout: float = 1800) -> dict:
    py = OLYMPIPE if row.startswith("olympipe") else sys.executable
    r = subprocess.run([py, JOBS, "--row", row, *args], capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        return {"row": row, "ok": False, "error": r.stderr[-2000:]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def summarize(runs: list[dict]) -> dict:
    good = [r for r in runs if r.get("ok")]
    if not good:
        return {"ok": False, "error": runs[-1].get("error") if runs else "not run"}
    best = min(good, key=lambda r: r["best"])
    out = {"ok": len(good) == len(runs), "seconds": best["best"], "seconds_all": [r["best"] for r in good],
           "median_seconds": round(statistics.median(r["best"] for r in good), 4),
           "cpu_seconds": min(min(r["cpu_seconds"]) for r in good), "ordered": all(r.get("ordered") for r in good)}
    if "first" in best:
        out["first_call_seconds"] = min(r["first"] for r in good)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--num-images", type=int, default=2000)
    ap.add_argument("--small", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--jobs", default="images,small,startup")
    ap.add_argument("--out")
    a = ap.parse_args()
    jobs = a.jobs.split(",")
    have_olympipe = os.path.exists(OLYMPIPE)
    if not have_olympipe:
        C.log(f"no {OLYMPIPE}: olympipe rows skipped (see the docstring to set it up)")

    plan: list[tuple[str, str, list[str]]] = []  # (job, row, args)
    if "images" in jobs:
        folder = C.default_source(a.num_images)
        stats = C.ensure_source(folder, a.num_images)
        C.warm(C.source_files(folder))
        for row in ("chute_images", "olympipe_images", "pool_images"):
            plan.append(("images", row, ["--source", folder, "--n", str(a.num_images), "--count", "2", "--repeat", "1"]))
    if "small" in jobs:
        for row, count in (("chute_small", 1), ("olympipe_small", 1), ("pool_small", 1),
                           ("chute_small", 2), ("olympipe_small", 2)):
            name = row if count == 1 else f"{row}_count2"
            plan.append(("small", name, ["--n", str(a.small), "--count", str(count), "--repeat", "1"]))
    if "startup" in jobs:
        for row in ("chute_startup", "olympipe_startup"):
            plan.append(("startup", row, ["--repeat", "5"]))
    plan = [p for p in plan if have_olympipe or not p[1].startswith("olympipe")]

    runs: dict[str, list[dict]] = {name: [] for _, name, _ in plan}
    for rnd in range(a.rounds):
        for _job, name, args in plan:
            row = name.removesuffix("_count2")
            r = run_row(row, args)
            runs[name].append(r)
            C.log(f"round {rnd + 1}/{a.rounds} {name}: "
                  + (f"{r['best']:.3f} s, cpu {r['cpu_seconds'][0]:.2f} s, ordered {r.get('ordered')}"
                     if r.get("ok") else f"FAILED {r.get('error', r)}"))

    rows = {name: summarize(rs) for name, rs in runs.items()}
    ratios = {}

    def ratio(key: str, base: str, row: str, field: str = "seconds") -> None:
        if rows.get(base, {}).get("ok") and rows.get(row, {}).get("ok"):
            ratios[key] = C.ratio(rows[base][field], rows[row][field])

    ratio("images_vs_olympipe", "olympipe_images", "chute_images")
    ratio("images_vs_pool", "pool_images", "chute_images")
    ratio("images_cpu_vs_olympipe", "olympipe_images", "chute_images", "cpu_seconds")
    ratio("small_vs_olympipe", "olympipe_small", "chute_small")
    ratio("small_count2_vs_olympipe", "olympipe_small_count2", "chute_small_count2")
    ratio("small_vs_pool", "pool_small", "chute_small")
    ratio("startup_vs_olympipe", "olympipe_startup", "chute_startup", "first_call_seconds")
    ratio("startup_best_vs_olympipe", "olympipe_startup", "chute_startup")

    table = []
    for name, s in rows.items():
        if s.get("ok"):
            table.append([name, s["seconds"], s["median_seconds"], s["cpu_seconds"], s.get("first_call_seconds"),
                          s["ordered"]])
        else:
            table.append([name, "FAILED", None, None, None, None])
    print(C.table(table, ["row", "best s", "median s", "cpu s", "first call s", "order kept"]))
    print()
    for k, v in ratios.items():
        meets = "" if k.startswith(("images_vs_pool", "small_vs_pool", "images_cpu")) else \
            ("  (target >= 1.5: met)" if v is not None and v >= TARGET else "  (target >= 1.5: MISSED)")
        print(f"{k}: {v}x{meets}")
    result = {"machine": C.machine_info(), "args": vars(a), "rows": rows, "ratios": ratios, "runs": runs,
              "target": TARGET}
    if "images" in jobs:
        result["source"] = stats
    print("wrote", C.write_json("pipeline.json", result, a.out))
    if not all(s.get("ok") for s in rows.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
