"""`Pipeline`: olympipe 2.2.0's builder (and 1.0's `Pipeline.wait_for_all_results`).

A Pipeline is an immutable node of a graph: each method returns a new node whose parent is this
one, and nothing runs until `start()` or a `wait_*` call. A run executes exactly the nodes the
requested outputs depend on; every node built on the same pipeline receives every item (1.0's
broadcast, which the seed's email/phone example relies on; olympipe 2.x's stages compete for
items instead).
"""
from __future__ import annotations

import typing
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from chute.pipeline.run import Run, TaskStage
from chute.pipeline.stages import (
    BatchStage,
    Collector,
    DebugStage,
    ExplodeStage,
    FilterStage,
    GatherStage,
    IntoStage,
    IteratorSource,
    LimitStage,
    ReduceStage,
    SequenceSource,
    SplitStage,
    Stage,
    TemporalBatchStage,
    fn_name,
)
from chute.pipeline.worker import TaskSpec


def _count(count) -> int:
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError(f"count must be an int >= 1, got {count!r}")
    return count


class Pipeline:
    """A stage of a pipeline; `Pipeline(iterable)` is its source (a list, a generator, any iterable).

    Task stages (`task`, `class_task`) run in `count` worker processes each and keep the input's
    order (unless `ordered=False`); the other stages run in the parent. `wait_for_result()` runs
    the pipeline and returns its items; an error anywhere raises `PipelineExecutionError`."""

    def __init__(self, datas: Iterable | None = None, *, monitoring: Any = None, inspect_messages: Any = None):
        self._kind = "source"
        self._parents: tuple[Pipeline, ...] = ()
        self._args: dict = {"data": [] if datas is None else datas}
        self._run: Run | None = None
        self._run_outputs: list[Pipeline] = []

    @classmethod
    def _node(cls, kind: str, parents: tuple, **args) -> Pipeline:
        node = cls.__new__(cls)
        node._kind = kind
        node._parents = parents
        node._args = args
        node._run = None
        node._run_outputs = []
        return node

    def __repr__(self) -> str:
        return f"<chute.pipeline.Pipeline {self._name()}>"

    def _name(self) -> str:
        a = self._args
        if self._kind == "source":
            return f"source({type(a['data']).__name__})"
        if self._kind == "task":
            return f"task({fn_name(a['spec'].fn)})"
        if self._kind == "class_task":
            spec = a["spec"]
            method = spec.method if isinstance(spec.method, str) else fn_name(spec.method)
            return f"class_task({getattr(spec.cls, '__name__', spec.cls)}, {method})"
        if self._kind == "port":
            return f"split[{a['index']}]"
        if self._kind in ("batch", "limit", "temporal_batch"):
            return f"{self._kind}({next(iter(a.values()))})"
        if self._kind == "into":
            return f"into({getattr(a['ds'], 'path', type(a['ds']).__name__)})"
        return f"{self._kind}({fn_name(a.get('fn'))})"

    # ---- stages ----
    def task(self, fn: Callable, count: int = 1, on_error: Callable | None = None, *, ordered: bool = True
             ) -> Pipeline:
        """`fn(item)` in `count` worker processes. `on_error(item, exc)` returns a replacement item,
        or None to drop the item; without it an exception stops the run. Output keeps the input's
        order unless `ordered=False` (then results pass on as soon as they are ready)."""
        if not callable(fn):
            raise TypeError(f"task() takes a callable, got {type(fn).__name__}")
        spec = TaskSpec(name=fn_name(fn), fn=fn, on_error=on_error)
        return self._node("task", (self,), spec=spec, count=_count(count), ordered=ordered)

    def class_task(self, class_constructor: type, class_method: Callable | str, class_args: Sequence | None = None,
                   close_method: Callable | str | None = None, class_kwargs: dict | None = None, count: int = 1,
                   *, on_error: Callable | None = None, ordered: bool = True) -> Pipeline:
        """`class_method(obj, item)` where each worker makes its own `obj = class_constructor(*class_args,
        **class_kwargs)` (after the fork: CUDA or a model is never touched in the parent);
        `close_method(obj)` runs when the worker ends."""
        spec = TaskSpec(name=getattr(class_constructor, "__name__", "class"), cls=class_constructor,
                        method=class_method, class_args=tuple(class_args or ()), class_kwargs=dict(class_kwargs or {}),
                        close_method=close_method, on_error=on_error)
        return self._node("class_task", (self,), spec=spec, count=_count(count), ordered=ordered)

    def filter(self, fn: Callable | None = None) -> Pipeline:
        """Keeps the items for which `fn(item)` is true; without `fn`, drops None."""
        return self._node("filter", (self,), fn=fn)

    def batch(self, batch_size: int = 2, keep_incomplete_batch: bool = True) -> Pipeline:
        """Lists of `batch_size` items; the last, shorter one unless `keep_incomplete_batch=False`."""
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        return self._node("batch", (self,), batch_size=batch_size, keep_incomplete_batch=keep_incomplete_batch)

    def temporal_batch(self, time_interval: float) -> Pipeline:
        """Lists of the items that arrived in each window of `time_interval` seconds."""
        if time_interval <= 0:
            raise ValueError(f"time_interval must be > 0, got {time_interval!r}")
        return self._node("temporal_batch", (self,), time_interval=float(time_interval))

    def explode(self, fn: Callable | None = None) -> Pipeline:
        """Each item becomes the items of `fn(item)` (of the item itself, without `fn`)."""
        return self._node("explode", (self,), fn=fn)

    def reduce(self, accumulator: Any, fn: Callable) -> Pipeline:
        """One item at the end: `acc = fn(item, acc)` over every item (item first, as olympipe)."""
        return self._node("reduce", (self,), acc=accumulator, fn=fn)

    def wait_and_reduce(self, accumulator: Any, fn: Callable) -> Any:
        return self.reduce(accumulator, fn).wait_for_result()[0]

    def split(self, fn: Callable, n: int | None = None) -> tuple[Pipeline, ...]:
        """`fn(item)` returns an n-tuple; slot i goes to branch i unless it is None. Without `n`,
        the count comes from `fn`'s return annotation (`-> Tuple[int, str]`)."""
        if n is None:
            n = _tuple_length(fn)
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"split needs n >= 1 branches, got {n!r}")
        node = self._node("split", (self,), fn=fn, n=n)
        return tuple(self._node("port", (node,), index=i) for i in range(n))

    def gather(self, *pipes: Pipeline) -> Pipeline:
        """One stream of this pipeline's items and those of `pipes` (in arrival order)."""
        for p in pipes:
            if not isinstance(p, Pipeline):
                raise TypeError(f"gather() takes Pipelines, got {type(p).__name__}")
        return self._node("gather", (self, *pipes))

    def limit(self, n: int) -> Pipeline:
        """The first `n` items; the stages above stop reading once they are out."""
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"limit must be an int >= 0, got {n!r}")
        return self._node("limit", (self,), n=n)

    def debug(self) -> Pipeline:
        """Prints each item (with the pid) and passes it on."""
        return self._node("debug", (self,))

    def into(self, ds, *, flush_every: int = 1000) -> Pipeline:
        """Appends each item, a dict {tensor: value}, to the chute dataset `ds` (`ds.append`), in
        one `with ds:` block that publishes every `flush_every` rows (`ds.flush()`) and at the end:
        a crash keeps every row up to the last flush; an error keeps the rows before the failing item.
        The stage emits nothing: run it with `wait_for_completion()`."""
        if not hasattr(ds, "append") or not hasattr(ds, "flush"):
            raise TypeError(f"into() takes a chute dataset, got {type(ds).__name__}")
        return self._node("into", (self,), ds=ds, flush_every=int(flush_every))

    # ---- running ----
    def start(self) -> Pipeline:
        """Starts the run that `wait_for_result()` will collect (idempotent)."""
        if self._run is None:
            self._run = _start([self], keep=True)
            self._run_outputs = [self]
        return self

    def _take_run(self, outputs: list[Pipeline], keep: bool) -> Run:
        run = self._run
        if run is None:
            return _start(outputs, keep)
        if [id(p) for p in self._run_outputs] != [id(p) for p in outputs]:
            raise ValueError("this pipeline was start()ed for its own results; wait_for_result() collects them "
                             "(start() the first of the pipes of wait_for_results instead)")
        self._run = None
        return run

    def wait_for_result(self, debug_graph: str | None = None) -> list:
        """Runs the pipeline (if `start()` did not) and returns its items in order."""
        return self._take_run([self], True).wait()[0]

    def wait_for_results(self, other_pipes: list[Pipeline] | None = None) -> list[list]:
        """The items of this pipeline and of each of `other_pipes`, from one run."""
        outputs = [self, *(other_pipes or [])]
        return self._take_run(outputs, True).wait()

    def wait_for_completion(self, other_pipes: list[Pipeline] | None = None) -> None:
        """Runs the pipeline and discards its items."""
        self._take_run([self, *(other_pipes or [])], False).wait()

    @staticmethod
    def wait_for_all_results(pipes: list[Pipeline]) -> list[list]:
        """olympipe 1.0's spelling of `pipes[0].wait_for_results(pipes[1:])`."""
        pipes = list(pipes)
        if not pipes:
            return []
        return pipes[0].wait_for_results(pipes[1:])

    # ---- plan ----
    def _stage(self) -> Stage:
        a, name = self._args, self._name()
        kind = self._kind
        if kind == "source":
            data = a["data"]
            if isinstance(data, (list, tuple, range)):
                return SequenceSource(name, data)
            return IteratorSource(name, data)
        if kind in ("task", "class_task"):
            return TaskStage(name, a["spec"], a["count"], a["ordered"])
        if kind == "filter":
            return FilterStage(name, a["fn"])
        if kind == "explode":
            return ExplodeStage(name, a["fn"])
        if kind == "batch":
            return BatchStage(name, a["batch_size"], a["keep_incomplete_batch"])
        if kind == "temporal_batch":
            return TemporalBatchStage(name, a["time_interval"])
        if kind == "reduce":
            return ReduceStage(name, a["acc"], a["fn"])
        if kind == "limit":
            return LimitStage(name, a["n"])
        if kind == "debug":
            return DebugStage(name)
        if kind == "split":
            return SplitStage(name, a["fn"], a["n"])
        if kind in ("gather", "port"):
            return GatherStage(name)
        if kind == "into":
            return IntoStage(name, a["ds"], a["flush_every"])
        raise AssertionError(kind)


def _tuple_length(fn) -> int:
    try:
        hint = typing.get_type_hints(fn).get("return")
    except Exception as e:
        raise ValueError("split(fn) without n needs fn's return annotation to be a Tuple[...]") from e
    args = typing.get_args(hint)
    if typing.get_origin(hint) is not tuple or not args or Ellipsis in args:
        raise ValueError(f"split(fn) without n needs fn's return annotation to be a fixed Tuple[...], got {hint!r}")
    return len(args)


def _start(outputs: list[Pipeline], keep: bool) -> Run:
    """Builds the stages the outputs depend on (each node once) and starts them."""
    for o in outputs:
        if not isinstance(o, Pipeline):
            raise TypeError(f"expected Pipelines, got {type(o).__name__}")
    made: dict[int, Stage] = {}
    order: list[Stage] = []
    stack: list[tuple[Pipeline, bool]] = [(o, False) for o in reversed(outputs)]
    nodes: dict[int, Pipeline] = {}
    while stack:  # depth-first, parents before children, without recursion (long chains)
        node, expanded = stack.pop()
        if id(node) in made:
            continue
        if not expanded:
            stack.append((node, True))
            stack.extend((p, False) for p in reversed(node._parents) if id(p) not in made)
            continue
        stage = node._stage()
        made[id(node)] = stage
        nodes[id(node)] = node
        order.append(stage)
    for key, stage in made.items():
        node = nodes[key]
        for p in node._parents:
            parent = made[id(p)]
            stage.parents.append(parent)
            parent.children.append(stage)
            if isinstance(parent, SplitStage):
                parent.ports[node._args["index"]] = stage
        stage.open_parents = len(node._parents)
    collectors = []
    for i, o in enumerate(outputs):
        c = Collector(f"output {i}", keep)
        st = made[id(o)]
        c.parents.append(st)
        st.children.append(c)
        c.open_parents = 1
        collectors.append(c)
    for i, s in enumerate(order):
        s.index = i
    return Run(order, collectors).start()
