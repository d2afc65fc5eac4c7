"""Transform benchmark: chute.compute (serial, threaded, processed) against Deep Lake 3.9.52's
deeplake.compute (oracle venv) and a plain multiprocessing.Pool, on three jobs over the same data:

  flip    the seed's flip_vertical on N ImageNet-like JPEGs (decode, np.flip, store as JPEG into a
          dataset made with `like`); default N = 2000
  cpu     a pure-Python loop of ~2 ms per sample that outputs a 3-int array; default 2000 samples
  resize  Resize to 224x224 + JPEG re-encode of M images into a new dataset; default M = 5000

    .venv/bin/python bench/bench_transform.py                     # reference sizes
    .venv/bin/python bench/bench_transform.py --num-images 200    # quick trial (all jobs at 200)
    .venv/bin/python bench/bench_transform.py --jobs flip --no-deeplake --repeat 1

Every row runs in a fresh child process (bench/transform_jobs.py: the jobs, the checks of their
outputs, and the engine-only row's plug-in point), timed inside it around the transform call only,
while this process samples the memory of the child's whole process tree. Outputs are verified after
every run; the script exits non-zero when a verification fails or a row crashes. Writes
bench/results/transform.json (or --out).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402
import transform_jobs as J  # noqa: E402

DEFAULT_FLIP_IMAGES = 2000
DEFAULT_RESIZE_IMAGES = 5000


# ---- memory of a child's process tree, and one row run in a child ----
_PAGE = os.sysconf("SC_PAGE_SIZE")


class TreeMemory(threading.Thread):
    """Samples, from /proc, the summed RSS of a process and all its descendants every `interval`
    seconds and their summed PSS every `rescan` samples (when it also looks for new descendants).
    Peaks count only while `active` is set (the child's timed region). RSS counts pages shared by
    forked workers once per process; PSS splits them, so the PSS sum is the memory really in use.
    The sampler runs in the parent, not in the measured tree; a scan of /proc costs ~2 ms, a
    sample of the known processes a few tens of microseconds."""

    def __init__(self, root: int, interval: float = 0.05, rescan: int = 5):
        super().__init__(daemon=True)
        self.root, self.interval, self.rescan = root, interval, rescan
        self.active = False
        self.pids = {root}
        self.peak_rss = self.peak_pss = 0
        self.max_procs = self.samples = 0
        self._halt = threading.Event()

    def _scan(self) -> None:
        kids: dict[int, list[int]] = {}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    s = f.read()
            except OSError:
                continue
            ppid = int(s[s.rindex(b")") + 2:].split()[1])
            kids.setdefault(ppid, []).append(int(name))
        tree, todo = set(), [self.root]
        while todo:
            pid = todo.pop()
            tree.add(pid)
            todo += kids.get(pid, [])
        self.pids = tree

    @staticmethod
    def _rss(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                return int(f.read().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            return 0

    @staticmethod
    def _pss(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
                for line in f:
                    if line.startswith(b"Pss:"):
                        return int(line.split()[1]) * 1024
        except (OSError, IndexError, ValueError):
            pass
        return 0

    def run(self) -> None:
        tick = 0
        while not self._halt.is_set():
            if tick % self.rescan == 0:
                self._scan()
                if self.active:
                    self.peak_pss = max(self.peak_pss, sum(self._pss(p) for p in self.pids))
            if self.active:
                self.peak_rss = max(self.peak_rss, sum(self._rss(p) for p in self.pids))
                self.max_procs = max(self.max_procs, len(self.pids))
                self.samples += 1
            tick += 1
            self._halt.wait(self.interval)

    def stop(self) -> dict:
        self._halt.set()
        self.join()
        return {"peak_rss_sum_MB": round(self.peak_rss / 1e6, 1), "peak_pss_sum_MB": round(self.peak_pss / 1e6, 1),
                "max_processes": self.max_procs, "samples": self.samples}


def launch(python: str, spec: dict, env: dict | None = None, timeout: float = 3600, interval: float = 0.05) -> dict:
    """Runs one row in a child (its own session, so a timeout kills its whole tree) and returns its
    #result, plus the memory of its process tree during the timed region."""
    with tempfile.TemporaryFile(mode="w+") as err:
        proc = subprocess.Popen([python, os.path.abspath(J.__file__), "--row", json.dumps(spec)], stdout=subprocess.PIPE,
                                stderr=err, text=True, env=env, start_new_session=True)
        mem = TreeMemory(proc.pid, interval)
        mem.start()
        timer = threading.Timer(timeout, lambda: os.killpg(proc.pid, signal.SIGKILL))
        timer.start()
        result = None
        try:
            for line in proc.stdout:
                if line.startswith("#timed-start"):
                    mem.active = True
                elif line.startswith("#timed-end"):
                    mem.active = False
                elif line.startswith("#result "):
                    result = json.loads(line[len("#result "):])
            rc = proc.wait()
        finally:
            timer.cancel()
            memory = mem.stop()
        if rc != 0 or result is None:
            err.seek(0)
            raise RuntimeError(f"{spec.get('row', spec['kind'])}: child exit {rc}:\n{err.read()[-3000:]}")
    result["memory"] = memory
    return result


# ---- the rows ----
def row_specs(a, paths: dict, w: int) -> list[dict]:
    flip = {"job": "flip", "src": paths["chute_flip"], "tol": J.TOL}
    cpu = {"job": "cpu", "n": a.cpu_samples, "iters": a.cpu_iters}
    resize = {"job": "resize", "src": paths["chute_resize"], "size": J.RESIZE, "tol": J.TOL}
    dl_flip = {**flip, "src": paths["deeplake_flip"]}
    rows = [
        # flip
        {"row": "chute_flip_serial", **flip, "kind": "chute", "workers": 0, "scheduler": "serial",
         "what": "chute: the seed's flip_vertical().eval(ds, ds_out, num_workers=0) (scheduler serial)"},
        {"row": "chute_flip_threaded", **flip, "kind": "chute", "workers": w, "scheduler": "threaded",
         "what": f"chute: the same, num_workers={w}, scheduler='threaded'"},
        {"row": "chute_flip_processed", **flip, "kind": "chute", "workers": w, "scheduler": "processed",
         "what": f"chute: the same, num_workers={w}, scheduler='processed'"},
        {"row": "deeplake_flip_threaded", **dl_flip, "kind": "deeplake", "workers": w, "scheduler": "threaded",
         "what": f"deeplake 3.9.52: the same code on its ingest of the same folder, num_workers={w}, threaded"},
        {"row": "deeplake_flip_processed", **dl_flip, "kind": "deeplake", "workers": w, "scheduler": "processed",
         "what": f"deeplake 3.9.52: the same, num_workers={w}, processed"},
        {"row": "pool_flip_npy", "job": "flip", "src": paths["flip_folder"], "kind": "npy", "workers": w,
         "what": f"multiprocessing.Pool({w}): PIL decode of each source file, np.flip, np.save to .npy"},
        {"row": "pool_flip_jpeg", "job": "flip", "src": paths["flip_folder"], "kind": "jpeg", "workers": w,
         "tol": J.TOL, "what": f"multiprocessing.Pool({w}): the same, saved as JPEG q{J.JPEG_QUALITY} (chute's work)"},
        # cpu
        {"row": "python_cpu_loop", **cpu, "kind": "loop", "workers": 0,
         "what": "a plain Python loop over the samples (no executor)"},
        {"row": "chute_cpu_serial", **cpu, "kind": "chute", "workers": 0, "scheduler": "serial",
         "what": "chute: cpu_job(iters).eval(list(range(n)), ds_out, num_workers=0)"},
        {"row": "chute_cpu_threaded", **cpu, "kind": "chute", "workers": w, "scheduler": "threaded",
         "what": f"chute: the same, num_workers={w}, threaded (the GIL serialises it)"},
        {"row": "chute_cpu_processed", **cpu, "kind": "chute", "workers": w, "scheduler": "processed",
         "what": f"chute: the same, num_workers={w}, processed"},
        {"row": "deeplake_cpu_threaded", **cpu, "kind": "deeplake", "workers": w, "scheduler": "threaded",
         "what": f"deeplake 3.9.52: the same, num_workers={w}, threaded"},
        {"row": "deeplake_cpu_processed", **cpu, "kind": "deeplake", "workers": w, "scheduler": "processed",
         "what": f"deeplake 3.9.52: the same, num_workers={w}, processed"},
        {"row": "pool_cpu", **cpu, "kind": "pool", "workers": w,
         "what": f"multiprocessing.Pool({w}).map(cpu_work, chunksize=16), stacked and saved as one .npy"},
        # resize
        {"row": "chute_engine_resize", **resize, "kind": "chute", "engine": True, "workers": w, "scheduler": "threaded",
         "tol": J.TOL,
         "what": f"chute.compute({{'images': [ops.Resize(224)]}}).eval(ds, ds_out, num_workers={w}): decode, resize, "
                 "JPEG encode and write on the engine's threads"},
        {"row": "chute_resize_threaded", **resize, "kind": "chute", "workers": w, "scheduler": "threaded",
         "what": f"chute: resize_job(224) as a Python compute function (PIL resize), num_workers={w}, threaded"},
        {"row": "chute_resize_processed", **resize, "kind": "chute", "workers": w, "scheduler": "processed",
         "what": f"chute: the same, num_workers={w}, processed"},
        {"row": "pool_resize_jpeg", "job": "resize", "src": paths["resize_folder"], "kind": "jpeg", "workers": w,
         "size": J.RESIZE, "tol": J.TOL,
         "what": f"multiprocessing.Pool({w}): PIL decode, resize((224, 224), BILINEAR), save JPEG q{J.JPEG_QUALITY}"},
        {"row": "pool_resize_jpeg_draft", "job": "resize", "src": paths["resize_folder"], "kind": "draft",
         "workers": w, "size": J.RESIZE, "tol": J.TOL_DRAFT,
         "what": "the same with Image.draft (libjpeg's DCT downscale while decoding, as a careful user would)"},
    ]
    return [r for r in rows if r["job"] in a.jobs]


def summarize(runs: list[dict], n: int) -> dict:
    best = min(runs, key=lambda r: r["seconds"])
    mem = [r["memory"] for r in runs]
    errs = [e for r in runs for e in r["verify"]["errors"]]
    return {
        "seconds": round(best["seconds"], 4), "per_s": round(n / best["seconds"], 1),
        "seconds_fsync": round(min(r["seconds_fsync"] for r in runs), 4),
        "times": [round(r["seconds"], 4) for r in runs],
        "peak_rss_sum_MB": max(m["peak_rss_sum_MB"] for m in mem),
        "peak_pss_sum_MB": max(m["peak_pss_sum_MB"] for m in mem),
        "max_processes": max(m["max_processes"] for m in mem),
        "maxrss_self_MB": max(r["maxrss_self_MB"] for r in runs),
        "maxrss_largest_child_MB": max(r["maxrss_largest_child_MB"] for r in runs),
        "verify": {**{k: v for k, v in runs[-1]["verify"].items() if k != "errors"}, "ok": not errs,
                   "errors": sorted(set(errs))},
    }


# (name, faster row, slower row, target): speed of the first over the second.
RATIOS = [
    ("cpu_processed_over_serial", "chute_cpu_processed", "chute_cpu_serial", 1.8),
    ("cpu_threaded_over_serial", "chute_cpu_threaded", "chute_cpu_serial", None),
    ("cpu_serial_over_plain_loop", "chute_cpu_serial", "python_cpu_loop", None),
    ("cpu_processed_over_deeplake_processed", "chute_cpu_processed", "deeplake_cpu_processed", None),
    ("cpu_processed_over_pool", "chute_cpu_processed", "pool_cpu", None),
    ("flip_threaded_over_serial", "chute_flip_threaded", "chute_flip_serial", 1.6),
    ("flip_processed_over_deeplake_processed", "chute_flip_processed", "deeplake_flip_processed", 2.0),
    ("flip_threaded_over_deeplake_threaded", "chute_flip_threaded", "deeplake_flip_threaded", None),
    ("flip_processed_over_pool_npy", "chute_flip_processed", "pool_flip_npy", 1.3),
    ("flip_processed_over_pool_jpeg", "chute_flip_processed", "pool_flip_jpeg", None),
    ("resize_engine_over_pool", "chute_engine_resize", "pool_resize_jpeg", 3.0),
    ("resize_engine_over_pool_draft", "chute_engine_resize", "pool_resize_jpeg_draft", None),
    ("resize_engine_over_python_processed", "chute_engine_resize", "chute_resize_processed", None),
    ("resize_python_processed_over_pool", "chute_resize_processed", "pool_resize_jpeg", None),
]


def ratios(runs: dict) -> dict:
    out = {}
    for name, fast, slow, target in RATIOS:
        if fast in runs and slow in runs:
            v = C.ratio(runs[fast]["per_s"], runs[slow]["per_s"])
            durable = C.ratio(runs[slow]["seconds_fsync"] / runs[slow]["n"], runs[fast]["seconds_fsync"] / runs[fast]["n"])
            out[name] = {"value": v, "target": target, "met": None if target is None else v >= target,
                         "value_both_fsynced": durable}
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--num-images", type=int, default=DEFAULT_FLIP_IMAGES, help="images of the flip job")
    p.add_argument("--resize-images", type=int, help=f"images of the resize job (default {DEFAULT_RESIZE_IMAGES}; "
                   "--num-images when that is given)")
    p.add_argument("--cpu-samples", type=int, help="samples of the cpu job (default: --num-images)")
    p.add_argument("--cpu-iters", type=int, default=10000, help="loop iterations per cpu sample (~2 ms)")
    p.add_argument("--workers", type=int, default=2, help="num_workers / Pool size")
    p.add_argument("--jobs", default="flip,cpu,resize", help="comma-separated subset of flip,cpu,resize")
    p.add_argument("--repeat", type=int, default=3, help="runs of each chute / Pool row, each in a fresh process")
    p.add_argument("--deeplake-repeat", type=int, default=1, help="runs of each deeplake row")
    p.add_argument("--no-deeplake", action="store_true", help="skip the Deep Lake 3 rows")
    p.add_argument("--rss-interval", type=float, default=0.05, help="seconds between memory samples")
    p.add_argument("--work", default=C.default_work(), help="scratch folder (datasets and outputs)")
    p.add_argument("--keep", action="store_true", help="keep the outputs in --work/transform")
    p.add_argument("--out", help="JSON path (default bench/results/transform.json)")
    a = p.parse_args(argv)
    a.jobs = [j.strip() for j in a.jobs.split(",") if j.strip()]
    bad = [j for j in a.jobs if j not in ("flip", "cpu", "resize")]
    if bad:
        p.error(f"unknown job(s) {bad}")
    if a.resize_images is None:
        a.resize_images = DEFAULT_RESIZE_IMAGES if a.num_images == DEFAULT_FLIP_IMAGES else a.num_images
    a.cpu_samples = a.cpu_samples or a.num_images

    import chute

    has_compute = callable(getattr(chute, "compute", None)) and callable(getattr(chute, "compose", None))
    has_engine = has_compute and J.engine_api_available(chute)
    work = os.path.join(os.path.abspath(a.work), "transform")
    os.makedirs(work, exist_ok=True)
    result = {"bench": "transform", "machine": C.machine_info(), "workers": a.workers, "jobs": a.jobs,
              "flip_images": a.num_images, "resize_images": a.resize_images, "cpu_samples": a.cpu_samples,
              "cpu_iters": a.cpu_iters, "repeat": a.repeat, "deeplake_repeat": a.deeplake_repeat,
              "memory": "peak over the timed region of the summed RSS (every --rss-interval s) and summed PSS "
                        "(every 5th sample) of the row's process and all its descendants; the launcher excluded",
              "sources": {}, "runs": {}, "skipped": {}, "failed": {}}

    # Sources, warmed into the page cache; chute datasets ingested (untimed).
    paths = {}
    need = {"flip": ("flip", a.num_images), "resize": ("resize", a.resize_images)}
    for job, (key, n) in need.items():
        if job not in a.jobs:
            continue
        folder = os.path.abspath(C.default_source(n))
        result["sources"][key] = C.ensure_source(folder, n)
        files = C.source_files(folder)
        C.warm(files)
        ds_path = os.path.join(work, f"chute_src_{n}")
        if ds_path in paths.values():  # flip and resize at the same size share one dataset
            paths[f"{key}_folder"], paths[f"chute_{key}"] = folder, ds_path
            continue
        ds = chute.ingest_classification(folder, ds_path, progressbar=False, summary=False, overwrite=True)
        if len(ds) != len(files):
            raise SystemExit(f"chute ingest of {folder}: {len(ds)} rows for {len(files)} files")
        del ds
        paths[f"{key}_folder"], paths[f"chute_{key}"] = folder, ds_path
        C.log(f"{key}: {len(files)} images in {folder}, chute dataset {ds_path}")
    paths.setdefault("chute_flip", None)
    paths.setdefault("chute_resize", None)
    paths.setdefault("flip_folder", None)
    paths.setdefault("resize_folder", None)

    oracle, dl_env, dl_skip = None, None, None
    if a.no_deeplake:
        dl_skip = "--no-deeplake"
    else:
        oracle = C.oracle_python()
        dl_skip = None if oracle else "the Deep Lake oracle venv is not available"
        dl_env = dict(os.environ, BUGGER_OFF="true")
    paths["deeplake_flip"] = None
    if "flip" in a.jobs and not dl_skip:
        dest = os.path.join(work, f"deeplake_src_{a.num_images}")
        try:
            r = launch(oracle, {"kind": "deeplake_ingest", "src": paths["flip_folder"], "dest": dest}, dl_env)
            if r["len"] != a.num_images:
                raise RuntimeError(f"deeplake ingest: {r['len']} rows for {a.num_images} files")
            paths["deeplake_flip"] = dest
            C.log(f"flip: deeplake {r['version']} dataset {dest}")
        except RuntimeError as e:
            result["failed"]["deeplake_ingest"] = str(e)
            dl_skip = "deeplake ingest failed"

    specs = row_specs(a, paths, a.workers)
    for spec in specs:
        name = spec["row"]
        if spec["kind"] == "chute" and not has_compute:
            result["skipped"][name] = "chute.compute is not available yet (the executor of issue 9)"
        elif spec.get("engine") and not has_engine:
            result["skipped"][name] = "the engine-only transform API is not plugged in (engine_api_available)"
        elif spec["kind"] == "deeplake" and dl_skip:
            result["skipped"][name] = dl_skip
        if name in result["skipped"]:
            C.log(f"  {name}: skipped ({result['skipped'][name]})")
            continue
        deeplake = spec["kind"] == "deeplake"
        spec = {**spec, "dest": os.path.join(work, f"out_{name}"), "keep": a.keep}
        n = spec["n"] if spec["job"] == "cpu" else (a.num_images if spec["job"] == "flip" else a.resize_images)
        runs = []
        try:
            for k in range(a.deeplake_repeat if deeplake else a.repeat):
                load = round(os.getloadavg()[0], 2)
                r = launch(oracle if deeplake else sys.executable, spec, dl_env if deeplake else None,
                           interval=a.rss_interval)
                r["loadavg_before"] = load
                runs.append(r)
                C.log(f"  {name} run {k + 1}: {r['seconds']:.3f} s ({n / r['seconds']:.1f}/s), "
                      f"peak RSS sum {r['memory']['peak_rss_sum_MB']} MB, PSS sum {r['memory']['peak_pss_sum_MB']} MB, "
                      f"verify {'ok' if r['verify']['ok'] else 'FAILED: ' + '; '.join(r['verify']['errors'])}")
        except RuntimeError as e:
            C.log(f"  {name}: FAILED\n{e}")
            result["failed"][name] = str(e)
            continue
        result["runs"][name] = {**summarize(runs, n), "n": n, "what": spec["what"],
                                "loadavg_before": [r["loadavg_before"] for r in runs]}
        if runs[-1].get("version"):
            result["runs"][name]["version"] = runs[-1]["version"]
    if not a.keep:
        C.remove(work)

    result["ratios"] = ratios(result["runs"])
    result["ok"] = not result["failed"] and all(v["verify"]["ok"] for v in result["runs"].values())
    path = C.write_json("transform.json", result, a.out)

    print(f"\ntransform: flip {a.num_images} images, cpu {a.cpu_samples} samples x {a.cpu_iters} iterations, "
          f"resize {a.resize_images} images to {J.RESIZE}x{J.RESIZE}; {a.workers} workers; best of {a.repeat} "
          f"(deeplake {a.deeplake_repeat}); sources warmed in the page cache")
    rows = [[k, v["n"], v["seconds"], v["per_s"], v["seconds_fsync"], v["peak_rss_sum_MB"], v["peak_pss_sum_MB"],
             v["max_processes"], "ok" if v["verify"]["ok"] else "FAILED"] for k, v in result["runs"].items()]
    print(C.table(rows, ["row", "n", "seconds", "per s", "s +fsync", "peak RSS sum MB", "peak PSS sum MB",
                         "procs", "verify"]))
    if result["ratios"]:
        print("\nratios (speed of the first row over the second; > 1: the first is faster)")
        print(C.table([[k, v["value"], v["target"], {True: "yes", False: "NO", None: ""}[v["met"]]]
                       for k, v in result["ratios"].items()], ["ratio", "value", "target", "met"]))
    for k, why in result["skipped"].items():
        print(f"skipped {k}: {why}")
    for k, v in result["runs"].items():
        for e in v["verify"]["errors"]:
            print(f"verify {k}: FAILED: {e}")
    for k, e in result["failed"].items():
        print(f"failed {k}: {e.splitlines()[0] if e else ''}")
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    res = main()
    sys.exit(0 if res["ok"] else 1)
