"""eval: check the arguments, run the slices on a scheduler, append their rows to ds_out in input
order, publish. Atomic: on any error (a sample, a dead worker, Ctrl-C) every output tensor returns
to its state before the call (or its last checkpoint), and the chunks the workers wrote are
deleted; a crash of this process leaves the dataset at its last flush, and the next writable open
collects the chunks.
"""
from __future__ import annotations

import json
from typing import Any

from chute._internal.handle import dataset_handle, tensor_core
from chute._internal.progress import progress_bar
from chute.dataset import Dataset
from chute.dataset.tensor import extend_rows
from chute.errors import (
    AllSamplesSkippedError,
    InvalidInputDataError,
    InvalidOutputDatasetError,
    TensorMismatchError,
    TransformError,
    UnsupportedSchedulerError,
)
from chute.transform import schedulers
from chute.transform.inputs import InputData
from chute.transform.worker import SliceError, SliceJob, SliceResult, Stage

SLICES_PER_WORKER = 4


def _check_int(name: str, value, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _slices(start: int, stop: int, parts: int) -> list[tuple[int, int]]:
    """Contiguous slices, Deep Lake's split: ceil(n / parts) inputs each."""
    n = stop - start
    if n <= 0:
        return []
    size = -(-n // max(1, parts))
    return [(a, min(stop, a + size)) for a in range(start, stop, size)]


def _target(data_in: Any, ds_out: Any) -> Dataset:
    if ds_out is None:
        if not isinstance(data_in, Dataset):
            raise InvalidOutputDatasetError(
                f"ds_out=None transforms data_in in place, which needs data_in to be a chute dataset; it is a "
                f"{type(data_in).__name__}. Pass ds_out (e.g. chute.empty(path) or chute.like(path, source))")
        if not data_in.index.is_full:
            raise InvalidOutputDatasetError(
                "an in-place transform (ds_out=None) needs the whole dataset, not a view of some rows; pass a "
                "ds_out to write the view's rows to")
        return data_in
    if not isinstance(ds_out, Dataset):
        raise InvalidOutputDatasetError(f"ds_out must be a chute dataset, got {type(ds_out).__name__}")
    if not ds_out.index.is_full:
        raise InvalidOutputDatasetError("ds_out is a view of some rows; pass the dataset itself")
    return ds_out


def evaluate(stages: list[Stage], name: str, data_in: Any, ds_out: Any = None, num_workers: int = 0,
             scheduler: str = "threaded", progressbar: bool = True, skip_ok: bool = False,
             check_lengths: bool = True, pad_data_in: bool = False, read_only_ok: bool = False,
             cache_size: int = 16, checkpoint_interval: int = 0, ignore_errors: bool = False,
             engine: dict | None = None, seed: int = 0) -> None:
    num_workers = _check_int("num_workers", num_workers)
    checkpoint_interval = _check_int("checkpoint_interval", checkpoint_interval)
    _check_int("cache_size", cache_size)
    if not isinstance(scheduler, str) or schedulers.get(scheduler) is None:
        raise UnsupportedSchedulerError(
            f"scheduler {scheduler!r} is not supported; the known schedulers are {schedulers.schedulers()}")
    if num_workers == 0:
        scheduler = "serial"
    workers = max(1, num_workers)
    inputs = InputData(data_in, pad_data_in)
    target = _target(data_in, ds_out)
    in_place = ds_out is None
    if target.read_only:
        raise InvalidOutputDatasetError(
            f"ds_out ('{target.path}') is open read-only; load it with read_only=False to write the transform's "
            f"output")
    if checkpoint_interval:
        if in_place:
            raise ValueError("checkpoint_interval is not supported for in-place transforms (ds_out=None)")
        if checkpoint_interval % workers:
            raise ValueError(f"checkpoint_interval ({checkpoint_interval}) must be a multiple of num_workers "
                             f"({num_workers})")
    tensors = target.tensors
    if check_lengths and not in_place:
        lengths = {k: t.num_samples for k, t in tensors.items()}
        if len(set(lengths.values())) > 1:
            raise InvalidOutputDatasetError(
                f"ds_out's tensors have different lengths {lengths}; a transform appends rows to all of them. "
                f"Pass check_lengths=False to append anyway")
    handle = dataset_handle(target)
    handle.flush()  # what was appended before the call is published, whatever happens to the call
    if inputs.dataset is not None and not inputs.dataset.read_only:
        dataset_handle(inputs.dataset).flush()

    group = target.group_name + "/" if target.group_name else ""
    columns = _engine_columns(engine, inputs, tensors, skip_ok) if engine is not None else None
    if columns is not None:
        tensors = {k: t for k, t in tensors.items() if k in columns}
    cores = {k: tensor_core(t) for k, t in tensors.items()}
    job = SliceJob(
        stages=stages, inputs=inputs, root=target.path, group=group, out_names=sorted(tensors),
        specs={k: c.segment_spec() for k, c in cores.items()},
        parent_side=set() if columns is not None else {k for k, t in tensors.items() if t.htype == "class_label"},
        skip_ok=skip_ok, ignore_errors=ignore_errors, engine=columns, seed=seed, creds=handle.creds)
    run = schedulers.get(scheduler)
    total = len(inputs)
    window = checkpoint_interval or max(total, 1)
    states = {k: c.save_state() for k, c in cores.items()}
    done = 0  # inputs in published checkpoints
    skipped: list[int] = []
    bar = progress_bar(total, f"Evaluating {name}", disable=not progressbar)
    checkpoints = 0
    try:
        for start in range(0, total, window):
            stop = min(total, start + window)
            if checkpoint_interval:
                # Deep Lake's checkpoints: a commit before every window (the first too), so a failed
                # run goes back to the last one; the last window stays uncommitted.
                handle.core.commit(f"Auto-commit during chute.compute of {name} after "
                                   f"{round(100 * start / max(total, 1), 2)}% progress", True, True, start)
                checkpoints += 1
                # the head moved: the new head's tensors, and segments that write into its folder
                tensors = {k: t for k, t in target.tensors.items() if k in tensors}
                cores = {k: tensor_core(t) for k, t in tensors.items()}
                job.specs = {k: c.segment_spec() for k, c in cores.items()}
            # a few slices per worker, handed out in order as workers free up: uneven inputs do not
            # leave one worker finishing alone (the merge joins the slices' partial chunks)
            parts = 1 if scheduler == "serial" else workers * SLICES_PER_WORKER
            results = run(job, _slices(start, stop, parts), workers, bar.update, cores)
            error = _first_error(results)
            if error is not None:
                raise _transform_error(error, inputs, done, ignore_errors)
            for r in results:
                skipped.extend(r.skipped)
            if ignore_errors and len(skipped) == stop and total > 0 and stop == total:
                raise AllSamplesSkippedError(
                    f"every one of the {total} inputs failed and was skipped (ignore_errors=True); nothing was "
                    f"written. Run with ignore_errors=False to see the first error")
            if in_place and start == 0:
                # the rows are replaced; with skip_ok a tensor no input wrote to keeps its rows
                written = set().union(*(r.produced for r in results)) if skip_ok else set(tensors)
                for k in tensors:
                    if k in written:
                        cores[k].clear()
            _append_results(results, tensors, cores, job, inputs)
            handle.flush()
            states = {k: c.save_state() for k, c in cores.items()}
            done = stop
    except BaseException:
        if checkpoints:
            handle.core.reset(True)  # back to the last checkpoint commit, as Deep Lake does
        else:
            for k, c in cores.items():
                c.restore_state(states[k])
            handle.core.collect_orphans()
        raise
    finally:
        bar.close()
    if schedulers.retries(scheduler):
        handle.core.collect_orphans()  # chunks of attempts that died and were rerun
    if ignore_errors:
        print(f"No. of samples successfully processed: {total - len(skipped)} ({100 * (total - len(skipped)) / max(total, 1):.1f}%)")
        print(f"No. of samples skipped: {len(skipped)} ({100 * len(skipped) / max(total, 1):.1f}%)")
        if skipped:
            print(f"Skipped input indices: {skipped[:50]}{' ...' if len(skipped) > 50 else ''}")


def _engine_columns(engine: dict, inputs: InputData, tensors: dict, skip_ok: bool) -> dict:
    """ds_out tensor -> the ops its images go through, or None to copy data_in's tensor of that name."""
    src = inputs.dataset
    if src is None:
        raise InvalidInputDataError("an engine transform (chute.compute({tensor: ops})) reads a chute dataset; "
                                    "data_in is not one. Use a @chute.compute function for other inputs")
    have = src.tensors
    for k in engine:
        if k not in tensors:
            raise TensorMismatchError(f"the engine transform has ops for '{k}', which ds_out does not have "
                                      f"(its tensors: {sorted(tensors)})")
        if k not in have:
            raise TensorMismatchError(f"the engine transform has ops for '{k}', which data_in does not have "
                                      f"(its tensors: {sorted(have)})")
    columns: dict = {}
    for k, t in tensors.items():
        if k in engine:
            columns[k] = engine[k]
        elif k in have:
            columns[k] = None
            if t.htype == "class_label":
                _take_class_names(have[k], t)
        elif not skip_ok:
            raise TensorMismatchError(f"ds_out's tensor '{k}' has no ops and data_in has no tensor of that name to "
                                      f"copy; pass skip_ok=True to leave it out")
    return columns


def _take_class_names(src, dst) -> None:
    """A copied class_label keeps its numbers: ds_out needs the same class names (or none yet)."""
    names = list(src.info.class_names) if "class_names" in src.info else []
    have = list(dst.info.class_names) if "class_names" in dst.info else []
    if have == names or not names:
        return
    if have and have != names[:len(have)]:
        raise TensorMismatchError(f"tensor '{dst.key}': ds_out's class_names {have[:10]} differ from data_in's "
                                  f"{names[:10]}; a copied label would change meaning")
    tensor_core(dst).set_info_json(json.dumps({**json.loads(tensor_core(dst).info_json()), "class_names": names}))


def _first_error(results: list[SliceResult]) -> SliceError | None:
    errors = [r.error for r in results if r.error is not None]
    return min(errors, key=lambda e: e.index) if errors else None


def _transform_error(err: SliceError, inputs: InputData, done: int, ignore_errors: bool) -> BaseException:
    if err.fatal:
        return err.error
    try:
        sample = inputs[err.index]
    except Exception:  # the input itself cannot be read: the error says so
        sample = None
    e = TransformError(err.index, sample, samples_processed=done, suggest=not ignore_errors)
    e.args = (f"{e.args[0]}\n--- traceback in the worker ---\n{err.traceback.rstrip()}",)
    e.__cause__ = err.error
    return e


def _append_results(results: list[SliceResult], tensors: dict, cores: dict, job: SliceJob, inputs: InputData) -> None:
    """The slices' rows, in input order: segments by reference, class labels through the tensor
    (so new class names are numbered in order of first appearance)."""
    for k, core in cores.items():
        if k in job.parent_side:
            one = {k: tensors[k]}
            for r in results:
                for index, values in r.values.get(k, []):
                    try:
                        extend_rows(one, {k: values})
                    except Exception as e:
                        raise TransformError(index, inputs[index], suggest=False) from e
        else:
            for r in results:
                if k in r.descs:
                    core.append_segment(r.descs[k])

