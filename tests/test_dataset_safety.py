"""Datasets shared between processes and handles: locks, read-only opens that never write, the flush
journal checked before it is used, names the dataset's own files use, and replaced datasets."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import chute
from chute._internal.handle import dataset_handle


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under root (relative path -> sha1), to prove that nothing was changed."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[str(p.relative_to(root))] = hashlib.sha1(p.read_bytes()).hexdigest()
    return out


def make(path: Path, n: int = 3) -> chute.Dataset:
    ds = chute.empty(path)
    ds.create_tensor("x", dtype="int64")
    ds.create_tensor("t", htype="text")
    with ds:
        for i in range(n):
            ds.append({"x": np.int64(i), "t": f"row {i}"})
    return ds


HOLD = textwrap.dedent("""
    import sys, time, chute
    ds = chute.load(sys.argv[1], read_only=False)
    print("locked", flush=True)
    sys.stdin.readline()
""")


class Holder:
    """Another process with the dataset open for writing, until close()."""

    def __init__(self, path: Path):
        self.proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "locked"

    def close(self) -> None:
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        self.proc.wait(timeout=30)


def test_load_beside_another_writer_opens_read_only_with_a_warning(tmp_path):
    make(tmp_path / "ds")
    holder = Holder(tmp_path / "ds")
    try:
        with pytest.warns(UserWarning, match=f"pid {holder.proc.pid}.*read-only"):
            ds = chute.load(tmp_path / "ds")
        assert ds.read_only and ds.x.numpy().ravel().tolist() == [0, 1, 2]
        with pytest.raises(chute.DatasetLockedError, match=f"pid {holder.proc.pid}") as e:
            chute.load(tmp_path / "ds", read_only=False)
        assert e.value.holder_pid == holder.proc.pid
        assert isinstance(e.value, OSError)
    finally:
        holder.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not chute.load(tmp_path / "ds").read_only  # the lock is free again


def test_empty_overwrite_and_delete_refuse_a_dataset_another_process_writes(tmp_path):
    make(tmp_path / "ds")
    holder = Holder(tmp_path / "ds")
    before = tree_digest(tmp_path / "ds")  # .chute_lock holds the holder's pid
    try:
        with pytest.raises(chute.DatasetLockedError, match=str(holder.proc.pid)):
            chute.empty(tmp_path / "ds", overwrite=True)
        with pytest.raises(chute.DatasetLockedError):
            chute.delete(tmp_path / "ds")
        assert tree_digest(tmp_path / "ds") == before
    finally:
        holder.close()


def test_a_handle_on_a_replaced_dataset_refuses_to_write(tmp_path):
    old = make(tmp_path / "ds")
    new = chute.empty(tmp_path / "ds", overwrite=True)
    new.create_tensor("y")
    with pytest.raises(chute.ChuteError, match="replaced by chute.empty"):
        old.x.append(np.int64(7))
    with pytest.raises(chute.ChuteError, match="replaced by chute.empty"):
        old.create_tensor("z")
    assert list(chute.load(tmp_path / "ds").tensors) == ["y"]
    assert not (tmp_path / "ds" / "x").exists()


def test_empty_dataset_info_is_written(tmp_path):
    ds = make(tmp_path / "ds")
    ds.info.update(a=1, b=[1, 2])
    assert chute.load(tmp_path / "ds", read_only=True).info == {"a": 1, "b": [1, 2]}
    del ds.info["b"]
    assert chute.load(tmp_path / "ds", read_only=True).info == {"a": 1}
    ds.info.clear()
    assert json.loads((tmp_path / "ds" / "dataset_info.json").read_text()) == {}
    assert chute.load(tmp_path / "ds", read_only=True).info == {}


def test_writable_open_collects_only_chutes_own_temp_files(tmp_path):
    make(tmp_path / "ds")
    user_files = ["notes.tmp", "x.tmp.json", "my.tmp123", "data.tmp1_2"]
    for f in user_files:
        (tmp_path / "ds" / f).write_text("mine")
    (tmp_path / "ds" / "x" / "chunks" / "readme.txt").write_text("mine")
    (tmp_path / "ds" / "dataset_meta.json.tmp99_1_2").write_text("a killed writer's")
    (tmp_path / "ds" / "x" / "tensor_meta.json.tmp99_3_4").write_text("a killed writer's")
    ds = chute.load(tmp_path / "ds", read_only=False)
    assert dataset_handle(ds).core.orphans_collected == 2
    for f in user_files:
        assert (tmp_path / "ds" / f).read_text() == "mine"
    assert (tmp_path / "ds" / "x" / "chunks" / "readme.txt").exists()
    assert not (tmp_path / "ds" / "dataset_meta.json.tmp99_1_2").exists()


@pytest.mark.parametrize("name", ["dataset_meta.json", ".chute_journal", ".chute_lock", "version_control_info.json",
                                  "dataset_info.json", "dataset_lock.lock", "versions", "queries.json",
                                  "g/chunks", "chunks_index", "a\x00b"])
def test_names_the_dataset_itself_uses_are_refused(tmp_path, name):
    ds = make(tmp_path / "ds")
    before = tree_digest(tmp_path / "ds")
    with pytest.raises(chute.InvalidTensorNameError) as e:
        ds.create_tensor(name)
    assert isinstance(e.value, ValueError)
    if "\x00" in name:
        assert "a\\0b" in str(e.value)  # the whole name, not cut at the NUL
    assert tree_digest(tmp_path / "ds") == before
    assert chute.load(tmp_path / "ds").x.numpy().ravel().tolist() == [0, 1, 2]


def test_meta_without_tensors_and_object_dtype_are_format_errors(tmp_path):
    make(tmp_path / "ds")
    meta_path = tmp_path / "ds" / "dataset_meta.json"
    meta = json.loads(meta_path.read_text())
    del meta["tensors"]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(chute.FormatError, match="tensors"):
        chute.load(tmp_path / "ds", read_only=True)

    make(tmp_path / "ds2")
    tm = tmp_path / "ds2" / "x" / "tensor_meta.json"
    m = json.loads(tm.read_text())
    m["dtype"] = "object"
    tm.write_text(json.dumps(m))
    with pytest.raises(chute.FormatError, match="object"):
        chute.load(tmp_path / "ds2", read_only=True)


def unfinished_flush(tmp_path: Path) -> Path:
    """A dataset whose writer died after publishing its journal and before any rename: state 3 rows
    on disk, the decided flush (5 rows) in temp files named by .chute_journal. Made from two real
    datasets, so the journal is exactly what a flush writes."""
    a, b = tmp_path / "a", tmp_path / "b"
    make(a, 3)
    shutil.copytree(a, b)
    ds = chute.load(b, read_only=False)
    with ds:
        for i in range(3, 5):
            ds.append({"x": np.int64(i), "t": f"row {i}"})
    del ds
    renames = []
    for k, key in enumerate(["dataset_meta.json", "x/tensor_meta.json", "x/chunks_index/unsharded", "x/commit_diff",
                             "t/tensor_meta.json", "t/chunks_index/unsharded", "t/commit_diff"]):
        if (b / key).read_bytes() != (a / key).read_bytes():
            tmp = f"{key}.tmp4242_{k}_7"
            shutil.copyfile(b / key, a / tmp)
            renames.append([tmp, key])
    for t in ("x", "t"):
        for c in os.listdir(b / t / "chunks"):
            if not (a / t / "chunks" / c).exists():
                shutil.copyfile(b / t / "chunks" / c, a / t / "chunks" / c)
    (a / ".chute_journal").write_text(json.dumps({"renames": renames, "obsolete": []}))
    return a


def test_read_only_open_reads_an_unfinished_flush_without_writing(tmp_path):
    path = unfinished_flush(tmp_path)
    before = tree_digest(path)
    ds = chute.load(path, read_only=True)
    assert ds.x.numpy().ravel().tolist() == [0, 1, 2, 3, 4]
    assert ds.t.data()["value"][-1] == "row 4"
    assert tree_digest(path) == before
    # a writer finishes it
    ds = chute.load(path, read_only=False)
    assert not (path / ".chute_journal").exists()
    assert ds.x.numpy().ravel().tolist() == [0, 1, 2, 3, 4]


@pytest.mark.skipif(os.geteuid() != 0, reason="a read-only bind mount needs root")
def test_read_only_open_on_a_read_only_mount(tmp_path):
    src = unfinished_flush(tmp_path)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "--bind", str(src), str(mnt)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(mnt)], check=True)
        with pytest.raises(OSError):
            (mnt / "probe").write_text("x")
        ds = chute.load(mnt)  # read_only=None: the folder is not writable
        assert ds.read_only
        assert ds.x.numpy().ravel().tolist() == [0, 1, 2, 3, 4]
        loader = ds.dataloader().batch(5).numpy()
        assert [b["x"].ravel().tolist() for b in loader] == [[0, 1, 2, 3, 4]]
        assert ds.query("SELECT * WHERE x > 2").sample_indices == [3, 4]
        with pytest.raises(chute.IoError):
            chute.load(mnt, read_only=False)
        del ds, loader
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


@pytest.mark.parametrize("journal", [
    {"renames": [], "obsolete": ["../victim.txt"]},
    {"renames": [], "obsolete": ["x/chunks/../../../victim.txt"]},
    {"renames": [["{abs_victim}", "x/tensor_meta.json"]], "obsolete": []},
    {"renames": [["x/tensor_meta.json.tmp1_2_3", "{abs_victim}"]], "obsolete": []},
    {"renames": [["../victim.txt", "dataset_meta.json"]], "obsolete": []},
    {"renames": [["x/tensor_meta.json", "x/tensor_meta.json.tmp1_2_3"]], "obsolete": []},
    {"renames": [], "obsolete": ["x/tensor_meta.json"]},
    {"renames": "nope", "obsolete": []},
])
@pytest.mark.parametrize("read_only", [True, False])
def test_a_journal_naming_files_outside_the_dataset_touches_nothing(tmp_path, journal, read_only):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    path = tmp_path / "ds"
    make(path)
    text = json.dumps(journal).replace("{abs_victim}", str(victim))
    (path / ".chute_journal").write_text(text)
    before = tree_digest(tmp_path)
    with pytest.raises(chute.FormatError, match="journal"):
        chute.load(path, read_only=read_only)
    assert tree_digest(tmp_path) == before
    assert victim.read_text() == "precious"


WRITER = textwrap.dedent("""
    import sys, numpy as np, chute
    ds = chute.load(sys.argv[1], read_only=False)
    for i in range(int(sys.argv[2])):
        ds.append({"x": np.int64(i), "t": "row %d" % i})   # one flush per append
    print("done", flush=True)
""")

READER = textwrap.dedent("""
    import sys, time, chute
    from chute._internal.handle import tensor_core
    deadline = time.time() + 60
    opens = 0
    while time.time() < deadline:
        ds = chute.load(sys.argv[1], read_only=True)
        n = len(ds.x)
        assert len(ds.t) == n, (len(ds.t), n)
        assert tensor_core(ds.x).length == n and tensor_core(ds.t).length == n
        opens += 1
        if open(sys.argv[2]).read():   # the writer is done
            break
    print(opens, flush=True)
""")


def test_a_writer_flushing_under_many_readers(tmp_path):
    path = tmp_path / "ds"
    ds = chute.empty(path)
    ds.create_tensor("x", dtype="int64", max_chunk_size=4096)
    ds.create_tensor("t", htype="text", max_chunk_size=4096)
    del ds
    done = tmp_path / "done"
    done.write_text("")
    readers = [subprocess.Popen([sys.executable, "-c", READER, str(path), str(done)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(3)]
    time.sleep(0.5)
    writer = subprocess.run([sys.executable, "-c", WRITER, str(path), "400"], capture_output=True, text=True, timeout=300)
    done.write_text("1")
    outs = [r.communicate(timeout=120) for r in readers]
    assert writer.returncode == 0, writer.stderr
    for r, (out, err) in zip(readers, outs):
        assert r.returncode == 0, err
        assert int(out) > 0
    ds = chute.load(path, read_only=True)
    assert ds.x.numpy().ravel().tolist() == list(range(400))


def test_append_and_extend_name_what_they_need(tmp_path):
    ds = make(tmp_path / "ds")
    with pytest.raises(TypeError, match="append\\(\\) takes a dict.*list"):
        ds.append([1, 2])
    with pytest.raises(TypeError, match="'x' has a int"):
        ds.extend({"x": 5, "t": ["a"]})
    with pytest.raises(TypeError, match="'t' has a str"):
        ds.extend({"x": [1], "t": "a"})
    assert len(chute.load(tmp_path / "ds").x) == 3


def test_with_blocks_on_several_threads_publish_when_the_last_one_exits(tmp_path):
    """Every view shares one handle: `with ds:` on two threads (one on a row view) defers publishing
    until the last open block exits; a read-only open sees nothing before, everything after."""
    import threading

    path = tmp_path / "ds"
    ds = chute.empty(path)
    ds.create_tensor("x", dtype="int64")
    entered, release = threading.Event(), threading.Event()

    def other():
        with ds[0:0]:  # a row view: the same handle, the same depth
            ds.x.append(2)
            entered.set()
            release.wait(30)

    t = threading.Thread(target=other)
    with ds:
        ds.x.append(1)
        t.start()
        assert entered.wait(30)
    # this thread's block has exited; the other thread's is still open: nothing is published yet
    assert len(chute.load(path, read_only=True).x) == 0
    release.set()
    t.join(30)
    assert sorted(chute.load(path, read_only=True).x.numpy().reshape(-1).tolist()) == [1, 2]


def test_a_reader_opened_before_a_flush_reads_rows_whose_chunk_the_writer_moved(tmp_path):
    # Appending to a flushed partial chunk moves it to a new id and deletes the old file once the
    # flush is published. A reader that opened before still reads those rows (and the loader too):
    # it re-reads the published index when the chunk it knew is gone.
    w = chute.empty(str(tmp_path / "ds"))
    w.create_tensor("x", dtype="int64")
    w.create_tensor("images", htype="image", sample_compression="png")
    img = np.arange(12 * 12 * 3, dtype=np.uint8).reshape(12, 12, 3)
    w.append({"x": np.array([1, 2]), "images": img})
    reader = chute.load(str(tmp_path / "ds"), read_only=True)
    for k in range(3):
        w.append({"x": np.array([3 + k, 4]), "images": img + k})  # each flush moves the partial chunks
    np.testing.assert_array_equal(reader.x.numpy(), [[1, 2]])
    np.testing.assert_array_equal(reader.images[0].numpy(), img)
    batches = list(reader.dataloader().batch(1).numpy())
    assert len(batches) == 1 and batches[0]["x"].tolist() == [[1, 2]]
    assert len(reader) == 1  # its snapshot's rows
    assert len(chute.load(str(tmp_path / "ds"), read_only=True)) == 4
