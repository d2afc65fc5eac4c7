"""Helpers shared by the benchmarks: paths, timing (best of k), the synthetic source folder, fsync of a
tree, the Deep Lake 3.9.52 oracle interpreter, JSON results and a little machine description.

This module must import in the oracle venv too (the Deep Lake subprocess uses fsync_tree), so it
imports neither chute nor numpy at module level.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
RESULTS = os.path.join(BENCH, "results")
DATA = os.path.join(ROOT, "data")
DEFAULT_NUM_IMAGES = 5000
ORACLE_SETUP = os.path.join(ROOT, "tests", "oracle", "setup_venv.sh")


# ---- folders ----
def default_source(num_images: int) -> str:
    """data/imagenet_like for the default size; data/imagenet_like_<N> otherwise, so a small trial run
    never replaces the full-size folder."""
    name = "imagenet_like" if num_images == DEFAULT_NUM_IMAGES else f"imagenet_like_{num_images}"
    return os.path.join(DATA, name)


def default_work() -> str:
    """Scratch space for copies and datasets: under data/, i.e. on the same filesystem as the source."""
    return os.path.join(DATA, "bench_work")


def ensure_source(folder: str, num_images: int, num_classes: int = 20, seed: int = 0) -> dict:
    from chute.synthetic import make_imagenet_like

    t0 = time.perf_counter()
    stats = make_imagenet_like(folder, num_images=num_images, num_classes=num_classes, seed=seed,
                               progressbar=sys.stderr.isatty())
    how = "found" if stats.get("cached") else f"made in {time.perf_counter() - t0:.1f} s"
    log(f"source: {folder}: {stats['files']} JPEGs, {stats['bytes'] / 1e6:.1f} MB, "
        f"mean {stats['mean_kb']:.1f} KB ({how})")
    return {k: v for k, v in stats.items() if k != "classes"}


def source_files(folder: str) -> list[str]:
    """The image files of a class-per-folder tree, sorted (hidden files skipped, as ingest does)."""
    out = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out += [os.path.join(root, f) for f in sorted(files) if not f.startswith(".")]
    return out


def warm(paths: list[str]) -> tuple[int, float]:
    """Reads every file once so that all runs find them in the page cache. Returns (bytes, seconds)."""
    t0 = time.perf_counter()
    total = 0
    for p in paths:
        with open(p, "rb") as f:
            total += len(f.read())
    return total, time.perf_counter() - t0


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def hash_files(paths: list[str]) -> dict[str, str]:
    """{sha1 of contents: path}."""
    out = {}
    for p in paths:
        with open(p, "rb") as f:
            out[sha1(f.read())] = p
    return out


def tree_bytes(path: str) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total


def remove(path: str) -> None:
    if os.path.lexists(path):
        shutil.rmtree(path)


def fsync_tree(path: str) -> int:
    """fsync of every file and folder under path (what makes a copy as durable as chute's chunks).
    Returns the number of files."""
    n = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            fd = os.open(os.path.join(root, f), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            n += 1
        fd = os.open(root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return n


def settle() -> None:
    """Flushes earlier writes (untimed) so that a run does not pay for the previous one's dirty pages."""
    if hasattr(os, "sync"):
        os.sync()


# ---- timing ----
def best_of(fn, repeat: int, setup=None, label: str = "") -> dict:
    """Runs setup() (untimed) then fn() (timed) `repeat` times. Returns {best, times, result} where
    result is the last fn() return value."""
    times, result = [], None
    for r in range(max(1, repeat)):
        result = None  # drop the previous run's output before the next run
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        result = fn()
        dt = time.perf_counter() - t0
        times.append(dt)
        if label:
            log(f"  {label} run {r + 1}/{repeat}: {dt:.3f} s")
    return {"best": min(times), "times": [round(t, 4) for t in times], "result": result}


def rates(n: int, nbytes: int, seconds: float) -> dict:
    return {"seconds": round(seconds, 4), "images_per_s": round(n / seconds, 1),
            "MB_per_s": round(nbytes / seconds / 1e6, 1)}


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if a and b else None


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _numeric(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def table(rows: list[list], header: list[str]) -> str:
    cells = [header] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for k, r in enumerate(cells):
        lines.append("  ".join(c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(r, widths)))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


# ---- results ----
def write_json(name: str, obj: dict, path: str | None = None) -> str:
    path = path or os.path.join(RESULTS, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)
    return path


def machine_info() -> dict:
    info = {"python": platform.python_version(), "platform": platform.platform(),
            "cpu_count": os.cpu_count(), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    try:
        info["loadavg_at_start"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        import chute

        info["chute"] = chute.__version__
    except Exception:
        pass
    try:
        import PIL
        from PIL import features

        info["pillow"] = PIL.__version__
        info["pillow_libjpeg_turbo_version"] = features.version("libjpeg_turbo")
    except Exception:
        pass
    try:  # the libjpeg-turbo that chute's engine loaded (it links the system's, Pillow bundles its own)
        with open("/proc/self/maps") as f:
            libs = sorted({ln.split()[-1] for ln in f if "turbojpeg" in ln or "libjpeg" in ln})
        info["loaded_jpeg_libs"] = [os.path.realpath(p) for p in libs]
    except OSError:
        pass
    try:
        out = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True)
        if out.returncode == 0:
            info["git"] = out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except OSError:
        pass
    return info


# ---- the Deep Lake 3.9.52 oracle ----
_ORACLE: list = []


def oracle_python() -> str | None:
    """The oracle venv's python ($CHUTE_ORACLE_PYTHON, else tests/oracle/setup_venv.sh), or None."""
    if _ORACLE:
        return _ORACLE[0]
    py = os.environ.get("CHUTE_ORACLE_PYTHON")
    if not py:
        try:
            out = subprocess.run(["bash", ORACLE_SETUP], capture_output=True, text=True, timeout=1800)
            lines = out.stdout.strip().splitlines()
            py = lines[-1] if out.returncode == 0 and lines else None
            if py is None:
                log(f"oracle venv unavailable: {out.stderr.strip()[-500:]}")
        except (OSError, subprocess.TimeoutExpired) as e:
            log(f"oracle venv unavailable: {e}")
            py = None
    _ORACLE.append(py)
    return py


def run_oracle(code: str, args: list[str], timeout: float = 3600) -> dict:
    """Runs `code` in the oracle venv (BUGGER_OFF=true; bench/ on sys.path) and returns the JSON object
    it prints on its last stdout line."""
    py = oracle_python()
    if py is None:
        raise RuntimeError("the Deep Lake oracle venv is not available")
    env = dict(os.environ, BUGGER_OFF="true", PYTHONPATH=BENCH)
    out = subprocess.run([py, "-c", code, *args], capture_output=True, text=True, env=env, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"oracle run failed (exit {out.returncode}):\n{out.stderr[-3000:]}")
    lines = [ln for ln in out.stdout.strip().splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError(f"oracle run printed no JSON:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return json.loads(lines[-1])
