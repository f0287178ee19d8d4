"""The classification loss of the paper's models: masked BCE with per-task weights.

Labels are 1 / 0 / NaN, NaN meaning "this dataset does not say". Each task's loss is
the mean binary cross-entropy over the samples that have a label for it; the batch loss
is the sum over tasks, each weighted by its rarity (spec models.md §10.1).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def task_weights(labels: np.ndarray | torch.Tensor) -> np.ndarray:
    """The reference's per-task weights: rare tasks count more.

    With ``pos_j`` the number of positives of task ``j`` (NaN ignored):
    ``w_j = max(pos) - pos_j + mean(pos)``, then divided by ``max(w)``. For positive
    counts (100, 50, 10, 0) this gives (0.286, 0.643, 0.929, 1).

    Args:
        labels: ``[N, T]`` matrix of 1 / 0 / NaN.

    Returns:
        float32 ``[T]`` weights in (0, 1]; all ones when no task has a positive.
    """
    matrix = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if matrix.ndim != 2:
        raise ValueError(f"labels must be a matrix [N, T], got shape {matrix.shape}")
    positives = np.nansum(matrix.astype(np.float64), axis=0)
    if matrix.shape[1] == 0 or positives.max() == 0:
        return np.ones(matrix.shape[1], dtype=np.float32)
    weights = positives.max() - positives + positives.mean()
    return (weights / weights.max()).astype(np.float32)


def masked_bce(
    outputs: torch.Tensor,
    targets: torch.Tensor,
    weights: torch.Tensor | np.ndarray | None = None,
    *,
    denominators: torch.Tensor | None = None,
) -> torch.Tensor:
    """Sum over tasks of the weighted mean BCE-with-logits over labelled samples.

    Args:
        outputs: logits ``[B, T]`` (values at unlabelled positions are never used, even
            if NaN, and get zero gradient).
        targets: ``[B, T]`` of 1 / 0 / NaN (NaN = unlabelled).
        weights: ``[T]`` task weights (default: all 1).
        denominators: ``[T]`` number of labelled samples each task's sum is divided by
            (default: those of this batch). Distributed training and gradient
            accumulation pass the counts of the whole optimiser step, so that the
            gradient equals the one of a single large batch.

    Returns:
        A scalar; 0 (with a gradient) when nothing is labelled.
    """
    if outputs.shape != targets.shape:
        raise ValueError(f"outputs {list(outputs.shape)} and targets {list(targets.shape)} must have the same shape")
    targets = targets.to(device=outputs.device, dtype=torch.float32)
    labelled = ~torch.isnan(targets)
    logits = torch.where(labelled, outputs.float(), torch.zeros_like(outputs, dtype=torch.float32))
    per_sample = F.binary_cross_entropy_with_logits(logits, torch.where(labelled, targets, 0.0), reduction="none")
    sums = torch.where(labelled, per_sample, 0.0).sum(0)
    if denominators is None:
        denominators = labelled.sum(0)
    per_task = sums / denominators.to(sums).clamp_min(1)
    if weights is not None:
        per_task = per_task * torch.as_tensor(weights, dtype=per_task.dtype, device=per_task.device)
    return per_task.sum()
