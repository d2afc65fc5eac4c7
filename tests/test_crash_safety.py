import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
from crash_writer import row

import chute
from chute._internal.handle import tensor_core

HERE = os.path.dirname(__file__)


def check(path: str, at_least: int) -> int:
    ds = chute.load(path)  # writable: recovery and orphan collection run here
    lengths = {name: t.num_samples for name, t in ds.tensors.items()}
    assert len(set(lengths.values())) == 1, f"tensors disagree after a kill: {lengths}"
    n = len(ds)
    assert n >= at_least, f"dataset lost flushed rows: {n} < {at_least}"
    images = ds.images.numpy(aslist=True)
    vecs = ds.vec.numpy(aslist=True)
    labels = ds.labels.numpy().ravel()
    texts = ds.text.data()["value"]
    for i in range(n):
        want = row(i)
        np.testing.assert_array_equal(images[i], want["images"], err_msg=f"images[{i}]")
        np.testing.assert_array_equal(vecs[i], want["vec"], err_msg=f"vec[{i}]")
        assert labels[i] == want["labels"] and texts[i] == want["text"], i
    # nothing unreferenced is left behind once a writer has opened the dataset
    for name, t in ds.tensors.items():
        files = os.listdir(os.path.join(path, name, "chunks"))
        chunks = tensor_core(t).num_chunks()
        assert len(files) == chunks, f"orphan chunk files in {name}: {len(files)} vs {chunks}"
    return n


def test_sigkill_at_random_moments_loses_nothing_flushed(tmp_path):
    path = str(tmp_path / "ds")
    rnd = random.Random(1234)
    flushed = 0
    kills = 0
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""))
    while kills < 24:
        proc = subprocess.Popen([sys.executable, os.path.join(HERE, "crash_writer.py"), path, str(rnd.randint(1, 6))],
                                stdout=subprocess.PIPE, text=True, env=env)
        started = proc.stdout.readline()
        assert started.startswith("start"), started
        time.sleep(rnd.uniform(0.0, 0.6))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        lines = [line for line in out.splitlines() if line.startswith("flushed")]
        if lines:
            flushed = max(flushed, int(lines[-1].split()[1]))
        kills += 1
        flushed = check(path, flushed)
    assert flushed > 20, "the writer never got far enough to test anything"
    # the dataset still takes appends after all those kills
    ds = chute.load(path)
    with ds:
        ds.append(row(flushed))
    assert check(path, flushed + 1) == flushed + 1
