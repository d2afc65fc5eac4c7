"""Schedulers: how the slices of an eval run. `serial` in the calling thread, `threaded` on a pool
of threads (the engine's compression and writes release the GIL), `processed` on worker processes
that write their chunks straight to the dataset's folder. `register_scheduler` adds one (the Ray
scheduler plugs in here).

A scheduler is `run(job, slices, num_workers, progress, cores) -> list[SliceResult]`, results in the
order of `slices`. When a slice fails at input i, slices stop at their first input past i and go on
before it, so the error reported is always the lowest failing input, whichever worker was first.
"""
from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from chute import _core
from chute.errors import TransformError
from chute.remote import storage_options
from chute.transform.worker import SliceJob, SliceResult, open_segments, picklable_error, run_slice

Slices = list[tuple[int, int]]
_NO_FAILURE = 2**62
Progress = Callable[[int], None]
Scheduler = Callable[[SliceJob, Slices, int, Progress, dict], list[SliceResult]]

_SCHEDULERS: dict[str, Scheduler] = {}
_RETRYING: set[str] = set()


def register_scheduler(name: str, run: Scheduler, retries: bool = False) -> None:
    """Makes `scheduler=name` run slices with `run(job, slices, num_workers, progress, cores)`;
    `cores` maps each output tensor to its engine tensor in this process (for in-process segments).
    `retries`: the scheduler may rerun a slice whose worker died, so a successful eval collects the
    chunks a failed attempt left (as a failed eval always does)."""
    _SCHEDULERS[name] = run
    if retries:
        _RETRYING.add(name)
    else:
        _RETRYING.discard(name)


def retries(name: str) -> bool:
    return name in _RETRYING


def schedulers() -> list[str]:
    return sorted(_SCHEDULERS)


def get(name: str) -> Scheduler | None:
    return _SCHEDULERS.get(name)


def _in_process(job: SliceJob, start: int, stop: int, cores: dict, should_stop, progress) -> SliceResult:
    segments = {name: cores[name].make_segment() for name in job.specs}
    return run_slice(job, start, stop, open_segments(job, segments.__getitem__), segments, should_stop, progress)


def _serial(job: SliceJob, slices: Slices, num_workers: int, progress: Progress, cores: dict) -> list[SliceResult]:
    out = []
    for start, stop in slices:
        r = _in_process(job, start, stop, cores, lambda i: False, progress)
        out.append(r)
        if r.error is not None:
            break
    return out


def _threaded(job: SliceJob, slices: Slices, num_workers: int, progress: Progress, cores: dict) -> list[SliceResult]:
    failed_at = [_NO_FAILURE]  # the lowest failing input so far: slices past it stop, earlier ones go on
    lock = threading.Lock()

    def tick(n: int) -> None:
        with lock:
            progress(n)

    def one(start: int, stop: int) -> SliceResult:
        r = _in_process(job, start, stop, cores, lambda i: i > failed_at[0], tick)
        if r.error is not None:
            with lock:
                failed_at[0] = min(failed_at[0], r.error.index)
        return r

    with ThreadPoolExecutor(max_workers=max(1, num_workers), thread_name_prefix="chute-compute") as pool:
        futures = [pool.submit(one, a, b) for a, b in slices]
        return [f.result() for f in futures]


# ---- processed ----
# A forked worker inherits the job (no pickling, so closures and lambdas work, as with Deep Lake's
# pathos pool); where fork is unavailable, or CHUTE_MP_START_METHOD says so, the job is pickled.
_worker_job: SliceJob | None = None
_worker_counter = None
_worker_failed = None


def _start_method() -> str:
    want = os.environ.get("CHUTE_MP_START_METHOD")
    if want:
        return want
    return "fork" if "fork" in mp.get_all_start_methods() else "spawn"


def _find_prctl():
    """prctl, looked up once at import in the parent: a dlopen inside a child forked from a
    multi-threaded parent can block forever on the loader's lock."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # no prctl: a worker ends when its next read finds no parent
        return None


_PRCTL = _find_prctl()


def _die_with_parent() -> None:
    """Linux: the kernel kills this worker when its parent dies, so that a killed eval leaves no
    worker writing chunks behind it (the next writable open collects what they wrote)."""
    if _PRCTL is None:
        return
    parent = os.getppid()
    _PRCTL(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the call
        os._exit(1)


def _init_worker(job: SliceJob, counter, failed) -> None:
    global _worker_job, _worker_counter, _worker_failed
    _die_with_parent()
    _worker_job = job.__class__(**{**job.__dict__, "inputs": job.inputs.open_in_worker()})
    _worker_counter = counter
    _worker_failed = failed


def _run_in_worker(start: int, stop: int) -> SliceResult:
    job = _worker_job
    assert job is not None
    segments = {name: _core.open_segment(job.root, spec, storage_options(job.root, job.creds)) for name, spec in job.specs.items()}

    def tick(n: int) -> None:
        with _worker_counter.get_lock():
            _worker_counter.value += n

    def past_failure(i: int) -> bool:
        return i > _worker_failed.value

    r = run_slice(job, start, stop, open_segments(job, segments.__getitem__), segments, past_failure, tick)
    if r.error is not None:
        with _worker_failed.get_lock():
            _worker_failed.value = min(_worker_failed.value, r.error.index)
        r.error = picklable_error(r.error)
    return r


def check_picklable(job: SliceJob) -> None:
    """For a spawned worker: the pipeline must pickle. The error names the function."""
    for fn, args, kwargs in job.stages:
        try:
            pickle.dumps((fn, args, kwargs))
        except Exception as e:
            name = getattr(fn, "__qualname__", repr(fn))
            raise TransformError(message=(
                f"the compute function {name} (or its arguments) cannot be pickled for scheduler='processed' "
                f"with the '{_start_method()}' start method ({type(e).__name__}: {e}); define it at module level, "
                f"or use scheduler='threaded'")) from e


def _processed(job: SliceJob, slices: Slices, num_workers: int, progress: Progress, cores: dict) -> list[SliceResult]:
    method = _start_method()
    if method != "fork":
        check_picklable(job)
    ctx = mp.get_context(method)
    counter = ctx.Value("q", 0)
    failed = ctx.Value("q", _NO_FAILURE)  # the lowest failing input so far
    seen = 0
    with ProcessPoolExecutor(max_workers=max(1, num_workers), mp_context=ctx, initializer=_init_worker,
                             initargs=(job, counter, failed)) as pool:
        try:
            futures = [pool.submit(_run_in_worker, a, b) for a, b in slices]
            pending = set(futures)
            while pending:
                _done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                now = counter.value
                if now > seen:
                    progress(now - seen)
                    seen = now
            return [f.result() for f in futures]
        except BrokenProcessPool as e:
            failed.value = -1
            raise TransformError(message=(
                "a worker process of scheduler='processed' died while running the transform (killed, out of "
                "memory, or os._exit in the function); nothing it wrote was kept")) from e
        except BaseException:
            failed.value = -1  # Ctrl-C: the workers stop at their next input
            raise


register_scheduler("serial", _serial)
register_scheduler("threaded", _threaded)
register_scheduler("processed", _processed)
