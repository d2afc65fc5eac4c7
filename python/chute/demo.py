"""chute's main job on data it makes itself (`make demo`):

1. makes an ImageNet-like folder from scikit-image's bundled photos (if absent),
2. ingests it into a Deep Lake 3-format dataset, JPEGs stored as they are, with a progress bar,
3. prints `chute info`, decodes a slice on the engine's threads,
4. writes a contact sheet PNG of images with their labels,
5. trains a small CNN for a few hundred steps on chute's loader (RandomResizedCrop + flip in the
   engine), then measures images/s for chute and for torch's DataLoader (PIL, 2 workers) on the
   same data, loading alone and while training, and writes a chart.
"""
from __future__ import annotations

import argparse
import os
import time

import chute
from chute.cli import contact_sheet, info_text
from chute.demo_train import train_and_compare
from chute.synthetic import make_imagenet_like


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="data", help="folder for the generated images and the dataset")
    p.add_argument("--num-images", type=int, default=5000)
    p.add_argument("--out", default="out", help="folder for the contact sheet and the chart")
    p.add_argument("--steps", type=int, default=300, help="training steps on chute's loader")
    args = p.parse_args(argv)

    src = os.path.join(args.data, "imagenet_like")
    dest = os.path.join(args.data, "imagenet_like.chute")
    os.makedirs(args.out, exist_ok=True)

    print(f"== 1. ImageNet-like folder: {src}")
    stats = make_imagenet_like(src, num_images=args.num_images)
    print(f"   {stats['files']} JPEGs, {stats['bytes'] / 1e6:.1f} MB, {stats['mean_kb']:.0f} KB on average")

    print(f"== 2. ingest into {dest}")
    t0 = time.perf_counter()
    ds = chute.ingest_classification(src, dest, overwrite=True, seed=0)
    secs = time.perf_counter() - t0
    print(f"   {len(ds)} images in {secs:.2f} s: {len(ds) / secs:.0f} images/s, {stats['bytes'] / 1e6 / secs:.0f} MB/s")

    print("== 3. chute info")
    print(info_text(dest))
    n = min(512, len(ds))
    t0 = time.perf_counter()
    batch = ds.images[0:n].numpy(aslist=True)
    secs = time.perf_counter() - t0
    print(f"   decoded ds.images[0:{n}] on the engine's threads: {n / secs:.0f} images/s "
          f"(first image {batch[0].shape}, label {ds.labels.info.class_names[int(ds.labels[0].numpy()[0])]})")

    sheet = os.path.join(args.out, "contact_sheet.png")
    contact_sheet(dest, sheet, indices=list(range(min(32, len(ds)))))
    print(f"== 4. contact sheet: {sheet}")

    print(f"== 5. training a small CNN on chute's loader ({args.steps} steps), then chute vs torch DataLoader")
    train_and_compare(dest, src, steps=args.steps, chart=os.path.join(args.out, "loader_chart.png"))


if __name__ == "__main__":
    main()
