"""Progress bars: tqdm's when tqdm is installed (`pip install chute[progress]`), otherwise a plain
one-line bar on stderr, so the core install needs no more than numpy."""
from __future__ import annotations

import sys
import time


class _PlainBar:
    """`update(n)` and `close()`, as tqdm's; redraws at most twice a second (a line per redraw when
    stderr is not a terminal, at most every 10 s)."""

    def __init__(self, total: int, desc: str, unit: str):
        self.total, self.desc, self.unit, self.n = total, desc, unit, 0
        self._tty = sys.stderr.isatty()
        self._every = 0.5 if self._tty else 10.0
        self._start = self._last = time.monotonic()
        self._closed = False

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self._last >= self._every:
            self._last = now
            self._draw(now, end="\r" if self._tty else "\n")

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._draw(time.monotonic(), end="\n")

    def _draw(self, now: float, end: str) -> None:
        took = now - self._start
        rate = f", {self.n / took:.1f} {self.unit}/s" if took > 0 else ""
        pct = f" {100 * self.n / self.total:3.0f}%" if self.total else ""
        sys.stderr.write(f"{self.desc}:{pct} {self.n}/{self.total} {self.unit} [{took:.1f}s{rate}]{end}")
        sys.stderr.flush()


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, desc: str, unit: str = "it", disable: bool = False):
    if disable:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return _PlainBar(total, desc, unit)
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr)
