"""The loader from an S3-compatible server: chute against the same loader on local disk, Deep Lake
3.9.52's ds.pytorch() and torch's DataLoader over s3fs + PIL, on the same images, in one run.

Setup, all on this machine: moto's S3 server (its own process) holds the dataset chute ingested
into it and the source JPEGs as single objects; a latency proxy (its own process, tests/s3_server.py)
adds 0, 20 or 100 ms to every request. Pipeline: RandomResizedCrop(224) + RandomHorizontalFlip to
uint8, batch 64, shuffle on (chute: its object-store shuffle at the default buffer), one epoch.
The server and the proxy share the two cores with the loader: their CPU seconds are reported.

    .venv-bench/bin/python bench/bench_remote.py [--num-images 5000] [--no-deeplake] [--no-s3fs]

Deep Lake runs in its own venv with torch 2.13 (made on first use from tests/oracle/setup_venv.sh,
in ~/.cache/chute/bench-dl3-torch). Writes bench/results/remote.json.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from common import log, machine_info, write_json  # noqa: E402

B = 64
DL3_VENV = os.path.join(os.path.expanduser("~"), ".cache", "chute", "bench-dl3-torch")

DL3_LOADER = r"""
import json, sys, time
import numpy as np
import deeplake
from PIL import Image
url, creds, batch = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])

def rrc_flip(img, rng=np.random.default_rng(0)):
    # torchvision's RandomResizedCrop(224) (scale 0.08-1, ratio 3/4-4/3) + a horizontal flip, with PIL
    im = Image.fromarray(img)
    w, h = im.size
    for _ in range(10):
        area = w * h * rng.uniform(0.08, 1.0)
        ratio = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
        cw, ch = int(round((area * ratio) ** 0.5)), int(round((area / ratio) ** 0.5))
        if 0 < cw <= w and 0 < ch <= h:
            x, y = rng.integers(0, w - cw + 1), rng.integers(0, h - ch + 1)
            break
    else:
        cw, ch, x, y = w, h, 0, 0
    im = im.resize((224, 224), Image.BILINEAR, box=(x, y, x + cw, y + ch))
    if rng.random() < 0.5:
        im = im.transpose(Image.FLIP_LEFT_RIGHT)
    return np.asarray(im)

ds = deeplake.load(url, read_only=True, creds=creds, verbose=False)
t0 = time.perf_counter()
loader = ds.pytorch(num_workers=2, batch_size=batch, shuffle=True, tensors=["images", "labels"],
                    transform={"images": rrc_flip, "labels": None})
n, first = 0, None
for b in loader:
    if first is None:
        first = time.perf_counter() - t0
    n += len(b["images"])
secs = time.perf_counter() - t0
print(json.dumps({"images": n, "seconds": secs, "first_batch_s": first}))
"""


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


class Helper:
    """tests/s3_server.py in a process of its own, alive until close()."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "s3_server.py"), *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.line = self.proc.stdout.readline().split()

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(30)


def dl3_python() -> str | None:
    py = os.path.join(DL3_VENV, "venv-dl3", "bin", "python")
    if not os.path.exists(py):
        env = dict(os.environ, CHUTE_ORACLE_DIR=DL3_VENV, BUGGER_OFF="true")
        r = subprocess.run(["bash", os.path.join(ROOT, "tests", "oracle", "setup_venv.sh")], env=env,
                           capture_output=True, text=True)
        if r.returncode != 0:
            log(f"deeplake venv unavailable: {r.stderr[-500:]}")
            return None
    r = subprocess.run([py, "-c", "import torch"], capture_output=True)
    if r.returncode != 0:
        subprocess.run([py, "-m", "pip", "install", "-q", "torch==2.13.0", "numpy<2"], check=True)
    return py


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--num-images", type=int, default=5000)
    p.add_argument("--latencies", default="0,20,100")
    p.add_argument("--no-deeplake", action="store_true")
    p.add_argument("--no-s3fs", action="store_true")
    p.add_argument("--out", default=os.path.join(HERE, "results", "remote.json"))
    a = p.parse_args()

    import numpy as np
    import torch

    import chute
    from chute import ops
    from chute._internal.handle import dataset_handle
    from chute.synthetic import make_imagenet_like

    torch.set_num_threads(os.cpu_count() or 2)
    src = os.path.join(ROOT, "data", "imagenet_like" if a.num_images == 5000 else f"imagenet_like_{a.num_images}")
    stats = make_imagenet_like(src, num_images=a.num_images, progressbar=False)
    sorted_src = os.path.join(ROOT, "data", f"imagenet_like_100c_{a.num_images}")
    make_imagenet_like(sorted_src, num_images=a.num_images, num_classes=100, progressbar=False)
    local = os.path.join(ROOT, "data", "imagenet_like.chute" if a.num_images == 5000 else f"imagenet_like_{a.num_images}.chute")
    if not chute.exists(local) or len(chute.load(local, read_only=True)) != stats["files"]:
        chute.ingest_classification(src, local, overwrite=True, progressbar=False, summary=False, seed=0)

    moto = Helper("moto")
    endpoint, key, secret, moto_pid = moto.line[0], moto.line[1], moto.line[2], int(moto.line[3])
    upstream = int(endpoint.rsplit(":", 1)[1])
    creds = {"aws_access_key_id": key, "aws_secret_access_key": secret, "endpoint_url": endpoint}
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
                      region_name="us-east-1")
    s3.create_bucket(Bucket="bench")
    results: dict = {"machine": machine_info(), "images": stats["files"], "mean_kb": stats["mean_kb"], "batch": B}
    try:
        t0 = time.perf_counter()
        chute.ingest_classification(src, "s3://bench/ds", dest_creds=creds, progressbar=False, summary=False, seed=0)
        results["ingest_to_s3_s"] = round(time.perf_counter() - t0, 2)
        chute.ingest_classification(sorted_src, "s3://bench/sorted", dest_creds=creds, progressbar=False,
                                    summary=False, shuffle=False)
        files = []
        for r, _, fs in os.walk(src):
            files += [os.path.join(r, f) for f in sorted(fs) if not f.startswith(".")]
        with cf.ThreadPoolExecutor(8) as ex:
            list(ex.map(lambda f: s3.upload_file(f, "bench", "jpegs/" + os.path.relpath(f, src)), files))
        log(f"uploaded: chute dataset ({results['ingest_to_s3_s']} s ingest) and {len(files)} JPEGs")
        rrc = ops.Compose([ops.RandomResizedCrop(224), ops.RandomHorizontalFlip()])

        def chute_epoch(ds, **load_kw):
            t0 = time.perf_counter()
            core = dataset_handle(ds).core
            chute._core.reset_storage_stats(core)
            loader = ds.dataloader().batch(B).shuffle().transform({"images": rrc, "labels": None}).pytorch()
            n, first = 0, None
            for b in loader:
                if first is None:
                    first = time.perf_counter() - t0
                n += len(b["index"])
            secs = time.perf_counter() - t0
            st = chute._core.storage_stats(core)
            return {"images_per_s": round(n / secs, 1), "first_batch_s": round(first, 3), "images": n,
                    "gets_per_image": round(st.get("gets", 0) / n, 4) if st else 0.0}

        # verify: the remote dataset holds what the local one does
        ds_local = chute.load(local, read_only=True)
        remote = chute.load("s3://bench/ds", read_only=True, creds=creds)
        assert len(remote) == len(ds_local) == stats["files"]
        for i in (0, len(remote) // 2, len(remote) - 1):
            assert remote.images[i].tobytes() == ds_local.images[i].tobytes()

        best = max((chute_epoch(ds_local) for _ in range(2)), key=lambda r: r["images_per_s"])
        results["chute_local_disk"] = best
        log(f"chute, local disk: {best}")
        for ms in [float(x) for x in a.latencies.split(",")]:
            proxy = Helper("proxy", str(upstream), str(ms))
            try:
                c = dict(creds, endpoint_url=proxy.line[0])
                runs = []
                for _ in range(2):
                    m0, p0 = cpu_seconds(moto_pid), cpu_seconds(proxy.proc.pid)
                    ds = chute.load("s3://bench/ds", read_only=True, creds=c)
                    r = chute_epoch(ds)
                    r["server_cpu_s"] = round(cpu_seconds(moto_pid) - m0, 2)
                    r["proxy_cpu_s"] = round(cpu_seconds(proxy.proc.pid) - p0, 2)
                    runs.append(r)
                best = max(runs, key=lambda r: r["images_per_s"])
                results[f"chute_s3_{int(ms)}ms"] = best
                log(f"chute, S3 + {ms:.0f} ms: {best}")
                if ms == max(float(x) for x in a.latencies.split(",")):
                    import tempfile

                    with tempfile.TemporaryDirectory() as tmp:
                        os.environ["CHUTE_CACHE_DIR"] = tmp
                        first = chute_epoch(chute.load("s3://bench/ds", read_only=True, creds=c, local_cache_size=4096))
                        second = chute_epoch(chute.load("s3://bench/ds", read_only=True, creds=c, local_cache_size=4096))
                        del os.environ["CHUTE_CACHE_DIR"]
                    results[f"chute_s3_{int(ms)}ms_disk_cache"] = {"first_epoch": first, "second_epoch": second}
                    log(f"chute, S3 + {ms:.0f} ms, disk cache: first {first}, second {second}")
                if ms == 20 and not a.no_s3fs:
                    results["torch_dataloader_s3fs_pil_w2_20ms"] = s3fs_epoch(proxy.line[0], key, secret, files, src)
                    log(f"torch DataLoader over s3fs + PIL, 2 workers, 20 ms: {results['torch_dataloader_s3fs_pil_w2_20ms']}")
                if ms == 20 and not a.no_deeplake:
                    py = dl3_python()
                    if py:
                        env = dict(os.environ, BUGGER_OFF="true")
                        env.pop("PYTHONPATH", None)
                        out = subprocess.run([py, "-c", DL3_LOADER, "s3://bench/ds", json.dumps(c), str(B)], env=env,
                                             capture_output=True, text=True, timeout=3600)
                        if out.returncode != 0:
                            raise RuntimeError(f"deeplake loader failed:\n{out.stderr[-3000:]}")
                        r = json.loads(out.stdout.strip().splitlines()[-1])
                        assert r["images"] == stats["files"], r
                        results["deeplake_pytorch_w2_20ms"] = {"images_per_s": round(r["images"] / r["seconds"], 1),
                                                               "first_batch_s": round(r["first_batch_s"], 3)}
                        log(f"deeplake 3.9.52 ds.pytorch(num_workers=2), 20 ms: {results['deeplake_pytorch_w2_20ms']}")
            finally:
                proxy.close()

        # request economy and shuffle quality on a class-sorted dataset (100 classes), default buffer
        q = chute.load("s3://bench/sorted", read_only=True, creds=creds)
        core = dataset_handle(q).core
        chute._core.reset_storage_stats(core)
        labels = np.concatenate([b["labels"].ravel() for b in q.dataloader().batch(1000).shuffle()
                                 .numpy(tensors=["images", "labels"], decode_method={"images": "tobytes"})])
        st = chute._core.storage_stats(core)
        results["sorted_100_classes"] = {"distinct_labels_first_1000": len(set(labels[:1000].tolist())),
                                         "gets_per_image": round(st["gets"] / len(labels), 4),
                                         "uniform_expectation": round(100 * (1 - (1 - 1 / 100) ** 1000), 2)}
        log(f"class-sorted, 100 classes: {results['sorted_100_classes']}")
    finally:
        moto.close()

    r = results
    ratios = {}
    if "chute_s3_0ms" in r and "chute_s3_20ms" in r:
        ratios["s3_20ms_over_s3_0ms"] = r["chute_s3_20ms"]["images_per_s"] / r["chute_s3_0ms"]["images_per_s"]
    for ms in (0, 20, 100):
        if f"chute_s3_{ms}ms" in r:
            ratios[f"s3_{ms}ms_over_local_disk"] = r[f"chute_s3_{ms}ms"]["images_per_s"] / r["chute_local_disk"]["images_per_s"]
    if "deeplake_pytorch_w2_20ms" in r:
        ratios["s3_20ms_over_deeplake_20ms"] = r["chute_s3_20ms"]["images_per_s"] / r["deeplake_pytorch_w2_20ms"]["images_per_s"]
    if "torch_dataloader_s3fs_pil_w2_20ms" in r:
        ratios["s3_20ms_over_s3fs_pil_20ms"] = (r["chute_s3_20ms"]["images_per_s"]
                                                / r["torch_dataloader_s3fs_pil_w2_20ms"]["images_per_s"])
    results["ratios"] = {k: round(v, 3) for k, v in ratios.items()}
    print("ratios:", json.dumps(results["ratios"], indent=1))
    print(f"wrote {write_json('remote', results, a.out)}")


def s3fs_epoch(endpoint: str, key: str, secret: str, files: list[str], src: str) -> dict:
    import torch
    from torch.utils.data import DataLoader
    from torchvision import transforms as T

    classes = sorted({os.path.basename(os.path.dirname(f)) for f in files})
    items = [("bench/jpegs/" + os.path.relpath(f, src), classes.index(os.path.basename(os.path.dirname(f))))
             for f in files]
    ds = S3Folder(items, endpoint, key, secret, T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(),
                                                           T.PILToTensor()]))
    x, y = ds[0]
    assert x.shape == (3, 224, 224)
    t0 = time.perf_counter()
    n, first = 0, None
    for xb, _yb in DataLoader(ds, batch_size=B, shuffle=True, num_workers=2):
        if first is None:
            first = time.perf_counter() - t0
        n += len(xb)
    secs = time.perf_counter() - t0
    assert n == len(files)
    del torch
    return {"images_per_s": round(n / secs, 1), "first_batch_s": round(first, 3)}


class S3Folder:
    """ImageFolder over S3 objects with s3fs (one filesystem object per worker process)."""

    def __init__(self, items, endpoint, key, secret, tf):
        self.items, self.endpoint, self.key, self.secret, self.tf = items, endpoint, key, secret, tf
        self._fs, self._pid = None, None

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        import s3fs
        from PIL import Image

        if self._pid != os.getpid():
            self._fs = s3fs.S3FileSystem(key=self.key, secret=self.secret, skip_instance_cache=True,
                                         client_kwargs={"endpoint_url": self.endpoint, "region_name": "us-east-1"})
            self._pid = os.getpid()
        path, label = self.items[i]
        with self._fs.open(path, "rb") as f:
            img = Image.open(f).convert("RGB")
        return self.tf(img), label


if __name__ == "__main__":
    main()
