"""One timed run of the seed 002 notebook's pipeline (bench/bench_seq.py runs this in a fresh child).

Runs under SeqTools' venv (`--lib seqtools`) or chute's (`--lib chute`, `import chute.seq as
seqtools`): the pipeline code below is the notebook's, word for word, whichever library runs it.
Prints one JSON line: seconds (around the evaluation only), CPU seconds of the process and its
children, the number of outputs and a SHA-1 over every output image (mode, size, pixels) in order.
Imports only Pillow and the library, so it runs in either venv.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import time

from PIL import Image, ImageOps


def normalize_size(im):
    w, h = im.size
    left_crop = w // 2 - h // 2
    return im.resize((200, 200), Image.BILINEAR, box=(left_crop, 1, h, h))


def build(seqtools, image_files, pipeline: str, method: str | None):
    if pipeline == "concat":  # the notebook's first prefetch cell: no cache, each photo read twice
        raw_images = seqtools.smap(Image.open, image_files)
        small_images = seqtools.smap(normalize_size, raw_images)
        grayscale = seqtools.smap(ImageOps.grayscale, small_images)
        contrasted = seqtools.smap(lambda im: ImageOps.autocontrast(im, cutoff=3), grayscale)
        flipped = seqtools.smap(ImageOps.mirror, contrasted)
        out = seqtools.concatenate([contrasted, flipped])
    else:  # "cached": the notebook's last cell
        raw_images = seqtools.smap(Image.open, image_files)
        small_images = seqtools.smap(normalize_size, raw_images)
        grayscale = seqtools.smap(ImageOps.grayscale, small_images)
        contrasted = seqtools.smap(lambda im: ImageOps.autocontrast(im, cutoff=3), grayscale)
        contrasted = seqtools.add_cache(contrasted, cache_size=20)
        flipped = seqtools.smap(ImageOps.mirror, contrasted)
        grouped = seqtools.collate([contrasted, flipped])
        out = seqtools.unbatch(grouped, batch_size=2)
    if method is None:
        return out
    return seqtools.prefetch(out, max_buffered=10, nworkers=2, method=method)


def cpu_seconds() -> float:
    """This process, its reaped children, and its live children (prefetch workers still running,
    read from /proc, since daemon workers are killed at exit and never reaped)."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    total = s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime
    me = str(os.getpid())
    tick = os.sysconf("SC_CLK_TCK")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:  # ppid
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", choices=["seqtools", "chute"], required=True)
    ap.add_argument("--pipeline", choices=["concat", "cached"], required=True)
    ap.add_argument("--method", choices=["serial", "thread", "process"], required=True)
    ap.add_argument("--folder", required=True)
    ap.add_argument("--num", type=int, default=1000)
    args = ap.parse_args()
    if args.lib == "seqtools":
        import seqtools
    else:
        import chute.seq as seqtools
    files = sorted(f for f in os.listdir(args.folder) if f.endswith(".jpg"))[:args.num]
    os.chdir(args.folder)  # the notebook works in the photos' folder with bare file names
    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    seq = build(seqtools, files, args.pipeline, None if args.method == "serial" else args.method)
    computed_values = list(seq)
    seconds = time.perf_counter() - t0
    cpu = cpu_seconds() - cpu0
    h = hashlib.sha1()
    for im in computed_values:
        h.update(f"{im.mode}{im.size}".encode())
        h.update(im.tobytes())
    print(json.dumps({"lib": args.lib, "pipeline": args.pipeline, "method": args.method, "ok": True,
                      "seconds": round(seconds, 4), "cpu_seconds": round(cpu, 3),
                      "outputs": len(computed_values), "sha1": h.hexdigest()}))


if __name__ == "__main__":
    main()
