"""torch.distributed for the trainer and for sharded scoring: started by ``torchrun``, gloo on CPU, NCCL on CUDA.

``torchrun --nproc-per-node N -m iqametrics train|score|compare ...`` sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK`` and the rendezvous variables; a plain ``iqa`` command is a world of one and never
touches ``torch.distributed``.  The collectives used here are small (a flag, a few counts, a
barrier): the processes exchange no images and no model state besides what DDP does in training.
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import List, Optional, Sequence

import torch
import torch.distributed as dist

from .devices import resolve_device

__all__ = ["Context", "init", "shutdown", "launched_by_torchrun"]


def launched_by_torchrun() -> bool:
    """True in a process that torchrun started as one of several (``WORLD_SIZE`` > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


@dataclass(frozen=True)
class Context:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def _reduce(self, values: Sequence[float], op) -> List[float]:
        # NCCL reduces CUDA tensors only; gloo takes CPU tensors
        t = torch.tensor([float(v) for v in values], dtype=torch.float64,
                         device=self.device if self.device.type == "cuda" else "cpu")
        dist.all_reduce(t, op=op)
        return t.tolist()

    def any(self, flag: bool) -> bool:
        """True on every process if ``flag`` is true on any (a collective: call it on all ranks)."""
        if not self.distributed:
            return flag
        return self._reduce([1.0 if flag else 0.0], dist.ReduceOp.MAX)[0] > 0

    def sum(self, counts: Sequence[int]) -> List[int]:
        """Element-wise sums of ``counts`` over every process (a collective; exact below 2**53)."""
        if not self.distributed:
            return [int(c) for c in counts]
        return [int(round(v)) for v in self._reduce(counts, dist.ReduceOp.SUM)]

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def init(device: str = "auto", *, timeout: Optional[datetime.timedelta] = None) -> Context:
    """The process's place in the job, initialising the process group when run by torchrun.

    ``device``: ``auto`` (CUDA if available, one GPU per local rank), ``cpu``, ``cuda`` or ``cuda:N``;
    one this machine does not have raises :class:`~iqametrics.devices.DeviceError` (a ``ValueError``).
    ``timeout``: how long a collective may wait for the slowest process (torch's default if None).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device)
    if dev.type == "cuda" and dev.index is None:  # this process's GPU must be here too
        dev = resolve_device(torch.device("cuda", local_rank if world > 1 else 0))
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        options = {} if timeout is None else {"timeout": timeout}
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo", **options)
    return Context(rank=rank, world=world, local_rank=local_rank, device=dev)


def shutdown(ctx: Context) -> None:
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()
