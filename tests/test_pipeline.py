"""chute.pipeline: olympipe 2.2.0's API (the seed's code runs as written), every stage, order with
count > 1, errors that name stage, position and traceback, dead workers, Ctrl-C, and no process,
descriptor or shared-memory segment left behind by any of them."""
from __future__ import annotations

import faulthandler
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from typing import Tuple  # noqa: UP035  (the seed-style annotation split() reads)

import numpy as np
import pytest

import chute
from chute.pipeline import Pipeline, PipelineExecutionError, shm


def _children() -> set[int]:
    out = set()
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/children") as f:
                out.update(int(p) for p in f.read().split())
        except FileNotFoundError:
            pass
    return out


def _shm() -> set[str]:
    return set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()


@pytest.fixture(autouse=True)
def no_leftovers():
    """Every test: no child process, no descriptor and no /dev/shm segment more than before."""
    kids, fds, segs = _children(), set(os.listdir("/proc/self/fd")), _shm()
    faulthandler.dump_traceback_later(120, exit=True)  # a hung run must not hold the build lock forever
    yield
    faulthandler.cancel_dump_traceback_later()
    deadline = time.time() + 5
    while _children() - kids and time.time() < deadline:
        time.sleep(0.02)
    assert _children() - kids == set(), "worker processes left behind"
    assert len(set(os.listdir("/proc/self/fd")) - fds) <= 1, "descriptors left open"  # pytest may open one
    new = _shm() - segs
    while new and time.time() < deadline:  # other jobs on the machine make and remove segments too
        time.sleep(0.05)
        new = _shm() - segs
    assert new == set(), f"shared memory segments left behind: {sorted(new)}"


def times_2(x: int) -> int:
    return x * 2


def square(x):
    return x * x


def jitter(x):
    time.sleep(0.0005 * ((x * 7919) % 5))
    return x


# ---- the seed's code ----

def test_seed_times_2_forms():
    datas = list(range(10))
    p = Pipeline(datas)
    p1 = p.task(times_2)
    assert p1.wait_for_result() == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
    assert Pipeline(datas).task(times_2).wait_for_result() == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]


def test_seed_non_linear_workflow(tmp_path, monkeypatch):
    clients = ["+33 612 345 6789", "john@doe.com", "555-123-4567", "nope", "(555) 123 45678", "a@b.c"] * 5
    (tmp_path / "client_data.json").write_text(json.dumps(clients))
    monkeypatch.chdir(tmp_path)
    # the seed's code, as written
    data: list[str] = json.loads(open("client_data.json").read())  # noqa: SIM115
    phone_regex = re.compile(r"^[\+]?[(]?[0-9]{3}[)]?[-\s\.]?[0-9]{3}[-\s\.]?[0-9]{4,6}$")
    email_regex = re.compile(
        r"/^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*$/"
    )
    pipe = Pipeline(data)
    email_missing = pipe.filter(lambda x: not bool(email_regex.match(x)))
    email_valid = pipe.filter(lambda x: bool(email_regex.match(x)))
    phone_missing = email_valid.filter(lambda x: not bool(phone_regex.match(x)))
    all_info_ok = email_valid.filter(lambda x: bool(phone_regex.match(x)))
    res_invalid_email, res_invalid_phone, res_ok = Pipeline.wait_for_all_results(
        [email_missing, phone_missing, all_info_ok])
    # every stage built on `pipe` saw every item (broadcast, not competition)
    assert res_invalid_email == [x for x in data if not email_regex.match(x)]
    valid = [x for x in data if email_regex.match(x)]
    assert res_invalid_phone == [x for x in valid if not phone_regex.match(x)]
    assert res_ok == [x for x in valid if phone_regex.match(x)]
    # and with a regex that matches emails, the three outputs partition the input
    email_regex = re.compile(r"^[^@\s]+@[^@\s]+$")
    outs = Pipeline.wait_for_all_results([email_missing, phone_missing, all_info_ok])
    assert sorted(sum(outs, [])) == sorted(data) and len(outs[2]) == 0


def test_two_tasks_on_one_pipeline_each_get_every_item():
    p = Pipeline(range(50))
    a, b = p.task(lambda x: ("a", x), count=2), p.task(lambda x: ("b", x))
    ra, rb = a.wait_for_results([b])
    assert ra == [("a", x) for x in range(50)] and rb == [("b", x) for x in range(50)]


# ---- order ----

@pytest.mark.parametrize("counts", [(1, 1, 1), (2, 1, 3), (3, 3, 2), (4, 2, 1)])
def test_order_with_count_above_one_equals_serial(counts):
    a, b, c = counts
    data = list(range(300))
    out = (Pipeline(data).task(jitter, count=a).task(square, count=b).filter(lambda x: x % 3)
           .task(times_2, count=c).batch(7).wait_for_result())
    serial = [times_2(square(x)) for x in data if square(x) % 3]
    assert out == [serial[i:i + 7] for i in range(0, len(serial), 7)]


def test_unordered_is_the_same_multiset():
    out = Pipeline(range(200)).task(jitter, count=3, ordered=False).task(square, count=2).wait_for_result()
    assert sorted(out) == [x * x for x in range(200)]


def test_many_small_items_in_order():
    out = Pipeline(range(20000)).task(times_2, count=2).task(times_2, count=2).wait_for_result()
    assert out == [4 * x for x in range(20000)]


# ---- each stage ----

def test_sources_lists_generators_and_any_iterable():
    def gen():
        yield from range(5)

    class Bag:
        def __iter__(self):
            return iter("abc")

    assert Pipeline(gen()).task(times_2).wait_for_result() == [0, 2, 4, 6, 8]
    assert Pipeline(Bag()).wait_for_result() == ["a", "b", "c"]
    assert Pipeline((1, 2)).wait_for_result() == [1, 2]
    assert Pipeline().wait_for_result() == []
    assert Pipeline([]).task(times_2, count=2).batch(2).wait_for_result() == []


def test_filter_with_and_without_fn():
    assert Pipeline(range(10)).filter(lambda x: x % 2).wait_for_result() == [1, 3, 5, 7, 9]
    assert Pipeline([1, None, 0, None, 2]).filter().wait_for_result() == [1, 0, 2]


def test_batch_like_olympipe():
    res = Pipeline(range(20)).task(times_2).filter(lambda x: x % 4 == 0).batch(3).wait_for_result()
    assert res == [[0, 4, 8], [12, 16, 20], [24, 28, 32], [36]]
    res = Pipeline(range(20)).task(times_2).filter(lambda x: x % 4 == 0).batch(3, keep_incomplete_batch=False)
    assert res.wait_for_result() == [[0, 4, 8], [12, 16, 20], [24, 28, 32]]


def test_explode_with_and_without_fn():
    assert Pipeline([[1, 2], [], [3]]).explode().wait_for_result() == [1, 2, 3]
    assert Pipeline([2, 3]).explode(lambda n: range(n)).task(times_2, count=2).wait_for_result() == [0, 2, 0, 2, 4]


def test_reduce_and_wait_and_reduce():
    assert Pipeline(range(10)).wait_and_reduce(0, lambda x, acc: x + acc) == 45
    # item first, accumulator second (olympipe's order)
    assert Pipeline("abc").reduce("", lambda x, acc: acc + x).wait_for_result() == ["abc"]
    assert Pipeline([]).reduce(7, lambda x, acc: acc).wait_for_result() == [7]


def test_split_then_results_and_gather():
    evens, odds = Pipeline(range(10)).split(lambda x: (x, None) if x % 2 == 0 else (None, x), 2)
    assert evens.wait_for_results([odds]) == [[0, 2, 4, 6, 8], [1, 3, 5, 7, 9]]
    assert sorted(evens.task(times_2).gather(odds).wait_for_result()) == sorted([0, 4, 8, 12, 16, 1, 3, 5, 7, 9])

    def route(x) -> Tuple[int, int, int]:  # noqa: UP006  (n comes from this annotation)
        return (x if x % 3 == 0 else None, x if x % 3 == 1 else None, x if x % 3 == 2 else None)

    branches = Pipeline(range(9)).split(route)
    assert len(branches) == 3
    assert Pipeline.wait_for_all_results(list(branches)) == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]


def test_gather_of_independent_roots():
    out = Pipeline(range(5)).gather(Pipeline(range(100, 103)).task(times_2)).wait_for_result()
    assert sorted(out) == [0, 1, 2, 3, 4, 200, 202, 204]


class Counter:
    def __init__(self, start, out=None):
        self.n = start
        self.out = out

    def step(self, x):
        self.n += 1
        return x * 10 + self.n

    def pair(self, x):
        self.n += 1
        return x, self.n

    def close(self):
        with open(os.path.join(self.out, f"{os.getpid()}.txt"), "w") as f:
            f.write(str(self.n))


def test_class_task_state_per_worker_and_close(tmp_path):
    res = Pipeline(range(5)).class_task(Counter, Counter.step, [0], Counter.close, {"out": str(tmp_path)})
    assert res.wait_for_result() == [1, 12, 23, 34, 45]
    assert [p.read_text() for p in tmp_path.iterdir()] == ["5"]
    res = Pipeline(range(40)).class_task(Counter, "pair", class_args=[0], close_method="close",
                                        class_kwargs={"out": str(tmp_path / "b")}, count=2)
    (tmp_path / "b").mkdir()
    out = res.wait_for_result()
    assert [x for x, _ in out] == list(range(40))
    assert max(n for _, n in out) < 40  # two workers, each with its own counter
    assert sum(int(p.read_text()) for p in (tmp_path / "b").iterdir()) == 40


def test_limit_stops_an_endless_source():
    def forever():
        i = 0
        while True:
            yield i
            i += 1

    assert Pipeline(forever()).task(times_2, count=2).limit(5).wait_for_result() == [0, 2, 4, 6, 8]
    for _ in range(10):  # chunks held for order when the limit is reached are dropped, not awaited
        assert Pipeline(forever()).task(jitter, count=3).task(times_2, count=2).limit(50).wait_for_result() \
            == [2 * x for x in range(50)]
    assert Pipeline(range(10)).limit(0).wait_for_result() == []


def test_temporal_batch_partitions_without_loss():
    def slow():
        for i in range(12):
            time.sleep(0.01)
            yield i

    out = Pipeline(slow()).temporal_batch(0.035).wait_for_result()
    assert sum(out, []) == list(range(12))
    assert len(out) >= 2 and all(out)  # at least two windows over ~120 ms of input, none empty


def test_debug_prints_and_passes_on(capsys):
    assert Pipeline([1, 2]).debug().wait_for_result() == [1, 2]
    printed = capsys.readouterr().out
    assert str(os.getpid()) in printed and "1" in printed and "2" in printed


def test_start_then_wait_and_wait_for_completion(tmp_path):
    p = Pipeline(range(10)).task(times_2, count=2)
    assert p.start() is p and p.start() is p
    assert p.wait_for_result() == [2 * x for x in range(10)]
    marks = tmp_path / "m"
    marks.mkdir()
    Pipeline(range(3)).task(lambda x: (marks / str(x)).write_text("")).wait_for_completion()
    assert sorted(os.listdir(marks)) == ["0", "1", "2"]


def test_lambdas_and_closures_run_in_workers():
    k = 5
    assert Pipeline(range(4)).task(lambda x: x + k, count=2).wait_for_result() == [5, 6, 7, 8]


def test_numpy_arrays_cross_through_shared_memory():
    arrays = [np.full((300, 400, 3), i, np.uint8) for i in range(24)]
    out = (Pipeline(arrays).task(lambda a: a.astype(np.int32) + 1, count=2).task(lambda a: a * 2, count=2)
           .wait_for_result())
    assert len(out) == 24
    for i, a in enumerate(out):
        assert a.dtype == np.int32 and a.shape == (300, 400, 3) and a.flags.writeable
        assert (a == (i + 1) * 2).all()


def test_pack_puts_large_buffers_in_shared_memory_and_falls_back_when_full():
    arena = shm.Arena(1, 1 << 20)
    box = arena.outbox(0)
    big = np.arange(100_000, dtype=np.int64)  # 800 KB
    packed = shm.pack({"x": big, "y": b"small"}, box)
    assert type(packed) is tuple and len(packed[0]) < 1000  # the array's bytes are not in the pickle
    second = shm.pack(big, box)  # no room left: in band, still correct
    assert type(second) is bytes and (shm.unpack(second, arena) == big).all()
    back = shm.unpack(packed, arena)
    assert (back["x"] == big).all() and back["x"].flags.writeable and back["y"] == b"small"
    assert type(shm.pack(big, box)) is tuple  # freed by unpack, so reusable
    arena.close()


def test_tiny_outboxes_still_carry_everything(monkeypatch):
    monkeypatch.setenv("CHUTE_PIPELINE_SHM_MB", "0.1")
    out = Pipeline([np.ones(50_000) * i for i in range(10)]).task(lambda a: a + 1, count=2).wait_for_result()
    assert [float(a[0]) for a in out] == [i + 1.0 for i in range(10)]


# ---- errors ----

def fails_on_13(x):
    if x == 13:
        raise ValueError(f"bad item {x}")
    return x


def test_a_task_error_names_stage_position_and_traceback():
    p = Pipeline(range(40)).filter(lambda x: x % 2 == 1).task(fails_on_13, count=3)
    with pytest.raises(PipelineExecutionError) as info:
        p.wait_for_result()
    e = info.value
    assert e.stage == "task(fails_on_13)" and e.position == 6 and e.source_index == 13
    assert "task(fails_on_13)" in str(e) and "item 6" in str(e) and "source item 13" in str(e)
    assert "fails_on_13" in e.traceback and "raise ValueError" in e.traceback and "bad item 13" in str(e)
    assert isinstance(e.__cause__, ValueError) and e.errors == [str(e)]
    assert isinstance(e, chute.ChuteError) and e.pid not in (None, os.getpid())


def test_an_error_in_a_parent_stage_names_it():
    with pytest.raises(PipelineExecutionError, match=r"stage 2 'filter\(.*<lambda>\)'.*item 3.*ZeroDivisionError"):
        Pipeline(range(10)).task(times_2).filter(lambda x: 1 // (x - 6)).wait_for_result()
    with pytest.raises(PipelineExecutionError, match="reduce"):
        Pipeline(range(3)).reduce(0, lambda x, acc: acc + "x").wait_for_result()


def test_a_failing_source_is_named():
    def gen():
        yield 1
        raise OSError("camera unplugged")

    with pytest.raises(PipelineExecutionError, match="camera unplugged") as info:
        Pipeline(gen()).task(times_2).wait_for_result()
    assert info.value.stage == "source(generator)" and info.value.position == 1


def test_on_error_replaces_or_drops():
    assert Pipeline(range(16)).task(fails_on_13, on_error=lambda x, e: -1).wait_for_result()[12:15] == [12, -1, 14]
    assert 13 not in Pipeline(range(16)).task(fails_on_13, count=2, on_error=lambda x, e: None).wait_for_result()


def test_constructor_and_close_failures_are_reported():
    class Broken:
        def __init__(self):
            raise RuntimeError("no GPU")

        def f(self, x):
            return x

    with pytest.raises(PipelineExecutionError, match="creating Broken.*no GPU"):
        Pipeline(range(3)).class_task(Broken, Broken.f).wait_for_result()

    class BadClose:
        def f(self, x):
            return x

        def close(self):
            raise RuntimeError("flush failed")

    with pytest.raises(PipelineExecutionError, match="close_method.*flush failed"):
        Pipeline(range(3)).class_task(BadClose, BadClose.f, close_method=BadClose.close).wait_for_result()


def test_an_unpicklable_result_is_named():
    with pytest.raises(PipelineExecutionError, match=r"task\(.*<lambda>\)'.*item 0.*sending its result"):
        Pipeline([1]).task(lambda x: (i for i in range(x))).task(list).wait_for_result()


def die_on_7(x):
    if x == 7:
        os._exit(3)
    return x


def kill_self_on_7(x):
    if x == 7:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.001)
    return x


@pytest.mark.parametrize(("fn", "how"), [(die_on_7, "exited with code 3"), (kill_self_on_7, "signal 9 (SIGKILL)")])
def test_a_dead_worker_raises_instead_of_truncating(fn, how):
    with pytest.raises(PipelineExecutionError, match=re.escape(how)) as info:
        Pipeline(range(100)).task(jitter).task(fn, count=2).wait_for_result()
    e = info.value
    assert e.stage == f"task({fn.__name__})" and "worker process pid" in str(e)
    assert e.position is not None and e.position <= 7


def test_into_a_dataset(tmp_path):
    ds = chute.empty(tmp_path / "ds")
    ds.create_tensor("x")
    ds.create_tensor("label", htype="class_label")
    rows = Pipeline(range(30)).task(lambda i: {"x": np.full((4,), i, np.int32), "label": i % 3}, count=2)
    assert rows.into(ds, flush_every=7).wait_for_result() == []
    assert ds.x.numpy()[:, 0].tolist() == list(range(30))
    again = chute.load(tmp_path / "ds", read_only=True)
    assert len(again) == 30 and again.label.numpy().ravel().tolist() == [i % 3 for i in range(30)]


def test_into_keeps_the_rows_before_a_failing_item(tmp_path):
    ds = chute.empty(tmp_path / "ds")
    ds.create_tensor("x")
    rows = Pipeline(range(10)).task(lambda i: {"x": np.zeros(2)} if i != 6 else {"nope": 1})
    with pytest.raises(PipelineExecutionError, match=r"into\(.*item 6.*nope"):
        rows.into(ds).wait_for_completion()
    assert len(chute.load(tmp_path / "ds", read_only=True)) == 6


# ---- Ctrl-C and a killed parent ----

SCRIPT = textwrap.dedent("""
    import sys, time
    from chute.pipeline import Pipeline
    import numpy as np

    def slow(x):
        time.sleep(0.05)
        return np.zeros(100_000) + x

    p = Pipeline(range(10_000)).task(slow, count=2).task(lambda a: a * 2, count=2)
    p.start()
    print("started", flush=True)
    p.wait_for_result()
""")


def _process_children(pid: int) -> set[int]:
    out = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            out.update(int(p) for p in f.read().split())
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_ctrl_c_or_a_killed_parent_leaves_no_worker_and_no_segment(sig):
    segs = _shm()
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "started"
        deadline = time.time() + 10
        while len(workers := _process_children(proc.pid)) < 4 and time.time() < deadline:
            time.sleep(0.02)
        assert len(workers) == 4
        time.sleep(0.3)  # items in flight, shared memory in use
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    if sig == signal.SIGINT:
        assert "KeyboardInterrupt" in err and proc.returncode != 0
    deadline = time.time() + 5
    while any(_alive(w) for w in workers) and time.time() < deadline:
        time.sleep(0.05)
    assert not any(_alive(w) for w in workers)
    assert _shm() - segs == set()


def test_interrupting_the_wait_in_process_stops_every_worker():
    p = Pipeline(range(1000)).task(lambda x: time.sleep(0.02) or x, count=3)
    timer = threading.Timer(0.3, lambda: signal.pthread_kill(threading.main_thread().ident, signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        p.wait_for_result()
    timer.join()

