"""The jobs of bench_pipeline.py, one row per fresh child process:

    python bench/pipeline_jobs.py --row chute_images --source DIR --n 2000 --repeat 3

Runs in chute's venv (rows chute_* and pool_*) and in the olympipe 2.2.0 venv (rows olympipe_*), so
it imports neither chute nor olympipe at module level, only Pillow and numpy. Each stage function
carries the item's index, so the output's order can be checked whatever the runner does. Prints
one JSON object: the times of each run and what the verification found.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import resource
import sys
import time

import numpy as np
from PIL import Image

SIZE = (224, 224)


# ---- the three image stages (the same functions for every runner) ----
def decode(item):
    i, path = item
    with Image.open(path) as im:
        return i, np.asarray(im.convert("RGB"))


def resize(item):
    i, a = item
    return i, np.asarray(Image.fromarray(a).resize(SIZE, Image.BILINEAR))


def encode(item):
    i, a = item
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="JPEG", quality=75)
    return i, buf.getvalue()


def image_serial(item):
    return encode(resize(decode(item)))


# ---- three stages of small items ----
def add_one(x):
    return x + 1


def double(x):
    return x * 2


def minus_three(x):
    return x - 3


def small_serial(x):
    return minus_three(double(add_one(x)))


def one(x):
    return x


# ---- runners ----
def _pipeline_class(row: str):
    if row.startswith("chute"):
        from chute.pipeline import Pipeline
    else:
        from olympipe import Pipeline
    return Pipeline


def run_images(row: str, items: list, count: int):
    if row.startswith("pool"):
        from multiprocessing import get_context

        with get_context("fork").Pool(2) as pool:
            return list(pool.imap(image_serial, items, chunksize=4))
    Pipeline = _pipeline_class(row)
    return Pipeline(items).task(decode, count=count).task(resize, count=count).task(encode, count=count) \
        .wait_for_result()


def run_small(row: str, n: int, count: int):
    if row.startswith("pool"):
        from multiprocessing import get_context

        with get_context("fork").Pool(2) as pool:
            return list(pool.imap(small_serial, range(n), chunksize=1000))
    Pipeline = _pipeline_class(row)
    return Pipeline(list(range(n))).task(add_one, count=count).task(double, count=count) \
        .task(minus_three, count=count).wait_for_result()


def run_startup(row: str):
    Pipeline = _pipeline_class(row)
    return Pipeline([1]).task(one).wait_for_result()


def source_files(folder: str) -> list[str]:
    out = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out += [os.path.join(root, f) for f in sorted(files) if not f.startswith(".")]
    return out


def verify_images(items: list, out: list) -> dict:
    """Right count, the index order of the output, and five probes equal (byte for byte) to the
    serial result of the same input."""
    got = [i for i, _ in out]
    ordered = got == list(range(len(items)))
    complete = sorted(got) == list(range(len(items)))
    by_index = dict(out)
    rng = random.Random(0)
    probes = sorted({0, len(items) // 2, len(items) - 1, *rng.sample(range(len(items)), 2)})
    equal = all(by_index.get(k) == image_serial(items[k])[1] for k in probes)
    return {"count": len(out), "complete": complete, "ordered": ordered, "probes_equal": equal,
            "ok": complete and equal, "sha1_first": hashlib.sha1(by_index.get(0, b"")).hexdigest()[:12]}


def cpu_seconds() -> float:
    """User + system time of this process and of its reaped children (the workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--row", required=True)
    ap.add_argument("--source")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--count", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    times, cpus, check = [], [], {}
    if not a.row.startswith("pool"):
        _pipeline_class(a.row)  # the import is not part of any figure
    if a.row.endswith("_images"):
        items = list(enumerate(source_files(a.source)[:a.n]))
        for _ in range(a.repeat):
            t0, c0 = time.perf_counter(), cpu_seconds()
            out = run_images(a.row, items, a.count)
            times.append(time.perf_counter() - t0)
            cpus.append(cpu_seconds() - c0)
            check = verify_images(items, out)
            del out
    elif a.row.endswith("_small"):
        expect = [small_serial(x) for x in range(a.n)]
        for _ in range(a.repeat):
            t0, c0 = time.perf_counter(), cpu_seconds()
            out = run_small(a.row, a.n, a.count)
            times.append(time.perf_counter() - t0)
            cpus.append(cpu_seconds() - c0)
            check = {"count": len(out), "ordered": out == expect, "complete": sorted(out) == expect}
            check["ok"] = check["complete"]
            del out
    elif a.row.endswith("_startup"):
        for _ in range(a.repeat):
            t0, c0 = time.perf_counter(), cpu_seconds()
            out = run_startup(a.row)
            times.append(time.perf_counter() - t0)
            cpus.append(cpu_seconds() - c0)
            check = {"ok": out == [1], "ordered": True}
    else:
        raise SystemExit(f"unknown row {a.row}")
    print(json.dumps({"row": a.row, "times": [round(t, 4) for t in times], "best": round(min(times), 4),
                      "first": round(times[0], 4),
                      "cpu_seconds": [round(c, 3) for c in cpus], **check}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
