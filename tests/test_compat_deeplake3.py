"""Compatibility with Deep Lake 3.9.52, checked against the real deeplake package.

deeplake never runs in this interpreter: it runs in its own virtualenv (tests/oracle/setup_venv.sh)
through the oracle scripts in tests/oracle/, and values cross over as pickles.

1. deeplake -> chute: dl3_write.py writes every htype / compression / tiling case; chute reads it.
2. chute -> deeplake: chute writes every htype and DL3 compression it supports; dl3_read.py reads it.
3. appends across both: deeplake appends to a chute-written dataset (chute reads it all back), and chute
   appends to a deeplake-written one (hidden _id/_shape/_info tensors kept in step; deeplake then loads it
   with check_integrity=True, appends more itself, and reads everything).
4. a chute-written dataset deeplake committed on (and appended to) reads at both commits in chute.

Also: chute's appends must keep deeplake's commit_diff in step, and 'zstd' (which chute accepts but Deep Lake 3
does not know) must be refused or readable by deeplake.

Each oracle process costs ~1 s (the deeplake import), so the oracle work is batched: one process writes and reads
the deeplake dataset, one does everything to the chute-written dataset (read, append, commit), one reads after
chute's appends (module-scoped fixtures). Expect ~10 s once the venv exists.
"""
from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import chute

pytestmark = pytest.mark.oracle

ORACLE_DIR = Path(__file__).resolve().parent / "oracle"
OBJECT_HTYPES = ("text", "json", "list")


# ----------------------------------------------------------------------------------------------------------------------
# oracle plumbing


def _oracle_env() -> dict:
    env = dict(os.environ)
    for k in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):  # keep the chute venv out of the oracle's interpreter
        env.pop(k, None)
    env["BUGGER_OFF"] = "true"  # deeplake 3 telemetry off
    return env


@pytest.fixture(scope="session")
def oracle_python() -> str:
    """The python of the deeplake==3.9.52 venv (created on first use, ~20 s)."""
    r = subprocess.run(["bash", str(ORACLE_DIR / "setup_venv.sh")], capture_output=True, text=True,
                       env=_oracle_env(), timeout=1800)
    if r.returncode != 0:
        pytest.fail(f"tests/oracle/setup_venv.sh failed (rc={r.returncode}); deselect with -m 'not oracle'.\n"
                    f"{r.stderr[-3000:]}")
    return r.stdout.strip().splitlines()[-1]


_BATCH = """
import importlib, json, sys, traceback
sys.path.insert(0, sys.argv[1])
errors = []
for script, args in json.loads(sys.argv[2]):
    try:
        rc = importlib.import_module(script).main([script + ".py", *args])
        errors.append(f"{script}.py returned {rc}" if rc else None)
    except BaseException:
        errors.append(traceback.format_exc())
print("@@oracle@@" + json.dumps(errors))
"""


def run_oracle(python: str, *calls) -> list:
    """Runs oracle scripts' main(argv) one after another in ONE oracle process (each deeplake import costs ~1 s).
    calls: (script name without .py, *args). Returns one entry per call: None, or the error's traceback, so one
    failing call does not hide the others; pass each to check_oracle()."""
    payload = json.dumps([[script, [str(a) for a in args]] for script, *args in calls])
    r = subprocess.run([python, "-c", _BATCH, str(ORACLE_DIR), payload], capture_output=True, text=True,
                       env=_oracle_env(), timeout=600)
    marks = [ln for ln in r.stdout.splitlines() if ln.startswith("@@oracle@@")]
    if r.returncode != 0 or not marks:
        raise AssertionError(f"oracle process failed (rc={r.returncode}) running {payload}:\n{r.stderr[-4000:]}")
    return json.loads(marks[-1][len("@@oracle@@"):])


def check_oracle(error, what: str) -> None:
    if error:
        raise AssertionError(f"oracle {what} failed:\n{error[-4000:]}")


def load_pickle(path):
    with open(path, "rb") as f:
        return pickle.load(f)


def dump_pickle(obj, path) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=4)


# ----------------------------------------------------------------------------------------------------------------------
# comparison helpers


def assert_arrays_equal(got, want, what: str) -> None:
    assert len(got) == len(want), f"{what}: {len(got)} samples, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        w = np.asarray(w)
        assert isinstance(g, np.ndarray), f"{what}[{i}]: got {type(g).__name__}, not an ndarray"
        assert g.dtype == w.dtype, f"{what}[{i}]: dtype {g.dtype}, expected {w.dtype}"
        assert g.shape == w.shape, f"{what}[{i}]: shape {g.shape}, expected {w.shape}"
        assert np.array_equal(g, w), f"{what}[{i}]: values differ"


def assert_values_equal(htype: str, got, want, what: str) -> None:
    if htype in OBJECT_HTYPES:
        assert list(got) == list(want), f"{what}: {got!r} != {want!r}"
    else:
        assert_arrays_equal(got, want, what)


def labels_as_arrays(values, class_names) -> list:
    """class_label samples as deeplake stores them: uint32 arrays of shape (k,)."""
    out = []
    for v in values:
        items = v if isinstance(v, (list, tuple)) else [v]
        out.append(np.array([class_names.index(x) if isinstance(x, str) else x for x in items], dtype=np.uint32))
    return out


def chute_values(t) -> list:
    """A chute tensor's samples, the way the oracle pickles deeplake's."""
    if t.htype in OBJECT_HTYPES:
        return list(t.data()["value"])
    return t.numpy(aslist=True)


def stored_shape(htype: str, value) -> list:
    """What deeplake keeps in `_<t>_shape` for a stored sample."""
    if htype == "list":
        return [len(value)]
    return list(np.asarray(value).shape)


def smooth_image(rng, h, w, c) -> np.ndarray:
    """Gradient + noise, like dl3_write.py: compresses sensibly with jpeg/png."""
    y = np.linspace(0, 1, h)[:, None, None]
    x = np.linspace(0, 1, w)[None, :, None]
    base = 255 * (0.5 * y + 0.5 * x) * np.ones((1, 1, c))
    return np.clip(base + rng.integers(0, 32, size=(h, w, c)), 0, 255).astype(np.uint8)


def num_chunks(ds_path, tensor: str) -> int:
    return len(os.listdir(Path(ds_path) / tensor / "chunks"))


def tiles_index_entries(ds_path, tensor: str) -> int:
    """n_entries of tiles_index/unsharded (u8 L, version, u64 n, ...); 0 when the file is absent."""
    p = Path(ds_path) / tensor / "tiles_index" / "unsharded"
    if not p.exists():
        return 0
    b = p.read_bytes()
    return int.from_bytes(b[1 + b[0]:1 + b[0] + 8], "little")


# ======================================================================================================================
# 1. deeplake -> chute

DL3_TENSORS = ["images_jpeg", "images_png", "labels", "text", "js", "boxes", "ragged", "ragged1d", "emb", "lz4c",
               "lz4s", "mask", "lst", "big", "big_png"]


@pytest.fixture(scope="module")
def dl3_written(oracle_python, tmp_path_factory):
    """The dataset dl3_write.py makes, its expected pickle, and deeplake's reading of it (dl3_append.py with
    nothing to append: stored bytes of each sample, hidden tensors), both in one oracle process."""
    d = tmp_path_factory.mktemp("dl3")
    path, exp, stored = d / "ds", d / "expected.pkl", d / "stored.pkl"
    errors = run_oracle(oracle_python, ("dl3_write", path, exp), ("dl3_append", path, "-", stored))
    check_oracle(errors[0], "dl3_write.py")
    check_oracle(errors[1], "dl3_append.py (reading the dl3_write.py dataset)")
    return SimpleNamespace(path=str(path), expected=load_pickle(exp), stored=load_pickle(stored))


def dl3_expected_values(expected, name) -> list:
    """The values chute must read back from the dl3_write.py dataset (jpeg: as deeplake decodes them)."""
    if name in expected["decoded"]:
        return expected["decoded"][name]
    if name == "labels":
        return labels_as_arrays(expected["values"][name], expected["class_names"]["labels"])
    return expected["values"][name]


@pytest.fixture(scope="module")
def dl3_ds(dl3_written):
    return chute.load(dl3_written.path, read_only=True)


def test_dl3_to_chute_tensors_and_meta(dl3_written, dl3_ds):
    exp = dl3_written.expected
    assert sorted(exp["values"]) == sorted(DL3_TENSORS)
    assert list(dl3_ds.tensors) == DL3_TENSORS  # creation order; hidden _*_id/_shape/_info are not listed
    lengths = exp["len"]
    assert len(dl3_ds) == min(lengths.values())
    assert dl3_ds.max_len == max(lengths.values())
    for name in DL3_TENSORS:
        t, m = dl3_ds[name], exp["meta"][name]
        assert len(t) == lengths[name], name
        assert t.htype == m["htype"], name
        meta = t.meta
        for k in ("htype", "dtype", "sample_compression", "chunk_compression", "max_chunk_size", "tiling_threshold"):
            assert meta.get(k) == m[k], f"{name}: tensor_meta {k}={meta.get(k)!r}, deeplake wrote {m[k]!r}"
        assert t.sample_compression == m["sample_compression"], name
        assert t.chunk_compression == m["chunk_compression"], name
        if m["dtype"] not in ("str", "Any", "List"):
            assert t.dtype == np.dtype(m["dtype"]), name
    assert dl3_ds.labels.info.class_names == exp["class_names"]["labels"] == ["cat", "dog", "bird"]


@pytest.mark.parametrize("name", DL3_TENSORS)
def test_dl3_to_chute_values(dl3_written, dl3_ds, name):
    t = dl3_ds[name]
    want = dl3_expected_values(dl3_written.expected, name)
    if t.htype in OBJECT_HTYPES:
        assert t.data()["value"] == want
        for i, w in enumerate(want):
            assert t[i].data()["value"] == w, f"{name}[{i}]"
        return
    # jpeg too: deeplake (Pillow) and chute both decode with libjpeg-turbo, so the pixels are identical
    assert_arrays_equal(t.numpy(aslist=True), want, name)
    for i, w in enumerate(want):  # single-index reads, including the tiled samples of big / big_png
        assert_arrays_equal([t[i].numpy()], [w], f"{name}[{i}]")
    assert_arrays_equal([t[-1].numpy()], [want[-1]], f"{name}[-1]")
    if len({np.asarray(w).shape for w in want}) == 1:  # fixed shape: numpy() stacks
        stacked = t.numpy()
        assert stacked.shape == (len(want), *np.asarray(want[0]).shape)
        assert np.array_equal(stacked, np.stack(want))


def test_dl3_to_chute_tiled_samples(dl3_written, dl3_ds):
    """big (uint8, 16 tiles) and big_png (png tiles) are really tiled on disk, and chute reassembles them."""
    vals = dl3_written.expected["values"]
    for name, idx in (("big", 1), ("big_png", 1)):
        assert tiles_index_entries(dl3_written.path, name) == 1, name
        assert num_chunks(dl3_written.path, name) > 3, name
        got = dl3_ds[name][idx].numpy()
        assert got.shape == vals[name][idx].shape and np.array_equal(got, vals[name][idx]), name
        assert dl3_ds[name][idx].shape == vals[name][idx].shape, name


def test_dl3_to_chute_tobytes(dl3_written, dl3_ds):
    """tensor[i].tobytes() is the stored JPEG / PNG / lz4 sample, byte for byte what deeplake returns."""
    stored = dl3_written.stored["bytes"]
    assert sorted(stored) == ["big_png", "images_jpeg", "images_png", "lz4s"]
    for name, samples in stored.items():
        assert len(samples) == dl3_written.expected["len"][name], name
        for i, b in enumerate(samples):
            if b is None:  # tiled: deeplake cannot give the bytes either
                with pytest.raises(chute.ChuteError, match="tiled"):
                    dl3_ds[name][i].tobytes()
            else:
                assert dl3_ds[name][i].tobytes() == b, f"{name}[{i}]"
    assert dl3_ds.images_jpeg[0].tobytes()[:2] == b"\xff\xd8"


def test_dl3_to_chute_labels(dl3_ds):
    t = dl3_ds.labels
    assert_arrays_equal(t.numpy(aslist=True), [np.array(v, dtype=np.uint32) for v in ([0], [1], [2], [0], [2], [0, 1])],
                        "labels")
    assert t.data()["text"] == [["cat"], ["dog"], ["bird"], ["cat"], ["bird"], ["cat", "dog"]]


# ======================================================================================================================
# 2. chute -> deeplake

CHUTE_TENSORS = {
    "jpg": dict(htype="image", sample_compression="jpeg"),
    "png": dict(htype="image", sample_compression="png"),
    "raw": dict(htype="image", sample_compression=None),
    "labels": dict(htype="class_label", class_names=["cat", "dog"]),
    "boxes": dict(htype="bbox"),
    "text": dict(htype="text"),
    "js": dict(htype="json"),
    "lst": dict(htype="list"),
    "ragged": dict(dtype="int16"),
    "f64": dict(dtype="float64", chunk_compression="lz4"),
    "u8lz4": dict(dtype="uint8", sample_compression="lz4"),
    "emb": dict(htype="embedding"),
    "mask": dict(htype="binary_mask"),
    "big": dict(dtype="uint8", max_chunk_size=4000, tiling_threshold=1000),
    "big_png": dict(htype="image", sample_compression="png", max_chunk_size=4000, tiling_threshold=1000),
}
# (htype, dtype, sample_compression, chunk_compression) as deeplake must report them
CHUTE_META = {
    "jpg": ("image", "uint8", "jpeg", None),
    "png": ("image", "uint8", "png", None),
    "raw": ("image", "uint8", None, None),
    "labels": ("class_label", "uint32", None, None),
    "boxes": ("bbox", "float32", None, None),
    "text": ("text", "str", None, None),
    "js": ("json", "Any", None, None),
    "lst": ("list", "List", None, None),
    "ragged": ("generic", "int16", None, None),
    "f64": ("generic", "float64", None, "lz4"),
    "u8lz4": ("generic", "uint8", "lz4", None),
    "emb": ("embedding", "float32", None, None),
    "mask": ("binary_mask", "bool", None, None),
    "big": ("generic", "uint8", None, None),
    "big_png": ("image", "uint8", "png", None),
}
CHUTE_CLASS_NAMES = ["cat", "dog", "bird", "fish"]


def chute_rows() -> dict:
    """What chute appends. Row 0 goes in through ds.append({...}); the rest through tensor append / extend."""
    rng = np.random.default_rng(1)
    return {
        "jpg": [smooth_image(rng, 30, 40, 3), smooth_image(rng, 17, 9, 3), smooth_image(rng, 20, 20, 1)],
        # RGB, grayscale HxWx1, RGBA, and a 2-D grayscale array (stored as HxWx1)
        "png": [smooth_image(rng, 12, 13, 3), smooth_image(rng, 10, 7, 1), smooth_image(rng, 5, 6, 4),
                smooth_image(rng, 6, 8, 1)[:, :, 0]],
        "raw": [smooth_image(rng, 4, 5, 3), smooth_image(rng, 6, 2, 3), smooth_image(rng, 3, 3, 1)],
        # 'bird' and 'fish' are new: they extend class_names
        "labels": ["bird", 0, 1, [0, 2], "fish", np.uint32(1), "bird"],
        "boxes": [rng.random((2, 4), dtype=np.float32) * 100, np.zeros((0, 4), np.float32),
                  rng.random((3, 4), dtype=np.float32)],
        "text": ["hi", "", "ünïcode ✓ 日本語 🚀", "line1\nline2\t\"quoted\""],
        "js": [{"a": {"b": [1, 2, {"c": None}]}, "f": 1.5, "t": True}, {},
               {"k": "ü ✓", "nested": {"deep": {"deeper": [[], {}, -3]}}}],
        "lst": [["a", 1], [], [1, 2, 3], ["x", [1, 2], {"k": "v"}]],
        "ragged": [rng.integers(-1000, 1000, s).astype(np.int16) for s in [(2, 3), (0, 5), (4, 1), (2, 3)]],
        "f64": [rng.standard_normal((4, 5)) for _ in range(3)],
        "u8lz4": [np.repeat(rng.integers(0, 255, (s[0], 1), dtype=np.uint8), s[1], axis=1)
                  for s in [(10, 20), (3, 5), (0, 4), (1, 1)]],
        "emb": [rng.standard_normal(8).astype(np.float32) for _ in range(3)],
        "mask": [rng.random((6, 5, 2)) > 0.5, rng.random((3, 4, 1)) > 0.5],
        # small, tiled (9000 B > tiling_threshold 1000), small
        "big": [np.arange(12, dtype=np.uint8).reshape(3, 4), rng.integers(0, 256, (100, 90), dtype=np.uint8),
                np.full((2, 2), 7, np.uint8)],
        "big_png": [smooth_image(rng, 10, 12, 3), smooth_image(rng, 60, 50, 3)],
    }


def chute_expected(rows: dict) -> dict:
    """The stored values for lossless tensors (None for jpeg: compared with chute's own decoding)."""
    out = {}
    for name, vals in rows.items():
        htype = CHUTE_META[name][0]
        if name == "jpg":
            out[name] = None
        elif name == "labels":
            out[name] = labels_as_arrays([int(v) if isinstance(v, np.integer) else v for v in vals], CHUTE_CLASS_NAMES)
        elif htype in OBJECT_HTYPES:
            out[name] = list(vals)
        elif htype == "image":
            out[name] = [v[:, :, None] if v.ndim == 2 else v for v in vals]
        else:
            out[name] = list(vals)
    return out


def write_chute_dataset(path: str, creds: dict | None = None) -> SimpleNamespace:
    """chute writes every CHUTE_TENSORS tensor (one append, one row per tensor, then extends) to `path`."""
    rows = chute_rows()
    ds = chute.empty(path, overwrite=True, creds=creds)
    with ds:
        for name, kw in CHUTE_TENSORS.items():
            ds.create_tensor(name, **kw)
        ds.append({name: vals[0] for name, vals in rows.items()})
    for name, vals in rows.items():
        ds[name].append(vals[1])
        if len(vals) > 2:
            ds[name].extend(vals[2:])
    ds.flush()
    del ds
    back = chute.load(path, read_only=True, creds=creds)
    jpg = back.jpg.numpy(aslist=True)
    return SimpleNamespace(path=path, rows=rows, expected=chute_expected(rows), jpg_decoded=jpg)


@pytest.fixture(scope="module")
def chute_written(tmp_path_factory):
    return write_chute_dataset(str(tmp_path_factory.mktemp("chute") / "ds"))


@pytest.fixture(scope="module")
def chute_side_oracle(oracle_python, chute_written, tmp_path_factory):
    """One oracle process for everything done to the chute-written dataset:
    dl3_read.py of it (section 2); deeplake appending rows to a copy (3a); ds.commit() + an append on another
    copy (4)."""
    d = tmp_path_factory.mktemp("chute_side")
    shutil.copytree(chute_written.path, d / "appended")
    shutil.copytree(chute_written.path, d / "committed")
    rows = dl3_rows_for_chute()
    dump_pickle(rows, d / "append_in.pkl")
    dump_pickle({"text": ["after commit"]}, d / "commit_in.pkl")
    errors = run_oracle(
        oracle_python,
        ("dl3_read", chute_written.path, d / "read.pkl"),
        ("dl3_append", d / "appended", d / "append_in.pkl", d / "append_out.pkl"),
        ("dl3_append", d / "committed", d / "commit_in.pkl", d / "commit_out.pkl", "--commit"),
    )
    return SimpleNamespace(dir=d, rows=rows, errors=errors)


@pytest.fixture(scope="module")
def chute_read_by_dl3(chute_side_oracle):
    check_oracle(chute_side_oracle.errors[0], "dl3_read.py of the chute-written dataset")
    return load_pickle(chute_side_oracle.dir / "read.pkl")


def test_chute_to_dl3_tensors_and_meta(chute_written, chute_read_by_dl3):
    r = chute_read_by_dl3
    assert sorted(r["tensors"]) == sorted(CHUTE_TENSORS)  # deeplake lists them sorted
    lengths = {k: len(v) for k, v in chute_written.rows.items()}
    assert r["len"] == min(lengths.values())
    assert r["max_len"] == max(lengths.values())
    for name, (htype, dtype, sc, cc) in CHUTE_META.items():
        t = r["tensors"][name]
        assert (t["htype"], t["dtype"], t["sample_compression"], t["chunk_compression"]) == (htype, dtype, sc, cc), name
        assert t["length"] == lengths[name], name
    assert r["tensors"]["labels"]["class_names"] == CHUTE_CLASS_NAMES


@pytest.mark.parametrize("name", list(CHUTE_TENSORS))
def test_chute_to_dl3_values(chute_written, chute_read_by_dl3, name):
    got = chute_read_by_dl3["tensors"][name]["values"]
    want = chute_written.expected[name]
    if want is None:  # jpeg: deeplake decodes chute's JPEG bytes to exactly what chute decodes
        want = chute_written.jpg_decoded
        for w, src in zip(want, chute_written.rows[name]):
            assert w.shape == src.shape
            assert np.abs(w.astype(int) - src.astype(int)).mean() < 8  # sanity: a real JPEG of the input
    assert_values_equal(CHUTE_META[name][0], got, want, name)


def test_chute_written_tiles(chute_written):
    """chute really tiled the big samples (so deeplake reading them back checks chute's tile layout)."""
    for name in ("big", "big_png"):
        assert tiles_index_entries(chute_written.path, name) == 1, name
        assert num_chunks(chute_written.path, name) > 3, name


# ======================================================================================================================
# 3a. deeplake appends to a chute-written dataset; chute reads every row back


def dl3_rows_for_chute() -> dict:
    rng = np.random.default_rng(2)
    return {
        "jpg": [smooth_image(rng, 11, 13, 3)],
        "png": [smooth_image(rng, 4, 4, 4), smooth_image(rng, 5, 5, 1)],
        "raw": [smooth_image(rng, 3, 3, 3)],
        "labels": ["cow", 2, [1, 3]],  # 'cow' is new: deeplake extends class_names
        "boxes": [rng.random((1, 4), dtype=np.float32)],
        "text": ["dl ✓ ß"],
        "js": [{"z": [1, 2], "u": "ß", "n": None}],
        "lst": [["r", 2]],
        "ragged": [np.ones((1, 2), np.int16)],
        "f64": [rng.standard_normal((4, 5))],
        "u8lz4": [np.full((2, 9), 3, np.uint8)],
        "emb": [rng.standard_normal(8).astype(np.float32)],
        "mask": [rng.random((1, 1, 2)) > 0.5],
        "big": [rng.integers(0, 256, (100, 90), dtype=np.uint8)],  # tiled by deeplake with chute's limits
        "big_png": [smooth_image(rng, 60, 50, 3)],
    }


@pytest.fixture(scope="module")
def dl3_appended_to_chute(chute_side_oracle):
    o = chute_side_oracle
    check_oracle(o.errors[1], "dl3_append.py on a copy of the chute-written dataset")
    return SimpleNamespace(path=str(o.dir / "appended"), rows=o.rows, out=load_pickle(o.dir / "append_out.pkl"))


def test_dl3_appends_to_chute_dataset(chute_written, dl3_appended_to_chute):
    a = dl3_appended_to_chute
    out = a.out
    ds = chute.load(a.path, read_only=True)
    assert list(ds.tensors) == list(CHUTE_TENSORS)
    names = CHUTE_CLASS_NAMES + ["cow"]
    assert out["tensors"]["labels"]["class_names"] == names
    assert ds.labels.info.class_names == names
    for name in CHUTE_TENSORS:
        htype = CHUTE_META[name][0]
        dl = out["tensors"][name]
        n0, added = len(chute_written.rows[name]), a.rows[name]
        assert len(ds[name]) == dl["length"] == n0 + len(added), name
        # chute reads exactly what deeplake reads, for every row (old and new; jpeg included)
        assert_values_equal(htype, chute_values(ds[name]), dl["values"], name)
        # and the rows deeplake appended are the values it was given (jpeg: lossy, already compared above)
        if name == "jpg":
            continue
        if name == "labels":
            want_new = labels_as_arrays(added, names)
        elif htype == "image":
            want_new = [v[:, :, None] if v.ndim == 2 else v for v in added]
        else:
            want_new = added
        assert_values_equal(htype, chute_values(ds[name][n0:]), want_new, name + " (appended by deeplake)")
    # deeplake tiled its big samples inside the chute-written tensors; chute reassembles them
    for name in ("big", "big_png"):
        assert tiles_index_entries(a.path, name) == 2, name
    # stored bytes (chute's JPEG/PNG/lz4 samples and deeplake's): chute's tobytes() == deeplake's
    assert sorted(out["bytes"]) == ["big_png", "jpg", "png", "u8lz4"]
    for name, samples in out["bytes"].items():
        for i, b in enumerate(samples):
            if b is None:
                with pytest.raises(chute.ChuteError, match="tiled"):
                    ds[name][i].tobytes()
            else:
                assert ds[name][i].tobytes() == b, f"{name}[{i}]"
    assert out["bytes"]["big_png"].count(None) == 2  # chute's tiled sample and deeplake's
    # chute can write again after deeplake did
    ds = chute.load(a.path, read_only=False)
    ds.text.append("chute again")
    ds.labels.append("cow")
    ds = chute.load(a.path, read_only=True)
    assert ds.text[-1].data()["value"] == "chute again"
    assert ds.labels[-1].numpy().tolist() == [names.index("cow")]


# ======================================================================================================================
# 3b. chute appends to a deeplake-written dataset (hidden tensors kept in step); deeplake reads it and appends more


CHUTE_NAMES_DL3 = ["cat", "dog", "bird", "fish"]  # class_names after chute appended 'fish'


def chute_rows_for_dl3() -> dict:
    rng = np.random.default_rng(3)
    return {
        "images_jpeg": [smooth_image(rng, 20, 30, 3)],
        "images_png": [smooth_image(rng, 9, 7, 1), smooth_image(rng, 3, 4, 4)],
        "labels": [1, "fish", [2, 0]],  # 'fish' is new
        "text": ["néw ✓", ""],
        "js": [{"new": [1, {"x": None}], "ü": 2}],
        "boxes": [np.zeros((0, 4), np.float32), rng.random((2, 4), dtype=np.float32)],
        "ragged": [rng.integers(-5, 5, (3, 3)).astype(np.int16)],
        "ragged1d": [np.arange(4, dtype=np.int16), np.zeros((0,), np.int16)],
        "emb": [rng.standard_normal(8).astype(np.float32)],
        "lz4c": [rng.standard_normal((10, 10)).astype(np.float32)],
        "lz4s": [np.full((7, 3), 9, np.uint8)],
        "mask": [rng.random((2, 2, 2)) > 0.5],
        "lst": [["q", [1, 2]], []],
        "big": [rng.integers(0, 256, (100, 90), dtype=np.uint8), np.full((1, 3), 5, np.uint8)],  # tiled, then small
        "big_png": [smooth_image(rng, 60, 50, 3)],  # tiled
    }


def dl3_rows_after_chute() -> dict:
    rng = np.random.default_rng(4)
    return {
        "images_jpeg": [smooth_image(rng, 8, 8, 3)],
        "images_png": [smooth_image(rng, 4, 4, 3)],
        "labels": ["bird"],
        "text": ["dl"],
        "js": [{}],
        "boxes": [rng.random((1, 4), dtype=np.float32)],
        "ragged": [np.ones((1, 1), np.int16)],
        "ragged1d": [np.ones((2,), np.int16)],
        "emb": [rng.standard_normal(8).astype(np.float32)],
        "lz4c": [rng.standard_normal((10, 10)).astype(np.float32)],
        "lz4s": [np.full((2, 2), 1, np.uint8)],
        "mask": [np.ones((1, 1, 1), bool)],
        "lst": [[]],
        "big": [np.full((2, 2), 3, np.uint8)],
        "big_png": [smooth_image(rng, 5, 5, 3)],
    }


@pytest.fixture(scope="module")
def chute_appended_to_dl3(oracle_python, dl3_written, tmp_path_factory):
    d = tmp_path_factory.mktemp("chute_append")
    path = d / "ds"
    shutil.copytree(dl3_written.path, path)
    rows = chute_rows_for_dl3()
    ds = chute.load(str(path), read_only=False)
    with ds:
        for name, vals in rows.items():
            ds[name].extend(vals)
    del ds
    ds = chute.load(str(path), read_only=True)
    n_jpeg = dl3_written.expected["len"]["images_jpeg"]
    jpg_decoded = ds.images_jpeg.numpy(aslist=True)[n_jpeg:]
    after = dl3_rows_after_chute()
    dump_pickle(after, d / "in.pkl")
    # deeplake: reads (check_integrity=True) what chute wrote ("before"), appends `after`, reads everything again
    check_oracle(run_oracle(oracle_python, ("dl3_append", path, d / "in.pkl", d / "out.pkl"))[0],
                 "dl3_append.py on the deeplake-written dataset chute appended to")
    return SimpleNamespace(path=str(path), rows=rows, after=after, jpg_decoded=jpg_decoded,
                           out=load_pickle(d / "out.pkl"))


def _chute_appended_expected(dl3_written, c, name) -> list:
    """Original rows + the rows chute appended, as stored values."""
    names = CHUTE_NAMES_DL3
    exp = dl3_written.expected
    base = dl3_expected_values(exp, name)
    added = c.rows[name]
    if name == "images_jpeg":
        added = c.jpg_decoded
    elif name == "labels":
        base = labels_as_arrays(exp["values"][name], names)
        added = labels_as_arrays(added, names)
    elif name == "images_png":
        added = [v[:, :, None] if v.ndim == 2 else v for v in added]
    return list(base) + list(added)


@pytest.mark.parametrize("name", DL3_TENSORS)
def test_chute_appends_to_dl3_dataset_values(dl3_written, chute_appended_to_dl3, name):
    c = chute_appended_to_dl3
    before = c.out["before"]["tensors"][name]
    htype = before["htype"]
    want = _chute_appended_expected(dl3_written, c, name)
    assert before["length"] == len(want)
    assert_values_equal(htype, before["values"], want, name + " (deeplake reading chute's appends)")
    # after deeplake's own appends: everything above + deeplake's rows, and chute reads the same
    after = c.out["tensors"][name]
    assert after["length"] == len(want) + len(c.after[name])
    assert_values_equal(htype, after["values"][:len(want)], want, name + " (after deeplake appended)")
    ds = chute.load(c.path, read_only=True)
    assert_values_equal(htype, chute_values(ds[name]), after["values"], name + " (chute reading deeplake's appends)")
    if name == "labels":
        assert before["class_names"] == after["class_names"] == CHUTE_NAMES_DL3
        assert ds.labels.info.class_names == CHUTE_NAMES_DL3


def test_chute_appends_keep_hidden_tensors_in_step(chute_appended_to_dl3):
    """_<t>_id: one fresh uint64 per new sample; _<t>_shape: the sample's shape; _<t>_info: {} for images."""
    c = chute_appended_to_dl3
    for key in ("before", None):
        r = c.out[key] if key else c.out
        hidden = r["hidden"]
        all_ids = []
        for name in DL3_TENSORS:
            t = r["tensors"][name]
            n, htype, values = t["length"], t["htype"], t["values"]
            ids = hidden[f"_{name}_id"]
            assert len(ids) == n, f"_{name}_id ({key})"
            assert all(a.dtype == np.uint64 and a.shape == (1,) for a in ids), f"_{name}_id"
            all_ids += [int(a[0]) for a in ids]
            if htype not in ("text", "json"):
                shapes = hidden[f"_{name}_shape"]
                want = [stored_shape(htype, v) for v in values]
                assert [s.tolist() for s in shapes] == want, f"_{name}_shape ({key})"
            else:
                assert f"_{name}_shape" not in hidden
            if htype == "image":
                assert hidden[f"_{name}_info"] == [{}] * n, f"_{name}_info ({key})"
            else:
                assert f"_{name}_info" not in hidden
        assert len(set(all_ids)) == len(all_ids), "sample ids repeat"
    # deeplake loaded the dataset writable with check_integrity=True after chute's appends (else it would have failed)
    assert c.out["before"]["tensors"]["big"]["length"] == 5


def test_chute_appended_tobytes_match_deeplake(chute_appended_to_dl3):
    """Every stored sample (deeplake's originals, chute's appends, deeplake's later appends): chute's tobytes()
    equals deeplake's."""
    c = chute_appended_to_dl3
    ds = chute.load(c.path, read_only=True)
    for name, samples in c.out["bytes"].items():
        assert len(samples) == len(ds[name]), name
        for i, b in enumerate(samples):
            if b is None:
                with pytest.raises(chute.ChuteError, match="tiled"):
                    ds[name][i].tobytes()
            else:
                assert ds[name][i].tobytes() == b, f"{name}[{i}]"
    assert c.out["bytes"]["big_png"].count(None) == 2  # deeplake's tiled sample and chute's


def test_chute_appends_update_commit_diff(chute_appended_to_dl3):
    """A deeplake-written tensor has a commit_diff whose data_added range covers every sample of the (uncommitted)
    head commit. Appends must extend it as deeplake's own appends do: with a stale range, deeplake's ds.diff()
    under-reports, and deeplake's `tensor.pop(i)` of a chute-appended row later fails on flush
    (OverflowError: can't convert negative int to unsigned, in CommitDiff.tobytes)."""
    c = chute_appended_to_dl3
    for key in ("before", None):
        r = c.out[key] if key else c.out
        stale = {name: r["data_added"][name] for name in DL3_TENSORS
                 if r["data_added"][name] != [0, r["tensors"][name]["length"]]}
        lengths = {name: r["tensors"][name]["length"] for name in stale}
        assert not stale, (f"commit_diff data_added ({key or 'after deeplake appended'}) does not cover the samples: "
                           f"{stale}; lengths {lengths}")


def test_chute_appended_tiles_in_dl3_dataset(chute_appended_to_dl3):
    for name in ("big", "big_png"):
        assert tiles_index_entries(chute_appended_to_dl3.path, name) == 2, name


# ======================================================================================================================
# 4. deeplake committed on a chute-written dataset: chute reads both commits (tests/test_version_compat.py has the
#    branched histories)


@pytest.fixture(scope="module")
def committed(chute_side_oracle):
    """A copy of the chute-written dataset on which deeplake ran ds.commit() and then appended a row."""
    o = chute_side_oracle
    check_oracle(o.errors[2], "dl3_append.py --commit on a copy of the chute-written dataset")
    path = o.dir / "committed"
    assert (path / "versions").is_dir() and os.listdir(path / "versions")
    vc = json.loads((path / "version_control_info.json").read_text())
    assert len(vc["commits"]) == 2
    return path


@pytest.mark.parametrize("name", list(CHUTE_TENSORS))
def test_dl3_commit_on_chute_dataset_reads_at_both_commits(committed, chute_side_oracle, name):
    out = load_pickle(chute_side_oracle.dir / "commit_out.pkl")
    htype = CHUTE_META[name][0]
    head = chute.load(str(committed), read_only=True)
    first = chute.load(f"{committed}@firstdbf9474d461a19e9333c2fd19b46115348f", read_only=True)
    assert head.commit_id == "firstdbf9474d461a19e9333c2fd19b46115348f" and head.branch == "main"
    assert_values_equal(htype, chute_values(head[name]), out["tensors"][name]["values"], f"{name} at the head")
    assert_values_equal(htype, chute_values(first[name]), out["before"]["tensors"][name]["values"], f"{name} at FIRST")
    if name == "text":
        assert len(head[name]) == len(first[name]) + 1


# ======================================================================================================================
# compressions chute accepts that Deep Lake 3 does not know


def test_zstd_sample_compression_is_refused_and_chunk_zstd_warns(tmp_path):
    """deeplake 3.9.52 has no zstd (BYTE_COMPRESSIONS = ['lz4']): chute refuses zstd sample compression and
    warns that zstd chunk compression (a chute extension) makes the dataset unreadable by Deep Lake 3."""
    ds = chute.empty(str(tmp_path / "ds"), overwrite=True)
    with pytest.raises(ValueError, match="zstd"):
        ds.create_tensor("zs", dtype="uint8", sample_compression="zstd")
    with pytest.warns(UserWarning, match="Deep Lake 3 cannot open"):
        ds.create_tensor("zc", dtype="uint8", chunk_compression="zstd")
    ds.zc.append(np.arange(10, dtype=np.uint8))
    assert chute.load(str(tmp_path / "ds"), read_only=True).zc[0].numpy().tolist() == list(range(10))


# ======================================================================================================================
# 5. the transform executor writing into a deeplake-written dataset


@chute.compute
def _append_png_and_box(sample_in, samples_out):
    samples_out.images_png.append(sample_in["png"])
    samples_out.boxes.append(sample_in["box"])


@pytest.mark.parametrize("scheduler", ["threaded", "processed"])
def test_transform_rows_appended_to_a_dl3_dataset_read_back_by_deeplake(oracle_python, dl3_written, tmp_path,
                                                                         scheduler):
    """Segments appended by the executor keep Deep Lake's hidden companion tensors in step: deeplake
    loads the result with check_integrity=True and reads the new rows after its own."""
    path = tmp_path / "ds"
    shutil.copytree(dl3_written.path, path)
    rng = np.random.default_rng(5)
    rows = [{"png": smooth_image(rng, 9 + k, 7, 3), "box": rng.random((2, 4), dtype=np.float32)} for k in range(12)]
    ds = chute.load(str(path), read_only=False)
    n_png, n_box = ds.images_png.num_samples, ds.boxes.num_samples
    _append_png_and_box().eval(rows, ds, num_workers=2, scheduler=scheduler, skip_ok=True, check_lengths=False,
                               progressbar=False)
    del ds
    check_oracle(run_oracle(oracle_python, ("dl3_read", path, tmp_path / "out.pkl"))[0], "dl3_read.py")
    out = load_pickle(tmp_path / "out.pkl")["tensors"]
    assert out["images_png"]["length"] == n_png + 12 and out["boxes"]["length"] == n_box + 12
    assert_arrays_equal(out["images_png"]["values"][n_png:], [r["png"] for r in rows], "images_png")
    assert_arrays_equal(out["boxes"]["values"][n_box:], [r["box"] for r in rows], "boxes")
    assert_arrays_equal(out["images_png"]["values"][:n_png], dl3_expected_values(dl3_written.expected, "images_png"),
                        "images_png (deeplake's own rows)")
