"""Data-parallel training over processes: `torchrun -m gan_cli.train`, or the tasks of a
submitit job (`hydra.launcher.tasks_per_node`, `hydra.launcher.nodes`).

Every rank trains the same models on its own shard of the data; DistributedDataParallel
averages the gradients, so the weights stay identical across ranks. Only rank 0 logs,
draws samples, evaluates and writes checkpoints. With one process, `World()` makes every
helper here a no-op.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1

    def any(self, flag: bool) -> bool:
        """True if `flag` is true on any rank (every rank must call it)."""
        if not self.active:
            return flag
        t = torch.tensor([float(flag)])  # a CPU tensor: gloo carries it on every backend set
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def sum(self, t: torch.Tensor) -> torch.Tensor:
        """The sum of tensor `t` over the ranks, on `t`'s device (every rank must call it)."""
        if not self.active:
            return t
        t = t.clone()
        dist.all_reduce(t)
        return t

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's `obj`, in rank order, on rank 0 (others get [])."""
        if not self.active:
            return [obj]
        out = [None] * self.size if self.is_main else None
        dist.gather_object(obj, out, dst=0)
        return out or []

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's `obj` on every rank."""
        if not self.active:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def world() -> World:
    """This process's place in the run, joining the process group on first use.

    torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; a submitit job with several tasks
    gets them (and MASTER_ADDR/MASTER_PORT) from submitit's own environment.
    """
    if "WORLD_SIZE" not in os.environ and "SUBMITIT_EXECUTOR" in os.environ:
        import submitit

        if submitit.JobEnvironment().num_tasks > 1:
            submitit.helpers.TorchDistributedEnvironment().export()
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(local_rank % torch.cuda.device_count())
        # gloo for CPU tensors, NCCL for CUDA ones where there is CUDA
        backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend, timeout=datetime.timedelta(minutes=30))
    return World(dist.get_rank(), dist.get_world_size(), local_rank)


def device_for(device: torch.device, world: World) -> torch.device:
    """One GPU per rank: cuda becomes cuda:LOCAL_RANK."""
    if world.active and device.type == "cuda":
        return torch.device("cuda", world.local_rank % torch.cuda.device_count())
    return device


def wrap(module: nn.Module, world: World) -> nn.Module:
    """DistributedDataParallel around `module` on several ranks; `module` itself otherwise."""
    if not world.active:
        return module
    device = next(module.parameters()).device
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def finish() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
