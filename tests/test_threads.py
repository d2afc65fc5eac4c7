"""One dataset used from several Python threads (the engine releases the GIL in most calls), and the
engine's limits on threads: clear errors, never a crash."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import numpy as np

import chute


def test_one_dataset_from_many_threads(tmp_path):
    ds = chute.empty(tmp_path / "ds")
    ds.create_tensor("x", dtype="int64", max_chunk_size=4096)
    ds.x.extend(np.arange(200))
    errors: list[BaseException] = []
    stop = threading.Event()

    def guard(fn):
        def run():
            try:
                fn()
            except BaseException as e:  # noqa: BLE001 (reported below)
                errors.append(e)
        return run

    def writer():
        for i in range(200, 1000):
            ds.x.append(np.int64(i))
            if i % 50 == 0:
                ds.create_tensor(f"t{i}", htype="text")

    def reader():
        while not stop.is_set():
            n = len(ds.x)
            assert ds.x[n - 1].numpy().item() == n - 1
            assert ds[0:200].query("SELECT * WHERE x < 10").sample_indices == list(range(10))

    def loader():
        while not stop.is_set():
            rows = [int(v) for b in ds[0:200].dataloader().batch(32).numpy(num_threads=2, tensors=["x"]) for v in b["x"].ravel()]
            assert rows == list(range(200))

    threads = [threading.Thread(target=guard(f)) for f in (writer, reader, reader, loader)]
    for t in threads:
        t.start()
    threads[0].join()
    stop.set()
    for t in threads[1:]:
        t.join()
    assert not errors, errors
    back = chute.load(tmp_path / "ds", read_only=True)
    assert back.x.numpy().ravel().tolist() == list(range(1000))
    assert len(back.tensors) == 1 + 16


def test_a_loader_iterated_from_a_second_thread_is_refused(tmp_path):
    ds = chute.empty(tmp_path / "ds")
    ds.create_tensor("x", dtype="int64")
    ds.x.extend(np.arange(100))
    it = iter(ds.dataloader().batch(10).numpy())
    next(it)
    caught: list[BaseException] = []

    def other():
        try:
            next(it)
        except BaseException as e:  # noqa: BLE001
            caught.append(e)

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert len(caught) == 1 and isinstance(caught[0], chute.ChuteError), caught
    assert "another thread" in str(caught[0])


def test_too_many_threads_is_a_resource_error_not_an_abort(tmp_path):
    code = textwrap.dedent(f"""
        import resource, numpy as np, chute
        ds = chute.empty({str(tmp_path / 'ds')!r})
        ds.create_tensor("x", dtype="int64")
        ds.x.extend(np.arange(100))
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
        try:
            for b in ds.dataloader().batch(10).numpy(num_threads=1000):
                pass
            print("ran")
        except chute.ResourceError as e:
            assert isinstance(e, MemoryError)
            print("ResourceError:", e)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    # Either the address space held 1000 threads' stacks, or the loader said clearly that it did not.
    assert r.stdout.startswith("ran") or "cannot start 1000 loader threads" in r.stdout, r.stdout
