"""`scheduler="ray"` for `chute.compute(...).eval`: each slice of inputs is a Ray task that writes
its chunks into the dataset's folder (segments, as the processed scheduler's workers do) and returns
their description; the driver appends them in input order and publishes once, so the result and
the atomicity are the other schedulers'. A task whose worker dies is retried by Ray (its chunks from
the failed attempt are collected after the merge); a task that still fails is an error and nothing
is kept."""
from __future__ import annotations

from chute import _core
from chute.errors import TransformError, UnsupportedSchedulerError
from chute.remote import storage_options
from chute.transform import register_scheduler
from chute.transform.compute import pickled_by_value
from chute.transform.worker import SliceJob, SliceResult, open_segments, picklable_error, run_slice

TASK_RETRIES = 3


def ray_module():
    """The `ray` module; an error naming the extra to install when it is missing."""
    try:
        import ray
    except ImportError as e:
        raise UnsupportedSchedulerError(
            "this needs Ray, which is not installed: pip install chute[ray] (or pip install 'ray[data]')") from e
    return ray


def _slice_task(job: SliceJob, start: int, stop: int) -> SliceResult:
    segments = {name: _core.open_segment(job.root, spec, storage_options(job.root, job.creds)) for name, spec in job.specs.items()}
    r = run_slice(job, start, stop, open_segments(job, segments.__getitem__), segments, lambda i: False,
                  lambda n: None)
    if r.error is not None:
        r.error = picklable_error(r.error)
    return r


def _ray_scheduler(job: SliceJob, slices, num_workers: int, progress, cores) -> list[SliceResult]:
    ray = ray_module()
    task = ray.remote(num_cpus=1, max_retries=TASK_RETRIES)(_slice_task)
    with pickled_by_value():
        job_ref = ray.put(job)
    refs = [task.remote(job_ref, a, b) for a, b in slices]
    size = {ref: b - a for ref, (a, b) in zip(refs, slices)}
    pending = list(refs)
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=0.5)
            for ref in done:
                progress(size[ref])
        return ray.get(refs)
    except ray.exceptions.RayError as e:
        _cancel(ray, refs)
        raise TransformError(message=(
            f"a Ray task of the transform failed after {TASK_RETRIES} retries ({type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}); nothing was kept")) from e
    except BaseException:
        _cancel(ray, refs)  # Ctrl-C: the tasks stop; what they wrote is collected by the caller
        raise


def _cancel(ray, refs) -> None:
    for ref in refs:
        try:
            ray.cancel(ref, force=True)
        except Exception:  # already finished, or its worker is gone
            pass


register_scheduler("ray", _ray_scheduler, retries=True)
