"""The self-contained wheel and the sdist (`make wheel`, scripts/build_wheel.sh).

The repaired wheel installs into a fresh virtual environment with numpy alone, its extension resolves
every non-system library inside the wheel, and it ingests, queries, loads and talks to S3 in a mount
namespace where the system's copies of the libraries it vendors are hidden. The sdist builds from source
in a fresh environment. A missing -dev package stops CMake with the package's name. One version is read
everywhere."""
import email.parser
import glob
import json
import os
import re
import runpy
import shutil
import subprocess
import sys
import tarfile
import textwrap
import venv
import zipfile
from types import SimpleNamespace

import numpy as np
import pytest
import tomllib
from PIL import Image

import chute

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VERSION = runpy.run_path(os.path.join(ROOT, "python", "chute", "_version.py"))["__version__"]
# The libraries the issue names: each must come from the wheel, never from the system.
NAMED = ("libturbojpeg", "libjpeg", "libpng16", "liblz4", "libzstd", "libcurl", "libcrypto", "libssl")
# What a manylinux system provides (auditwheel's policy): the only libraries the wheel may take from it.
SYSTEM = {"linux-vdso.so.1", "ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1",
          "libpthread.so.0", "libdl.so.2", "librt.so.1", "libz.so.1", "libresolv.so.2", "libutil.so.1", "libnsl.so.1"}
# Python's ctypes (imported by numpy) loads the system's libffi whatever chute does, so that copy stays visible.
INTERPRETER_NEEDS = ("libffi",)
unshare = shutil.which("unshare")


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert r.returncode == 0, f"{cmd} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def original_name(vendored: str) -> str:
    """auditwheel's name for a copied library -> the system file's name (libzstd-6bb594bb.so.1.5.4 -> libzstd.so.1.5.4)."""
    return re.sub(r"-[0-9a-f]{8}(?=[.])", "", vendored)


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    r = run(["bash", os.path.join(ROOT, "scripts", "build_wheel.sh")], env=dict(os.environ, CHUTE_DIST=str(out)))
    (wheel,) = glob.glob(str(out / f"chute-{VERSION}-*manylinux*.whl"))
    return SimpleNamespace(wheel=wheel, sdist=str(out / f"chute-{VERSION}.tar.gz"), log=r.stdout)


def fresh_venv(path, *install):
    venv.create(path, with_pip=True)
    py = str(path / "bin" / "python")
    run([py, "-m", "pip", "install", "-q", *install])
    site = run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['platlib'])"]).stdout.strip()
    return SimpleNamespace(py=py, bin=str(path / "bin"), site=site)


@pytest.fixture(scope="module")
def installed(dist, tmp_path_factory):
    """The repaired wheel in a fresh venv, installed as a user would: `pip install chute-*.whl`."""
    return fresh_venv(tmp_path_factory.mktemp("wheel-venv") / "v", dist.wheel)


def ldd(path):
    out = run(["ldd", path]).stdout
    libs = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) => (.+?)(?: \(0x[0-9a-f]+\))?$", line)
        if m:
            libs[m.group(1)] = m.group(2) if m.group(2) == "not found" else os.path.normpath(m.group(2))
    return libs


def test_make_wheel_builds_a_manylinux_wheel_and_an_sdist(dist):
    assert re.search(r"manylinux_2_\d+_x86_64\.whl$", dist.wheel), dist.wheel
    assert re.search(r'platform tag: "manylinux_2_\d+_x86_64"', dist.log), dist.log
    assert os.path.getsize(dist.sdist) > 0
    with zipfile.ZipFile(dist.wheel) as z:
        vendored = {original_name(os.path.basename(n)) for n in z.namelist() if n.startswith("chute.libs/")}
    for lib in NAMED:
        assert any(v.startswith(lib + ".so") for v in vendored), f"{lib} is not vendored: {sorted(vendored)}"


def test_the_wheel_ships_every_module_of_the_package(dist):
    """Every .py of python/chute (subpackages included), the stub and py.typed are in the wheel."""
    pkg = os.path.join(ROOT, "python")
    want = {os.path.relpath(p, pkg) for p in glob.glob(os.path.join(pkg, "chute", "**", "*.py"), recursive=True)}
    want |= {"chute/_core.pyi", "chute/py.typed"}
    with zipfile.ZipFile(dist.wheel) as z:
        shipped = set(z.namelist())
    assert want <= shipped, f"missing from the wheel: {sorted(want - shipped)}"


def test_the_core_install_pulls_numpy_alone_and_the_extras_name_each_integration(dist, installed):
    with zipfile.ZipFile(dist.wheel) as z:
        meta = email.parser.Parser().parsestr(z.read(f"chute-{VERSION}.dist-info/METADATA").decode())
    assert meta["Version"] == VERSION
    requires = meta.get_all("Requires-Dist")
    core = [r for r in requires if "extra ==" not in r]
    assert [re.split(r"[<>=!~ ;\[]", r)[0] for r in core] == ["numpy"], core

    def extra(name):
        return {r.split(";")[0].strip() for r in requires if re.search(rf"extra == ['\"]{name}['\"]", r)}

    assert set(meta.get_all("Provides-Extra")) >= {"torch", "tensorflow", "ray", "all"}
    assert any(r.startswith("torch") for r in extra("torch"))
    assert any(r.startswith("tensorflow") for r in extra("tensorflow"))
    assert any(r.startswith("ray[") for r in extra("ray"))
    for name in ("torch", "tensorflow", "ray", "image", "progress"):
        assert extra(name) <= extra("all"), f"chute[all] misses {extra(name) - extra('all')}"
    listed = json.loads(run([installed.py, "-m", "pip", "list", "--format=json"]).stdout)
    assert {p["name"].lower() for p in listed} - {"pip", "setuptools"} == {"chute", "numpy"}


def test_one_version_everywhere(installed):
    code = "import chute, chute._core as c, importlib.metadata as m; print(chute.__version__, c.__version__, m.version('chute'))"
    assert run([installed.py, "-c", code]).stdout.split() == [VERSION] * 3
    assert run([os.path.join(installed.bin, "chute"), "--version"]).stdout.strip() == f"chute {VERSION}"
    assert run([os.path.join(installed.bin, "chute-bench"), "--version"]).stdout.strip() == f"chute-bench {VERSION}"
    # and the development build agrees
    assert chute.__version__ == chute._core.__version__ == VERSION


def test_ldd_of_the_installed_extension_resolves_inside_the_wheel(installed):
    libdir = os.path.join(installed.site, "chute.libs")
    (core,) = glob.glob(os.path.join(installed.site, "chute", "_core*.so"))
    for binary in (core, os.path.join(installed.site, "chute", "_bin", "chute-bench")):
        libs = ldd(binary)
        assert "not found" not in libs.values(), libs
        outside = {n: p for n, p in libs.items() if not p.startswith(libdir + "/") and n not in SYSTEM}
        assert not outside, f"{os.path.basename(binary)} takes these from the system: {outside}"
        for lib in NAMED[:5]:
            assert any(original_name(n).startswith(lib + ".so") and p.startswith(libdir) for n, p in libs.items()), \
                f"{os.path.basename(binary)}: {lib} does not resolve inside the wheel: {libs}"
    libs = ldd(core)
    for lib in NAMED[5:]:  # libcurl and OpenSSL: the object-storage backend (chute-bench links them too)
        assert any(original_name(n).startswith(lib + ".so") and p.startswith(libdir) for n, p in libs.items()), lib


def test_the_commands_work_where_pip_installs_outside_the_environment(dist, tmp_path):
    """`pip install --target` (and `--user`): the package is not in the interpreter's platlib, and both
    commands still start (the harness is found beside the package, not through sysconfig)."""
    v = fresh_venv(tmp_path / "v", "numpy")
    target = tmp_path / "target"
    run([v.py, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), dist.wheel])
    env = dict(os.environ, PYTHONPATH=str(target))
    assert run([str(target / "bin" / "chute-bench"), "--version"], env=env).stdout.strip() == f"chute-bench {VERSION}"
    assert run([str(target / "bin" / "chute"), "--version"], env=env).stdout.strip() == f"chute {VERSION}"


def system_copies(installed) -> list[str]:
    """The system's files for every library the wheel vendors (those Python itself loads excepted)."""
    hidden = []
    for f in sorted(os.listdir(os.path.join(installed.site, "chute.libs"))):
        name = original_name(f)
        if name.startswith(INTERPRETER_NEEDS):
            continue
        for d in ("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib", "/lib"):
            if os.path.exists(os.path.join(d, name)):
                hidden.append(os.path.realpath(os.path.join(d, name)))
                break
    return sorted(set(hidden))


HIDDEN_RUN = textwrap.dedent("""
    import glob, json, os, subprocess, sys
    hidden = os.environ["HIDDEN"].split()
    for f in hidden:  # the mount namespace really hides them
        assert os.path.getsize(f) == 0, f
    import numpy as np
    import chute
    src, dest, png_path, url = sys.argv[1:5]

    # ingest a class-per-folder JPEG tree (progress bar without tqdm, which the core install lacks)
    chute.ingest_classification(src, dest, progressbar=True)
    ds = chute.load(dest, read_only=True)
    # a query
    ones = ds.query("SELECT * WHERE labels == 1")
    # a loader epoch, JPEG decoded by the engine's libjpeg-turbo
    shapes, labels = [], []
    for b in ds.dataloader().batch(4).numpy(tensors=["images", "labels"], return_index=False):
        shapes += [tuple(x.shape) for x in b["images"]]
        labels += [int(x) for x in np.asarray(b["labels"]).reshape(-1)]
    first = ds.images[0].numpy()

    # PNG through libpng, zstd and lz4 chunks, both ways
    p = chute.empty(png_path)
    p.create_tensor("im", htype="image", sample_compression="png")
    p.create_tensor("z", dtype="float32", chunk_compression="zstd")
    p.create_tensor("l", dtype="int64", chunk_compression="lz4")
    rng = np.random.default_rng(0)
    ims = [rng.integers(0, 255, (17 + i, 23, 3), dtype=np.uint8) for i in range(5)]
    with p:
        p.im.extend(ims)
        p.z.extend([np.full((40,), i, np.float32) for i in range(5)])
        p.l.extend([np.arange(30, dtype=np.int64) * i for i in range(5)])
    p = chute.load(png_path, read_only=True)
    png_ok = all(np.array_equal(p.im[i].numpy(), ims[i]) for i in range(5))
    zl_ok = p.z[3].numpy().tolist() == [3.0] * 40 and p.l[4].numpy().tolist() == list(range(0, 120, 4))

    # object storage: libcurl and OpenSSL (SigV4) from the wheel
    creds = json.loads(os.environ["S3_CREDS"])
    r = chute.empty(url, creds=creds)
    r.create_tensor("x", dtype="int32")
    r.x.extend([np.arange(i, dtype=np.int32) for i in range(1, 9)])
    r.flush()
    back = chute.load(url, read_only=True, creds=creds)
    s3_ok = [back.x[i].numpy().tolist() for i in range(8)] == [list(range(i)) for i in range(1, 9)]

    bench = subprocess.run([os.path.join(os.path.dirname(sys.executable), "chute-bench"), dest, "--tensor", "images",
                            "-t", "1", "--repeat", "1"], capture_output=True, text=True)
    maps = {line.split()[-1] for line in open("/proc/self/maps") if ".so" in line.split()[-1]}
    core = glob.glob(os.path.join(os.path.dirname(chute._core.__file__), "_core*.so"))[0]
    ldd = subprocess.run(["ldd", core], capture_output=True, text=True).stdout
    print(json.dumps({"rows": len(ds), "ones": len(ones), "shapes": shapes, "labels": labels,
                      "first": first.astype(float).mean(), "png_ok": png_ok, "zl_ok": zl_ok, "s3_ok": s3_ok,
                      "bench": bench.stdout, "bench_rc": bench.returncode, "bench_err": bench.stderr[-2000:],
                      "maps": sorted(maps), "ldd": ldd}))
""")


@pytest.mark.skipif(unshare is None or os.geteuid() != 0, reason="hiding system libraries needs root and unshare -m")
def test_the_wheel_works_where_the_system_copies_of_its_libraries_are_hidden(installed, tmp_path, photos, s3):
    src = tmp_path / "src"
    expected = {}
    for c in range(3):
        (src / f"class{c}").mkdir(parents=True)
        for i in range(4):
            arr = np.ascontiguousarray(photos[(c + i) % 4][: 90 + 7 * i, : 70 + 5 * c])
            Image.fromarray(arr).save(src / f"class{c}" / f"{i}.jpg", quality=95)
            expected[(c, i)] = arr.shape
    hidden = system_copies(installed)
    for lib in NAMED:
        assert any(os.path.basename(h).startswith(lib + ".so") for h in hidden), f"no system copy of {lib} to hide"
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    script = tmp_path / "run.py"
    script.write_text(HIDDEN_RUN)
    bucket = s3.bucket()
    hide = 'for f in $HIDDEN; do mount --bind "$EMPTY" "$f" || exit 3; done; exec "$@"'
    env = dict(os.environ, HIDDEN=" ".join(hidden), EMPTY=str(empty), S3_CREDS=json.dumps(s3.creds()))
    env.pop("PYTHONPATH", None)
    r = subprocess.run([unshare, "-m", "--propagation", "private", "sh", "-c", hide, "sh", installed.py, str(script),
                        str(src), str(tmp_path / "ds"), str(tmp_path / "png"), f"s3://{bucket}/wheel"],
                       capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=300)
    assert r.returncode == 0, r.stderr[-4000:]
    # the control: the development build, linked against the system's libraries, cannot load there
    control = subprocess.run([unshare, "-m", "--propagation", "private", "sh", "-c", hide, "sh", sys.executable, "-c",
                              "import chute"], capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=300)
    assert control.returncode != 0 and "ImportError" in control.stderr, control.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["rows"] == 12 and out["ones"] == 4
    assert sorted(out["labels"]) == [0] * 4 + [1] * 4 + [2] * 4
    assert sorted(tuple(s) for s in out["shapes"]) == sorted(expected.values())
    assert out["png_ok"] and out["zl_ok"] and out["s3_ok"]
    assert out["bench_rc"] == 0, out["bench_err"]
    assert json.loads(out["bench"])["samples"] == 12
    assert "ingest src" in r.stderr  # the plain progress bar (no tqdm in a core install)
    # what the process mapped: the wheel's copies, none of the hidden system files
    libdir = os.path.join(installed.site, "chute.libs")
    assert not set(out["maps"]) & set(hidden)
    for lib in NAMED:
        assert any(m.startswith(libdir) and os.path.basename(m).startswith(lib + "-") for m in out["maps"]), \
            f"{lib} was not loaded from the wheel: {out['maps']}"
    assert "not found" not in out["ldd"]


@pytest.mark.skipif(unshare is None or os.geteuid() != 0, reason="hiding system libraries needs root and unshare -m")
def test_a_ddp_job_runs_on_the_wheel_with_torch_and_the_system_copies_hidden(installed, dist, tmp_path, photos):
    """chute[torch] as a training job has it: the wheel beside torch (pinned: the CPU build on this machine's
    disk), two torchrun ranks loading with distributed=True through DDP, the system's libraries hidden."""
    v = fresh_venv(tmp_path / "v", dist.wheel, "torch==2.13.0")
    path = str(tmp_path / "ds")
    ds = chute.empty(path)
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.create_tensor("labels", htype="class_label")
    with ds:
        for i in range(37):
            ds.images.append(np.ascontiguousarray(photos[i % 4][: 48 + i, : 40 + i]))
            ds.labels.append(i % 3)
    worker = tmp_path / "ddp_worker.py"  # outside tests/, so nothing of the repository is on its path
    shutil.copy(os.path.join(ROOT, "tests", "ddp_worker.py"), worker)
    hidden = system_copies(installed)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    env = dict(os.environ, HIDDEN=" ".join(hidden), EMPTY=str(empty), OMP_NUM_THREADS="1")
    env.pop("PYTHONPATH", None)
    hide = 'for f in $HIDDEN; do mount --bind "$EMPTY" "$f" || exit 3; done; exec "$@"'
    out = tmp_path / "result.json"
    r = subprocess.run([unshare, "-m", "--propagation", "private", "sh", "-c", hide, "sh", os.path.join(v.bin, "torchrun"),
                        "--standalone", "--nproc_per_node=2", str(worker), path, str(out)],
                       capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    ranks = json.loads(out.read_text())
    assert ranks[0]["seed"] == ranks[1]["seed"]
    for epoch in range(2):
        got = [g["epochs"][epoch] for g in ranks]
        assert [g["steps"] for g in got] == [5, 5]
        both = got[0]["seen"] + got[1]["seen"]
        assert set(both) == set(range(37)) and len(both) == 38  # every row, plus one padding row


def test_the_wheel_runs_with_numpy_1_26(dist, tmp_path):
    v = fresh_venv(tmp_path / "v", dist.wheel, "numpy==1.26.*")
    code = (
        "import numpy as np, chute, os; ds = chute.empty(os.environ['DS']);"
        "ds.create_tensor('x', dtype='int32'); ds.x.append(np.arange(5, dtype=np.int32));"
        "ds.create_tensor('im', htype='image', sample_compression='png');"
        "ds.im.append(np.full((3, 4, 3), 7, np.uint8));"
        "r = chute.load(os.environ['DS']); assert r.x[0].numpy().tolist() == [0, 1, 2, 3, 4];"
        "assert r.im[0:1].numpy().sum() == 7 * 36; print(np.__version__)"
    )
    out = run([v.py, "-c", code], env=dict(os.environ, DS=str(tmp_path / "ds")), cwd=str(tmp_path))
    assert out.stdout.strip().startswith("1.26")


def test_the_sdist_builds_from_source_in_a_fresh_venv(dist, tmp_path):
    with tarfile.open(dist.sdist) as t:
        t.extractall(tmp_path, filter="data")
    src = tmp_path / f"chute-{VERSION}"
    assert not (src / "build").exists() and not (src / "data").exists()
    with open(src / "pyproject.toml", "rb") as f:
        build_requires = tomllib.load(f)["build-system"]["requires"]
    v = fresh_venv(tmp_path / "v", *build_requires, "ninja")
    # Build requirements installed first and no isolation, so the compiler sees the same paths on every
    # run and ccache (relative to tmp_path) can serve the objects; the build itself is the sdist's.
    env = dict(os.environ, CCACHE_BASEDIR=str(tmp_path), CCACHE_NOHASHDIR="1",
               CMAKE_BUILD_PARALLEL_LEVEL=str(os.cpu_count() or 2))
    run([v.py, "-m", "pip", "install", "-q", "--no-build-isolation", str(src)], env=env, cwd=str(tmp_path))
    code = textwrap.dedent("""
        import os, numpy as np, chute
        ds = chute.empty(os.environ["DS"])
        ds.create_tensor("images", htype="image", sample_compression="jpeg")
        ds.create_tensor("labels", htype="class_label", class_names=["a", "b"])
        rng = np.random.default_rng(1)
        with ds:
            for i in range(10):
                ds.append({"images": rng.integers(0, 255, (32, 40, 3), dtype=np.uint8), "labels": i % 2})
        ds = chute.load(os.environ["DS"], read_only=True)
        n = sum(len(b["images"]) for b in ds.dataloader().batch(3).numpy())
        print(n, len(ds.query("SELECT * WHERE labels == 1")), chute.__version__)
    """)
    out = run([v.py, "-c", code], env=dict(os.environ, DS=str(tmp_path / "ds")), cwd=str(tmp_path))
    assert out.stdout.split() == ["10", "5", VERSION]
    assert run([os.path.join(v.bin, "chute"), "--version"]).stdout.strip() == f"chute {VERSION}"


@pytest.mark.parametrize("package,debian", [("lz4", "liblz4-dev"), ("CURL", "libcurl4-openssl-dev"),
                                            ("libjpeg-turbo", "libturbojpeg0-dev")])
def test_a_missing_dev_package_stops_cmake_with_its_name(tmp_path, package, debian):
    r = subprocess.run(["cmake", "-S", ROOT, "-B", str(tmp_path / "b"), "-DCHUTE_BUILD_PYTHON=OFF",
                        "-DCHUTE_BUILD_BENCH=OFF", f"-DCMAKE_DISABLE_FIND_PACKAGE_{package}=TRUE"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    err = " ".join(r.stderr.split())
    assert f"chute needs {package}" in err and f"apt-get install {debian}" in err, r.stderr
    assert r.stderr.count("CMake Error") == 1, r.stderr  # that message alone, not CMake's own as well
