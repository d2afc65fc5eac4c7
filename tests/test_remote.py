"""Datasets in an S3-compatible object store (moto on 127.0.0.1, IAM signatures checked), read and
written by the engine: round trips, the loader, queries, compute, ingest, the CLI, locking, a killed
writer, injected faults and bad input."""
import os
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
from conftest import jpeg_bytes

import chute
from chute import ops
from chute._internal.handle import dataset_handle
from chute.errors import DatasetNotFoundError

HERE = os.path.dirname(os.path.abspath(__file__))


def fill(ds, photos, n=40):
    """Every kind of tensor: JPEG and PNG images, a tiled image, labels, text, json, lz4 chunks, bboxes."""
    ds.create_tensor("images", htype="image", sample_compression="jpeg", max_chunk_size=200_000)
    ds.create_tensor("masks", htype="image", sample_compression="png")
    ds.create_tensor("big", htype="image", sample_compression=None, tiling_threshold=100_000, max_chunk_size=200_000)
    ds.create_tensor("labels", htype="class_label", class_names=["a", "b", "c"])
    ds.create_tensor("text", htype="text")
    ds.create_tensor("meta", htype="json")
    ds.create_tensor("vec", dtype="float32", chunk_compression="lz4", max_chunk_size=20_000)
    ds.create_tensor("boxes", htype="bbox")
    rng = np.random.default_rng(0)
    with ds:
        for i in range(n):
            p = photos[i % len(photos)]
            y, x = rng.integers(0, 100, 2)
            crop = np.ascontiguousarray(p[y:y + 64 + i, x:x + 80])
            ds.append({
                "images": chute.read_bytes(jpeg_bytes(crop)) if hasattr(chute, "read_bytes") else crop,
                "masks": (crop[..., :1] > 128).astype(np.uint8) * 255,
                "big": np.ascontiguousarray(p[:200, :200]) if i % 10 == 0 else crop,
                "labels": i % 3,
                "text": f"sample {i} " + "é" * (i % 5),
                "meta": {"i": i, "tags": ["x"] * (i % 3)},
                "vec": rng.standard_normal(100 + i).astype(np.float32),
                "boxes": rng.random((i % 4, 4)).astype(np.float32),
            })


def same(a, b):
    for name in a.tensors:
        ta, tb = a[name], b[name]
        assert len(ta) == len(tb), name
        for i in range(len(ta)):
            va, vb = ta[i].numpy(), tb[i].numpy()
            if isinstance(va, np.ndarray):
                np.testing.assert_array_equal(va, vb, err_msg=f"{name}[{i}]")
            else:
                assert va == vb, (name, i)


@pytest.fixture
def bucket(s3):
    return s3.bucket()


def test_every_htype_round_trips_and_matches_a_local_copy(s3, bucket, tmp_path, photos):
    url = f"s3://{bucket}/datasets/mixed"
    remote = chute.empty(url, creds=s3.creds())
    fill(remote, photos)
    local = chute.empty(str(tmp_path / "mixed"))
    fill(local, photos)
    back = chute.load(url, read_only=True, creds=s3.creds())
    assert back.read_only and len(back) == 40
    assert list(back.tensors) == list(local.tensors)
    core = dataset_handle(back).core
    chute._core.reset_storage_stats(core)
    np.testing.assert_array_equal(np.concatenate([a.ravel() for a in back.vec.numpy(aslist=True)]),
                                  np.concatenate([a.ravel() for a in local.vec.numpy(aslist=True)]))
    chunks = len(set(core.tensor("vec").chunk_ends()))
    assert chute._core.storage_stats(core)["gets"] == chunks, "one GET per chunk for a whole-tensor read"
    same(local, back)
    assert back.labels.info.class_names == ["a", "b", "c"]
    # the objects are Deep Lake 3's files, under the prefix
    keys = s3.keys(bucket, "datasets/mixed/")
    assert "datasets/mixed/dataset_meta.json" in keys
    assert "datasets/mixed/images/chunks_index/unsharded" in keys
    assert any(k.startswith("datasets/mixed/big/tiles_index") for k in keys)
    assert not any(".tmp" in k for k in keys), "temp objects left behind after the flush"


def test_appending_to_a_remote_dataset_keeps_earlier_rows(s3, bucket):
    url = f"s3://{bucket}/grow"
    ds = chute.empty(url, creds=s3.creds())
    ds.create_tensor("x", dtype="int64", max_chunk_size=1000)
    for k in range(3):
        ds.x.extend(np.arange(k * 100, (k + 1) * 100))
    del ds
    ds = chute.load(url, creds=s3.creds())
    ds.x.extend(np.arange(300, 350))
    back = chute.load(url, read_only=True, creds=s3.creds())
    np.testing.assert_array_equal(back.x.numpy().ravel(), np.arange(350))


def test_loader_gives_the_same_batches_as_from_local_disk(s3, bucket, tmp_path, photos):
    url = f"s3://{bucket}/loader"
    remote = chute.empty(url, creds=s3.creds())
    fill(remote, photos, n=60)
    local = chute.empty(str(tmp_path / "l"))
    fill(local, photos, n=60)

    def run(ds, shuffle=False):
        loader = (ds.dataloader().batch(8).shuffle(shuffle).seed(7)
                  .transform({"images": ops.Compose([ops.Resize((32, 32)), ops.RandomHorizontalFlip()]),
                              "labels": None, "text": None, "vec": None})
                  .numpy(num_threads=2))
        return [b for b in loader]

    back = chute.load(url, read_only=True, creds=s3.creds())
    a, b = run(local), run(back)
    assert len(a) == len(b) == 8
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x["index"], y["index"])
        np.testing.assert_array_equal(x["images"], y["images"])
        np.testing.assert_array_equal(x["labels"], y["labels"])
        assert list(x["text"]) == list(y["text"])
        for u, v in zip(x["vec"], y["vec"]):
            np.testing.assert_array_equal(u, v)
    # shuffled: chunk-local in an object store, still every row once and a pure function of the seed
    s1, s2 = run(back, True), run(back, True)
    order = np.concatenate([x["index"] for x in s1])
    assert sorted(order.tolist()) == list(range(60)) and order.tolist() != list(range(60))
    np.testing.assert_array_equal(order, np.concatenate([x["index"] for x in s2]))
    by_row = {int(i): img for x in a for i, img in zip(x["index"], x["images"])}
    for x in s1:
        for i, img in zip(x["index"], x["images"]):
            if i % 5 == 0:  # RandomHorizontalFlip draws per (seed, epoch, row): the same row, the same image
                np.testing.assert_array_equal(img, by_row[int(i)])


def test_query_on_a_remote_dataset(s3, bucket, photos):
    url = f"s3://{bucket}/q"
    ds = chute.empty(url, creds=s3.creds())
    fill(ds, photos, n=30)
    back = chute.load(url, read_only=True, creds=s3.creds())
    view = back.query("select * where labels == 'b' and contains(text, '1')")
    want = [i for i in range(30) if i % 3 == 1 and "1" in f"sample {i} "]
    assert list(view.sample_indices) == want
    assert [view.text[i].numpy() for i in range(len(view))] == [f"sample {i} " + "é" * (i % 5) for i in want]


@pytest.mark.parametrize("scheduler", ["threaded", "processed"])
def test_compute_writes_a_remote_ds_out(s3, bucket, scheduler):
    @chute.compute
    def square(x, out):
        out.y.append(np.int64(x) ** 2)

    url = f"s3://{bucket}/compute-{scheduler}"
    out = chute.empty(url, creds=s3.creds())
    out.create_tensor("y", dtype="int64", max_chunk_size=400)
    square().eval(list(range(500)), out, num_workers=2, scheduler=scheduler)
    back = chute.load(url, read_only=True, creds=s3.creds())
    np.testing.assert_array_equal(back.y.numpy().ravel(), np.arange(500) ** 2)
    keys = [k for k in s3.keys(bucket, f"compute-{scheduler}/y/chunks/")]
    assert len(keys) == len(set(dataset_handle(back).core.tensor("y").chunk_ends())), "orphan chunks left"


def test_ingest_and_cli_on_s3(s3, bucket, image_folder):
    url = f"s3://{bucket}/ingested"
    ds = chute.ingest_classification(str(image_folder), url, dest_creds=s3.creds(), progressbar=False, summary=False)
    assert len(ds) == 18 and ds.labels.info.class_names == ["cat", "dog", "fish"]
    env = dict(os.environ, AWS_ACCESS_KEY_ID=s3.access_key, AWS_SECRET_ACCESS_KEY=s3.secret_key,
               AWS_ENDPOINT_URL=s3.endpoint, AWS_REGION="us-east-1")
    r = subprocess.run([sys.executable, "-m", "chute.cli", "info", url], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert "18" in r.stdout and "images" in r.stdout
    assert s3.secret_key not in r.stdout + r.stderr


def test_a_second_writer_is_refused_and_a_reader_opens(s3, bucket):
    url = f"s3://{bucket}/locked"
    ds = chute.empty(url, creds=s3.creds())
    ds.create_tensor("x", dtype="int32")
    ds.x.append(1)
    code = ("import chute, sys, warnings\n"
            "c = dict(aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3], endpoint_url=sys.argv[4])\n"
            "try:\n    chute.load(sys.argv[1], read_only=False, creds=c)\n    print('opened')\n"
            "except chute.errors.DatasetLockedError as e:\n    print('locked', e)\n"
            "with warnings.catch_warnings(record=True) as w:\n    warnings.simplefilter('always')\n"
            "    r = chute.load(sys.argv[1], creds=c)\n    print('reader', r.read_only, len(r), len(w))\n")
    args = [sys.executable, "-c", code, url, s3.access_key, s3.secret_key, s3.endpoint]
    out = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"locked dataset '{url}' is open for writing in another process (pid {os.getpid()}" in out.stdout
    assert "reader True 1 1" in out.stdout
    del ds
    import gc

    gc.collect()
    out = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert "opened" in out.stdout, out.stdout + out.stderr


def test_a_killed_remote_writer_leaves_its_last_flush(s3, bucket):
    url = f"s3://{bucket}/crash"
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""),
               AWS_ACCESS_KEY_ID=s3.access_key, AWS_SECRET_ACCESS_KEY=s3.secret_key, AWS_ENDPOINT_URL=s3.endpoint)
    from crash_writer import row

    flushed = 0
    for delay in (0.3, 0.9, 1.5):
        proc = subprocess.Popen([sys.executable, os.path.join(HERE, "crash_writer.py"), url, "3"],
                                stdout=subprocess.PIPE, text=True, env=env)
        assert proc.stdout.readline().startswith("start")
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        lines = [x for x in out.splitlines() if x.startswith("flushed")]
        if lines:
            flushed = max(flushed, int(lines[-1].split()[1]))
        ds = chute.load(url, read_only=True, creds=s3.creds())
        n = len(ds)
        assert n >= flushed and n % 3 == 0
        for i in (0, n // 2, n - 1) if n else ():
            want = row(i)
            np.testing.assert_array_equal(ds.images[i].numpy(), want["images"])
            assert ds.text[i].numpy() == want["text"]
        flushed = n
    assert flushed > 0, "the writer never flushed"
    # the dead writer's lock does not keep the next writer out
    ds = chute.load(url, read_only=False, creds=s3.creds())
    ds.append(row(flushed))
    assert len(chute.load(url, read_only=True, creds=s3.creds())) == flushed + 1


def test_faults_are_retried_and_the_loader_output_is_unchanged(s3, s3_proxy, bucket, photos):
    url = f"s3://{bucket}/faults"
    ds = chute.empty(url, creds=s3.creds())
    fill(ds, photos, n=40)

    def run():
        back = chute.load(url, read_only=True, creds=dict(s3.creds(s3_proxy.endpoint), backoff_base=0.005))
        loader = back.dataloader().batch(10).shuffle().seed(3).numpy(num_threads=2, tensors=["images", "labels", "vec"])
        return [b for b in loader]

    clean = run()
    for faults in ({"latency_ms": 20}, {"latency_ms": 100}, {"drop_every": 4}, {"slowdown_every": 3}, {"truncate_every": 3},
                   {"drop_every": 7, "slowdown_every": 5, "truncate_every": 3, "latency_ms": 5}):
        s3_proxy.faults.set(**faults)
        try:
            got = run()
        finally:
            injected = dict(s3_proxy.faults.injected)
            s3_proxy.faults.set()
        assert sum(injected.values()) > 0 or "latency_ms" in faults and len(faults) == 1, faults
        assert len(got) == len(clean)
        for x, y in zip(clean, got):
            np.testing.assert_array_equal(x["index"], y["index"])
            np.testing.assert_array_equal(x["labels"], y["labels"])
            for u, v in zip(x["images"], y["images"]):
                np.testing.assert_array_equal(u, v)


def test_a_fault_that_persists_names_the_object_and_the_status(s3, s3_proxy, bucket):
    url = f"s3://{bucket}/slow"
    ds = chute.empty(url, creds=s3.creds())
    ds.create_tensor("x", dtype="int32")
    ds.x.extend(np.arange(10, dtype=np.int32))
    creds = dict(s3.creds(s3_proxy.endpoint), backoff_base=0.005, max_attempts=3)
    back = chute.load(url, read_only=True, creds=creds)
    s3_proxy.faults.set(slowdown_every=1, only_method="GET", persistent=True)
    try:
        t = time.time()
        with pytest.raises(OSError) as e:
            back.x.numpy()
        assert time.time() - t < 10
    finally:
        s3_proxy.faults.set()
    msg = str(e.value)
    assert f"{url}/x/chunks/" in msg and "HTTP 503 SlowDown" in msg and "3 attempts" in msg, msg


def test_bad_input_gets_clear_errors(s3, bucket):
    creds = s3.creds()
    with pytest.raises(OSError, match="the bucket 'no-such-bucket' does not exist"):
        chute.load("s3://no-such-bucket/x", creds=creds)
    with pytest.raises(OSError, match="access denied") as e:
        chute.load(f"s3://{bucket}/x", creds=dict(creds, aws_secret_access_key="wrong-secret"))
    assert "wrong-secret" not in str(e.value)
    t = time.time()
    with pytest.raises(OSError, match="cannot reach http://127.0.0.1:9"):
        chute.load(f"s3://{bucket}/x", creds=dict(creds, endpoint_url="http://127.0.0.1:9"))
    assert time.time() - t < 5, "an unreachable endpoint must fail fast"
    with pytest.raises(DatasetNotFoundError, match="no dataset at"):
        chute.load(f"s3://{bucket}/nothing-here", creds=creds)
    s3.s3.put_object(Bucket=bucket, Key="notads/readme.txt", Body=b"hello")
    with pytest.raises(DatasetNotFoundError):
        chute.load(f"s3://{bucket}/notads", creds=creds)
    with pytest.raises(chute.errors.DatasetAlreadyExistsError, match="holds objects and is not a dataset"):
        chute.empty(f"s3://{bucket}/notads", creds=creds)
    assert s3.keys(bucket, "notads/") == ["notads/readme.txt"], "a refused create must not touch the prefix"
    with pytest.raises(ValueError, match="unknown creds key"):
        chute.load(f"s3://{bucket}/x", creds=dict(creds, aws_secret="x"))
    with pytest.raises(ValueError, match="not a valid bucket name"):
        chute.load("s3://A_B/x", creds=creds)
    with pytest.raises(ValueError, match="only local paths and s3:// URLs"):
        chute.load("gcs://bucket/x")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not chute.exists(f"s3://{bucket}/nothing-here", creds=creds)


def test_credentials_from_the_environment_and_a_profile(s3, bucket, tmp_path, monkeypatch):
    url = f"s3://{bucket}/envcreds"
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.secret_key)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.endpoint)
    ds = chute.empty(url)
    ds.create_tensor("x", dtype="int32")
    ds.x.append(5)
    del ds
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    (tmp_path / "credentials").write_text(f"[other]\naws_access_key_id = {s3.access_key}\n"
                                          f"aws_secret_access_key = {s3.secret_key}\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    assert chute.load(url, read_only=True, creds={"profile_name": "other"}).x.numpy().ravel().tolist() == [5]
    monkeypatch.setenv("AWS_PROFILE", "other")
    assert len(chute.load(url, read_only=True)) == 1
    ds = chute.load(url, read_only=True)
    assert s3.secret_key not in repr(ds) and s3.secret_key not in repr(dataset_handle(ds).storage_options())


def test_multipart_uploads_above_the_threshold(s3, bucket):
    url = f"s3://{bucket}/multipart"
    creds = dict(s3.creds(), multipart_threshold=6 << 20, multipart_part_size=5 << 20)
    ds = chute.empty(url, creds=creds)
    ds.create_tensor("blob", dtype="uint8", max_chunk_size=16 << 20, tiling_threshold=-1)
    data = np.random.default_rng(0).integers(0, 256, 13 << 20, dtype=np.uint8)
    ds.blob.append(data)
    back = chute.load(url, read_only=True, creds=s3.creds())
    np.testing.assert_array_equal(back.blob[0].numpy(), data)


def test_shuffled_remote_epochs_read_each_chunk_once_and_resume(s3, bucket):
    url = f"s3://{bucket}/economy"
    ds = chute.empty(url, creds=s3.creds())
    ds.create_tensor("x", dtype="int64", max_chunk_size=8_000)   # 500 rows a chunk, 40 chunks
    ds.create_tensor("labels", htype="class_label", class_names=[str(k) for k in range(10)])
    with ds:
        ds.x.extend(np.arange(20_000))
        ds.labels.extend((np.arange(20_000) // 2_000).astype(np.uint32))  # sorted by class, as an ingest without shuffle
    back = chute.load(url, read_only=True, creds=s3.creds())
    chunks = len(dataset_handle(back).core.tensor("x").chunk_ends())
    core = dataset_handle(back).core
    chute._core.reset_storage_stats(core)
    loader = back.dataloader().batch(100).shuffle(buffer_size=1).seed(11).numpy(num_threads=2)
    seen = []
    for k, b in enumerate(loader):
        np.testing.assert_array_equal(b["x"].ravel(), b["index"])
        seen.append(b["index"])
        if k == 49:
            state = loader.state_dict()
    gets = chute._core.storage_stats(core)["gets"]
    order = np.concatenate(seen)
    assert sorted(order.tolist()) == list(range(20_000))
    assert gets <= chunks + 4 + 4, f"{gets} GETs for {chunks} + 4 chunks"   # x and labels chunks, once each
    assert len(set(order[:1000] // 2_000)) >= 2, "the first batches come from one class only"
    # resumable: a new loader from the state of batch 50 gives the rest of the epoch
    again = back.dataloader().batch(100).shuffle(buffer_size=1).seed(11).numpy(num_threads=2)
    again.load_state_dict(state)
    rest = np.concatenate([b["index"] for b in again])
    np.testing.assert_array_equal(rest, order[5_000:])


def test_the_disk_cache_makes_the_second_epoch_local(s3, bucket, tmp_path, monkeypatch, photos):
    monkeypatch.setenv("CHUTE_CACHE_DIR", str(tmp_path / "cache"))
    url = f"s3://{bucket}/cached"
    ds = chute.empty(url, creds=s3.creds())
    fill(ds, photos, n=30)

    def epoch():  # a new open each time: its memory cache is empty, the disk cache is not
        back = chute.load(url, read_only=True, creds=s3.creds(), local_cache_size=64)
        core = dataset_handle(back).core
        chute._core.reset_storage_stats(core)
        out = [b for b in back.dataloader().batch(10).numpy(num_threads=2, tensors=["images", "labels"])]
        return out, chute._core.storage_stats(core)

    first, s1 = epoch()
    second, s2 = epoch()
    assert s1["gets"] > 0 and s2["gets"] == 0 and s2["cache_hits"] > 0
    for a, b in zip(first, second):
        for u, v in zip(a["images"], b["images"]):
            np.testing.assert_array_equal(u, v)
    cached = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert cached and all("/chunks/" in str(p) for p in cached)
    # a small bound keeps the folder small
    tiny = chute.load(url, read_only=True, creds=s3.creds(), local_cache_size=1)
    tiny.images.numpy(aslist=True)
    total = sum(p.stat().st_size for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert total <= 1 << 20


def test_chute_bench_reads_an_s3_dataset(s3, bucket, photos):
    import json
    import shutil

    url = f"s3://{bucket}/bench"
    ds = chute.empty(url, creds=s3.creds())
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.images.extend([p[:200, :200] for p in photos] * 3)
    exe = shutil.which("chute-bench", path=os.path.dirname(sys.executable))
    env = dict(os.environ, AWS_ACCESS_KEY_ID=s3.access_key, AWS_SECRET_ACCESS_KEY=s3.secret_key,
               AWS_ENDPOINT_URL=s3.endpoint)
    r = subprocess.run([exe, url, "-t", "2", "--rrc", "64"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["samples"] == 12 and out["samples_per_s"] > 0
    r = subprocess.run([exe, url], env=dict(env, AWS_SECRET_ACCESS_KEY="nope"), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 1 and "access denied" in r.stderr and "nope" not in r.stderr


def test_a_writer_whose_lock_was_taken_publishes_nothing(s3, bucket):
    import json as _json

    url = f"s3://{bucket}/takeover"
    ds = chute.empty(url, creds=s3.creds())
    ds.create_tensor("x", dtype="int32")
    ds.x.append(1)
    # another writer took the lock over (as after this one stalled past the expiry)
    s3.s3.put_object(Bucket=bucket, Key="takeover/.chute_lock", Body=_json.dumps(
        {"owner": "someone-else", "pid": 1, "host": "elsewhere", "expires": int(time.time()) + 300}).encode())
    with pytest.raises(chute.errors.DatasetLockedError, match="pid 1 on elsewhere"):
        with ds:
            ds.x.append(2)
    assert chute.load(url, read_only=True, creds=s3.creds()).x.numpy().ravel().tolist() == [1]


def test_temporary_credentials_and_virtual_hosted_addressing(s3, bucket):
    import json as _json

    import boto3

    def client(name):
        return boto3.client(name, endpoint_url=s3.endpoint, aws_access_key_id=s3.access_key,
                            aws_secret_access_key=s3.secret_key, region_name="us-east-1")

    anyone = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                                                      "Action": "sts:AssumeRole"}]}
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    role = client("iam").create_role(RoleName="chute-session", AssumeRolePolicyDocument=_json.dumps(anyone))
    client("iam").put_role_policy(RoleName="chute-session", PolicyName="all", PolicyDocument=_json.dumps(everything))
    tmp = client("sts").assume_role(RoleArn=role["Role"]["Arn"], RoleSessionName="chute-test")["Credentials"]
    assert tmp["AccessKeyId"].startswith("ASIA")  # temporary: refused without its session token
    creds = {"aws_access_key_id": tmp["AccessKeyId"], "aws_secret_access_key": tmp["SecretAccessKey"],
             "aws_session_token": tmp["SessionToken"], "endpoint_url": s3.endpoint}
    url = f"s3://{bucket}/session"
    ds = chute.empty(url, creds=creds)
    ds.create_tensor("x", dtype="int32")
    ds.x.extend(np.arange(5, dtype=np.int32))
    with pytest.raises(OSError, match="access denied"):
        chute.load(url, read_only=True, creds={k: v for k, v in creds.items() if k != "aws_session_token"})
    # virtual-hosted: the bucket in the host name (curl resolves *.localhost to the loopback address)
    port = s3.endpoint.rsplit(":", 1)[1]
    vh = dict(s3.creds(f"http://localhost:{port}"), addressing_style="virtual")
    assert chute.load(url, read_only=True, creds=vh).x.numpy().ravel().tolist() == list(range(5))


def test_dropping_a_dataset_with_reads_in_flight_returns_at_once(s3, s3_proxy, bucket, photos):
    import gc

    url = f"s3://{bucket}/drop"
    ds = chute.empty(url, creds=s3.creds())
    fill(ds, photos, n=40)
    s3_proxy.faults.set(latency_ms=200)
    try:
        back = chute.load(url, read_only=True, creds=s3.creds(s3_proxy.endpoint))
        it = iter(back.dataloader().batch(2).shuffle(buffer_size=1).numpy(num_threads=2, tensors=["images", "vec"]))
        next(it)  # the read-ahead has more chunks on their way
        t = time.time()
        del it, back
        gc.collect()
        assert time.time() - t < 5
    finally:
        s3_proxy.faults.set()


def test_readers_opening_during_flushes_see_whole_flushes(s3, bucket):
    """A writer flushes in a loop (crash_writer.py); readers open the dataset again and again meanwhile.
    Every open sees all tensors at the same length (never half of a flush) with the right content."""
    url = f"s3://{bucket}/busy"
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""),
               AWS_ACCESS_KEY_ID=s3.access_key, AWS_SECRET_ACCESS_KEY=s3.secret_key, AWS_ENDPOINT_URL=s3.endpoint)
    from crash_writer import row

    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "crash_writer.py"), url, "2"],
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().startswith("start")
        opened, lengths = 0, set()
        deadline = time.time() + 20
        while time.time() < deadline and (opened < 15 or len(lengths) < 3):
            ds = chute.load(url, read_only=True, creds=s3.creds())
            sizes = {name: len(ds[name]) for name in ds.tensors}
            assert len(set(sizes.values())) == 1, f"half a flush: {sizes}"
            n = len(ds)
            if n:
                np.testing.assert_array_equal(ds.vec[n - 1].numpy(), row(n - 1)["vec"])
            lengths.add(n)
            opened += 1
        assert len(lengths) >= 3, f"the writer did not get far enough to test anything ({lengths})"
    finally:
        proc.kill()
        proc.wait()


def test_commits_branches_and_updates_in_an_object_store(s3, bucket):
    """Version control on S3: the same layout and copy-on-write as on disk (no older commit's object is rewritten)."""
    url = f"s3://{bucket}/vc"
    ds = chute.empty(url, creds=s3.creds())
    ds.create_tensor("x", dtype="int64", max_chunk_size=400)
    ds.x.extend(np.arange(100))
    first = ds.commit("first")
    before = {k: s3.s3.head_object(Bucket=bucket, Key=k)["ETag"] for k in s3.keys(bucket, "vc/x/")}
    ds.x[5] = -5
    ds.x.extend(np.arange(100, 120))
    second = ds.commit("second")
    ds.checkout("alt", create=True)
    ds.x[0] = -1
    ds.commit("on alt")
    ds.checkout("main")
    assert {k: s3.s3.head_object(Bucket=bucket, Key=k)["ETag"] for k in s3.keys(bucket, "vc/x/")} == before
    at = lambda a: chute.load(f"{url}@{a}", read_only=True, creds=s3.creds()).x.numpy().ravel().tolist()  # noqa: E731
    assert at(first) == list(range(100))
    assert at(second) == [*range(5), -5, *range(6, 120)]
    assert at("alt")[:2] == [-1, 1] and at("main")[0] == 0
    assert f"vc/versions/{second}/x/chunk_set" in s3.keys(bucket, "vc/versions/")
    with pytest.raises(chute.CheckoutError, match="'nope'"):
        chute.load(f"{url}@nope", read_only=True, creds=s3.creds())
