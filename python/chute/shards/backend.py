"""Where the partitions of an XShards live and where `transform_shard` runs: the backends.

`local` (the embedded default, no Ray): partitions are Python objects in this process. Each
parallel step forks a pool of worker processes that inherit the step's tasks (functions and
partitions are not pickled, so lambdas and closures work, as with Spark's cloudpickle in Orca);
only the results come back (large ones through shared memory: chute.shards.transfer). A worker's
mutation of its partition never reaches the parent's copy. Where fork is unavailable the tasks are
pickled (module-level functions only).

`ray`: partitions are Ray object refs (one object per partition, not Ray Data blocks) and every
step is one Ray task per partition (retried by Ray when a worker or node dies). Ray is imported
only when this backend is used.

Chosen Orca's way (`init_orca_context(cluster_mode=...)`): `chute.shards.init(backend="local" |
"ray" | "auto")`. "auto", the default, uses Ray when this process is connected to a Ray cluster
(`ray.is_initialized()`) and the local pool otherwise. An XShards keeps the backend it was made on.
"""
from __future__ import annotations

import ctypes
import importlib
import multiprocessing as mp
import os
import pickle
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from chute.errors import ChuteError
from chute.shards import transfer

Task = tuple[Callable, tuple]  # fn(*args); for Ray, object refs among args are resolved by Ray


class ShardTransformError(ChuteError, RuntimeError):
    """A function raised while running on one shard. `index` is the shard's index (the lowest
    failing one when several fail), `error_type` the exception's class name and `remote_traceback`
    the worker's formatted traceback (also in the message)."""

    def __init__(self, message: str, index: int | None = None, error_type: str = "",
                 remote_traceback: str = ""):
        super().__init__(message)
        self.index = index
        self.error_type = error_type
        self.remote_traceback = remote_traceback

    def __reduce__(self):
        return (ShardTransformError, (str(self), self.index, self.error_type, self.remote_traceback))


@dataclass
class _Failure:
    """What a worker sends back instead of a result when the function raised."""
    error_type: str
    message: str
    traceback: str
    error: BaseException | None = None


def _call(fn: Callable, args: tuple) -> Any:
    try:
        return fn(*args)
    except Exception as e:
        tb = traceback.format_exc()
        try:
            pickle.dumps(e)
            err: BaseException | None = e
        except Exception:
            err = None
        return _Failure(type(e).__name__, str(e), tb, err)


def _raise_failure(what: str, index: int, f: _Failure) -> None:
    msg = (f"{what} failed on shard {index}: {f.error_type}: {f.message}\n\n"
           f"Traceback in the worker (shard {index}):\n{f.traceback}")
    raise ShardTransformError(msg, index, f.error_type, f.traceback) from f.error


def ray_module():
    """`ray`, or an ImportError that says how to install it."""
    try:
        return importlib.import_module("ray")
    except ImportError as e:
        raise ImportError("chute.shards' Ray backend needs Ray: pip install chute[ray]") from e


# ---------------------------------------------------------------------------------------------
# local: a forked process pool per step
_tasks: Sequence[Task] = ()
_run = ""


def _start_method() -> str:
    want = os.environ.get("CHUTE_MP_START_METHOD")
    if want:
        return want
    return "fork" if "fork" in mp.get_all_start_methods() else "spawn"


def _init_worker(tasks: Sequence[Task], run: str, pids) -> None:
    global _tasks, _run
    _die_with_parent()
    _tasks = tasks
    _run = run
    with pids.get_lock():  # the parent kills its workers by these pids when a step is abandoned
        for k in range(len(pids)):
            if pids[k] == 0:
                pids[k] = os.getpid()
                break


def _kill(pids) -> None:
    """SIGKILLs the workers and waits (up to 2 s) until none runs, so none writes after this."""
    pids = [p for p in pids if p]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and any(_running(p) for p in pids):
        time.sleep(0.01)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[1][:1] not in ("Z", "X")
    except (FileNotFoundError, IndexError):
        return False
    except OSError:  # no /proc: trust the signal
        return False


def _resolve_prctl():
    """libc's prctl, looked up once in the parent: a forked child must not call dlopen/dlsym (the
    loader's lock may have been held by another thread of the parent at the fork)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _resolve_prctl()


def _die_with_parent() -> None:
    """Linux: the kernel kills this worker when the process that forked it dies, so a killed
    driver leaves no worker behind."""
    if _PRCTL is None:
        return
    parent = os.getppid()
    _PRCTL(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the call
        os._exit(1)


def _run_task(i: int) -> Any:
    fn, args = _tasks[i]
    r = _call(fn, args)
    return r if isinstance(r, _Failure) else transfer.ship(r, _run)


@dataclass
class LocalBackend:
    """Partitions as Python objects in this process; steps on a pool of `num_workers` processes
    (0: in this process, on pickled copies of the partitions, for debugging)."""
    num_workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    name: str = "local"

    def default_partitions(self) -> int:
        return max(1, self.num_workers)

    def put(self, objs: list) -> list:
        return list(objs)

    def get(self, parts: list) -> list:
        return list(parts)

    def run(self, tasks: Sequence[Task], what: str, inline: bool = False) -> list:
        """fn(*args) for every task, results in task order; the lowest failing task raises
        ShardTransformError. `inline`: chute's own read-only functions, run in this process."""
        tasks = list(tasks)
        if not tasks:
            return []
        if inline:
            results = [_call(fn, args) for fn, args in tasks]
        elif self.num_workers == 0:
            results = [_call(fn, pickle.loads(pickle.dumps(args))) for fn, args in tasks]
        else:
            method = _start_method()
            if method != "fork":
                _check_picklable(tasks, what)
            ctx = mp.get_context(method)
            workers = min(self.num_workers, len(tasks))
            results = []
            transfer.sweep()
            run = transfer.new_run()
            pids = ctx.Array("q", workers)
            before = {p.pid for p in mp.active_children()}
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                                       initargs=(tasks, run, pids))
            ours: set[int] = set()
            done = False
            try:
                futures = [pool.submit(_run_task, i) for i in range(len(tasks))]
                ours = {p.pid for p in mp.active_children()} - before  # forked at the first submit
                for i, f in enumerate(futures):
                    try:
                        r = transfer.receive(f.result())
                    except BrokenProcessPool:
                        raise
                    except Exception as e:  # the result could not travel back (pickling)
                        raise ShardTransformError(
                            f"{what} failed on shard {i}: its result could not be sent back from the worker "
                            f"({type(e).__name__}: {e})", i, type(e).__name__) from e
                    if isinstance(r, _Failure):  # every shard before it succeeded: the lowest failing
                        _raise_failure(what, i, r)
                    results.append(r)
                done = True
            except BaseException as e:
                # Ctrl-C, or an error: the other shards' work is not wanted. The workers are killed
                # (also one not yet initialised), never waited for: one killed while holding the
                # pool's queue lock would block another forever.
                _kill(set(pids) | ours)
                pool.shutdown(wait=False, cancel_futures=True)
                transfer.remove_run(run)  # results shipped but not received
                if isinstance(e, BrokenProcessPool):
                    raise ShardTransformError(
                        f"{what}: a worker process of the local backend died (killed, out of memory, or "
                        f"os._exit in the function); no result was kept") from e
                raise
            finally:
                if done:
                    pool.shutdown(wait=True)
        for i, r in enumerate(results):
            if isinstance(r, _Failure):
                _raise_failure(what, i, r)
        return results


def _check_picklable(tasks: list[Task], what: str) -> None:
    fn, _ = tasks[0]
    try:
        pickle.dumps(fn)
    except Exception as e:
        raise ShardTransformError(
            f"{what}: the function {getattr(fn, '__qualname__', fn)!r} cannot be pickled for the local backend's "
            f"'{_start_method()}' worker processes ({type(e).__name__}: {e}); define it at module level") from e


# ---------------------------------------------------------------------------------------------
# ray: object refs and tasks
def _ray_task(fn: Callable, *args):
    """fn(*args) as a Ray task with two results: a flag the driver reads (None, or True when fn
    raised) and the shard (or the _Failure), so the driver never pulls a shard to check it."""
    r = _call(fn, args)
    return (True, r) if isinstance(r, _Failure) else (None, r)


_remote_task = None


def _remote(ray):
    global _remote_task
    if _remote_task is None:
        _remote_task = ray.remote(_ray_task)
    return _remote_task


@dataclass
class RayBackend:
    """Partitions as Ray object refs; each step one Ray task per partition. `ray_remote_args` go to
    every task (`num_cpus`, `scheduling_strategy="SPREAD"`, `max_retries`...)."""
    ray_remote_args: dict = field(default_factory=dict)
    name: str = "ray"

    def default_partitions(self) -> int:
        ray = ray_module()
        return max(1, int(ray.cluster_resources().get("CPU", 1)))

    def put(self, objs: list) -> list:
        ray = ray_module()
        return [ray.put(o) for o in objs]

    def get(self, parts: list) -> list:
        return list(ray_module().get(list(parts)))

    def run(self, tasks: Sequence[Task], what: str) -> list:
        """One Ray task per task (object refs among the arguments are resolved by Ray on the node
        that runs it), results as object refs in task order; when the function raised, the lowest
        failing shard raises ShardTransformError here."""
        ray = ray_module()
        remote = _remote(ray).options(num_returns=2, **self.ray_remote_args)
        pairs = [remote.remote(fn, *args) for fn, args in tasks]
        for i, p in enumerate(pairs):  # in shard order: the first failure is the lowest failing shard
            try:
                flag = ray.get(p[0])
            except ray.exceptions.RayError as e:  # a task Ray could not run (lost, unpicklable...)
                _cancel(ray, pairs[i + 1:])
                raise ShardTransformError(f"{what} failed on shard {i}: Ray could not run the task: {e}", i,
                                          type(e).__name__, str(e)) from e
            except BaseException:  # Ctrl-C: the rest is not wanted
                _cancel(ray, pairs[i:])
                raise
            if flag is not None:
                _cancel(ray, pairs[i + 1:])
                _raise_failure(what, i, ray.get(p[1]))
        return [p[1] for p in pairs]


def _cancel(ray, pairs: list) -> None:
    for p in pairs:
        try:
            ray.cancel(p[0])
        except Exception:  # already finished, or gone with its node
            pass


# ---------------------------------------------------------------------------------------------
_current: LocalBackend | RayBackend | None = None


def init(backend: str = "auto", num_workers: int | None = None, ray_remote_args: dict | None = None,
         **ray_init_kwargs) -> LocalBackend | RayBackend:
    """Chooses where new XShards live (Orca's `init_orca_context`): "local" (a process pool of
    `num_workers` processes, default the CPU count; 0 runs in this process), "ray" (Ray tasks;
    calls `ray.init(**ray_init_kwargs)` when this process is not connected yet) or "auto" (Ray when
    `ray.is_initialized()`, else local). Returns the backend."""
    global _current
    if backend not in ("auto", "local", "ray"):
        raise ValueError(f"chute.shards.init: backend must be 'auto', 'local' or 'ray', got {backend!r}")
    if num_workers is not None and (isinstance(num_workers, bool) or not isinstance(num_workers, int)
                                    or num_workers < 0):
        raise ValueError(f"num_workers must be a non-negative int, got {num_workers!r}")
    if backend == "auto":
        backend = "ray" if _ray_connected() else "local"
    if backend == "ray":
        ray = ray_module()
        if not ray.is_initialized():
            ray.init(**ray_init_kwargs)
        _current = RayBackend(dict(ray_remote_args or {}))
    else:
        if ray_init_kwargs or ray_remote_args:
            raise ValueError("chute.shards.init: Ray arguments given for the local backend")
        _current = LocalBackend() if num_workers is None else LocalBackend(num_workers)
    return _current


def _ray_connected() -> bool:
    ray = sys.modules.get("ray")
    return bool(ray is not None and getattr(ray, "is_initialized", lambda: False)())


def current() -> LocalBackend | RayBackend:
    """The backend new XShards use: the one `init` chose, else "auto"'s choice now."""
    if _current is not None:
        if _current.name == "ray" and not _ray_connected():
            raise ChuteError("chute.shards was initialised with backend='ray' but Ray has been shut down; call "
                             "chute.shards.init() again")
        return _current
    return RayBackend() if _ray_connected() else LocalBackend()
