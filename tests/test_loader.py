"""ds.dataloader(): the builder, the engine's batches, determinism, resumption and errors."""
import os

import numpy as np
import pytest
import torch
from conftest import jpeg_bytes

import chute
from chute import ops


@pytest.fixture(scope="module")
def image_ds(tmp_path_factory, photos):
    """40 JPEG images of varying sizes (class-sorted labels), text and ragged boxes."""
    path = str(tmp_path_factory.mktemp("loader") / "ds")
    ds = chute.empty(path)
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.create_tensor("labels", htype="class_label", class_names=[f"c{i}" for i in range(4)])
    ds.create_tensor("boxes", htype="bbox")
    ds.create_tensor("caption", htype="text")
    rng = np.random.default_rng(0)
    with ds:
        for i in range(40):
            p = photos[i % 4]
            h, w = int(rng.integers(60, 140)), int(rng.integers(60, 140))
            ds.images.append(chute.Sample(buffer=jpeg_bytes(p[:h, :w])))
            ds.labels.append(i // 10)
            ds.boxes.append(np.full((i % 3, 4), i, np.float32))
            ds.caption.append(f"image {i}")
    return chute.load(path, read_only=True)


def rrc():
    return ops.Compose([ops.RandomResizedCrop(32), ops.RandomHorizontalFlip()])


def test_builder_is_immutable_and_once_only(image_ds):
    base = image_ds.dataloader()
    b = base.batch(4)
    assert b is not base and base.batch_size == 1 and b.batch_size == 4
    with pytest.raises(ValueError, match="batch size is already set"):
        b.batch(8)
    with pytest.raises(ValueError, match="shuffle is already set"):
        base.shuffle().shuffle()
    with pytest.raises(ValueError, match="transform is already set"):
        base.transform(lambda s: s).transform(lambda s: s)
    with pytest.raises(ValueError, match="offset is already set"):
        base.offset(3).offset(4)
    p = b.pytorch()
    with pytest.raises(ValueError, match=r"already called .pytorch\(\)"):
        p.pytorch()
    with pytest.raises(ValueError, match=r"Can't call .numpy\(\) after .pytorch\(\)"):
        p.numpy()
    with pytest.raises(ValueError, match="Tensors have already been specified"):
        base.transform({"labels": None}).pytorch(tensors=["labels"])
    with pytest.raises(ValueError, match="index is not a tensor"):
        base.pytorch(tensors=["index"])
    with pytest.raises(KeyError, match="nope"):
        base.pytorch(tensors=["nope"])


def test_pytorch_batches_with_engine_ops(image_ds):
    dl = image_ds.dataloader().batch(16).transform({"images": rrc(), "labels": None}).pytorch()
    assert len(dl) == 3
    batches = list(dl)
    assert [len(b["index"]) for b in batches] == [16, 16, 8]
    b = batches[0]
    assert set(b) == {"images", "labels", "index"}  # the transform dict selects the tensors
    assert b["images"].shape == (16, 32, 32, 3) and b["images"].dtype == torch.uint8
    assert b["labels"].dtype == torch.int64 and b["labels"].shape == (16, 1)
    assert b["index"].tolist() == list(range(16))
    assert b["labels"][:, 0].tolist() == [i // 10 for i in range(16)]
    assert len(image_ds.dataloader().batch(16, drop_last=True).pytorch()) == 2


def test_numpy_mode_ragged_and_text(image_ds):
    dl = image_ds.dataloader().batch(5).numpy(tensors=["boxes", "caption", "images"], return_index=False)
    b = next(iter(dl))
    assert "index" not in b
    assert [a.shape for a in b["boxes"]] == [(0, 4), (1, 4), (2, 4), (0, 4), (1, 4)]
    assert b["caption"] == [f"image {i}" for i in range(5)]
    assert isinstance(b["images"], list)  # different sizes: one array per sample
    np.testing.assert_array_equal(b["images"][3], image_ds.images[3].numpy())


def test_normalize_gives_float_chw_of_the_same_pixels(image_ds):
    pipe = [ops.Resize(40), ops.CenterCrop(32)]
    u8 = next(iter(image_ds.dataloader().batch(8).transform({"images": ops.Compose(pipe)}).numpy()))["images"]
    f32 = next(iter(image_ds.dataloader().batch(8).transform(
        {"images": ops.Compose(pipe + [ops.Normalize(ops.IMAGENET_MEAN, ops.IMAGENET_STD)])}).numpy()))["images"]
    assert f32.shape == (8, 3, 32, 32) and f32.dtype == np.float32
    want = (u8.transpose(0, 3, 1, 2) / 255.0 - np.array(ops.IMAGENET_MEAN)[:, None, None]) / np.array(ops.IMAGENET_STD)[:, None, None]
    np.testing.assert_allclose(f32, want, atol=1e-5)


def test_random_ops_and_shuffle_are_deterministic_for_seed_and_epoch(image_ds):
    def run(seed, epoch):
        dl = image_ds.dataloader().batch(10).shuffle().seed(seed).transform({"images": rrc()}).numpy()
        dl.set_epoch(epoch)
        out = list(dl)
        return np.concatenate([b["index"] for b in out]), np.concatenate([b["images"] for b in out])

    i1, x1 = run(7, 0)
    i2, x2 = run(7, 0)
    i3, x3 = run(7, 1)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_array_equal(x1, x2)
    assert sorted(i1.tolist()) == list(range(40))
    assert i1.tolist() != i3.tolist()
    assert i1.tolist() != list(range(40))


def test_epoch_advances_after_each_pass(image_ds):
    dl = image_ds.dataloader().batch(40).shuffle().seed(1).numpy(tensors=["labels"])
    first = [b["index"].tolist() for b in dl][0]
    assert dl.epoch == 1
    second = [b["index"].tolist() for b in dl][0]
    assert first != second and sorted(first) == sorted(second)


def test_python_transforms_in_process_and_in_workers_give_the_same_stream(image_ds):
    def tf(sample):
        return {"x": torch.as_tensor(sample["images"]).float().mean(), "label": int(sample["labels"][0]), "i": sample["index"]}

    def stream(workers):
        dl = (image_ds.dataloader().batch(6).shuffle().seed(3)
              .transform(tf).pytorch(num_workers=workers, tensors=["images", "labels"]))
        return [(b["i"].tolist(), b["x"].tolist(), b["label"].tolist()) for b in dl]

    assert stream(0) == stream(2)


def test_transform_dict_mixes_engine_ops_and_python(image_ds):
    dl = image_ds.dataloader().batch(4).transform({"images": rrc(), "labels": lambda a: int(a[0]) * 10}).pytorch()
    b = next(iter(dl))
    assert b["labels"].tolist() == [0, 0, 0, 0] and b["images"].shape == (4, 32, 32, 3)


def test_decode_methods(image_ds):
    from PIL import Image

    dl = image_ds.dataloader().batch(3).pytorch(tensors=["images"], decode_method={"images": "pil"},
                                                collate_fn=lambda s: s)
    samples = next(iter(dl))
    assert isinstance(samples[0]["images"], Image.Image)
    np.testing.assert_array_equal(np.asarray(samples[1]["images"]), image_ds.images[1].numpy())
    raw = next(iter(image_ds.dataloader().batch(2).numpy(tensors=["images"], decode_method={"images": "tobytes"})))
    assert raw["images"][0] == image_ds.images[0].tobytes()


def test_state_dict_resumes_mid_epoch(image_ds):
    def make(workers=0):
        return (image_ds.dataloader().batch(4).shuffle().seed(11).transform({"images": rrc(), "labels": None})
                .pytorch(num_workers=workers))

    full = [b["index"].tolist() for b in make()]
    dl = make()
    it = iter(dl)
    seen = [next(it)["index"].tolist() for _ in range(3)]
    state = dl.state_dict()
    it.close()
    for workers in (0, 1):
        again = make(workers)
        again.load_state_dict(state)
        assert seen + [b["index"].tolist() for b in again] == full


def test_offset_skips_rows(image_ds):
    dl = image_ds.dataloader().batch(10).offset(25).numpy(tensors=["labels"])
    assert np.concatenate([b["index"] for b in dl]).tolist() == list(range(25, 40))


def test_views_and_sample_by(image_ds):
    dl = image_ds[10:20].dataloader().batch(100).numpy(tensors=["labels"])
    assert next(iter(dl))["index"].tolist() == list(range(10, 20))
    w = np.zeros(40)
    w[[3, 7]] = 1
    drawn = next(iter(image_ds.dataloader().sample_by(w, size=50).batch(50).seed(2).numpy(tensors=["labels"])))["index"]
    assert set(drawn.tolist()) <= {3, 7} and len(drawn) == 50
    perm = next(iter(image_ds.dataloader().sample_by(w, replace=False).batch(40).numpy(tensors=["labels"])))["index"]
    assert sorted(perm.tolist()) == list(range(40)) and set(perm[:2].tolist()) == {3, 7}
    q = image_ds.dataloader().query("select * where labels == 1").query("SELECT * WHERE row_number() % 2 == 0")
    assert np.concatenate([b["index"] for b in q.batch(4).numpy(tensors=["labels"])]).tolist() == [10, 12, 14, 16, 18]
    with pytest.raises(chute.QueryError, match="unknown tensor 'nope'"):
        list(image_ds.dataloader().query("select * where nope == 1").numpy())


def test_distributed_ranks_get_equal_padded_shares(image_ds, monkeypatch):
    shares = []
    for rank in range(3):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "3")
        dl = image_ds.dataloader().batch(5).shuffle().seed(4).numpy(tensors=["labels"], distributed=True)
        shares.append(np.concatenate([b["index"] for b in dl]).tolist())
    assert [len(s) for s in shares] == [14, 14, 14]  # 40 rows padded to 42
    assert set().union(*map(set, shares)) == set(range(40))


def test_resume_with_another_world_size(image_ds, monkeypatch):
    def make():
        return image_ds.dataloader().batch(2).shuffle().seed(9).numpy(tensors=["labels"], distributed=True)

    monkeypatch.setenv("WORLD_SIZE", "2")
    seen = []
    for rank in range(2):
        monkeypatch.setenv("RANK", str(rank))
        dl = make()
        it = iter(dl)
        seen += [next(it)["index"].tolist() for _ in range(3)]
        state = dl.state_dict()
        it.close()
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    rest = make()
    rest.load_state_dict(state)
    remaining = np.concatenate([b["index"] for b in rest]).tolist()
    assert sorted(sum(seen, []) + remaining) == list(range(40))


def test_shuffle_quality_on_class_sorted_data(tmp_path):
    ds = chute.empty(tmp_path / "ds")
    ds.create_tensor("labels", htype="class_label")
    with ds:
        ds.labels.extend(np.repeat(np.arange(100), 100).astype(np.uint32)[:, None])
    dl = ds.dataloader().batch(1000).shuffle().seed(0).numpy(tensors=["labels"])
    first = next(iter(dl))["labels"].ravel()
    expected_uniform = 100 * (1 - (1 - 1 / 100) ** 1000)
    assert len(set(first.tolist())) >= 0.95 * expected_uniform


def test_corrupted_sample_names_tensor_and_index_or_is_skipped(tmp_path, photos):
    ds = chute.empty(tmp_path / "ds")
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    good = jpeg_bytes(photos[0][:64, :64])
    with ds:
        for _ in range(8):
            ds.images.append(chute.Sample(buffer=good))
    # corrupt sample 5's bytes in place (the chunk is ours to damage in a test)
    (chunk,) = os.listdir(tmp_path / "ds" / "images" / "chunks")
    p = tmp_path / "ds" / "images" / "chunks" / chunk
    data = bytearray(p.read_bytes())
    start = data.find(good) + 5 * len(good)
    data[start + 200:start + 600] = b"\x00" * 400
    p.write_bytes(bytes(data))
    ds = chute.load(tmp_path / "ds", read_only=True)
    with pytest.raises(chute.DecodeError, match="tensor 'images' index 5"):
        list(ds.dataloader().batch(4).pytorch())
    dl = ds.dataloader(ignore_errors=True).batch(4).pytorch()
    got = [b["index"].tolist() for b in dl]
    assert got == [[0, 1, 2, 3], [4, 6, 7]]
    assert dl.summary["skipped"] == 1 and "index 5" in dl.summary["errors"][0]


def test_python_transform_error_has_index_and_cause_and_loader_recovers(image_ds):
    def bad(sample):
        if sample["index"] == 6:
            raise RuntimeError("boom")
        return sample

    for workers in (0, 2):
        dl = image_ds.dataloader().batch(4).transform(bad).pytorch(num_workers=workers, tensors=["labels"])
        with pytest.raises(chute.TransformError, match="index 6") as e:
            list(dl)
        assert "boom" in str(e.value) and e.value.index == 6
    assert sum(len(b["index"]) for b in image_ds.dataloader().batch(4).pytorch(tensors=["labels"])) == 40


def test_pytorch_oss_signature(image_ds):
    dl = image_ds.pytorch(tensors=["labels"], batch_size=8, shuffle=True, num_workers=0)
    assert sum(len(b["index"]) for b in dl) == 40


def _bilinear_reference(img, dh, dw):
    """Half-pixel-centre bilinear in float64 (what OpenCV's INTER_LINEAR and PIL without antialias do)."""
    sh, sw = img.shape[:2]

    def coords(d, s):
        f = np.clip((np.arange(d) + 0.5) * s / d - 0.5, 0, s - 1)
        i = np.minimum(f.astype(int), max(s - 2, 0))
        return i, f - i if s > 1 else np.zeros(d)

    yi, yw = coords(dh, sh)
    xi, xw = coords(dw, sw)
    x1 = np.minimum(xi + 1, sw - 1)
    y1 = np.minimum(yi + 1, sh - 1)
    img = img.astype(np.float64)
    top = img[yi][:, xi] * (1 - xw)[None, :, None] + img[yi][:, x1] * xw[None, :, None]
    bot = img[y1][:, xi] * (1 - xw)[None, :, None] + img[y1][:, x1] * xw[None, :, None]
    return top * (1 - yw)[:, None, None] + bot * yw[:, None, None]


@pytest.mark.parametrize("size", [(17, 23), (64, 64), (151, 97), (1, 5)])
def test_engine_resize_matches_a_float_bilinear_reference(tmp_path, photos, size):
    ds = chute.empty(tmp_path / "ds")
    ds.create_tensor("images", htype="image", sample_compression="png")
    src = photos[2][100:170, 50:140]
    ds.images.append(src)
    out = next(iter(ds.dataloader().transform({"images": ops.Resize(size)}).numpy()))["images"][0]
    want = _bilinear_reference(src, *size)
    assert out.shape == (*size, 3)
    assert np.abs(out.astype(np.float64) - want).max() <= 1.0


def test_prefetch_is_bounded_in_bytes(image_ds, monkeypatch):
    import chute.loader.run as L

    monkeypatch.setattr(L, "PREFETCH_BYTES", 1)  # smaller than one batch: one batch ahead at most
    dl = image_ds.dataloader().batch(8).transform({"images": ops.Resize(64)}).numpy(prefetch_factor=4)
    assert sum(len(b["index"]) for b in dl) == 40


@pytest.mark.parametrize("tail", [[], [ops.Normalize(ops.IMAGENET_MEAN, ops.IMAGENET_STD)]])
def test_flip_after_the_crop_mirrors_the_crop_exactly(image_ds, tail):
    """RandomHorizontalFlip right after RandomResizedCrop is folded into the resize: p=1 gives the
    p=0 images mirrored, byte for byte (and the same crops), with or without ops after it."""
    def load(p):
        dl = image_ds.dataloader().seed(7).batch(8).transform(
            {"images": ops.Compose([ops.RandomResizedCrop(24), ops.RandomHorizontalFlip(p)] + tail)}).numpy()
        return np.concatenate([b["images"] for b in dl])

    plain, flipped = load(0.0), load(1.0)
    axis = 3 if tail else 2  # width: NHWC uint8, or NCHW float after Normalize
    assert plain.shape == flipped.shape
    assert np.array_equal(np.flip(plain, axis=axis), flipped)
    assert not np.array_equal(plain, flipped)
