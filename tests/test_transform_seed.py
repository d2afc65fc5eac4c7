"""The seed tutorial ("Data Processing Using Parallel Computing", deeplake.compute), verbatim, with
`import chute as deeplake`. The hub's MNIST is replaced by a local MNIST-like dataset (28x28
grayscale uint8 images stored as PNG, so a flip is exact, and class labels "0".."9") and the
animals folder by a class-per-folder tree of real JPEG photos (scikit-image's).

The tutorial needs the hub dataset's images to read back as 2-D arrays: its resize step calls
`Image.fromarray(sample_in.images.numpy())`, which PIL refuses for a 28x28x1 array. chute, like
deeplake 3.9.52, stores a 2-D array appended to an image tensor as HxWx1, so the replica is written
as a 2-D uint8 PNG tensor whose tensor_meta.json then says htype 'image' (an image tensor with 2-D
samples, as an older writer left it). The flipped copies, made with deeplake.like, hold HxWx1.

The compute functions are at module level, as the processed scheduler needs them to be."""
from __future__ import annotations

import gc
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import jpeg_bytes
from PIL import Image

import chute as deeplake
from chute.util.exceptions import TransformError

SCHEDULERS = ["serial", "threaded", "processed"]


# ---- the tutorial's functions, verbatim ----

@deeplake.compute
def flip_vertical(sample_in, sample_out):
    ## First two arguments are always default arguments containing:
    #     1st argument is an element of the input iterable (list, dataset, array,...)
    #     2nd argument is a dataset sample

    # Append the label and image to the output sample
    sample_out.append({'labels': sample_in.labels.numpy(),
                       'images': np.flip(sample_in.images.numpy(), axis = 0)})

    return sample_out


@deeplake.compute
def resize(sample_in, sample_out, new_size):
    ## First two arguments are always default arguments containing:
    #     1st argument is an element of the input iterable (list, dataset, array,...)
    #     2nd argument is a dataset sample
    ## Third argument is the required size for the output images

    # Append the label and image to the output sample
    sample_out.labels.append(sample_in.labels.numpy())
    sample_out.images.append(np.array(Image.fromarray(sample_in.images.numpy()).resize(new_size)))

    return sample_out


# ---- functions for the error-recovery part (the tutorial shows only the except clause) ----

@deeplake.compute
def load_image_file(path, sample_out, class_names):
    """One image file -> one row; PIL raises on a file that is not an image."""
    with Image.open(path) as im:
        arr = np.asarray(im.convert("RGB"))
    sample_out.images.append(arr)
    sample_out.labels.append(class_names.index(Path(path).parent.name))


@deeplake.compute
def read_image_file(path, sample_out, class_names):
    """The Deep Lake way: deeplake.read(path), so the file is checked when the sample is stored."""
    sample_out.images.append(deeplake.read(path))
    sample_out.labels.append(class_names.index(Path(path).parent.name))


# ---- data ----

def mnist_like(path: Path, n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """An MNIST-like dataset at `path`: `images` (image, png, 2-D 28x28 uint8 samples) and `labels`
    (class_label, class_names "0".."9"). Returns the images and labels written."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:28, :28]
    images = []
    for _ in range(n):
        # a blurred stroke-like blob, asymmetric top to bottom so that a flip changes it
        cy, cx = rng.integers(6, 22, size=2)
        img = 255 * np.exp(-((yy - cy) ** 2 / 18 + (xx - cx) ** 2 / 8)) * (yy / 27)
        img += rng.integers(0, 40, size=(28, 28))
        images.append(np.clip(img, 0, 255).astype(np.uint8))
    images = np.stack(images)
    labels = rng.integers(0, 10, size=n).astype(np.uint32)
    ds = deeplake.empty(path)
    ds.create_tensor("images", htype="generic", dtype="uint8", sample_compression="png")
    ds.create_tensor("labels", htype="class_label", class_names=[str(i) for i in range(10)])
    with ds:
        ds.extend({"images": list(images), "labels": list(labels)})
    del ds
    gc.collect()
    meta_path = path / "images" / "tensor_meta.json"
    meta = json.loads(meta_path.read_text())
    meta.update(htype="image", _info=["intrinsics"], intrinsics=None)
    meta_path.write_text(json.dumps(meta))
    (path / "images" / "tensor_info.json").write_text(json.dumps({"intrinsics": None}))
    return images, labels


@pytest.fixture
def mnist(tmp_path, monkeypatch):
    """cwd = tmp_path (the tutorial's paths are relative); ./mnist holds the MNIST-like data."""
    monkeypatch.chdir(tmp_path)
    images, labels = mnist_like(tmp_path / "mnist")
    ds = deeplake.load("./mnist")
    assert ds.images.htype == "image" and ds.images[0].numpy().shape == (28, 28)
    return ds, images, labels


def animals_tree(root: Path, photos) -> None:
    """./animals/cats and ./animals/dogs with real JPEG photos (chelsea is a cat)."""
    from skimage import data

    cat = np.ascontiguousarray(data.chelsea())
    (root / "cats").mkdir(parents=True)
    (root / "dogs").mkdir(parents=True)
    (root / "cats" / "chelsea.jpg").write_bytes(jpeg_bytes(cat, quality=95))
    (root / "cats" / "chelsea_face.jpg").write_bytes(jpeg_bytes(np.ascontiguousarray(cat[20:220, 80:300]), quality=95))
    for i, p in enumerate([photos[0], photos[1], photos[3]]):  # astronaut, coffee, rocket
        (root / "dogs" / f"dog{i}.jpg").write_bytes(jpeg_bytes(np.ascontiguousarray(p[::4, ::4]), quality=95))


def stored(images: np.ndarray) -> np.ndarray:
    """2-D grayscale images as an image tensor holds them (HxWx1)."""
    return images[..., None]


# ---- Transformations on New Datasets ----

@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_flip_into_a_new_dataset(mnist, scheduler):
    ds_mnist, images, labels = mnist

    #We use the overwrite=True to make this code re-runnable
    ds_mnist_flipped = deeplake.like('./mnist_flipped', ds_mnist, overwrite = True)

    flip_vertical().eval(ds_mnist[0:100], ds_mnist_flipped, num_workers = 2, scheduler=scheduler,
                         progressbar=False)

    assert len(ds_mnist_flipped) == 100
    np.testing.assert_array_equal(ds_mnist_flipped.images.numpy(), stored(np.flip(images[:100], axis=1)))
    np.testing.assert_array_equal(ds_mnist_flipped.labels.numpy().ravel(), labels[:100])
    assert ds_mnist_flipped.labels.info.class_names == [str(i) for i in range(10)]
    # the first image, as the tutorial shows it
    Image.fromarray(ds_mnist.images[0].numpy())
    np.testing.assert_array_equal(ds_mnist_flipped.images[0].numpy()[:, :, 0], np.flip(images[0], axis=0))
    # the input is untouched, and the result is on disk
    np.testing.assert_array_equal(ds_mnist.images[0:100].numpy(), images[:100])
    again = deeplake.load('./mnist_flipped', read_only=True)
    np.testing.assert_array_equal(again.images.numpy(), stored(np.flip(images[:100], axis=1)))


def test_flip_with_the_tutorials_exact_call(mnist):
    """No scheduler and the progress bar on: the call exactly as the tutorial writes it."""
    ds_mnist, images, labels = mnist
    ds_mnist_flipped = deeplake.like('./mnist_flipped', ds_mnist, overwrite = True)
    flip_vertical().eval(ds_mnist[0:100], ds_mnist_flipped, num_workers = 2)
    np.testing.assert_array_equal(ds_mnist_flipped.images.numpy(), stored(np.flip(images[:100], axis=1)))
    np.testing.assert_array_equal(ds_mnist_flipped.labels.numpy().ravel(), labels[:100])


# ---- Transformations on Existing Datasets ----

@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_flip_in_place_on_an_ingested_classification_dataset(tmp_path, monkeypatch, photos, scheduler):
    monkeypatch.chdir(tmp_path)
    animals_tree(tmp_path / "animals", photos)

    ds = deeplake.ingest_classification('./animals', './animals_deeplake') # Creates the dataset

    assert len(ds) == 5 and ds.images.sample_compression == "jpeg"
    assert ds.labels.info.class_names == ["cats", "dogs"]
    before = [ds.images[i].numpy() for i in range(len(ds))]
    labels_before = ds.labels.numpy().ravel().tolist()
    cat = next(i for i in range(len(ds)) if before[i].shape == (300, 451, 3))
    Image.fromarray(ds.images[cat].numpy())

    flip_vertical().eval(ds, num_workers = 2, scheduler=scheduler, progressbar=False)

    # The picture of the cat is now flipped. The tensor is JPEG, so the flipped pixels are re-encoded
    # (quality 75): equal to np.flip of the original within the codec's error (2.6 to 6.1 mean
    # absolute difference for these photos), far from the unflipped image (29 to 100).
    assert len(ds) == 5 and ds.labels.numpy().ravel().tolist() == labels_before
    for i, orig in enumerate(before):
        now = ds.images[i].numpy()
        assert now.shape == orig.shape
        diff_flipped = np.abs(now.astype(np.int16) - np.flip(orig, axis=0)).mean()
        diff_unflipped = np.abs(now.astype(np.int16) - orig).mean()
        assert diff_flipped < 8.0, (i, diff_flipped)
        assert diff_unflipped > 3 * diff_flipped + 10, (i, diff_unflipped, diff_flipped)
    Image.fromarray(ds.images[cat].numpy())
    # and so it is for the next process that opens it
    del ds
    gc.collect()
    again = deeplake.load('./animals_deeplake', read_only=True)
    assert len(again) == 5 and again.labels.numpy().ravel().tolist() == labels_before
    assert np.abs(again.images[cat].numpy().astype(np.int16) - np.flip(before[cat], axis=0)).mean() < 8.0


# ---- Dataset Processing Pipelines ----

@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_two_stage_pipeline_flip_then_resize(mnist, scheduler):
    ds_mnist, images, labels = mnist

    pipeline = deeplake.compose([flip_vertical(), resize(new_size = (64,64))])

    #We use the overwrite=True to make this code re-runnable
    ds_mnist_pipe = deeplake.like('./mnist_pipeline', ds_mnist, overwrite = True)

    pipeline.eval(ds_mnist[0:100], ds_mnist_pipe, num_workers = 2, scheduler=scheduler, progressbar=False)

    expected = np.stack([np.array(Image.fromarray(np.flip(img, axis=0)).resize((64, 64))) for img in images[:100]])
    assert len(ds_mnist_pipe) == 100
    assert ds_mnist_pipe.images.shape == (100, 64, 64, 1)
    np.testing.assert_array_equal(ds_mnist_pipe.images.numpy(), stored(expected))
    np.testing.assert_array_equal(ds_mnist_pipe.labels.numpy().ravel(), labels[:100])


# ---- Recovering From Errors ----

def photo_files(root: Path, photos) -> tuple[list[str], list[str]]:
    """The animals tree plus one file that is not an image; (sorted file list, class names)."""
    animals_tree(root, photos)
    (root / "dogs" / "notes.jpg").write_text("not a picture, a text file named .jpg\n")
    files = sorted(str(p) for p in root.rglob("*.jpg"))
    return files, ["cats", "dogs"]


def image_dataset(path: Path):
    ds = deeplake.empty(path)
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.create_tensor("labels", htype="class_label", class_names=["cats", "dogs"])
    return ds


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_transform_error_names_the_sample_and_the_job_reruns_without_it(tmp_path, photos, scheduler):
    files, classes = photo_files(tmp_path / "animals", photos)
    bad = files.index(str(tmp_path / "animals" / "dogs" / "notes.jpg"))
    ds_out = image_dataset(tmp_path / "out")

    try:
        load_image_file(class_names=classes).eval(files, ds_out, num_workers=2, scheduler=scheduler, progressbar=False)
    except TransformError as e:
        failed_idx = e.index
        failed_sample = e.sample
    else:
        pytest.fail("no TransformError for a file that is not an image")

    assert failed_idx == bad
    assert failed_sample == files[bad]
    assert len(ds_out) == 0  # nothing of the failed run is kept

    files.pop(failed_idx)
    load_image_file(class_names=classes).eval(files, ds_out, num_workers=2, scheduler=scheduler, progressbar=False)

    assert len(ds_out) == len(files) == 5
    for i, f in enumerate(files):
        with Image.open(f) as im:
            np.testing.assert_array_equal(ds_out.images[i].numpy(), np.asarray(im.convert("RGB")))
    assert ds_out.labels.numpy().ravel().tolist() == [classes.index(Path(f).parent.name) for f in files]


def test_transform_error_from_a_bad_file_found_when_the_sample_is_stored(tmp_path, photos):
    """deeplake.read does not decode; the bad file is found when the sample is stored, and the error
    still names that input (Deep Lake 3 replays a failed flush one sample at a time to find it)."""
    files, classes = photo_files(tmp_path / "animals", photos)
    bad = files.index(str(tmp_path / "animals" / "dogs" / "notes.jpg"))
    ds_out = deeplake.empty(tmp_path / "out")
    ds_out.create_tensor("images", htype="image", sample_compression="jpeg")
    ds_out.create_tensor("labels", htype="class_label", class_names=classes)

    with pytest.raises(TransformError) as e:
        read_image_file(class_names=classes).eval(files, ds_out, num_workers=2, progressbar=False)
    assert e.value.index == bad and e.value.sample == files[bad]
    assert "notes.jpg" in str(e.value) + str(e.value.__cause__)
    assert len(ds_out) == 0

    files.pop(e.value.index)
    read_image_file(class_names=classes).eval(files, ds_out, num_workers=2, progressbar=False)
    assert len(ds_out) == len(files) == 5
    for i, f in enumerate(files):  # JPEG files are stored as they are
        np.testing.assert_array_equal(ds_out.images[i].numpy(), deeplake.read(f).array)
