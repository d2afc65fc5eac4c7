"""Decode benchmark: N JPEG images of a chute dataset ingested from the ImageNet-like folder, decoded to
HxWx3 uint8 arrays by
  (a) chute:   ds.images[a:b].numpy(aslist=True, num_threads=T)   (engine threads, GIL released)
  (b) PIL:     np.asarray(Image.open(path).convert("RGB")) for the same source files, on a
               ThreadPoolExecutor(T); also from bytes already in memory (no file reads)
  (c) harness: chute-bench DATASET --tensor images -n N -t T    (the engine alone, no Python)

    .venv/bin/python bench/bench_decode.py                     # 5000 images, T = os.cpu_count()
    .venv/bin/python bench/bench_decode.py --num-images 300 --threads 2

Verifies that chute's pixels equal PIL's (libjpeg-turbo on both sides) for every decoded image, or
reports the largest difference. Prints images/s and MB/s (of JPEG bytes) and writes
bench/results/decode.json.
"""
from __future__ import annotations

import argparse
import glob
import io
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402


def find_harness() -> str | None:
    here = os.path.join(os.path.dirname(sys.executable), "chute-bench")
    if os.access(here, os.X_OK):
        return here
    import shutil

    found = shutil.which("chute-bench")
    if found:
        return found
    built = sorted(glob.glob(os.path.join(C.ROOT, "build", "*", "cpp", "bench", "chute-bench")))
    return built[-1] if built else None


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--num-images", type=int, default=C.DEFAULT_NUM_IMAGES, help="size of the source folder")
    p.add_argument("-n", type=int, default=0, help="images to decode (default: all)")
    p.add_argument("--offset", type=int, default=0, help="first row a of ds.images[a:b]")
    p.add_argument("--threads", "-t", type=int, default=os.cpu_count() or 1)
    p.add_argument("--repeat", type=int, default=3, help="timed runs of each (best is reported)")
    p.add_argument("--source", help="image folder (default: data/imagenet_like[_N]; made if missing)")
    p.add_argument("--work", default=C.default_work())
    p.add_argument("--dataset", help="use this chute dataset (ingested from --source) instead of ingesting one")
    p.add_argument("--no-harness", action="store_true")
    p.add_argument("--out", help="JSON path (default bench/results/decode.json)")
    a = p.parse_args(argv)

    import numpy as np
    from PIL import Image

    import chute

    T = max(1, a.threads)
    src = os.path.abspath(a.source or C.default_source(a.num_images))
    source = C.ensure_source(src, a.num_images)
    files = C.source_files(src)
    C.warm(files)
    hashes = C.hash_files(files)

    if a.dataset:
        ds_path = os.path.abspath(a.dataset)
    else:
        ds_path = os.path.join(os.path.abspath(a.work), "decode_ds")
        C.remove(ds_path)
        chute.ingest_classification(src, ds_path, progressbar=False, summary=False, overwrite=True)
    ds = chute.load(ds_path, read_only=True)
    images = ds.images
    start = min(a.offset, len(images))
    stop = len(images) if a.n <= 0 else min(len(images), start + a.n)
    n = stop - start
    if n <= 0:
        raise SystemExit(f"nothing to decode: dataset has {len(images)} images, offset {a.offset}")

    # Row -> source file, by the stored bytes (ingest shuffles); untimed.
    paths, blobs = [], []
    for i in range(start, stop):
        b = images[i].tobytes()
        path = hashes.get(C.sha1(b))
        if path is None:
            raise SystemExit(f"images[{i}] matches no file of {src}: was the dataset ingested from it?")
        paths.append(path)
        blobs.append(b)
    jpeg_bytes = sum(len(b) for b in blobs)
    C.log(f"decoding images[{start}:{stop}] ({n} JPEGs, {jpeg_bytes / 1e6:.1f} MB) on {T} thread(s); "
          f"source files and dataset chunks are in the page cache (warmed before the runs)")

    result = {"bench": "decode", "machine": C.machine_info(), "source": source, "dataset": ds_path,
              "rows": [start, stop], "n": n, "jpeg_bytes": jpeg_bytes, "threads": T, "repeat": a.repeat,
              "runs": {}, "verify": {}, "caveats": []}
    runs = result["runs"]
    if T == 1:
        # chute's shared pool keeps at least one worker besides the calling thread (get_shared_pool:
        # workers = want > 1 ? want - 1 : 1), and chute-bench -t 1 does the same: both decode on 2 threads.
        msg = "T=1: chute (num_threads=1) and chute-bench (-t 1) still decode on 2 threads; PIL uses 1"
        result["caveats"].append(msg)
        C.log("warning: " + msg)

    # (a) chute
    def chute_run():
        return images[start:stop].numpy(aslist=True, num_threads=T)

    chute_run()  # warm-up (untimed): chunk files into the page cache, pool threads started
    r = C.best_of(chute_run, a.repeat, label="chute")
    chute_out = r["result"]
    decoded_bytes = sum(x.nbytes for x in chute_out)
    runs["chute"] = {**C.rates(n, jpeg_bytes, r["best"]), "times": r["times"],
                     "decoded_MB_per_s": round(decoded_bytes / r["best"] / 1e6, 1),
                     "what": f"ds.images[{start}:{stop}].numpy(aslist=True, num_threads={T})"}

    # (b) PIL on the same files, same number of threads
    def pil_file(path):
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))

    def pil_bytes(data):
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGB"))

    with ThreadPoolExecutor(T) as pool:
        list(pool.map(pil_file, paths[: min(n, 64)]))  # warm-up: threads started
        r = C.best_of(lambda: list(pool.map(pil_file, paths)), a.repeat, label="PIL (files)")
        pil_out = r["result"]
        runs["pil_files"] = {**C.rates(n, jpeg_bytes, r["best"]), "times": r["times"],
                             "decoded_MB_per_s": round(decoded_bytes / r["best"] / 1e6, 1),
                             "what": f"Image.open(path).convert('RGB') -> np.asarray on ThreadPoolExecutor({T})"}
        r = C.best_of(lambda: list(pool.map(pil_bytes, blobs)), a.repeat, label="PIL (bytes)")
        runs["pil_bytes"] = {**C.rates(n, jpeg_bytes, r["best"]), "times": r["times"],
                             "decoded_MB_per_s": round(decoded_bytes / r["best"] / 1e6, 1),
                             "what": "the same from bytes already in memory (no file reads)"}
        del r

    # Verify every decoded image against PIL's.
    mismatched, worst, shape_errors = [], 0, []
    for k, (x, y) in enumerate(zip(chute_out, pil_out)):
        if x.shape != y.shape or x.dtype != y.dtype:
            shape_errors.append(f"images[{start + k}]: chute {x.shape} {x.dtype}, PIL {y.shape} {y.dtype} "
                                f"({paths[k]})")
            continue
        if not np.array_equal(x, y):
            d = int(np.abs(x.astype(np.int16) - y.astype(np.int16)).max())
            worst = max(worst, d)
            mismatched.append(start + k)
    result["verify"]["pixels"] = {
        "compared": n, "bit_exact": n - len(mismatched) - len(shape_errors), "max_abs_diff": worst,
        "not_bit_exact": mismatched[:20], "shape_errors": shape_errors[:20],
        "ok": not shape_errors and len(chute_out) == n == len(pil_out)}
    del chute_out, pil_out

    # (c) the C++ harness
    harness = None if a.no_harness else find_harness()
    if harness is None:
        if not a.no_harness:
            C.log("chute-bench not found: skipped")
    elif start != 0:
        C.log("chute-bench decodes rows [0, n): skipped because --offset is not 0")
    else:
        cmd = [harness, ds_path, "--tensor", "images", "-n", str(n), "-t", str(T), "--repeat", str(a.repeat)]
        C.log("  " + " ".join(cmd))
        out = subprocess.run(cmd, capture_output=True, text=True)
        line = next((ln for ln in out.stdout.splitlines() if ln.startswith("{")), None)
        if out.returncode != 0 or line is None:
            result["verify"]["harness"] = {"ok": False, "errors": [out.stderr.strip()[-2000:]]}
        else:
            h = json.loads(line)
            errs = [] if h.get("samples") == n else [f"chute-bench decoded {h.get('samples')} samples, expected {n}"]
            runs["harness"] = {**C.rates(n, jpeg_bytes, h["seconds"]),
                               "stored_MB_per_s_reported": h.get("stored_MB_per_s"),
                               "decoded_MB_per_s": h.get("decoded_MB_per_s"), "raw": h,
                               "what": " ".join(os.path.basename(c) if c == harness else c for c in cmd)}
            result["verify"]["harness"] = {"ok": not errs, "errors": errs}

    chute_s = runs["chute"]["seconds"]
    result["ratios"] = {f"chute_speed_over_{k}": C.ratio(runs[k]["seconds"], chute_s)
                        for k in ("pil_files", "pil_bytes", "harness") if k in runs}
    result["ok"] = all(v.get("ok") for v in result["verify"].values())
    path = C.write_json("decode.json", result, a.out)

    rows = [[k, v["seconds"], v["images_per_s"], v["MB_per_s"], v.get("decoded_MB_per_s"),
             C.ratio(v["seconds"], chute_s)] for k, v in runs.items()]
    print(f"\ndecode: {n} JPEGs ({jpeg_bytes / 1e6:.1f} MB), {T} thread(s), best of {a.repeat}; "
          f"files and chunks in the page cache")
    print(C.table(rows, ["method", "seconds", "images/s", "JPEG MB/s", "pixel MB/s", "chute speed ÷ this"]))
    v = result["verify"]["pixels"]
    print(f"verify pixels: {v['bit_exact']}/{v['compared']} bit-exact vs PIL, max abs diff {v['max_abs_diff']}"
          + "".join(f"\n  {e}" for e in v["shape_errors"]))
    if "harness" in result["verify"] and not result["verify"]["harness"]["ok"]:
        print("verify harness: FAILED" + "".join(f"\n  {e}" for e in result["verify"]["harness"]["errors"]))
    for c in result["caveats"]:
        print(f"caveat: {c}")
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    res = main()
    sys.exit(0 if res["ok"] else 1)
