"""Oracle version-control cross writer: Deep Lake 3.9.52 commits on top of an existing (e.g. chute-written) history.

Runs inside the dl3 oracle venv (tests/oracle/setup_venv.sh):

    python dl3_vc_cross.py DS_DIR OUT_PKL

DS_DIR is loaded writable (check_integrity=True) at main. Steps:

1. at main's head: one row is appended to every visible tensor (`t.append(v)`, v = that tensor's last row as deeplake
   reads it, or a type-appropriate default for an empty tensor), and row 0 of the first visible numeric tensor
   (non-image, non-class_label array tensor with an int / uint / float dtype and at least one row) gets its value + 1
   (as read before the appends); then commit "dl3 on top".
2. checkout("dl3branch", create=True), append one row to every visible tensor (again its last row), commit
   "dl3 branch commit".
3. checkout("main").

The pickle holds:

    {"appended": {tensor: value appended at main},
     "updated": {"tensor": name, "index": 0, "value": new value} or None (no numeric tensor),
     "branch_appended": {tensor: value appended on dl3branch},
     "commit_ids": [id returned by commit("dl3 on top"), id returned by commit("dl3 branch commit")],
     "heads": {"main": main's head id, "dl3branch": dl3branch's head id},
     "values_before": {tensor: values at main's head before any change},
     "values_after": {tensor: values at main after the commits (a fresh read-only load)},
     "values_branch": {tensor: values at dl3branch's head (a fresh read-only load of DS_DIR@dl3branch)}}

Values as in dl3_vc_read.tensor_values(): numpy arrays for array htypes (class_label: uint32 arrays of shape (k,)),
str for text, python objects for json / list.
"""

import pickle
import sys
import warnings

import dl3_vc_read  # before deeplake: makes its import offline, asserts 3.9.52

# isort: split
import deeplake
import numpy as np

OBJECT_DEFAULTS = {"text": "dl3", "json": {"dl3": 1}, "list": ["dl3"], "tag": ["dl3"]}
IMAGE_HTYPES = ("image", "image.rgb", "image.gray")

warnings.filterwarnings("ignore", message="After update, some chunks were suboptimal")


def row_like_last(t):
    """A value of the right type / shape for t: its last row, or a default when t is empty."""
    htype = t.meta.htype
    if len(t):
        if htype in dl3_vc_read.OBJECT_HTYPES:
            v = t[len(t) - 1].data()["value"]
            return str(v) if htype == "text" else v
        return t[len(t) - 1].numpy()
    if htype in OBJECT_DEFAULTS:
        return OBJECT_DEFAULTS[htype]
    dtype = np.dtype(t.meta.dtype or "uint8")
    if htype == "class_label":
        return np.zeros((1,), dtype=dtype)
    if htype in IMAGE_HTYPES:
        return np.zeros((4, 4, 3), dtype=dtype)
    return np.zeros((2,), dtype=dtype)


def first_numeric(ds):
    for name, t in ds.tensors.items():
        m = t.meta
        if m.htype in dl3_vc_read.OBJECT_HTYPES or m.htype == "class_label" or m.htype in IMAGE_HTYPES:
            continue
        if m.dtype and np.dtype(m.dtype).kind in "iuf" and len(t):
            return name
    return None


def append_rows(ds):
    rows = {name: row_like_last(t) for name, t in ds.tensors.items()}
    with ds:
        for name, v in rows.items():
            ds[name].append(v)
    return rows


def cross(ds_dir):
    ds = deeplake.load(ds_dir, read_only=False, verbose=False, check_integrity=True)
    ds.checkout("main")
    out = {"values_before": dl3_vc_read.node_values(ds), "updated": None}
    name = first_numeric(ds)
    if name is not None:
        v = ds[name][0].numpy()
        v = (v + 1).astype(v.dtype)
        out["updated"] = {"tensor": name, "index": 0, "value": v}
    out["appended"] = append_rows(ds)
    if name is not None:
        with ds:
            ds[name][0] = out["updated"]["value"]
    ids = [ds.commit("dl3 on top")]
    main_head = ds.pending_commit_id
    ds.checkout("dl3branch", create=True)
    out["branch_appended"] = append_rows(ds)
    ids.append(ds.commit("dl3 branch commit"))
    out["heads"] = {"main": main_head, "dl3branch": ds.pending_commit_id}
    ds.checkout("main")
    out["commit_ids"] = ids
    ro = deeplake.load(ds_dir, read_only=True, verbose=False, check_integrity=True)
    out["values_after"] = dl3_vc_read.node_values(ro)
    ro = deeplake.load(f"{ds_dir}@dl3branch", read_only=True, verbose=False, check_integrity=True)
    out["values_branch"] = dl3_vc_read.node_values(ro)
    return out


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    out = cross(argv[1])
    with open(argv[2], "wb") as f:
        pickle.dump(out, f, protocol=4)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
