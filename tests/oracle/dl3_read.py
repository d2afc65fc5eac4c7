"""Oracle reader: load a dataset with Deep Lake 3.9.52 and pickle its content.

Runs inside the dl3 oracle venv (tests/oracle/setup_venv.sh):

    python dl3_read.py DS_DIR OUT_PICKLE

The pickle holds:

    {"len": len(ds), "max_len": ds.max_len,
     "tensors": {name: {"htype": str, "dtype": str | None,
                        "length": len(tensor),
                        "sample_compression": ..., "chunk_compression": ...,
                        "class_names": list | None,
                        "values": [per-sample value, ...]}}}

for every non-hidden tensor (hidden `_*_shape`, `_*_id`, `_*_info` tensors are
skipped). Values: numpy arrays (tensor.numpy(aslist=True)) for array htypes;
str for text, python objects for json, python lists for list
(tensor.data()["value"]). class_label values are uint32 arrays of shape (k,).
The dataset is loaded with check_integrity=True, so a tensor_meta length that
disagrees with its chunk-id encoder (or with a linked hidden tensor) fails.
"""

import pickle
import sys

import deeplake  # noqa: E402
import dl3_offline  # noqa: E402,F401  (before deeplake: no network I/O)

assert deeplake.__version__ == "3.9.52", deeplake.__version__

OBJECT_HTYPES = ("text", "json", "list", "tag")


def read(ds_dir):
    ds = deeplake.load(ds_dir, read_only=True, verbose=False, check_integrity=True)
    out = {"len": len(ds), "max_len": ds.max_len, "tensors": {}}
    for name, t in ds.tensors.items():  # non-hidden tensors only
        m = t.meta
        htype = m.htype
        if htype in OBJECT_HTYPES:
            values = t.data()["value"] if len(t) else []
            values = list(values)
            if htype == "text":
                values = [str(x) for x in values]  # np.str_ -> str
        else:
            values = t.numpy(aslist=True) if len(t) else []
        class_names = None
        if htype == "class_label":
            class_names = list(t.info.class_names)
        out["tensors"][name] = {
            "htype": htype,
            "dtype": m.dtype,
            "length": len(t),
            "sample_compression": m.sample_compression,
            "chunk_compression": m.chunk_compression,
            "class_names": class_names,
            "values": values,
        }
    return out


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
