"""chute.loader: Deep Lake 3's loader builder (`ds.dataloader()`) over chute's C++ streaming engine.

Layout:
- `builder`: `DataLoader`, the immutable builder (batch, shuffle, transform, query, sample_by,
  seed, offset, then pytorch / numpy / tensorflow), the plan of an epoch and resumption state.
- `run`: `Run`, one pass over the data: the engine loader, the worker pool, the hand-over of
  engine batches; closes live runs at interpreter exit and forgets them in a forked child.
- `workers`: `WorkerPool`, the forked processes that run Python transforms and collate_fn,
  fed through shared memory, results in order.
- `collate`: engine batches to what the training loop gets (arrays, torch or tf tensors, text,
  JSON, PIL images), Python transforms and collate_fn; runs in-process or in a worker.

The loader reaches the dataset through its public API and `chute._internal.handle`
(`dataset_handle`, `tensor_core`); it never imports `chute.dataset`.

Concurrency rules (the engine's are in cpp/README.md, "Concurrency rules"): the engine plans the
epoch, reads, decodes and runs `chute.ops` on its own threads with the GIL released, from a
snapshot of the tensors taken when the run starts (appends on other threads are not seen). A
running loader has one consumer: the thread that iterates it. Python transforms run in this
process (num_workers=0) or in worker processes forked before the run's engine threads start.
Each rank of a distributed job builds its own loader; they agree on the seed when built.
"""
from chute.loader.builder import DataLoader

__all__ = ["DataLoader"]
