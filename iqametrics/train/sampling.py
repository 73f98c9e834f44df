"""The order in which training items are drawn, and the random numbers of each draw.

Everything random in training data is a function of ``(seed, epoch, draw)``:

* the order of an epoch is a permutation seeded by ``(seed, epoch)``; with ``repeats > 1`` every
  item appears ``repeats`` times (HyperIQA's 25 crops of each image per epoch);
* each draw gets its own ``torch.Generator`` seeded by ``(seed, epoch, draw)`` for its crop,
  flip and patch choices, in whichever worker process decodes it.

An optimiser step takes one *global batch* of consecutive draws.  It is cut into
``accumulate`` micro-batches, and each micro-batch into one slice per process.  So the draws of a
step are the same for one process or many, any number of workers, and a run resumed in the
middle of an epoch: resuming skips exactly the steps already taken.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, List

import torch

__all__ = ["mix_seed", "draw_generator", "EpochPlan"]

_MASK = (1 << 64) - 1


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def mix_seed(*values: int) -> int:
    """A well-spread 63-bit seed from integers (order matters); a pure function, the same everywhere."""
    h = 0
    for v in values:
        h = _splitmix64(h ^ (int(v) & _MASK))
    return h >> 1


def draw_generator(seed: int, epoch: int, draw: int) -> torch.Generator:
    """The CPU generator of one training draw."""
    return torch.Generator().manual_seed(mix_seed(seed, epoch, draw))


@dataclass(frozen=True)
class EpochPlan:
    """The draws of one epoch, cut into steps, micro-batches and per-process slices.

    ``n_items`` items, each drawn ``repeats`` times; ``batch_size`` draws per optimiser step over
    all ``world`` processes and ``accumulate`` micro-batches; the last incomplete step is dropped
    (every step has the same size, so losses and learning rates mean the same at every step).
    """

    n_items: int
    batch_size: int
    seed: int
    epoch: int
    repeats: int = 1
    accumulate: int = 1
    world: int = 1

    def __post_init__(self):
        per = self.accumulate * self.world
        if self.batch_size % per:
            raise ValueError(
                f"batch_size {self.batch_size} is not divisible by accumulate × processes = {self.accumulate} × {self.world}"
            )

    @property
    def steps(self) -> int:
        return (self.n_items * self.repeats) // self.batch_size

    @property
    def micro_size(self) -> int:
        """Draws per micro-batch of one process."""
        return self.batch_size // (self.accumulate * self.world)

    def order(self) -> torch.Tensor:
        """Draw ids of the epoch in order; draw ``d`` reads item ``d % n_items``."""
        total = self.n_items * self.repeats
        gen = torch.Generator().manual_seed(mix_seed(self.seed, self.epoch, -1))
        return torch.randperm(total, generator=gen)

    def micro_batches(self, rank: int = 0, start_step: int = 0) -> Iterator[List[int]]:
        """The draw ids of process ``rank``, one list per micro-batch, from step ``start_step`` on."""
        if not 0 <= rank < self.world:
            raise ValueError(f"rank {rank} outside a world of {self.world}")
        order = self.order().tolist()
        m = self.micro_size
        for step in range(start_step, self.steps):
            base = step * self.batch_size
            for micro in range(self.accumulate):
                first = base + (micro * self.world + rank) * m
                yield order[first : first + m]

    def item(self, draw: int) -> int:
        return draw % self.n_items
