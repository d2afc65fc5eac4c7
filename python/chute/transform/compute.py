"""`@chute.compute` and `chute.compose`: Deep Lake 3's transform API.

    @chute.compute
    def flip(sample_in, samples_out, axis=0):
        samples_out.images.append(np.flip(sample_in.images.numpy(), axis=axis))
        samples_out.labels.append(sample_in.labels.numpy())

    flip(axis=0).eval(ds[0:100], ds_out, num_workers=2)                  # a transform
    chute.compose([flip(), resize(new_size=(64, 64))]).eval(ds, ds_out)  # a pipeline

The function's return value is ignored; what it appends to `samples_out` is the input's output
rows (none, one or many).
"""
from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Callable, Sequence
from typing import Any

from chute.ops import Compose, Normalize, Op, ToCHW
from chute.transform.run import evaluate
from chute.transform.worker import Stage


class ComputeFunction:
    """A decorated function; calling it with the extra arguments gives a Transform."""

    def __init__(self, func: Callable):
        if not callable(func):
            raise TypeError(f"chute.compute decorates a function (sample_in, samples_out, *args, **kwargs), "
                            f"got {type(func).__name__}")
        self.func = func
        self.__name__ = getattr(func, "__name__", type(func).__name__)
        self.__qualname__ = getattr(func, "__qualname__", self.__name__)
        self.__doc__ = getattr(func, "__doc__", None)

    def __call__(self, *args, **kwargs) -> Transform:
        return Transform([(self, args, kwargs)], self.__name__)

    def __chute_stage__(self) -> Callable:
        """The function a stage calls (the stage keeps this object, which pickles by name)."""
        return self.func

    def __reduce__(self):
        if _BY_VALUE.active:
            # cloudpickle (Ray) sends the function itself: its workers may not import the module
            return (ComputeFunction, (self.func,))
        # A module-level `@chute.compute def f` is the module's attribute `f`: pickle it by name, as
        # pickle does functions (the raw function would not pickle: the name no longer points to it).
        module, qualname = getattr(self.func, "__module__", None), getattr(self.func, "__qualname__", "")
        try:
            found = _resolve(module, qualname)
        except Exception:  # not reachable by name (a local function, a lambda): pickle the function
            found = None
        if found is self:
            return (_resolve, (module, qualname))
        return (ComputeFunction, (self.func,))

    def __repr__(self) -> str:
        return f"chute.compute({self.__qualname__})"


class _ByValue(threading.local):
    active = False


_BY_VALUE = _ByValue()


@contextlib.contextmanager
def pickled_by_value():
    """While active (on this thread), compute functions pickle as their function objects, for a
    pickler that can send functions by value (cloudpickle, as Ray uses) to workers that may not
    import the module they were defined in."""
    _BY_VALUE.active = True
    try:
        yield
    finally:
        _BY_VALUE.active = False


def _resolve(module: str, qualname: str):
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


class Transform:
    """One or more stages with their arguments, ready to `eval`. Deep Lake 3's ComputeFunction and
    Pipeline."""

    def __init__(self, stages: list[Stage], name: str):
        self.stages = stages
        self.name = name

    @property
    def functions(self) -> list[Callable]:
        return [getattr(fn, "func", fn) for fn, _, _ in self.stages]

    def eval(self, data_in: Any, ds_out: Any = None, num_workers: int = 0, scheduler: str = "threaded",
             progressbar: bool = True, skip_ok: bool = False, check_lengths: bool = True, pad_data_in: bool = False,
             read_only_ok: bool = False, cache_size: int = 16, checkpoint_interval: int = 0,
             ignore_errors: bool = False, verbose: bool = True, **kwargs) -> None:
        """Runs the transform on every input of `data_in` and appends the rows to `ds_out`
        (`ds_out=None`: replaces `data_in`'s rows). Atomic: when it raises, `ds_out` is as it was
        before the call, or at its last checkpoint (`checkpoint_interval` inputs each).

        `num_workers=0` runs serially; `scheduler` is "serial", "threaded" or "processed" (see
        chute.transform.schedulers()). `skip_ok`: the output may leave some of ds_out's tensors out.
        `check_lengths`: refuse a ds_out whose tensors have different lengths. `pad_data_in`: a
        dataset input runs to its longest tensor, shorter ones giving None. `ignore_errors`: skip
        inputs that fail and print how many. `read_only_ok` and `cache_size` are accepted for Deep
        Lake 3 scripts: a read-only ds_out is always refused, and the engine buffers one chunk per
        tensor and worker whatever the cache size."""
        unknown = sorted(set(kwargs) - {"extend_only", "disable_label_sync", "disable_rechunk"})
        if unknown:
            raise TypeError(f"eval() got unexpected keyword arguments {unknown}")
        evaluate(self.stages, self.name, data_in, ds_out, num_workers=num_workers, scheduler=scheduler,
                 progressbar=progressbar, skip_ok=skip_ok, check_lengths=check_lengths, pad_data_in=pad_data_in,
                 read_only_ok=read_only_ok, cache_size=cache_size, checkpoint_interval=checkpoint_interval,
                 ignore_errors=ignore_errors)

    def __len__(self) -> int:
        return len(self.stages)

    def __repr__(self) -> str:
        return f"Transform({self.name!r}, stages={[getattr(f, '__name__', f) for f in self.functions]})"


class EngineTransform(Transform):
    """A transform that runs entirely in the engine: `chute.compute({"images": [ops...]})`.

    For every row of a chute dataset, each listed tensor's image is decoded, run through the
    `chute.ops` ops and encoded as ds_out's tensor stores it (JPEG, PNG or raw); every other
    tensor of ds_out is copied from data_in's tensor of the same name (as stored: a JPEG is not
    re-encoded). No Python runs per sample, so threads scale with cores. Random ops draw from
    (seed, row)."""

    def __init__(self, ops: dict, seed: int = 0):
        checked = {}
        for k, v in ops.items():
            if not isinstance(k, str):
                raise TypeError(f"chute.compute({{tensor: ops}}) takes tensor names as keys, got {k!r}")
            items = v.ops if isinstance(v, Compose) else [v] if isinstance(v, Op) else v
            if not isinstance(items, (list, tuple)) or not all(isinstance(o, Op) for o in items):
                raise TypeError(f"chute.compute({{tensor: ops}}): the ops of '{k}' must be chute.ops ops (a list or "
                                f"chute.ops.Compose), got {v!r}")
            for o in items:
                if isinstance(o, (Normalize, ToCHW)):
                    raise ValueError(f"chute.compute({{tensor: ops}}): '{k}' gets stored as an image, so {type(o).__name__} "
                                     f"cannot be one of its ops (use it in the loader)")
            checked[k] = list(items)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        super().__init__([], "engine_" + "_".join(checked))
        self.ops = checked
        self.seed = seed

    def eval(self, data_in: Any, ds_out: Any = None, num_workers: int = 0, scheduler: str = "threaded",
             progressbar: bool = True, skip_ok: bool = False, check_lengths: bool = True, pad_data_in: bool = False,
             read_only_ok: bool = False, cache_size: int = 16, checkpoint_interval: int = 0,
             ignore_errors: bool = False, verbose: bool = True, **kwargs) -> None:
        """As Transform.eval; data_in must be a chute dataset or view."""
        if kwargs:
            raise TypeError(f"eval() got unexpected keyword arguments {sorted(kwargs)}")
        evaluate([], self.name, data_in, ds_out, num_workers=num_workers, scheduler=scheduler,
                 progressbar=progressbar, skip_ok=skip_ok, check_lengths=check_lengths, pad_data_in=pad_data_in,
                 read_only_ok=read_only_ok, cache_size=cache_size, checkpoint_interval=checkpoint_interval,
                 ignore_errors=ignore_errors, engine=self.ops, seed=self.seed)


def compute(fn: Callable | dict | None = None, name: str | None = None, seed: int = 0):
    """Decorator: `@chute.compute def fn(sample_in, samples_out, *args, **kwargs)`.

    Given a dict `{tensor: [chute.ops ops]}` instead of a function, an EngineTransform: the same
    `.eval`, with no Python per sample."""
    if fn is None:
        return lambda f: compute(f, name)
    if isinstance(fn, dict):
        return EngineTransform(fn, seed)
    c = ComputeFunction(fn)
    if name:
        c.__name__ = name
    return c


def compose(functions: Sequence[Transform | ComputeFunction]) -> Transform:
    """Chains transforms: stage k's output rows are stage k+1's inputs."""
    if isinstance(functions, (Transform, ComputeFunction)) or not isinstance(functions, Sequence):
        raise TypeError("chute.compose takes a list of transforms, e.g. compose([f1(), f2(size=64)])")
    if not functions:
        raise ValueError("chute.compose needs at least one transform")
    stages: list[Stage] = []
    for k, f in enumerate(functions):
        if isinstance(f, ComputeFunction):
            f = f()
        if isinstance(f, EngineTransform):
            raise TypeError("chute.compose: an engine transform (chute.compute({...})) runs on its own; eval it "
                            "separately")
        if not isinstance(f, Transform):
            raise TypeError(f"chute.compose: item {k} is a {type(f).__name__}, not a transform made by a "
                            f"@chute.compute function (call it: f(...))")
        stages.extend(f.stages)
    return Transform(stages, "_".join(getattr(fn, "__name__", "fn") for fn, _, _ in stages))
