"""Run by test_ddp.py under `torchrun --standalone --nproc_per_node=2`: every rank loads its
share with distributed=True, trains a step with DDP (gloo, CPU) and gathers what it saw."""
import gc
import json
import os
import sys

import torch
import torch.distributed as dist

import chute
from chute import ops


def main(path: str, out: str) -> None:
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    ds = chute.load(path, read_only=True)
    # No .seed() and no chute.random.seed: the ranks must still agree on the permutation.
    dl = (ds.dataloader().batch(4).shuffle()
          .transform({"images": ops.Compose([ops.RandomResizedCrop(16), ops.Normalize([0.5] * 3, [0.25] * 3)]), "labels": None})
          .pytorch(distributed=True))
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(3 * 16 * 16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    epochs = []
    for _ in range(2):
        seen, steps, length = [], 0, len(dl)
        for batch in dl:  # a hang here (unequal batch counts) would time the test out
            loss = torch.nn.functional.cross_entropy(model(batch["images"].flatten(1)), batch["labels"][:, 0])
            opt.zero_grad()
            loss.backward()
            opt.step()
            seen += batch["index"].tolist()
            steps += 1
        epochs.append({"steps": steps, "seen": seen, "len": length})
    gathered = [None] * world
    dist.all_gather_object(gathered, {"rank": rank, "epochs": epochs, "seed": dl.state_dict()["seed"]})
    if rank == 0:
        with open(out, "w") as f:
            json.dump(gathered, f)
    del dl, batch  # chute's loader shuts down here, in a live interpreter
    gc.collect()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
    # torch 2.13's gloo run-loop threads can still be destroying a finished all_gather's work (and
    # decref its Python tensors) while the interpreter finalizes; that thread then exits inside a
    # noexcept destructor and the process aborts ("terminate called without an active exception",
    # seen in ~1 of 4 runs, backtrace in c10d::ProcessGroupGloo::runLoop). Everything this worker
    # does is finished and flushed by now, so leave without interpreter finalization.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
