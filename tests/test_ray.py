"""chute on a real local Ray (one shared instance, tests/conftest.py's ray_session): the executor's
scheduler="ray" (same rows and atomicity as the other schedulers), chute.ray.read (whole-chunk
read tasks, engine decode, map_batches / streaming_split / iter_torch_batches), chute.ray.write
(one commit; a failed write leaves nothing), and the loader inside Ray Train's TorchTrainer."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import chute
from chute._internal.handle import tensor_core
from chute.util.exceptions import TransformError

pytestmark = pytest.mark.ray


def _images_dataset(path, n=40, max_chunk_size=20_000):
    ds = chute.empty(str(path), overwrite=True)
    ds.create_tensor("images", htype="image", sample_compression="png", max_chunk_size=max_chunk_size)
    ds.create_tensor("labels", htype="class_label")
    ds.create_tensor("caption", htype="text")
    rng = np.random.default_rng(0)
    with ds:
        for i in range(n):
            h = 10 + i % 7
            ds.append({"images": rng.integers(0, 255, (h, 12, 3), dtype=np.uint8), "labels": f"c{i % 3}",
                       "caption": f"row {i}"})
    return ds


@chute.compute
def flip_and_tag(sample_in, samples_out, bad=-1):
    i = int(sample_in.caption.data()["value"].split()[1])
    if i == bad:
        raise ValueError(f"bad row {i}")
    samples_out.images.append(np.flip(sample_in.images.numpy(), axis=0))
    samples_out.labels.append(sample_in.labels.numpy())
    samples_out.caption.append(f"flipped {i}")


def test_scheduler_ray_gives_the_same_rows_as_serial(ray_session, tmp_path):
    src = _images_dataset(tmp_path / "src")
    outs = {}
    for scheduler, workers in [("serial", 0), ("ray", 3)]:
        out = chute.like(str(tmp_path / f"out_{scheduler}"), src)
        flip_and_tag().eval(src, out, num_workers=workers, scheduler=scheduler, progressbar=False)
        outs[scheduler] = out
    a, b = outs["serial"], outs["ray"]
    assert len(b) == len(src) == 40
    for i in range(40):
        np.testing.assert_array_equal(b.images[i].numpy(), a.images[i].numpy())
    assert b.caption.data()["value"] == a.caption.data()["value"]
    assert b.labels.info.class_names == a.labels.info.class_names
    assert tensor_core(b.images).num_chunks() <= tensor_core(a.images).num_chunks() + 1
    assert len(os.listdir(os.path.join(b.path, "images", "chunks"))) == tensor_core(b.images).num_chunks()


def test_scheduler_ray_failure_changes_nothing(ray_session, tmp_path):
    src = _images_dataset(tmp_path / "src", n=30)
    out = chute.like(str(tmp_path / "out"), src)
    flip_and_tag().eval(src[0:5], out, num_workers=2, scheduler="ray", progressbar=False)
    with pytest.raises(TransformError) as e:
        flip_and_tag(bad=17).eval(src, out, num_workers=3, scheduler="ray", progressbar=False)
    assert e.value.index == 17 and "bad row 17" in str(e.value.__cause__)
    assert len(out) == 5
    assert out.caption.data()["value"] == [f"flipped {i}" for i in range(5)]
    assert len(os.listdir(os.path.join(out.path, "images", "chunks"))) == tensor_core(out.images).num_chunks()


def test_ray_read_gives_every_row_in_order_decoded_by_the_engine(ray_session, tmp_path):
    src = _images_dataset(tmp_path / "src", n=50)
    assert len(tensor_core(src.images).chunk_ends()) >= 3  # several chunks: several read tasks
    rd = chute.ray.read(src.path, override_num_blocks=4)
    assert rd.count() == 50
    rows = rd.take_all()
    for i, r in enumerate(rows):
        np.testing.assert_array_equal(r["images"], src.images[i].numpy())
        assert r["caption"] == f"row {i}"
        assert int(np.asarray(r["labels"]).reshape(-1)[0]) == int(src.labels[i].numpy()[0])
    # stored bytes instead of pixels
    raw = chute.ray.read(src.path, tensors=["images"], decode=False).take(2)
    assert raw[0]["images"] == src.images[0].tobytes()
    # map_batches over the engine's decode, then torch batches
    sizes = chute.ray.read(src.path, tensors=["images"]).map_batches(
        lambda b: {"h": np.array([img.shape[0] for img in b["images"]])}, batch_format="numpy").take_all()
    assert sorted(r["h"] for r in sizes) == sorted(src.images[i].numpy().shape[0] for i in range(50))
    batches = list(chute.ray.read(src.path, tensors=["labels"]).iter_torch_batches(batch_size=16))
    assert sum(len(b["labels"]) for b in batches) == 50
    with pytest.raises(KeyError, match="nope"):
        chute.ray.read(src.path, tensors=["nope"])


def test_ray_read_streaming_split_gives_disjoint_equal_shares(ray_session, tmp_path):
    src = _images_dataset(tmp_path / "src", n=40)
    its = chute.ray.read(src.path, tensors=["caption"]).streaming_split(2, equal=True)

    # the consumers take no CPU: with two of each on a 2-CPU Ray, read tasks would otherwise wait forever
    @ray_session.remote(num_cpus=0)
    def consume(it):
        return [r["caption"] for r in it.iter_rows()]

    parts = ray_session.get([consume.remote(it) for it in its])
    assert len(parts[0]) == len(parts[1]) == 20
    assert sorted(parts[0] + parts[1]) == sorted(f"row {i}" for i in range(40))


def test_ray_write_commits_once_and_a_failure_leaves_nothing(ray_session, tmp_path):
    ray = ray_session
    items = [{"x": np.full((3,), i, dtype=np.int64), "name": f"n{i}"} for i in range(100)]
    rd = ray.data.from_items(items, override_num_blocks=5)
    path = tmp_path / "written"
    chute.ray.write(rd, path)
    ds = chute.load(str(path), read_only=True)
    assert len(ds) == 100
    np.testing.assert_array_equal(ds.x.numpy()[:, 0], np.arange(100))
    assert ds.name.data()["value"] == [f"n{i}" for i in range(100)]
    # appending to it: all or nothing
    def boom(batch):
        if (batch["x"][:, 0] >= 150).any():
            raise RuntimeError("boom")
        return batch
    bad = ray.data.from_items([{"x": np.full((3,), 100 + i, dtype=np.int64), "name": "m"} for i in range(100)],
                              override_num_blocks=5).map_batches(boom)
    with pytest.raises(Exception, match="boom"):
        chute.ray.write(bad, path)
    ds = chute.load(str(path), read_only=True)
    assert len(ds) == 100
    assert len(os.listdir(path / "x" / "chunks")) == tensor_core(ds.x).num_chunks()
    # a failed write into a new path leaves no dataset behind
    with pytest.raises(Exception, match="boom"):
        chute.ray.write(bad, tmp_path / "never")
    assert not chute.exists(str(tmp_path / "never"))


def test_scheduler_ray_without_ray_names_the_extra(tmp_path):
    # a fresh interpreter where `import ray` fails
    code = ("import sys; sys.modules['ray'] = None\n"
            "import chute, numpy as np\n"
            "ds = chute.empty(sys.argv[1]); ds.create_tensor('x')\n"
            "@chute.compute\n"
            "def f(s, o): o.x.append(np.array([s]))\n"
            "try:\n    f().eval([1, 2], ds, num_workers=2, scheduler='ray', progressbar=False)\n"
            "except chute.UnsupportedSchedulerError as e:\n    print('ERR', e)\n")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "ds")], capture_output=True, text=True, timeout=120)
    assert "pip install chute[ray]" in r.stdout, r.stderr[-2000:]
    assert len(chute.load(str(tmp_path / "ds"), read_only=True)) == 0
