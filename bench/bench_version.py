"""Version control: chute's commit / checkout against Deep Lake 3.9.52's on the same data, the loader
at an old commit against the head, and what updating 1% of the rows then committing writes.

    .venv/bin/python bench/bench_version.py            # reference run (~1 minute)
    .venv/bin/python bench/bench_version.py --quick    # smoke run (small data, few repeats)

1. `commit()` / `checkout()`: one dataset per library, each written by the library itself, of
   N rows (100,000) x 5 tensors: labels (int64), vec (float32 (16,)), text, arr (uint8 (8, 8)),
   cls (class_label). Built and committed outside the timings; then `--reps` times: append one row
   to every tensor and flush (untimed), time `commit()`, `checkout(new branch, create=True)`,
   `checkout("main")`, `checkout(<first commit id>)`, the first read of one row of every tensor at
   that old commit, `checkout("main")` and the first read of one row there. A checkout may leave work
   to the first read (metadata or chunks loaded lazily, caches dropped), so the table also gives
   checkout + first read. Medians. Deep Lake
   runs twice, in its own venv (tests/oracle/setup_venv.sh, ~/.cache/chute/venv-dl3): as it comes
   (with its hidden `_<t>_id` / `_<t>_shape` tensors, 15 tensors on disk) and with
   `create_id_tensor=False, create_shape_tensor=False, create_sample_info_tensor=False` (5 tensors on
   disk, like chute). Target: chute/deeplake <= 0.2.
2. Loader at an old commit: `--images` 64x64 JPEGs + class labels written by chute; commit; update 1%
   of the rows (image and label, seeded random rows) and append 2% more; commit. Then one epoch of
   `ds.dataloader().batch(64).numpy()` over `chute.load(path@<first commit>, read_only=True)` and over
   the head (`chute.load(path, read_only=True)`), alternated (old, head, head, old, ...) for
   `--rounds` rounds after one untimed warm-up epoch each; medians of img/s. Target: old/head >= 0.95.
3. Updating 1% of the rows then committing: a fresh 5-tensor dataset of N rows per library, committed;
   then `ds[t][i] = value` for 1% of the rows (seeded, spread at random) in the tensors of
   `--update-tensors` (labels and cls: a relabelling) inside `with ds:`, then `commit()`. Measured:
   the files new or changed in the dataset folder (sizes, split into chunk files and metadata, and
   by folder: root, the committed node's `versions/<id>/`, the new head's), the files deleted, and the
   bytes the process handed to write() (`wchar` of /proc/self/io) during the updates and the commit:
   a file written then deleted inside the window (a chunk rewritten several times) only shows there.
   Target: only the touched chunks and the metadata are written. Deep Lake: the same on its own
   dataset (with its hidden tensors; its text updates take ~150 ms per row, hence no text by default).

Verified (the script exits non-zero otherwise): lengths and values at every checkout, pixels of
updated and untouched rows at the old commit and at the head, updated values at the head and the
old values at the first commit. Writes bench/results/version.json.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from common import default_work, log, machine_info, remove, run_oracle, settle, table, tree_bytes, write_json  # noqa: E402

TENSORS = ("labels", "vec", "text", "arr", "cls")
CLASS_NAMES = ["cat", "dog", "bird", "fish"]
OPS = ("commit", "checkout_new_branch", "checkout_main", "checkout_old_commit", "read_row_at_old_commit",
       "checkout_main_from_old_commit", "read_row_at_main")
# checkout may defer work to the first read (chute loads main's metadata then): both, end to end
SUMS = {"checkout_old_commit + first read": ("checkout_old_commit", "read_row_at_old_commit"),
        "checkout_main_from_old_commit + first read": ("checkout_main_from_old_commit", "read_row_at_main")}
DL3_JOB = "import sys, bench_version; bench_version.dl3_main(sys.argv[1])"


# ---- data and operations shared by both libraries (the Deep Lake side imports this module) ----
def columns(n: int, seed: int = 0) -> dict:
    import numpy as np

    rng = np.random.default_rng(seed)
    return {"labels": np.arange(n, dtype=np.int64),
            "vec": rng.random((n, 16), dtype=np.float32),
            "text": [f"row {i} " + "x" * (i % 7) for i in range(n)],
            "arr": rng.integers(0, 256, (n, 8, 8), dtype=np.uint8),
            "cls": rng.integers(0, len(CLASS_NAMES), n).astype(np.uint32)}


def extra_row(k: int) -> dict:
    import numpy as np

    return {"labels": np.int64(-1 - k), "vec": np.full(16, k, np.float32), "text": f"appended {k}",
            "arr": np.full((8, 8), k % 256, np.uint8), "cls": np.uint32(k % len(CLASS_NAMES))}


def new_value(t: str, row: int):
    import numpy as np

    return {"labels": np.int64(10**9 + row), "vec": np.full(16, -1.0, np.float32), "text": f"updated {row}",
            "arr": np.full((8, 8), 255, np.uint8), "cls": np.uint32((row + 1) % len(CLASS_NAMES))}[t]


def build(ds, n: int, **tensor_kwargs) -> None:
    """Creates the 5 tensors and writes n rows, one extend call per tensor."""
    ds.create_tensor("labels", dtype="int64", **tensor_kwargs)
    ds.create_tensor("vec", dtype="float32", **tensor_kwargs)
    ds.create_tensor("text", htype="text", **tensor_kwargs)
    ds.create_tensor("arr", dtype="uint8", **tensor_kwargs)
    ds.create_tensor("cls", htype="class_label", class_names=CLASS_NAMES, **tensor_kwargs)
    for name, values in columns(n).items():
        ds[name].extend(values)
    ds.flush()


def label_at(ds, i: int) -> int:
    return int(ds.labels[i].numpy().ravel()[0])


def vc_ops(ds, n: int, reps: int) -> dict:
    """Item 1 on a dataset holding n rows at its first commit (ds is at main's head)."""
    base = ds.commit_id
    times: dict[str, list[float]] = {k: [] for k in OPS}
    for r in range(reps):
        ds.append(extra_row(r))
        ds.flush()
        t0 = time.perf_counter()
        ds.commit(f"rep {r}")
        t1 = time.perf_counter()
        ds.checkout(f"branch_{r}", create=True)
        t2 = time.perf_counter()
        ds.checkout("main")
        t3 = time.perf_counter()
        ds.checkout(base)
        t4 = time.perf_counter()
        row = [ds[t][n - 1].numpy() for t in TENSORS]
        t5 = time.perf_counter()
        ds.checkout("main")
        t6 = time.perf_counter()
        last = [ds[t][n + r].numpy() for t in TENSORS]
        t7 = time.perf_counter()
        for k, dt in zip(OPS, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t7 - t6)):
            times[k].append(dt)
        if int(row[0].ravel()[0]) != n - 1 or int(last[0].ravel()[0]) != -1 - r:
            raise AssertionError(f"labels: {row[0]} at the first commit, {last[0]} at main (rep {r})")
        ds.checkout(base)
        if len(ds) != n:
            raise AssertionError(f"at the first commit: len {len(ds)}, expected {n}")
        ds.checkout("main")
        if len(ds) != n + r + 1 or label_at(ds, n + r) != -1 - r:
            raise AssertionError(f"at main: len {len(ds)}, expected {n + r + 1}")
    branches = set(ds.branches)
    if not {f"branch_{r}" for r in range(reps)} | {"main"} <= branches:
        raise AssertionError(f"branches: {sorted(branches)}")
    return {"median_s": {k: statistics.median(v) for k, v in times.items()},
            "times_s": {k: [round(x, 6) for x in v] for k, v in times.items()}}


def snapshot(path: str) -> dict:
    """{relative path: (size, mtime_ns, inode, sha1 of the contents for files other than chunks)}."""
    out = {}
    for root, _dirs, files in os.walk(path):
        for f in files:
            p = os.path.join(root, f)
            rel = os.path.relpath(p, path)
            try:
                st = os.stat(p)
                digest = None
                if not tensor_of(rel):
                    with open(p, "rb") as fh:
                        digest = hashlib.sha1(fh.read()).hexdigest()
            except OSError:
                continue
            out[rel] = (st.st_size, st.st_mtime_ns, st.st_ino, digest)
    return out


def proc_io() -> dict:
    try:
        with open("/proc/self/io") as f:
            return {k: int(v) for k, v in (ln.split(":") for ln in f)}
    except OSError:
        return {}


def tensor_of(rel: str) -> str | None:
    """The tensor key of a chunk file's path (root `<key>/chunks/x` or `versions/<id>/<key>/chunks/x`)."""
    parts = rel.split(os.sep)
    if "chunks" not in parts[:-1]:
        return None
    return parts[parts.index("chunks") - 1]


def area(rel: str, committed: str, head: str) -> str:
    parts = rel.split(os.sep)
    if parts[0] != "versions":
        return "root"
    return {committed: "committed_node", head: "new_head"}.get(parts[1], "other_versions")


def update_job(ds, path: str, n: int, rows: list[int], tensors: list[str], open_at) -> dict:
    """Item 3: ds (at main's head, first commit made, nothing pending) gets tensors[t][rows] updated,
    then a commit. open_at(address) opens the dataset read-only at an address (for checking)."""
    import numpy as np

    updated_keys = set(tensors)
    settle()
    before = snapshot(path)
    io0 = proc_io()
    t0 = time.perf_counter()
    with ds:
        for t in tensors:
            for r in rows:
                ds[t][r] = new_value(t, r)
    t1 = time.perf_counter()
    io1 = proc_io()
    committed = ds.commit("update 1%")
    t2 = time.perf_counter()
    io2 = proc_io()
    head = ds.pending_commit_id
    after = snapshot(path)

    new_or_changed = {k: v[0] for k, v in after.items() if before.get(k) != v}
    deleted = {k: v[0] for k, v in before.items() if k not in after}
    chunks = {k: s for k, s in new_or_changed.items() if tensor_of(k)}
    meta = {k: s for k, s in new_or_changed.items() if not tensor_of(k)}
    same_bytes = {k: s for k, s in meta.items() if k in before and before[k][3] == after[k][3]}
    by_area: dict[str, dict] = {}
    for k, s in new_or_changed.items():
        a = by_area.setdefault(area(k, committed, head), {"files": 0, "bytes": 0, "chunk_bytes": 0})
        a["files"] += 1
        a["bytes"] += s
        a["chunk_bytes"] += s if tensor_of(k) else 0

    def of_updated(k):  # the updated tensors and their hidden companions (_labels_shape, ...)
        key = tensor_of(k)
        return key is not None and any(key == t or key.startswith(f"_{t}_") for t in updated_keys)

    dataset_bytes = sum(v[0] for v in before.values())
    chunks_before = {k: v[0] for k, v in before.items() if tensor_of(k)}
    out = {"rows": n, "updated_rows": len(rows), "updated_tensors": tensors,
           "update_s": round(t1 - t0, 4), "commit_s": round(t2 - t1, 4),
           "dataset_bytes_before": dataset_bytes,
           "chunk_files_before": len(chunks_before),
           "updated_tensors_chunk_files_before": sum(1 for k in chunks_before if of_updated(k)),
           "updated_tensors_chunk_bytes_before": sum(s for k, s in chunks_before.items() if of_updated(k)),
           "new_or_changed_files": len(new_or_changed), "new_or_changed_bytes": sum(new_or_changed.values()),
           "touched_chunk_files": len(chunks), "touched_chunk_bytes": sum(chunks.values()),
           "metadata_files": len(meta), "metadata_bytes": sum(meta.values()),
           "metadata_rewritten_unchanged_files": len(same_bytes),
           "metadata_rewritten_unchanged_bytes": sum(same_bytes.values()),
           "deleted_files": len(deleted), "deleted_bytes": sum(deleted.values()),
           "by_area": by_area, "metadata_files_list": sorted(meta)}
    if io0:
        out["write_syscall_bytes"] = {"updates": io1["wchar"] - io0["wchar"], "commit": io2["wchar"] - io1["wchar"],
                                      "total": io2["wchar"] - io0["wchar"]}
        out["block_write_bytes"] = io2["write_bytes"] - io0["write_bytes"]
        out["cancelled_write_bytes"] = io2["cancelled_write_bytes"] - io0["cancelled_write_bytes"]
    # checks: the head has the new values, the first commit the old ones
    cols = None
    for address, expect_new in ((None, True), (committed, True), (FIRST_COMMIT, False)):
        v = open_at(address)
        for t in tensors:
            for r in rows[:3] + rows[-2:]:
                got = v[t][r].numpy()
                if expect_new:
                    want = new_value(t, r)
                else:
                    cols = cols or columns(n)
                    want = cols[t][r]
                if not np.array_equal(np.asarray(got).ravel(), np.asarray(want).ravel()):
                    raise AssertionError(f"{t}[{r}] at {address}: {got!r}, expected {want!r}")
    return out


FIRST_COMMIT = "firstdbf9474d461a19e9333c2fd19b46115348f"


def update_rows(n: int, seed: int = 1) -> list[int]:
    import numpy as np

    return sorted(int(i) for i in np.random.default_rng(seed).choice(n, max(1, n // 100), replace=False))


# ---- Deep Lake side (runs in the oracle venv) ----
def dl3_main(arg: str) -> None:
    import warnings

    import deeplake

    warnings.filterwarnings("ignore")
    a = json.loads(arg)
    kw = {} if a["hidden"] else {"create_id_tensor": False, "create_shape_tensor": False,
                                 "create_sample_info_tensor": False}
    out: dict = {"deeplake": deeplake.__version__}
    path = os.path.join(a["work"], "dl3_vc")
    ds = deeplake.empty(path, overwrite=True, verbose=False)
    t0 = time.perf_counter()
    build(ds, a["n"], **kw)
    out["build_s"] = round(time.perf_counter() - t0, 3)
    ds.commit("base")
    settle()
    out["dataset_bytes"] = tree_bytes(path)
    out["vc"] = vc_ops(ds, a["n"], a["reps"])
    del ds
    remove(path)
    if a["updates"]:
        path = os.path.join(a["work"], "dl3_update")
        ds = deeplake.empty(path, overwrite=True, verbose=False)
        build(ds, a["n"], **kw)
        ds.commit("base")
        out["update"] = update_job(ds, path, a["n"], update_rows(a["n"]), a["update_tensors"],
                                   lambda addr: deeplake.load(path if addr is None else f"{path}@{addr}",
                                                              read_only=True, verbose=False))
        del ds
        remove(path)
    print(json.dumps(out))


# ---- chute side ----
def chute_vc(work: str, n: int, reps: int) -> dict:
    import chute

    path = os.path.join(work, "chute_vc")
    ds = chute.empty(path, overwrite=True)
    t0 = time.perf_counter()
    build(ds, n)
    out = {"build_s": round(time.perf_counter() - t0, 3)}
    ds.commit("base")
    settle()
    out["dataset_bytes"] = tree_bytes(path)
    out["vc"] = vc_ops(ds, n, reps)
    del ds
    return out


def chute_update(work: str, n: int, tensors: list[str]) -> dict:
    import chute

    path = os.path.join(work, "chute_update")
    ds = chute.empty(path, overwrite=True)
    build(ds, n)
    ds.commit("base")
    return update_job(ds, path, n, update_rows(n), tensors,
                      lambda addr: chute.load(path if addr is None else f"{path}@{addr}", read_only=True))


def images(n: int, rng):
    """n smooth 64x64 RGB images with a little noise (compress to ~2 KB as JPEG)."""
    import numpy as np

    yy, xx = np.mgrid[0:64, 0:64].astype(np.uint16)
    fx = rng.integers(1, 5, (n, 1, 1)).astype(np.uint16)
    fy = rng.integers(1, 5, (n, 1, 1)).astype(np.uint16)
    ph = rng.integers(0, 256, (n, 1, 1)).astype(np.uint16)
    base = ((xx * fx + yy * fy + ph) % 256).astype(np.uint8)
    out = np.stack([base, np.roll(base, 9, axis=2), 255 - base], axis=-1)
    out += rng.integers(0, 16, out.shape, dtype=np.uint8)
    return out


def chute_loader(work: str, n: int, rounds: int) -> dict:
    import numpy as np

    import chute

    rng = np.random.default_rng(0)
    path = os.path.join(work, "chute_images")
    ds = chute.empty(path, overwrite=True)
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.create_tensor("labels", htype="class_label", class_names=[f"c{i}" for i in range(10)])
    t0 = time.perf_counter()
    ds.images.extend(images(n, rng))
    ds.labels.extend(rng.integers(0, 10, n).astype(np.uint32))
    build_s = time.perf_counter() - t0
    old = ds.commit("images")
    rows = sorted(int(i) for i in rng.choice(n, max(1, n // 100), replace=False))
    probe = rows[:3] + [r for r in (0, n // 2, n - 1) if r not in rows]
    before = {r: ds.images[r].tobytes() for r in probe}
    new_images = images(len(rows), rng)
    t0 = time.perf_counter()
    with ds:
        for k, r in enumerate(rows):
            ds.images[r] = new_images[k]
            ds.labels[r] = np.uint32(9 - int(ds.labels[r].numpy()[0]))
    update_s = time.perf_counter() - t0
    extra = max(1, n // 50)
    ds.images.extend(images(extra, rng))
    ds.labels.extend(rng.integers(0, 10, extra).astype(np.uint32))
    new = ds.commit("update 1%, append 2%")
    del ds
    settle()

    def chunk_files(prefix):
        d = os.path.join(path, prefix, "images", "chunks")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    sources = {"old": lambda: chute.load(f"{path}@{old}", read_only=True),
               "head": lambda: chute.load(path, read_only=True)}
    # checks
    o, h = sources["old"](), sources["head"]()
    if len(o) != n or len(h) != n + extra:
        raise AssertionError(f"lengths {len(o)}, {len(h)}; expected {n}, {n + extra}")
    for r in probe:
        changed = r in rows
        if o.images[r].tobytes() != before[r] or (h.images[r].tobytes() != before[r]) != changed:
            raise AssertionError(f"images[{r}] (updated: {changed}) at the old commit / head")
    del o, h

    def epoch(which):
        v = sources[which]()
        t0 = time.perf_counter()
        count = 0
        for b in v.dataloader().batch(64).numpy():
            count += len(b["images"])
        secs = time.perf_counter() - t0
        if count != len(v):
            raise AssertionError(f"{which}: {count} images of {len(v)}")
        return count / secs

    for which in ("old", "head"):
        epoch(which)  # warm-up
    rates: dict[str, list[float]] = {"old": [], "head": []}
    for r in range(rounds):
        for which in (("old", "head") if r % 2 == 0 else ("head", "old")):
            rates[which].append(epoch(which))
    med = {k: statistics.median(v) for k, v in rates.items()}
    return {"images": n, "appended": extra, "updated_rows": len(rows), "old_commit": old, "new_commit": new,
            "build_s": round(build_s, 3), "update_s": round(update_s, 3), "dataset_bytes": tree_bytes(path),
            "root_image_chunks": len(chunk_files("")),
            "new_commit_image_chunks": len(chunk_files(os.path.join("versions", new))),
            "images_per_s": {k: round(v, 1) for k, v in med.items()},
            "runs_images_per_s": {k: [round(x, 1) for x in v] for k, v in rates.items()},
            "old_over_head": round(med["old"] / med["head"], 3)}


# ---- report ----
def ms(x):
    return None if x is None else f"{x * 1e3:.2f}"


def rat(a, b):
    return None if not a or not b else f"{a / b:.3f}"


def mb(x):
    return None if x is None else f"{x / 1e6:.2f}"


def report(res: dict) -> str:
    out = []
    c = res["vc"]["chute"]["vc"]["median_s"]
    d = (res["vc"].get("deeplake") or {}).get("vc", {}).get("median_s", {})
    dn = (res["vc"].get("deeplake_no_hidden") or {}).get("vc", {}).get("median_s", {})
    rows = [[op, ms(c[op]), ms(d.get(op)), rat(c[op], d.get(op)), ms(dn.get(op)), rat(c[op], dn.get(op))]
            for op in OPS + tuple(SUMS)]
    out.append(f"1. commit / checkout, {res['rows']:,} rows x 5 tensors, median of {res['reps']} (target chute/dl <= 0.2)")
    out.append(table(rows, ["operation", "chute ms", "deeplake ms", "chute/dl", "dl no-hidden ms", "chute/dl-nh"]))
    lo = res["loader"]
    out.append("")
    out.append(f"2. loader, {lo['images']:,} JPEG 64x64 (+{lo['appended']} appended, {lo['updated_rows']} updated at the "
               f"head), batch 64, median of {len(lo['runs_images_per_s']['old'])} epochs (target old/head >= 0.95)")
    out.append(table([["old commit", lo["images_per_s"]["old"], " ".join(map(str, lo["runs_images_per_s"]["old"]))],
                      ["head", lo["images_per_s"]["head"], " ".join(map(str, lo["runs_images_per_s"]["head"]))],
                      ["old / head", lo["old_over_head"], ""]], ["dataset at", "img/s", "runs"]))
    out.append("")
    u = res["update"]
    first = u["chute"]
    out.append(f"3. update 1% ({first['updated_rows']:,} random rows of {first['rows']:,}) of "
               f"{','.join(first['updated_tensors'])}, then commit (MB = 1e6 bytes)")
    rows = []
    for lib, r in u.items():
        w = r.get("write_syscall_bytes", {}).get("total")
        touched = r["touched_chunk_bytes"] + r["metadata_bytes"]
        rows.append([lib, f"{r['update_s']:.2f}", f"{r['commit_s'] * 1e3:.1f}", mb(r["dataset_bytes_before"]),
                     f"{r['touched_chunk_files']}/{r['chunk_files_before']}", mb(r["touched_chunk_bytes"]),
                     mb(r["metadata_bytes"]), mb(r["new_or_changed_bytes"]), mb(w),
                     rat(r["new_or_changed_bytes"], r["dataset_bytes_before"]), rat(w, r["dataset_bytes_before"]),
                     rat(w, touched)])
    out.append(table(rows, ["library", "update s", "commit ms", "dataset MB", "chunks touched", "chunks MB",
                            "metadata MB", "new/changed MB", "write() MB", "new/dataset", "write()/dataset",
                            "write()/(chunks+meta)"]))
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=100_000, help="rows of the item 1 and item 3 datasets")
    p.add_argument("--reps", type=int, default=11, help="repetitions of the commit/checkout sequence")
    p.add_argument("--images", type=int, default=10_000, help="images of the loader dataset")
    p.add_argument("--rounds", type=int, default=9, help="timed epochs per side of the loader comparison")
    p.add_argument("--update-tensors", default="labels,cls",
                   help="tensors updated in item 3 (deeplake's text updates take ~150 ms per row)")
    p.add_argument("--quick", action="store_true", help="smoke run: 10,000 rows, 1,000 images, 3 reps, 2 rounds")
    p.add_argument("--no-deeplake", action="store_true")
    p.add_argument("--keep", action="store_true", help="keep the datasets in data/bench_work/version")
    p.add_argument("--out", default=os.path.join(HERE, "results", "version.json"))
    a = p.parse_args()
    if a.quick:
        a.rows, a.reps, a.images, a.rounds = 10_000, 3, 1_000, 2
    tensors = [t for t in a.update_tensors.split(",") if t]
    if set(tensors) - set(TENSORS):
        p.error(f"--update-tensors: one of {TENSORS}")
    work = os.path.join(default_work(), "version")
    remove(work)
    os.makedirs(work)
    t_start = time.perf_counter()
    res: dict = {"machine": machine_info(), "rows": a.rows, "reps": a.reps, "quick": a.quick,
                 "vc": {}, "update": {}}
    try:
        log(f"1. commit/checkout: chute, {a.rows:,} rows x 5 tensors")
        res["vc"]["chute"] = chute_vc(work, a.rows, a.reps)
        log(f"   {json.dumps({k: ms(v) for k, v in res['vc']['chute']['vc']['median_s'].items()})}")
        log(f"3. update 1%: chute ({','.join(tensors)})")
        res["update"]["chute"] = chute_update(work, a.rows, tensors)
        if not a.no_deeplake:
            for name, hidden in (("deeplake", True), ("deeplake_no_hidden", False)):
                log(f"1.{' 3.' if hidden else ''} {name} (its own venv)")
                job = {"work": work, "n": a.rows, "reps": a.reps, "hidden": hidden, "updates": hidden,
                       "update_tensors": tensors}
                r = run_oracle(DL3_JOB, [json.dumps(job)], timeout=1800)
                if "update" in r:
                    res["update"]["deeplake"] = r.pop("update")
                res["vc"][name] = r
                log(f"   {json.dumps({k: ms(v) for k, v in r['vc']['median_s'].items()})}")
        log(f"2. loader: {a.images:,} images, {a.rounds} rounds")
        res["loader"] = chute_loader(work, a.images, a.rounds)
        log(f"   {res['loader']['images_per_s']}")
    finally:
        if not a.keep:
            remove(work)

    for r in res["vc"].values():
        m = r["vc"]["median_s"]
        m.update({name: m[x] + m[y] for name, (x, y) in SUMS.items()})
    ratios = {}
    c = res["vc"]["chute"]["vc"]["median_s"]
    for name in ("deeplake", "deeplake_no_hidden"):
        if name in res["vc"]:
            d = res["vc"][name]["vc"]["median_s"]
            ratios[f"chute_over_{name}"] = {op: round(c[op] / d[op], 4) for op in OPS + tuple(SUMS) if d.get(op)}
    ratios["loader_old_over_head"] = res["loader"]["old_over_head"]
    for lib, r in res["update"].items():
        w = r.get("write_syscall_bytes", {}).get("total")
        ratios[f"update_{lib}"] = {
            "new_or_changed_over_dataset": round(r["new_or_changed_bytes"] / r["dataset_bytes_before"], 4),
            "write_syscalls_over_dataset": round(w / r["dataset_bytes_before"], 4) if w else None,
            "write_syscalls_over_touched_chunks_and_metadata":
                round(w / (r["touched_chunk_bytes"] + r["metadata_bytes"]), 3) if w else None}
    res["ratios"] = ratios
    res["total_s"] = round(time.perf_counter() - t_start, 1)
    text = report(res)
    print(text)
    print(f"\ntotal {res['total_s']} s; wrote {write_json('version', res, a.out)}")


if __name__ == "__main__":
    main()
