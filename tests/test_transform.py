"""The transform executor's promises beyond Deep Lake 3: atomic evals (a failing sample, a dead
worker, Ctrl-C, a killed parent), checkpoints that keep what they published, one writer's chunk
layout from many workers, and engine-only transforms that match the loader's ops."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import chute
from chute import ops
from chute._internal.handle import tensor_core
from chute.util.exceptions import TransformError

SCHEDULERS = ["serial", "threaded", "processed"]


def _chunk_files(ds_path: str, tensor: str) -> set[str]:
    """The tensor's chunk files in every commit's folder (checkpoints are commits)."""
    folders = [Path(ds_path)] + sorted((Path(ds_path) / "versions").glob("*"))
    return {f for d in folders if (d / tensor / "chunks").is_dir() for f in os.listdir(d / tensor / "chunks")}


def _make_source(path, n=40, size=24, max_chunk_size=None):
    ds = chute.empty(str(path), overwrite=True)
    kw = {"max_chunk_size": max_chunk_size} if max_chunk_size else {}
    ds.create_tensor("images", htype="image", sample_compression="png", **kw)
    ds.create_tensor("labels", htype="class_label")
    rng = np.random.default_rng(0)
    with ds:
        for i in range(n):
            ds.append({"images": rng.integers(0, 255, (size, size, 3), dtype=np.uint8), "labels": f"c{i % 4}"})
    return ds


@chute.compute
def flip_or_fail(sample_in, samples_out, bad=-1):
    if int(sample_in.labels.numpy()[0]) == 3 and bad == -2:
        raise ValueError("bad label")
    img = sample_in.images.numpy()
    if bad >= 0 and int(img[0, 0, 0]) == bad:
        raise ValueError(f"bad sample {bad}")
    samples_out.images.append(np.flip(img, axis=0))
    samples_out.labels.append(sample_in.labels.numpy())


@chute.compute
def interrupt_at(sample_in, samples_out, at):
    if sample_in == at:
        raise KeyboardInterrupt
    samples_out.x.append(np.array([sample_in]))


@chute.compute
def slow_copy(sample_in, samples_out):
    time.sleep(0.002)
    samples_out.x.append(np.full((64,), sample_in, dtype=np.int64))


def _snapshot(ds) -> dict:
    return {k: (len(t), [t[i].numpy().tobytes() for i in range(len(t))]) for k, t in ds.tensors.items()}


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_a_failing_sample_leaves_ds_out_exactly_as_before(tmp_path, scheduler):
    src = _make_source(tmp_path / "src")
    out = chute.like(str(tmp_path / "out"), src)
    flip_or_fail().eval(src[0:10], out, num_workers=2, scheduler=scheduler, progressbar=False)
    before = _snapshot(out)
    files = {t: _chunk_files(out.path, t) for t in ("images", "labels")}
    bad_value = int(src.images[27].numpy()[0, 0, 0])
    with pytest.raises(TransformError) as e:
        flip_or_fail(bad=bad_value).eval(src, out, num_workers=2, scheduler=scheduler, progressbar=False)
    assert isinstance(e.value.__cause__, ValueError)
    assert "If you wish to skip" in str(e.value)
    assert _snapshot(out) == before
    # the workers' chunks are gone: only what the index names is left
    assert {t: _chunk_files(out.path, t) for t in ("images", "labels")} == files
    reopened = chute.load(out.path, read_only=True)
    assert _snapshot(reopened) == before
    # and the dataset still takes a transform afterwards
    flip_or_fail().eval(src[10:20], out, num_workers=2, scheduler=scheduler, progressbar=False)
    assert len(out) == 20


@pytest.mark.parametrize("scheduler", ["serial", "threaded", "processed"])
def test_an_in_place_transform_that_fails_changes_nothing(tmp_path, scheduler):
    ds = _make_source(tmp_path / "ds", n=24)
    before = _snapshot(ds)
    with pytest.raises(TransformError):
        flip_or_fail(bad=-2).eval(ds, num_workers=2, scheduler=scheduler, progressbar=False)
    assert _snapshot(ds) == before
    assert _snapshot(chute.load(ds.path, read_only=True)) == before
    # a transform that succeeds replaces the rows, and the old chunks are deleted
    old = _chunk_files(ds.path, "images")
    flip_or_fail().eval(ds, num_workers=2, scheduler=scheduler, progressbar=False)
    assert len(ds) == 24
    np.testing.assert_array_equal(ds.images[5].numpy(), np.flip(np.frombuffer(before["images"][1][5], np.uint8)
                                                                 .reshape(24, 24, 3), axis=0))
    assert not (old & _chunk_files(ds.path, "images"))


@pytest.mark.parametrize("scheduler", ["serial", "threaded"])
def test_ctrl_c_in_the_middle_restores_ds_out(tmp_path, scheduler):
    out = chute.empty(str(tmp_path / "out"))
    out.create_tensor("x", dtype="int64")
    out.x.extend(np.arange(5).reshape(5, 1))
    with pytest.raises(KeyboardInterrupt):
        interrupt_at(at=33).eval(list(range(60)), out, num_workers=2, scheduler=scheduler, progressbar=False)
    assert len(out) == 5
    np.testing.assert_array_equal(out.x.numpy().ravel(), np.arange(5))
    assert len(_chunk_files(out.path, "x")) == tensor_core(out.x).num_chunks()


def test_a_killed_worker_is_an_error_and_changes_nothing(tmp_path):
    out = chute.empty(str(tmp_path / "out"))
    out.create_tensor("x", dtype="int64")
    out.x.extend(np.arange(3).reshape(3, 1))

    @chute.compute
    def die(sample_in, samples_out):
        if sample_in == 17:
            os.kill(os.getpid(), signal.SIGKILL)
        samples_out.x.append(np.array([sample_in]))

    t0 = time.monotonic()
    with pytest.raises(TransformError, match="worker process"):
        die().eval(list(range(40)), out, num_workers=2, scheduler="processed", progressbar=False)
    assert time.monotonic() - t0 < 60
    assert len(out) == 3
    assert len(_chunk_files(out.path, "x")) == tensor_core(out.x).num_chunks()


def test_checkpoints_keep_the_rows_they_published(tmp_path):
    out = chute.empty(str(tmp_path / "out"))
    out.create_tensor("x", dtype="int64")

    @chute.compute
    def fail_at_57(sample_in, samples_out):
        if sample_in == 57:
            raise RuntimeError("boom")
        samples_out.x.append(np.array([sample_in]))

    with pytest.raises(TransformError) as e:
        fail_at_57().eval(list(range(100)), out, num_workers=2, checkpoint_interval=20, progressbar=False)
    assert e.value.index == 57
    assert "Last checkpoint: 40 samples processed" in str(e.value)
    assert len(out) == 40
    np.testing.assert_array_equal(out.x.numpy().ravel(), np.arange(40))
    # resuming from the checkpoint by slicing the input
    fail_at_57().eval(list(range(40, 57)) + list(range(58, 100)), out, num_workers=2, progressbar=False)
    assert len(out) == 99


def test_a_killed_parent_leaves_the_last_checkpoint_and_its_chunks_are_collected(tmp_path):
    path = tmp_path / "out"
    ds = chute.empty(str(path))
    ds.create_tensor("x", dtype="int64", max_chunk_size=4096)
    ds.x.extend(np.zeros((7, 64), dtype=np.int64))
    del ds
    script = textwrap.dedent(f"""
        import sys, numpy as np, chute
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_transform import slow_copy
        ds = chute.load({str(path)!r})
        print("started", flush=True)
        slow_copy().eval(list(range(100000)), ds, num_workers=2, scheduler="processed", checkpoint_interval=2000,
                         progressbar=False)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "started"
        deadline = time.monotonic() + 60
        # wait until the first checkpoint is published and more chunks are being written
        while time.monotonic() < deadline:
            n = chute.load(str(path), read_only=True).x.num_samples
            if n >= 2007 and len(_chunk_files(str(path), "x")) > 30:
                break
            time.sleep(0.05)
        proc.kill()
    finally:
        proc.wait(timeout=30)
    time.sleep(0.5)  # the orphaned workers notice the parent is gone, or are killed below
    subprocess.run(["pkill", "-9", "-f", "from test_transform import slow_copy"], check=False)
    # writable: collects what the killed writers left (forked workers share the parent's lock until they are gone)
    deadline = time.monotonic() + 20
    while True:
        try:
            after = chute.load(str(path), read_only=False)
            break
        except chute.DatasetLockedError:
            assert time.monotonic() < deadline, "the killed writer's workers still hold the lock"
            time.sleep(0.1)
    n = len(after)
    assert n >= 2007 and (n - 7) % 2000 == 0, n  # the start, or a checkpoint: never in between
    # every checkpoint is a commit (Deep Lake's auto-commits), the last one at the rows the head has
    msgs = [c["message"] for c in after.commits]
    assert msgs and all(m.startswith("Auto-commit during chute.compute of slow_copy after ") for m in msgs), msgs
    last = round(float(msgs[0].split(" after ")[1].split("%")[0]) * 1000)  # inputs done at the last checkpoint
    assert n - 7 - last in (0, 2000), (n, msgs[0])  # killed in a window, or between its flush and the next commit
    xs = after.x.numpy()
    np.testing.assert_array_equal(xs[:7], 0)
    np.testing.assert_array_equal(xs[7:, 0], np.arange(n - 7))
    assert len(_chunk_files(str(path), "x")) == tensor_core(after.x).num_chunks()


def test_many_workers_leave_one_writers_chunk_layout(tmp_path):
    src = _make_source(tmp_path / "src", n=120, size=32, max_chunk_size=64 * 1024)
    counts = {}
    for scheduler, workers in [("serial", 0), ("threaded", 3), ("processed", 2)]:
        out = chute.like(str(tmp_path / f"out_{scheduler}"), src)
        flip_or_fail().eval(src, out, num_workers=workers, scheduler=scheduler, progressbar=False)
        counts[scheduler] = tensor_core(out.images).num_chunks()
        np.testing.assert_array_equal(out.images.numpy(), np.flip(src.images.numpy(), axis=1))
        assert len(_chunk_files(out.path, "images")) == counts[scheduler]
    assert counts["serial"] > 3
    assert counts["threaded"] <= counts["serial"] + 1
    assert counts["processed"] <= counts["serial"] + 1


def _jpeg_source(tmp_path, n=30):
    from PIL import Image
    folder = tmp_path / "imgs"
    rng = np.random.default_rng(1)
    for c in ("a", "b"):
        (folder / c).mkdir(parents=True)
    for i in range(n):
        h, w = int(rng.integers(60, 120)), int(rng.integers(60, 120))
        yy, xx = np.mgrid[0:h, 0:w]
        img = np.stack([(yy * 2) % 256, (xx * 3) % 256, (yy + xx) % 256], -1).astype(np.uint8)
        Image.fromarray(img).save(folder / ("a" if i % 3 else "b") / f"{i}.jpg", quality=90)
    return chute.ingest_classification(str(folder), str(tmp_path / "src"), progressbar=False, shuffle=False)


def test_engine_transform_matches_the_loaders_ops_for_every_scheduler(tmp_path):
    src = _jpeg_source(tmp_path)
    pipeline = [ops.RandomResizedCrop(48), ops.RandomHorizontalFlip()]
    # what the loader's engine ops give for each row (seed 7, epoch 0)
    loader = src.dataloader().transform({"images": ops.Compose(pipeline), "labels": None}).seed(7).batch(len(src))
    expected = next(iter(loader.numpy()))
    results = {}
    for scheduler in SCHEDULERS:
        out = chute.empty(str(tmp_path / f"out_{scheduler}"))
        out.create_tensor("images", htype="image", sample_compression="png")
        out.create_tensor("labels", htype="class_label")
        chute.compute({"images": pipeline}, seed=7).eval(src, out, num_workers=2, scheduler=scheduler,
                                                         progressbar=False)
        results[scheduler] = out.images.numpy()
        np.testing.assert_array_equal(results[scheduler], expected["images"])
        np.testing.assert_array_equal(out.labels.numpy(), src.labels.numpy())
        assert out.labels.info.class_names == src.labels.info.class_names


def test_engine_transform_copies_jpegs_as_stored_and_reencodes_resized_ones(tmp_path):
    src = _jpeg_source(tmp_path, n=12)
    out = chute.like(str(tmp_path / "out"), src)
    chute.compute({"images": [ops.Resize(32)]}).eval(src, out, num_workers=2, progressbar=False)
    assert out.images.meta["sample_compression"] == "jpeg"
    assert out.images[3].numpy().shape == (32, 32, 3)
    copy = chute.like(str(tmp_path / "copy"), src)
    chute.compute({}).eval(src, copy, num_workers=2, progressbar=False)
    assert all(copy.images[i].tobytes() == src.images[i].tobytes() for i in range(len(src)))
    with pytest.raises(ValueError, match="Normalize"):
        chute.compute({"images": [ops.Normalize(ops.IMAGENET_MEAN, ops.IMAGENET_STD)]})
    with pytest.raises(chute.TensorMismatchError, match="nope"):
        chute.compute({"nope": [ops.Resize(8)]}).eval(src, out, progressbar=False)
    with pytest.raises(chute.InvalidInputDataError):
        chute.compute({"images": [ops.Resize(8)]}).eval([1, 2, 3], out, progressbar=False)


def test_engine_transform_names_a_bad_image_and_changes_nothing(tmp_path):
    from PIL import Image
    src = chute.empty(str(tmp_path / "src"))
    src.create_tensor("images", htype="image", sample_compression="png")
    good = tmp_path / "good.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(good)
    for _ in range(5):
        src.images.append(chute.read(str(good)))
    data = bytearray(good.read_bytes())
    at = data.index(b"IDAT") + 20
    data[at:at + 16] = bytes(16)  # the image data damaged: the header still reads, the pixels do not
    bad = tmp_path / "bad.png"
    bad.write_bytes(bytes(data))
    src.images.append(chute.read(str(bad)))
    src.images.append(chute.read(str(good)))
    out = chute.like(str(tmp_path / "out"), src)
    with pytest.raises(TransformError) as e:
        chute.compute({"images": [ops.Resize(16)]}).eval(src, out, num_workers=2, progressbar=False)
    assert e.value.index == 5
    assert "images" in str(e.value.__cause__)
    assert len(out) == 0
    assert not _chunk_files(out.path, "images")
    chute.compute({"images": [ops.Resize(16)]}).eval(src, out, num_workers=2, ignore_errors=True,
                                                      progressbar=False)
    assert len(out) == 6


@chute.compute
def from_frame_row(row, samples_out):
    samples_out.append({"name": row["name"], "value": np.array([row.value], dtype=np.float64),
                        "g/label": row["label"]})


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_a_dataframe_is_rows_and_groups_take_slash_names(tmp_path, scheduler):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"name": [f"n{i}" for i in range(9)], "value": np.arange(9) / 2,
                       "label": ["b", "a", "b", "c", "a", "b", "c", "c", "a"]})
    out = chute.empty(str(tmp_path / "out"))
    out.create_tensor("name", htype="text")
    out.create_tensor("value", dtype="float64")
    out.create_tensor("g/label", htype="class_label")
    from_frame_row().eval(df, out, num_workers=2, scheduler=scheduler, progressbar=False)
    assert out.name.data()["value"] == list(df["name"])
    np.testing.assert_array_equal(out.value.numpy().ravel(), df["value"].to_numpy())
    # class names numbered in order of first appearance in the input, whichever worker saw them
    assert out["g/label"].info.class_names == ["b", "a", "c"]
    assert out.g.label.data()["text"] == [[x] for x in df["label"]]


def test_progress_bar_counts_every_input(tmp_path, capsys):
    out = chute.empty(str(tmp_path / "out"))
    out.create_tensor("x", dtype="int64")
    slow_copy().eval(list(range(50)), out, num_workers=2, scheduler="processed", progressbar=True)
    err = capsys.readouterr().err
    assert "Evaluating slow_copy" in err and "50/50" in err


@chute.compute
def relabel_only(sample_in, samples_out):
    samples_out.labels.append("z")


def test_in_place_with_skip_ok_keeps_the_tensors_it_does_not_write(tmp_path):
    ds = _make_source(tmp_path / "ds", n=6)
    images = ds.images.numpy()
    relabel_only().eval(ds, num_workers=2, skip_ok=True, progressbar=False)
    np.testing.assert_array_equal(ds.images.numpy(), images)
    assert ds.labels.data()["text"] == [["z"]] * 6
