"""AUC with missing labels, bootstrap intervals, and the calibration thresholds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from xrayvision.train import auc_per_task, bootstrap_auc, mean_auc, precision_threshold, youden_threshold


def test_auc_uses_only_labelled_rows_and_is_nan_for_one_class():
    outputs = np.array([[0.1, 0.9], [0.4, 0.2], [0.35, 0.3], [0.8, 0.1]])
    labels = np.array([[0, 1], [0, np.nan], [1, 1], [1, np.nan]])
    aucs = auc_per_task(outputs, labels)
    assert aucs[0] == pytest.approx(roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]))
    assert math.isnan(aucs[1])  # known labels 1, 1: no AUC (torchmetrics would say 0.0)
    assert mean_auc(aucs) == pytest.approx(aucs[0])


def test_bootstrap_interval_brackets_the_point_estimate_and_narrows_with_data():
    rng = np.random.default_rng(0)

    def interval(n):
        y = rng.integers(0, 2, n).astype(float)
        scores = y + rng.normal(0, 1.0, n)
        (result,) = bootstrap_auc(scores[:, None], y[:, None], samples=300, seed=1)
        assert result.low <= result.auc <= result.high
        assert result.positives + result.negatives == n
        return result.high - result.low

    assert interval(2000) < interval(100)


def test_youden_threshold_by_hand():
    scores = np.array([0.9, 0.6, 0.5, 0.4, 0.2, 0.1])
    labels = np.array([1, 1, 0, 0, 1, 0])
    # J = tpr - fpr at each threshold: 0.9 -> 1/3, 0.6 -> 2/3, 0.5 -> 1/3, 0.4 -> 0, 0.2 -> 1/3, 0.1 -> 0
    assert youden_threshold(scores, labels) == pytest.approx(0.6)
    assert math.isnan(youden_threshold(scores, np.ones(6)))


def test_precision_threshold_is_the_lowest_reaching_the_precision():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3])
    labels = np.array([1, 1, 1, 1, 0, 1, 0])
    # >= 0.4: 5/6 = 0.83 (>= 0.8); >= 0.3: 5/7 = 0.71
    assert precision_threshold(scores, labels, 0.8) == pytest.approx(0.4)
    assert precision_threshold(scores, labels, 0.99) == pytest.approx(0.6)
    assert math.isnan(precision_threshold(np.array([0.1, 0.2]), np.array([0, 0])))


def test_non_finite_outputs_are_left_out_with_a_warning():
    outputs = np.array([[0.1], [np.nan], [0.8], [0.3]])
    labels = np.array([[0.0], [1.0], [1.0], [0.0]])
    with pytest.warns(RuntimeWarning, match="1 labelled outputs are NaN or infinite"):
        (auc,) = auc_per_task(outputs, labels)
    assert auc == pytest.approx(roc_auc_score([0, 1, 0], [0.1, 0.8, 0.3]))
