"""The pipeline's error: which stage failed, on which item, and the traceback where it failed."""
from __future__ import annotations

from chute.errors import ChuteError


class PipelineExecutionError(ChuteError, RuntimeError):
    """A stage of a pipeline failed, or one of its worker processes died.

    `stage` names the stage (`"task(resize)"`), `stage_index` is its place in the run (sources
    first), `position` is the failing item's index among the items that stage received (None
    when no item was being processed, e.g. a constructor of `class_task` or a dead idle worker),
    `source_index` the index of the source item it came from, `item` a short repr of it,
    `traceback` the traceback text (from the worker process when it failed there), `pid` the
    process. `errors` is olympipe's list of error strings (here one). The original exception is
    `__cause__` when it could be carried across processes.
    """

    def __init__(self, message: str, *, stage: str | None = None, stage_index: int | None = None,
                 position: int | None = None, source_index: int | None = None, item: str | None = None,
                 traceback: str | None = None, pid: int | None = None):
        super().__init__(message)
        self.stage = stage
        self.stage_index = stage_index
        self.position = position
        self.source_index = source_index
        self.item = item
        self.traceback = traceback
        self.pid = pid
        self.errors = [message]

    def __reduce__(self):
        return (_rebuild, (type(self), str(self), self.__dict__))


def _rebuild(cls, message: str, state: dict):
    e = cls.__new__(cls)
    Exception.__init__(e, message)
    e.__dict__.update(state)
    return e


def short_repr(value, limit: int = 200) -> str:
    try:
        text = repr(value)
    except Exception:  # an item whose repr fails must not hide the real error
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit - 3] + "..."
