"""The parallel transform executor: `chute.compute`, `chute.compose`, `.eval(...)`.

Deep Lake 3's `deeplake.compute`, with three promises it lacked: an eval that raises leaves
`ds_out` exactly as before (or at its last checkpoint); the result is the same for every
scheduler and number of workers (rows in input order, class names in order of first appearance,
one writer's chunk layout); and the encoding and writing run in the engine with the GIL released,
worker processes writing their chunks straight to the dataset's folder.

Modules: `compute` (the decorator, Transform, compose), `run` (eval: checks, checkpoints, merge,
undo), `schedulers` (serial, threaded, processed; `register_scheduler`), `worker` (one slice of
inputs into segments), `samples` (samples_out and the rows between stages), `inputs` (data_in).
"""
from chute.transform.compute import ComputeFunction, Transform, compose, compute
from chute.transform.schedulers import register_scheduler, schedulers

__all__ = ["ComputeFunction", "Transform", "compose", "compute", "register_scheduler", "schedulers"]
