import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import png_bytes
from PIL import Image

import chute
from chute.cli import main as cli_main


def test_ingest_classification_keeps_jpeg_bytes_and_labels(image_folder, tmp_path, capsys):
    ds = chute.ingest_classification(image_folder, tmp_path / "ds", progressbar=False, seed=3)
    assert len(ds) == 18
    assert ds.labels.info.class_names == ["cat", "dog", "fish"]
    sources = {}
    for cls in ("cat", "dog", "fish"):
        for f in os.listdir(image_folder / cls):
            sources[(image_folder / cls / f).read_bytes()] = cls
    names = ds.labels.info.class_names
    for i in range(len(ds)):
        stored = ds.images[i].tobytes()
        assert stored in sources, "ingest must store the source JPEG unchanged"
        assert names[int(ds.labels[i].numpy()[0])] == sources[stored]
    assert "Ingested 18 images, skipped 0" in capsys.readouterr().out


def test_without_tqdm_ingest_draws_a_plain_progress_bar(image_folder, tmp_path, capsys, monkeypatch):
    """tqdm is optional (chute[progress]): a core install still shows progress, on stderr."""
    monkeypatch.setitem(sys.modules, "tqdm", None)  # `import tqdm` now raises ImportError
    ds = chute.ingest_classification(image_folder, tmp_path / "ds", progressbar=True, summary=False)
    err = capsys.readouterr().err
    assert len(ds) == 18
    assert err.strip().splitlines()[-1].startswith("ingest src: 100% 18/18 img [")
    chute.ingest_classification(image_folder, tmp_path / "quiet", progressbar=False, summary=False)
    assert capsys.readouterr().err == ""


def test_ingest_skips_and_lists_bad_files(image_folder, tmp_path, capsys, photos):
    good = (image_folder / "cat" / "0.jpg").read_bytes()
    (image_folder / "cat" / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (image_folder / "dog" / "notes.jpg").write_text("this is not an image")
    (image_folder / "dog" / "extra.png").write_bytes(png_bytes(photos[0][:30, :40]))
    ds = chute.ingest_classification(image_folder, tmp_path / "ds", progressbar=False)
    out = capsys.readouterr().out
    assert len(ds) == 19  # 18 JPEGs plus the PNG, re-encoded into the jpeg tensor
    assert "skipped 2" in out and "truncated.jpg" in out and "notes.jpg" in out
    skipped = dict(ds.ingest_summary.skipped)
    assert "truncated" in skipped[str(image_folder / "cat" / "truncated.jpg")]
    assert "not a JPEG or PNG" in skipped[str(image_folder / "dog" / "notes.jpg")]


def test_ingest_train_val_splits_into_groups(tmp_path, photos):
    for split in ("train", "val"):
        for cls in ("a", "b"):
            d = tmp_path / "src" / split / cls
            d.mkdir(parents=True)
            for i in range(3):
                Image.fromarray(photos[i][:40, :50]).save(d / f"{i}.jpg")
    ds = chute.ingest_classification(tmp_path / "src", tmp_path / "ds", progressbar=False, summary=False)
    assert set(ds.tensors) == {"train/images", "train/labels", "val/images", "val/labels"}
    assert ds.train.images.num_samples == 6 and ds.val.labels.info.class_names == ["a", "b"]


def test_ingest_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        chute.ingest_classification(tmp_path / "missing", tmp_path / "ds")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no class folders"):
        chute.ingest_classification(tmp_path / "empty", tmp_path / "ds")


def test_cli_ingest_info_show(image_folder, tmp_path, capsys):
    ds_path = str(tmp_path / "ds")
    assert cli_main(["ingest", str(image_folder), ds_path, "--quiet"]) == 0
    assert cli_main(["info", ds_path]) == 0
    out = capsys.readouterr().out
    assert "images" in out and "class_label" in out and "jpeg" in out and "18" in out
    assert "labels.class_names: cat, dog, fish" in out
    sheet = tmp_path / "sheet.png"
    assert cli_main(["show", ds_path, "--indices", "0,1,2", "5", "-o", str(sheet)]) == 0
    img = np.asarray(Image.open(sheet))
    assert img.shape[0] >= 160 and img.shape[1] == 8 * 160
    assert img.std() > 10  # real pixels, not a blank page


def test_cli_reports_bad_input_without_a_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "chute.cli", "info", str(tmp_path / "nothing")], capture_output=True, text=True)
    assert r.returncode == 1
    assert "no dataset" in r.stderr and "Traceback" not in r.stderr
