"""Version control on chute's own datasets: Deep Lake 3's commits, branches, checkouts and updates.

The API and its layout, updates of every kind (copy-on-write: every older commit reads back unchanged and its
files are never touched), a property test of random histories against an in-memory model, bad input, SIGKILL
during commits, branch creation and updates, and the loader, queries, compute and chute-bench at any commit.
Compatibility with deeplake 3.9.52 both ways is tests/test_version_compat.py.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chute
from chute.version import FIRST_COMMIT

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import version_crash_writer  # noqa: E402


def values(t) -> list:
    """A tensor's rows as python values (lists for arrays, str for text)."""
    if t.htype in ("text", "json"):
        return [t[i].data()["value"] for i in range(len(t))]
    return [t[i].numpy().tolist() for i in range(len(t))]


def snapshot(ds) -> dict:
    return {name: values(ds[name]) for name in ds.tensors}


def file_hashes(root: Path, skip_versions: bool = True) -> dict:
    out = {}
    for dirpath, dirnames, files in os.walk(root):
        if skip_versions and Path(dirpath) == root and "versions" in dirnames:
            dirnames.remove("versions")
        for f in files:
            p = Path(dirpath) / f
            out[str(p.relative_to(root))] = hashlib.sha1(p.read_bytes()).hexdigest()
    return out


def vc_info(path) -> dict:
    return json.loads((Path(path) / "version_control_info.json").read_text())


# ======================================================================================================================
# the API


def test_commit_checkout_log_and_addresses(tmp_path, capsys):
    p = str(tmp_path / "ds")
    ds = chute.empty(p)
    ds.create_tensor("x", dtype="int32")
    ds.create_tensor("txt", htype="text")
    ds.x.extend(np.arange(6, dtype=np.int32).reshape(3, 2))
    ds.txt.extend(["a", "bb", "ccc"])
    assert ds.commit_id is None and ds.pending_commit_id == FIRST_COMMIT and ds.branch == "main"
    assert ds.has_head_changes
    first = ds.commit("first")
    assert first == FIRST_COMMIT  # Deep Lake's first commit is the dataset root
    assert ds.commit_id == first and ds.pending_commit_id != first and not ds.has_head_changes
    ds.x.append(np.array([60, 61], dtype=np.int32))
    ds.txt.append("dddd")
    assert ds.has_head_changes
    second = ds.commit("second")
    assert ds.checkout("alt", create=True) == second
    assert ds.branch == "alt" and sorted(ds.branches) == ["alt", "main"]
    ds.create_tensor("y", dtype="uint8")
    ds.y.extend(np.ones((4, 3), dtype=np.uint8))
    alt1 = ds.commit("alt commit")
    assert [c["message"] for c in ds.commits] == ["alt commit", "second", "first"]
    assert [c["commit"] for c in ds.commits] == [alt1, second, first]
    assert ds.get_commit_details(second)["message"] == "second"
    ds.log()
    text = capsys.readouterr().out
    assert "Current Branch: alt" in text and "Message: alt commit" in text and "Message: first" in text

    assert ds.checkout("main") == second
    assert list(ds.tensors) == ["x", "txt"] and len(ds.x) == 4
    ds.checkout(first)
    assert snapshot(ds) == {"x": [[0, 1], [2, 3], [4, 5]], "txt": ["a", "bb", "ccc"]}
    assert ds.branch == "main" and ds.commit_id == first == ds.pending_commit_id
    ds.checkout("alt")
    assert values(ds.y) == [[1, 1, 1]] * 4

    # path@address, read-only or not, and the layout Deep Lake keeps
    assert snapshot(chute.load(f"{p}@{first}", read_only=True))["txt"] == ["a", "bb", "ccc"]
    assert len(chute.load(f"{p}@alt", read_only=True).y) == 4
    assert chute.load(p, read_only=True).branch == "main"  # no address: main's head
    vc = vc_info(p)
    assert set(vc["branches"]) == {"main", "alt"}
    assert vc["commits"][first]["commit_message"] == "first" and vc["commits"][first]["parent"] is None
    assert vc["commits"][alt1]["parent"] == second and vc["commits"][alt1]["branch"] == "alt"
    for node in (second, alt1):
        folder = Path(p) / "versions" / node
        assert (folder / "dataset_meta.json").is_file() and (folder / "commit_info.json").is_file()
        assert (folder / "x" / "chunk_set").is_file()
    assert (Path(p) / "versions" / alt1 / "y" / "chunk_set").read_text()  # y's chunks live in alt1's folder
    assert not (Path(p) / "versions" / first).exists()


def test_has_head_changes_and_empty_commit(tmp_path):
    ds = chute.empty(str(tmp_path / "ds"))
    ds.create_tensor("x", dtype="int64")
    ds.x.append(1)
    ds.commit()
    assert not ds.has_head_changes
    with pytest.raises(chute.EmptyCommitError, match="allow_empty"):
        ds.commit("nothing")
    empty = ds.commit("nothing", allow_empty=True)
    assert ds.commits[0]["commit"] == empty and ds.commits[0]["message"] == "nothing"
    ds.x.info["k"] = 1  # an info change is a change
    assert ds.has_head_changes


def test_branch_from_a_clean_head_starts_at_its_parent(tmp_path):
    """Deep Lake: a head without changes stays its branch's head; the new branch starts at the last commit."""
    p = str(tmp_path / "ds")
    ds = chute.empty(p)
    ds.create_tensor("x", dtype="int64")
    ds.x.append(1)
    c1 = ds.commit("one")
    main_head = ds.pending_commit_id
    ds.checkout("b", create=True)
    vc = vc_info(p)
    assert vc["branches"]["main"] == main_head and vc["commits"][ds.pending_commit_id]["parent"] == c1
    # a head with changes is committed first ("auto commit before checkout to ...")
    ds.x.append(2)
    ds.checkout("c", create=True)
    assert ds.commits[0]["message"] == "auto commit before checkout to c"
    assert ds.commits[0]["commit"] in vc_info(p)["commits"] and len(ds.x) == 2


def test_diff(tmp_path):
    ds = chute.empty(str(tmp_path / "ds"))
    ds.create_tensor("x", dtype="int64")
    ds.x.extend(np.arange(5))
    first = ds.commit("first")
    ds.x.extend(np.arange(3))
    ds.x[1] = 100
    ds.x[6] = 7  # a row added in this commit: an addition, not an update
    d = ds.diff(as_dict=True)
    assert d["tensor"][0]["x"]["data_added"] == [5, 8] and d["tensor"][0]["x"]["data_updated"] == {1}
    second = ds.commit("second")
    ds.checkout("alt", create=True)
    ds.create_tensor("y", dtype="uint8")
    ds.y.extend(np.zeros((2, 2), dtype=np.uint8))
    ds.info["k"] = 1
    alt = ds.commit("alt")
    d = ds.diff(first, alt, as_dict=True)
    left, right = d["tensor"]
    assert left == [] and [e["commit_id"] for e in right] == [alt, second]
    assert right[0]["y"]["created"] and right[0]["y"]["data_added"] == [0, 2]
    assert right[1]["x"]["data_updated"] == {1} and right[1]["x"]["data_added"] == [5, 8]
    assert d["dataset"][1][0]["info_updated"] and d["dataset"][1][0]["message"] == "alt"
    with pytest.raises(ValueError):
        ds.diff(id_2=first)
    assert ds.diff(first, alt) is None  # printed


def test_delete_tensor_is_in_the_diff_and_older_commits_keep_it(tmp_path):
    p = str(tmp_path / "ds")
    ds = chute.empty(p)
    ds.create_tensor("x", dtype="int64")
    ds.create_tensor("img", htype="image", sample_compression="png")
    ds.x.extend(np.arange(3))
    ds.img.extend(np.zeros((3, 4, 4, 3), dtype=np.uint8))
    first = ds.commit("first")
    ds.delete_tensor("img")
    ds.create_tensor("tmp", dtype="int64")
    ds.tmp.append(1)
    ds.delete_tensor("tmp")  # created and deleted in the same commit: no trace in the diff
    assert list(ds.tensors) == ["x"]
    second = ds.commit("second")
    d = ds.diff(first, second, as_dict=True)
    assert d["dataset"][1][0]["deleted"] == ["img"]
    assert "img" not in d["tensor"][1][0]
    assert list(chute.load(p, read_only=True).tensors) == ["x"]
    old = chute.load(f"{p}@{first}", read_only=True)
    assert list(old.tensors) == ["x", "img"] and old.img[2].numpy().shape == (4, 4, 3)
    assert not (Path(p) / "versions" / ds.pending_commit_id / "img").exists()
    with pytest.raises(chute.TensorDoesNotExistError):
        ds.delete_tensor("img")
    # a deleted name can be created again
    ds.create_tensor("img", dtype="uint8")
    ds.img.append(np.ones(2, np.uint8))
    assert values(chute.load(p, read_only=True).img) == [[1, 1]]


# ======================================================================================================================
# updates


def test_updates_of_every_kind_leave_older_commits_untouched(tmp_path, photos):
    p = tmp_path / "ds"
    ds = chute.empty(str(p))
    with ds:
        ds.create_tensor("x", dtype="int32")
        ds.create_tensor("vec", dtype="float32", chunk_compression="lz4", max_chunk_size=4096)
        ds.create_tensor("txt", htype="text")
        ds.create_tensor("meta", htype="json")
        ds.create_tensor("lbl", htype="class_label", class_names=["a", "b"])
        ds.create_tensor("jpg", htype="image", sample_compression="jpeg")
        ds.create_tensor("png", htype="image", sample_compression="png", max_chunk_size=64 * 1024,
                         tiling_threshold=32 * 1024)
    rng = np.random.default_rng(0)
    big = rng.integers(0, 255, (160, 120, 3), dtype=np.uint8)  # 57 KB: tiled
    with ds:
        for i in range(6):
            ds.append({"x": np.array([i, i], dtype=np.int32), "vec": np.full(300, i, dtype=np.float32),
                       "txt": f"t{i}", "meta": {"i": i}, "lbl": i % 2, "jpg": photos[i % 4][:40, :50],
                       "png": big if i == 1 else rng.integers(0, 255, (10 + i, 8, 3), dtype=np.uint8)})
    before = snapshot(ds)
    first = ds.commit("first")
    root_files = file_hashes(p)

    new_big = rng.integers(0, 255, (150, 130, 3), dtype=np.uint8)
    small = rng.integers(0, 255, (7, 5, 3), dtype=np.uint8)
    with ds:
        ds.x[0] = np.array([100, 101], dtype=np.int32)
        ds.x[2:4] = [np.array([7, 7], dtype=np.int32), np.array([8, 8], dtype=np.int32)]
        ds.vec[5] = np.full(300, -1, dtype=np.float32)
        ds.txt[1] = "a much longer text than before"
        ds.meta[2] = {"changed": [1, 2]}
        ds[3].update({"lbl": "b", "jpg": photos[3][:30, :20]})
        ds.png[1] = new_big   # tiled -> tiled, another shape
        ds.png[2] = new_big   # small -> tiled: its chunk splits around it
        ds.png[1] = small     # tiled -> small (after the first update, in the same flush)
    after = snapshot(ds)
    ds2 = chute.load(str(p), read_only=True)  # what was published
    assert snapshot(ds2) == after
    assert after["x"][:4] == [[100, 101], [1, 1], [7, 7], [8, 8]]
    assert after["txt"][1] == "a much longer text than before" and after["meta"][2] == {"changed": [1, 2]}
    assert after["lbl"][3] == [1] and ds.lbl.info.class_names == ["a", "b"]
    assert ds.jpg[3].numpy().shape == (30, 20, 3)
    np.testing.assert_array_equal(ds.png[1].numpy(), small)
    np.testing.assert_array_equal(ds.png[2].numpy(), new_big)
    assert after["vec"][5] == [-1.0] * 300
    second = ds.commit("second")
    # the first commit reads back exactly, and none of its files changed (copy-on-write into the head)
    assert snapshot(chute.load(f"{p}@{first}", read_only=True)) == before
    tree_files = ("commit_info.json", "version_control_info.json")  # the commit tree's files change, no other
    assert {k: v for k, v in file_hashes(p).items() if k not in tree_files} == \
           {k: v for k, v in root_files.items() if k not in tree_files}
    assert snapshot(chute.load(f"{p}@{second}", read_only=True)) == after
    d = ds.diff(first, second, as_dict=True)["tensor"][1][0]
    assert d["x"]["data_updated"] == {0, 2, 3} and d["png"]["data_updated"] == {1, 2}
    # the hidden shape tensors followed (Deep Lake keeps _<t>_shape for images)
    assert ds.png.shape[0] == 6 and tuple(ds.png[2].shape) == new_big.shape


def _bytes_written() -> int:
    with open("/proc/self/io") as f:
        return int(next(ln for ln in f if ln.startswith("wchar:")).split()[1])


def test_many_updates_of_one_chunk_write_it_once(tmp_path):
    """Updates rebuild a chunk in memory and the flush writes it once: 1% of rows updated costs the touched
    chunks and the metas, not a chunk per update."""
    ds = chute.empty(str(tmp_path / "ds"))
    ds.create_tensor("x", dtype="int64")  # 100k rows: one 800 KB chunk
    ds.x.extend(np.arange(100_000))
    ds.commit("first")
    rows = np.random.default_rng(0).choice(100_000, 1000, replace=False)
    before = _bytes_written()
    with ds:
        for r in rows:
            ds.x[int(r)] = -int(r)
    ds.commit("updated")
    written = _bytes_written() - before
    assert written < 900_000 + 50_000, f"{written} bytes written for 1,000 updates of one 800 KB chunk"
    got = chute.load(ds.path, read_only=True).x.numpy().ravel()
    want = np.arange(100_000)
    want[rows] = -rows
    np.testing.assert_array_equal(got, want)


def test_update_bad_input_changes_nothing(tmp_path):
    ds = chute.empty(str(tmp_path / "ds"))
    ds.create_tensor("x", dtype="int32")
    ds.create_tensor("txt", htype="text")
    ds.x.extend(np.zeros((3, 2), dtype=np.int32))
    ds.txt.extend(["a", "b", "c"])
    before = snapshot(ds)
    with pytest.raises(IndexError, match="out of range"):
        ds.x[3] = np.array([1, 1], dtype=np.int32)
    with pytest.raises(chute.errors.TensorDtypeMismatchError, match="float64"):
        ds.x[0] = np.array([1.5, 2.5])
    with pytest.raises(chute.errors.TensorInvalidSampleShapeError, match=r"1-dimensional samples.*\(row 1\)"):
        ds.x[1] = np.zeros((2, 2), dtype=np.int32)
    with pytest.raises(chute.errors.SampleUpdateError, match="tensor 'txt', row 2: the text has no UTF-8"):
        ds.txt[2] = "lone \ud800 surrogate"
    with pytest.raises(ValueError, match="2 rows are updated with 3 values"):
        ds.x[0:2] = [np.zeros(2, np.int32)] * 3
    with pytest.raises(ValueError, match="one row"):
        ds[0:2].update({"x": np.zeros(2, np.int32)})
    with pytest.raises(chute.errors.TensorDtypeMismatchError):  # converted before anything is written
        ds[0].update({"txt": "fine", "x": "not a number"})
    assert snapshot(chute.load(ds.path, read_only=True)) == before == snapshot(ds)
    ro = chute.load(ds.path, read_only=True)
    with pytest.raises(chute.errors.ReadOnlyModeError):
        ro.x[0] = np.array([1, 1], dtype=np.int32)


# ======================================================================================================================
# reset, delete_branch, bad input


def test_reset_drops_uncommitted_changes(tmp_path, capsys):
    p = str(tmp_path / "ds")
    ds = chute.empty(p)
    ds.create_tensor("x", dtype="int64")
    ds.x.extend(np.arange(4))
    ds.commit("one")
    state = snapshot(ds)
    ds.x.append(9)
    ds.x[0] = -5
    ds.create_tensor("y", dtype="int64")
    ds.y.append(1)
    old_head = ds.pending_commit_id
    ds.reset()
    assert snapshot(ds) == state and list(ds.tensors) == ["x"] and not ds.has_head_changes
    assert not (Path(p) / "versions" / old_head).exists()
    assert snapshot(chute.load(p, read_only=True)) == state
    ds.reset()
    assert "no uncommitted changes" in capsys.readouterr().out
    # no commit at all: the dataset goes back to empty, as in Deep Lake
    q = chute.empty(str(tmp_path / "q"))
    q.create_tensor("x", dtype="int64")
    q.x.append(1)
    q.reset()
    assert list(q.tensors) == [] and list(chute.load(str(tmp_path / "q"), read_only=True).tensors) == []


def test_delete_branch(tmp_path):
    p = str(tmp_path / "ds")
    ds = chute.empty(p)
    ds.create_tensor("x", dtype="int64")
    ds.x.append(1)
    ds.commit("one")
    ds.checkout("b", create=True)
    ds.x.append(2)
    b1 = ds.commit("on b")
    b_head = ds.pending_commit_id
    ds.checkout("c", create=True)  # from b's clean head: starts at b1
    ds.checkout("main")
    with pytest.raises(chute.VersionControlError, match="sub-branches"):
        ds.delete_branch("b")
    ds.delete_branch("c")
    ds.delete_branch("b")
    assert sorted(ds.branches) == ["main"]
    assert not (Path(p) / "versions" / b1).exists() and not (Path(p) / "versions" / b_head).exists()
    assert b1 not in vc_info(p)["commits"]
    assert values(chute.load(p, read_only=True).x) == [[1]]


def test_bad_input_has_clear_errors_and_loses_nothing(tmp_path):
    p = str(tmp_path / "ds")
    ds = chute.empty(p)
    ds.create_tensor("x", dtype="int64")
    ds.x.extend(np.arange(3))
    first = ds.commit("first")
    ds.x.append(3)
    second = ds.commit("second")
    ds.x.append(4)
    ds.flush()
    state = {first: [[0], [1], [2]], second: [[0], [1], [2], [3]], "main": [[0], [1], [2], [3], [4]]}

    with pytest.raises(chute.CheckoutError, match="'nope' is neither a branch nor a commit.*create=True"):
        ds.checkout("nope")
    with pytest.raises(chute.CheckoutError, match="'nope'"):
        chute.load(f"{p}@nope", read_only=True)
    with pytest.raises(chute.CheckoutError, match="already exists"):
        ds.checkout("main", create=True)
    with pytest.raises(chute.CheckoutError, match="is a commit id"):
        ds.checkout(second, create=True)
    with pytest.raises(chute.InvalidArgument, match="cannot be a branch name"):
        ds.checkout("a/b", create=True)
    with pytest.raises(chute.VersionControlError, match="'main' cannot be deleted"):
        ds.delete_branch("main")
    ds.checkout("side", create=True)
    with pytest.raises(chute.VersionControlError, match="'side' is checked out"):
        ds.delete_branch("side")
    ds.checkout("main")
    ds.delete_branch("side")
    with pytest.raises(chute.VersionControlError, match="does not exist"):
        ds.delete_branch("ghost")
    ro = chute.load(p, read_only=True)
    with pytest.raises(chute.errors.ReadOnlyModeError):
        ro.commit("x")
    with pytest.raises(chute.errors.ReadOnlyModeError):
        ro.checkout("new", create=True)
    ro.checkout(first)  # read-only checkouts of existing commits are fine
    assert values(ro.x) == state[first]
    # an old commit: reads yes, writes no (commit, append, update, create_tensor, info)
    ds.checkout(first)
    for write in (lambda: ds.commit("x"), lambda: ds.x.append(9), lambda: ds.x.__setitem__(0, 9),
                  lambda: ds.create_tensor("z"), lambda: ds.info.update(k=1), lambda: ds.reset()):
        with pytest.raises(chute.VersionControlError, match=f"commit '{first}'.*not a branch head|not at the head"):
            write()
    ds.checkout("main")
    for address, want in state.items():
        assert values(chute.load(f"{p}@{address}", read_only=True).x) == want, address
    # no branch other than main appeared, and main still takes writes
    assert ds.branches == ["main"]
    ds.x.append(5)


def test_a_reader_of_a_head_follows_a_writer_that_moves_chunks(tmp_path):
    """A reader opened at a branch head (not the first commit) keeps reading its rows while the writer appends
    (which moves the partial last chunk to a new id in the head's folder and deletes the old file)."""
    p = str(tmp_path / "ds")
    ds = chute.empty(p)
    ds.create_tensor("x", dtype="int64", max_chunk_size=1 << 20)
    ds.x.extend(np.arange(10))
    ds.commit("first")
    ds.x.extend(np.arange(10, 20))  # a partial chunk in the head's folder
    reader = chute.load(p, read_only=True)
    assert reader.pending_commit_id == ds.pending_commit_id != FIRST_COMMIT
    assert values(reader.x[0:1]) == [[0]]  # a chunk of the first commit: the reader now knows the head's chunks
    for k in range(5):
        ds.x.extend(np.arange(20 + 10 * k, 30 + 10 * k))  # moves the head's partial chunk, deletes the old one
        assert values(reader.x[19:20]) == [[19]]
    assert len(chute.load(p, read_only=True).x) == 70


def test_orphan_version_folders_are_collected(tmp_path):
    p = tmp_path / "ds"
    ds = chute.empty(str(p))
    ds.create_tensor("x", dtype="int64")
    ds.x.append(1)
    ds.commit()
    del ds
    orphan = p / "versions" / ("ab" * 20)
    (orphan / "x").mkdir(parents=True)
    (orphan / "x" / "tensor_meta.json").write_text("{}")
    chute.load(str(p), read_only=True)
    assert orphan.exists()  # a reader never writes
    chute.load(str(p), read_only=False)
    assert not orphan.exists()


# ======================================================================================================================
# property test: random histories against an in-memory model


OPS = st.lists(st.one_of(
    st.tuples(st.just("append"), st.integers(1, 6)),
    st.tuples(st.just("update"), st.integers(0, 1000)),
    st.tuples(st.just("commit"), st.just(0)),
    st.tuples(st.just("branch"), st.just(0)),
    st.tuples(st.just("switch"), st.integers(0, 1000)),
    st.tuples(st.just("old"), st.integers(0, 1000)),
    st.tuples(st.just("reopen"), st.just(0)),
    st.tuples(st.just("reset"), st.just(0)),
), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_random_histories_read_back_at_every_commit(tmp_path_factory, ops):
    p = str(tmp_path_factory.mktemp("prop") / "ds")
    ds = chute.empty(p)
    ds.create_tensor("x", dtype="int64", max_chunk_size=256)  # 32 rows a chunk: updates and appends cross chunks
    ds.create_tensor("s", htype="text", max_chunk_size=128)
    model_heads = {"main": ([], [])}      # branch -> its head's rows (uncommitted included)
    committed: dict[str, tuple] = {}      # commit id -> rows
    branch, counter = "main", 0
    for op, arg in ops:
        counter += 1
        xs, ss = model_heads[branch]
        if op == "append":
            with ds:
                for i in range(arg):
                    ds.x.append(counter * 100 + i)
                    ds.s.append(f"{counter}-{i}")
            xs.extend(counter * 100 + i for i in range(arg))
            ss.extend(f"{counter}-{i}" for i in range(arg))
        elif op == "update" and xs:
            j = arg % len(xs)
            ds.x[j] = -counter
            ds[j].update({"s": "u" * (counter % 7)})
            xs[j], ss[j] = -counter, "u" * (counter % 7)
        elif op == "commit":
            cid = ds.commit(allow_empty=True)
            committed[cid] = (list(xs), list(ss))
        elif op == "branch":
            name = f"b{counter}"
            had_changes = ds.has_head_changes
            before = ds.pending_commit_id
            ds.checkout(name, create=True)
            if had_changes:
                committed[before] = (list(xs), list(ss))  # the auto commit froze the head as it was
            model_heads[name] = (list(xs), list(ss))
            branch = name
        elif op == "switch":
            names = sorted(model_heads)
            branch = names[arg % len(names)]
            ds.checkout(branch)
        elif op == "old" and committed:
            ids = sorted(committed)
            cid = ids[arg % len(ids)]
            ds.checkout(cid)
            assert (values(ds.x), values(ds.s)) == ([[v] for v in committed[cid][0]], committed[cid][1])
            ds.checkout(branch)
        elif op == "reopen":
            del ds
            ds = chute.load(p, read_only=False)
            ds.checkout(branch)
        elif op == "reset":
            if ds.commit_id is None:
                continue  # resetting before any commit empties the dataset; tested on its own
            ds.reset()
            last = ds.commit_id
            model_heads[branch] = (list(committed[last][0]), list(committed[last][1]))
        xs, ss = model_heads[branch]
        assert len(ds.x) == len(xs)
    ds.flush()
    for cid, (xs, ss) in committed.items():
        r = chute.load(f"{p}@{cid}", read_only=True)
        assert (values(r.x), values(r.s)) == ([[v] for v in xs], ss), cid
    for name, (xs, ss) in model_heads.items():
        r = chute.load(f"{p}@{name}", read_only=True)
        assert (values(r.x), values(r.s)) == ([[v] for v in xs], ss), name


# ======================================================================================================================
# SIGKILL during commits, branch creation and updates


def _check_history(p: str) -> int:
    """Every commit reads fully; commits the writer named "k=N" and main's head hold exactly the state after N
    steps. Returns the steps at main's head."""
    vc = vc_info(p)
    for node, c in vc["commits"].items():
        r = chute.load(f"{p}@{node}", read_only=True)
        xs, ts = values(r.x), values(r.txt)
        assert len(xs) == len(ts), node
        msg = c["commit_message"] or ""
        if msg.startswith("k="):
            want_x, want_t = version_crash_writer.expected(int(msg[2:]))
            assert xs == [w.tolist() for w in want_x] and ts == want_t, (node, msg)
    head = chute.load(p, read_only=True)
    n = len(head.x)
    want_x, want_t = version_crash_writer.expected(n)
    assert values(head.x) == [w.tolist() for w in want_x] and values(head.txt) == want_t
    return n


def test_sigkill_during_commits_branches_and_updates_loses_nothing(tmp_path):
    p = str(tmp_path / "ds")
    rng = random.Random(7)
    kills, steps = 0, 0
    while kills < 24:
        proc = subprocess.Popen([sys.executable, str(HERE / "version_crash_writer.py"), p], stdout=subprocess.PIPE,
                                text=True)
        try:
            assert proc.stdout.readline().strip() == "started"
            time.sleep(rng.uniform(0.05, 0.6))
        finally:
            proc.kill()
            proc.wait(timeout=30)
        kills += 1
        chute.load(p, read_only=False)  # the writable open finishes or discards what the kill interrupted
        left = [str(f) for f in Path(p).rglob("*") if ".tmp" in f.name or f.name == ".chute_journal"]
        assert not left, f"temp files left after the writable open: {left[:5]}"
        nodes = set(vc_info(p)["commits"])
        assert {d.name for d in (Path(p) / "versions").iterdir()} <= nodes, "a version folder no commit names"
        n = _check_history(p)
        assert n >= steps  # a step that returned is never lost
        steps = n
    assert steps > 30 and len(vc_info(p)["branches"]) > 3  # the kills landed among commits and branches


# ======================================================================================================================
# the loader, queries, compute and chute-bench at any commit


@pytest.fixture
def two_commits(tmp_path, photos):
    p = str(tmp_path / "imgs")
    ds = chute.empty(p)
    with ds:
        ds.create_tensor("images", htype="image", sample_compression="jpeg")
        ds.create_tensor("labels", htype="class_label")
        for i in range(40):
            ds.append({"images": photos[i % 4][:32, :48], "labels": i % 4})
    old = ds.commit("old")
    with ds:
        for i in range(0, 40, 5):
            ds.labels[i] = 9
            ds.images[i] = photos[(i + 1) % 4][:16, :24]
        for _ in range(10):
            ds.append({"images": photos[0][:32, :48], "labels": 7})
    ds.commit("new")
    return p, old


def test_loader_query_compute_and_bench_at_an_old_commit(two_commits, tmp_path):
    p, old = two_commits
    at_old = chute.load(f"{p}@{old}", read_only=True)
    head = chute.load(p, read_only=True)
    labels = [int(b["labels"].reshape(-1)[0]) for b in at_old.dataloader().batch(1).numpy()]
    assert labels == [i % 4 for i in range(40)]
    shapes = {tuple(b["images"].shape) for b in at_old.dataloader().batch(8).numpy()}
    assert shapes == {(8, 32, 48, 3)}
    assert len([1 for _ in head.dataloader().batch(1).numpy()]) == 50
    assert len(at_old.query("SELECT * WHERE labels == 0")) == 10
    assert len(head.query("SELECT * WHERE labels == 9")) == 8

    out = chute.empty(str(tmp_path / "out"))
    out.create_tensor("labels", htype="class_label")

    @chute.compute
    def copy_label(sample, ds_out):
        ds_out.labels.append(int(sample.labels.numpy()[0]))

    copy_label().eval(at_old, out, num_workers=2, progressbar=False)
    assert values(out.labels) == [[i % 4] for i in range(40)]

    exe = shutil.which("chute-bench", path=os.path.dirname(sys.executable))
    r = subprocess.run([exe, f"{p}@{old}", "--tensor", "images", "-t", "1", "--repeat", "1"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["samples"] == 40 and report["commit"] == old
    r = subprocess.run([exe, f"{p}@nope"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "'nope'" in r.stderr


def test_compute_checkpoints_are_commits_and_a_failure_resets_to_the_last(tmp_path):
    ds = chute.empty(str(tmp_path / "out"))
    ds.create_tensor("x", dtype="int64")

    @chute.compute
    def fill(i, ds_out):
        if i == 13:
            raise ValueError("bad input 13")
        ds_out.x.append(i)

    fill().eval(list(range(10)), ds, num_workers=2, checkpoint_interval=4, progressbar=False)
    msgs = [c["message"] for c in ds.commits]
    assert msgs == ["Auto-commit during chute.compute of fill after 80.0% progress",
                    "Auto-commit during chute.compute of fill after 40.0% progress",
                    "Auto-commit during chute.compute of fill after 0.0% progress"]
    vc = vc_info(ds.path)
    assert [vc["commits"][c["commit"]]["total_samples_processed"] for c in ds.commits] == [8, 4, 0]
    assert all(vc["commits"][c["commit"]]["is_checkpoint"] for c in ds.commits)
    assert values(ds.x) == [[i] for i in range(10)] and ds.has_head_changes  # the last window is not committed
    with pytest.raises(chute.errors.TransformError):
        fill().eval(list(range(10, 20)), ds, num_workers=2, checkpoint_interval=2, progressbar=False)
    # back at the last checkpoint: inputs 10..11 were done in the window before 12..13 failed
    assert values(ds.x) == [[i] for i in range(12)] and not ds.has_head_changes
    assert values(chute.load(ds.path, read_only=True).x) == [[i] for i in range(12)]
    assert ds.commits[0]["message"] == "Auto-commit during chute.compute of fill after 20.0% progress"
