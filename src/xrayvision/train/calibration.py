"""Operating points (``op_threshs``) from held-out data, in the space the model outputs.

For each pathology the threshold maximising Youden's J (sensitivity + specificity - 1)
is computed on the model's *probabilities*, and the lowest threshold reaching 80 %
precision alongside. The reference's calibration script applied a second sigmoid to
outputs that were already probabilities, so its ResNet thresholds live in
sigmoid(probability) space and the forward pass never meets them (docs/differences.md);
here the thresholds are computed on exactly what ``op_norm`` will compare them with.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from . import distributed
from .evaluation import labels_as, scoring_mode
from .inference import predict_dataset
from .metrics import auc_per_task, precision_threshold, youden_threshold


@dataclass(frozen=True)
class Calibration:
    """Thresholds per model output.

    An untrained slot (``""``) keeps NaN (its output stays NaN). A trained output the data
    cannot calibrate (one class only, or no threshold better than chance) gets 0.5, under
    which the calibrated output equals the probability, and is listed in ``uncalibrated``
    with the reason: a NaN there would turn a trained output into "never trained".

    Attributes:
        labels: the model's output names.
        op_threshs: Youden's J thresholds on probabilities.
        ppv80_thres: lowest thresholds with at least 80 % precision.
        aucs: the AUC of each output on the calibration data.
        positives, negatives: labelled counts per output.
        uncalibrated: ``{name: reason}`` of the trained outputs left at 0.5.
    """

    labels: list[str]
    op_threshs: list[float]
    ppv80_thres: list[float]
    aucs: list[float]
    positives: list[int]
    negatives: list[int]
    uncalibrated: dict[str, str] = field(default_factory=dict)

    @property
    def calibrated(self) -> list[str]:
        """The trained outputs that got an operating point from the data."""
        return [name for name in self.labels if name and name not in self.uncalibrated]

    def apply(self, model: torch.nn.Module) -> torch.nn.Module:
        """Set ``model.op_threshs`` (outputs become calibrated: each operating point maps to 0.5)."""
        model.op_threshs = torch.tensor(self.op_threshs, dtype=torch.float32)
        return model


def thresholds_from_scores(probabilities: np.ndarray, labels: np.ndarray, precision: float = 0.8) -> tuple[list[float], list[float]]:
    """Youden's J and precision thresholds of every column of ``probabilities``.

    Args:
        probabilities: ``[N, T]`` model probabilities.
        labels: ``[N, T]`` of 1 / 0 / NaN.
        precision: the precision the second thresholds must reach.

    Returns:
        ``(op_threshs, precision_thresholds)``, NaN for columns with a single class.
    """
    youden = [youden_threshold(probabilities[:, j], labels[:, j]) for j in range(labels.shape[1])]
    ppv = [precision_threshold(probabilities[:, j], labels[:, j], precision) for j in range(labels.shape[1])]
    return youden, ppv


def calibrate(
    model: torch.nn.Module,
    datasets: Mapping[str, Any] | Any,
    *,
    context: distributed.Context | None = None,
    batch_size: int = 32,
    workers: int = 0,
    progress: bool = False,
) -> Calibration:
    """Compute the operating points of ``model`` on held-out data.

    The model is scored with calibration off and one sigmoid (its ``op_threshs`` and
    ``apply_sigmoid`` are restored afterwards). Several datasets are pooled.

    Args:
        model: a library classifier (with ``targets``, ``op_threshs``, ``apply_sigmoid``).
        datasets: a dataset, or ``{name: dataset}`` to pool; their labels are matched to
            the model's by name.
        context, batch_size, workers, progress: inference settings.

    Returns:
        A :class:`Calibration` with one entry per model output.
    """
    if not isinstance(datasets, Mapping):
        datasets = {"data": datasets}
    labels_of_model = list(model.targets)
    saved = (getattr(model, "op_threshs", None), getattr(model, "apply_sigmoid", False))
    outputs_parts, labels_parts = [], []
    try:
        scoring_mode(model)
        for name, dataset in datasets.items():
            outputs, labels = predict_dataset(model, dataset, context, batch_size=batch_size, workers=workers,
                                              progress=progress, description=f"calibrating on {name}")  # fmt: skip
            outputs_parts.append(outputs)
            labels_parts.append(labels_as(labels, dataset.pathologies, labels_of_model))
    finally:
        model.op_threshs, model.apply_sigmoid = saved
    probabilities = np.concatenate(outputs_parts)
    labels = np.concatenate(labels_parts)
    youden, ppv = thresholds_from_scores(probabilities, labels)
    aucs = auc_per_task(np.nan_to_num(probabilities, nan=0.0), labels)
    positives = [int((labels[:, j] == 1).sum()) for j in range(labels.shape[1])]
    negatives = [int((labels[:, j] == 0).sum()) for j in range(labels.shape[1])]
    uncalibrated = {}
    for j, name in enumerate(labels_of_model):
        if name and not math.isfinite(youden[j]):
            uncalibrated[name] = (
                f"{positives[j]} positive and {negatives[j]} negative image(s)" if not (positives[j] and negatives[j])
                else f"no threshold beats chance (AUC {aucs[j]:.3f})"
            )  # fmt: skip
            youden[j] = 0.5  # op_norm's identity: the calibrated output is the probability
    return Calibration(
        labels=labels_of_model, op_threshs=youden, ppv80_thres=ppv, aucs=[float(a) for a in aucs],
        positives=positives, negatives=negatives, uncalibrated=uncalibrated,
    )  # fmt: skip


def describe(calibration: Calibration) -> str:
    """A plain-text table of the thresholds."""
    lines = [f"{'pathology':<28}{'op_thresh':>10}{'ppv80':>10}{'AUC':>8}{'pos':>8}{'neg':>8}"]
    for name, t, p, a, pos, neg in zip(calibration.labels, calibration.op_threshs, calibration.ppv80_thres,
                                       calibration.aucs, calibration.positives, calibration.negatives):  # fmt: skip
        if not name:
            continue
        fmt = lambda v: "-" if v is None or math.isnan(v) else f"{v:.4f}"  # noqa: E731
        shown = "0.5*" if name in calibration.uncalibrated else fmt(t)
        lines.append(f"{name:<28}{shown:>10}{fmt(p):>10}{fmt(a):>8}{pos:>8}{neg:>8}")
    if calibration.uncalibrated:
        lines.append("* not calibrated by these data (the output stays the probability):")
        lines += [f"  {name}: {why}" for name, why in calibration.uncalibrated.items()]
    return "\n".join(lines)
