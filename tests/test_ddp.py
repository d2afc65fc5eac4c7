"""distributed=True under real torchrun processes (gloo on CPU)."""
import json
import os
import subprocess
import sys

from conftest import jpeg_bytes

import chute

HERE = os.path.dirname(os.path.abspath(__file__))


def test_torchrun_two_ranks_without_a_seed_share_each_epoch_exactly(tmp_path, photos):
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
    assert ranks[0]["seed"] == ranks[1]["seed"]
    orders = []
    for epoch in range(2):
        got = [g["epochs"][epoch] for g in ranks]
        assert [g["steps"] for g in got] == [5, 5]  # ceil(19 / 4) batches on each rank
        assert [g["len"] for g in got] == [5, 5]
        assert [len(g["seen"]) for g in got] == [19, 19]  # 37 padded to 38, split evenly
        both = got[0]["seen"] + got[1]["seen"]
        # every row once, plus the one padding row that repeats a row of the permutation
        assert set(both) == set(range(37)) and len(both) - len(set(both)) == 1
        orders.append(both)
    assert orders[0] != orders[1]  # a new permutation each epoch
