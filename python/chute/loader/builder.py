"""ds.dataloader(): Deep Lake 3's immutable loader builder over chute's C++ streaming engine.

    loader = (ds.dataloader().batch(64).shuffle().transform({"images": ops.RandomResizedCrop(224), "labels": None})
              .pytorch(num_threads=8))
    for batch in loader: ...

The engine plans the epoch (a pure function of seed and epoch), reads only each sample's bytes,
decodes on its own threads, runs chute.ops image ops and fills preallocated batch buffers, all
with the GIL released. Python transforms and collate_fn run afterwards: in this process when
num_workers=0, else in worker processes fed through shared memory, in the same order.
"""
from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from chute import _core
from chute import random as chute_random
from chute._internal.checks import check_int
from chute._internal.handle import dataset_handle, tensor_core
from chute._internal.sampling import draw_weighted, sample_by_tql
from chute.errors import TensorDoesNotExistError
from chute.loader.run import Run
from chute.ops import Op


class DataLoader:
    """An immutable loader builder. Every method returns a new DataLoader; batch, shuffle,
    transform, offset and the terminal (pytorch/numpy/tensorflow) may each be set once."""

    def __init__(self, dataset, ignore_errors: bool = False, verbose: bool = False):
        self._dataset = dataset
        self._cfg: dict[str, Any] = {
            "ignore_errors": ignore_errors, "batch_size": 1, "drop_last": False, "shuffle": False,
            "buffer_size": 2048, "transform": None, "transform_kwargs": {}, "offset": 0, "plan_steps": [],
            "mode": None, "num_workers": 0, "collate_fn": None, "tensors": None, "num_threads": None,
            "prefetch_factor": 2, "distributed": False, "return_index": True, "decode_method": None,
            "persistent_workers": False, "seed": None, "set": set(),
        }
        self._state = {"epoch": 0, "consumed": None, "seed": None}
        self._pool = None
        self._plan_cache = None
        self.summary = {"skipped": 0, "errors": []}

    # ---- builder ----
    def _replace(self, once: str | None = None, **changes) -> DataLoader:
        if once is not None and once in self._cfg["set"]:
            raise ValueError(_ALREADY[once])
        new = DataLoader.__new__(DataLoader)
        new._dataset = self._dataset
        new._cfg = dict(self._cfg)
        new._cfg["set"] = set(self._cfg["set"]) | ({once} if once else set())
        new._cfg["plan_steps"] = list(self._cfg["plan_steps"])
        new._cfg.update(changes)
        new._state = {"epoch": 0, "consumed": None, "seed": None}
        new._pool = None
        new._plan_cache = None
        new.summary = {"skipped": 0, "errors": []}
        return new

    def batch(self, batch_size: int, drop_last: bool = False) -> DataLoader:
        batch_size = check_int(batch_size, "batch_size", 1, MAX_BATCH)
        return self._replace("batch", batch_size=batch_size, drop_last=bool(drop_last))

    def shuffle(self, shuffle: bool = True, buffer_size: int = 2048) -> DataLoader:
        """Shuffles each epoch (a pure function of seed and epoch, resumable). On local disk: a full
        permutation of the rows (buffer_size is not used). In an object store: chunk-local, so each
        chunk is one GET: the chunks permuted, their rows drawn at random from a buffer of
        `buffer_size` MB of chunks, as Deep Lake's loader does."""
        return self._replace("shuffle", shuffle=bool(shuffle), buffer_size=buffer_size)

    def transform(self, transform: Callable | dict | None = None, **kwargs) -> DataLoader:
        if transform is not None and not callable(transform) and not isinstance(transform, dict):
            raise TypeError(f"transform must be a callable or a dict {{tensor: fn}}, got {type(transform).__name__}")
        if isinstance(transform, dict):
            for k, v in transform.items():
                if v is not None and not callable(v) and not isinstance(v, Op):
                    raise TypeError(f"transform['{k}'] must be a callable, a chute.ops op or None")
        return self._replace("transform", transform=transform, transform_kwargs=kwargs)

    def offset(self, off: int = 0) -> DataLoader:
        return self._replace("offset", offset=check_int(off, "offset"))

    def query(self, query_string: str) -> DataLoader:
        if not isinstance(query_string, str):
            raise TypeError("query takes a TQL string")
        return self._replace(None, plan_steps=self._cfg["plan_steps"] + [("query", query_string)])

    def sample_by(self, weights, replace: bool = True, size: int | None = None) -> DataLoader:
        if isinstance(weights, str):
            step = ("sample_by", weights, bool(replace), size)
        else:
            w = np.asarray(weights, dtype=np.float64)
            if w.ndim != 1:
                raise ValueError(f"sample_by weights must be 1-D, got shape {w.shape}")
            if not np.all(np.isfinite(w)) or (w < 0).any():
                raise ValueError("sample_by weights must be finite and non-negative")
            step = ("sample_by", w, bool(replace), size)
        return self._replace(None, plan_steps=self._cfg["plan_steps"] + [step])

    def seed(self, seed: int) -> DataLoader:
        return self._replace(None, seed=check_int(seed, "seed"))

    def _terminal(self, mode: str, tensors, **kw) -> DataLoader:
        if self._cfg["mode"] is not None:
            if self._cfg["mode"] == mode:
                raise ValueError(f"already called .{mode}()")
            raise ValueError(f"Can't call .{mode}() after .{self._cfg['mode']}()")
        if tensors is not None and isinstance(self._cfg["transform"], dict):
            raise ValueError("Tensors have already been specified by passing a dictionary to .transform()")
        if tensors is not None and "index" in tensors:
            raise ValueError("index is not a tensor, to get index, pass return_index=True")
        kw["num_workers"] = check_int(kw.get("num_workers", 0), "num_workers", 0, MAX_WORKERS)
        if kw.get("num_threads") is not None:
            # 0 (like None) lets the engine pick one thread per core
            kw["num_threads"] = check_int(kw["num_threads"], "num_threads", 0, MAX_THREADS)
        kw["prefetch_factor"] = check_int(kw.get("prefetch_factor", 2), "prefetch_factor", 1, MAX_PREFETCH)
        dl = self._replace(None, mode=mode, tensors=tensors, **kw)
        dl._check_tensors()
        if dl._cfg["distributed"] and dl._cfg["seed"] is None and _torch_distributed() is not None:
            # Agree on the seed now, while every rank is building its loader: a later first use
            # (say state_dict() on rank 0 only) would wait forever for the other ranks.
            dl._cfg["seed"] = _shared_seed()
        return dl

    def pytorch(self, num_workers: int = 0, collate_fn: Callable | None = None, tensors=None, num_threads=None,
                prefetch_factor: int = 2, distributed: bool = False, return_index: bool = True, decode_method=None,
                persistent_workers: bool = False) -> DataLoader:
        """The loader yields dicts of torch tensors. With distributed=True each rank (torch.distributed's,
        else RANK / WORLD_SIZE) gets an equal share of every epoch. Build it on every rank: without
        .seed() the ranks take rank 0's seed here (a broadcast when torch.distributed is initialised)."""
        return self._terminal("pytorch", tensors, num_workers=num_workers, collate_fn=collate_fn, num_threads=num_threads,
                              prefetch_factor=prefetch_factor, distributed=distributed, return_index=return_index,
                              decode_method=decode_method, persistent_workers=persistent_workers)

    def numpy(self, num_workers: int = 0, tensors=None, num_threads=None, prefetch_factor: int = 2, decode_method=None,
              persistent_workers: bool = False, distributed: bool = False, return_index: bool = True,
              collate_fn: Callable | None = None) -> DataLoader:
        return self._terminal("numpy", tensors, num_workers=num_workers, num_threads=num_threads,
                              prefetch_factor=prefetch_factor, decode_method=decode_method,
                              persistent_workers=persistent_workers, distributed=distributed, return_index=return_index,
                              collate_fn=collate_fn)

    def tensorflow(self, num_workers: int = 0, collate_fn: Callable | None = None, tensors=None, num_threads=None,
                   prefetch_factor: int = 2, return_index: bool = True, decode_method=None,
                   persistent_workers: bool = False) -> DataLoader:
        return self._terminal("tensorflow", tensors, num_workers=num_workers, collate_fn=collate_fn, num_threads=num_threads,
                              prefetch_factor=prefetch_factor, return_index=return_index, decode_method=decode_method,
                              persistent_workers=persistent_workers)

    # ---- what the loader reads ----
    def _tensor_names(self) -> list[str]:
        t = self._cfg["transform"]
        if isinstance(t, dict):
            return [k for k in t if k != "index"]
        if self._cfg["tensors"] is not None:
            return list(self._cfg["tensors"])
        return list(self._dataset.tensors)

    def _check_tensors(self) -> None:
        names = self._tensor_names()
        if not names:
            raise ValueError(f"dataset '{self._dataset.path}' has no tensors to load")
        for n in names:
            if n not in self._dataset.tensors:
                raise TensorDoesNotExistError(
                    f"tensor '{n}' does not exist in dataset '{self._dataset.path}' (tensors: {', '.join(self._dataset.tensors)})")
        dm = self._cfg["decode_method"] or {}
        if not isinstance(dm, dict):
            raise TypeError("decode_method must be a dict {tensor: 'numpy' | 'tobytes' | 'pil'}")
        for k, v in dm.items():
            if v not in ("numpy", "tobytes", "pil"):
                raise ValueError(f"decode_method['{k}'] must be 'numpy', 'tobytes' or 'pil', got {v!r}")
            if v == "pil" and self._dataset[k].sample_compression not in ("jpeg", "png"):
                raise ValueError(f"decode_method 'pil' needs a jpeg or png tensor; '{k}' is {self._dataset[k].sample_compression}")
            if v == "pil" and importlib.util.find_spec("PIL") is None:
                raise ImportError(f"decode_method['{k}'] = 'pil' returns Pillow images, and Pillow is not installed: "
                                  "pip install 'chute[image]'")

    def _world(self) -> tuple[int, int]:
        if not self._cfg["distributed"]:
            return 0, 1
        tdist = _torch_distributed()
        if tdist is not None:
            return tdist.get_rank(), tdist.get_world_size()
        if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
            world = _env_int("WORLD_SIZE", 1, 2**32 - 1)
            rank = _env_int("RANK", 0, world - 1)
            return rank, world
        raise ValueError("distributed=True needs torch.distributed initialized, or RANK and WORLD_SIZE set")

    def _seed(self) -> int:
        if self._state["seed"] is None:
            seed = self._cfg["seed"]
            if seed is None and self._cfg["distributed"]:
                seed = _shared_seed()
            self._state["seed"] = chute_random.resolve(seed)
        return self._state["seed"]

    def _rows(self, epoch: int) -> np.ndarray:
        ds = self._dataset
        names = self._tensor_names()
        length = min(ds[n].num_samples for n in names)
        if ds.index.is_full:
            rows = np.arange(length, dtype=np.uint64)
        else:
            rows = ds.index.indices(ds.max_len).astype(np.uint64)
            if ds.index.scalar:
                raise ValueError("cannot make a loader over a single sample; use ds[i:i+1]")
        engine = dataset_handle(ds).core
        for step in self._cfg["plan_steps"]:
            if step[0] == "query":
                # each query filters the current plan (rows keep the order the query gives them)
                rows = engine.query(step[1], rows, self._seed())
            elif isinstance(step[1], str):
                rows = engine.query(sample_by_tql(step[1], step[2], step[3]), rows, self._seed() + epoch)
            else:
                rows = draw_weighted(rows, step[1], step[2], step[3], self._seed(), epoch)
        return rows

    def _plan(self, epoch: int, consumed: int):
        """This rank's share of the epoch after `consumed` samples, computed once per (seed, epoch,
        position, world, tensor lengths): len(loader) and the iteration after it share one plan."""
        rank, world = self._world()
        key = (self._seed(), epoch, consumed, rank, world, tuple(self._dataset[n].num_samples for n in self._tensor_names()))
        if self._plan_cache is not None and self._plan_cache[0] == key:
            return self._plan_cache[1]
        rows = self._rows(epoch)
        share, total = _core.plan_order(rows, self._cfg["shuffle"], self._seed(), epoch, rank, world,
                                        bool(self._cfg["drop_last"]) and world > 1, consumed,
                                        **self._remote_shuffle())
        self._plan_cache = (key, (share, total, world))
        return share, total, world

    def _remote_shuffle(self) -> dict:
        """An object store's shuffle: chunk-local through a buffer of `buffer_size` MB (whole chunks
        of the tensor with the most chunks, counted at its target fill, max_chunk_size / 2); local
        datasets get a full permutation."""
        if not (self._cfg["shuffle"] and dataset_handle(self._dataset).core.is_remote):
            return {}
        cores = [tensor_core(self._dataset[n]) for n in self._tensor_names()]
        ends, core = max(((c.chunk_ends(), c) for c in cores), key=lambda e: len(e[0]))
        if len(ends) == 0:
            return {}
        meta = json.loads(core.meta_json())
        chunk_bytes = (meta.get("max_chunk_size") or (16 << 20)) // 2
        rows_per_chunk = max(1, ends[-1] // len(ends))
        buffer_chunks = max(1, int(self._cfg["buffer_size"]) * (1 << 20) // max(1, chunk_bytes))
        # the chunks of the buffer and of the read-ahead window stay cached until they are used
        core.reserve_cache((buffer_chunks + 64) * chunk_bytes * 2)
        return {"chunk_ends": list(ends), "buffer_rows": buffer_chunks * rows_per_chunk,
                "interleave": min(8, buffer_chunks)}

    def remote_readahead(self) -> int:
        """Samples of the plan whose chunks an object store's loader requests ahead (0 locally)."""
        if not dataset_handle(self._dataset).core.is_remote:
            return 0
        return max(1024, 8 * self._cfg["batch_size"] * max(1, int(self._cfg.get("prefetch_factor") or 2)))

    def __len__(self) -> int:
        epoch = self._state["epoch"]
        consumed = self._state["consumed"] if self._state["consumed"] is not None else self._cfg["offset"]
        share, _, _ = self._plan(epoch, consumed)
        b = self._cfg["batch_size"]
        return len(share) // b if self._cfg["drop_last"] else -(-len(share) // b)

    # ---- epochs and resumption ----
    def set_epoch(self, epoch: int) -> None:
        self._state["epoch"] = check_int(epoch, "epoch")
        self._state["consumed"] = None

    @property
    def epoch(self) -> int:
        return self._state["epoch"]

    def state_dict(self) -> dict:
        consumed = self._state["consumed"] if self._state["consumed"] is not None else self._cfg["offset"]
        return {"epoch": self._state["epoch"], "consumed": consumed, "seed": self._seed()}

    def load_state_dict(self, state: dict) -> None:
        if not isinstance(state, dict) or not {"epoch", "consumed", "seed"} <= state.keys():
            raise ValueError("load_state_dict takes what state_dict() returned: a dict with epoch, consumed and seed")
        self._state = {k: check_int(state[k], f"state['{k}']") for k in ("epoch", "consumed", "seed")}

    # ---- iteration ----
    def __iter__(self) -> Iterator:
        if self._cfg["mode"] is None:
            raise ValueError("call .pytorch(), .numpy() or .tensorflow() before iterating")
        run = Run(self)
        try:
            yield from run
        finally:
            run.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self) -> DataLoader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    @property
    def dataset(self):
        return self._dataset

    @property
    def batch_size(self) -> int:
        return self._cfg["batch_size"]

    def __repr__(self) -> str:
        return (f"DataLoader(dataset={self._dataset.path!r}, batch_size={self._cfg['batch_size']}, "
                f"shuffle={self._cfg['shuffle']}, mode={self._cfg['mode']})")


def _env_int(name: str, lo: int, hi: int) -> int:
    text = os.environ[name]
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"distributed=True: environment variable {name}={text!r} is not an integer") from None
    if not lo <= value <= hi:
        raise ValueError(f"distributed=True: environment variable {name}={value} must be in [{lo}, {hi}]")
    return value


def _torch_distributed():
    """torch.distributed when a process group is initialised, else None."""
    try:
        import torch.distributed as tdist
    except ImportError:
        return None
    return tdist if tdist.is_available() and tdist.is_initialized() else None


def _shared_seed() -> int:
    """The seed of a distributed loader that was given none. Every rank must shuffle with the same
    seed, or the ranks' shares of the permutation overlap and miss rows: rank 0's seed is sent to
    all ranks when torch.distributed is initialised; with only RANK / WORLD_SIZE set there is no one
    to ask, so it is chute.random's seed, else 0 (DistributedSampler's default)."""
    tdist = _torch_distributed()
    if tdist is not None:
        box = [chute_random.resolve(None) if tdist.get_rank() == 0 else None]
        tdist.broadcast_object_list(box, src=0)
        return int(box[0])
    fixed = chute_random.get_seed()
    return 0 if fixed is None else fixed


# Bounds on the loader's sizes: far above any sensible value, low enough that a typo (or -1 read as
# "all") is a clear error instead of an engine that tries to start a billion threads.
MAX_BATCH = 2**31 - 1
MAX_THREADS = 1024
MAX_WORKERS = 1024
MAX_PREFETCH = 1024


_ALREADY = {
    "batch": "batch size is already set",
    "shuffle": "shuffle is already set",
    "transform": "transform is already set",
    "offset": "offset is already set",
}
