import os

import numpy as np
import pytest
from conftest import jpeg_bytes

import chute


def test_create_append_reopen_every_htype(tmp_path, photos):
    path = tmp_path / "ds"
    ds = chute.empty(path)
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.create_tensor("labels", htype="class_label", class_names=["a", "b"])
    ds.create_tensor("boxes", htype="bbox")
    ds.create_tensor("text", htype="text")
    ds.create_tensor("meta", htype="json")
    ds.create_tensor("tags", htype="list")
    ds.create_tensor("emb", htype="embedding")
    ds.create_tensor("mask", htype="binary_mask", sample_compression="lz4")
    ds.create_tensor("x", dtype="int16", chunk_compression="lz4")
    with ds:
        for i in range(5):
            ds.append({
                "images": photos[i % 4][:64, :48],
                "labels": "c" if i == 2 else i % 2,
                "boxes": np.full((i, 4), i, np.float32),
                "text": f"héllo {i}",
                "meta": {"i": i, "nested": {"k": [1, 2]}},
                "tags": ["t"] * i,
                "emb": np.arange(8, dtype=np.float32) * i,
                "mask": np.eye(3, dtype=bool),
                "x": np.arange(i, dtype=np.int16),
            })
    ds = chute.load(path, read_only=True)
    assert len(ds) == 5
    assert set(ds.tensors) == {"images", "labels", "boxes", "text", "meta", "tags", "emb", "mask", "x"}
    assert ds.images.shape == (5, 64, 48, 3)
    assert ds.images.htype == "image" and ds.images.dtype == np.uint8
    assert ds.labels.info.class_names == ["a", "b", "c"]
    assert ds.labels.numpy().ravel().tolist() == [0, 1, 2, 1, 0]
    assert ds.labels[2].data()["text"] == ["c"]
    assert ds.boxes.shape == (5, None, 4)
    assert ds.boxes[3].numpy().shape == (3, 4)
    assert ds.text[1].data()["value"] == "héllo 1"
    assert ds.text[1].numpy().tolist() == ["héllo 1"]
    assert ds.meta.data()["value"][4] == {"i": 4, "nested": {"k": [1, 2]}}
    assert ds.tags[3].data()["value"] == ["t"] * 3
    np.testing.assert_array_equal(ds.emb[2].numpy(), np.arange(8, dtype=np.float32) * 2)
    np.testing.assert_array_equal(ds.mask[4].numpy(), np.eye(3, dtype=bool))
    assert [a.tolist() for a in ds.x.numpy(aslist=True)] == [list(range(i)) for i in range(5)]
    with pytest.raises(chute.DynamicTensorNumpyError):
        ds.x.numpy()


def test_views_slices_lists_and_steps(tmp_path):
    ds = chute.empty(tmp_path / "ds")
    ds.create_tensor("v", dtype="int64")
    ds.v.extend([np.array([i, -i]) for i in range(20)])
    assert ds[3].v.numpy().tolist() == [3, -3]
    assert ds[2:10:3].v.numpy()[:, 0].tolist() == [2, 5, 8]
    assert ds[[7, 1, 7]].v.numpy()[:, 0].tolist() == [7, 1, 7]
    assert ds[-1].v.numpy().tolist() == [19, -19]
    assert ds[5:15][2:4].v.numpy()[:, 0].tolist() == [7, 8]
    assert len(ds[5:15]) == 10
    assert ds.v[4].numpy().tolist() == [4, -4]
    with pytest.raises(IndexError):
        ds.v[20].numpy()


def test_groups_as_in_deeplake(tmp_path):
    ds = chute.empty(tmp_path / "ds")
    ds.create_group("train")
    ds.create_tensor("train/images", htype="image", sample_compression="png")
    ds.train.create_tensor("labels", htype="class_label")
    ds.train.images.append(np.zeros((4, 4, 3), np.uint8))
    ds.train.labels.append(1)
    ds = chute.load(tmp_path / "ds")
    assert "train" in ds.groups
    assert set(ds.tensors) == {"train/images", "train/labels"}
    assert ds["train/images"].shape == (1, 4, 4, 3)
    assert ds.train.labels.numpy().tolist() == [[1]]


def test_read_keeps_the_jpeg_bytes(tmp_path, photos):
    f = tmp_path / "a.jpg"
    f.write_bytes(jpeg_bytes(photos[1][:100, :80]))
    ds = chute.empty(tmp_path / "ds")
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.images.append(chute.read(f))
    assert ds.images[0].tobytes() == f.read_bytes()
    assert ds.images[0].numpy().shape == (100, 80, 3)
    # a PNG tensor re-encodes the JPEG losslessly from its decoded pixels
    ds.create_tensor("png", htype="image", sample_compression="png")
    ds.png.append(chute.read(f))
    np.testing.assert_array_equal(ds.png[0].numpy(), ds.images[0].numpy())


def test_batch_decode_matches_single_reads(tmp_path, photos):
    ds = chute.empty(tmp_path / "ds")
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    with ds:
        for i in range(40):
            ds.images.append(photos[i % 4][i:i + 50, i:i + 60])
    batch = ds.images[0:40].numpy()
    assert batch.shape == (40, 50, 60, 3)
    for i in (0, 17, 39):
        np.testing.assert_array_equal(batch[i], ds.images[i].numpy())


def test_like_copies_tensors_without_samples(tmp_path):
    src = chute.empty(tmp_path / "a")
    src.create_tensor("labels", htype="class_label", class_names=["x", "y"])
    src.labels.append(1)
    out = chute.like(tmp_path / "b", src)
    assert list(out.tensors) == ["labels"]
    assert len(out.labels.numpy(aslist=True)) == 0
    assert out.labels.info.class_names == ["x", "y"]


def test_dataset_exists_delete_and_overwrite(tmp_path):
    p = tmp_path / "ds"
    assert not chute.exists(p)
    chute.empty(p).create_tensor("x")
    assert chute.exists(p)
    with pytest.raises(chute.DatasetAlreadyExistsError):
        chute.empty(p)
    ds = chute.empty(p, overwrite=True)
    assert list(ds.tensors) == []
    ds2 = chute.dataset(p)
    assert chute.exists(p) and list(ds2.tensors) == []
    del ds, ds2
    chute.delete(p)
    assert not os.path.exists(p)


def test_summary_lists_every_tensor(tmp_path, capsys):
    ds = chute.empty(tmp_path / "ds")
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.create_tensor("labels", htype="class_label")
    text = ds.summary()
    assert "images" in text and "class_label" in text and "jpeg" in text


def test_chunks_fill_to_half_max_chunk_size(tmp_path):
    ds = chute.empty(tmp_path / "ds")
    ds.create_tensor("x", dtype="uint8", max_chunk_size=100_000)
    with ds:
        ds.x.extend([np.full(10_000, i % 256, np.uint8) for i in range(50)])
    assert ds.x._core.num_chunks() == 10  # 5 samples of 10 kB per 50 kB chunk
    assert all(len(os.listdir(tmp_path / "ds" / "x" / "chunks")) == 10 for _ in [0])


def test_a_view_of_a_view_selects_what_numpy_would():
    """Index.compose keeps slices of slices as slices (view[i] is O(1)); every combination of
    slices (any step, negative bounds), ints and lists must select the rows numpy's indexing does."""
    import random

    from chute.dataset.index import Index

    rng = random.Random(0)

    def items(n):
        out = [None]
        for _ in range(6):
            a, b, c = rng.randint(-n - 2, n + 2), rng.randint(-n - 2, n + 2), rng.choice([None, 1, 2, 3, -1, -2])
            out += [slice(a, b, c), slice(None, None, c), slice(a, None, c), slice(None, b, c)]
        if n:
            out += [rng.randint(-n, n - 1) for _ in range(3)] + [[rng.randint(-n, n - 1) for _ in range(4)]]
        return out

    for length in [0, 1, 2, 5, 9]:
        rows = np.arange(length)
        for a in items(length):
            if isinstance(a, int):
                continue
            view = Index(a)
            seen = rows[view.indices(length)]
            for b in items(len(seen)):
                try:
                    want = np.atleast_1d(seen[b if b is not None else slice(None)])
                except IndexError:
                    with pytest.raises(IndexError):
                        view.compose(b, length).indices(length)
                    continue
                got = view.compose(b, length)
                np.testing.assert_array_equal(got.indices(length), want)
                assert got.scalar == isinstance(b, int)
