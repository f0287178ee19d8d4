"""One process or many: the run's rank, world size and device, and the collectives it needs.

The same entry point runs alone or under ``torchrun`` (which sets ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous address). With several processes a
``torch.distributed`` process group is created: NCCL on GPUs, gloo on CPUs.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..errors import ConfigError


@dataclass(frozen=True)
class Context:
    """Where this process stands in the run.

    Attributes:
        rank: this process's index (0 logs and writes files).
        world_size: number of processes.
        local_rank: index on this machine (picks the GPU).
        device: the device this process computes on.
        owns_group: this context created the process group (and destroys it).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _pick_device(name: str, local_rank: int, setting: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        name = f"cuda:{local_rank}"
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ConfigError(f"{setting}: {name!r} is not a device ({err}); use 'auto', 'cpu' or 'cuda'") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        assign = f"{setting} = " if setting == "run.device" else f"{setting} "
        raise ConfigError(f"{setting} asks for CUDA but no GPU is available; use {assign}\"cpu\" or \"auto\"")
    return device


def setup(device: str = "auto", timeout_s: float = 1800, *, setting: str = "run.device") -> Context:
    """The context of this process; joins the process group when launched by ``torchrun``.

    Args:
        device: ``run.device`` of the configuration.
        timeout_s: how long collectives wait for a missing process before failing.
        setting: how errors name ``device`` (``"--device"`` for a command-line flag).
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    chosen = _pick_device(device, local_rank, setting)
    if chosen.type == "cuda":
        torch.cuda.set_device(chosen)
    owns = False
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if chosen.type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))
        owns = True
    if dist.is_initialized():
        rank, world_size = dist.get_rank(), dist.get_world_size()
    return Context(rank=rank, world_size=world_size, local_rank=local_rank, device=chosen, owns_group=owns)


def teardown(context: Context) -> None:
    """Destroy the process group if :func:`setup` created it."""
    if context.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(tensor: torch.Tensor, context: Context) -> torch.Tensor:
    """Sum of ``tensor`` over all processes (a copy; the input is left as it is)."""
    out = tensor.clone()
    if context.distributed:
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out


def gather_rows(tensor: torch.Tensor, context: Context) -> torch.Tensor:
    """Concatenate every process's ``[n_r, ...]`` rows in rank order (all get the result).

    Row counts may differ between processes (evaluation shards).
    """
    if not context.distributed:
        return tensor
    count = torch.tensor([tensor.shape[0]], device=tensor.device)
    counts = [torch.zeros_like(count) for _ in range(context.world_size)]
    dist.all_gather(counts, count)
    sizes = [int(c.item()) for c in counts]
    padded = torch.zeros((max(sizes), *tensor.shape[1:]), dtype=tensor.dtype, device=tensor.device)
    padded[: tensor.shape[0]] = tensor
    pieces = [torch.empty_like(padded) for _ in range(context.world_size)]
    dist.all_gather(pieces, padded)
    return torch.cat([piece[:size] for piece, size in zip(pieces, sizes)])


def barrier(context: Context) -> None:
    """Wait for every process (no-op alone)."""
    if context.distributed:
        dist.barrier()


def broadcast_object(value: object, context: Context) -> object:
    """Rank 0's ``value`` on every process."""
    if not context.distributed:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]
