"""This process's place in a (possibly distributed) run, and the collective steps training needs.

Started by torchrun, a process joins the process group (NCCL on GPU, gloo on CPU), even as the
only process (`torchrun --nproc_per_node 1` runs the distributed path on one GPU); otherwise it
is a run of one and every collective step is a no-op. Collective steps take tensors anywhere
and do their exchange on the process's device (NCCL exchanges GPU tensors only).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from kit.device import resolve_device


@dataclass
class Process:
    """This process's place in a (possibly distributed) run."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")
    #: The process group's backend (``nccl``, ``gloo``); None outside a process group.
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1 or self.backend is not None


def start_process(device_name: str) -> Process:
    """Join the process group when started by torchrun (env TORCHELASTIC_RUN_ID, or
    WORLD_SIZE > 1), pick the device."""
    device = resolve_device(device_name)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1 and "TORCHELASTIC_RUN_ID" not in os.environ:
        return Process(device=device)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Process(rank=dist.get_rank(), world_size=dist.get_world_size(), device=device,
                   backend=str(dist.get_backend()))  # fmt: skip


def average_buffers(model: nn.Module, proc: Process) -> None:
    """Average batch-norm statistics over processes, so every copy of the model is the same.

    DDP keeps the weights equal, but each process updates its running statistics on its own
    batches after DDP's broadcast at the start of a forward pass.
    """
    if not proc.distributed:
        return
    for buffer in model.buffers():
        if buffer.is_floating_point():
            dist.all_reduce(buffer)
            buffer /= proc.world_size


def any_process(flag: bool, proc: Process) -> bool:
    """True if `flag` is true on any process (so all stop together)."""
    if not proc.distributed:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=proc.device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def sum_over_processes(values: torch.Tensor, proc: Process) -> torch.Tensor:
    """`values` summed over all processes (unchanged in a run of one), on their own device."""
    if not proc.distributed:
        return values
    exchanged = values.to(proc.device)
    dist.all_reduce(exchanged)
    return exchanged.to(values.device)


def wrap_model(model: nn.Module, proc: Process) -> nn.Module:
    """The model as DistributedDataParallel in a distributed run, else unchanged."""
    if not proc.distributed:
        return model
    device_ids = [proc.device.index] if proc.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def barrier(proc: Process) -> None:
    """Wait for every process (no-op in a run of one)."""
    if proc.distributed:
        dist.barrier(device_ids=[proc.device.index] if proc.device.type == "cuda" else None)


def is_main_process() -> bool:
    """True outside torchrun and on its process 0: the one that prints and writes."""
    return not dist.is_initialized() or dist.get_rank() == 0


def end_process_group() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_initialized():
        dist.destroy_process_group()
