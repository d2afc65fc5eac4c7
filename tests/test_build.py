"""The Conan recipe and the declared Python minimum (the wheel and the sdist: tests/test_wheel.py)."""
import ast
import glob
import os
import re
import shutil
import subprocess
import sys

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
