"""Runs the ingest and decode benchmarks (each in its own process) and prints a short table.

    .venv/bin/python bench/run_all.py                      # 5000 images: the reference run
    .venv/bin/python bench/run_all.py --num-images 300     # quick trial
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--num-images", type=int, default=C.DEFAULT_NUM_IMAGES)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="decode threads")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--no-deeplake", action="store_true")
    p.add_argument("--only", choices=["ingest", "decode"])
    a = p.parse_args(argv)

    common = ["--num-images", str(a.num_images), "--repeat", str(a.repeat)]
    benches = {
        "ingest": ["bench_ingest.py", *common, *(["--no-deeplake"] if a.no_deeplake else [])],
        "decode": ["bench_decode.py", *common, "--threads", str(a.threads)],
    }
    status, fresh = 0, []
    for name, cmd in benches.items():
        if a.only and name != a.only:
            continue
        path = os.path.join(C.RESULTS, f"{name}.json")
        before = os.path.getmtime(path) if os.path.exists(path) else None
        C.log(f"== {name} ==")
        rc = subprocess.run([sys.executable, os.path.join(C.BENCH, cmd[0]), *cmd[1:]]).returncode
        if rc != 0:
            C.log(f"{name}: exit {rc}")
            status = 1
        if os.path.exists(path) and os.path.getmtime(path) != before:
            fresh.append(name)  # a bench that died before writing leaves no stale row in the table

    rows = []
    for name in fresh:
        path = os.path.join(C.RESULTS, f"{name}.json")
        with open(path) as f:
            r = json.load(f)
        chute_s = r["runs"]["chute"]["seconds"]
        for k, v in r["runs"].items():
            rows.append([name, k, v["images_per_s"], v["MB_per_s"], C.ratio(v["seconds"], chute_s),
                         "ok" if r.get("ok") else "FAILED"])
    print("\nsummary (MB/s of source JPEG bytes; 'chute ÷' > 1 means chute is faster)")
    print(C.table(rows, ["bench", "method", "images/s", "MB/s", "chute ÷", "verify"]))
    return status


if __name__ == "__main__":
    sys.exit(main())
