"""chute on Ray: the dataset format as a Ray Data source and sink, and `scheduler="ray"` for the
transform executor.

    ds = chute.ray.read("data/imagenet.chute", tensors=["images", "labels"])   # a ray.data.Dataset
    ds.map_batches(resize).iter_torch_batches(batch_size=64)
    chute.ray.write(ray_dataset, "data/out.chute")                            # committed once, at the end
    flip().eval(src, out, num_workers=8, scheduler="ray")                     # slices as Ray tasks

Ray is an optional extra (`pip install chute[ray]`): importing chute never imports Ray; the calls
above do, and say what to install when it is missing. A dataset path must be readable (and, for
writes, writable) at the same path on every node.
"""
from chute.ray.datasink import write
from chute.ray.datasource import read
from chute.ray.scheduler import ray_module

__all__ = ["read", "ray_module", "write"]
