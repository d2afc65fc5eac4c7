"""The checked-in chute/_core.pyi matches what pybind11-stubgen generates from the built module."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_extension_stub_is_current(tmp_path):
    stubgen = os.path.join(os.path.dirname(sys.executable), "pybind11-stubgen")
    r = subprocess.run([stubgen, "chute._core", "-o", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    generated = (tmp_path / "chute" / "_core.pyi").read_text()
    checked_in = open(os.path.join(ROOT, "python", "chute", "_core.pyi")).read()
    assert generated == checked_in, (
        "python/chute/_core.pyi is stale: regenerate with "
        "`.venv/bin/pybind11-stubgen chute._core -o /tmp/stubs && cp /tmp/stubs/chute/_core.pyi python/chute/`"
    )
