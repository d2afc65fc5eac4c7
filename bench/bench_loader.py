"""The streaming loader against torch's DataLoader on the same ImageNet-like data, in one run.

Pipeline: RandomResizedCrop(224) + RandomHorizontalFlip to uint8, batch 64, shuffle on, one full
epoch, data in the page cache (read once before timing), all cores. Needs torchvision: run it in
the bench environment (`make bench` creates .venv-bench with torch 2.14.1 + torchvision 0.29.1).

    .venv-bench/bin/python bench/bench_loader.py [--num-images 5000]

Each configuration runs three epochs: two timed (the faster one is reported, with its time to the
first batch) and one with an RSS sampler thread for the peak RSS of all processes (the sampler
costs a few percent of a 2-core machine, so it never runs during a timed epoch). Also reports
ratios, RSS over 10 epochs and the shuffle-quality figure; writes bench/results/loader.json and a
chart bench/results/loader.png.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


class PeakRss:
    """Samples the summed RSS of this process and its children every 20 ms."""

    def __init__(self):
        import psutil

        self.proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _total(self) -> int:
        total = 0
        for p in [self.proc] + self.proc.children(recursive=True):
            try:
                total += p.memory_info().rss
            except Exception:
                pass
        return total

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._total())
            time.sleep(0.02)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def timed_epoch(make_loader, count_key=None, sample_rss: bool = False):
    """(images/s, seconds to the first batch, peak RSS MB or 0, images) for one full epoch of a
    fresh loader. The RSS sampler thread costs a few percent of a 2-core machine, so timings come
    from epochs run without it."""
    with contextlib.ExitStack() as stack:
        rss = stack.enter_context(PeakRss()) if sample_rss else None
        t0 = time.perf_counter()
        loader = make_loader()
        n = 0
        first = None
        for batch in loader:
            if first is None:
                first = time.perf_counter() - t0
            n += len(batch[count_key]) if count_key else len(batch[0])
        secs = time.perf_counter() - t0
        del loader
    return n / secs, first, (rss.peak / 1e6 if rss else 0.0), n


def measure(make_loader, count_key=None):
    """Every configuration gets the same treatment: two epochs without the RSS sampler (the faster
    one is reported, with its time to the first batch) and one with it, for the peak RSS."""
    timed = max((timed_epoch(make_loader, count_key) for _ in range(2)), key=lambda r: r[0])
    peak = timed_epoch(make_loader, count_key, sample_rss=True)[2]
    return timed[0], timed[1], peak, timed[3]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=os.path.join(ROOT, "data"))
    p.add_argument("--num-images", type=int, default=5000)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--rss-epochs", type=int, default=10)
    p.add_argument("--out", default=os.path.join(HERE, "results", "loader.json"))
    args = p.parse_args()

    import torch
    import torchvision
    from torch.utils.data import DataLoader
    from torchvision import datasets
    from torchvision import transforms as T
    from torchvision.io import decode_jpeg, read_file
    from torchvision.transforms import v2

    import chute
    from chute import ops
    from chute.synthetic import make_imagenet_like

    threads = os.cpu_count() or 2
    torch.set_num_threads(threads)
    src = os.path.join(args.data, "imagenet_like")
    dest = os.path.join(args.data, "imagenet_like.chute")
    stats = make_imagenet_like(src, num_images=args.num_images, progressbar=False)
    if not chute.exists(dest) or len(chute.load(dest, read_only=True)) != stats["files"]:
        chute.ingest_classification(src, dest, overwrite=True, progressbar=False, summary=False, seed=0)
    ds = chute.load(dest, read_only=True)
    # page cache: read every source file and every chunk once before timing
    for folder in (src, dest):
        for r, _, fs in os.walk(folder):
            for f in fs:
                with open(os.path.join(r, f), "rb") as fh:
                    while fh.read(1 << 20):
                        pass
    B = args.batch
    results: dict = {"images": stats["files"], "mean_kb": stats["mean_kb"], "batch": B, "cores": threads,
                     "torch": torch.__version__, "torchvision": torchvision.__version__}

    rrc_ops = ops.Compose([ops.RandomResizedCrop(224), ops.RandomHorizontalFlip()])

    def chute_uint8():
        return ds.dataloader().batch(B).shuffle().transform({"images": rrc_ops, "labels": None}).pytorch()

    def chute_float():
        return ds.dataloader().batch(B).shuffle().transform({"images": ops.Compose(
            [ops.RandomResizedCrop(224), ops.RandomHorizontalFlip(), ops.Normalize(ops.IMAGENET_MEAN, ops.IMAGENET_STD)]),
            "labels": None}).pytorch()

    tv_pil = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.PILToTensor()])
    tv_np = T.Compose([T.ToPILImage(), T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.PILToTensor()])

    def chute_python_transform():
        return ds.dataloader().batch(B).shuffle().transform({"images": tv_np, "labels": None}).pytorch(num_workers=2)

    folder = datasets.ImageFolder(src, transform=tv_pil)

    def torch_pil(workers):
        return lambda: DataLoader(folder, batch_size=B, shuffle=True, num_workers=workers)

    class DecodeJpeg(torch.utils.data.Dataset):
        def __init__(self):
            self.items = folder.samples
            self.tf = v2.Compose([v2.RandomResizedCrop(224, antialias=True), v2.RandomHorizontalFlip()])

        def __len__(self):
            return len(self.items)

        def __getitem__(self, i):
            path, label = self.items[i]
            img = decode_jpeg(read_file(path), mode=torchvision.io.ImageReadMode.RGB)
            return self.tf(img), label

    def torch_decode_jpeg():
        return DataLoader(DecodeJpeg(), batch_size=B, shuffle=True, num_workers=2)

    # ---- verify before timing ----
    b = next(iter(chute_uint8()))
    assert b["images"].shape == (B, 224, 224, 3) and b["images"].dtype == torch.uint8
    names = ds.labels.info.class_names
    i0 = int(b["index"][0])
    stored = ds.images[i0].tobytes()
    label_dir = names[int(b["labels"][0, 0])]
    assert any(open(os.path.join(src, label_dir, f), "rb").read() == stored for f in os.listdir(os.path.join(src, label_dir))), \
        "chute's label does not match the image's class folder"
    assert next(iter(chute_float()))["images"].shape == (B, 3, 224, 224)
    x, y = next(iter(torch_pil(0)()))
    assert x.shape == (B, 3, 224, 224)
    x, y = next(iter(torch_decode_jpeg()))
    assert x.shape == (B, 3, 224, 224)

    def report(name, r):
        ips, first, peak, n = r
        assert n == stats["files"], f"{name} saw {n} images, expected {stats['files']}"
        results[name] = {"images_per_s": round(ips, 1), "first_batch_s": round(first, 3), "peak_rss_MB": round(peak, 1)}
        print(f"{name:32s} {ips:8.1f} img/s   first batch {first:6.3f} s   peak RSS {peak:7.1f} MB", flush=True)

    report("chute_rrc_uint8", measure(chute_uint8, "index"))
    report("chute_rrc_normalize_float", measure(chute_float, "index"))
    report("chute_python_transform_w2", measure(chute_python_transform, "index"))
    for w in range(4):
        report(f"torch_dataloader_pil_w{w}", measure(torch_pil(w)))
    report("torch_decode_jpeg_v2_w2", measure(torch_decode_jpeg))

    bench_exe = os.path.join(os.path.dirname(sys.executable), "chute-bench")
    out = subprocess.run([bench_exe, dest, "--tensor", "images", "-t", str(threads), "--rrc", "224", "--repeat", "3"],
                         capture_output=True, text=True, check=True).stdout
    ceiling = json.loads(out)
    results["chute_bench_ceiling"] = {"images_per_s": ceiling["samples_per_s"]}
    print(f"{'chute-bench ceiling (no loader)':32s} {ceiling['samples_per_s']:8.1f} img/s", flush=True)

    # RSS over epochs of one loader
    import psutil

    dl = chute_uint8()
    rss = []
    for _ in range(args.rss_epochs):
        for _b in dl:
            pass
        rss.append(round(psutil.Process().memory_info().rss / 1e6, 1))
    results["chute_rss_MB_per_epoch"] = rss
    print(f"chute RSS after each of {args.rss_epochs} epochs (MB): {rss}")

    # shuffle quality: 100 classes x 100 samples stored class-sorted, default settings
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        q = chute.empty(os.path.join(tmp, "sorted"))
        q.create_tensor("labels", htype="class_label")
        with q:
            q.labels.extend(np.repeat(np.arange(100), 100).astype(np.uint32)[:, None])
        first = next(iter(q.dataloader().batch(1000).shuffle().numpy(tensors=["labels"])))["labels"].ravel()
        uniform = 100 * (1 - (1 - 1 / 100) ** 1000)
        results["shuffle_distinct_labels_first_1000"] = {"chute": len(set(first.tolist())), "uniform_expectation": round(uniform, 2)}
        print(f"shuffle quality: {len(set(first.tolist()))} distinct labels in the first 1000 (uniform: {uniform:.2f})")

    best_pil = max(results[f"torch_dataloader_pil_w{w}"]["images_per_s"] for w in range(4))
    c = results["chute_rrc_uint8"]["images_per_s"]
    ratios = {
        "chute_vs_best_dataloader_pil": c / best_pil,
        "chute_vs_decode_jpeg_v2": c / results["torch_decode_jpeg_v2_w2"]["images_per_s"],
        "chute_vs_ceiling": c / ceiling["samples_per_s"],
        "chute_python_transform_vs_dataloader_pil_w2": results["chute_python_transform_w2"]["images_per_s"]
        / results["torch_dataloader_pil_w2"]["images_per_s"],
        "chute_peak_rss_vs_dataloader_w2": results["chute_rrc_uint8"]["peak_rss_MB"] / results["torch_dataloader_pil_w2"]["peak_rss_MB"],
    }
    results["ratios"] = {k: round(v, 3) for k, v in ratios.items()}
    print("ratios:", json.dumps(results["ratios"], indent=1))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    chart(results, args.out.replace(".json", ".png"))
    print(f"wrote {args.out}")


def chart(results: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [("chute-bench ceiling\n(no loader)", results["chute_bench_ceiling"]["images_per_s"], "#888888"),
            ("chute loader\nRRC+flip uint8", results["chute_rrc_uint8"]["images_per_s"], "#d9480f"),
            ("chute loader\n+ Normalize float", results["chute_rrc_normalize_float"]["images_per_s"], "#f08c00"),
            ("chute + torchvision\ntransform, 2 workers", results["chute_python_transform_w2"]["images_per_s"], "#f59f00"),
            ("torchvision decode_jpeg\n+ v2, 2 workers", results["torch_decode_jpeg_v2_w2"]["images_per_s"], "#1971c2")]
    for w in range(4):
        rows.append((f"DataLoader + PIL\n{w} workers", results[f"torch_dataloader_pil_w{w}"]["images_per_s"], "#74c0fc"))
    fig, ax = plt.subplots(figsize=(9, 5.5))
    labels = [r[0] for r in rows][::-1]
    vals = [r[1] for r in rows][::-1]
    bars = ax.barh(labels, vals, color=[r[2] for r in rows][::-1])
    for bar, v in zip(bars, vals):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {v:.0f}", va="center", fontsize=9)
    ax.set_xlabel("images / s (RandomResizedCrop 224 + flip, batch 64, shuffled epoch)")
    ax.set_title(f"{results['images']} ImageNet-like JPEGs (~{results['mean_kb']:.0f} KB), {results['cores']} cores, page cache")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
