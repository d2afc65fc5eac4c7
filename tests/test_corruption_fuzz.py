"""Random damage to every kind of dataset file (bench/fuzz_corruption.py has the harness and runs
thousands): open, read every sample, loaders (strict and ignore_errors, with engine ops) and
queries give chute's errors or the right values; never a signal, a hang, a foreign Python
exception, or a change outside the dataset. Seeded: a failing case reruns with
`python bench/fuzz_corruption.py --seed SEED --case N`."""
import os
import sys

import numpy as np
import pytest

import chute

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import fuzz_corruption as fz  # noqa: E402  (bench/ is put on the path just above)

SEED = 20261202
CASES = 400
KINDS = {"dataset_meta.json", "version_control_info.json", "dataset_info.json", "tensor_meta.json", "tensor_info.json",
         "chunks_index", "tiles_index", "chunk"}

# Failures from known bugs, by (step, start of the error, text the damage description must hold, the
# test that pins the bug as a strict xfail). Empty: the three the fuzz found are fixed, and their
# tests below now pass.
KNOWN: list[tuple[str, str, str, str]] = []


def _known(result) -> bool:
    damage = " ".join(result["mutations"])
    return all(any(step.startswith(s) and detail.startswith(e) and m in damage for s, e, m, _ in KNOWN)
               for step, _, detail in result["failures"])


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    work = tmp_path_factory.mktemp("fuzz")
    tpl, expected = fz.prepare(str(work))
    return tpl, expected, work


def _report(results) -> str:
    lines = []
    for r in results:
        lines.append(f"case {r['case']} (python bench/fuzz_corruption.py --seed {r['seed']} --case {r['case']}): "
                     f"{r['outcome']} after {r['mutations']}")
        for step, _, detail in r["failures"]:
            lines.append(f"    {step}: {detail[:800]}")
    return "\n".join(lines)


def test_random_damage_fails_cleanly(template):
    tpl, expected, work = template
    results = fz.run_cases(tpl, expected, str(work / "runs"), SEED, list(range(CASES)), jobs=2, batch=25)
    assert sorted(r["case"] for r in results) == list(range(CASES))
    bad = [r for r in results if r["outcome"] in fz.FAILURES and not _known(r)]
    assert not bad, _report(bad)
    # Not a degenerate run: every file kind was damaged, and cases both read fine and hit errors.
    damaged = {fz.kind_of(m.split(" ")[1]) for r in results for m in r["mutations"] if not m.startswith("journal")}
    assert any(m.startswith("journal") for r in results for m in r["mutations"])
    assert KINDS <= damaged, KINDS - damaged
    outcomes = {r["outcome"] for r in results}
    assert {fz.OK, fz.CHUTE_ERROR} <= outcomes


def test_the_harness_sees_a_crash_a_hang_and_a_foreign_exception(template, monkeypatch, tmp_path):
    """The pass criterion can fail: a child killed by a signal is a crash, one that stops
    answering is a hang, and an exception chute did not raise itself is foreign."""
    tpl, expected, _work = template
    import json
    import subprocess

    calls = []
    real_run = subprocess.run

    def fake_run(cmd, **kw):
        args = json.loads(cmd[-1])
        calls.append(args["cases"])
        code = {0: "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)", 1: "import time; time.sleep(60)"}.get(
            args["cases"][0] if len(args["cases"]) == 1 else -1, None)
        if code is not None:
            return real_run([sys.executable, "-c", code], **kw)
        if len(args["cases"]) > 1:  # the batch "crashes", so every case is rerun alone
            return real_run([sys.executable, "-c", "import os; os._exit(3)"], **kw)
        return real_run(cmd, **kw)

    monkeypatch.setattr(fz.subprocess, "run", fake_run)
    results = fz.run_cases(tpl, expected, str(tmp_path / "runs"), SEED, [0, 1, 2], jobs=1, batch=3, case_timeout=5)
    assert [r["outcome"] for r in results][:2] == ["crash", "hang"]
    assert results[2]["outcome"] in (fz.OK, fz.CHUTE_ERROR)
    assert calls[0] == [0, 1, 2] and [0] in calls and [1] in calls and [2] in calls

    # Values: with one expected label changed, a case that leaves the labels' files alone reads
    # "wrong" values (run in this process: the child machinery is not needed for this).
    with open(expected) as fh:
        exp = json.load(fh)
    exp["labels"][0] = "something else"
    wrong = [fz.run_case(tpl, exp, str(tmp_path / "inproc"), SEED, cid) for cid in range(12)]
    assert any(r["outcome"] == "wrong_values" for r in wrong)
    assert all("labels" in r["failures"][0][2] for r in wrong if r["outcome"] == "wrong_values")

    assert fz._classify(IndexError("x")) == "foreign_exception"
    assert fz._classify(ValueError("not raised by chute")) == "foreign_exception"
    assert fz._classify(chute.errors.FormatError("x")) == fz.CHUTE_ERROR


def test_class_label_past_the_class_names(tmp_path):
    ds = chute.empty(tmp_path / "ds")
    ds.create_tensor("labels", htype="class_label", class_names=["a", "b"])
    ds.labels.append(5)
    assert ds.labels.numpy().ravel().tolist() == [5]
    with pytest.raises(chute.errors.ChuteError, match="labels"):
        ds.labels.data()


def test_tensor_meta_hidden_not_a_bool(tmp_path):
    import json

    ds = chute.empty(tmp_path / "ds")
    ds.create_tensor("vec", htype="embedding", dtype="float32")
    ds.vec.append(np.zeros(8, np.float32))
    ds.flush()
    del ds
    p = tmp_path / "ds" / "vec" / "tensor_meta.json"
    m = json.loads(p.read_text())
    m["hidden"] = {}
    p.write_text(json.dumps(m))
    with pytest.raises(chute.errors.ChuteError, match="hidden"):
        ds = chute.load(tmp_path / "ds")
        ds.vec.append(np.zeros(8, np.float32))
        ds.flush()


def test_class_names_not_a_list(tmp_path):
    import json

    ds = chute.empty(tmp_path / "ds")
    ds.create_tensor("labels", htype="class_label", class_names=["a", "b"])
    ds.labels.append(1)
    ds.flush()
    del ds
    p = tmp_path / "ds" / "labels" / "tensor_info.json"
    info = json.loads(p.read_text())
    info["class_names"] = 2**64 - 1
    p.write_text(json.dumps(info))
    ds = chute.load(tmp_path / "ds")
    with pytest.raises(chute.errors.ChuteError, match="labels"):
        ds.labels.data()
    with pytest.raises(chute.errors.ChuteError, match="labels"):
        ds.labels.append(0)


def test_a_tile_whose_chunk_header_adds_a_huge_dimension(tmp_path):
    """A tile chunk's shape table rewritten from (h, w, c) to (h, w, c, n): the tile is checked
    against the sample's dimensions only, so n decided how much the reader allocated."""
    import struct
    import subprocess

    ds = chute.empty(tmp_path / "ds")
    ds.create_tensor("big", dtype="uint8", tiling_threshold=4000, max_chunk_size=4000)
    ds.big.append(np.ones((60, 50, 3), np.uint8))
    ds.flush()
    del ds
    chunks = tmp_path / "ds" / "big" / "chunks"
    for f in sorted(os.listdir(chunks)):
        b = (chunks / f).read_bytes()
        p = 1 + b[0]
        nrows, ncols = struct.unpack_from("<ii", b, p)
        table = list(struct.unpack_from(f"<{nrows * ncols}I", b, p + 8))
        rest = b[p + 8 + 4 * nrows * ncols:]
        assert (nrows, ncols) == (1, 4)
        (chunks / f).write_bytes(b[:p] + struct.pack("<ii", 1, 5) + struct.pack("<5I", *table[:3], 4_000_000_000, table[3]) + rest)
    code = f"""
import chute
ds = chute.load({str(tmp_path / 'ds')!r}, read_only=True)
for read in (lambda: ds.big[0].numpy(), lambda: ds.big.numpy(aslist=True), lambda: list(ds.dataloader().numpy())):
    try:
        read()
        raise AssertionError("no error")
    except chute.ChuteError as e:
        assert "tensor 'big'" in str(e) and "tile" in str(e), str(e)
        print("ok", type(e).__name__)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0 and r.stdout.count("ok") == 3, r.stdout + r.stderr
