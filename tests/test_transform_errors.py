"""chute.compute on bad input (issue 9's list): each gets a clear error, nothing hangs, and ds_out
reads exactly as before the call. And the promises beyond Deep Lake 3: TransformError names the
input (index, sample, original exception, worker traceback), completed checkpoints are kept, and the
result is the same for every scheduler and number of workers.

The compute functions are at module level so that the processed scheduler can pickle them (and a
child interpreter can import them by this module's name)."""
from __future__ import annotations

import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import chute
from chute.util.exceptions import (
    AllSamplesSkippedError,
    InvalidInputDataError,
    InvalidOutputDatasetError,
    InvalidTransformDataset,
    TensorMismatchError,
    TransformError,
    UnsupportedSchedulerError,
)

SCHEDULERS = ["serial", "threaded", "processed"]
TESTS = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def no_hang():
    """A call that hangs fails the test after 120 s instead of stalling the suite."""
    def fail(signum, frame):
        pytest.fail("the transform hung (no result after 120 s)")

    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(120)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


# ---- compute functions ----

def row(i) -> dict:
    return {"x": np.array([i, 10 * i], dtype=np.int32), "t": f"row {i}"}


@chute.compute
def put(i, samples_out):
    samples_out.append(row(i))


@chute.compute
def put_x_only(i, samples_out):
    samples_out.x.append(row(i)["x"])


@chute.compute
def put_from_row(r, samples_out):
    i = int(r.x.numpy()[0])
    samples_out.append(row(i))


@chute.compute
def put_extra_key(i, samples_out):
    samples_out.append({**row(i), "nope": np.int32(i)})


@chute.compute
def put_to_missing_tensor(i, samples_out):
    samples_out.x.append(row(i)["x"])
    samples_out.t.append(row(i)["t"])
    samples_out.nope.append(np.int32(i))


@chute.compute
def put_float_at(i, samples_out, at):
    r = row(i)
    if i == at:
        r["x"] = np.array([0.5, 1.5])  # float64 into an int32 tensor: values would be lost
    samples_out.append(r)


@chute.compute
def put_bad_shape_at(i, samples_out, at):
    r = row(i)
    if i == at:
        r["x"] = np.zeros((2, 2), dtype=np.int32)  # the tensor holds 1-D samples
    samples_out.append(r)


@chute.compute
def put_unequal(i, samples_out):
    samples_out.x.append(row(i)["x"])
    samples_out.x.append(row(i)["x"])
    samples_out.t.append(row(i)["t"])


@chute.compute
def fail_on(i, samples_out, bad):
    if i in bad:
        raise ValueError(f"bad sample {i}")
    samples_out.append(row(i))


@chute.compute
def double_in_place(sample_in, samples_out, bad):
    x = sample_in.x.numpy()
    if int(x[0]) in bad:
        raise ValueError(f"bad row {x.tolist()}")
    samples_out.x.append(x * 2)
    samples_out.t.append(sample_in.t.data()["value"] + "!")


@chute.compute
def die(i, samples_out, how, at):
    if i == at:
        if how == "exit":
            os._exit(1)
        os.kill(os.getpid(), signal.SIGKILL)
    samples_out.append(row(i))


@chute.compute
def scale_by(i, samples_out, fn):
    samples_out.append(row(fn(i)))


FAN = (0, 1, 3)  # input i gives FAN[i % 3] rows


@chute.compute
def fan_out(i, samples_out):
    for k in range(FAN[i % 3]):
        samples_out.x.append(np.array([i, k], dtype=np.int32))


@chute.compute
def shift_and_label(r, samples_out, by):
    x = r.x.numpy()
    samples_out.x.append(x + by)
    samples_out.labels.append(f"c{(int(x[0]) * 7 + int(x[1])) % 5}")


# ---- datasets ----

def make_out(path: Path, n: int = 3) -> chute.Dataset:
    """ds_out with tensors x (int32 pairs) and t (text), and n rows already in it."""
    ds = chute.empty(path)
    ds.create_tensor("x", dtype="int32")
    ds.create_tensor("t", htype="text")
    with ds:
        for k in range(n):
            ds.append({"x": np.array([100 + k, 200 + k], dtype=np.int32), "t": f"old {k}"})
    return ds


def contents(ds: chute.Dataset) -> dict:
    """Every tensor's length and values, as plain Python."""
    return {name: (len(t), [a.tolist() for a in t.numpy(aslist=True)] if t.htype != "text" else t.data()["value"])
            for name, t in ds.tensors.items()}


OLD = {"x": (3, [[100, 200], [101, 201], [102, 202]]), "t": (3, ["old 0", "old 1", "old 2"])}


def expect_rows(indices) -> dict:
    xs = OLD["x"][1] + [[i, 10 * i] for i in indices]
    ts = OLD["t"][1] + [f"row {i}" for i in indices]
    return {"x": (len(xs), xs), "t": (len(ts), ts)}


def chunk_files(path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in Path(path).glob("*/chunks/*"))


CHUNKS_BEFORE: dict[str, list[str]] = {}


def assert_unchanged(ds: chute.Dataset) -> None:
    """Same length and values, in this handle and on disk, and no chunk left behind by the call."""
    assert contents(ds) == OLD
    assert contents(chute.load(ds.path, read_only=True)) == OLD
    assert chunk_files(ds.path) == CHUNKS_BEFORE[ds.path]


@pytest.fixture
def ds_out(tmp_path):
    ds = make_out(tmp_path / "out")
    assert contents(ds) == OLD
    CHUNKS_BEFORE[ds.path] = chunk_files(ds.path)
    yield ds
    CHUNKS_BEFORE.pop(ds.path, None)


def error_text(e: BaseException) -> str:
    """The message of an error and of its causes."""
    parts = []
    while e is not None:
        parts.append(str(e))
        e = e.__cause__
    return "\n".join(parts)


# ---- output keys, dtypes, shapes ----

@pytest.mark.parametrize("scheduler", ["serial", "threaded"])
def test_missing_output_key_is_a_tensor_mismatch_and_skip_ok_allows_a_subset(ds_out, scheduler):
    with pytest.raises(TensorMismatchError) as e:
        put_x_only().eval(list(range(6)), ds_out, num_workers=2, scheduler=scheduler, progressbar=False)
    assert "t" in str(e.value)
    assert isinstance(e.value, TransformError)  # Deep Lake 3's hierarchy
    assert_unchanged(ds_out)

    put_x_only().eval(list(range(6)), ds_out, num_workers=2, scheduler=scheduler, progressbar=False, skip_ok=True)
    assert contents(ds_out) == {"x": expect_rows(range(6))["x"], "t": OLD["t"]}


def test_extra_output_key_is_a_tensor_mismatch_even_with_skip_ok(ds_out):
    for skip_ok in (False, True):
        with pytest.raises(TensorMismatchError, match="nope"):
            put_extra_key().eval(list(range(6)), ds_out, num_workers=2, skip_ok=skip_ok, progressbar=False)
        assert_unchanged(ds_out)


def test_append_to_an_output_tensor_that_does_not_exist(ds_out):
    with pytest.raises((TensorMismatchError, chute.TensorDoesNotExistError)) as e:
        put_to_missing_tensor().eval(list(range(6)), ds_out, num_workers=2, progressbar=False)
    assert "nope" in error_text(e.value)
    assert_unchanged(ds_out)


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_wrong_dtype_names_the_input_and_the_tensor(ds_out, scheduler):
    with pytest.raises(TransformError) as e:
        put_float_at(at=4).eval(list(range(6)), ds_out, num_workers=2, scheduler=scheduler, progressbar=False)
    assert e.value.index == 4 and e.value.sample == 4
    text = error_text(e.value)
    assert "'x'" in text and "int32" in text and "float64" in text
    assert_unchanged(ds_out)


@pytest.mark.parametrize("scheduler", ["serial", "threaded"])
def test_wrong_shape_names_the_input_and_the_tensor(ds_out, scheduler):
    with pytest.raises(TransformError) as e:
        put_bad_shape_at(at=1).eval(list(range(6)), ds_out, num_workers=2, scheduler=scheduler, progressbar=False)
    assert e.value.index == 1
    text = error_text(e.value)
    assert "'x'" in text and "(2, 2)" in text
    assert_unchanged(ds_out)


def test_unequal_lengths_from_one_input(ds_out):
    with pytest.raises(TransformError) as e:  # naming the input, with the InvalidTransformDataset as cause
        put_unequal().eval(list(range(4)), ds_out, num_workers=2, progressbar=False)
    assert e.value.index == 0
    assert isinstance(e.value, InvalidTransformDataset) or isinstance(e.value.__cause__, InvalidTransformDataset)
    assert "'x': 2" in error_text(e.value) and "'t': 1" in error_text(e.value)
    assert_unchanged(ds_out)


# ---- arguments ----

def test_non_callable_is_refused():
    with pytest.raises(TypeError, match="function.*got int"):
        chute.compute(42)().eval([1, 2], None)


def test_generator_input_says_to_pass_a_list(ds_out):
    with pytest.raises(InvalidInputDataError, match="list"):
        put().eval((i for i in range(4)), ds_out, progressbar=False)
    assert_unchanged(ds_out)


def test_unknown_scheduler_lists_the_known_ones(ds_out):
    with pytest.raises(UnsupportedSchedulerError) as e:
        put().eval(list(range(4)), ds_out, num_workers=2, scheduler="dask", progressbar=False)
    for name in ["dask", *SCHEDULERS]:
        assert name in str(e.value)
    assert_unchanged(ds_out)


def test_read_only_ds_out(ds_out):
    ro = chute.load(ds_out.path, read_only=True)
    with pytest.raises(InvalidOutputDatasetError, match="read.only"):
        put().eval(list(range(4)), ro, num_workers=2, progressbar=False)
    assert_unchanged(ds_out)


def test_ds_out_with_tensors_of_unequal_length(ds_out):
    ds_out.t.append("old 3")  # t: 4 rows, x: 3
    before = contents(ds_out)
    with pytest.raises(InvalidOutputDatasetError, match="length"):
        put().eval(list(range(4)), ds_out, num_workers=2, progressbar=False)
    assert contents(ds_out) == before

    put().eval(list(range(4)), ds_out, num_workers=2, progressbar=False, check_lengths=False)
    assert contents(ds_out)["x"] == expect_rows(range(4))["x"]
    assert contents(ds_out)["t"][1] == before["t"][1] + [f"row {i}" for i in range(4)]


def test_checkpoint_interval_must_be_a_multiple_of_num_workers(ds_out):
    with pytest.raises(ValueError, match="multiple of num_workers"):
        put().eval(list(range(12)), ds_out, num_workers=3, checkpoint_interval=4, progressbar=False)
    assert_unchanged(ds_out)


# Forked workers inherit the pipeline, so closures and lambdas work with scheduler="processed" as they
# do with Deep Lake 3's pathos pool (dill); spawned workers need it pickled, and chute checks that
# before any work starts.

def test_closure_for_spawned_workers_is_named_and_threaded_suggested(ds_out, monkeypatch):
    @chute.compute
    def local_put(i, samples_out):
        samples_out.append(row(i))

    monkeypatch.setenv("CHUTE_MP_START_METHOD", "spawn")
    with pytest.raises(TransformError) as e:
        local_put().eval(list(range(4)), ds_out, num_workers=2, scheduler="processed", progressbar=False)
    assert "local_put" in str(e.value) and "threaded" in str(e.value)
    assert_unchanged(ds_out)

    local_put().eval(list(range(4)), ds_out, num_workers=2, scheduler="threaded", progressbar=False)
    assert contents(ds_out) == expect_rows(range(4))


def test_lambda_argument_for_spawned_workers_suggests_threaded(ds_out, monkeypatch):
    monkeypatch.setenv("CHUTE_MP_START_METHOD", "spawn")
    with pytest.raises(TransformError) as e:
        scale_by(fn=lambda v: v + 1).eval(list(range(4)), ds_out, num_workers=2, scheduler="processed",
                                          progressbar=False)
    assert "scale_by" in str(e.value) and "lambda" in str(e.value) and "threaded" in str(e.value)
    assert_unchanged(ds_out)


def test_module_level_functions_run_in_spawned_workers(ds_out, monkeypatch):
    """What the error above asks for: a compute function defined at module level pickles by name."""
    monkeypatch.setenv("CHUTE_MP_START_METHOD", "spawn")
    chute.compose([put_x_only(), put_from_row()]).eval(list(range(4)), ds_out, num_workers=2, scheduler="processed",
                                                       progressbar=False)
    assert contents(ds_out) == expect_rows(range(4))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_closures_and_lambdas_run_in_forked_workers(ds_out, monkeypatch):
    @chute.compute
    def local_put(i, samples_out, fn):
        samples_out.append(row(fn(i)))

    monkeypatch.setenv("CHUTE_MP_START_METHOD", "fork")
    local_put(fn=lambda v: v + 1).eval(list(range(4)), ds_out, num_workers=2, scheduler="processed", progressbar=False)
    assert contents(ds_out) == expect_rows(range(1, 5))


# ---- a worker process that dies ----

def run_dying_job(path: str, how: str) -> None:
    """Run in a child interpreter (so that a hang cannot stall pytest): a processed job whose worker
    dies on input 5; prints what happened as JSON."""
    ds = make_out(Path(path))
    out = {"error": None, "chunks": chunk_files(path)}
    try:
        die(how=how, at=5).eval(list(range(12)), ds, num_workers=2, scheduler="processed", progressbar=False)
    except Exception as e:  # reported to the test
        out.update(error=type(e).__name__, mro=[c.__name__ for c in type(e).__mro__], message=str(e))
    out["contents"] = contents(ds)
    print(json.dumps(out), flush=True)


@pytest.mark.parametrize("how", ["exit", "sigkill"])
def test_a_worker_process_that_dies(tmp_path, how):
    path = tmp_path / "out"
    code = f"import sys; sys.path.insert(0, {str(TESTS)!r}); import test_transform_errors as m; m.run_dying_job({str(path)!r}, {how!r})"
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired:
        pytest.fail(f"a worker killed by {how} hung the transform (no result after 90 s)")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["error"] is not None, "eval returned normally though a worker died"
    assert "ChuteError" in out["mro"], out
    assert re.search(r"(?i)worker", out["message"]) and re.search(r"(?i)died|killed|exit", out["message"]), out
    assert out["contents"] == json.loads(json.dumps(OLD))
    # the next writable open sees the dataset as before the call, with no chunk the job wrote
    ds = chute.load(path, read_only=False)
    assert contents(ds) == OLD
    assert chunk_files(path) == out["chunks"]


@chute.compute
def slow_put(i, samples_out):
    time.sleep(0.05)
    samples_out.append(row(i))


def run_killable_job(path: str, scheduler: str) -> None:
    """Run in a child interpreter that the test kills: 48 inputs of 0.05 s on 2 workers (1.2 s), a
    checkpoint every 8."""
    ds = make_out(Path(path))
    print("go", flush=True)
    slow_put().eval(list(range(48)), ds, num_workers=2, scheduler=scheduler, checkpoint_interval=8,
                    progressbar=False)
    print("done", flush=True)


@pytest.mark.parametrize("delay", [0.15, 0.7])
@pytest.mark.parametrize("scheduler", ["threaded", "processed"])
def test_sigkill_of_the_parent_leaves_ds_out_at_a_checkpoint(tmp_path, scheduler, delay):
    path = tmp_path / "out"
    code = (f"import sys; sys.path.insert(0, {str(TESTS)!r}); import test_transform_errors as m; "
            f"m.run_killable_job({str(path)!r}, {scheduler!r})")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "go"
        time.sleep(delay)
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if scheduler == "processed":
        time.sleep(0.2)  # the workers die with their parent (PR_SET_PDEATHSIG)
    ds = chute.load(path, read_only=False)
    got = contents(ds)
    states = [expect_rows(range(k)) for k in range(0, 49, 8)]
    assert got in states, got  # (killed after 0.15 s: usually no checkpoint yet; after 0.7 s: 2 or 3)
    slow_put().eval(list(range(states.index(got) * 8, 48)), ds, num_workers=2, scheduler=scheduler, progressbar=False)
    assert contents(ds) == expect_rows(range(48))  # resumed by slicing the input


# ---- TransformError ----

@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_transform_error_carries_index_sample_cause_and_traceback(ds_out, scheduler):
    with pytest.raises(TransformError) as e:
        fail_on(bad={5}).eval(list(range(10)), ds_out, num_workers=2, scheduler=scheduler, progressbar=False)
    err = e.value
    assert err.index == 5 and err.sample == 5
    assert type(err.__cause__) is ValueError and str(err.__cause__) == "bad sample 5"
    assert "If you wish to skip" in str(err) and "ignore_errors=True" in str(err)
    assert "fail_on" in str(err)  # the worker's traceback
    assert_unchanged(ds_out)


@pytest.mark.parametrize("scheduler", ["threaded", "processed"])
def test_transform_error_reports_the_lowest_failing_index(ds_out, scheduler):
    """Two workers fail on their own slices; the error is the same whichever finished first."""
    with pytest.raises(TransformError) as e:
        fail_on(bad={3, 7}).eval(list(range(10)), ds_out, num_workers=2, scheduler=scheduler, progressbar=False)
    assert e.value.index == 3 and str(e.value.__cause__) == "bad sample 3"
    assert_unchanged(ds_out)


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_failed_in_place_transform_leaves_the_dataset_as_it_was(ds_out, scheduler):
    with pytest.raises(TransformError) as e:
        double_in_place(bad={102}).eval(ds_out, num_workers=2, scheduler=scheduler, progressbar=False)
    assert e.value.index == 2
    assert_unchanged(ds_out)

    double_in_place(bad=set()).eval(ds_out, num_workers=2, scheduler=scheduler, progressbar=False)
    assert contents(ds_out) == {"x": (3, [[200, 400], [202, 402], [204, 404]]), "t": (3, ["old 0!", "old 1!", "old 2!"])}


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_ignore_errors_skips_and_reports(ds_out, capsys, scheduler):
    fail_on(bad={1, 4}).eval(list(range(6)), ds_out, num_workers=2, scheduler=scheduler, ignore_errors=True,
                             progressbar=False)
    assert contents(ds_out) == expect_rows([0, 2, 3, 5])
    printed = capsys.readouterr()
    text = printed.out + printed.err
    assert re.search(r"(?i)processed\D{0,30}4\b", text), text
    assert re.search(r"(?i)skipped\D{0,30}2\b", text), text
    assert re.search(r"1,\s*4", text), text  # the skipped indices


def test_all_samples_skipped(ds_out):
    with pytest.raises(AllSamplesSkippedError):
        fail_on(bad=set(range(6))).eval(list(range(6)), ds_out, num_workers=2, ignore_errors=True, progressbar=False)
    assert_unchanged(ds_out)


@pytest.mark.parametrize("scheduler", ["threaded", "processed"])
def test_checkpoints_before_the_failure_are_kept_and_the_job_resumes(ds_out, scheduler):
    data = list(range(12))
    with pytest.raises(TransformError) as e:
        fail_on(bad={7}).eval(data, ds_out, num_workers=2, scheduler=scheduler, checkpoint_interval=4,
                              progressbar=False)
    assert e.value.index == 7
    assert "Last checkpoint: 4 samples processed" in str(e.value)
    assert contents(ds_out) == expect_rows(range(4))
    assert contents(chute.load(ds_out.path, read_only=True)) == expect_rows(range(4))

    rest = data[4:]
    rest.remove(e.value.sample)
    fail_on(bad={7}).eval(rest, ds_out, num_workers=2, scheduler=scheduler, checkpoint_interval=2, progressbar=False)
    assert contents(ds_out) == expect_rows([0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11])


# ---- the same result for every scheduler and number of workers ----

def fan_out_expected(n: int, by: int) -> tuple[list, list, list]:
    xs, labels = [], []
    for i in range(n):
        for k in range(FAN[i % 3]):
            xs.append([i + by, k + by])
            labels.append(f"c{(i * 7 + k) % 5}")
    names = list(dict.fromkeys(labels))
    return xs, [names.index(label) for label in labels], names


@pytest.mark.parametrize("num_workers", [1, 2, 3])
@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_same_rows_and_class_names_for_any_scheduler_and_num_workers(tmp_path, scheduler, num_workers):
    ds = chute.empty(tmp_path / "out")
    ds.create_tensor("x", dtype="int32")
    ds.create_tensor("labels", htype="class_label")
    n = 20  # 20 inputs -> 25 rows (inputs 0, 3, 6, ... give none, 2, 5, 8, ... give 3)
    chute.compose([fan_out(), shift_and_label(by=1000)]).eval(
        list(range(n)), ds, num_workers=num_workers, scheduler=scheduler, progressbar=False)
    xs, labels, names = fan_out_expected(n, 1000)
    assert len(ds) == len(xs) == 25
    assert [a.tolist() for a in ds.x.numpy(aslist=True)] == xs
    assert ds.labels.info.class_names == names
    assert ds.labels.numpy().ravel().tolist() == labels
    again = chute.load(ds.path, read_only=True)
    assert again.labels.info.class_names == names and again.labels.numpy().ravel().tolist() == labels


class Indexable:
    """Any object with __len__ and __getitem__ is an input."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        if not isinstance(i, int):  # like most Dataset classes of training code: no slices
            raise TypeError(f"Indexable takes an int index, got {type(i).__name__}")
        if not 0 <= i < self.n:
            raise IndexError(i)
        return i


@pytest.mark.parametrize("data_in", [list(range(7)), tuple(range(7)), np.arange(7), Indexable(7)],
                         ids=["list", "tuple", "ndarray", "indexable"])
def test_inputs_that_index(ds_out, data_in):
    put().eval(data_in, ds_out, num_workers=2, progressbar=False)
    assert contents(ds_out) == expect_rows(range(7))
