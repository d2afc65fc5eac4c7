"""The `chute` command: ingest, info, show."""
from __future__ import annotations

import argparse
import math
import sys

import numpy as np

from chute._internal.handle import tensor_core
from chute._version import __version__
from chute.dataset import load
from chute.ingest import ingest_classification


def _cmd_ingest(args) -> int:
    ingest_classification(args.src, args.dest, overwrite=args.overwrite, shuffle=not args.no_shuffle,
                          num_workers=args.workers, progressbar=not args.quiet, summary=True, seed=args.seed)
    return 0


def info_text(path: str) -> str:
    ds = load(path, read_only=True)
    rows = [("tensor", "htype", "dtype", "length", "shape", "compression", "chunks", "bytes")]
    total_bytes = 0
    for name, t in ds.tensors.items():
        core = tensor_core(t)
        nbytes = core.nbytes_on_disk()
        total_bytes += nbytes
        shape = "(" + ", ".join("?" if d is None else str(d) for d in t.shape[1:]) + ")"
        rows.append((name, t.htype, str(core.dtype), str(t.num_samples), shape,
                     t.sample_compression or (f"chunk:{t.chunk_compression}" if t.chunk_compression else "none"),
                     str(core.num_chunks()), _human(nbytes)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [f"dataset {ds.path}: {len(ds)} rows, {len(ds.tensors)} tensors, {_human(total_bytes)} in chunks"]
    for k, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    for name, t in ds.tensors.items():
        if t.htype == "class_label" and "class_names" in t.info:
            names = t.info.class_names
            shown = ", ".join(names[:10]) + (f", ... ({len(names)} classes)" if len(names) > 10 else "")
            lines.append(f"{name}.class_names: {shown}")
    return "\n".join(lines)


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"


def _cmd_info(args) -> int:
    print(info_text(args.dataset))
    return 0


def contact_sheet(path: str, out: str, tensor: str = "images", indices=None, label_tensor: str | None = None,
                  cell: int = 160, columns: int = 8) -> str:
    """Writes a PNG grid of images with their labels, so a person can look at the data."""
    try:
        from PIL import Image, ImageDraw
    except ImportError:
        raise SystemExit("chute show: draws with Pillow, which is not installed: pip install 'chute[image]'") from None

    ds = load(path, read_only=True)
    if tensor not in ds:
        raise SystemExit(f"chute show: no tensor '{tensor}' in {path} (tensors: {', '.join(ds.tensors)})")
    images = ds[tensor]
    n = images.num_samples
    if indices is None:
        indices = list(range(min(n, 32)))
    for i in indices:
        if not 0 <= i < n:
            raise SystemExit(f"chute show: index {i} out of range (tensor '{tensor}' has {n} samples)")
    if label_tensor is None:
        prefix = tensor.rsplit("/", 1)[0] + "/" if "/" in tensor else ""
        label_tensor = prefix + "labels" if prefix + "labels" in ds else None
    names = None
    if label_tensor:
        lt = ds[label_tensor]
        names = lt.info.class_names if "class_names" in lt.info else None
    arrays = images[list(indices)].numpy(aslist=True)
    rows = math.ceil(len(indices) / columns)
    sheet = Image.new("RGB", (columns * cell, rows * (cell + 16)), "white")
    draw = ImageDraw.Draw(sheet)
    for k, (i, a) in enumerate(zip(indices, arrays)):
        if a.ndim == 3 and a.shape[-1] == 1:
            a = a[..., 0]
        img = Image.fromarray(np.asarray(a, dtype=np.uint8))
        img.thumbnail((cell, cell))
        x, y = (k % columns) * cell, (k // columns) * (cell + 16)
        sheet.paste(img.convert("RGB"), (x + (cell - img.width) // 2, y + (cell - img.height) // 2))
        caption = f"#{i}"
        if label_tensor:
            v = ds[label_tensor][i].numpy().reshape(-1)
            caption += " " + ",".join(names[int(c)] if names and int(c) < len(names) else str(int(c)) for c in v)
        draw.text((x + 3, y + cell + 2), caption[:26], fill="black")
    sheet.save(out)
    return out


def _cmd_show(args) -> int:
    indices = None
    if args.indices:
        indices = [int(x) for part in args.indices for x in part.split(",") if x]
    out = contact_sheet(args.dataset, args.output, tensor=args.tensor, indices=indices, label_tensor=args.labels)
    print(f"wrote {out}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="chute", description="chute: Deep Lake 3-compatible datasets and a C++ loader")
    p.add_argument("--version", action="version", version=f"chute {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    pi = sub.add_parser("ingest", help="ingest a class-per-folder image tree")
    pi.add_argument("src")
    pi.add_argument("dest")
    pi.add_argument("--overwrite", action="store_true")
    pi.add_argument("--no-shuffle", action="store_true")
    pi.add_argument("--workers", type=int, default=0)
    pi.add_argument("--seed", type=int, default=None)
    pi.add_argument("--quiet", action="store_true")
    pi.set_defaults(fn=_cmd_ingest)
    pn = sub.add_parser("info", help="tensors, htypes, dtypes, lengths, chunk counts and bytes")
    pn.add_argument("dataset")
    pn.set_defaults(fn=_cmd_info)
    ps = sub.add_parser("show", help="write a contact sheet PNG of images with their labels")
    ps.add_argument("dataset")
    ps.add_argument("--tensor", default="images")
    ps.add_argument("--labels", default=None, help="class_label tensor for captions (default: <group>/labels)")
    ps.add_argument("--indices", nargs="*", help="sample indices (space or comma separated)")
    ps.add_argument("-o", "--output", default="sheet.png")
    ps.set_defaults(fn=_cmd_show)
    args = p.parse_args(argv)
    try:
        return args.fn(args)
    except (OSError, ValueError, KeyError) as e:
        print(f"chute {args.command}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
