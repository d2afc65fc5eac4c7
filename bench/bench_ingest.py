"""Ingest benchmark: an ImageNet-like JPEG folder tree (see chute.synthetic) into a dataset, against
(a) a plain copy of the folder, with and without an fsync of every copied file,
(b) chute.ingest_classification, (c) Deep Lake 3.9.52's deeplake.ingest_classification (oracle venv).

    .venv/bin/python bench/bench_ingest.py                     # 5000 images, data/imagenet_like
    .venv/bin/python bench/bench_ingest.py --num-images 300    # quick trial (data/imagenet_like_300)

Prints images/s and MB/s (of source JPEG bytes) and writes bench/results/ingest.json.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402

# Runs in the oracle venv; time is taken inside, around the call only.
_DEEPLAKE = r"""
import json, os, shutil, sys, time
src, dest, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
t_import = time.perf_counter()
import deeplake
t_import = time.perf_counter() - t_import
from common import fsync_tree, settle, sha1
times, durable = [], []
for r in range(repeat):
    if os.path.exists(dest):
        shutil.rmtree(dest)
    settle()
    t0 = time.perf_counter()
    # image_params: deeplake 3.9.52 finds the compression from file extensions case-sensitively and
    # fails on ImageNet's ".JPEG" (AutoCompressionError); chute infers the same "jpeg" by itself.
    ds = deeplake.ingest_classification(src, dest, image_params={"sample_compression": "jpeg"},
                                        progressbar=False, summary=False, overwrite=True)
    t1 = time.perf_counter()
    fsync_tree(dest)
    t2 = time.perf_counter()
    times.append(t1 - t0)
    durable.append(t2 - t0)
    del ds
ds = deeplake.load(dest, read_only=True, verbose=False)
n = len(ds)
probe = sorted({0, n // 2, n - 1}) if n else []
print(json.dumps({
    "version": deeplake.__version__, "import_seconds": t_import, "times": times, "durable_times": durable,
    "len": n, "labels_len": len(ds.labels), "class_names": list(ds.labels.info.class_names),
    "probe": [[i, sha1(ds.images[i].tobytes()), int(ds.labels[i].numpy().reshape(-1)[0])] for i in probe],
    "sample_compression": ds.images.meta.sample_compression,
}))
"""


def _check_probe(kind, probe, class_names, hashes, classes_expected) -> list[str]:
    """Problems found: stored bytes that match no source file, or a label that is not the file's folder."""
    errs = []
    if list(class_names) != classes_expected:
        errs.append(f"{kind}: class names {list(class_names)[:5]}... != folders {classes_expected[:5]}...")
    for i, digest, label in probe:
        path = hashes.get(digest)
        if path is None:
            errs.append(f"{kind}: images[{i}].tobytes() equals no source file")
            continue
        folder = os.path.basename(os.path.dirname(path))
        if not (0 <= label < len(class_names)) or class_names[label] != folder:
            errs.append(f"{kind}: labels[{i}]={label} but images[{i}] is from folder {folder}")
    return errs


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--num-images", type=int, default=C.DEFAULT_NUM_IMAGES)
    p.add_argument("--source", help="image folder (default: data/imagenet_like[_N]; made if missing)")
    p.add_argument("--work", default=C.default_work(), help="scratch folder on the same filesystem")
    p.add_argument("--repeat", type=int, default=3, help="runs of copy and chute (best is reported)")
    p.add_argument("--deeplake-repeat", type=int, default=1, help="runs of deeplake (best is reported)")
    p.add_argument("--no-deeplake", action="store_true", help="skip the Deep Lake 3 run")
    p.add_argument("--keep", action="store_true", help="keep the copies and datasets in --work")
    p.add_argument("--out", help="JSON path (default bench/results/ingest.json)")
    a = p.parse_args(argv)

    import chute

    src = os.path.abspath(a.source or C.default_source(a.num_images))
    work = os.path.abspath(a.work)
    os.makedirs(work, exist_ok=True)
    source = C.ensure_source(src, a.num_images)
    files = C.source_files(src)
    n = len(files)
    nbytes, warm_s = C.warm(files)
    C.log(f"warmed the source ({n} files, {nbytes / 1e6:.1f} MB) by reading it once in {warm_s:.2f} s: "
          f"every run reads from the page cache (dropping the cache is not possible reliably here)")
    hashes = C.hash_files(files)
    classes = sorted(d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d)) and not d.startswith("."))

    result = {"bench": "ingest", "machine": C.machine_info(), "source": source, "n": n, "source_bytes": nbytes,
              "warm": "source read once before all runs; all runs read it from the page cache",
              "repeat": a.repeat, "runs": {}, "verify": {}}
    runs = result["runs"]

    # (a) plain copy: the same run gives the time without and with an fsync of every file and folder.
    copy_dest = os.path.join(work, "copy")
    copy_times, copy_sync_times = [], []
    for r in range(a.repeat):
        C.remove(copy_dest)
        C.settle()
        t0 = time.perf_counter()
        shutil.copytree(src, copy_dest)
        t1 = time.perf_counter()
        C.fsync_tree(copy_dest)
        t2 = time.perf_counter()
        copy_times.append(t1 - t0)
        copy_sync_times.append(t2 - t0)
        C.log(f"  copy run {r + 1}/{a.repeat}: {t1 - t0:.3f} s, with fsync {t2 - t0:.3f} s")
    copied = sum(1 for _ in C.source_files(copy_dest))
    if copied != n:
        raise SystemExit(f"copy has {copied} files, expected {n}")
    runs["copy"] = {**C.rates(n, nbytes, min(copy_times)), "times": [round(t, 4) for t in copy_times],
                    "what": "shutil.copytree, no fsync (data may still be in the page cache only)"}
    runs["copy_fsync"] = {**C.rates(n, nbytes, min(copy_sync_times)),
                          "times": [round(t, 4) for t in copy_sync_times],
                          "what": "shutil.copytree then fsync of every file and folder"}
    if not a.keep:
        C.remove(copy_dest)

    # (b) chute
    chute_dest = os.path.join(work, "chute_ds")

    def chute_setup():
        C.remove(chute_dest)
        C.settle()

    def chute_run():
        ds = chute.ingest_classification(src, chute_dest, progressbar=False, summary=False, overwrite=True)
        return ds.ingest_summary.ingested  # ds is dropped inside the timed region

    r = C.best_of(chute_run, a.repeat, setup=chute_setup, label="chute")
    runs["chute"] = {**C.rates(n, nbytes, r["best"]), "times": r["times"],
                     "what": "chute.ingest_classification (chunks fsynced)",
                     "dataset_bytes": C.tree_bytes(chute_dest)}
    ds = chute.load(chute_dest, read_only=True)
    nds = len(ds)
    probe = sorted({0, nds // 2, nds - 1} | set(random.Random(1).sample(range(nds), min(5, nds))))
    errs = [] if nds == n else [f"chute: len(ds)={nds}, expected {n}"]
    if len(ds.labels) != nds:
        errs.append(f"chute: len(labels)={len(ds.labels)} != len(images)={nds}")
    errs += _check_probe("chute", [[i, C.sha1(ds.images[i].tobytes()), int(ds.labels[i].numpy().reshape(-1)[0])]
                                   for i in probe], ds.labels.info.class_names, hashes, classes)
    result["verify"]["chute"] = {"len": nds, "probed": probe, "ok": not errs, "errors": errs}
    del ds
    if not a.keep:
        C.remove(chute_dest)

    # (c) Deep Lake 3.9.52 in its own venv
    if not a.no_deeplake:
        dl_dest = os.path.join(work, "deeplake_ds")
        C.log(f"  deeplake: {a.deeplake_repeat} run(s) in the oracle venv ...")
        try:
            out = C.run_oracle(_DEEPLAKE, [src, dl_dest, str(a.deeplake_repeat)])
        except RuntimeError as e:
            C.log(f"  deeplake skipped: {e}")
            result["verify"]["deeplake"] = {"ok": False, "errors": [str(e)]}
        else:
            for t in out["times"]:
                C.log(f"  deeplake: {t:.3f} s")
            runs["deeplake"] = {**C.rates(n, nbytes, min(out["times"])),
                                "times": [round(t, 4) for t in out["times"]],
                                "what": f"deeplake {out['version']} ingest_classification (no fsync)",
                                "dataset_bytes": C.tree_bytes(dl_dest)}
            runs["deeplake_fsync"] = {**C.rates(n, nbytes, min(out["durable_times"])),
                                      "times": [round(t, 4) for t in out["durable_times"]],
                                      "what": "the same run, then fsync of every file and folder it wrote"}
            errs = [] if out["len"] == n else [f"deeplake: len(ds)={out['len']}, expected {n}"]
            if out["labels_len"] != out["len"]:
                errs.append(f"deeplake: len(labels)={out['labels_len']} != len(images)={out['len']}")
            errs += _check_probe("deeplake", out["probe"], out["class_names"], hashes, classes)
            result["verify"]["deeplake"] = {"len": out["len"], "ok": not errs, "errors": errs,
                                            "sample_compression": out["sample_compression"]}
        if not a.keep:
            C.remove(dl_dest)

    chute_s = runs["chute"]["seconds"]
    result["ratios"] = {  # > 1: chute is faster
        f"chute_speed_over_{k}": C.ratio(runs[k]["seconds"], chute_s)
        for k in ("copy", "copy_fsync", "deeplake", "deeplake_fsync") if k in runs}
    result["ok"] = all(v.get("ok") for v in result["verify"].values())
    path = C.write_json("ingest.json", result, a.out)

    rows = [[k, v["seconds"], v["images_per_s"], v["MB_per_s"], C.ratio(v["seconds"], chute_s), v.get("dataset_bytes")]
            for k, v in runs.items()]
    print(f"\ningest: {n} JPEGs, {nbytes / 1e6:.1f} MB (mean {nbytes / n / 1024:.1f} KB), best of "
          f"{a.repeat} (deeplake: {a.deeplake_repeat}); source warmed in the page cache before all runs")
    print(C.table(rows, ["method", "seconds", "images/s", "MB/s", "chute speed ÷ this", "bytes on disk"]))
    for kind, v in result["verify"].items():
        print(f"verify {kind}: {'ok' if v.get('ok') else 'FAILED'}"
              + "".join(f"\n  {e}" for e in v.get("errors", [])))
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    res = main()
    sys.exit(0 if res["ok"] else 1)
