"""chute.shards: Orca's XShards. Everything on the local backend (no Ray), the Ray backend with the
shared `ray_session`, and a two-node Ray cluster in a child interpreter (a worker node killed
mid-job)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

import chute
from chute._internal.handle import tensor_core
from chute.shards import ShardTransformError, SharedValue, XShards, init, read_csv, read_json, read_parquet


@pytest.fixture(autouse=True)
def local_backend():
    """Every test starts on the local backend with 2 workers (Ray tests switch explicitly)."""
    init("local", num_workers=2)
    yield
    init("local")


@pytest.fixture
def ray_backend(ray_session):
    # Ray's workers cannot import this test module: its functions travel by value
    ray_session.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    init("ray")
    yield ray_session


def orca_frame() -> pd.DataFrame:
    """14 rows and 6 locations, like Orca's test CSVs."""
    return pd.DataFrame({"ID": np.arange(14), "location": [f"loc{i % 6}" for i in range(14)],
                         "value": np.arange(14) * 10, "sale_price": np.linspace(1.0, 2.0, 14)})


# ---- the seed ------------------------------------------------------------------------------
def seed_xshards():
    train_images = np.random.random((20, 3, 224, 224))
    train_label_images = np.zeros(20)
    train_shards = XShards.partition([train_images, train_label_images])

    def transform_to_dict(train_data):
        return {"x": train_data[0], "y": train_data[1]}

    train_shards = train_shards.transform_shard(transform_to_dict)
    return train_images, train_shards


def negative(df, column_name):
    df[column_name] = df[column_name] * (-1)
    return df


def check_seed(tmp_path):
    images, shards = seed_xshards()
    parts = shards.collect()
    assert len(parts) == shards.num_partitions() == 2  # default: the backend's workers/CPUs
    assert all(set(p) == {"x", "y"} for p in parts)
    np.testing.assert_array_equal(np.concatenate([p["x"] for p in parts]), images)
    assert len(shards) == 20

    pd_path = tmp_path / "csv"
    pd_path.mkdir()
    df = orca_frame()
    df[:7].to_csv(pd_path / "a.csv", index=False)
    df[7:].to_csv(pd_path / "b.csv", index=False)
    shard = read_csv(str(pd_path))
    train_shards = shard.transform_shard(negative, "value")
    assert pd.concat(train_shards.collect())["value"].tolist() == (-df["value"]).tolist()
    assert shard.partition_by(cols="location", num_partitions=4).num_partitions() == 4
    location_list = shard["location"].unique()
    assert len(location_list) == 6


def test_the_seed_runs_on_the_local_backend(tmp_path):
    check_seed(tmp_path)


# ---- partition -----------------------------------------------------------------------------
def test_partition_splits_rows_like_array_split_and_keeps_the_structure():
    x = np.arange(23 * 2).reshape(23, 2)
    y = np.arange(23)
    s = XShards.partition({"a": x, "b": [y, (y * 2, y * 3)]}, num_shards=4)
    parts = s.collect()
    assert [len(p["a"]) for p in parts] == [len(c) for c in np.array_split(x, 4)] == [6, 6, 6, 5]
    for p, cx, cy in zip(parts, np.array_split(x, 4), np.array_split(y, 4)):
        assert isinstance(p["b"], list) and isinstance(p["b"][1], tuple)
        np.testing.assert_array_equal(p["a"], cx)
        np.testing.assert_array_equal(p["b"][1][1], cy * 3)
    assert len(s) == 23

    arr = XShards.partition(np.arange(10), 3)
    assert [p.tolist() for p in arr.collect()] == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    df = orca_frame()
    frames = XShards.partition(df, 3).collect()
    assert all(isinstance(f, pd.DataFrame) for f in frames)
    pd.testing.assert_frame_equal(pd.concat(frames), df)


def test_partitions_are_copies_of_the_data():
    x = np.zeros(6)
    s = XShards.partition(x, 2)
    x[:] = 7
    assert all((p == 0).all() for p in s.collect())


@pytest.mark.parametrize("data, n, error, match", [
    (np.arange(3), 4, ValueError, "3 rows cannot be split into 4 shards"),
    ([np.arange(5), np.arange(6)], 2, ValueError, r"same number of rows.*data\[0\]: 5, data\[1\]: 6"),
    ({"x": np.arange(4), "y": [1, 2, 3, 4]}, 2, TypeError, r"data\['y'\]\[0\] is int"),
    ("text", 2, TypeError, "got str"),
    (np.float64(3.0), 1, TypeError, "got float64"),
    ({}, 1, ValueError, "empty"),
    (np.arange(4), 0, ValueError, "num_shards must be a positive int"),
    (np.arange(4), 1.5, ValueError, "num_shards must be a positive int"),
])
def test_partition_refuses_bad_input(data, n, error, match):
    with pytest.raises(error, match=match):
        XShards.partition(data, n)


# ---- transform_shard and actions -----------------------------------------------------------
def test_transform_shard_passes_args_and_never_changes_the_parent():
    s = XShards.partition(orca_frame(), 2).cache()
    neg = s.transform_shard(negative, "value")
    assert pd.concat(neg.collect())["value"].tolist() == [-10 * i for i in range(14)]
    assert pd.concat(s.collect())["value"].tolist() == [10 * i for i in range(14)]  # the worker's change stays there
    offset = 5
    plus = s.transform_shard(lambda df, k: df["ID"] + k + offset, 100)  # a lambda and a closure
    assert pd.concat(plus.collect()).tolist() == list(range(105, 119))


def test_collect_first_take_num_partitions_len():
    s = XShards.partition(np.arange(10), 4)
    assert s.num_partitions() == 4
    assert s.first().tolist() == [0, 1, 2]
    assert [p.tolist() for p in s.take(2)] == [[0, 1, 2], [3, 4, 5]]
    assert s.take(0) == [] and len(s.take(10)) == 4
    assert len(s) == s.len() == 10
    assert len(s.transform_shard(lambda a: {"n": len(a), "k": 1})) == 4 * 2  # a dict of scalars: its keys
    with pytest.raises(ValueError, match="take"):
        s.take(-1)


def fail_on_late_shards(a):
    if a[0] >= 4:
        raise ValueError(f"no rows from {a[0]}")
    return a


def test_an_error_in_a_shard_names_the_lowest_failing_shard_with_the_worker_traceback():
    s = XShards.partition(np.arange(10), 4)
    with pytest.raises(ShardTransformError) as e:
        s.transform_shard(fail_on_late_shards)
    assert e.value.index == 2 and e.value.error_type == "ValueError"
    msg = str(e.value)
    assert "shard 2" in msg and "no rows from 6" in msg and "fail_on_late_shards" in msg
    assert 'raise ValueError(f"no rows from {a[0]}")' in e.value.remote_traceback
    assert isinstance(e.value.__cause__, ValueError)
    assert isinstance(e.value, chute.ChuteError)


def big_or_fail(a):
    if a[0] == 2:
        raise ValueError("shard with 2")
    if a[0] == 3:
        os._exit(3)
    return np.full(1 << 19, a[0], dtype=np.float64)  # 4 MiB: through shared memory


def leftovers() -> list[str]:
    folder = "/dev/shm" if os.path.isdir("/dev/shm") else None
    return [f for f in os.listdir(folder) if f.startswith(f"chute-shards-{os.getpid()}-")] if folder else []


def test_large_results_come_back_through_shared_memory_and_leave_no_file():
    s = XShards.partition(np.arange(2), 2)
    out = s.transform_shard(big_or_fail).collect()
    assert [float(a[-1]) for a in out] == [0.0, 1.0] and all(a.flags.writeable for a in out)
    out[0][:] = 7  # a private copy: writable, and nobody else sees it
    assert leftovers() == []
    with pytest.raises(ShardTransformError, match="shard 2"):
        XShards.partition(np.arange(3), 3).transform_shard(big_or_fail)
    with pytest.raises(ShardTransformError, match="died"):
        XShards.from_partitions([np.array([k]) for k in (0, 1, 3, 4)]).transform_shard(big_or_fail)
    assert leftovers() == []
    frames = XShards.partition(pd.DataFrame({"s": ["ab"] * 200_000, "v": np.arange(200_000)}), 2)
    back = frames.transform_shard(lambda df: df.assign(w=df["v"] * 2)).collect()
    assert pd.concat(back)["w"].sum() == 2 * sum(range(200_000)) and leftovers() == []


def exit_in_worker(a):
    os._exit(3)


def test_a_worker_that_dies_gives_a_clear_error():
    with pytest.raises(ShardTransformError, match="worker process of the local backend died"):
        XShards.partition(np.arange(4), 2).transform_shard(exit_in_worker)


def test_a_result_that_cannot_travel_back_names_the_shard():
    with pytest.raises(ShardTransformError, match="shard 0: its result could not be sent back"):
        XShards.partition(np.arange(4), 2).transform_shard(lambda a: (lambda: a))


INTERRUPTED = textwrap.dedent("""
    import os, signal, sys, time
    import numpy as np
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if a background shell ignores it
    from chute.shards import XShards, init
    init("local", num_workers=2)
    def slow(a):
        with open(os.path.join(sys.argv[1], str(os.getpid())), "w"):
            pass
        time.sleep(60)
        return a
    print("start", flush=True)
    XShards.partition(np.arange(4), 4).transform_shard(slow)
""")


def test_ctrl_c_during_transform_shard_stops_its_workers(tmp_path):
    script = tmp_path / "interrupted.py"
    script.write_text(INTERRUPTED)
    pids = tmp_path / "pids"
    pids.mkdir()
    proc = subprocess.Popen([sys.executable, str(script), str(pids)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=tmp_path)
    deadline = time.monotonic() + 30
    while len(os.listdir(pids)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(os.listdir(pids)) == 2, proc.stderr.read() if proc.poll() is not None else "workers did not start"
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)  # to the parent alone, as `kill -INT` does
    try:
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            for pid in map(int, os.listdir(pids)):
                os.kill(pid, signal.SIGKILL)
    assert time.monotonic() - t0 < 10 and "KeyboardInterrupt" in err, err[-2000:]
    for pid in map(int, os.listdir(pids)):
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid), f"worker {pid} outlived the interrupted step"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_transform_shard_refuses_a_non_callable():
    with pytest.raises(TypeError, match="takes a function"):
        XShards.partition(np.arange(4), 2).transform_shard("negative")


def test_num_workers_0_runs_in_this_process_on_copies():
    init("local", num_workers=0)
    s = XShards.partition(orca_frame(), 2).cache()
    neg = s.transform_shard(negative, "value")
    assert pd.concat(neg.collect())["value"].sum() == -pd.concat(s.collect())["value"].sum()
    assert s.transform_shard(lambda df: os.getpid()).collect() == [os.getpid()] * 2


def test_init_refuses_bad_arguments():
    with pytest.raises(ValueError, match="backend must be"):
        init("spark")
    with pytest.raises(ValueError, match="num_workers"):
        init("local", num_workers=-1)
    with pytest.raises(ValueError, match="Ray arguments"):
        init("local", num_cpus=2)


def test_importing_chute_imports_neither_ray_nor_pandas(tmp_path):
    code = "import sys, chute, chute.shards; print(sorted({'ray', 'pandas'} & set(sys.modules)))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "ray" not in r.stdout


# ---- selecting, reshaping ------------------------------------------------------------------
def test_getitem_selects_a_column_or_a_key_of_every_shard():
    s = XShards.partition(orca_frame(), 2)
    ids = s["ID"]
    assert all(isinstance(p, pd.Series) for p in ids.collect())
    assert len(ids) == 14
    d = XShards.partition({"x": np.arange(6), "y": np.arange(6) * 2}, 3)
    assert [p.tolist() for p in d["y"].collect()] == [[0, 2], [4, 6], [8, 10]]


@pytest.mark.parametrize("key", ["nope", 7])
def test_a_bad_key_says_invalid_key(key):
    s = XShards.partition(orca_frame(), 2)
    with pytest.raises(KeyError, match="Invalid key for this XShards"):
        s[key]
    with pytest.raises(KeyError, match="Invalid key for this XShards"):
        XShards.partition({"x": np.arange(4)}, 2)[key]


def test_repartition_is_type_aware_and_keeps_the_row_order():
    df = orca_frame()
    s = XShards.partition(df, 3)
    for n in (1, 2, 5):
        r = s.repartition(n)
        assert r.num_partitions() == n
        pd.testing.assert_frame_equal(pd.concat(r.collect()), df)
        assert max(len(p) for p in r.collect()) - min(len(p) for p in r.collect()) <= 1
    a = XShards.partition(np.arange(20).reshape(10, 2), 2).repartition(3).collect()
    assert [len(p) for p in a] == [4, 3, 3] and np.concatenate(a).ravel().tolist() == list(range(20))
    d = XShards.partition({"x": np.arange(9), "y": [np.arange(9) * 2]}, 3).repartition(2).collect()
    assert [p["x"].tolist() for p in d] == [[0, 1, 2, 3, 4], [5, 6, 7, 8]]
    assert d[1]["y"][0].tolist() == [10, 12, 14, 16]
    lists = XShards.from_partitions([[1, 2, 3], [4], [5, 6]]).repartition(2).collect()
    assert lists == [[1, 2, 3], [4, 5, 6]]
    assert XShards.partition(np.arange(2), 2).repartition(3).collect()[2].shape == (0,)  # empty partitions allowed


def test_repartition_refuses_what_has_no_rows():
    with pytest.raises(TypeError, match="cannot be split into rows"):
        XShards.from_partitions([3, 4]).repartition(1)
    with pytest.raises(ValueError, match="num_partitions"):
        XShards.partition(np.arange(4), 2).repartition(0)


def test_repartition_keeps_the_parent_cached_and_the_result_cached():  # Orca's test_repartition
    s = XShards.partition(orca_frame(), 2)
    r = s.repartition(1)
    assert s.is_cached() and r.is_cached() and r.num_partitions() == 1


def test_partition_by_puts_equal_values_together():
    s = XShards.partition(orca_frame(), 3)
    p = s.partition_by(cols="location", num_partitions=4)
    parts = p.collect()
    assert len(parts) == 4 and sum(len(x) for x in parts) == 14
    homes = {}
    for i, part in enumerate(parts):
        for loc in part["location"]:
            assert homes.setdefault(loc, i) == i
    assert set(homes) == {f"loc{i}" for i in range(6)}
    assert s.partition_by(["location", "ID"]).num_partitions() == 3  # default: the current number


def test_partition_by_and_unique_refuse_what_is_not_pandas():
    a = XShards.partition(np.arange(8), 2)
    with pytest.raises(TypeError, match="pandas DataFrame partitions"):
        a.partition_by("x", 2)
    with pytest.raises(TypeError, match=r"no column \['nope'\]"):
        XShards.partition(orca_frame(), 2).partition_by("nope", 2)
    with pytest.raises(TypeError, match="unique\\(\\) works on XShards of pandas Series"):
        a.unique()
    with pytest.raises(TypeError, match="pandas Series"):
        XShards.partition(orca_frame(), 2).unique()


def test_unique_keeps_the_order_of_first_appearance():
    s = XShards.partition(orca_frame(), 4)
    assert s["location"].unique().tolist() == [f"loc{i}" for i in range(6)]


def test_split_gives_one_xshards_per_item():  # Orca's test_split
    s = XShards.partition(orca_frame(), 1)
    a, b = s.transform_shard(lambda df: (df[:-1], df[-1:])).split()
    assert len(a) == 13 and len(b) == 1
    with pytest.raises(ValueError, match="tuple or list of the same length"):
        s.split()
    uneven = XShards.from_partitions([(1, 2), (1, 2, 3)])
    with pytest.raises(ValueError, match=r"\[2, 3\]"):
        uneven.split()


def test_zip_pairs_partitions_and_checks_their_sizes():
    x = XShards.partition(np.arange(6), 2)
    y = XShards.partition(np.arange(6) * 10, 2)
    z = x.zip(y).collect()
    assert [(a.tolist(), b.tolist()) for a, b in z] == [([0, 1, 2], [0, 10, 20]), ([3, 4, 5], [30, 40, 50])]
    with pytest.raises(ValueError, match="2 and 3 partitions"):
        x.zip(XShards.partition(np.arange(6), 3))
    with pytest.raises(ValueError, match="same number of rows"):
        x.zip(XShards.from_partitions([np.arange(2), np.arange(4)]))
    with pytest.raises(TypeError, match="takes an XShards"):
        x.zip([1, 2])


def test_cache_uncache_and_recompute(tmp_path):
    calls = tmp_path / "calls"
    calls.mkdir()

    def counted(a):
        (calls / f"{os.getpid()}-{a[0]}-{len(os.listdir(calls))}").touch()
        return a + 1

    src = XShards.partition(np.arange(4), 2)
    assert src.is_cached()
    plus = src.transform_shard(counted)
    assert not src.is_cached() and plus.is_cached()  # transform_shard uncaches a parent the user did not cache
    assert len(os.listdir(calls)) == 2
    assert [p.tolist() for p in src.collect()] == [[0, 1], [2, 3]]  # made from data: still there
    plus.uncache()
    assert not plus.is_cached()
    assert [p.tolist() for p in plus.collect()] == [[1, 2], [3, 4]]  # recomputed from the parent
    assert len(os.listdir(calls)) == 4
    plus.cache()
    plus.collect()
    plus.collect()
    assert plus.is_cached() and len(os.listdir(calls)) == 6

    kept = XShards.partition(np.arange(4), 2).cache()
    kept.transform_shard(counted)
    assert kept.is_cached()  # the user cached it


def test_shared_value_is_readable_inside_transform_shard():
    table = SharedValue({"loc0": 100, "loc1": 200})
    s = XShards.partition(orca_frame(), 2)
    out = s.transform_shard(lambda df: df["location"].map(table.value).fillna(0).sum())
    assert sum(out.collect()) == 100 * 3 + 200 * 3
    assert table.value["loc1"] == 200


# ---- files ---------------------------------------------------------------------------------
def test_read_csv_json_parquet_one_partition_per_file_group(tmp_path):
    df = orca_frame()
    d = tmp_path / "csv"
    d.mkdir()
    df[:7].to_csv(d / "part-0.csv", index=False)
    df[7:].to_csv(d / "part-1.csv", index=False)
    (d / "_SUCCESS").write_text("")
    (d / ".part-0.csv.crc").write_text("")
    s = read_csv(d)
    assert s.num_partitions() == 2 and all("location" in p.columns for p in s.collect())
    pd.testing.assert_frame_equal(pd.concat(s.collect(), ignore_index=True), df)
    assert read_csv(str(d / "part-1.csv")).collect()[0]["ID"].tolist() == list(range(7, 14))
    assert read_csv([d / "part-0.csv", d / "part-1.csv"], usecols=["ID"]).first().columns.tolist() == ["ID"]

    for i in range(3):
        df.to_json(tmp_path / f"p{i}.json", orient="records", lines=True)
    init("local", num_workers=2)
    j = read_json([tmp_path / f"p{i}.json" for i in range(3)], orient="records", lines=True)
    assert j.num_partitions() == 2 and len(j) == 42  # three files in two groups
    assert [len(p) for p in j.collect()] == [28, 14]

    pq = tmp_path / "pq"
    pq.mkdir()
    df.to_parquet(pq / "a.parquet")
    p = read_parquet(pq, columns=["location", "value"])
    assert p.first().columns.tolist() == ["location", "value"] and len(p) == 14


@pytest.mark.parametrize("reader", [read_csv, read_json, read_parquet])
def test_an_invalid_or_empty_path_says_so(reader, tmp_path):
    with pytest.raises(ValueError, match="The file path is invalid/empty"):
        reader(tmp_path / "missing.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="The file path is invalid/empty"):
        reader(tmp_path / "empty")
    with pytest.raises(ValueError, match="The file path is invalid/empty"):
        reader([])
    with pytest.raises(ValueError, match="The file path is invalid/empty"):
        reader(42)


def test_a_reader_error_names_the_file_group(tmp_path):
    (tmp_path / "a.csv").write_text("x\n1\n")
    (tmp_path / "b.csv").write_bytes(b"")
    with pytest.raises(ShardTransformError, match="read_csv failed on shard 1: EmptyDataError"):
        read_csv(tmp_path)


# ---- chute datasets ------------------------------------------------------------------------
def to_xy(a):
    return {"x": np.stack([a, a * 2], axis=1).astype(np.float32), "y": a.astype(np.int64)}


def test_to_dataset_writes_every_partition_in_order(tmp_path):
    shards = XShards.partition(np.arange(1000), 4).transform_shard(to_xy)
    ds = shards.to_dataset(tmp_path / "ds")
    assert len(ds) == 1000 and sorted(ds.tensors) == ["x", "y"]
    np.testing.assert_array_equal(ds.x.numpy()[:, 1], np.arange(1000) * 2)
    assert ds.y.numpy().ravel().tolist() == list(range(1000))
    again = chute.load(tmp_path / "ds", read_only=True)
    assert again.y.dtype == np.int64 and len(again) == 1000
    # appending to an open dataset
    shards.to_dataset(ds)
    assert len(ds) == 2000 and ds.y.numpy()[1000:].ravel().tolist() == list(range(1000))


def test_to_dataset_on_failure_leaves_the_dataset_as_it_was(tmp_path):
    ds = chute.empty(tmp_path / "ds")
    ds.create_tensor("x", dtype="float32")
    ds.create_tensor("y", dtype="int64")
    ds.extend({"x": np.ones((5, 2), np.float32), "y": np.arange(5)})
    ds.flush()
    files = sorted(p.relative_to(tmp_path) for p in (tmp_path / "ds").rglob("*"))
    # shard 2's rows have another number of dimensions: the executor fails while writing
    parts = [to_xy(np.arange(k * 10, k * 10 + 10)) for k in range(4)]
    parts[2]["x"] = parts[2]["x"][:, :, None]
    with pytest.raises(chute.ChuteError):
        XShards.from_partitions(parts).to_dataset(ds)
    assert len(ds) == 5 and ds.x.numpy().tolist() == [[1.0, 1.0]] * 5
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "ds").rglob("*")) == files
    reopened = chute.load(tmp_path / "ds", read_only=True)
    assert len(reopened) == 5 and reopened.y.numpy().ravel().tolist() == list(range(5))


def test_to_dataset_on_failure_removes_the_dataset_it_created(tmp_path):
    parts = [to_xy(np.arange(10)), to_xy(np.arange(10))]
    parts[1]["x"] = parts[1]["x"][:, :, None]
    with pytest.raises(chute.ChuteError):
        XShards.from_partitions(parts).to_dataset(tmp_path / "new")
    assert not chute.exists(tmp_path / "new")
    with pytest.raises(TypeError, match="shard 0 is a ndarray"):
        XShards.from_partitions([np.arange(3)]).to_dataset(tmp_path / "new")
    assert not chute.exists(tmp_path / "new")


SPAWNED = textwrap.dedent("""
    import numpy as np
    from chute.shards import ShardTransformError, XShards, init
    init("local", num_workers=2)
    s = XShards.partition({"x": np.arange(4_000_000)}, 2)
    out = s["x"].transform_shard(np.cumsum).collect()
    assert int(out[1][-1]) == sum(range(2_000_000, 4_000_000)), out[1][-1]
    try:
        s.transform_shard(lambda d: d)
    except ShardTransformError as e:
        assert "cannot be pickled" in str(e) and "module level" in str(e), e
        print("OK")
""")


def test_spawned_workers_run_module_level_functions_and_explain_lambdas(tmp_path):
    env = {**os.environ, "CHUTE_MP_START_METHOD": "spawn"}
    r = subprocess.run([sys.executable, "-c", SPAWNED], capture_output=True, text=True, cwd=tmp_path, env=env,
                       timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "OK", r.stderr[-3000:]


@pytest.mark.parametrize("parts, error, match", [
    ([np.arange(3)], TypeError, "shard 0 is a ndarray"),
    ([{"x": np.arange(3)}, {"x": np.array(["a", "b"])}], TypeError, "shard 1 is a dict whose 'x'"),
    ([{"x": np.arange(3)}, {"z": np.arange(3)}], ValueError, "same keys"),
    ([{"x": np.arange(3)}, {"x": np.arange(3.0)}], TypeError, "different dtypes"),
    ([{"x": np.arange(3), "y": np.arange(2)}], TypeError, "different lengths"),
    ([{"y": np.arange(3.0)}], TypeError, "has dtype int64"),
])
def test_to_dataset_refuses_what_it_cannot_write_before_writing(parts, error, match, tmp_path):
    ds = chute.empty(tmp_path / "ds")
    ds.create_tensor("y", dtype="int64")
    ds.y.extend(np.arange(3))
    with pytest.raises(error, match=match):
        XShards.from_partitions(parts).to_dataset(ds)
    assert list(ds.tensors) == ["y"] and len(ds) == 3


def chunked_dataset(path, rows=1000):
    ds = chute.empty(path)
    ds.create_tensor("x", dtype="float32", max_chunk_size=4000)
    ds.create_tensor("label", dtype="int64")
    ds.extend({"x": np.arange(rows * 8, dtype=np.float32).reshape(rows, 8), "label": np.arange(rows)})
    ds.flush()
    return ds


def test_from_dataset_gives_chunk_aligned_partitions(tmp_path):
    ds = chunked_dataset(tmp_path / "ds")
    if not hasattr(tensor_core(ds.x), "chunk_ends"):
        pytest.skip("this build of the engine does not expose chunk_ends (rows are then split evenly)")
    ends = set(tensor_core(ds.x).chunk_ends().tolist())
    assert len(ends) > 4
    s = XShards.from_dataset(tmp_path / "ds", num_shards=4)
    parts = s.collect()
    assert len(parts) == 4 and len(s) == 1000
    stop = 0
    for p in parts:
        stop += len(p["label"])
        assert stop in ends or stop == 1000  # every partition ends where a chunk ends
    np.testing.assert_array_equal(np.concatenate([p["x"] for p in parts]), ds.x.numpy())
    assert np.concatenate([p["label"] for p in parts]).ravel().tolist() == list(range(1000))
    only = XShards.from_dataset(ds, tensors=["label"], num_shards=2).first()
    assert list(only) == ["label"]
    # more shards than chunks: one per chunk at most
    assert XShards.from_dataset(ds, num_shards=1000).num_partitions() == len(ends)
    # and back: shards of dicts of arrays round-trip
    s.to_dataset(tmp_path / "copy")
    np.testing.assert_array_equal(chute.load(tmp_path / "copy").x.numpy(), ds.x.numpy())
    # rows appended and not yet published are flushed for the workers
    with ds:
        ds.extend({"x": np.zeros((3, 8), np.float32), "label": np.array([7, 8, 9])})
        late = XShards.from_dataset(ds, num_shards=2)
        assert len(late) == 1003 and late.collect()[-1]["label"].ravel()[-3:].tolist() == [7, 8, 9]


def test_from_dataset_refuses_bad_input(tmp_path):
    ds = chunked_dataset(tmp_path / "ds", rows=10)
    with pytest.raises(KeyError, match="no tensors \\['nope'\\]"):
        XShards.from_dataset(ds, tensors=["nope"])
    with pytest.raises(ValueError, match="not a view"):
        XShards.from_dataset(ds[2:5])
    with pytest.raises(chute.DatasetNotFoundError):
        XShards.from_dataset(tmp_path / "missing")
    empty = chute.empty(tmp_path / "empty")
    empty.create_tensor("x")
    with pytest.raises(ValueError, match="no rows"):
        XShards.from_dataset(empty)


# ---- Ray -----------------------------------------------------------------------------------
@pytest.mark.ray
def test_the_seed_runs_on_ray(ray_backend, tmp_path):
    ray = ray_backend
    check_seed(tmp_path)
    s = XShards.partition(np.arange(10), 3)
    assert s.backend == "ray" and all(isinstance(r, ray.ObjectRef) for r in s._partitions())


@pytest.mark.ray
def test_auto_picks_ray_when_connected_and_an_xshards_keeps_its_backend(ray_backend):
    init("local")
    assert init("auto").name == "ray"
    on_ray = XShards.partition(np.arange(4), 2)
    init("local")
    on_local = XShards.partition(np.arange(4), 2)
    assert on_ray.backend == "ray" and on_local.backend == "local"
    assert [p.tolist() for p in on_ray.transform_shard(lambda a: a * 2).collect()] == [[0, 2], [4, 6]]
    with pytest.raises(ValueError, match="different backends"):
        on_ray.zip(on_local)


@pytest.mark.ray
def test_every_operation_on_ray(ray_backend):
    df = orca_frame()
    s = XShards.partition(df, 3)
    table = SharedValue(1000)
    plus = s.transform_shard(lambda d, k: d["value"] + k + table.value, 1)
    assert pd.concat(plus.collect()).tolist() == [10 * i + 1001 for i in range(14)]
    pd.testing.assert_frame_equal(pd.concat(s.repartition(2).collect()), df)
    by = s.partition_by("location", 4).collect()
    assert len(by) == 4 and sum(map(len, by)) == 14
    assert s["location"].unique().tolist() == [f"loc{i}" for i in range(6)]
    a, b = s.transform_shard(lambda d: (d[:-1], d[-1:])).split()
    assert len(a) == 11 and len(b) == 3
    with pytest.raises(KeyError, match="Invalid key for this XShards"):
        s["nope"]
    z = s["ID"].zip(s["value"]).first()
    assert z[0].tolist() == [0, 1, 2, 3, 4] and z[1].tolist() == [0, 10, 20, 30, 40]
    assert len(s.take(2)) == 2 and s.num_partitions() == 3 and len(s) == 14


class Unpicklable:
    def __reduce__(self):
        raise TypeError("cannot travel")


def fail_to_unpickle(a):
    return a


@pytest.mark.ray
def test_a_task_ray_cannot_run_names_the_shard(ray_backend):
    s = XShards.from_partitions([np.arange(2), np.arange(3)])
    with pytest.raises(TypeError, match="Could not serialize the argument"):
        s.transform_shard(fail_to_unpickle, Unpicklable())


@pytest.mark.ray
def test_a_ray_task_whose_worker_dies_names_the_shard(ray_backend):
    init("ray", ray_remote_args={"max_retries": 0})
    with pytest.raises(ShardTransformError, match="failed on shard 1: Ray could not run the task"):
        XShards.partition(np.arange(4), 2).transform_shard(lambda a: os._exit(1) if a[0] == 2 else a)


@pytest.mark.ray
def test_an_error_in_a_ray_task_names_the_shard_with_its_traceback(ray_backend):
    with pytest.raises(ShardTransformError) as e:
        XShards.partition(np.arange(10), 4).transform_shard(fail_on_late_shards)
    assert e.value.index == 2 and "no rows from 6" in str(e.value)
    assert "fail_on_late_shards" in e.value.remote_traceback


@pytest.mark.ray
def test_datasets_with_ray(ray_backend, tmp_path):
    chunked_dataset(tmp_path / "ds")
    s = XShards.from_dataset(tmp_path / "ds", num_shards=3)
    assert s.backend == "ray" and s.num_partitions() == 3 and len(s) == 1000
    s.transform_shard(lambda d: {"x": d["x"] * 2, "label": d["label"]}).to_dataset(tmp_path / "out")
    out = chute.load(tmp_path / "out", read_only=True)
    np.testing.assert_array_equal(out.x.numpy(), np.arange(8000, dtype=np.float32).reshape(1000, 8) * 2)


@pytest.mark.ray
def test_to_and_from_ray_data(ray_backend):
    df = orca_frame()
    rd = XShards.partition(df, 2).to_ray_dataset()
    assert rd.count() == 14 and sorted(rd.columns()) == sorted(df.columns)
    back = XShards.from_ray_dataset(rd)
    pd.testing.assert_frame_equal(pd.concat(back.collect(), ignore_index=True), df)
    t = XShards.partition({"img": np.arange(10 * 4).reshape(10, 2, 2), "y": np.arange(10)}, 2).to_ray_dataset()
    rows = t.take_all()
    assert len(rows) == 10 and rows[3]["img"].tolist() == [[12, 13], [14, 15]] and rows[3]["y"] == 3
    assert XShards.partition(np.arange(6), 3).to_ray_dataset().count() == 6
    # a local XShards goes to Ray too
    init("local")
    assert XShards.partition(df, 2).to_ray_dataset().count() == 14
    assert XShards.from_ray_dataset(rd).backend == "local"
    with pytest.raises(TypeError, match="one kind for all"):
        XShards.from_partitions([[1], [2]]).to_ray_dataset()
    with pytest.raises(TypeError, match="takes a ray.data.Dataset"):
        XShards.from_ray_dataset(df)


MULTI_NODE = textwrap.dedent("""
    import json, os, threading, time
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    import numpy as np, pandas as pd, ray
    from ray.cluster_utils import Cluster
    from chute.shards import XShards, init

    # fast node-death detection, so the retry happens within the test's time
    fast = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 200, "health_check_failure_threshold": 3}
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False,
                                                             "_system_config": fast})
    worker = cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, log_to_driver=False)
    cluster.wait_for_nodes()
    init("ray", ray_remote_args={"scheduling_strategy": "SPREAD", "max_retries": 5})
    result = {"nodes": [n["NodeID"] for n in ray.nodes() if n["Alive"]]}

    def where(df, pause):
        time.sleep(pause)
        out = df.copy()
        out["v2"] = out["v"] * 2
        out["node"] = ray.get_runtime_context().get_node_id()
        return out

    s = XShards.partition(pd.DataFrame({"v": np.arange(800)}), 8)
    first = pd.concat(s.transform_shard(where, 0.2).collect())
    result["first_nodes"] = sorted(set(first["node"]))
    result["first_ok"] = first["v2"].tolist() == list(range(0, 1600, 2))

    def kill():
        time.sleep(0.7)
        cluster.remove_node(worker, allow_graceful=False)
        result["killed_at"] = time.time()
    killer = threading.Thread(target=kill)
    start = time.time()
    killer.start()
    try:
        second = pd.concat(s.transform_shard(where, 0.5).collect())
        result["second_ok"] = (second["v"].tolist() == list(range(800))
                               and second["v2"].tolist() == list(range(0, 1600, 2)))
        result["error"] = None
    except Exception as e:  # acceptable only as a clear error
        result["error"] = f"{type(e).__name__}: {e}"
    result["finished_at"] = time.time()
    killer.join()
    result["started_at"] = start

    # chute.ray.read on both nodes, then with the (re-added) worker node killed mid-read
    import chute
    worker = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ds = chute.empty("multi.chute", overwrite=True)
    ds.create_tensor("x", dtype="int64", max_chunk_size=4000)  # ~60 chunks
    with ds:
        ds.x.extend(np.arange(30_000).reshape(-1, 1))

    def tag(batch, pause):
        time.sleep(pause)
        return {"x": batch["x"][:, 0], "node": np.array([ray.get_runtime_context().get_node_id()] * len(batch["x"]))}

    spread = {"scheduling_strategy": "SPREAD"}
    ray.data.DataContext.get_current().execution_options.preserve_order = True
    rows = chute.ray.read("multi.chute", override_num_blocks=8, ray_remote_args=spread).map_batches(
        tag, fn_args=(0.2,)).take_all()
    result["read_ok"] = [int(r["x"]) for r in rows] == list(range(30_000))
    result["read_nodes"] = sorted({r["node"] for r in rows})
    result["read_alive"] = [n["NodeID"] for n in ray.nodes() if n["Alive"]]

    def kill_again():
        time.sleep(0.7)
        cluster.remove_node(worker, allow_graceful=False)
        result["read_killed_at"] = time.time()
    killer = threading.Thread(target=kill_again)
    killer.start()
    try:
        rows = chute.ray.read("multi.chute", override_num_blocks=8, ray_remote_args=spread).map_batches(
            tag, fn_args=(0.5,)).take_all()
        result["read2_ok"] = [int(r["x"]) for r in rows] == list(range(30_000))
        result["read_error"] = None
    except Exception as e:  # acceptable only as a clear error
        result["read_error"] = f"{type(e).__name__}: {e}"
    result["read_finished_at"] = time.time()
    killer.join()
    print("RESULT " + json.dumps(result), flush=True)
    ray.shutdown()
    cluster.shutdown()
""")


@pytest.mark.ray
def test_two_node_cluster_runs_on_both_nodes_and_survives_a_killed_worker_node(tmp_path):
    pytest.importorskip("ray")
    script = tmp_path / "multi_node.py"
    script.write_text(MULTI_NODE)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=240,
                       env=env)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")]
    assert r.returncode == 0 and lines, f"rc={r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    res = json.loads(lines[-1][len("RESULT "):])
    assert len(res["nodes"]) == 2
    assert res["first_ok"] and sorted(res["first_nodes"]) == sorted(res["nodes"])  # tasks on both nodes
    assert res["killed_at"] < res["finished_at"]  # the node died mid-job
    if res["error"] is None:
        assert res["second_ok"]  # Ray retried the lost tasks: complete and in order
    else:
        assert "shard" in res["error"] or "node" in res["error"].lower(), res["error"]
    # chute.ray.read: read tasks on both nodes, every row in order; a node killed mid-read loses nothing silently
    assert res["read_ok"] and res["read_nodes"] == sorted(res["read_alive"]) and len(res["read_alive"]) == 2
    assert res["read_killed_at"] < res["read_finished_at"]
    if res["read_error"] is None:
        assert res["read2_ok"]
    else:
        assert "node" in res["read_error"].lower() or "died" in res["read_error"].lower(), res["read_error"]
