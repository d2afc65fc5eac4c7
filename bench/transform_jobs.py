"""The work of bench_transform.py that runs in its child processes: the three jobs (the same
functions under chute, under Deep Lake 3.9.52 and in the multiprocessing.Pool workers), the checks of
their outputs, and the child entry point

    python bench/transform_jobs.py --row '{"row": ..., "kind": ..., ...}'

which runs one row once and prints '#timed-start' / '#timed-end' around the timed call (the parent
samples memory in between) and '#result {json}' at the end.

This module must import in the Deep Lake oracle venv too (the deeplake rows run it there with its
python), so at module level it imports only the standard library, numpy, Pillow and `common`; chute or
deeplake is imported by the row that uses it.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import random
import resource
import sys
import time

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402

RESIZE = 224
JPEG_QUALITY = 75  # chute's, Deep Lake's and Pillow's default: every JPEG writer here uses the same
# Mean absolute pixel difference allowed after a JPEG q75 re-encode of these noisy synthetic images
# (measured: 2.3-7 for the same pixels re-encoded). A wrong answer is checked separately.
TOL = 10.0
# Image.draft decodes at a reduced DCT scale before the resize, so its output strays further from the
# full-decode reference (measured up to 10.55 on one of 5,000 images); it is a baseline, not chute.
TOL_DRAFT = 14.0


# ---------------------------------------------------------------------------------------------
# The jobs. The same functions run under chute, under deeplake (this file in the oracle venv) and
# in the Pool workers, so every side does the same work.
# ---------------------------------------------------------------------------------------------
def flip_vertical(sample_in, sample_out):
    """The seed's function, verbatim."""
    sample_out.append({"labels": sample_in.labels.numpy(), "images": np.flip(sample_in.images.numpy(), axis=0)})
    return sample_out


def cpu_work(i: int, iters: int):
    """Pure-Python arithmetic (~2 ms per call at 10,000 iterations on the dev machine); holds the GIL."""
    h, s = i + 1, 0
    for k in range(iters):
        h = (h * 1103515245 + 12345) & 0x7FFFFFFF
        s += (h >> 16) ^ k
    return np.array([h, s, i], dtype=np.int64)


def cpu_job(sample_in, samples_out, iters):
    samples_out.out.append(cpu_work(int(sample_in), iters))


def pil_resize(a, size: int):
    return np.asarray(Image.fromarray(a).resize((size, size), Image.BILINEAR))


def resize_job(sample_in, samples_out, size):
    """The seed's resize stage (Pillow), at size x size."""
    samples_out.labels.append(sample_in.labels.numpy())
    samples_out.images.append(pil_resize(sample_in.images.numpy(), size))


def _decode_file(path: str, draft: int = 0):
    with Image.open(path) as im:
        if draft:
            im.draft("RGB", (draft, draft))  # DCT-domain downscale while decoding (>= draft on both sides)
        return np.asarray(im.convert("RGB"))


def _save_jpeg(a, path: str) -> None:
    Image.fromarray(np.ascontiguousarray(a)).save(path, "JPEG", quality=JPEG_QUALITY)


def pool_flip_npy(task) -> None:
    i, path, out = task
    # ascontiguousarray: np.save of the negative-stride view np.flip returns takes ~7 ms per image
    # here (numpy's buffered nditer path) against ~0.5 ms for a contiguous copy; the baseline gets
    # the fast one.
    np.save(os.path.join(out, f"{i:06d}.npy"), np.ascontiguousarray(np.flip(_decode_file(path), axis=0)))


def pool_flip_jpeg(task) -> None:
    i, path, out = task
    _save_jpeg(np.flip(_decode_file(path), axis=0), os.path.join(out, f"{i:06d}.jpg"))


def pool_resize_jpeg(task) -> None:
    i, path, out, size, draft = task
    _save_jpeg(pil_resize(_decode_file(path, size if draft else 0), size), os.path.join(out, f"{i:06d}.jpg"))


def pool_cpu(task):
    return cpu_work(*task)


# ---------------------------------------------------------------------------------------------
# The engine-only transform (issue 9): a compute of chute.ops per tensor runs decode -> ops ->
# encode -> write on the engine's threads, no Python per sample; other tensors are copied, and the
# images are re-encoded as ds_out stores them (JPEG q75: ds_out is made with chute.like).
# ---------------------------------------------------------------------------------------------
def engine_api_available(chute) -> bool:
    try:
        chute.compute({"images": [chute.ops.Resize(8)]}, seed=0)
    except Exception:  # an older chute: compute takes functions only
        return False
    return True


def engine_resize_eval(chute, src, out, size: int, num_workers: int, scheduler: str) -> None:
    chute.compute({"images": [chute.ops.Resize(size)]}, seed=0).eval(src, out, num_workers=num_workers,
                                                                     scheduler=scheduler, progressbar=False)


def engine_reference(chute, src, i: int, size: int):
    """Row i as the loader's Resize gives it: the engine's own resize (plain bilinear, no antialiasing,
    so up to ~21 mean |diff| from Pillow's antialiased BILINEAR on these noisy images), decoded the
    same way; the engine row's output must equal it within JPEG tolerance."""
    loader = src[i:i + 1].dataloader().batch(1).transform({"images": chute.ops.Resize(size), "labels": None})
    return next(iter(loader.numpy()))["images"][0]


# ---------------------------------------------------------------------------------------------
# Verification (runs in the child after each timed run; works on chute and deeplake datasets alike)
# ---------------------------------------------------------------------------------------------
def probe_indices(n: int) -> list[int]:
    return sorted({0, n // 2, n - 1} | set(random.Random(1).sample(range(n), min(5, n)))) if n else []


def _mad(a, b) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def check_images(n_out: int, n: int, get_src, get_out, expect, tol: float, wrong=None) -> dict:
    """Probed outputs equal expect(source) within tol (mean absolute difference), with the expected
    shape; with `wrong`, each output is also closer to the expected image than to wrong(source)."""
    errs = [] if n_out == n else [f"{n_out} outputs for {n} inputs"]
    worst = 0.0
    probe = probe_indices(min(n, n_out))
    for i in probe:
        a, b = get_src(i), get_out(i)
        want = expect(a)
        if b.shape != want.shape:
            errs.append(f"output {i}: shape {b.shape}, expected {want.shape}")
            continue
        d = _mad(b, want)
        worst = max(worst, d)
        if d > tol:
            errs.append(f"output {i}: mean |diff| {d:.2f} > {tol} from the expected image")
        if wrong is not None and d >= _mad(b, wrong(a)):
            errs.append(f"output {i}: not closer to the expected image than to the untransformed one")
    return {"len": n_out, "probed": probe, "max_mean_abs_diff": round(worst, 2), "ok": not errs, "errors": errs}


def check_labels(src, out) -> list[str]:
    errs = []
    a, b = np.asarray(src.labels.numpy()).reshape(-1), np.asarray(out.labels.numpy()).reshape(-1)
    if len(b) != len(a) or not np.array_equal(a, b):
        errs.append(f"labels differ from the input's ({len(b)} vs {len(a)} values)")
    if list(out.labels.info.class_names) != list(src.labels.info.class_names):
        errs.append("class_names differ from the input's")
    return errs


def check_cpu(values, n: int, iters: int) -> dict:
    """All rows in input order (third column == index); a probe recomputed in full."""
    v = np.asarray(values)
    errs = [] if v.shape == (n, 3) else [f"output shape {v.shape}, expected {(n, 3)}"]
    if not errs:
        if not np.array_equal(v[:, 2], np.arange(n)):
            errs.append("rows are not in input order")
        for i in probe_indices(n):
            if not np.array_equal(v[i], cpu_work(i, iters)):
                errs.append(f"output {i} is {v[i].tolist()}, expected {cpu_work(i, iters).tolist()}")
    return {"len": int(v.shape[0]) if v.ndim else 0, "ok": not errs, "errors": errs}


# ---------------------------------------------------------------------------------------------
# The child: one row, one run. Prints '#timed-start' / '#timed-end' around the timed call (the
# parent samples memory in between) and '#result {json}' at the end.
# ---------------------------------------------------------------------------------------------
def _timed(fn) -> float:
    C.settle()
    print("#timed-start", flush=True)
    t0 = time.perf_counter()
    fn()
    dt = time.perf_counter() - t0
    print("#timed-end", flush=True)
    return dt


def _fsync_seconds(dest: str) -> float:
    t0 = time.perf_counter()
    C.fsync_tree(dest)
    return time.perf_counter() - t0


def _child_dataset(lib, spec: dict) -> dict:
    """A chute or deeplake row: the libraries share the API this uses."""
    job, dest, w = spec["job"], spec["dest"], spec["workers"]
    sched = spec["scheduler"] if w else "serial"
    kw = {"num_workers": w, "scheduler": sched, "progressbar": False}
    if job == "cpu":
        n, iters = spec["n"], spec["iters"]
        out = lib.empty(dest, overwrite=True)
        out.create_tensor("out", htype="generic", dtype="int64")
        fn = lib.compute(cpu_job)
        secs = _timed(lambda: fn(iters).eval(list(range(n)), out, **kw))
    else:
        src = lib.load(spec["src"], read_only=True)
        n = len(src)
        out = lib.like(dest, src, overwrite=True)
        if spec.get("engine"):
            secs = _timed(lambda: engine_resize_eval(lib, src, out, spec["size"], w, sched))
        elif job == "flip":
            fn = lib.compute(flip_vertical)
            secs = _timed(lambda: fn().eval(src, out, **kw))
        else:
            fn = lib.compute(resize_job)
            secs = _timed(lambda: fn(spec["size"]).eval(src, out, **kw))
    fsync_s = _fsync_seconds(dest)
    out = None  # closes chute's handle (and its write lock) before the read-only reload
    res = lib.load(dest, read_only=True)
    if job == "cpu":
        verify = check_cpu(res.out.numpy(), n, iters)
    else:
        if spec.get("engine"):
            verify = check_images(len(res), n, lambda i: engine_reference(lib, src, i, spec["size"]),
                                  lambda i: res.images[i].numpy(), lambda a: a, spec["tol"])
        elif job == "flip":
            verify = check_images(len(res), n, lambda i: src.images[i].numpy(), lambda i: res.images[i].numpy(),
                                  lambda a: np.flip(a, axis=0), spec["tol"], wrong=lambda a: a)
        else:
            verify = check_images(len(res), n, lambda i: src.images[i].numpy(), lambda i: res.images[i].numpy(),
                                  lambda a: pil_resize(a, spec["size"]), spec["tol"])
        verify["errors"] += check_labels(src, res)
        verify["ok"] = not verify["errors"]
    return {"seconds": secs, "seconds_fsync": secs + fsync_s, "n": n, "verify": verify,
            "version": getattr(lib, "__version__", None)}


def _files_and_labels(folder: str) -> tuple[list[str], list[int]]:
    """The source files, sorted, and each one's class index (its folder among the sorted folders)."""
    files = C.source_files(folder)
    classes = sorted({os.path.basename(os.path.dirname(p)) for p in files})
    index = {c: k for k, c in enumerate(classes)}
    return files, [index[os.path.basename(os.path.dirname(p))] for p in files]


def _child_pool(spec: dict) -> dict:
    """multiprocessing.Pool(workers) rows (pool created inside the timed region, as the executors'
    workers are), and the plain serial loop of the cpu job."""
    job, dest, w, kind = spec["job"], spec["dest"], spec["workers"], spec["kind"]
    C.remove(dest)
    os.makedirs(dest)
    if job == "cpu":
        n, iters = spec["n"], spec["iters"]
        tasks = [(i, iters) for i in range(n)]

        def run():
            if kind == "loop":
                rows = [cpu_work(i, iters) for i in range(n)]
            else:
                with multiprocessing.Pool(w) as pool:
                    rows = pool.map(pool_cpu, tasks, chunksize=16)
            np.save(os.path.join(dest, "out.npy"), np.stack(rows))

        secs = _timed(run)
        fsync_s = _fsync_seconds(dest)
        verify = check_cpu(np.load(os.path.join(dest, "out.npy")), n, iters)
        return {"seconds": secs, "seconds_fsync": secs + fsync_s, "n": n, "verify": verify}

    files, labels = _files_and_labels(spec["src"])
    n = len(files)
    if job == "flip":
        worker = pool_flip_npy if kind == "npy" else pool_flip_jpeg
        tasks = [(i, p, dest) for i, p in enumerate(files)]
    else:
        worker = pool_resize_jpeg
        tasks = [(i, p, dest, spec["size"], kind == "draft") for i, p in enumerate(files)]

    def run():
        with multiprocessing.Pool(w) as pool:
            pool.map(worker, tasks, chunksize=16)
        np.save(os.path.join(dest, "labels.npy"), np.asarray(labels, dtype=np.uint32))

    secs = _timed(run)
    fsync_s = _fsync_seconds(dest)
    outs = sorted(f for f in os.listdir(dest) if f != "labels.npy")
    ext = ".npy" if kind == "npy" else ".jpg"

    def get_out(i):
        p = os.path.join(dest, f"{i:06d}{ext}")
        return np.load(p) if ext == ".npy" else _decode_file(p)

    if job == "flip":
        tol = 0.0 if kind == "npy" else spec["tol"]  # .npy holds the exact flipped pixels
        verify = check_images(len(outs), n, lambda i: _decode_file(files[i]), get_out,
                              lambda a: np.flip(a, axis=0), tol, wrong=lambda a: a)
    else:
        verify = check_images(len(outs), n, lambda i: _decode_file(files[i]), get_out,
                              lambda a: pil_resize(a, spec["size"]), spec["tol"])
    return {"seconds": secs, "seconds_fsync": secs + fsync_s, "n": n, "verify": verify}


def _child_deeplake_ingest(spec: dict) -> dict:
    import deeplake

    ds = deeplake.ingest_classification(spec["src"], spec["dest"], image_params={"sample_compression": "jpeg"},
                                        progressbar=False, summary=False, overwrite=True)
    return {"len": len(ds), "version": deeplake.__version__}


def child_main(spec: dict) -> None:
    kind = spec["kind"]
    if kind == "chute":
        import chute

        out = _child_dataset(chute, spec)
    elif kind == "deeplake":
        import deeplake

        out = _child_dataset(deeplake, spec)
    elif kind == "deeplake_ingest":
        out = _child_deeplake_ingest(spec)
    else:
        out = _child_pool(spec)
    ru_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ru_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    out["maxrss_self_MB"], out["maxrss_largest_child_MB"] = round(ru_self, 1), round(ru_children, 1)
    if spec.get("keep") is False and spec.get("dest"):
        C.remove(spec["dest"])
    print("#result " + json.dumps(out), flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "--row":
        sys.exit("usage: transform_jobs.py --row JSON (run by bench_transform.py)")
    child_main(json.loads(sys.argv[2]))
