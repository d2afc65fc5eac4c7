"""The hard parts of a loader's life: Ctrl-C, leaks over many cycles, fork, interpreter exit."""
import gc
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from conftest import jpeg_bytes

import chute
from chute import ops

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def ds_path(tmp_path_factory, photos):
    path = str(tmp_path_factory.mktemp("life") / "ds")
    ds = chute.empty(path)
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.create_tensor("labels", htype="class_label")
    with ds:
        for i in range(64):
            ds.images.append(chute.Sample(buffer=jpeg_bytes(photos[i % 4][: 100 + i, : 120 + i])))
            ds.labels.append(i % 5)
    return path


def run_script(code: str, timeout: float = 120, **kw):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, PYTHONPATH=HERE), **kw)


def test_ctrl_c_interrupts_a_waiting_next(ds_path):
    # A loader over huge upscaled crops on one thread keeps next() waiting; SIGINT must still land.
    code = f"""
        import sys, chute
        from chute import ops
        ds = chute.load({ds_path!r}, read_only=True)
        dl = ds.dataloader().batch(64).transform({{"images": ops.Resize(3000)}}).numpy(num_threads=1)
        print("ready", flush=True)
        try:
            for _ in dl:
                pass
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(3)
    """
    p = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    t0 = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=30)
    assert p.returncode == 3 and "interrupted" in out
    assert time.monotonic() - t0 < 10


def _shm_segments():
    return set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()


def _rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    return 0


def _tasks():
    return len(os.listdir("/proc/self/task"))


def test_many_create_iterate_close_cycles_leave_nothing_behind(ds_path):
    import torch  # noqa: F401 - workers move batches as torch shared-memory tensors

    ds = chute.load(ds_path, read_only=True)

    def cycle(workers):
        dl = (ds.dataloader().batch(16).shuffle().transform({"images": ops.RandomResizedCrop(32), "labels": lambda a: a})
              .pytorch(num_workers=workers))
        for _ in dl:
            pass
        dl.close()

    for w in (0, 2):  # warm up caches, allocator pools and imports
        cycle(w)
    gc.collect()
    tasks, shm, rss = _tasks(), _shm_segments(), _rss_kb()
    children_before = len(_children())
    for k in range(100):
        cycle(2 if k % 10 == 0 else 0)
    gc.collect()
    time.sleep(0.2)
    assert _tasks() == tasks, "engine or queue threads left running"
    assert len(_children()) == children_before, "worker processes left running"
    assert _shm_segments() <= shm, f"shared memory left: {_shm_segments() - shm}"
    assert _rss_kb() < rss * 1.05, f"RSS grew from {rss} kB to {_rss_kb()} kB"


def _children():
    me = str(os.getpid())
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().split(")")[-1].split()[1] == me:
                        out.append(pid)
            except OSError:
                pass
    return out


def test_garbage_collected_iterator_releases_engine_threads(ds_path):
    ds = chute.load(ds_path, read_only=True)
    base = _tasks()
    dl = ds.dataloader().batch(4).numpy(num_threads=3)
    it = iter(dl)
    next(it)
    assert _tasks() >= base + 3
    del it, dl
    gc.collect()
    assert _tasks() == base


def test_fork_after_the_engine_started(ds_path):
    code = f"""
        import os, chute
        ds = chute.load({ds_path!r}, read_only=True)
        dl = ds.dataloader().batch(8).numpy()
        it = iter(dl); next(it)                      # engine threads are running now
        batch = ds.images[0:8].numpy(aslist=True)   # and the shared decode pool
        pid = os.fork()
        if pid == 0:
            # the child must be able to use chute on its own
            n = sum(len(b["index"]) for b in ds.dataloader().batch(8).numpy())
            m = len(ds.images[0:16].numpy(aslist=True))
            os._exit(0 if (n, m) == (64, 16) else 1)
        _, status = os.waitpid(pid, 0)
        print("child", os.waitstatus_to_exitcode(status))
        print("parent", sum(len(b["index"]) for b in it) + 8)
    """
    r = run_script(code)
    assert r.returncode == 0, r.stderr
    assert "child 0" in r.stdout and "parent 64" in r.stdout


def test_interpreter_exit_with_a_live_loader(ds_path):
    code = f"""
        import chute
        from chute import ops
        ds = chute.load({ds_path!r}, read_only=True)
        dl = ds.dataloader().batch(8).transform({{"images": ops.RandomResizedCrop(64), "labels": lambda a: a}}).pytorch(num_workers=2)
        it = iter(dl)
        next(it)
        print("exiting with a live loader", flush=True)
    """
    r = run_script(code, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "exiting" in r.stdout


def test_batches_own_their_buffers(ds_path):
    ds = chute.load(ds_path, read_only=True)
    dl = ds.dataloader().batch(8).transform({"images": ops.Resize(16)}).numpy()
    it = iter(dl)
    b = next(it)
    images = b["images"]
    want = images.copy()
    assert not images.flags.owndata and images.base is not None
    del it, dl, b, ds
    gc.collect()
    np.testing.assert_array_equal(images, want)
