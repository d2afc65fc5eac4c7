"""Writer process for test_crash_safety: appends deterministic rows in `with ds:` blocks and
prints 'flushed N' after each flush returns. The test SIGKILLs it at random moments."""
import sys

import numpy as np

import chute


def row(i: int) -> dict:
    rng = np.random.default_rng(i)
    h, w = 20 + i % 17, 30 + i % 11
    return {
        "images": rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
        "labels": i % 7,
        "text": f"sample {i} " + "x" * (i % 50),
        "vec": rng.standard_normal(300).astype(np.float32),
    }


def open_or_create(path: str):
    if chute.exists(path):
        return chute.load(path)
    ds = chute.empty(path)
    with ds:
        # small chunks so that sealing (a chunk written before its flush) happens often
        ds.create_tensor("images", htype="image", sample_compression="png", max_chunk_size=60_000)
        ds.create_tensor("labels", htype="class_label", class_names=[f"c{k}" for k in range(7)])
        ds.create_tensor("text", htype="text", max_chunk_size=4_000)
        ds.create_tensor("vec", dtype="float32", chunk_compression="lz4", max_chunk_size=30_000)
    return ds


def main(path: str, block: int) -> None:
    ds = open_or_create(path)
    n = len(ds)
    print(f"start {n}", flush=True)
    while True:
        with ds:
            for _ in range(block):
                ds.append(row(n))
                n += 1
        print(f"flushed {n}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
