"""ingest_classification: a class-per-folder image tree (optionally split into train/val/...)
into a dataset with `images` and `labels`. JPEG and PNG files are stored as they are."""
from __future__ import annotations

import os
import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from chute import _core
from chute._internal.handle import tensor_core
from chute._internal.progress import progress_bar
from chute.dataset import Dataset, empty

IMAGE_EXTENSIONS = {".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png"}


@dataclass
class IngestSummary:
    ingested: int = 0
    skipped: list = field(default_factory=list)  # (path, reason)

    def text(self) -> str:
        lines = [f"Ingested {self.ingested} images, skipped {len(self.skipped)}."]
        for path, reason in self.skipped[:20]:
            lines.append(f"  skipped {path}: {reason}")
        if len(self.skipped) > 20:
            lines.append(f"  ... and {len(self.skipped) - 20} more")
        return "\n".join(lines)


def class_folders(path: str) -> list[str]:
    """The class folders of `path` (sorted; hidden ones skipped)."""
    return sorted(e.name for e in os.scandir(path) if e.is_dir() and not e.name.startswith("."))


def image_files(path: str) -> list[str]:
    """Every file under `path`, recursively, in sorted order (hidden files and folders skipped)."""
    out = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out += [os.path.join(root, f) for f in sorted(files) if not f.startswith(".")]
    return out


def _layout(src: str) -> dict[str, str]:
    """{split name ('' when there are no splits): folder}. A split folder holds class folders."""
    top = class_folders(src)
    if not top:
        raise ValueError(f"'{src}' has no class folders; expected SRC/<class>/<image> or SRC/<split>/<class>/<image>")
    loose = [f for f in os.listdir(src) if os.path.isfile(os.path.join(src, f)) and not f.startswith(".")]
    splits = {"train", "val", "test", "validation", "valid"}
    if set(top) <= splits and all(class_folders(os.path.join(src, t)) for t in top) and not loose:
        return {t: os.path.join(src, t) for t in top}
    return {"": src}


def _check(data: bytes, comp: str | None) -> str | None:
    """Why the file cannot be ingested as it is, or None. Cheap: header and end marker only."""
    if comp is None:
        return "not a JPEG or PNG image"
    try:
        _core.image_shape(data, comp)
    except _core.DecodeError as e:
        return str(e).replace("image: ", "")
    if comp == "jpeg" and data.rfind(b"\xff\xd9", max(0, len(data) - 4096)) < 0:
        return "truncated JPEG (no end-of-image marker)"
    if comp == "png" and data.rfind(b"IEND", max(0, len(data) - 64)) < 0:
        return "truncated PNG (no IEND chunk)"
    return None


def _sniff(data: bytes) -> str | None:
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    return None


def _read(path: str) -> bytes | OSError:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        return e


def ingest_classification(
    src,
    dest,
    image_params: dict | None = None,
    label_params: dict | None = None,
    dest_creds=None,
    progressbar: bool = True,
    summary: bool = True,
    num_workers: int = 0,
    shuffle: bool = True,
    overwrite: bool = False,
    seed: int | None = None,
    **dataset_kwargs,
) -> Dataset:
    """Ingests an image classification folder tree. Files that are not images, or are truncated,
    are skipped and listed in the summary (`ds.ingest_summary` after the call)."""
    src = os.fspath(src)
    if not os.path.isdir(src):
        raise FileNotFoundError(f"ingest source '{src}' is not a folder")
    layout = _layout(src)
    plans = {}
    for split, folder in layout.items():
        classes = class_folders(folder)
        items = [(p, ci) for ci, c in enumerate(classes) for p in image_files(os.path.join(folder, c))]
        plans[split] = (classes, items)
    exts = Counter(IMAGE_EXTENSIONS.get(os.path.splitext(p)[1].lower()) for _, (_, items) in plans.items() for p, _ in items)
    exts.pop(None, None)
    if not exts:
        raise ValueError(f"'{src}' holds no .jpg, .jpeg or .png files")
    compression = exts.most_common(1)[0][0]
    image_params = dict(image_params or {})
    label_params = dict(label_params or {})
    image_params.setdefault("sample_compression", compression)

    ds = empty(dest, overwrite=overwrite, creds=dest_creds, **dataset_kwargs)
    result = IngestSummary()
    rng = random.Random(seed)
    total = sum(len(items) for _, items in plans.values())
    bar = progress_bar(total, f"ingest {os.path.basename(os.path.abspath(src))}", unit="img", disable=not progressbar)
    with ds:
        for split, (classes, items) in plans.items():
            prefix = f"{split}/" if split else ""
            images = ds.create_tensor(f"{prefix}images", htype="image", **image_params)
            labels = ds.create_tensor(f"{prefix}labels", htype="class_label", class_names=classes, **label_params)
            if shuffle:
                rng.shuffle(items)
            img_core, lab_core = tensor_core(images), tensor_core(labels)
            label_arrays = [np.array([ci], dtype=np.uint32) for ci in range(len(classes))]
            target = images.sample_compression
            workers = max(1, num_workers) if num_workers else 2
            with ThreadPoolExecutor(workers) as pool:
                for start in range(0, len(items), 256):
                    batch = items[start:start + 256]
                    for (path, ci), data in zip(batch, pool.map(_read, [p for p, _ in batch])):
                        bar.update(1)
                        if isinstance(data, OSError):
                            result.skipped.append((path, f"unreadable ({data.strerror})"))
                            continue
                        comp = _sniff(data)
                        why = _check(data, comp)
                        if why is not None:
                            result.skipped.append((path, why))
                            continue
                        try:
                            if comp == target:
                                img_core.append_compressed(data, comp)
                            else:
                                img_core.append_array(_core.decode_image(data, comp))
                        except (_core.DecodeError, _core.InvalidArgument) as e:
                            result.skipped.append((path, str(e)))
                            continue
                        lab_core.append_array(label_arrays[ci])
                        result.ingested += 1
    bar.close()
    if summary:
        print(result.text())
    object.__setattr__(ds, "ingest_summary", result)
    return ds
