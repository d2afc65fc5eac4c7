"""Oracle appender: append samples to an existing dataset with Deep Lake 3.9.52,
then read the whole dataset back with deeplake and pickle it.

Runs inside the dl3 oracle venv (tests/oracle/setup_venv.sh):

    python dl3_append.py DS_DIR IN_PKL OUT_PKL [--commit]

IN_PKL holds {tensor: [sample, ...]}: each tensor gets its samples appended one
by one with `ds[tensor].append(sample)` inside one `with ds:` block (tensors
may get different numbers of samples). IN_PKL "-" appends nothing (the dataset
is then only read). With --commit, `ds.commit()` runs before the appends, so
the result has two commits (a `versions/` folder and a 2-commit
version_control_info.json).

OUT_PKL receives what `dl3_read.read(DS_DIR)` returns (the whole dataset as
deeplake reads it after the appends, loaded with check_integrity=True) plus

    "hidden": {hidden tensor name: [per-sample value, ...]},
    "bytes":  {tensor: [stored bytes or None, ...]},
    "data_added": {tensor: [start, end]},
    "before": None, or (when something was appended or committed) the
              dl3_read.read() dict plus "hidden" and "data_added", read
              before any change.

"hidden" holds the values of the hidden `_<t>_id` / `_<t>_shape` (numpy
arrays) and `_<t>_info` (python objects) tensors, so callers can check they
are in step. "bytes" holds, for every sample-compressed tensor (jpeg / png /
lz4), each sample's stored bytes as deeplake's `tensor[i].tobytes()` returns
them (None for a tiled sample: deeplake cannot return those).
"data_added" is the range of sample indexes the head commit's commit_diff
says were added, per visible tensor, from `ds.diff(as_dict=True)`.
"""

import os
import pickle
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import deeplake  # noqa: E402
import dl3_read  # noqa: E402  (makes the deeplake import offline, asserts 3.9.52)


def append(ds_dir, samples, commit=False):
    ds = deeplake.load(ds_dir, read_only=False, verbose=False, check_integrity=True)
    if commit:
        ds.commit("oracle commit")
    with ds:
        for name, values in samples.items():
            t = ds[name]
            for v in values:
                t.append(v)
    ds.flush()


def read_hidden(ds_dir):
    ds = deeplake.load(ds_dir, read_only=True, verbose=False, check_integrity=False)
    out = {}
    for name in ds.meta.hidden_tensors:
        t = ds[name]
        if not len(t):
            out[name] = []
        elif t.meta.htype == "json":
            out[name] = list(t.data()["value"])
        else:
            out[name] = t.numpy(aslist=True)
    return out


def read_bytes(ds_dir):
    ds = deeplake.load(ds_dir, read_only=True, verbose=False, check_integrity=False)
    out = {}
    for name, t in ds.tensors.items():
        if not t.meta.sample_compression:
            continue
        values = []
        for i in range(len(t)):
            try:
                values.append(t[i].tobytes())
            except NotImplementedError:  # tiled sample
                values.append(None)
        out[name] = values
    return out


def read_data_added(ds_dir):
    ds = deeplake.load(ds_dir, read_only=True, verbose=False, check_integrity=False)
    head = ds.diff(as_dict=True)["tensor"][0]
    return {k: list(v["data_added"]) for k, v in head.items() if k != "commit_id"}


def main(argv):
    args = [a for a in argv[1:] if a != "--commit"]
    commit = "--commit" in argv[1:]
    if len(args) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    ds_dir, in_pkl, out_pkl = args
    samples = {}
    if in_pkl != "-":
        with open(in_pkl, "rb") as f:
            samples = pickle.load(f)
    before = None
    if samples or commit:
        before = dl3_read.read(ds_dir)
        before["hidden"] = read_hidden(ds_dir)
        before["data_added"] = read_data_added(ds_dir)
        append(ds_dir, samples, commit=commit)
    out = dl3_read.read(ds_dir)
    out["hidden"] = read_hidden(ds_dir)
    out["bytes"] = read_bytes(ds_dir)
    out["data_added"] = read_data_added(ds_dir)
    out["before"] = before
    with open(out_pkl, "wb") as f:
        pickle.dump(out, f, protocol=4)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
