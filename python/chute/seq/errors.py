"""Errors of lazy evaluation: `EvaluationError`, the `seterr` policy and where views were built.

A view that runs user code (smap, starmap, prefetch) remembers the call site that built it (the
frames outside chute.seq, read cheaply with sys._getframe; the source lines are looked up only
when an error is formatted). With `seterr("wrap")` (the default), a failure at item i raises
`EvaluationError("Failed to evaluate item i in <View> created at: ...")` with the original error
as `__cause__`; an `EvaluationError` from an inner view is not wrapped again. With
`seterr("passthrough")` the original error propagates unchanged. The setting is per thread.
"""
from __future__ import annotations

import linecache
import os
import sys
import threading

from chute.errors import ChuteError

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_MAX_FRAMES = 12


class EvaluationError(ChuteError):
    """Evaluating an item of a lazy view failed; the original error is `__cause__`."""


class _Policy(threading.local):
    def __init__(self):
        self.passthrough = False


_policy = _Policy()


def seterr(evaluation: str | None = None) -> str:
    """How errors raised by user code during evaluation reach the caller (this thread only):
    'wrap' raises EvaluationError with the original as its cause, 'passthrough' lets the original
    propagate; None leaves the setting. Returns the setting now in force."""
    if evaluation == "wrap":
        _policy.passthrough = False
    elif evaluation == "passthrough":
        _policy.passthrough = True
    elif evaluation is not None:
        raise ValueError(f"evaluation must be 'wrap' or 'passthrough', got {evaluation!r}")
    return "passthrough" if _policy.passthrough else "wrap"


def passthrough() -> bool:
    return _policy.passthrough


class CreationSite:
    """The user's frames (outermost first) at the point where a view was built."""

    __slots__ = ("frames",)

    def __init__(self):
        frames = []
        f = sys._getframe(1)
        while f is not None and os.path.dirname(os.path.abspath(f.f_code.co_filename)) == _PACKAGE_DIR:
            f = f.f_back
        while f is not None and len(frames) < _MAX_FRAMES:
            frames.append((f.f_code.co_filename, f.f_lineno, f.f_code.co_name))
            f = f.f_back
        frames.reverse()
        self.frames = frames

    def format(self) -> str:
        out = []
        for filename, lineno, name in self.frames:
            out.append(f'  File "{filename}", line {lineno}, in {name}\n')
            line = linecache.getline(filename, lineno).strip()
            if line:
                out.append(f"    {line}\n")
        return "".join(out)

    def __reduce__(self):
        return _restore_site, (self.frames,)


def _restore_site(frames):
    site = CreationSite.__new__(CreationSite)
    site.frames = frames
    return site


def evaluation_error(error: BaseException, item, what: str, site: CreationSite | None) -> BaseException:
    """The exception to raise for `error` at `item` of the view described by `what`, under this
    thread's policy: the error itself (passthrough, or already an EvaluationError) or a new
    EvaluationError (the caller raises it `from error`)."""
    if _policy.passthrough or isinstance(error, EvaluationError):
        return error
    where = f" created at:\n{site.format()}" if site is not None and site.frames else ""
    return EvaluationError(f"Failed to evaluate item {item} in {what}{where}".rstrip("\n"))


def root_cause(error: BaseException) -> BaseException:
    """The user's own error under any EvaluationErrors that wrap it."""
    while isinstance(error, EvaluationError) and error.__cause__ is not None:
        error = error.__cause__
    return error
