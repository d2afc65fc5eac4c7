"""Ray benchmark (issue 11): chute on a local Ray (`ray.init(num_cpus=W)`), baselines in the same run
on the same data.

  read   chute.ray.read of the 5,000-image dataset (engine decode in the read tasks) + map_batches
         resizing every image to 224x224 with PIL, against Ray Data's own ray.data.read_images of the
         same JPEG folder with the same map_batches function
  flip   the seed's flip_vertical (bench/transform_jobs.py) on 2,000 images with
         eval(..., num_workers=W, scheduler="ray") against scheduler="processed", same data

    .venv/bin/python bench/bench_ray.py                          # reference sizes
    .venv/bin/python bench/bench_ray.py --num-images 500 --flip-images 200 --repeat 1   # quick trial

Every row runs in a fresh child process. Ray's start-up (`ray.init`) is timed on its own and not in
the rows; each row then runs --repeat times in that Ray session and reports its first and best
run (the first includes Ray's worker start-up and import of the map's modules in the workers).
Outputs are checked: the read rows count rows and compare a probe of resized pixels between the two
readers (both decode with libjpeg-turbo, so within a small tolerance); the flip rows are checked
as bench_transform checks them. Writes bench/results/ray.json (or --out).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402

SIZE = 224
PROBE = [0, 1, 777, 2500, 4999]


def resize_batch(batch: dict) -> dict:
    """The map both readers run: every image (HWC uint8, sizes vary) to 224x224 RGB with PIL's
    bilinear resize; labels kept when present."""
    import numpy as np
    from PIL import Image

    key = "images" if "images" in batch else "image"
    out = np.stack([np.asarray(Image.fromarray(np.asarray(a)).resize((SIZE, SIZE), Image.BILINEAR))
                    for a in batch[key]])
    res = {"images": out}
    if "path" in batch:
        res["path"] = batch["path"]
    if "labels" in batch:
        res["labels"] = np.asarray(batch["labels"]).reshape(len(out), -1)[:, 0]
    return res


def _consume(rd, batch_size: int, files: list[str]) -> tuple[int, dict]:
    """Rows seen, and the probe rows' pixels by their index in the sorted file list (chute's rows
    are in that order; read_images' rows are matched by their path)."""
    import numpy as np

    index = {os.path.basename(f): i for i, f in enumerate(files)}
    n, probes = 0, {}
    for b in rd.iter_batches(batch_size=batch_size, batch_format="numpy"):
        for k in range(len(b["images"])):
            i = index[os.path.basename(str(b["path"][k]))] if "path" in b else n + k
            if i in PROBE:
                probes[i] = b["images"][k]
        n += len(b["images"])
    return n, {i: np.asarray(a) for i, a in probes.items()}


def child(spec: dict) -> dict:
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    import numpy as np
    import ray

    t0 = time.perf_counter()
    ray.init(num_cpus=spec["workers"], include_dashboard=False, log_to_driver=False)
    startup = time.perf_counter() - t0
    ray.data.DataContext.get_current().execution_options.preserve_order = True
    ray.data.DataContext.get_current().enable_progress_bars = False
    times, check = [], {}
    try:
        for _ in range(spec["repeat"]):
            if spec["row"] in ("chute_ray_read", "ray_read_images"):
                import chute

                t0 = time.perf_counter()
                if spec["row"] == "chute_ray_read":
                    rd = chute.ray.read(spec["dataset"], tensors=["images", "labels"])
                else:
                    rd = ray.data.read_images(spec["folder"], mode="RGB", include_paths=True)
                rd = rd.map_batches(resize_batch, batch_format="numpy", batch_size=64)
                n, probes = _consume(rd, 256, C.source_files(spec["folder"]))
                times.append(time.perf_counter() - t0)
                check = {"rows": n, "probe_sums": {str(i): int(a.astype(np.int64).sum()) for i, a in probes.items()}}
                np.savez(spec["probe_file"], **{str(i): a for i, a in probes.items()})
            else:
                import transform_jobs as J

                import chute

                src = chute.load(spec["dataset"], read_only=True)
                out = chute.like(spec["dest"], src, overwrite=True)
                fn = chute.compute(J.flip_vertical)
                t0 = time.perf_counter()
                fn().eval(src, out, num_workers=spec["workers"], scheduler=spec["scheduler"], progressbar=False)
                times.append(time.perf_counter() - t0)
                del out
                res = chute.load(spec["dest"], read_only=True)
                n = len(src)
                verify = J.check_images(len(res), n, lambda i, src=src: src.images[i].numpy(),
                                        lambda i, res=res: res.images[i].numpy(),
                                        lambda a: np.flip(a, axis=0), J.TOL, wrong=lambda a: a)
                verify["errors"] += J.check_labels(src, res)
                check = {"rows": len(res), "errors": verify["errors"]}
    finally:
        ray.shutdown()
    return {"startup_s": round(startup, 3), "times": [round(t, 4) for t in times], "check": check}


def launch(spec: dict) -> dict:
    here = os.path.abspath(__file__)
    r = subprocess.run([sys.executable, here, "--child", json.dumps(spec)], capture_output=True, text=True,
                       timeout=3600, cwd=os.path.dirname(here))
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")]
    if r.returncode != 0 or not lines:
        raise RuntimeError(f"{spec['row']}: child exit {r.returncode}:\n{r.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--num-images", type=int, default=C.DEFAULT_NUM_IMAGES, help="images of the read job")
    p.add_argument("--flip-images", type=int, default=2000, help="images of the flip job")
    p.add_argument("--workers", type=int, default=2, help="ray.init(num_cpus=...) and num_workers")
    p.add_argument("--repeat", type=int, default=3, help="runs of each row in its Ray session")
    p.add_argument("--jobs", default="read,flip")
    p.add_argument("--work", default=C.default_work())
    p.add_argument("--out", help="JSON path (default bench/results/ray.json)")
    a = p.parse_args(argv)
    jobs = [j.strip() for j in a.jobs.split(",") if j.strip()]

    import numpy as np

    import chute

    work = os.path.join(os.path.abspath(a.work), "ray")
    os.makedirs(work, exist_ok=True)
    result = {"bench": "ray", "machine": C.machine_info(), "workers": a.workers, "repeat": a.repeat,
              "ray": __import__("ray").__version__, "rows": {}, "ratios": {}}
    datasets = {}
    for job, n in (("read", a.num_images), ("flip", a.flip_images)):
        if job not in jobs:
            continue
        folder = os.path.abspath(C.default_source(n))
        C.ensure_source(folder, n)
        C.warm(C.source_files(folder))
        ds_path = os.path.join(work, f"chute_src_{n}")
        # made anew each run (a few seconds), in the folder's sorted order, so that row i is file i
        chute.ingest_classification(folder, ds_path, progressbar=False, summary=False, overwrite=True, shuffle=False)
        C.warm(C.source_files(ds_path))
        datasets[job] = (folder, ds_path, n)

    rows = []
    if "read" in jobs:
        folder, ds_path, n = datasets["read"]
        for row in ("chute_ray_read", "ray_read_images"):
            rows.append({"row": row, "job": "read", "n": n, "folder": folder, "dataset": ds_path,
                         "probe_file": os.path.join(work, f"{row}_probe.npz")})
    if "flip" in jobs:
        folder, ds_path, n = datasets["flip"]
        for sched in ("ray", "processed"):
            rows.append({"row": f"chute_flip_{sched}", "job": "flip", "n": n, "dataset": ds_path,
                         "scheduler": sched, "dest": os.path.join(work, f"flip_{sched}")})
    ok = True
    for spec in rows:
        spec.update(workers=a.workers, repeat=a.repeat)
        C.log(f"{spec['row']}: {spec['n']} images ...")
        r = launch(spec)
        best = min(r["times"])
        r.update(best_s=best, first_s=r["times"][0], per_s=round(spec["n"] / best, 1),
                 first_per_s=round(spec["n"] / r["times"][0], 1))
        if r["check"]["rows"] != spec["n"] or r["check"].get("errors"):
            ok = False
        result["rows"][spec["row"]] = r
        C.log(f"  ray.init {r['startup_s']:.2f} s; runs {r['times']} s; best {r['per_s']:.0f} images/s")
    R = result["rows"]
    if "chute_ray_read" in R and "ray_read_images" in R:
        pa = np.load(os.path.join(work, "chute_ray_read_probe.npz"))
        pb = np.load(os.path.join(work, "ray_read_images_probe.npz"))
        mad = {k: float(np.abs(pa[k].astype(np.int16) - pb[k].astype(np.int16)).mean()) for k in pa.files}
        result["read_probe_mean_abs_diff"] = mad
        if set(pa.files) != set(pb.files) or max(mad.values()) > 2.0:
            ok = False
        result["ratios"]["read_chute_over_ray_read_images"] = {
            "value": C.ratio(R["chute_ray_read"]["per_s"], R["ray_read_images"]["per_s"]), "target": 2.0,
            "first_run": C.ratio(R["chute_ray_read"]["first_per_s"], R["ray_read_images"]["first_per_s"])}
    if "chute_flip_ray" in R and "chute_flip_processed" in R:
        result["ratios"]["flip_ray_over_processed"] = {
            "value": C.ratio(R["chute_flip_ray"]["per_s"], R["chute_flip_processed"]["per_s"]), "target": None,
            "first_run": C.ratio(R["chute_flip_ray"]["first_per_s"], R["chute_flip_processed"]["first_per_s"])}
    result["ok"] = ok
    out = a.out or os.path.join(C.RESULTS, "ray.json")
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    for name, v in result["ratios"].items():
        C.log(f"{name}: {v['value']}x (first run {v['first_run']}x; target {v['target']})")
    C.log(f"wrote {out}; outputs {'verified' if ok else 'FAILED verification'}")
    if not ok:
        raise SystemExit(1)
    return result


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print("RESULT " + json.dumps(child(json.loads(sys.argv[2]))), flush=True)
    else:
        main()
