"""One slice of an eval: run the pipeline on inputs [start, stop) and write the rows to segments.

The same code runs in the calling thread (serial), in a pool thread (threaded) and in a worker
process (processed). Each output tensor gets its own segment (`_core.Tensor.make_segment`, or
`_core.open_segment` in a process): samples are checked and converted in Python, then compressed
and chunked by the engine with the GIL released, and the chunks go straight to the tensor's
folder. Only the segments' descriptions go back to the parent, plus the values of class_label
tensors (small), which the parent appends in input order so that class names are numbered in
order of first appearance.
"""
from __future__ import annotations

import pickle
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chute import _core
from chute._internal.handle import tensor_core
from chute.dataset.tensor import SegmentWriter
from chute.errors import TensorMismatchError
from chute.transform.inputs import InputData
from chute.transform.samples import TransformDataset

Stage = tuple[Callable, tuple, dict]


@dataclass
class SliceJob:
    """What every slice of one eval shares (inherited by forked workers, pickled for spawned ones)."""

    stages: list[Stage]
    inputs: InputData
    root: str                    # ds_out's folder
    group: str                   # ds_out's group prefix ("" or "g/")
    out_names: list[str]         # ds_out's tensors, relative to the group
    specs: dict[str, str]        # tensor -> segment spec (JSON), for every output tensor
    parent_side: set[str]        # tensors whose values go back to the parent (class_label)
    skip_ok: bool
    ignore_errors: bool
    # an engine-only transform: output tensor -> chute.ops ops for its images, or None to copy it
    engine: dict[str, list | None] | None = None
    seed: int = 0
    creds: dict | None = None    # ds_out's creds when it is in an object store


@dataclass
class SliceError:
    index: int
    error: BaseException
    traceback: str
    fatal: bool = False  # not skippable (a mismatch between the transform and ds_out)


@dataclass
class SliceResult:
    start: int
    stop: int
    descs: dict[str, str] = field(default_factory=dict)        # tensor -> sealed segment description
    values: dict[str, list] = field(default_factory=dict)      # parent-side tensor -> [(input index, [values])]
    rows: int = 0
    produced: set[str] = field(default_factory=set)  # tensors some input appended to
    skipped: list[int] = field(default_factory=list)
    error: SliceError | None = None
    stopped: bool = False  # another slice failed first


def run_stages(stages: list[Stage], sample_in: Any) -> TransformDataset:
    """The pipeline on one input: stage k's rows are stage k+1's inputs. The last stage's output."""
    inputs = [sample_in]
    out = TransformDataset()
    for k, (stage, args, kwargs) in enumerate(stages):
        fn = stage.__chute_stage__() if hasattr(stage, "__chute_stage__") else stage
        out = TransformDataset()
        for item in inputs:
            fn(item, out, *args, **kwargs)
        if k + 1 < len(stages):
            inputs = out.rows()
    out.check_lengths()
    return out


def check_keys(out: TransformDataset, job: SliceJob) -> dict[str, list]:
    """The output's non-empty tensors, checked against ds_out's (TensorMismatchError)."""
    produced = {k: v for k, v in out.tensors.items() if v}
    if not produced:
        return produced
    unknown = sorted(set(produced) - set(job.out_names))
    if unknown:
        raise TensorMismatchError(
            f"the transform appended to {unknown}, which ds_out does not have (its tensors: {job.out_names})")
    missing = sorted(set(job.out_names) - set(produced))
    if missing and not job.skip_ok:
        raise TensorMismatchError(
            f"the transform's output has tensors {sorted(produced)} but ds_out has {job.out_names}; "
            f"missing {missing}. Pass skip_ok=True to leave those tensors out")
    return produced


def open_segments(job: SliceJob, make: Callable[[str], _core.Tensor]) -> dict[str, SegmentWriter]:
    return {name: SegmentWriter(make(name), name) for name in job.specs}


def run_slice(job: SliceJob, start: int, stop: int, writers: dict[str, SegmentWriter],
              cores: dict[str, _core.Tensor], should_stop: Callable[[int], bool],
              progress: Callable[[int], None]) -> SliceResult:
    """Runs inputs [start, stop). Stops at the first error (recorded in the result) unless
    `ignore_errors`, which skips the input and undoes whatever it had written; `should_stop(i)`
    says that another slice already failed before input i (so this one need not go on)."""
    if job.engine is not None:
        return run_engine_slice(job, start, stop, cores, should_stop, progress)
    result = SliceResult(start, stop)
    for i in range(start, stop):
        if should_stop(i):
            result.stopped = True
            break
        state = None
        try:
            out = run_stages(job.stages, job.inputs[i])
            produced = check_keys(out, job)
            # every value of the input converted (checked) before any is written
            converted = {k: [writers[k].convert(v, j) for j, v in enumerate(vals)] for k, vals in produced.items()}
            if job.ignore_errors:
                state = {k: cores[k].save_state() for k in produced if k not in job.parent_side}
            for k, items in converted.items():
                if k in job.parent_side:
                    continue
                for j, c in enumerate(items):
                    writers[k].write(c, j)
            for k in produced:
                if k in job.parent_side:
                    result.values.setdefault(k, []).append((i, produced[k]))
            result.rows += len(next(iter(produced.values()))) if produced else 0
            result.produced.update(produced)
        except Exception as e:  # the user's function, or a sample the tensor cannot take
            fatal = isinstance(e, TensorMismatchError)
            if job.ignore_errors and not fatal:
                for k, s in (state or {}).items():
                    cores[k].restore_state(s)
                result.skipped.append(i)
                progress(1)
                continue
            result.error = SliceError(i, e, traceback.format_exc(), fatal)
            break
        progress(1)
    if result.error is None and not result.stopped:
        for k, core in cores.items():
            if k not in job.parent_side:
                result.descs[k] = core.seal_segment()
    return result


ENGINE_BATCH = 64  # rows per engine call: the granularity of progress, stopping and error search


def run_engine_slice(job: SliceJob, start: int, stop: int, cores: dict[str, _core.Tensor],
                     should_stop: Callable[[int], bool], progress: Callable[[int], None]) -> SliceResult:
    """An engine-only transform's slice: batches of rows through `_core.copy_rows` (GIL released).
    A batch that fails is undone and redone row by row to find (or skip) the failing input."""
    result = SliceResult(start, stop)
    src = job.inputs.dataset
    assert src is not None and job.engine is not None
    columns = [(tensor_core(src[k]), cores[k], _specs(ops)) for k, ops in job.engine.items()]
    rows = job.inputs.rows
    for b in range(start, stop, ENGINE_BATCH):
        if should_stop(b):
            result.stopped = True
            return result
        e = min(stop, b + ENGINE_BATCH)
        state = {k: c.save_state() for k, c in cores.items()}
        try:
            _core.copy_rows(columns, rows[b:e], job.seed)
            result.rows += e - b
            result.produced.update(job.engine)
            progress(e - b)
            continue
        except Exception:
            for k, c in cores.items():
                c.restore_state(state[k])
        for i in range(b, e):
            state = {k: c.save_state() for k, c in cores.items()}
            try:
                _core.copy_rows(columns, rows[i:i + 1], job.seed)
                result.rows += 1
                result.produced.update(job.engine)
            except Exception as err:
                for k, c in cores.items():
                    c.restore_state(state[k])
                if not job.ignore_errors:
                    result.error = SliceError(i, err, traceback.format_exc())
                    return result
                result.skipped.append(i)
            progress(1)
    for k, core in cores.items():
        result.descs[k] = core.seal_segment()
    return result


def _specs(ops: list | None):
    return None if ops is None else [s for op in ops for s in op.specs()]


def picklable_error(err: SliceError) -> SliceError:
    """The error as it can cross a process boundary (an exception pickle cannot carry is described)."""
    try:
        pickle.loads(pickle.dumps(err.error))
        return err
    except Exception:
        return SliceError(err.index, RuntimeError(f"{type(err.error).__name__}: {err.error}"), err.traceback,
                          err.fatal)
