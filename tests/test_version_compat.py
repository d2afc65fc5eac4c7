"""Version control compatibility with Deep Lake 3.9.52, both ways, against the real deeplake package (its own
venv; the oracle scripts in tests/oracle/dl3_vc_*.py).

1. deeplake -> chute: dl3_vc_write.py makes a history (three commits on main, branch alt from the second with a new
   tensor, branch old from the first, appends after commits, updates incl. a tiled image replaced by another tiled
   one and a small image by one of another shape, uncommitted flushed heads). chute reads every node identically,
   and its commit tree, ds.commits and ds.diff() equal deeplake's.
2. chute -> deeplake: chute makes such a history (updates of tiled samples both ways, a tensor added on a branch, a
   branch from an old commit that deletes a tensor); deeplake reads every node identically with check_integrity=True, and its
   ds.commits, has_head_changes, commit ids and ds.diff() equal chute's.
3. cross commits: deeplake commits (and branches) on top of the chute history, chute reads the result; chute
   commits (updates, appends, a branch) on top of the deeplake history, deeplake reads the result.

Two oracle processes (~8 s): one writes the deeplake history, reads the chute one and commits on a copy of it; the
other reads the deeplake history chute committed on.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from test_compat_deeplake3 import check_oracle, load_pickle, oracle_python, run_oracle  # noqa: F401

import chute
from chute.version import FIRST_COMMIT

pytestmark = pytest.mark.oracle


def chute_values(ds) -> dict:
    """Every visible tensor's rows as the oracle scripts record them (arrays, str for text)."""
    out = {}
    for name, t in ds.tensors.items():
        if t.htype in ("text", "json", "list"):
            out[name] = [t[i].data()["value"] for i in range(len(t))]
        else:
            out[name] = [t[i].numpy() for i in range(len(t))]
    return out


def assert_same(got: dict, want: dict, what: str) -> None:
    assert sorted(got) == sorted(want), f"{what}: tensors {sorted(got)} != {sorted(want)}"
    for name in want:
        assert len(got[name]) == len(want[name]), f"{what}: {name} has {len(got[name])} rows, want {len(want[name])}"
        for i, (a, b) in enumerate(zip(got[name], want[name])):
            if isinstance(b, (str, dict, list)):
                assert a == b, f"{what}: {name}[{i}] = {a!r}, want {b!r}"
            else:
                assert np.asarray(a).dtype == np.asarray(b).dtype, f"{what}: {name}[{i}] dtype"
                np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=f"{what}: {name}[{i}]")


def plain(obj):
    """chute's diff as the oracle scripts record deeplake's (sets sorted, tuples as lists)."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (set, frozenset)):
        return sorted(plain(v) for v in obj)
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return obj


def write_chute_history(path: str) -> dict:
    """A branched history written by chute; returns the ids by name."""
    rng = np.random.default_rng(0)
    ds = chute.empty(path, overwrite=True)
    with ds:
        ds.create_tensor("x", dtype="int32")
        ds.create_tensor("txt", htype="text")
        ds.create_tensor("img", htype="image", sample_compression="png", max_chunk_size=128 * 1024,
                         tiling_threshold=64 * 1024)
        ds.create_tensor("lbl", htype="class_label", class_names=["cat", "dog", "bird"])

    def row(i, big=False):
        shape = (300, 300, 3) if big else (8 + i, 9, 3)
        return {"x": np.array([i, i + 1], dtype=np.int32), "txt": f"t{i}",
                "img": rng.integers(0, 255, shape, dtype=np.uint8), "lbl": i % 3}

    ids = {}
    with ds:
        ds.append(row(0, big=True))  # tiled
        for i in range(1, 4):
            ds.append(row(i))
    ids["first"] = ds.commit("first")
    with ds:
        for i in range(4, 6):
            ds.append(row(i))
        ds.x[0] = np.array([100, 101], dtype=np.int32)
        ds.txt[1] = "updated"
        ds[2].update({"x": np.array([7, 7], dtype=np.int32), "lbl": "bird"})
        ds.img[0] = rng.integers(0, 255, (300, 300, 3), dtype=np.uint8)  # tiled -> tiled
        ds.img[1] = rng.integers(0, 255, (5, 4, 3), dtype=np.uint8)      # another shape
    ids["second"] = ds.commit("second")
    ds.checkout("alt", create=True)
    ds.create_tensor("y", dtype="uint8")
    ds.y.extend(np.ones((6, 3), dtype=np.uint8))
    ds.x[1] = np.array([-1, -1], dtype=np.int32)
    ds.img[2] = rng.integers(0, 255, (300, 300, 3), dtype=np.uint8)  # small -> tiled
    ids["alt1"] = ds.commit("alt commit")
    ds.append({**row(6), "y": np.zeros(3, dtype=np.uint8)})  # alt's head: uncommitted, flushed
    ids["alt_head"] = ds.pending_commit_id
    ds.checkout("main")
    ds.append(row(7))
    ds.img[0] = rng.integers(0, 255, (10, 10, 3), dtype=np.uint8)  # tiled -> small
    ids["third"] = ds.commit("third")
    ds.x[3] = np.array([33, 33], dtype=np.int32)
    ids["main_head"] = ds.pending_commit_id
    ds.checkout(ids["first"])
    ds.checkout("old", create=True)
    ds.x[0] = np.array([5, 5], dtype=np.int32)
    ds.delete_tensor("lbl")  # a deletion (dataset_diff) deeplake must see
    ids["old1"] = ds.commit("old fix")
    ds.checkout("main")
    ds.flush()
    return ids


@pytest.fixture(scope="module")
def histories(oracle_python, tmp_path_factory):  # noqa: F811
    d = tmp_path_factory.mktemp("vc")
    chute_ids = write_chute_history(str(d / "chute"))
    shutil.copytree(d / "chute", d / "cross")
    errors = run_oracle(
        oracle_python,
        ("dl3_vc_write", d / "dl3", d / "dl3_write.pkl"),
        ("dl3_vc_read", d / "chute", d / "chute_read.pkl"),
        ("dl3_vc_cross", d / "cross", d / "cross.pkl"),
    )
    return SimpleNamespace(dir=d, chute_ids=chute_ids, errors=errors)


@pytest.fixture(scope="module")
def dl3_written(histories):
    check_oracle(histories.errors[0], "dl3_vc_write.py")
    return load_pickle(histories.dir / "dl3_write.pkl")


@pytest.fixture(scope="module")
def chute_read_by_dl3(histories):
    check_oracle(histories.errors[1], "dl3_vc_read.py of chute's history")
    return load_pickle(histories.dir / "chute_read.pkl")


# ======================================================================================================================
# 1. deeplake -> chute


def test_dl3_history_reads_identically_at_every_node(histories, dl3_written):
    p = str(histories.dir / "dl3")
    assert len(dl3_written["nodes"]) == 9
    for node, rec in dl3_written["nodes"].items():
        ds = chute.load(f"{p}@{node}", read_only=True)
        assert ds.branch == rec["branch"], node
        assert_same(chute_values(ds), rec["values"], f"node {node} ({rec['branch']}, {rec['message']})")
    # the script's own record of what it wrote agrees (so the comparison above is not vacuous)
    for key, want in dl3_written["expected"].items():
        assert_same(chute_values(chute.load(f"{p}@{dl3_written['ids'][key]}", read_only=True)), want, key)
    assert dl3_written["tiled"], "the deeplake history has tiled samples"


def test_dl3_history_tree_commits_and_diff_in_chute(histories, dl3_written):
    p = str(histories.dir / "dl3")
    ids = dl3_written["ids"]
    ds = chute.load(p, read_only=True)
    assert sorted(ds.branches) == sorted(dl3_written["branches"])
    for branch, want in dl3_written["commits"].items():
        ds.checkout(branch)
        assert ds.commits == want, branch
        assert ds.pending_commit_id == dl3_written["branches"][branch]
    ds.checkout("main")
    assert plain(ds.diff(ids["first"], ids["second"], as_dict=True)) == dl3_written["diff"]["first_second"]
    assert plain(ds.diff(ids["second"], ids["alt2"], as_dict=True)) == dl3_written["diff"]["second_alt2"]
    assert plain(ds.diff(ids["alt2"], ids["third"], as_dict=True)) == dl3_written["diff"]["alt2_third"]
    assert plain(ds.diff(as_dict=True)) == dl3_written["diff"]["main_head"]
    ds.checkout("alt")
    assert plain(ds.diff(as_dict=True)) == dl3_written["diff"]["alt_head"]
    # the log lists the same commits in the same order
    logged = [ln.split()[2] for ln in dl3_written["log_text"].splitlines() if ln.startswith("Commit : ")]
    ds.checkout("main")
    assert logged == [c["commit"] for c in ds.commits]


# ======================================================================================================================
# 2. chute -> deeplake


def test_chute_history_reads_identically_in_dl3(histories, chute_read_by_dl3):
    p = str(histories.dir / "chute")
    r = chute_read_by_dl3
    vc = json.loads((Path(p) / "version_control_info.json").read_text())
    assert r["missing"] == [] and set(r["nodes"]) == set(vc["commits"])
    for node, rec in r["nodes"].items():
        assert "error" not in rec, f"deeplake could not read node {node}:\n{rec.get('error', '')[-3000:]}"
        ds = chute.load(f"{p}@{node}", read_only=True)
        assert_same(rec["values"], chute_values(ds), f"node {node}")
        assert (rec["branch"], rec["commit_id"], rec["pending_commit_id"], rec["has_head_changes"]) == \
               (ds.branch, ds.commit_id, ds.pending_commit_id, ds.has_head_changes), node


def test_chute_history_commits_and_diff_in_dl3(histories, chute_read_by_dl3):
    p = str(histories.dir / "chute")
    r = chute_read_by_dl3
    ds = chute.load(p, read_only=True)
    assert sorted(r["branches"]) == sorted(ds.branches) == ["alt", "main", "old"]
    for branch, want in r["commits"].items():
        ds.checkout(branch)
        assert want == ds.commits, branch
    ds.checkout("main")
    assert r["diff_head"] == plain(ds.diff(as_dict=True))
    assert r["diff_first_head"] == plain(ds.diff(FIRST_COMMIT, ds.pending_commit_id, as_dict=True))
    # deeplake's log() of chute's history: the same commits, newest first, with their messages and authors
    logged = [ln.split()[2] for ln in r["log_text"].splitlines() if ln.startswith("Commit : ")]
    assert logged == [c["commit"] for c in ds.commits]
    assert "Message: third" in r["log_text"] and "Message: first" in r["log_text"]
    assert "** There are uncommitted changes on this branch." in r["log_text"]  # main's head has an update
    head = r["diff_head"]["tensor"][0]
    assert head["x"]["data_updated"] == [3]  # chute's commit_diff of an update, as deeplake reads it
    assert "lbl" not in r["nodes"][histories.chute_ids["old1"]]["values"]  # deleted on branch old


# ======================================================================================================================
# 3. cross commits


def test_dl3_commits_on_top_of_a_chute_history(histories):
    check_oracle(histories.errors[2], "dl3_vc_cross.py on a copy of chute's history")
    out = load_pickle(histories.dir / "cross.pkl")
    p = str(histories.dir / "cross")
    ds = chute.load(p, read_only=True)
    assert_same(chute_values(ds), out["values_after"], "main after deeplake's commit")
    assert ds.commits[0]["commit"] == out["commit_ids"][0] and ds.commits[0]["message"] == "dl3 on top"
    assert_same(chute_values(chute.load(f"{p}@dl3branch", read_only=True)), out["values_branch"], "dl3branch")
    # every commit chute made still reads as chute wrote it (main's head became deeplake's commit)
    assert out["commit_ids"][0] == histories.chute_ids["main_head"]
    for name, node in histories.chute_ids.items():
        if name == "main_head":
            continue
        assert_same(chute_values(chute.load(f"{p}@{node}", read_only=True)),
                    chute_values(chute.load(f"{histories.dir / 'chute'}@{node}", read_only=True)), name)
    # and chute goes on writing on top of deeplake's commits
    w = chute.load(p, read_only=False)
    w.x[0] = np.array([1, 2], dtype=np.int32)
    c = w.commit("chute again")
    assert chute.load(f"{p}@{c}", read_only=True).x[0].numpy().tolist() == [1, 2]


def test_chute_commits_on_top_of_a_dl3_history(histories, dl3_written, oracle_python):  # noqa: F811
    d = histories.dir
    shutil.copytree(d / "dl3", d / "dl3_plus")
    p = str(d / "dl3_plus")
    ds = chute.load(p, read_only=False)
    assert ds.has_head_changes  # deeplake left main's head with uncommitted changes
    with ds:
        ds.x[0] = np.array([-9, -9], dtype=np.int32)
        ds.img[0] = np.zeros((300, 300, 3), dtype=np.uint8)  # a tiled sample of deeplake's, replaced
        ds.append({"x": np.array([1, 1], dtype=np.int32), "txt": "chute", "img": np.ones((4, 4, 3), np.uint8),
                   "lbl": 1})
    on_main = ds.commit("chute on top")
    ds.checkout("chute_branch", create=True)
    ds.txt[0] = "on chute's branch"
    ds.commit("chute branch")
    ds.checkout("alt")
    ds.y[0] = np.array([9, 9, 9], dtype=np.uint8)
    ds.flush()
    ds.checkout("main")
    errors = run_oracle(oracle_python, ("dl3_vc_read", p, d / "dl3_plus_read.pkl"))
    check_oracle(errors[0], "dl3_vc_read.py of deeplake's history with chute's commits")
    r = load_pickle(d / "dl3_plus_read.pkl")
    for node, rec in r["nodes"].items():
        assert "error" not in rec, f"deeplake could not read node {node}:\n{rec.get('error', '')[-3000:]}"
        assert_same(rec["values"], chute_values(chute.load(f"{p}@{node}", read_only=True)), f"node {node}")
    assert on_main in r["nodes"] and "chute_branch" in r["branches"]
    assert r["commits"]["main"][0]["message"] == "chute on top"
    # deeplake's own nodes still read as deeplake wrote them
    for node, rec in dl3_written["nodes"].items():
        if node in r["nodes"] and not rec["branch"] == "alt" and rec["message"] is not None:
            assert_same(r["nodes"][node]["values"], rec["values"], f"deeplake's node {node}")
