"""The training part of the demo: a small CNN on chute's loader, and the same loop on torch's
DataLoader (PIL decode + the same crop and flip, 2 worker processes) for comparison."""
from __future__ import annotations

import math
import os
import random
import time

import numpy as np

import chute
from chute import ops
from chute.ingest import class_folders, image_files


def _model(num_classes: int):
    import torch
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 16, 5, stride=4, padding=2), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, num_classes))


def chute_loader(path: str, size: int, batch: int, normalize: bool):
    ds = chute.load(path, read_only=True)
    pipe = [ops.RandomResizedCrop(size), ops.RandomHorizontalFlip()]
    if normalize:
        pipe.append(ops.Normalize(ops.IMAGENET_MEAN, ops.IMAGENET_STD))
    return ds.dataloader().batch(batch, drop_last=True).shuffle().transform(
        {"images": ops.Compose(pipe), "labels": None}).pytorch()


class _PilFolder:
    """What a typical PyTorch user writes without torchvision: PIL decode, RandomResizedCrop, flip."""

    def __init__(self, root: str, size: int):
        self.size = size
        classes = class_folders(root)
        self.items = [(p, c) for c, name in enumerate(classes) for p in image_files(os.path.join(root, name))]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        import torch
        from PIL import Image

        path, label = self.items[i]
        img = Image.open(path).convert("RGB")
        w, h = img.size
        for _ in range(10):
            area = w * h * random.uniform(0.08, 1.0)
            ratio = math.exp(random.uniform(math.log(3 / 4), math.log(4 / 3)))
            cw, ch = round(math.sqrt(area * ratio)), round(math.sqrt(area / ratio))
            if 0 < cw <= w and 0 < ch <= h:
                x, y = random.randint(0, w - cw), random.randint(0, h - ch)
                break
        else:
            cw, ch, x, y = w, h, 0, 0
        img = img.resize((self.size, self.size), Image.BILINEAR, box=(x, y, x + cw, y + ch))
        if random.random() < 0.5:
            img = img.transpose(Image.FLIP_LEFT_RIGHT)
        return torch.from_numpy(np.array(img)), label


def torch_loader(root: str, size: int, batch: int, workers: int = 2):
    import torch

    return torch.utils.data.DataLoader(_PilFolder(root, size), batch_size=batch, shuffle=True, num_workers=workers,
                                       drop_last=True)


def _to_input(images):
    import torch

    if images.dtype == torch.uint8:  # HWC uint8 → normalized CHW float
        x = images.permute(0, 3, 1, 2).float().div_(255)
        mean = torch.tensor(ops.IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(ops.IMAGENET_STD).view(1, 3, 1, 1)
        return (x - mean) / std
    return images


def _train(batches, model, steps: int, log_every: int = 0):
    import torch

    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    seen, t0, done, losses = 0, time.perf_counter(), 0, []
    while done < steps:
        before = done
        for images, labels in batches():
            logits = model(_to_input(images))
            loss = torch.nn.functional.cross_entropy(logits, labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            seen += len(labels)
            done += 1
            losses.append(loss.item())
            if log_every and done % log_every == 0:
                acc = (logits.argmax(1) == labels).float().mean().item()
                print(f"   step {done:4d}  loss {np.mean(losses[-log_every:]):.3f}  batch accuracy {acc:.2f}", flush=True)
            if done >= steps:
                break
        if done == before:
            raise ValueError("the loader yielded no batch: the dataset is smaller than one batch")
    return seen / (time.perf_counter() - t0), losses


def _load_only(batches, limit: int):
    n, t0 = 0, time.perf_counter()
    for _images, labels in batches():
        n += len(labels)
        if n >= limit:
            break
    return n / (time.perf_counter() - t0)


def train_and_compare(dataset: str, folder: str, steps: int = 300, size: int = 224, batch: int = 64,
                      chart: str | None = None) -> dict:
    import torch

    torch.set_num_threads(os.cpu_count() or 2)
    ds = chute.load(dataset, read_only=True)
    classes = len(ds.labels.info.class_names)
    batch = max(1, min(batch, len(ds) // 2))

    chute_dl = chute_loader(dataset, size, batch, normalize=True)

    def chute_batches():
        for b in chute_dl:
            yield b["images"], b["labels"][:, 0]

    def torch_batches():
        yield from torch_loader(folder, size, batch)

    rate, losses = _train(chute_batches, _model(classes), steps, log_every=max(1, steps // 6))
    print(f"   trained {steps} steps on chute: loss {np.mean(losses[:20]):.3f} -> {np.mean(losses[-20:]):.3f}, "
          f"{rate:.0f} images/s through the model")

    compare_steps = min(steps, 60)
    limit = min(len(ds), 2000)
    figures = {
        "chute loader alone": _load_only(chute_batches, limit),
        "torch DataLoader alone (PIL, 2 workers)": _load_only(torch_batches, limit),
        "chute + training": _train(chute_batches, _model(classes), compare_steps)[0],
        "torch DataLoader + training": _train(torch_batches, _model(classes), compare_steps)[0],
    }
    print(f"   images/s on {limit} images ({size}px RandomResizedCrop + flip, batch {batch}, {os.cpu_count()} cores):")
    for k, v in figures.items():
        print(f"     {k:42s} {v:8.0f}")
    print(f"   chute / DataLoader: loading {figures['chute loader alone'] / figures['torch DataLoader alone (PIL, 2 workers)']:.2f}x, "
          f"training {figures['chute + training'] / figures['torch DataLoader + training']:.2f}x")
    if chart:
        bar_chart(figures, chart, title=f"images/s, {size}px RandomResizedCrop + flip, batch {batch}, {os.cpu_count()} cores")
        print(f"   chart: {chart}")
    return figures


def bar_chart(figures: dict, path: str, title: str) -> None:
    """A horizontal bar chart drawn with Pillow (no plotting library needed)."""
    from PIL import Image, ImageDraw

    width, row, left = 900, 46, 330
    img = Image.new("RGB", (width, 60 + row * len(figures)), "white")
    d = ImageDraw.Draw(img)
    d.text((10, 12), title, fill="black")
    top = max(figures.values())
    for k, (name, v) in enumerate(figures.items()):
        y = 45 + k * row
        d.text((10, y + 12), name, fill="black")
        w = int((width - left - 90) * v / top)
        d.rectangle([left, y + 4, left + w, y + row - 10], fill="#d9480f" if name.startswith("chute") else "#1971c2")
        d.text((left + w + 8, y + 12), f"{v:.0f}", fill="black")
    img.save(path)
