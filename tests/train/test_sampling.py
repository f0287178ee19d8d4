"""Global batches as a function of (seed, step): epochs, ranks, domains, resume."""

from __future__ import annotations

import numpy as np
import pytest

from xrayvision.errors import ConfigError
from xrayvision.train import DomainBalancedBatches, ShuffledBatches, StepSampler


def test_each_epoch_is_a_new_permutation_without_repeats():
    batches = ShuffledBatches(n=20, batch_size=4, seed=0)
    assert batches.steps_per_epoch == 5
    epoch0 = np.concatenate([batches.blocks(s)[0] for s in range(5)])
    epoch1 = np.concatenate([batches.blocks(s)[0] for s in range(5, 10)])
    assert sorted(epoch0) == list(range(20)) and sorted(epoch1) == list(range(20))
    assert not np.array_equal(epoch0, epoch1)


def test_incomplete_last_batch_is_dropped():
    batches = ShuffledBatches(n=10, batch_size=4, seed=0)
    assert batches.steps_per_epoch == 2
    assert all(len(batches.blocks(s)[0]) == 4 for s in range(4))


def keys(sampler):
    return [list(batch) for batch in sampler]


def test_ranks_share_every_global_batch_with_the_same_augmentation_seeds():
    batches = ShuffledBatches(n=32, batch_size=8, seed=5)
    alone = keys(StepSampler(batches, 0, 4, seed=5))
    rank0 = keys(StepSampler(batches, 0, 4, rank=0, world_size=2, seed=5))
    rank1 = keys(StepSampler(batches, 0, 4, rank=1, world_size=2, seed=5))
    for step in range(4):
        assert rank0[step] + rank1[step] == alone[step]


def test_a_restarted_sampler_continues_exactly():
    batches = ShuffledBatches(n=30, batch_size=5, seed=2)
    whole = keys(StepSampler(batches, 0, 6, seed=2))
    assert keys(StepSampler(batches, 3, 6, seed=2)) == whole[3:]


def test_batches_that_ranks_cannot_share_are_refused():
    with pytest.raises(ConfigError, match="multiple of the number of processes"):
        StepSampler(ShuffledBatches(n=30, batch_size=5, seed=0), 0, 2, rank=0, world_size=2)


def test_balanced_batches_take_the_same_number_from_every_domain():
    domains = np.array([0] * 50 + [1] * 6 + [2] * 20)
    batches = DomainBalancedBatches(domains, batch_size=6, seed=0)
    assert batches.per_domain == 2
    assert batches.steps_per_epoch == 25  # the largest domain seen once
    seen = {d: [] for d in range(3)}
    for step in range(batches.steps_per_epoch):
        blocks = batches.blocks(step)
        for d, block in enumerate(blocks):
            assert len(block) == 2 and (domains[block] == d).all()
            seen[d] += block.tolist()
    assert sorted(seen[0]) == list(range(50))  # one pass over the largest domain
    # the small domain is cycled through whole permutations: every member equally often
    counts = np.bincount(np.array(seen[1]) - 50)
    assert counts.max() - counts.min() <= 1 and counts.sum() == 50


def test_balanced_batches_stay_balanced_on_every_rank():
    domains = np.array([0] * 10 + [1] * 10)
    batches = DomainBalancedBatches(domains, batch_size=8, seed=1)
    for rank in range(2):
        for batch in StepSampler(batches, 0, 3, rank=rank, world_size=2, seed=1):
            picked = domains[[i for i, _ in batch]]
            assert (picked == 0).sum() == (picked == 1).sum() == 2


def test_balanced_batch_size_must_divide_among_domains():
    with pytest.raises(ConfigError, match="multiple of 3"):
        DomainBalancedBatches(np.array([0, 1, 2]), batch_size=4, seed=0)
