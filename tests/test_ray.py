"""chute on a real local Ray (one shared instance, tests/conftest.py's ray_session): the executor's
scheduler="ray" (same rows and atomicity as the other schedulers), chute.ray.read (whole-chunk
read tasks, engine decode, map_batches / streaming_split / iter_torch_batches), chute.ray.write
(one commit; a failed write leaves nothing), and the loader inside Ray Train's TorchTrainer."""
from __future__ import annotations

import faulthandler
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

import chute
from chute._internal.handle import tensor_core
from chute.util.exceptions import TransformError

pytestmark = pytest.mark.ray


@pytest.fixture(autouse=True)
def bounded():
    """A hung Ray test (a task waiting for CPUs that never free up) dumps every stack and ends the
    run instead of holding CI until its limit."""
    faulthandler.dump_traceback_later(240, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


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
    # Ray emits blocks as the read tasks finish unless told to keep their order (for this dataset only)
    rd.context.execution_options.preserve_order = True
    rows = rd.take_all()
    for i, r in enumerate(rows):
        np.testing.assert_array_equal(r["images"], src.images[i].numpy())
        assert r["caption"] == f"row {i}"
        assert int(np.asarray(r["labels"]).reshape(-1)[0]) == int(src.labels[i].numpy()[0])
    # stored bytes instead of pixels
    raw = chute.ray.read(src.path, tensors=["images"], decode=False)
    raw.context.execution_options.preserve_order = True
    assert [r["images"] for r in raw.take(2)] == [src.images[0].tobytes(), src.images[1].tobytes()]
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


def test_loader_in_ray_train_gives_each_worker_a_disjoint_equal_share(ray_session, tmp_path, photos):
    """Orca's "replicate the pipeline on every node, shard the data": the README's worked example,
    run by Ray Train's TorchTrainer with 2 workers (gloo on CPU)."""
    from conftest import jpeg_bytes
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    path = str(tmp_path / "ds")
    ds = chute.empty(path)
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.create_tensor("labels", htype="class_label")
    with ds:
        for i in range(37):  # odd on purpose: the ranks need one padding row
            ds.images.append(chute.Sample(buffer=jpeg_bytes(photos[i % 4][:48 + i, :40 + i])))
            ds.labels.append(i % 3)
    out = tmp_path / "seen"
    out.mkdir()

    def train_loop_per_worker(config):  # nested, so Ray pickles it by value
        import json

        import ray.train
        import ray.train.torch
        import torch

        import chute
        from chute import ops

        ds = chute.load(config["path"], read_only=True)
        dl = (ds.dataloader().batch(4).shuffle()
              .transform({"images": ops.Compose([ops.Resize((16, 16)), ops.Normalize([0.5] * 3, [0.25] * 3)]),
                          "labels": None})
              .pytorch(distributed=True))
        model = ray.train.torch.prepare_model(torch.nn.Linear(3 * 16 * 16, 3))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        epochs = []
        for _ in range(2):
            seen = []
            for batch in dl:
                loss = torch.nn.functional.cross_entropy(model(batch["images"].flatten(1)), batch["labels"][:, 0])
                opt.zero_grad()
                loss.backward()
                opt.step()
                seen += batch["index"].tolist()
            epochs.append(seen)
        rank = ray.train.get_context().get_world_rank()
        with open(f"{config['out']}/rank{rank}.json", "w") as f:
            json.dump({"epochs": epochs, "seed": dl.state_dict()["seed"]}, f)
        ray.train.report({"rows": sum(len(e) for e in epochs)})

    trainer = TorchTrainer(train_loop_per_worker, train_loop_config={"path": path, "out": str(out)},
                           scaling_config=ScalingConfig(num_workers=2, use_gpu=False),
                           run_config=RunConfig(storage_path=str(tmp_path / "ray_results"), name="chute"))
    # fit() installs Ray Train's own SIGINT handler and leaves it there (a later Ctrl-C in this
    # process would abort a finished run and exit); give the test session its handler back
    before = signal.getsignal(signal.SIGINT)
    try:
        trainer.fit()
    finally:
        signal.signal(signal.SIGINT, before)
    import json
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]
    assert ranks[0]["seed"] == ranks[1]["seed"]
    for epoch in range(2):
        a, b = ranks[0]["epochs"][epoch], ranks[1]["epochs"][epoch]
        assert len(a) == len(b) == 19  # 37 rows padded to 38, split evenly
        assert set(a + b) == set(range(37)) and len(a + b) - len(set(a + b)) == 1  # one padding repeat
    assert ranks[0]["epochs"][0] != ranks[0]["epochs"][1]  # a new permutation each epoch
