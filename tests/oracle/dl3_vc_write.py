"""Oracle version-control writer: make a branched history with Deep Lake 3.9.52 and pickle what deeplake reads
at every node.

Runs inside the dl3 oracle venv (tests/oracle/setup_venv.sh):

    python dl3_vc_write.py DS_DIR OUT_PKL

DS_DIR (a local path) is overwritten with `deeplake.empty(DS_DIR, overwrite=True)`. Tensors:
x (generic int32, shape (2,)), txt (text), img (image uint8, png, max_chunk_size 128 KB, tiling_threshold 64 KB:
the 300x300x3 random sample at row 0 is tiled, the other images are small and untiled), lbl (class_label,
class_names ["cat", "dog", "bird"]); y (uint8, shape (3,)) exists on branch alt only. History:

    main   FIRST  "first"      extend 4 rows (x, txt, img, lbl)
           S2     "second"     append 2 rows; x[0] = ..; txt[1] = ..; ds[2].update({"x", "lbl"});
                               img[0] = another 300x300x3 (tiled, same shape); img[1] = a small image of another shape
           S3     "third"      append 2 rows (in the empty head main kept under S2 when alt branched)
           head   uncommitted  append 1 row; x[1] = ..; lbl[0] = ..  (flushed)
    alt    A1     "alt commit" (from S2) create y, extend 6; x[1] = ..
           A2     "alt 2"      append 1 row to x, txt, img, lbl, y
           head   uncommitted  append 1 row to x, txt, img, lbl, y (flushed)
    old    O1     "old fix"    (from FIRST) x[0] = ..
           head   (empty)

The script ends with checkout("main"). All content is deterministic (numpy seed 0); commit ids are random.
The pickle holds:

    {"nodes": {node_id: {"branch": str, "parent": str | None, "message": str | None,
                         "commit_time": float | None,
                         "values": {tensor: [per-sample value, ...]}}    # read via load(DS_DIR@node_id)
               for every node of version_control_info.json (frozen commits and heads)},
     "ids": {"first", "second", "third", "alt1", "alt2", "old1": frozen ids,
             "main_head", "alt_head", "old_head": head ids},
     "branches": {branch: head id},                 # version_control_info.json "branches"
     "commits": {branch: ds.commits after checkout(branch)},
     "diff": {"first_second": ds.diff(first, second, as_dict=True),
              "second_alt2": ds.diff(second, alt2, as_dict=True),
              "alt2_third": ds.diff(alt2, third, as_dict=True),
              "main_head": ds.diff(as_dict=True) at main's head,
              "alt_head": ds.diff(as_dict=True) at alt's head},
     "log_text": stdout of ds.log() at main,
     "tiled": {node_id: [sample indexes of img that are tiled at that node]},
     "expected": {"first" | "second" | "third" | "main_head" | "alt1" | "alt2" | "alt_head" | "old1" | "old_head":
                  {tensor: [value written, ...]}}}   # what the script itself wrote, to check "values" against

Values: numpy arrays for x, img, y and lbl (uint32, shape (1,)), str for txt (see dl3_vc_read.tensor_values).
Diffs are plain python (sets -> sorted lists, tuples -> lists, OrderedDict -> dict).
"""

import contextlib
import io
import json
import os
import pickle
import sys
import warnings

import dl3_vc_read  # before deeplake: makes its import offline, asserts 3.9.52

# isort: split
import deeplake
import numpy as np

FIRST = dl3_vc_read.FIRST
CLASS_NAMES = ["cat", "dog", "bird"]
IMG_MAX_CHUNK_SIZE = 128 * 1024
IMG_TILING_THRESHOLD = 64 * 1024
BIG = (300, 300, 3)

# deeplake warns on every update that leaves a chunk below min_chunk_size (all img chunks here but the tiles).
warnings.filterwarnings("ignore", message="After update, some chunks were suboptimal")


class Data:
    """Deterministic sample factory + a record of what each tensor should hold on the current branch."""

    def __init__(self):
        self.rng = np.random.default_rng(0)
        self.n = 0

    def x(self):
        self.n += 1
        return np.array([self.n, -self.n], dtype=np.int32)

    def txt(self):
        self.n += 1
        return "t" * (self.n % 5) + f"#{self.n}"

    def img(self, shape=None):
        if shape is None:
            shape = (int(self.rng.integers(4, 16)), int(self.rng.integers(4, 16)), 3)
        return self.rng.integers(0, 256, size=shape, dtype=np.uint8)

    def lbl(self):
        return np.array([int(self.rng.integers(0, len(CLASS_NAMES)))], dtype=np.uint32)

    def y(self):
        return self.rng.integers(0, 256, size=(3,), dtype=np.uint8)

    def row(self, names):
        return {k: getattr(self, k)() for k in names}


def _append_rows(ds, data, exp, names, n):
    """Appends n rows (one ds.append per row) and records them in exp."""
    for _ in range(n):
        row = data.row(names)
        ds.append(row)
        for k, v in row.items():
            exp[k].append(v)


def _snap(exp):
    return {k: list(v) for k, v in exp.items()}


def build(ds_dir):
    """Writes the history; returns (ids, expected values per node)."""
    data = Data()
    ids, expected = {}, {}
    ds = deeplake.empty(ds_dir, overwrite=True, verbose=False)
    with ds:
        ds.create_tensor("x", htype="generic", dtype="int32")
        ds.create_tensor("txt", htype="text")
        ds.create_tensor(
            "img",
            htype="image",
            dtype="uint8",
            sample_compression="png",
            max_chunk_size=IMG_MAX_CHUNK_SIZE,
            tiling_threshold=IMG_TILING_THRESHOLD,
        )
        ds.create_tensor("lbl", htype="class_label", class_names=CLASS_NAMES)
        main = {k: [] for k in ("x", "txt", "img", "lbl")}
        rows = [data.row(("x", "txt", "lbl")) for _ in range(4)]
        imgs = [data.img(BIG)] + [data.img() for _ in range(3)]
        for k in ("x", "txt", "lbl"):
            main[k] = [r[k] for r in rows]
            ds[k].extend(main[k])
        ds.img.extend(imgs)
        main["img"] = list(imgs)
    ids["first"] = ds.commit("first")
    expected["first"] = _snap(main)

    with ds:
        _append_rows(ds, data, main, ("x", "txt", "img", "lbl"), 2)
        main["x"][0] = data.x()
        ds.x[0] = main["x"][0]
        main["txt"][1] = data.txt()
        ds.txt[1] = main["txt"][1]
        main["x"][2], main["lbl"][2] = data.x(), data.lbl()
        ds[2].update({"x": main["x"][2], "lbl": main["lbl"][2]})
        main["img"][0] = data.img(BIG)  # tiled sample, same shape
        ds.img[0] = main["img"][0]
        main["img"][1] = data.img((main["img"][1].shape[0] + 3, main["img"][1].shape[1] + 1, 3))  # other shape
        ds.img[1] = main["img"][1]
    ids["second"] = ds.commit("second")
    expected["second"] = _snap(main)

    ds.checkout("alt", create=True)
    alt = _snap(main)
    with ds:
        ds.create_tensor("y", dtype="uint8")
        alt["y"] = [data.y() for _ in range(6)]
        ds.y.extend(alt["y"])
        alt["x"][1] = data.x()
        ds.x[1] = alt["x"][1]
    ids["alt1"] = ds.commit("alt commit")
    expected["alt1"] = _snap(alt)
    with ds:
        _append_rows(ds, data, alt, ("x", "txt", "img", "lbl", "y"), 1)
    ids["alt2"] = ds.commit("alt 2")
    expected["alt2"] = _snap(alt)
    with ds:
        _append_rows(ds, data, alt, ("x", "txt", "img", "lbl", "y"), 1)
    ds.flush()
    ids["alt_head"] = ds.pending_commit_id
    expected["alt_head"] = _snap(alt)

    ds.checkout("main")
    with ds:
        _append_rows(ds, data, main, ("x", "txt", "img", "lbl"), 2)
    ids["third"] = ds.commit("third")
    expected["third"] = _snap(main)
    with ds:
        _append_rows(ds, data, main, ("x", "txt", "img", "lbl"), 1)
        main["x"][1] = data.x()
        ds.x[1] = main["x"][1]
        main["lbl"][0] = data.lbl()
        ds.lbl[0] = main["lbl"][0]
    ds.flush()
    ids["main_head"] = ds.pending_commit_id
    expected["main_head"] = _snap(main)

    ds.checkout(ids["first"])
    ds.checkout("old", create=True)
    old = _snap(expected["first"])
    with ds:
        old["x"][0] = data.x()
        ds.x[0] = old["x"][0]
    ids["old1"] = ds.commit("old fix")
    expected["old1"] = _snap(old)
    ids["old_head"] = ds.pending_commit_id
    expected["old_head"] = _snap(old)

    ds.checkout("main")
    return ds, ids, expected


def tiled_indexes(ds_dir, node_id):
    ds = deeplake.load(f"{ds_dir}@{node_id}", read_only=True, verbose=False)
    engine = ds.img.chunk_engine
    return [i for i in range(len(ds.img)) if engine._is_tiled_sample(i)]


def record(ds, ds_dir, ids, expected):
    with open(os.path.join(ds_dir, "version_control_info.json")) as f:
        info = json.load(f)
    out = {"nodes": {}, "ids": ids, "branches": dict(info["branches"]), "expected": expected, "tiled": {}}
    for node_id, c in info["commits"].items():
        nd = deeplake.load(f"{ds_dir}@{node_id}", read_only=True, verbose=False, check_integrity=True)
        assert nd.pending_commit_id == node_id, (nd.pending_commit_id, node_id)
        out["nodes"][node_id] = {
            "branch": c["branch"],
            "parent": c["parent"],
            "message": c["commit_message"],
            "commit_time": c["commit_time"],
            "values": dl3_vc_read.node_values(nd),
        }
        out["tiled"][node_id] = tiled_indexes(ds_dir, node_id)
    out["commits"] = {}
    for b in ds.branches:
        ds.checkout(b)
        out["commits"][b] = dl3_vc_read.plain(ds.commits)
    ds.checkout("alt")
    diff = {"alt_head": ds.diff(as_dict=True)}
    ds.checkout("main")
    diff["main_head"] = ds.diff(as_dict=True)
    diff["first_second"] = ds.diff(ids["first"], ids["second"], as_dict=True)
    diff["second_alt2"] = ds.diff(ids["second"], ids["alt2"], as_dict=True)
    diff["alt2_third"] = ds.diff(ids["alt2"], ids["third"], as_dict=True)
    out["diff"] = dl3_vc_read.plain(diff)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        ds.log()
    out["log_text"] = buf.getvalue()
    return out


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    ds_dir = argv[1]
    ds, ids, expected = build(ds_dir)
    out = record(ds, ds_dir, ids, expected)
    with open(argv[2], "wb") as f:
        pickle.dump(out, f, protocol=4)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
