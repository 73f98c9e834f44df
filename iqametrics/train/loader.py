"""DataLoader of one epoch: the plan's micro-batches, decoded and augmented in worker processes."""
from __future__ import annotations

from typing import Optional, Sequence

from torch.utils.data import DataLoader, Dataset

from ..batching import _single_thread_worker
from .sampling import EpochPlan, draw_generator

__all__ = ["DrawDataset", "epoch_loader"]


class DrawDataset(Dataset):
    """Training draws: draw ``d`` is record ``d % len(records)`` loaded with its own generator."""

    def __init__(self, records: Sequence, task, seed: int, epoch: int):
        self.records = list(records)
        self.task = task
        self.seed = int(seed)
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, draw: int):
        record = self.records[draw % len(self.records)]
        try:
            return self.task.load(record, draw_generator(self.seed, self.epoch, draw))
        except Exception as exc:  # a training set must be readable: name the file, keep the cause
            raise RuntimeError(f"training sample {record.key!r} could not be loaded: {exc}") from exc


class _Collate:
    def __init__(self, task):
        self.task = task

    def __call__(self, items):
        return self.task.collate(items)


def epoch_loader(records: Sequence, task, plan: EpochPlan, *, rank: int = 0, start_step: int = 0,
                 workers: Optional[int] = None, pin_memory: bool = False) -> DataLoader:
    """The micro-batches of process ``rank`` for ``plan``, from ``start_step`` on, in order."""
    if workers is None:
        import os

        workers = min(4, os.cpu_count() or 1)
    batches = list(plan.micro_batches(rank, start_step))
    return DataLoader(
        DrawDataset(records, task, plan.seed, plan.epoch),
        batch_sampler=batches,
        collate_fn=_Collate(task),
        num_workers=workers,
        pin_memory=pin_memory,
        worker_init_fn=_single_thread_worker if workers else None,
        persistent_workers=False,
    )
