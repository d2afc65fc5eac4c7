"""chute.pipeline: staged pipelines with olympipe 2.2.0's API (`from chute.pipeline import Pipeline`).

    res = Pipeline(paths).task(decode, count=2).task(resize, count=2).task(encode).wait_for_result()

Each `task` stage runs in its own worker processes; items cross between processes pickled, large
buffers (numpy arrays) through shared memory. Unlike olympipe, the output keeps the input's order
with `count > 1` (sequence numbers and a bounded reorder buffer; `ordered=False` opts out), every
stage built on one pipeline receives every item, and a failure (an exception in any stage, a worker
that dies) raises `PipelineExecutionError` naming the stage, the item's position and the traceback,
with no process or shared memory left behind; Ctrl-C stops every worker. `.into(ds)` appends the
items to a chute dataset.

Modules: `api` (the builder), `run` (the coordinator and task stages), `stages` (the stages that
run in the parent), `worker` (the worker process), `shm` (how items cross), `errors`.
"""
from chute.pipeline.api import Pipeline
from chute.pipeline.errors import PipelineExecutionError

__all__ = ["Pipeline", "PipelineExecutionError"]
