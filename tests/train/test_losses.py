"""masked_bce and task_weights against hand-computed values (spec models.md §10.1, methods.md §3.2)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from xrayvision.train import masked_bce, task_weights


def bce(logit: float, target: float) -> float:
    p = 1 / (1 + math.exp(-logit))
    return -(target * math.log(p) + (1 - target) * math.log(1 - p))


def test_task_weights_match_the_spec_example():
    # positive counts (100, 50, 10, 0) -> (0.286, 0.643, 0.929, 1)
    labels = np.zeros((100, 4), dtype=np.float32)
    labels[:100, 0] = 1
    labels[:50, 1] = 1
    labels[:10, 2] = 1
    np.testing.assert_allclose(task_weights(labels), [40 / 140, 90 / 140, 130 / 140, 1.0], rtol=1e-6)


def test_task_weights_ignore_nan_and_survive_no_positives():
    labels = np.array([[1, np.nan], [np.nan, 0], [1, 0]], dtype=np.float32)
    # pos = (2, 0): w = (2 - 2 + 1, 2 - 0 + 1) / 3
    np.testing.assert_allclose(task_weights(labels), [1 / 3, 1.0], rtol=1e-6)
    np.testing.assert_array_equal(task_weights(np.zeros((3, 2))), [1.0, 1.0])


def test_masked_bce_is_the_weighted_sum_of_per_task_means_over_labelled_samples():
    logits = torch.tensor([[0.5, -1.0], [2.0, 0.3], [-0.7, 1.5]])
    targets = torch.tensor([[1.0, float("nan")], [0.0, 1.0], [float("nan"), 0.0]])
    weights = torch.tensor([0.25, 1.0])
    task0 = (bce(0.5, 1) + bce(2.0, 0)) / 2
    task1 = (bce(0.3, 1) + bce(1.5, 0)) / 2
    assert masked_bce(logits, targets, weights).item() == pytest.approx(0.25 * task0 + task1, rel=1e-6)
    assert masked_bce(logits, targets).item() == pytest.approx(task0 + task1, rel=1e-6)


def test_unlabelled_outputs_never_reach_the_loss_or_its_gradient():
    logits = torch.tensor([[0.5, float("nan")], [2.0, 0.3]], requires_grad=True)
    targets = torch.tensor([[1.0, float("nan")], [0.0, 1.0]])
    loss = masked_bce(logits, targets)
    loss.backward()
    assert math.isfinite(loss.item())
    assert logits.grad[0, 1].item() == 0.0
    # d/dx BCE(x, y) = sigmoid(x) - y, divided by the task's two labelled samples
    assert logits.grad[0, 0].item() == pytest.approx((torch.sigmoid(torch.tensor(0.5)).item() - 1) / 2, rel=1e-6)


def test_denominators_make_split_batches_add_up_to_the_whole_batch():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(8, 3, generator=generator)
    targets = torch.randint(0, 2, (8, 3), generator=generator).float()
    targets[torch.rand(8, 3, generator=generator) < 0.3] = float("nan")
    weights = torch.tensor([0.2, 0.5, 1.0])
    whole = masked_bce(logits, targets, weights)
    counts = (~torch.isnan(targets)).sum(0)
    halves = sum(masked_bce(logits[s], targets[s], weights, denominators=counts) for s in (slice(0, 3), slice(3, 8)))
    assert halves.item() == pytest.approx(whole.item(), rel=1e-6)


def test_nothing_labelled_gives_zero():
    logits = torch.zeros(2, 2, requires_grad=True)
    loss = masked_bce(logits, torch.full((2, 2), float("nan")))
    loss.backward()
    assert loss.item() == 0.0 and logits.grad.abs().sum().item() == 0.0


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="same shape"):
        masked_bce(torch.zeros(2, 3), torch.zeros(2, 2))
