"""distributed=True under real torchrun processes (gloo on CPU)."""
import json
import os
import subprocess
import sys


import chute
from conftest import jpeg_bytes

HERE = os.path.dirname(os.path.abspath(__file__))


def test_torchrun_two_ranks_get_equal_batches_covering_the_dataset(tmp_path, photos):
    path = str(tmp_path / "ds")
    ds = chute.empty(path)
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.create_tensor("labels", htype="class_label")
    with ds:
        for i in range(37):  # odd on purpose: ranks need padding
            ds.images.append(chute.Sample(buffer=jpeg_bytes(photos[i % 4][:48 + i, :40 + i])))
            ds.labels.append(i % 3)
    out = tmp_path / "result.json"
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    r = subprocess.run([torchrun, "--standalone", "--nproc_per_node=2", os.path.join(HERE, "ddp_worker.py"), path, str(out)],
                       capture_output=True, text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert r.returncode == 0, r.stderr[-3000:]
    ranks = json.loads(out.read_text())
    assert [g["steps"] for g in ranks] == [5, 5]  # ceil(19 / 4) batches on each rank
    assert all(g["len"] == 5 for g in ranks)
    assert [len(g["seen"]) for g in ranks] == [19, 19]  # 37 padded to 38, split evenly
    union = set(ranks[0]["seen"]) | set(ranks[1]["seen"])
    assert union == set(range(37))
