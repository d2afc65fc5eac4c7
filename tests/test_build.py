"""The build routes the README promises: a wheel that installs in a fresh venv, and the Conan recipe."""
import ast
import glob
import os
import re
import shutil
import subprocess
import sys
import venv
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)

# The oldest Python the package runs on: loader/workers.py calls traceback.format_exception(exc) (one
# argument, 3.10+), and torch, which the loader's workers and pytorch() need, has no 3.9 builds.
MIN_PYTHON = (3, 10)


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert r.returncode == 0, f"{cmd} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheels")
    env = dict(os.environ, CMAKE_BUILD_PARALLEL_LEVEL=str(os.cpu_count() or 2))
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out),
         f"-Cbuild-dir={ROOT}/build/wheel", ROOT], env=env)
    (whl,) = list(out.glob("chute-*.whl"))
    return whl


@pytest.mark.slow
@pytest.mark.parametrize("numpy_spec", ["numpy>=2", "numpy==1.26.*"])
def test_wheel_installs_and_works_in_a_fresh_venv(tmp_path, wheel, numpy_spec):
    venv.create(tmp_path / "v", with_pip=True)
    py = str(tmp_path / "v" / "bin" / "python")
    run([py, "-m", "pip", "install", "-q", str(wheel), numpy_spec])
    code = (
        "import numpy as np, chute, os; ds = chute.empty(os.environ['DS']);"
        "ds.create_tensor('x', dtype='int32'); ds.x.append(np.arange(5, dtype=np.int32));"
        "ds.create_tensor('im', htype='image', sample_compression='png');"
        "ds.im.append(np.full((3, 4, 3), 7, np.uint8));"
        "r = chute.load(os.environ['DS']); assert r.x[0].numpy().tolist() == [0, 1, 2, 3, 4];"
        "assert r.im[0:1].numpy().sum() == 7 * 36; print(np.__version__)"
    )
    out = run([py, "-c", code], env=dict(os.environ, DS=str(tmp_path / "ds")), cwd=str(tmp_path))
    assert out.stdout.strip().startswith("2." if numpy_spec.startswith("numpy>=2") else "1.26")
    assert os.path.exists(tmp_path / "v" / "bin" / "chute-bench")
    assert os.path.exists(tmp_path / "v" / "bin" / "chute")


@pytest.mark.slow
def test_wheel_ships_every_module_of_the_package(wheel):
    """Every .py of python/chute (subpackages included), the stub and py.typed are in the wheel."""
    pkg = os.path.join(ROOT, "python")
    want = {os.path.relpath(p, pkg) for p in glob.glob(os.path.join(pkg, "chute", "**", "*.py"), recursive=True)}
    want |= {"chute/_core.pyi", "chute/py.typed"}
    with zipfile.ZipFile(wheel) as z:
        shipped = set(z.namelist())
    assert want <= shipped, f"missing from the wheel: {sorted(want - shipped)}"
    assert any(n.startswith("chute/_core.") and n.endswith(".so") for n in shipped)


def test_conan_recipe_resolves_offline_to_system_packages(tmp_path):
    conan = shutil.which("conan", path=BIN) or shutil.which("conan")
    assert conan, "conan is a test dependency (pyproject.toml [test] extra)"
    env = dict(os.environ, CONAN_HOME=str(tmp_path / "home"))
    run([conan, "profile", "detect"], env=env)
    run([conan, "install", ROOT, "--profile:all", os.path.join(ROOT, "third_party/conan/system.profile"),
         "-of", str(tmp_path / "out")], env=env)
    (toolchain,) = list((tmp_path / "out").rglob("conan_toolchain.cmake"))
    run(["cmake", "-S", ROOT, "-B", str(tmp_path / "b"), f"-DCMAKE_TOOLCHAIN_FILE={toolchain}",
         "-DCHUTE_BUILD_PYTHON=OFF", "-DCHUTE_BUILD_TESTS=ON", "-DCMAKE_BUILD_TYPE=Release"], env=env)
    assert (tmp_path / "b" / "build.ninja").exists() or (tmp_path / "b" / "Makefile").exists()


def test_requires_python_is_the_real_minimum():
    with open(os.path.join(ROOT, "pyproject.toml")) as f:
        declared = re.search(r'^requires-python\s*=\s*"([^"]*)"', f.read(), re.M).group(1)
    assert declared == ">={}.{}".format(*MIN_PYTHON)
    sources = sorted(glob.glob(os.path.join(ROOT, "python", "chute", "**", "*.py"), recursive=True))
    assert len(sources) > 10
    for path in sources:
        with open(path, encoding="utf-8") as f:
            src = f.read()
        try:
            ast.parse(src, filename=path, feature_version=MIN_PYTHON)
        except SyntaxError as e:
            pytest.fail(f"{os.path.relpath(path, ROOT)}:{e.lineno} needs a newer Python than {declared}: {e.msg}")
