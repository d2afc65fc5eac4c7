"""chute.seq against SeqTools 1.4.1 (its own venv) on the seed 002 notebook's pipeline, in one run:

  cached  the notebook's last cell: Image.open -> normalize_size (crop + resize 200x200) -> grayscale
          -> autocontrast(cutoff=3) -> add_cache(20) -> mirror; collate([contrasted, flipped]) ->
          unbatch(2) -> prefetch(max_buffered=10, nworkers=2): 2 outputs per photo
  concat  the notebook's first prefetch cell: the same maps without the cache,
          concatenate([contrasted, flipped]) -> prefetch(max_buffered=10, nworkers=2)

on 1,000 real photos (640 x 400-480 JPEGs cut from scikit-image's bundled color photos, with a
little noise, quality 90; made once into data/seq_photos). Each library runs the same code
(bench/seq_jobs.py, `import chute.seq as seqtools` for chute) with prefetch method "thread" and
"process", and without prefetch ("serial": list() of the view, which iterates). Every run is a fresh
child, timed around building the views and `list()` of them, with the CPU time of the child and its
workers; rows run round-robin, `--rounds` times, the figure is each row's best round. Every output
is verified: the SHA-1 over all output images must equal SeqTools' serial result (exit 1 if not).

    .venv/bin/python bench/bench_seq.py                 # 1,000 photos, 3 rounds
    .venv/bin/python bench/bench_seq.py --num 200 --rounds 1

Set up the baseline once: `python3 -m venv .venv-seqtools && .venv-seqtools/bin/pip install
seqtools==1.4.1 pillow numpy`. Writes bench/results/seq.json (or --out).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402

JOBS = os.path.join(C.BENCH, "seq_jobs.py")
SEQTOOLS = os.path.join(C.ROOT, ".venv-seqtools", "bin", "python")
PHOTOS = os.path.join(C.DATA, "seq_photos")
TARGET = 1.5
PHOTOS_VERSION = 1


def make_photos(folder: str, num: int, seed: int = 0) -> None:
    """640 x (400-480) JPEGs like the notebook's pixabay photos, from scikit-image's color photos."""
    marker = os.path.join(folder, ".complete")
    want = {"num": num, "seed": seed, "version": PHOTOS_VERSION}
    try:
        with open(marker) as f:
            if json.load(f) == want:
                return
    except (OSError, ValueError):
        pass
    import numpy as np
    import skimage.data as skd
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    sources = [skd.astronaut(), skd.coffee(), skd.chelsea(), skd.rocket(), skd.stereo_motorcycle()[0],
               skd.immunohistochemistry(), skd.hubble_deep_field(), skd.retina()]
    sources = [np.ascontiguousarray(s[..., :3]) for s in sources]
    rng = np.random.default_rng(seed)
    for i in range(num):
        src = sources[i % len(sources)]
        h, w = src.shape[:2]
        oh = int(rng.integers(400, 481))
        aspect = 640 / oh
        cw = min(w, h * aspect) * float(np.sqrt(rng.uniform(0.4, 1.0)))
        ch = cw / aspect
        x0, y0 = rng.uniform(0, w - cw), rng.uniform(0, h - ch)
        im = Image.fromarray(src).resize((640, oh), Image.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch))
        a = np.asarray(im).astype(np.int16) + rng.normal(0, 6, (oh, 640, 3)).astype(np.int16)
        Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).save(os.path.join(folder, f"{i:04d}.jpg"), quality=90)
    with open(marker, "w") as f:
        json.dump(want, f)


def run(lib: str, pipeline: str, method: str, folder: str, num: int) -> dict:
    py = SEQTOOLS if lib == "seqtools" else sys.executable
    r = subprocess.run([py, JOBS, "--lib", lib, "--pipeline", pipeline, "--method", method, "--folder", folder,
                        "--num", str(num)], capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        return {"ok": False, "error": r.stderr[-2000:]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--num", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pipelines", default="cached,concat")
    ap.add_argument("--out", default=os.path.join(C.RESULTS, "seq.json"))
    args = ap.parse_args()
    if not os.path.exists(SEQTOOLS):
        sys.exit("no SeqTools venv: python3 -m venv .venv-seqtools && "
                 ".venv-seqtools/bin/pip install seqtools==1.4.1 pillow numpy")
    make_photos(PHOTOS, max(args.num, 1000))
    files = sorted(os.path.join(PHOTOS, f) for f in os.listdir(PHOTOS) if f.endswith(".jpg"))[:args.num]
    nbytes, _ = C.warm(files)
    C.log(f"photos: {len(files)} JPEGs, {nbytes / 1e6:.1f} MB in {PHOTOS}")
    rows = [(lib, m) for m in ("serial", "thread", "process") for lib in ("seqtools", "chute")]
    results: dict = {}
    failed = False
    for pipeline in args.pipelines.split(","):
        runs: dict = {f"{lib}-{m}": [] for lib, m in rows}
        for rnd in range(args.rounds):
            for lib, m in rows:
                r = run(lib, pipeline, m, PHOTOS, args.num)
                runs[f"{lib}-{m}"].append(r)
                C.log(f"{pipeline} round {rnd + 1} {lib}-{m}: " + (
                    f"{r['seconds']:.3f} s, cpu {r['cpu_seconds']:.2f} s" if r.get("ok") else "FAILED\n" + r["error"]))
        ref = next((r["sha1"] for r in runs["seqtools-serial"] if r.get("ok")), None)
        summary = {}
        for name, rs in runs.items():
            good = [r for r in rs if r.get("ok")]
            same = bool(good) and all(r["sha1"] == ref and r["outputs"] == 2 * args.num for r in good)
            if not same or len(good) != len(rs):
                failed = True
            best = min(good, key=lambda r: r["seconds"]) if good else None
            summary[name] = {"ok": same and len(good) == len(rs),
                             "seconds": best["seconds"] if best else None,
                             "seconds_all": [r["seconds"] for r in good],
                             "cpu_seconds": best["cpu_seconds"] if best else None,
                             "images_per_second": round(2 * args.num / best["seconds"], 1) if best else None}
        st_best = min((summary[f"seqtools-{m}"]["seconds"] for m in ("thread", "process")
                       if summary[f"seqtools-{m}"]["seconds"]), default=None)
        for m in ("thread", "process"):
            c = summary[f"chute-{m}"]["seconds"]
            if c and st_best:
                summary[f"chute-{m}"]["ratio_vs_seqtools_best"] = round(st_best / c, 2)
        best_chute = min((summary[f"chute-{m}"]["seconds"] for m in ("thread", "process")
                          if summary[f"chute-{m}"]["seconds"]), default=None)
        results[pipeline] = {"rows": summary, "seqtools_best_seconds": st_best, "chute_best_seconds": best_chute,
                             "ratio": round(st_best / best_chute, 2) if st_best and best_chute else None,
                             "target": TARGET}
        print(f"\n{pipeline}: {args.num} photos, {2 * args.num} outputs (best of {args.rounds})")
        print(f"  {'row':18s} {'seconds':>8s} {'cpu s':>7s} {'img/s':>7s}  ratio vs SeqTools' best prefetch")
        for name, s in summary.items():
            ratio = s.get("ratio_vs_seqtools_best")
            print(f"  {name:18s} {s['seconds'] or float('nan'):8.3f} {s['cpu_seconds'] or float('nan'):7.2f} "
                  f"{s['images_per_second'] or float('nan'):7.1f}  {'' if ratio is None else f'{ratio:.2f}x'}"
                  f"{'' if s['ok'] else '  WRONG OUTPUT OR FAILED'}")
        r = results[pipeline]["ratio"]
        print(f"  chute best / SeqTools best: {r}x (target {TARGET}x: {'met' if r and r >= TARGET else 'MISSED'})")
    out = {"benchmark": "seq", "num_photos": args.num, "rounds": args.rounds, "photos": PHOTOS,
           "machine": C.machine_info(), "results": results}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    print(f"\nwrote {args.out}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
