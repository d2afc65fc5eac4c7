"""Oracle writer: create a Deep Lake 3.9.52 local dataset with known content.

Runs inside the dl3 oracle venv (tests/oracle/setup_venv.sh):

    python dl3_write.py OUT_DIR [EXPECTED_PKL]

OUT_DIR is overwritten. EXPECTED_PKL (default: "<OUT_DIR>.expected.pkl")
receives a pickle of the exact values appended:

    {"len": {tensor: n_samples},
     "values": {tensor: [per-sample value, ...]},   # as passed to deeplake
     "class_names": {"labels": [...]},              # after the appends
     "lossy": ["images_jpeg"],                      # values are pre-JPEG input
     "decoded": {"images_jpeg": [arrays as read back by deeplake]},
     "meta": {tensor: {"htype":..., "dtype":..., "sample_compression":...,
                       "chunk_compression":..., "max_chunk_size":...,
                       "tiling_threshold":...}}}

Values: numpy arrays for array tensors, python str / dict / list for
text / json / list, and for `labels` the value as appended (int, str, or a
list of ints); deeplake stores class_label samples as uint32 arrays of shape
(k,), with strings mapped to their index in class_names.

Tensors: images_jpeg, images_png, labels, text, js, boxes, ragged (2-D int16),
ragged1d (1-D int16; deeplake forbids mixing ndims in one tensor), emb, lz4c,
lz4s, mask, lst, big (tiled uint8 sample, tiny chunk limits) and big_png
(tiled png image). All content is deterministic (numpy seed 0; only the random
chunk ids / sample ids differ between runs). Tensors have different lengths,
so len(ds) is the shortest one (2).
"""

import os
import pickle
import shutil
import sys

import deeplake  # noqa: E402
import dl3_offline  # noqa: E402,F401  (before deeplake: no network I/O)
import numpy as np  # noqa: E402

assert deeplake.__version__ == "3.9.52", deeplake.__version__

# Small chunk limits for `big` / `big_png` so a ~9 KB sample gets tiled.
BIG_MAX_CHUNK_SIZE = 4000
BIG_TILING_THRESHOLD = 1000


def _smooth_image(rng, h, w, c):
    """Gradient + noise: compresses sensibly with jpeg/png."""
    y = np.linspace(0, 1, h)[:, None, None]
    x = np.linspace(0, 1, w)[None, :, None]
    base = 255 * (0.5 * y + 0.5 * x) * np.ones((1, 1, c))
    noise = rng.integers(0, 32, size=(h, w, c))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def build_values():
    rng = np.random.default_rng(0)
    v = {}
    jpeg_shapes = [(40, 60, 3), (33, 21, 3), (8, 8, 3), (64, 48, 3), (17, 95, 3), (40, 60, 3)]
    v["images_jpeg"] = [_smooth_image(rng, *s) for s in jpeg_shapes]
    png_shapes = [(32, 32, 3), (20, 30, 3), (25, 15, 1), (32, 32, 3), (7, 9, 4)]
    v["images_png"] = [_smooth_image(rng, *s) for s in png_shapes]
    v["labels"] = [0, 1, 2, 0, "bird", [0, 1]]
    v["text"] = ["hello", "", "wörld ✓ unicode", "a" * 100, "line1\nline2"]
    v["js"] = [
        {"a": 1, "b": [1, 2, 3]},
        {},
        {"nested": {"x": 1.5, "y": None, "z": True}, "s": "str"},
        {"k": "ü"},
    ]
    v["boxes"] = [
        rng.random((1, 4), dtype=np.float32) * 100,
        rng.random((3, 4), dtype=np.float32) * 100,
        np.zeros((0, 4), dtype=np.float32),
        rng.random((2, 4), dtype=np.float32) * 100,
    ]
    v["ragged"] = [
        rng.integers(-1000, 1000, size=(2, 3)).astype(np.int16),
        rng.integers(-1000, 1000, size=(4, 1)).astype(np.int16),
        rng.integers(-1000, 1000, size=(2, 3)).astype(np.int16),
        np.zeros((0, 5), dtype=np.int16),
        rng.integers(-1000, 1000, size=(1, 7)).astype(np.int16),
    ]
    v["ragged1d"] = [
        rng.integers(-1000, 1000, size=(5,)).astype(np.int16),
        rng.integers(-1000, 1000, size=(3,)).astype(np.int16),
        rng.integers(-1000, 1000, size=(3,)).astype(np.int16),
        np.zeros((0,), dtype=np.int16),
        rng.integers(-1000, 1000, size=(9,)).astype(np.int16),
    ]
    v["emb"] = [rng.standard_normal(8).astype(np.float32) for _ in range(4)]
    v["lz4c"] = [rng.standard_normal((10, 10)).astype(np.float32) for _ in range(7)]
    v["lz4s"] = [
        np.repeat(rng.integers(0, 255, size=(s[0], 1), dtype=np.uint8), s[1], axis=1)
        for s in [(10, 20), (3, 5), (10, 20), (50, 2)]
    ]
    v["mask"] = [
        rng.random((6, 5, 2)) > 0.5,
        rng.random((3, 4, 1)) > 0.5,
        rng.random((6, 5, 2)) > 0.5,
    ]
    v["lst"] = [["a", "b"], [], ["x", "yy", "zzz"], [1, 2, 3]]
    # one small sample, one tiled sample (100*90 = 9000 B > threshold 1000),
    # one small sample after it. Random content so every tile is unique.
    v["big"] = [
        np.arange(12, dtype=np.uint8).reshape(3, 4),
        rng.integers(0, 256, size=(100, 90), dtype=np.uint8),
        np.full((2, 2), 7, dtype=np.uint8),
    ]
    # png-compressed image whose compressed size estimate exceeds the tiling
    # threshold: tiles are png-compressed one by one.
    v["big_png"] = [
        _smooth_image(rng, 10, 12, 3),
        _smooth_image(rng, 60, 50, 3),
    ]
    return v


def write(out_dir):
    v = build_values()
    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    ds = deeplake.empty(out_dir, overwrite=True, verbose=False)
    with ds:
        ds.create_tensor("images_jpeg", htype="image", sample_compression="jpeg")
        ds.create_tensor("images_png", htype="image", sample_compression="png")
        ds.create_tensor("labels", htype="class_label", class_names=["cat", "dog", "bird"])
        ds.create_tensor("text", htype="text")
        ds.create_tensor("js", htype="json")
        ds.create_tensor("boxes", htype="bbox")
        ds.create_tensor("ragged", dtype="int16")
        ds.create_tensor("ragged1d", dtype="int16")
        ds.create_tensor("emb", htype="embedding")
        ds.create_tensor("lz4c", dtype="float32", chunk_compression="lz4")
        ds.create_tensor("lz4s", dtype="uint8", sample_compression="lz4")
        ds.create_tensor("mask", htype="binary_mask")
        ds.create_tensor("lst", htype="list")
        ds.create_tensor(
            "big",
            dtype="uint8",
            max_chunk_size=BIG_MAX_CHUNK_SIZE,
            tiling_threshold=BIG_TILING_THRESHOLD,
        )
        ds.create_tensor(
            "big_png",
            htype="image",
            sample_compression="png",
            max_chunk_size=BIG_MAX_CHUNK_SIZE,
            tiling_threshold=BIG_TILING_THRESHOLD,
        )
        for name, samples in v.items():
            t = ds[name]
            for s in samples:
                t.append(s)
    ds.flush()

    meta = {}
    for name in v:
        m = ds[name].meta
        meta[name] = {
            k: getattr(m, k, None)
            for k in (
                "htype",
                "dtype",
                "sample_compression",
                "chunk_compression",
                "max_chunk_size",
                "tiling_threshold",
            )
        }
    expected = {
        "len": {k: len(s) for k, s in v.items()},
        "values": v,
        "class_names": {"labels": list(ds["labels"].info.class_names)},
        "lossy": ["images_jpeg"],
        "decoded": {"images_jpeg": [ds["images_jpeg"][i].numpy() for i in range(len(v["images_jpeg"]))]},
        "meta": meta,
    }
    return expected


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    out_dir = argv[1]
    exp_path = argv[2] if len(argv) == 3 else out_dir.rstrip("/") + ".expected.pkl"
    expected = write(out_dir)
    with open(exp_path, "wb") as f:
        pickle.dump(expected, f, protocol=4)
    print(out_dir)
    print(exp_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
