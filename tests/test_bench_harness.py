"""chute-bench, the C++ harness, reads a dataset with the engine alone and reports throughput."""
import json
import os
import shutil
import subprocess
import sys

import chute


def test_chute_bench_decodes_a_dataset(tmp_path, photos):
    ds = chute.empty(tmp_path / "ds")
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    with ds:
        for i in range(24):
            ds.images.append(photos[i % 4][:120, :100])
    exe = shutil.which("chute-bench", path=os.path.dirname(sys.executable))
    assert exe, "chute-bench is installed next to the interpreter"
    r = subprocess.run([exe, str(tmp_path / "ds"), "--tensor", "images", "-n", "24", "-t", "2", "--repeat", "1"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["samples"] == 24 and report["threads"] == 2 and report["samples_per_s"] > 0
    assert report["decoded_MB_per_s"] > report["stored_MB_per_s"] > 0  # JPEG decodes to more bytes


def test_chute_bench_reports_errors(tmp_path):
    exe = shutil.which("chute-bench", path=os.path.dirname(sys.executable))
    r = subprocess.run([exe, str(tmp_path / "nothing")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "no dataset" in r.stderr
