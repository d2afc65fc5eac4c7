"""Corrupts dataset files at random and checks that chute fails cleanly.

Each case copies a small template dataset (JPEG, PNG, class labels, lz4 bboxes, text, json,
embeddings, and a tiled tensor), damages one or two of its files (truncate, flip bytes, delete,
replace with junk, overwrite a header integer, swap in another tensor's chunk, or put a bad value
at a random place in a JSON file: every file kind, from dataset_meta.json to tiles_index and the
chunks) and then opens it (read-only or writable), reads every sample one by one and in batches,
iterates loaders (strict, and ignore_errors=True with engine ops) and runs queries.

A case passes when every step either works or raises one of chute's errors (a ChuteError, or a
ValueError/KeyError/OSError that chute raises itself), tensors whose files were not touched read
the same values as before, and nothing outside the dataset folder changes. It fails on a signal,
a hang (timeout), a Python-level foreign exception (UnicodeDecodeError, JSONDecodeError,
MemoryError, IndexError, TypeError...), wrong values, or a change outside the dataset.

Cases run in child processes, a batch per child; a crashed or hung batch is rerun case by case to
name the case. Seeded: `--seed S --case N` reruns one case and prints what it did.

    python bench/fuzz_corruption.py --cases 3000            # counts by outcome, and the failures
    python bench/fuzz_corruption.py --seed 1 --case 123     # one case, verbosely
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))

# Outcomes. The first two pass; the rest are failures.
OK, CHUTE_ERROR = "ok", "chute_error"
FAILURES = ("foreign_exception", "wrong_values", "outside_change", "crash", "hang")

# What each child may use: the cap keeps a corrupt shape from decoding into gigabytes, and the
# address-space limit turns any allocation that slips past it into a visible MemoryError.
CHILD_MAX_DECODED = 256 << 20
CHILD_ADDRESS_LIMIT = 8 << 30

ADVERSARIAL = [-1, 0, 1, 2**31, 2**32 + 3, 2**63, 2**64 - 1, 2**64, -2**63, 10**30, 1.5, -0.0, 1e308, "", "x" * 5000,
               "jpeg", "png", "lz4", "uint8", "object", "float64", "complex128", "../x", "\u0000", None, True, False,
               [], {}, [1, 2, 3], [[-1]], [2**64], {"a": 1}, ["a", None]]


# ---- the template ----
def build_template(path: str) -> dict:
    """Writes the template dataset at `path`; returns each tensor's canonical values."""
    import numpy as np

    import chute

    rng = np.random.default_rng(0)
    ds = chute.empty(path, overwrite=True)
    ds.create_tensor("images", htype="image", sample_compression="jpeg", max_chunk_size=20000)
    ds.create_tensor("masks", htype="image", sample_compression="png")
    ds.create_tensor("labels", htype="class_label", class_names=["a", "b", "c"])
    ds.create_tensor("boxes", htype="bbox", chunk_compression="lz4")
    ds.create_tensor("text", htype="text")
    ds.create_tensor("meta", htype="json")
    ds.create_tensor("vec", htype="embedding", dtype="float32")
    # Samples over 4000 bytes are tiled: the odd rows are 40+ x 50 x 3.
    ds.create_tensor("big", dtype="uint8", tiling_threshold=4000, max_chunk_size=4000)
    ds.create_tensor("depth", dtype="uint16", sample_compression="lz4")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zstd chunks are a chute extension; they are fuzzed all the same
        ds.create_tensor("zvec", dtype="float64", chunk_compression="zstd")
    for i in range(6):
        h, w = 20 + 7 * i, 30 + 5 * i
        ds.append({
            "images": rng.integers(0, 255, (h, w, 3), dtype=np.uint8),
            "masks": rng.integers(0, 4, (h, w, 1), dtype=np.uint8),
            "labels": i % 3,
            "boxes": rng.random((i % 3 + 1, 4)).astype(np.float32),
            "text": f"sample {i} \u00fc",
            "meta": {"i": i, "tags": ["x"] * i},
            "vec": rng.random(8).astype(np.float32),
            "big": rng.integers(0, 255, (40 + i, 50, 3) if i % 2 else (10, 10, 3), dtype=np.uint8),
            "depth": (rng.integers(0, 4, (h, w)) * 1000).astype(np.uint16),
            "zvec": np.full(5 + i, i, np.float64),
        })
    ds.info.update(description="fuzz template")
    ds.flush()
    expected = read_values(ds)
    del ds
    return expected


def canon(v) -> str:
    """A comparable text for a value read from a tensor (arrays by dtype, shape and a hash)."""
    import numpy as np

    if isinstance(v, np.ndarray) and v.dtype != object and v.dtype.kind not in "USV":
        return f"array {v.dtype} {v.shape} {hashlib.sha1(np.ascontiguousarray(v).tobytes()).hexdigest()}"
    if isinstance(v, np.ndarray):
        v = v.tolist()
    return json.dumps(v, sort_keys=True, default=repr)


def read_values(ds) -> dict:
    return {name: [canon(t[i].numpy()) for i in range(t.num_samples)] for name, t in ds.tensors.items()}


# ---- damage ----
def kind_of(rel: str) -> str:
    """The kind of a dataset file from its path inside the dataset."""
    parts = rel.split(os.sep)
    if len(parts) == 1:
        return parts[0] if parts[0].endswith(".json") else "root_other"
    if parts[1] == "chunks":
        return "chunk"
    if parts[1] in ("chunks_index", "tiles_index", "tensor_meta.json", "tensor_info.json"):
        return parts[1]
    return "tensor_other"


def dataset_files(ds_path: str) -> list[tuple[str, str]]:
    """(kind, relative path) of every file, in an order that does not depend on chunk ids (which
    are random): by kind, tensor, size and content hash."""
    out = []
    for root, _, files in os.walk(ds_path):
        for f in files:
            full = os.path.join(root, f)
            rel = os.path.relpath(full, ds_path)
            parts = rel.split(os.sep)
            kind = kind_of(rel)
            with open(full, "rb") as fh:
                data = fh.read()
            out.append((kind, parts[0] if len(parts) > 1 else "", len(data), hashlib.sha1(data).hexdigest(), rel))
    out.sort()
    return [(k, rel) for k, _, _, _, rel in out]


def _json_paths(doc, prefix=(), depth=0):
    yield prefix
    if depth >= 4:
        return
    if isinstance(doc, dict):
        for k in sorted(doc):
            yield from _json_paths(doc[k], prefix + (k,), depth + 1)
    elif isinstance(doc, list):
        for i in range(min(len(doc), 4)):
            yield from _json_paths(doc[i], prefix + (i,), depth + 1)


def _set_path(doc, path, value, drop=False):
    if not path:
        return value
    cur = doc
    for p in path[:-1]:
        cur = cur[p]
    if drop:
        del cur[path[-1]]
    else:
        cur[path[-1]] = value
    return doc


def mutate_file(ds_path: str, kind: str, rel: str, rng: random.Random, chunks: list[str]) -> str:
    """Damages one file; returns what it did."""
    full = os.path.join(ds_path, rel)
    with open(full, "rb") as fh:
        data = fh.read()
    is_json = rel.endswith(".json") or kind == "tensor_info.json"
    ops = ["truncate", "flip", "delete", "junk", "zeros"]
    if is_json:
        ops += ["json_value"] * 6 + ["json_drop"] * 2 + ["json_type", "json_bad_text"]
    elif kind in ("chunk", "chunks_index", "tiles_index"):
        ops += ["int"] * 5
        if kind == "chunk":
            ops += ["chunk_table"] * 4
        if kind == "chunk" and len(chunks) > 1:
            ops += ["swap_chunk"]
    op = rng.choice(ops)
    what = f"{op} {rel}"
    if op == "truncate":
        n = rng.randrange(0, max(1, len(data)))
        data = data[:n]
        what += f" to {n} bytes"
    elif op == "flip":
        b = bytearray(data) or bytearray(b"\0")
        spots = []
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(b))
            x = rng.randrange(1, 256)
            b[i] ^= x
            spots.append(f"{i}^{x}")
        data = bytes(b)
        what += " at " + ",".join(spots)
    elif op == "delete":
        os.remove(full)
        return what
    elif op == "junk":
        n = rng.randrange(0, 2 * len(data) + 16)
        data = bytes(rng.randrange(256) for _ in range(n))
        what += f" ({n} bytes)"
    elif op == "zeros":
        data = b"\0" * len(data)
    elif op == "int":
        b = bytearray(data)
        if len(b) >= 4:
            # Mostly in the first 64 bytes, where chunk and index headers keep counts, sizes and shapes.
            hi = min(len(b) - 4, 64) if rng.random() < 0.7 else len(b) - 4
            at = rng.randrange(0, hi + 1)
            width = rng.choice([1, 2, 4, 8]) if at + 8 <= len(b) else 4
            value = rng.choice([0, 1, 255, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 2**63 - 1, 2**64 - 1,
                                rng.randrange(2**32)]) & ((1 << (8 * width)) - 1)
            b[at:at + width] = value.to_bytes(width, "little")
            what += f" {width}-byte {value} at {at}"
        data = bytes(b)
    elif op == "chunk_table":
        # A value in the chunk header's shape or byte-position table (Deep Lake 3's layout: version
        # string, shape table rows x cols of uint32, byte-position rows x 3 of uint32), set to a
        # value a decoder or an allocation would trust.
        import struct

        b = bytearray(data)
        try:
            p = 1 + b[0]
            nrows, ncols = struct.unpack_from("<ii", b, p)
            shape_at, nshape = p + 8, max(0, nrows) * max(0, ncols)
            bp_at = shape_at + 4 * nshape
            (bp_rows,) = struct.unpack_from("<I", b, bp_at)
            slots = [shape_at + 4 * i for i in range(nshape)] + [bp_at + 4 + 4 * i for i in range(3 * bp_rows)]
            at = rng.choice(slots)
            value = rng.choice([0, 1, 2, 255, 65535, 200000, 2**31 - 1, 2**31, 2**32 - 1, rng.randrange(2**32)])
            struct.pack_into("<I", b, at, value)
            what += f" uint32 at {at} = {value}"
        except (IndexError, struct.error):
            what += " (no table: unchanged)"
        data = bytes(b)
    elif op == "swap_chunk":
        other = rng.choice([c for c in chunks if c != rel])
        with open(os.path.join(ds_path, other), "rb") as fh:
            data = fh.read()
        what += f" with {other}"
    elif op in ("json_value", "json_drop", "json_type", "json_bad_text"):
        try:
            doc = json.loads(data)
        except ValueError:
            doc = None
        if op == "json_type" or doc is None:
            data = json.dumps(rng.choice([[], 1, "x", None, [{"a": 1}], True])).encode()
            what = f"json_type {rel} -> {data[:40]!r}"
        elif op == "json_bad_text":
            choice = rng.choice([b"\xff\xfe", b'{"a": NaN}', b"{", b'{"a": "\\ud800"}', b"\xef\xbb\xbf{}", data + b"}"])
            data = choice if rng.random() < 0.5 else data[: len(data) // 2] + choice
            what += f" {data[:40]!r}"
        else:
            paths = [p for p in _json_paths(doc) if p] or [()]
            path = rng.choice(paths)
            if op == "json_drop" and path:
                doc = _set_path(doc, path, None, drop=True)
                what += f" {list(path)}"
            else:
                value = rng.choice(ADVERSARIAL)
                doc = _set_path(doc, path, value)
                what = f"json_value {rel} {list(path)} = {json.dumps(value)[:40]}"
            data = json.dumps(doc).encode()
    with open(full, "wb") as fh:
        fh.write(data)
    return what


def plant_journal(ds_path: str, rng: random.Random) -> str:
    """Writes a .chute_journal (what a writer leaves when killed mid-flush) naming files chute may
    and may not touch: its own temp files and metas, but also files outside the dataset, absolute
    paths and user files. A writable open replays a journal; only chute's own files may change."""
    rels = [rel for _, rel in dataset_files(ds_path)]
    outside = os.path.join(os.path.dirname(ds_path), "outside.txt")
    targets = rels + ["../outside.txt", outside, "images/../../outside.txt", "", ".", "images", "images/chunks/",
                      "notes.txt", "../ds2/x", "images/chunks/../../../outside.txt"]
    with open(os.path.join(ds_path, "notes.txt"), "w") as fh:
        fh.write("a user's file")

    def temp_of(t: str) -> str:
        return f"{t}.tmp{rng.randrange(10**6)}_{rng.randrange(100)}_{rng.randrange(10**5)}"

    renames = []
    for _ in range(rng.randint(0, 3)):
        to = rng.choice(targets)
        frm = temp_of(to) if rng.random() < 0.7 else rng.choice(targets)
        if rng.random() < 0.6 and frm and not os.path.isabs(frm) and ".." not in frm:
            # the temp file exists: another file's bytes, or junk
            src = os.path.join(ds_path, rng.choice(rels))
            full = os.path.join(ds_path, frm)
            if os.path.isdir(os.path.dirname(full)) and not os.path.isdir(full):
                if rng.random() < 0.5:
                    with open(src, "rb") as fh:
                        data = fh.read()
                else:
                    data = bytes(rng.randrange(256) for _ in range(40))
                with open(full, "wb") as fh:
                    fh.write(data)
        renames.append([frm, to])
    obsolete = [rng.choice(targets) for _ in range(rng.randint(0, 3))]
    doc = {"renames": renames, "obsolete": obsolete}
    if rng.random() < 0.15:
        doc = rng.choice([[], {"renames": 1, "obsolete": []}, {"renames": [["a"]], "obsolete": [5]}, None])
    with open(os.path.join(ds_path, ".chute_journal"), "w") as fh:
        json.dump(doc, fh)
    return f"journal {json.dumps(doc)[:300]}"


def mutate(ds_path: str, rng: random.Random) -> tuple[list[str], set[str]]:
    """Damages one or two files: a kind first (so rare kinds come up as often as chunks), then a
    file of that kind; or plants a journal. Returns what was done and the tensors whose files were
    touched ('*': a dataset-level file)."""
    files = dataset_files(ds_path)
    chunks = [rel for k, rel in files if k == "chunk"]
    done, touched = [], set()
    if rng.random() < 0.08:
        return [plant_journal(ds_path, rng)], {"*"}
    for _ in range(1 if rng.random() < 0.8 else 2):
        files = dataset_files(ds_path)
        if not files:
            break
        kinds = sorted({k for k, _ in files})
        kind = rng.choice(kinds)
        rel = rng.choice([r for k, r in files if k == kind])
        done.append(mutate_file(ds_path, kind, rel, rng, chunks))
        touched.add(rel.split(os.sep)[0] if os.sep in rel else "*")
    return done, touched


# ---- one case, in a child ----
def _classify(e: BaseException) -> str:
    import linecache
    import traceback

    import chute

    if isinstance(e, chute.ChuteError):
        return CHUTE_ERROR
    if type(e) in (ValueError, KeyError, OSError, FileNotFoundError, FileExistsError, PermissionError,
                   IsADirectoryError, NotADirectoryError):
        # Raised on purpose by chute (a `raise` line in the package), not by a dict lookup or a
        # library call that happened to fail inside it.
        tb = traceback.extract_tb(e.__traceback__)
        if tb:
            last = tb[-1]
            pkg = os.path.dirname(chute.__file__)
            if last.filename.startswith(pkg) and "raise" in linecache.getline(last.filename, last.lineno):
                return CHUTE_ERROR
    return "foreign_exception"


def run_case(template: str, expected: dict, work: str, seed: int, cid: int, verbose: bool = False) -> dict:
    import gc
    import traceback

    import numpy as np

    import chute
    from chute import ops

    rng = random.Random(f"{seed}:{cid}")
    root = os.path.join(work, f"case{cid}")
    shutil.rmtree(root, ignore_errors=True)
    ds_path = os.path.join(root, "ds")
    shutil.copytree(template, ds_path)
    with open(os.path.join(root, "outside.txt"), "w") as fh:
        fh.write("not chute's")
    mutations, touched = mutate(ds_path, rng)

    def outside() -> list:
        # Everything under the batch's work folder except this dataset's own folder.
        out = []
        for r, dirs, files in os.walk(work):
            if os.path.abspath(r) == os.path.abspath(ds_path):
                dirs[:] = []
                continue
            for f in files:
                p = os.path.join(r, f)
                with open(p, "rb") as fh:
                    out.append((os.path.relpath(p, work), hashlib.sha1(fh.read()).hexdigest()))
            for d in list(dirs):
                if os.path.abspath(os.path.join(r, d)) == os.path.abspath(ds_path):
                    out.append((os.path.relpath(os.path.join(r, d), work), "dataset"))
        return sorted(out)

    before = outside()
    read_only = rng.random() < 0.5
    steps = []

    def step(name, fn):
        try:
            fn()
            steps.append([name, OK, ""])
        except Exception as e:  # noqa: BLE001 - classified, never swallowed: a foreign type fails the case
            kind = _classify(e)
            detail = f"{type(e).__name__}: {str(e)[:300]}"
            if kind != CHUTE_ERROR:
                detail += "\n" + "".join(traceback.format_exception(e)[-6:])
            steps.append([name, kind, detail])

    state = {}

    def open_():
        state["ds"] = chute.load(ds_path, read_only=read_only)

    step("open", open_)
    ds = state.get("ds")
    wrong = []
    if ds is not None:
        names = []
        step("tensors", lambda: names.extend(ds.tensors.keys()))
        for name in names:
            def one_by_one(name=name):
                t = ds[name]
                got = []
                first_error = None
                for i in range(t.num_samples):
                    try:
                        got.append(canon(t[i].numpy()))
                    except Exception as e:
                        got.append(None)
                        if _classify(e) != CHUTE_ERROR:
                            raise
                        first_error = first_error or e
                # Tensors whose files were not touched read exactly as before.
                if name in expected and name not in touched and "*" not in touched and got != expected[name]:
                    wrong.append(f"{name}: {got} != {expected[name]}")
                if first_error is not None:
                    raise first_error
            step(f"read {name}", one_by_one)
            step(f"read_batch {name}", lambda name=name: [canon(a) for a in ds[name].numpy(aslist=True)])
            if ds[name].htype in ("text", "json", "class_label"):
                step(f"data {name}", lambda name=name: ds[name].data())

        def loader(ignore: bool, with_ops: bool):
            def go():
                dl = ds.dataloader(ignore_errors=ignore).batch(4)
                if with_ops:
                    t = {n: None for n in names}
                    if "images" in t:
                        t["images"] = ops.Compose([ops.RandomResizedCrop(16), ops.RandomHorizontalFlip(),
                                                   ops.Normalize(ops.IMAGENET_MEAN, ops.IMAGENET_STD)])
                    if "masks" in t:
                        t["masks"] = ops.Resize(8)
                    dl = dl.transform(t).numpy()
                else:
                    dl = dl.numpy()
                for batch in dl:
                    for v in batch.values():
                        if isinstance(v, np.ndarray) and v.dtype == object:
                            v.tolist()
                if ignore:
                    assert dl.summary["skipped"] >= 0
            return go

        for ignore in (False, True):
            for with_ops in (False, True):
                step(f"loader ignore_errors={ignore} ops={with_ops}", loader(ignore, with_ops))
        for q in ("SELECT * WHERE labels == 1", "SELECT * WHERE contains(text, 'sample 3')",
                  "SELECT * ORDER BY labels DESC LIMIT 4", "SELECT * WHERE shape(images)[0] > 30"):
            def query(q=q):
                v = ds.query(q)
                len(v)
                for n in ("labels", "text"):
                    if n in names:
                        [canon(a) for a in v[n].numpy(aslist=True)]
            step(f"query {q}", query)
        if not read_only:
            # Writing to a damaged dataset: an error or a clean append, and the dataset reopens.
            def append():
                row = {"images": np.full((9, 11, 3), 5, np.uint8), "masks": np.full((9, 11, 1), 1, np.uint8),
                       "labels": 1, "boxes": np.zeros((1, 4), np.float32), "text": "new", "meta": {"new": 1},
                       "vec": np.zeros(8, np.float32), "big": np.zeros((45, 50, 3), np.uint8),
                       "depth": np.zeros((9, 11), np.uint16), "zvec": np.zeros(3, np.float64)}
                ds.append({k: v for k, v in row.items() if k in names})
                ds.flush()
            step("append", append)
            state.clear()
            ds = None
            gc.collect()
            step("reopen", lambda: read_values(chute.load(ds_path, read_only=True)))
    state.clear()
    ds = None
    gc.collect()
    after = outside()
    if after != before:
        steps.append(["outside", "outside_change", f"{set(after) ^ set(before)}"])
    if wrong:
        steps.append(["values", "wrong_values", "\n".join(wrong)[:2000]])
    shutil.rmtree(root, ignore_errors=True)
    failed = [s for s in steps if s[1] in FAILURES]
    outcome = failed[0][1] if failed else (CHUTE_ERROR if any(s[1] == CHUTE_ERROR for s in steps) else OK)
    result = {"case": cid, "seed": seed, "mutations": mutations, "read_only": read_only, "outcome": outcome,
              "failures": failed, "errored_steps": [s[0].split(" ")[0] for s in steps if s[1] != OK],
              "error_types": sorted({s[2].split(":")[0] for s in steps if s[1] != OK and s[2]})}
    if verbose:
        result["steps"] = steps
    return result


def child_main(args: dict) -> None:
    import faulthandler
    import resource

    faulthandler.enable()
    resource.setrlimit(resource.RLIMIT_AS, (CHILD_ADDRESS_LIMIT, CHILD_ADDRESS_LIMIT))
    import warnings

    warnings.simplefilter("ignore")
    with open(args["expected"]) as fh:
        expected = json.load(fh)
    for cid in args["cases"]:
        print("start", cid, file=sys.stderr, flush=True)
        r = run_case(args["template"], expected, args["work"], args["seed"], cid)
        print(json.dumps(r), flush=True)


# ---- the parent ----
def _child(template: str, expected: str, work: str, seed: int, cases: list[int], timeout: float):
    """Runs cases in one child; returns (results by case, returncode or 'timeout', stderr tail)."""
    os.makedirs(work, exist_ok=True)
    args = json.dumps({"template": template, "expected": expected, "work": work, "seed": seed, "cases": cases})
    env = dict(os.environ, CHUTE_MAX_DECODED_BYTES=str(CHILD_MAX_DECODED))
    try:
        r = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", args], capture_output=True, text=True,
                           timeout=timeout, env=env, check=False)
        out, err, code = r.stdout, r.stderr, r.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        code = "timeout"
    results = {}
    for line in out.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            results[r["case"]] = r
    return results, code, err[-3000:]


def run_cases(template: str, expected: str, work: str, seed: int, cases: list[int], jobs: int = 2, batch: int = 25,
              case_timeout: float = 30.0) -> list[dict]:
    """Runs `cases` in batches on `jobs` children; a batch that crashes or hangs is rerun case by
    case from its first unfinished case, so each crash or hang is pinned on one case."""
    batches = [cases[i:i + batch] for i in range(0, len(cases), batch)]

    def run_batch(k_b):
        k, b = k_b
        wdir = os.path.join(work, f"b{k}")
        results, code, _err = _child(template, expected, wdir, seed, b, case_timeout * len(b))
        if code == 0 and len(results) == len(b):
            return list(results.values())
        out = list(results.values())
        for cid in b:
            if cid in results:
                continue
            one, code1, err1 = _child(template, expected, os.path.join(wdir, f"solo{cid}"), seed, [cid], case_timeout)
            if cid in one and code1 == 0:
                out.append(one[cid])
                continue
            outcome = "hang" if code1 == "timeout" else "crash"
            detail = f"exit {code1}\n{err1}" if one.get(cid) is None else f"exit {code1} after the case\n{err1}"
            out.append({"case": cid, "seed": seed, "mutations": (one.get(cid) or {}).get("mutations", "?"),
                        "outcome": outcome, "failures": [["process", outcome, detail]]})
        return out

    results = []
    with ThreadPoolExecutor(jobs) as pool:
        for rs in pool.map(run_batch, enumerate(batches)):
            results.extend(rs)
    return sorted(results, key=lambda r: r["case"])


def prepare(work: str) -> tuple[str, str]:
    """Builds the template under `work` (in a child, so this process never loads the engine
    twice); returns the template path and the expected-values file."""
    template = os.path.join(work, "template")
    expected = os.path.join(work, "expected.json")
    code = (f"import sys, json; sys.path.insert(0, {HERE!r}); import fuzz_corruption as f; "
            f"json.dump(f.build_template({template!r}), open({expected!r}, 'w'))")
    subprocess.run([sys.executable, "-c", code], check=True)
    # The lock file belongs to the process that wrote the template.
    lock = os.path.join(template, ".chute_lock")
    if os.path.exists(lock):
        os.remove(lock)
    return template, expected


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--case", type=int, help="run this one case verbosely")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--batch", type=int, default=25)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child_main(json.loads(a.child))
        return
    work = tempfile.mkdtemp(prefix="chute-fuzz-")
    try:
        template, expected = prepare(work)
        if a.case is not None:
            os.environ["CHUTE_MAX_DECODED_BYTES"] = str(CHILD_MAX_DECODED)
            with open(expected) as fh:
                exp = json.load(fh)
            print(json.dumps(run_case(template, exp, os.path.join(work, "one"), a.seed, a.case, verbose=True), indent=1))
            return
        t0 = time.time()
        results = run_cases(template, expected, os.path.join(work, "runs"), a.seed, list(range(a.cases)), a.jobs, a.batch)
        counts = {}
        for r in results:
            counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
        print(f"{len(results)} cases, seed {a.seed}, {time.time() - t0:.0f} s")
        for k in (OK, CHUTE_ERROR) + FAILURES:
            print(f"  {k:18s} {counts.get(k, 0)}")
        by_step = {}
        for r in results:
            for s in set(r.get("errored_steps", [])):
                by_step[s] = by_step.get(s, 0) + 1
        print("cases with an error in each kind of step:", ", ".join(f"{k} {v}" for k, v in sorted(by_step.items())))
        by_type = {}
        for r in results:
            for t in r.get("error_types", []):
                by_type[t] = by_type.get(t, 0) + 1
        print("cases raising each error type:", ", ".join(f"{k} {v}" for k, v in sorted(by_type.items())))
        for r in results:
            if r["outcome"] in FAILURES:
                print(f"\n--- case {r['case']} (--seed {r['seed']} --case {r['case']}): {r['outcome']}")
                print("  mutations:", r["mutations"])
                for f in r["failures"]:
                    print(f"  {f[0]}: {f[2][:1500]}")
        sys.exit(1 if any(r["outcome"] in FAILURES for r in results) else 0)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
