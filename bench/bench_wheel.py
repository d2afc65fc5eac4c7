"""The self-contained wheel: its size, and how long `import chute` takes from it.

    .venv/bin/python bench/bench_wheel.py              # reference run (~2 minutes with a warm ccache)
    .venv/bin/python bench/bench_wheel.py --runs 5     # smoke run

1. Size: the wheel `make wheel` builds (scripts/build_wheel.sh: auditwheel-repaired, manylinux), split
   into the vendored libraries (chute.libs/, and what each weighs compressed) and chute's own files
   (the extension, the chute-bench harness, the Python package), and its installed size.
2. `import chute` time: the wheel installed into a fresh venv (numpy is then the only other package).
   `--runs` rounds, each starting fresh interpreters that time one import with perf_counter around
   it (interpreter start-up excluded), alternated in every round: `import numpy` in the same venv (the
   floor: chute imports numpy), `import chute` there, and `import deeplake` (3.9.52, in the oracle venv
   of tests/oracle/setup_venv.sh, BUGGER_OFF=true) as the peer a Deep Lake 3 user replaces. Medians and
   bests; ratios chute/deeplake and chute - numpy (what chute adds). Target: import chute <= 0.3 s
   without torch. One untimed round first (pip wrote the .pyc files at install; this warms the page cache).

Verified (the script exits non-zero otherwise): after `import chute`, none of torch, tensorflow, ray,
pandas, PIL or tqdm is imported; the wheel carries libjpeg-turbo, libpng, lz4, zstd, libcurl and
OpenSSL. Writes bench/results/wheel.json.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import venv
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402

TIMED = ("import time; t = time.perf_counter(); import {mod}; dt = time.perf_counter() - t; import sys; "
         "print(dt, *sorted(m for m in ('torch', 'tensorflow', 'ray', 'pandas', 'PIL', 'tqdm') if m in sys.modules))")
NAMED = ("libturbojpeg", "libjpeg", "libpng16", "liblz4", "libzstd", "libcurl", "libcrypto", "libssl")


def build_wheel(out: str) -> str:
    C.log("== make wheel (scripts/build_wheel.sh)")
    r = subprocess.run(["bash", os.path.join(C.ROOT, "scripts", "build_wheel.sh")], capture_output=True, text=True,
                       env=dict(os.environ, CHUTE_DIST=out))
    if r.returncode != 0:
        raise SystemExit(f"build_wheel.sh failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    (wheel,) = [os.path.join(out, f) for f in os.listdir(out) if f.endswith(".whl")]
    return wheel


def sizes(wheel: str) -> dict:
    parts: dict[str, int] = {}
    libs: dict[str, int] = {}
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            name = info.filename
            if name.startswith("chute.libs/"):
                key = "vendored libraries (chute.libs/)"
                libs[os.path.basename(name)] = info.compress_size
            elif name.startswith("chute/_core"):
                key = "extension (chute/_core*.so)"
            elif name.startswith("chute/_bin/"):
                key = "chute-bench (chute/_bin/)"
            else:
                key = "Python package, metadata"
            parts[key] = parts.get(key, 0) + info.compress_size
    missing = [n for n in NAMED if not any(f.startswith(n + "-") for f in libs)]
    if missing:
        raise SystemExit(f"the wheel does not vendor {missing}")
    top = sorted(libs.items(), key=lambda kv: -kv[1])
    return {"wheel_bytes": os.path.getsize(wheel), "parts_compressed": parts, "vendored_count": len(libs),
            "vendored_largest": dict(top[:8])}


def timed_import(python: str, mod: str, env: dict | None = None) -> tuple[float, list[str]]:
    r = subprocess.run([python, "-c", TIMED.format(mod=mod)], capture_output=True, text=True, env=env, timeout=600,
                       cwd=tempfile.gettempdir())
    if r.returncode != 0:
        raise SystemExit(f"{python} -c 'import {mod}' failed:\n{r.stderr[-2000:]}")
    first, *heavy = r.stdout.split()
    return float(first), heavy


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--no-deeplake", action="store_true", help="skip the Deep Lake 3 import baseline")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="chute-bench-wheel-")
    wheel = build_wheel(os.path.join(work, "dist"))
    result: dict = {"machine": C.machine_info(), "wheel": os.path.basename(wheel), "size": sizes(wheel)}

    C.log("== fresh venv with the wheel")
    venv.create(os.path.join(work, "v"), with_pip=True)
    py = os.path.join(work, "v", "bin", "python")
    subprocess.run([py, "-m", "pip", "install", "-q", wheel], check=True, capture_output=True)
    site = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['platlib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    installed = sum(C.tree_bytes(os.path.join(site, d)) for d in ("chute", "chute.libs"))
    result["size"]["installed_bytes"] = installed

    baselines = [("numpy", py, "numpy", None), ("chute", py, "chute", None)]
    oracle = None if args.no_deeplake else C.oracle_python()
    if oracle:
        baselines.append(("deeplake", oracle, "deeplake", dict(os.environ, BUGGER_OFF="true")))
    times: dict[str, list[float]] = {name: [] for name, *_ in baselines}
    for rnd in range(args.runs + 1):
        for name, python, mod, env in baselines:
            dt, heavy = timed_import(python, mod, env)
            if name == "chute" and heavy:
                raise SystemExit(f"import chute imported {heavy}")
            if rnd:
                times[name].append(dt)
        if rnd:
            C.log(f"  round {rnd}/{args.runs}: " + ", ".join(f"{n} {t[-1]:.3f} s" for n, t in times.items()))
    imports = {n: {"median_s": round(statistics.median(t), 4), "best_s": round(min(t), 4), "times": [round(x, 4) for x in t]}
               for n, t in times.items()}
    result["import"] = imports
    med = {n: v["median_s"] for n, v in imports.items()}
    result["ratios"] = {"chute_over_deeplake": C.ratio(med["chute"], med.get("deeplake")),
                        "chute_minus_numpy_s": round(med["chute"] - med["numpy"], 4)}
    if oracle:
        result["deeplake"] = subprocess.run([oracle, "-c", "import importlib.metadata as m; print(m.version('deeplake'))"],
                                            capture_output=True, text=True).stdout.strip()

    s = result["size"]
    print(f"wheel {result['wheel']}: {s['wheel_bytes'] / 1e6:.2f} MB, installed {installed / 1e6:.1f} MB")
    print(C.table([[k, f"{v / 1e6:.2f}"] for k, v in sorted(s["parts_compressed"].items(), key=lambda kv: -kv[1])],
                  ["part of the wheel", "MB compressed"]))
    print(f"{s['vendored_count']} vendored libraries; largest: " +
          ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in s["vendored_largest"].items()))
    print(C.table([[n, v["median_s"], v["best_s"]] for n, v in imports.items()], ["import", "median s", "best s"]))
    print(f"chute / deeplake: {result['ratios']['chute_over_deeplake']}; chute adds "
          f"{result['ratios']['chute_minus_numpy_s']:.3f} s to numpy's import (target: import chute <= 0.3 s)")
    print("wrote", C.write_json("wheel.json", result))
    C.remove(work)


if __name__ == "__main__":
    main()
