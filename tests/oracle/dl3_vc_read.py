"""Oracle version-control reader: read every node of a history with Deep Lake 3.9.52 and pickle what it sees.

Runs inside the dl3 oracle venv (tests/oracle/setup_venv.sh):

    python dl3_vc_read.py DS_DIR OUT_PKL

For every node id in DS_DIR/version_control_info.json whose folder exists (the dataset root for
firstdbf9474d461a19e9333c2fd19b46115348f, else versions/<id>/), the dataset is loaded with
`deeplake.load(DS_DIR + "@" + id, read_only=True, check_integrity=True)`. Without version_control_info.json deeplake
sees a single node (FIRST, branch main) and refuses "@<id>" addresses, so FIRST is then read by loading DS_DIR itself.
A node that fails gets {"error": traceback} and the other nodes are still read. The pickle holds:

    {"nodes": {node_id: {"branch": ds.branch, "commit_id": ds.commit_id,
                         "pending_commit_id": ds.pending_commit_id,
                         "has_head_changes": ds.has_head_changes,
                         "values": {tensor: [per-sample value, ...]}}    # or {"error": traceback}
               for every node with a folder},
     "missing": [node ids listed in version_control_info.json without a folder],
     "branches": ds.branches (list, at main),
     "commits": {branch: ds.commits after checkout(branch)} (or {"error": traceback}),
     "diff_head": ds.diff(as_dict=True) at main's head,
     "diff_first_head": ds.diff(FIRST, <main's head id>, as_dict=True),
     "log_text": what ds.log() prints at main}

("diff_head" / "diff_first_head" / "commits" / "branches" hold {"error": traceback} when deeplake raised.)
Values are read for every visible (non-hidden) tensor: numpy arrays for array htypes (image, generic,
class_label: uint32 arrays of shape (k,)), str for text, python objects for json / list. Diffs are made
plain python by plain(): sets -> sorted lists, tuples -> lists, OrderedDict -> dict.

The helpers tensor_values(), node_values() and plain() are shared with dl3_vc_write.py and dl3_vc_cross.py.
"""

import contextlib
import io
import json
import os
import pickle
import sys
import traceback

import dl3_offline  # noqa: F401  (before deeplake: no network I/O)

# isort: split
import deeplake

assert deeplake.__version__ == "3.9.52", deeplake.__version__

FIRST = "firstdbf9474d461a19e9333c2fd19b46115348f"
OBJECT_HTYPES = ("text", "json", "list", "tag")


def tensor_values(t) -> list:
    """Per-sample values of one tensor: numpy arrays, str for text, python objects for json / list."""
    if not len(t):
        return []
    htype = t.meta.htype
    if htype in OBJECT_HTYPES:
        values = list(t.data()["value"])
        if htype == "text":
            values = [str(v) for v in values]  # np.str_ -> str
        return values
    return list(t.numpy(aslist=True))


def node_values(ds) -> dict:
    """{tensor name: [per-sample value, ...]} for every visible tensor of the checked-out node."""
    return {name: tensor_values(t) for name, t in ds.tensors.items()}


def plain(obj):
    """deeplake's diff / commits structures as plain python: dicts, lists (sets sorted), scalars."""
    if isinstance(obj, dict):  # OrderedDict too
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (set, frozenset)):
        return sorted(plain(v) for v in obj)
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if hasattr(obj, "item") and not hasattr(obj, "__len__"):  # numpy scalar
        return obj.item()
    return obj


def node_folder(ds_dir, node_id) -> str:
    return ds_dir if node_id == FIRST else os.path.join(ds_dir, "versions", node_id)


def _guard(fn):
    try:
        return fn()
    except Exception:
        return {"error": traceback.format_exc()}


def read_node(path) -> dict:
    ds = deeplake.load(path, read_only=True, verbose=False, check_integrity=True)
    return {
        "branch": ds.branch,
        "commit_id": ds.commit_id,
        "pending_commit_id": ds.pending_commit_id,
        "has_head_changes": ds.has_head_changes,
        "values": node_values(ds),
    }


def read_commits(ds_dir) -> dict:
    ds = deeplake.load(ds_dir, read_only=True, verbose=False)
    out = {}
    for b in ds.branches:
        try:
            ds.checkout(b)
            out[b] = plain(ds.commits)
        except Exception:
            out[b] = {"error": traceback.format_exc()}
    return out


def read(ds_dir) -> dict:
    try:
        with open(os.path.join(ds_dir, "version_control_info.json")) as f:
            info = json.load(f)
        at = "@"
    except FileNotFoundError:  # deeplake then sees one node (FIRST on main) and only accepts the address "main"
        info, at = {"commits": {FIRST: {}}}, None
    out = {"nodes": {}, "missing": []}
    for node_id in info["commits"]:
        if not os.path.isdir(node_folder(ds_dir, node_id)):
            out["missing"].append(node_id)
            continue
        path = ds_dir if at is None else f"{ds_dir}@{node_id}"
        out["nodes"][node_id] = _guard(lambda path=path: read_node(path))

    def at_main(fn):
        return _guard(lambda: fn(deeplake.load(ds_dir, read_only=True, verbose=False)))

    out["branches"] = at_main(lambda ds: list(ds.branches))
    out["commits"] = _guard(lambda: read_commits(ds_dir))
    out["diff_head"] = at_main(lambda ds: plain(ds.diff(as_dict=True)))
    out["diff_first_head"] = at_main(lambda ds: plain(ds.diff(FIRST, ds.pending_commit_id, as_dict=True)))
    out["log_text"] = at_main(log_text)
    return out


def log_text(ds) -> str:
    """What ds.log() prints."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        ds.log()
    return buf.getvalue()


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    out = read(argv[1])
    with open(argv[2], "wb") as f:
        pickle.dump(out, f, protocol=4)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
