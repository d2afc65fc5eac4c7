"""chute.shards: Orca's XShards (distributed data-parallel Python processing) on chute.

    from chute.shards import XShards
    shards = XShards.partition([train_images, train_labels])        # numpy, nested lists/dicts, pandas
    shards = shards.transform_shard(lambda d: {"x": d[0], "y": d[1]})
    df_shards = chute.shards.read_csv("data/")                      # one pandas DataFrame per partition
    df_shards.partition_by("location", 4); df_shards["location"].unique()
    shards.to_dataset("out.chute"); XShards.from_dataset("out.chute")

An XShards is a list of partitions, one Python object each (not Ray Data blocks), and
`transform_shard(fn)` runs the user's own code once per partition, in parallel.

Backends, chosen as Orca's `init_orca_context(cluster_mode=...)` chooses Spark's: call
`chute.shards.init(backend="local" | "ray" | "auto")` before making XShards.
- "local" (the embedded default): a pool of forked worker processes per step; no Ray needed.
- "ray": partitions are Ray object refs, each step one Ray task per partition (Ray retries tasks
  whose worker or node died). `init(backend="ray", **ray_init_kwargs)` connects when needed;
  `ray_remote_args` (e.g. {"scheduling_strategy": "SPREAD"}) go to every task.
- "auto" (used when init was never called): Ray if this process is connected to Ray, else local.
An XShards stays on the backend it was made on.

A function that raises in a partition gives ShardTransformError naming the shard index, with the
worker's traceback. Modules: `xshards` (XShards, SharedValue), `backend` (the backends, init),
`transfer` (the local workers' results through shared memory), `structure` (rows of a partition
of any type), `convert` (datasets, Ray Data, files), `readers`.
"""
from chute.shards.backend import LocalBackend, RayBackend, ShardTransformError, current, init
from chute.shards.readers import read_csv, read_json, read_parquet
from chute.shards.xshards import SharedValue, XShards

__all__ = ["LocalBackend", "RayBackend", "SharedValue", "ShardTransformError", "XShards", "current", "init",
           "read_csv", "read_json", "read_parquet"]
