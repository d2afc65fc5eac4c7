"""Bad input gets a clear error naming what was wrong and where, and loses nothing already written."""
import json
import os

import numpy as np
import pytest

import chute


@pytest.fixture
def ds(tmp_path):
    ds = chute.empty(tmp_path / "ds")
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.create_tensor("labels", htype="class_label", class_names=["a"])
    ds.create_tensor("boxes", htype="bbox")
    ds.create_tensor("x", dtype="uint8")
    ds.append({"images": np.zeros((4, 4, 3), np.uint8), "labels": 0, "boxes": np.zeros((1, 4), np.float32),
               "x": np.zeros(3, np.uint8)})
    return ds


def assert_intact(ds):
    again = chute.load(ds.path, read_only=True)
    assert {n: t.num_samples for n, t in again.tensors.items()} == {"images": 1, "labels": 1, "boxes": 1, "x": 1}


def test_unknown_tensor(ds):
    with pytest.raises(chute.TensorDoesNotExistError, match="'nope'"):
        ds.append({"nope": 1})
    with pytest.raises(KeyError, match="nope"):
        ds["nope"]
    with pytest.raises(AttributeError, match="nope"):
        ds.nope  # noqa: B018  (the attribute access is what raises)
    assert_intact(ds)


def test_wrong_dtype_names_the_tensor_and_writes_nothing(ds):
    row = {"images": np.zeros((4, 4, 3), np.uint8), "labels": 0, "boxes": np.zeros((1, 4), np.float32)}
    with pytest.raises(chute.TensorDtypeMismatchError, match="tensor 'x' has dtype uint8"):
        ds.append({**row, "x": np.full(3, 1.5)})
    with pytest.raises(chute.TensorDtypeMismatchError, match="'x'"):
        ds.append({**row, "x": "text"})
    with pytest.raises(chute.TensorDtypeMismatchError, match="'images'"):
        ds.append({**row, "images": np.zeros((4, 4, 3), np.float32), "x": np.zeros(3, np.uint8)})
    with pytest.raises(chute.TensorDtypeMismatchError, match="class_label"):
        ds.append({**row, "labels": -1, "x": np.zeros(3, np.uint8)})
    assert_intact(ds)


def test_wrong_shape_for_the_htype(ds):
    row = {"images": np.zeros((4, 4, 3), np.uint8), "labels": 0, "x": np.zeros(3, np.uint8)}
    with pytest.raises(chute.TensorInvalidSampleShapeError, match="bbox.*last dimension to be 4"):
        ds.append({**row, "boxes": np.zeros((2, 3), np.float32)})
    with pytest.raises(chute.TensorInvalidSampleShapeError, match="image"):
        ds.append({**row, "boxes": np.zeros((1, 4), np.float32), "images": np.zeros((4, 4, 2), np.uint8)})
    with pytest.raises(chute.TensorInvalidSampleShapeError, match="1-dimensional"):
        ds.append({**row, "boxes": np.zeros((1, 4), np.float32), "x": np.zeros((3, 3), np.uint8)})
    with pytest.raises(ValueError, match="same number of samples"):
        ds.extend({"x": [np.zeros(3, np.uint8)] * 2, "labels": [0]}, skip_ok=True)
    assert_intact(ds)


def test_append_to_a_read_only_dataset(ds):
    ro = chute.load(ds.path, read_only=True)
    with pytest.raises(chute.ReadOnlyModeError, match="read-only"):
        ro.x.append(np.zeros(3, np.uint8))
    with pytest.raises(chute.ReadOnlyModeError):
        ro.create_tensor("y")
    assert_intact(ds)


def test_a_second_writer_process_is_refused(ds, tmp_path):
    import subprocess
    import sys

    code = f"import chute; chute.load({ds.path!r}, read_only=False)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode != 0 and "open for writing in another process" in r.stderr


@pytest.mark.parametrize("name", ["..", "../evil", "a/../../b", "/abs/path", "a\\b", "a//b", "", "a/"])
def test_tensor_names_that_would_leave_the_folder(ds, name):
    with pytest.raises(chute.InvalidTensorNameError):
        ds.create_tensor(name)
    assert not os.path.exists(os.path.join(os.path.dirname(ds.path), "evil"))
    assert_intact(ds)


def test_a_folder_that_is_not_a_dataset(tmp_path):
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "f.txt").write_text("hi")
    with pytest.raises(chute.DatasetNotFoundError, match="not a dataset"):
        chute.load(tmp_path / "plain")
    with pytest.raises(chute.DatasetNotFoundError, match="no dataset"):
        chute.load(tmp_path / "missing")
    with pytest.raises(chute.DatasetAlreadyExistsError, match="not empty"):
        chute.empty(tmp_path / "plain")
    assert (tmp_path / "plain" / "f.txt").read_text() == "hi"


def test_corrupted_chunk_names_tensor_and_chunk(ds):
    cdir = os.path.join(ds.path, "x", "chunks")
    (name,) = os.listdir(cdir)
    with open(os.path.join(cdir, name), "r+b") as f:
        f.truncate(10)
    ro = chute.load(ds.path, read_only=True)
    with pytest.raises(chute.FormatError, match=f"tensor 'x' chunk {name}"):
        ro.x.numpy()
    # garbage instead of a chunk
    with open(os.path.join(cdir, name), "wb") as f:
        f.write(os.urandom(200))
    ro = chute.load(ds.path, read_only=True)
    with pytest.raises(chute.FormatError, match="tensor 'x'"):
        ro.x[0].numpy()


def test_corrupted_png_sample_is_a_decode_error(ds):
    cdir = os.path.join(ds.path, "images", "chunks")
    (name,) = os.listdir(cdir)
    p = os.path.join(cdir, name)
    data = bytearray(open(p, "rb").read())
    data[-20:] = b"\x00" * 20
    open(p, "wb").write(bytes(data))
    ro = chute.load(ds.path, read_only=True)
    with pytest.raises(chute.DecodeError, match="tensor 'images' sample 0"):
        ro.images[0].numpy()


def test_corrupted_index_file(ds):
    p = os.path.join(ds.path, "x", "chunks_index", "unsharded")
    with open(p, "ab") as f:
        f.write(b"\x01\x02\x03")
    with pytest.raises(chute.FormatError, match="tensor 'x'.*chunks_index"):
        chute.load(ds.path, read_only=True)


@pytest.mark.parametrize("key,value", [("length", "abc"), ("max_shape", "wide"), ("dtype", 5), ("htype", ["x"])])
def test_meta_json_with_wrong_types(ds, key, value):
    p = os.path.join(ds.path, "x", "tensor_meta.json")
    meta = json.load(open(p))
    meta[key] = value
    json.dump(meta, open(p, "w"))
    with pytest.raises(chute.FormatError, match=f"tensor 'x'.*tensor_meta.json.*'{key}'"):
        chute.load(ds.path, read_only=True)


def test_dataset_meta_not_json(ds):
    with open(os.path.join(ds.path, "dataset_meta.json"), "w") as f:
        f.write("{not json")
    with pytest.raises(chute.FormatError, match="dataset_meta.json"):
        chute.load(ds.path, read_only=True)


def test_version_info_not_json_is_named(ds):
    with open(os.path.join(ds.path, "version_control_info.json"), "w") as f:
        f.write("{not json")
    with pytest.raises(chute.FormatError, match="version_control_info.json"):
        chute.load(ds.path, read_only=True)


def test_a_branch_naming_a_missing_commit_is_named(ds):
    with open(os.path.join(ds.path, "version_control_info.json")) as f:
        vc = json.load(f)
    vc["branches"]["ghost"] = "0" * 40
    with open(os.path.join(ds.path, "version_control_info.json"), "w") as f:
        json.dump(vc, f)
    with pytest.raises(chute.FormatError, match="branch 'ghost'"):
        chute.load(ds.path, read_only=True)


def test_image_tensor_needs_a_compression_choice(tmp_path):
    ds = chute.empty(tmp_path / "ds")
    with pytest.raises(ValueError, match="sample_compression"):
        ds.create_tensor("images", htype="image")
    t = ds.create_tensor("raw", htype="image", sample_compression=None)
    t.append(np.ones((2, 2, 3), np.uint8))
    assert t[0].numpy().sum() == 12
    with pytest.raises(ValueError, match="not supported"):
        ds.create_tensor("bad", htype="image", sample_compression="gif")
    with pytest.raises(ValueError, match="htype 'nonsense'"):
        ds.create_tensor("bad2", htype="nonsense")
