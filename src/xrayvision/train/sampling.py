"""Which images each optimiser step sees: a pure function of (seed, step).

:class:`ShuffledBatches` and :class:`DomainBalancedBatches` define the *global* batch of
every step (all ranks, all accumulation micro-batches together). :class:`StepSampler`
hands one rank its share of steps ``start..end``. Because the batches depend only on the
seed and the step number, a run restarted at step ``k`` sees exactly what an
uninterrupted run would have seen from step ``k`` on, and a run on two processes sees,
step by step, the same images as a run on one.

Each sample is keyed ``(index, seed)``: ``seed`` drives its augmentation and depends on
(run seed, step, position in the global batch) only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache

import numpy as np
import torch

from ..errors import ConfigError


def sample_seed(seed: int, step: int, slot: int) -> int:
    """The augmentation seed of the ``slot``-th image of global step ``step``."""
    return int(np.random.SeedSequence([seed, step, slot]).generate_state(1, dtype=np.uint32)[0])


class ShuffledBatches:
    """A new random order of ``n`` items every epoch, cut into global batches.

    Args:
        n: number of training items.
        batch_size: global batch size (images per optimiser step).
        seed: the run's seed.
        shuffle: False keeps the dataset order (every epoch alike).

    Attributes:
        steps_per_epoch: ``n // batch_size`` (the last, incomplete batch is dropped, as
            BatchNorm needs more than one image); 1 when ``n < batch_size``.
    """

    def __init__(self, n: int, batch_size: int, seed: int, shuffle: bool = True):
        if n < 1:
            raise ConfigError("the training split is empty")
        self.n, self.batch_size, self.seed, self.shuffle = n, batch_size, seed, shuffle
        self.steps_per_epoch = max(1, n // batch_size)
        self._order = lru_cache(maxsize=2)(self._epoch_order)

    def _epoch_order(self, epoch: int) -> np.ndarray:
        if not self.shuffle:
            return np.arange(self.n)
        return np.random.default_rng([self.seed, epoch]).permutation(self.n)

    def blocks(self, step: int) -> list[np.ndarray]:
        """The global batch of ``step`` as a list of blocks (here one block)."""
        epoch, k = divmod(step, self.steps_per_epoch)
        return [self._order(epoch)[k * self.batch_size : (k + 1) * self.batch_size]]


class DomainBalancedBatches:
    """Every global batch holds ``batch_size // len(domains)`` images of each domain.

    Each domain is read in its own random order, reshuffled whenever it is exhausted,
    so small domains are repeated and large ones subsampled ("Multi-Domain Balanced
    Sampling Improves Out-of-Distribution Generalization", spec methods.md §3.2).

    Args:
        domains: domain index of each training item.
        batch_size: global batch size; must be a multiple of the number of domains.
        seed: the run's seed.
        steps_per_epoch: steps per epoch (default: the largest domain seen once).

    Raises:
        ConfigError: ``batch_size`` is not a multiple of the number of domains.
    """

    def __init__(self, domains: Sequence[int] | np.ndarray, batch_size: int, seed: int, steps_per_epoch: int = 0):
        domains = np.asarray(domains, dtype=np.int64)
        self.members = [np.flatnonzero(domains == d) for d in np.unique(domains)]
        if batch_size % len(self.members):
            raise ConfigError(
                f"balanced sampling over {len(self.members)} domains needs optim.batch_size to be a multiple of "
                f"{len(self.members)}, got {batch_size}"
            )
        self.per_domain = batch_size // len(self.members)
        self.batch_size, self.seed = batch_size, seed
        largest = max(len(m) for m in self.members)
        self.steps_per_epoch = steps_per_epoch or max(1, -(-largest // self.per_domain))
        self._order = lru_cache(maxsize=64)(self._cycle_order)

    def _cycle_order(self, domain: int, cycle: int) -> np.ndarray:
        members = self.members[domain]
        return members[np.random.default_rng([self.seed, domain, cycle]).permutation(len(members))]

    def blocks(self, step: int) -> list[np.ndarray]:
        """One block per domain, ``per_domain`` items each."""
        out = []
        for d, members in enumerate(self.members):
            positions = step * self.per_domain + np.arange(self.per_domain)
            cycles, offsets = np.divmod(positions, len(members))
            out.append(np.array([self._order(d, int(c))[o] for c, o in zip(cycles, offsets)], dtype=np.int64))
        return out


class StepSampler(torch.utils.data.Sampler):
    """A DataLoader ``batch_sampler``: this rank's share of the global batches of steps
    ``start..end-1``, as lists of ``(index, augmentation seed)`` keys.

    Each block of a global batch is cut into ``world_size`` equal consecutive parts and
    the rank takes part ``rank`` of every block, so balanced batches stay balanced on
    every rank.

    Raises:
        ConfigError: a block cannot be divided equally among the ranks.
    """

    def __init__(self, batches: ShuffledBatches | DomainBalancedBatches, start: int, end: int,
                 rank: int = 0, world_size: int = 1, seed: int = 0):  # fmt: skip
        self.batches, self.start, self.end = batches, start, end
        self.rank, self.world_size, self.seed = rank, world_size, seed
        for block in batches.blocks(start) if end > start else []:
            if len(block) % world_size:
                raise ConfigError(
                    f"a global batch block of {len(block)} images cannot be shared equally by {world_size} "
                    "processes; make optim.batch_size (per domain, when balanced) a multiple of the number of processes"
                )

    def __len__(self) -> int:
        return max(0, self.end - self.start)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for step in range(self.start, self.end):
            keys: list[tuple[int, int]] = []
            slot = 0
            for block in self.batches.blocks(step):
                share = len(block) // self.world_size
                first = slot + self.rank * share
                part = block[self.rank * share : (self.rank + 1) * share]
                keys += [(int(i), sample_seed(self.seed, step, first + j)) for j, i in enumerate(part)]
                slot += len(block)
            yield keys


def shard(n: int, rank: int, world_size: int) -> np.ndarray:
    """Rank ``rank``'s contiguous share of ``range(n)`` for evaluation (sizes differ by at most 1)."""
    return np.array_split(np.arange(n), world_size)[rank]
