"""Writer process for test_version's SIGKILL test: a history made of steps that are a pure function of
the step number k = len(ds.x) (so a test can recompute the state after any step, whatever was killed).

Step k, in one `with ds:` block (one flush): append row k to x and to txt, and update one earlier row of
each (`expected(k)` says which, and to what). After the flush: every 3rd step `ds.commit("k=<k+1>")`,
every 5th step `checkout("b<k+1>", create=True)` then back to main (Deep Lake's auto-commit of the changed
head comes first). Prints "step N" after each step returns. Runs until killed.

    python version_crash_writer.py DS_DIR
"""
import sys

import numpy as np

import chute


def value(k: int) -> np.ndarray:
    return np.array([k, 2 * k, 3 * k], dtype=np.int64)


def update_target(k: int) -> int | None:
    """The earlier row step k updates (None for the first step)."""
    return (k * 7919 + 13) % k if k else None


def expected(n: int) -> tuple[list, list]:
    """x and txt after n steps."""
    xs, ts = [], []
    for k in range(n):
        xs.append(value(k))
        ts.append(f"row {k}")
        j = update_target(k)
        if j is not None:
            xs[j] = -value(k)
            ts[j] = f"updated at {k}" + "!" * (k % 13)
    return xs, ts


def main(path: str) -> None:
    if chute.exists(path):
        ds = chute.load(path, read_only=False)
    else:
        ds = chute.empty(path)
        with ds:
            ds.create_tensor("x", dtype="int64", max_chunk_size=2048)  # a few rows per chunk: many chunks
            ds.create_tensor("txt", htype="text", max_chunk_size=1024)
    print("started", flush=True)
    while True:
        k = len(ds.x)
        with ds:
            ds.x.append(value(k))
            ds.txt.append(f"row {k}")
            j = update_target(k)
            if j is not None:
                ds.x[j] = -value(k)
                ds.txt[j] = f"updated at {k}" + "!" * (k % 13)
        if (k + 1) % 3 == 0:
            ds.commit(f"k={k + 1}")
        if (k + 1) % 5 == 0:
            ds.checkout(f"b{k + 1}", create=True)
            ds.checkout("main")
        print(f"step {k + 1}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
