"""ROC AUC per pathology with missing labels, and bootstrap confidence intervals.

AUCs come from scikit-learn on the rows where the label is known. A pathology whose
known labels are all of one class has no AUC (NaN), never 0 or 0.5 (torchmetrics'
multilabel AUROC returns 0.0 there, which drags a mean down silently).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def auc_per_task(outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """ROC AUC of each column, NaN where the known labels hold a single class.

    Args:
        outputs: ``[N, T]`` scores (logits or probabilities: AUC only uses their order).
        labels: ``[N, T]`` of 1 / 0 / NaN.

    Returns:
        float64 ``[T]``.
    """
    from sklearn.metrics import roc_auc_score

    outputs, labels = np.asarray(outputs, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    if outputs.shape != labels.shape:
        raise ValueError(f"outputs {outputs.shape} and labels {labels.shape} differ in shape")
    aucs = np.full(labels.shape[1], np.nan)
    broken = int((~np.isfinite(outputs) & ~np.isnan(labels)).sum())
    if broken:
        warnings.warn(
            f"{broken} labelled outputs are NaN or infinite and are left out of the AUC: the model diverged "
            "or its input was invalid for those rows",
            RuntimeWarning,
            stacklevel=2,
        )
    for j in range(labels.shape[1]):
        known = ~np.isnan(labels[:, j]) & np.isfinite(outputs[:, j])
        y = labels[known, j]
        if known.any() and 0 < y.sum() < len(y):
            aucs[j] = roc_auc_score(y, outputs[known, j])
    return aucs


def mean_auc(aucs: np.ndarray) -> float:
    """Mean of the defined AUCs (NaN when none is defined)."""
    defined = np.asarray(aucs, dtype=np.float64)
    defined = defined[~np.isnan(defined)]
    return float(defined.mean()) if len(defined) else math.nan


@dataclass(frozen=True)
class AUCWithInterval:
    """One AUC and its percentile bootstrap interval."""

    auc: float
    low: float
    high: float
    positives: int
    negatives: int


def bootstrap_auc(
    outputs: np.ndarray, labels: np.ndarray, *, samples: int = 1000, level: float = 0.95, seed: int = 0
) -> list[AUCWithInterval]:
    """AUC of each column with a percentile bootstrap confidence interval.

    Rows are resampled with replacement (the same rows for every column, so intervals of
    a model are comparable across pathologies); a resample whose known labels of a column
    hold one class is skipped for that column.

    Args:
        outputs, labels: as :func:`auc_per_task`.
        samples: bootstrap resamples.
        level: coverage of the interval (0.95 → 2.5th and 97.5th percentiles).
        seed: seed of the resampling.

    Returns:
        One :class:`AUCWithInterval` per column (NaN where undefined).
    """
    from sklearn.metrics import roc_auc_score

    outputs, labels = np.asarray(outputs, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    point = auc_per_task(outputs, labels)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(labels), size=(samples, len(labels))) if len(labels) else np.zeros((0, 0), int)
    results = []
    tail = (1 - level) / 2
    for j in range(labels.shape[1]):
        known = ~np.isnan(labels[:, j])
        y_all = labels[:, j]
        positives, negatives = int((y_all[known] == 1).sum()), int((y_all[known] == 0).sum())
        if math.isnan(point[j]):
            results.append(AUCWithInterval(math.nan, math.nan, math.nan, positives, negatives))
            continue
        values = []
        for rows in draws:
            rows = rows[known[rows]]
            y = y_all[rows]
            if 0 < y.sum() < len(y):
                values.append(roc_auc_score(y, outputs[rows, j]))
        low, high = (np.quantile(values, [tail, 1 - tail]) if values else (math.nan, math.nan))
        results.append(AUCWithInterval(float(point[j]), float(low), float(high), positives, negatives))
    return results


def youden_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The score threshold maximising sensitivity + specificity - 1 (Youden's J).

    Ties keep the highest threshold (the first maximum along scikit-learn's ROC curve).
    NaN when the labels hold a single class.
    """
    from sklearn.metrics import roc_curve

    scores, labels = _known(scores, labels)
    if not 0 < labels.sum() < len(labels):
        return math.nan
    fpr, tpr, thresholds = roc_curve(labels, scores)
    return float(thresholds[int(np.argmax(tpr - fpr))])


def precision_threshold(scores: np.ndarray, labels: np.ndarray, precision: float = 0.8) -> float:
    """The lowest score threshold whose precision reaches ``precision`` (NaN if none does).

    "Predict positive when score >= threshold" then has at least that precision on these
    data, with the highest sensitivity among such thresholds.
    """
    from sklearn.metrics import precision_recall_curve

    scores, labels = _known(scores, labels)
    if not 0 < labels.sum() < len(labels):
        return math.nan
    precisions, _, thresholds = precision_recall_curve(labels, scores)
    reaching = np.flatnonzero(precisions[:-1] >= precision)
    return float(thresholds[reaching[0]]) if len(reaching) else math.nan


def _known(scores: Sequence[float], labels: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    keep = ~np.isnan(labels) & np.isfinite(scores)
    return scores[keep], labels[keep]
