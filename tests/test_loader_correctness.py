"""Loader behaviour that was silently wrong: distributed ranks without a seed, resuming after a
batch whose samples were all skipped, damaged text / json samples, worker processes forked while
engine threads ran."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import jpeg_bytes

import chute

ROWS = 16


def damage(path, tensor: str, sample: bytes, replacement: bytes, count: int = 1) -> None:
    """Overwrites stored sample bytes in place (the chunk is ours to damage in a test)."""
    assert len(replacement) == len(sample)
    cdir = os.path.join(path, tensor, "chunks")
    (name,) = os.listdir(cdir)
    p = os.path.join(cdir, name)
    data = open(p, "rb").read()
    assert data.count(sample) == count, "the sample must be found in the chunk"
    with open(p, "wb") as f:
        f.write(data.replace(sample, replacement))


@pytest.fixture(scope="module")
def damaged_ds(tmp_path_factory, photos):
    """16 rows: jpeg images (rows 4-7 damaged: batch 1 of 4 decodes to nothing), labels, text
    (row 10 not UTF-8) and json (row 13 not JSON)."""
    path = str(tmp_path_factory.mktemp("damaged") / "ds")
    ds = chute.empty(path)
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.create_tensor("labels", htype="class_label")
    ds.create_tensor("caption", htype="text")
    ds.create_tensor("meta", htype="json")
    good = jpeg_bytes(photos[0][:64, :64])
    bad = jpeg_bytes(photos[1][:64, :64])
    with ds:
        for i in range(ROWS):
            ds.images.append(chute.Sample(buffer=bad if 4 <= i < 8 else good))
            ds.labels.append(i % 3)
            ds.caption.append(f"caption number {i:02d}")
            ds.meta.append({"row": i, "name": f"r{i:02d}"})
    # the four identical samples of rows 4-7 lose their entropy-coded data
    damage(path, "images", bad, bad[:200] + b"\x00" * 400 + bad[600:], count=4)
    damage(path, "caption", b"caption number 10", b"caption \xff\xfe\xfd\xfcer 10")
    damage(path, "meta", b'{"row": 13, "name": "r13"}', b'{"row": 13, "name": "r13"!')
    return chute.load(path, read_only=True)


# ---- distributed without a seed ----

def test_ranks_from_the_environment_without_a_seed_share_one_permutation(damaged_ds, monkeypatch):
    shares, seeds = [], []
    monkeypatch.setattr(chute.random, "_seed", None)
    for rank in range(3):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "3")
        dl = damaged_ds.dataloader().batch(4).shuffle().numpy(tensors=["labels"], distributed=True)
        shares.append(np.concatenate([b["index"] for b in dl]).tolist())
        seeds.append(dl.state_dict()["seed"])
    assert seeds == [0, 0, 0]  # DistributedSampler's default: no rank can ask the others
    both = sum(shares, [])
    assert [len(s) for s in shares] == [6, 6, 6]  # 16 rows padded to 18
    assert set(both) == set(range(ROWS)) and len(both) - len(set(both)) == 2
    assert both != sorted(both)


def test_chute_random_seed_is_the_default_of_ranks_from_the_environment(damaged_ds, monkeypatch):
    monkeypatch.setattr(chute.random, "_seed", None)
    chute.random.seed(123)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    dl = damaged_ds.dataloader().shuffle().numpy(tensors=["labels"], distributed=True)
    assert dl.state_dict()["seed"] == 123


def test_an_explicit_seed_still_wins_when_distributed(damaged_ds, monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    dl = damaged_ds.dataloader().shuffle().seed(77).numpy(tensors=["labels"], distributed=True)
    assert dl.state_dict()["seed"] == 77


# ---- resuming after skipped batches ----

@pytest.mark.parametrize("workers", [0, 1])
def test_state_dict_after_an_all_skipped_batch_resumes_without_replay(damaged_ds, workers):
    def make():
        return (damaged_ds.dataloader(ignore_errors=True).batch(4)
                .transform({"images": None, "labels": lambda a: a})
                .pytorch(num_workers=workers))

    full = [b["index"].tolist() for b in make()]
    assert full == [[0, 1, 2, 3], [8, 9, 10, 11], [12, 13, 14, 15]]  # batch 1 lost all its samples
    dl = make()
    it = iter(dl)
    seen = [next(it)["index"].tolist() for _ in range(2)]
    state = dl.state_dict()
    it.close()
    assert state["consumed"] == 12
    again = make()
    again.load_state_dict(state)
    assert seen + [b["index"].tolist() for b in again] == full


def test_state_dict_when_the_last_batches_were_all_skipped(damaged_ds):
    # rows 0-7 as two batches of 4: the second batch is all damaged; the epoch ends after it
    dl = damaged_ds[0:8].dataloader(ignore_errors=True).batch(4).numpy(tensors=["images"])
    it = iter(dl)
    assert next(it)["index"].tolist() == [0, 1, 2, 3]
    assert dl.state_dict()["consumed"] == 4
    assert list(it) == []
    assert dl.state_dict() == {"epoch": 1, "consumed": 0, "seed": dl.state_dict()["seed"]}
    assert dl.summary["skipped"] == 4


# ---- damaged text and json ----

@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("tensor, index, what", [("caption", 10, "not valid UTF-8"), ("meta", 13, "not valid JSON")])
def test_damaged_text_or_json_names_tensor_and_index_in_the_loader(damaged_ds, workers, tensor, index, what):
    dl = damaged_ds.dataloader().batch(4).transform({tensor: lambda v: v}).pytorch(num_workers=workers)
    with pytest.raises(chute.DecodeError, match=f"tensor '{tensor}' index {index}: the stored .* {what}"):
        list(dl)


@pytest.mark.parametrize("workers", [0, 2])
def test_damaged_text_and_json_are_skipped_and_counted_with_ignore_errors(damaged_ds, workers):
    kw = {"num_workers": workers}
    dl = damaged_ds.dataloader(ignore_errors=True).batch(4)
    if workers:
        dl = dl.transform({"caption": lambda v: v, "meta": lambda v: v, "labels": None})
    dl = dl.numpy(tensors=None if workers else ["caption", "meta", "labels"], **kw)
    batches = list(dl)
    got = np.concatenate([b["index"] for b in batches]).tolist()
    assert got == [i for i in range(ROWS) if i not in (10, 13)]
    assert dl.summary["skipped"] == 2
    assert [e.split(":")[0] for e in dl.summary["errors"]] == ["tensor 'caption' index 10", "tensor 'meta' index 13"]
    rows = {i: (c, m) for b in batches for i, c, m in zip(b["index"], b["caption"], b["meta"])}
    assert rows[11] == ("caption number 11", {"row": 11, "name": "r11"})


def test_damaged_samples_of_every_kind_are_counted_together(damaged_ds):
    dl = damaged_ds.dataloader(ignore_errors=True).batch(4).pytorch(tensors=["images", "caption", "meta"])
    got = [b["index"].tolist() for b in dl]
    assert got == [[0, 1, 2, 3], [8, 9, 11], [12, 14, 15]]
    assert dl.summary["skipped"] == 6
    assert len(dl.summary["errors"]) == 6


def test_a_batch_left_empty_by_damaged_text_is_not_yielded(tmp_path):
    ds = chute.empty(tmp_path / "ds")
    ds.create_tensor("caption", htype="text")
    with ds:
        for i in range(6):
            ds.caption.append(f"caption {i}")
    damage(ds.path, "caption", b"caption 2caption 3", b"\xffaption 2\xffaption 3")
    dl = chute.load(ds.path, read_only=True).dataloader(ignore_errors=True).batch(2).numpy()
    it = iter(dl)
    assert [str(c) for c in next(it)["caption"]] == ["caption 0", "caption 1"]
    b = next(it)
    assert b["index"].tolist() == [4, 5]
    assert dl.state_dict()["consumed"] == 6
    assert dl.summary["skipped"] == 2


# ---- worker processes fork before the engine's threads start ----

FORK_SCRIPT = r"""
import json, os, sys
import numpy as np
import chute

def threads():
    with open("/proc/self/status") as f:
        return int(next(line for line in f if line.startswith("Threads:")).split()[1])

ds = chute.empty(sys.argv[1])
ds.create_tensor("images", htype="image", sample_compression="png")
ds.create_tensor("labels", htype="class_label")
with ds:
    for i in range(32):
        ds.images.append(np.full((20, 24, 3), i, np.uint8))
        ds.labels.append(i % 3)
assert ds.images.numpy().shape == (32, 20, 24, 3)  # engine work: the process-wide decode pool starts
assert len(ds.query("select * where labels == 1")) == 11
after_engine_work = threads()
at_fork = []
os.register_at_fork(before=lambda: at_fork.append(threads()))
dl = ds.dataloader().batch(4).transform({"images": None, "labels": lambda a: a + 1}).pytorch(num_workers=2)
rows = []
for epoch in range(2):
    rows.append(sorted(i for b in dl for i in b["index"].tolist()))
print(json.dumps({"after_engine_work": after_engine_work, "at_fork": at_fork, "rows": rows}))
"""


def test_transform_workers_fork_while_the_process_has_one_thread(tmp_path):
    r = subprocess.run([sys.executable, "-c", FORK_SCRIPT, str(tmp_path / "ds")], capture_output=True, text=True,
                       timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    if (os.cpu_count() or 1) > 1:
        assert out["after_engine_work"] > 1  # the test means something: engine threads existed
    assert out["rows"] == [list(range(32))] * 2
    assert out["at_fork"] == [1] * 4  # two workers per epoch, each forked from a one-thread process
