"""chute.seq: lazy sequence views with SeqTools 1.4.1's API (`import chute.seq as seqtools`).

Views compute items when they are read: `smap`, `starmap` (mapping); `arange`, `gather`/`take`,
`cycle`, `repeat`, `interleave`, `switch`, `case`, `uniter` (indexing); `collate`,
`concatenate`, `batch`, `unbatch`, `split` (shape); `add_cache` and `prefetch` (evaluation);
`EvaluationError` and `seterr` (errors); `SerializableFunc`; `instrument.debug` and
`instrument.monitor_throughput`. Views support len, negative indices, slices that are views
(`chute.seq.utils.SeqSlice`), iteration, and assignment where the operation can be inverted.

chute tensors are sequences here: an item of `ds.images` is the decoded numpy array (the engine
decodes it with the GIL released) and a range of items is one engine call, so `batch` over a
tensor (or over `smap(f, tensor)`) reads each batch at once. Datasets and their views need no
adapter (`ds[i]` is a row view).

What differs from SeqTools, on purpose: `add_cache` computes misses outside its lock (threads
do not serialise on it, and one item is computed once); `prefetch(method="process")` accepts any
max_buffered, sends numpy results through shared memory by default, raises RuntimeError for a
dead worker at once, and its workers die with the parent; prefetch over `unbatch` computes each
batch once; `repeat(x, 1)` is allowed.
"""
from chute.seq import instrument, utils
from chute.seq.buffering import add_cache
from chute.seq.errors import EvaluationError, seterr
from chute.seq.indexing import arange, case, cycle, gather, interleave, repeat, switch, take, uniter
from chute.seq.mapping import smap, starmap
from chute.seq.prefetch import prefetch
from chute.seq.serialization import SerializableFunc
from chute.seq.shape import batch, collate, concatenate, split, unbatch

__all__ = [
    "prefetch", "EvaluationError", "seterr", "add_cache", "arange", "case", "gather", "take", "cycle",
    "interleave", "repeat", "switch", "uniter", "smap", "starmap", "collate", "concatenate", "batch",
    "unbatch", "split", "SerializableFunc", "instrument", "utils",
]
