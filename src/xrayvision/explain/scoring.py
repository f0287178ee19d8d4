"""Score attribution methods against a dataset's pathology masks (the published protocol).

For each target: the images labelled positive that have a non-empty mask for it, in
dataset order, up to ``limit``; each method's map (absolute value, optional blur) is
binarised and compared with the mask (:func:`~.agreement.mask_scores`). Works with any
dataset that returns ``pathology_masks`` (NIH and RSNA boxes, SIIM, CheXlocalize, the
chest phantom, ...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..errors import ExplainError, UnknownNameError
from ._targets import ClassifierOutput, model_labels, resolve_target
from .agreement import mask_scores
from .attribution import attribute, canonical_method

#: The methods of the published comparison (gradient, integrated gradients, guided backprop, Latent Shift).
PAPER_METHODS = ("gradient", "integrated_gradients", "guided_backprop", "latentshift")

_METRICS = ("iou", "iop", "iot")


def bootstrap_ci(values: np.ndarray, confidence: float = 0.95, n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (a private, seeded generator)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(n_boot, values.size))].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


@dataclass
class AgreementResults:
    """Per-image scores and their summary.

    Attributes:
        per_image: one row per (method, target, image): ``method``, ``target``, ``idx``
            (dataset index), ``pred`` (the explained output), ``iou``, ``iop``, ``iot``.
        confidence: level of the intervals of :meth:`summary`.
    """

    per_image: pd.DataFrame
    confidence: float = 0.95

    def summary(self, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
        """Mean and bootstrap interval of each metric, per method and target (plus ``"all"`` pooled).

        Returns:
            One row per (method, target) with ``n`` and ``<metric>``, ``<metric>_low``,
            ``<metric>_high`` for iou, iop, iot.
        """
        rows = []
        for method, by_method in self.per_image.groupby("method", sort=False):
            groups = list(by_method.groupby("target", sort=False))
            if len(groups) > 1:
                groups.append(("all", by_method))
            for target, group in groups:
                row: dict[str, Any] = {"method": method, "target": target, "n": len(group)}
                for metric in _METRICS:
                    low, high = bootstrap_ci(group[metric].to_numpy(), self.confidence, n_boot, seed)
                    row.update({metric: float(group[metric].mean()), f"{metric}_low": low, f"{metric}_high": high})
                rows.append(row)
        return pd.DataFrame(rows)

    def table(self) -> str:
        """The summary as text, one block per method."""
        summary = self.summary()
        level = f"{self.confidence:.0%} CI"
        lines = []
        for method, block in summary.groupby("method", sort=False):
            lines.append(f"{method}")
            lines.append(f"  {'target':<16} {'n':>4}  " + "  ".join(f"{m.upper():<21}" for m in _METRICS) + f"  ({level})")
            for _, row in block.iterrows():
                cells = "  ".join(f"{row[m]:.3f} [{row[m + '_low']:.3f}, {row[m + '_high']:.3f}]" for m in _METRICS)
                lines.append(f"  {row['target']!s:<16} {row['n']:>4}  {cells}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def _candidates(dataset: Any, column: int) -> np.ndarray:
    positive = np.asarray(dataset.labels)[:, column] == 1
    csv = getattr(dataset, "csv", None)
    if csv is not None and "has_masks" in csv:
        positive &= csv["has_masks"].fillna(False).to_numpy(dtype=bool)
    return np.flatnonzero(positive)


def _gather(dataset: Any, column: int, limit: int) -> tuple[list[int], list[np.ndarray], list[np.ndarray]]:
    indices, images, masks = [], [], []
    for idx in _candidates(dataset, column):
        sample = dataset[int(idx)]
        if "pathology_masks" not in sample:
            raise ExplainError(
                f"{type(dataset).__name__} returned no pathology masks; construct it with pathology_masks=True"
            )
        mask = sample["pathology_masks"].get(column)
        if mask is None or not np.any(mask):
            continue
        indices.append(int(idx))
        images.append(np.asarray(sample["img"], dtype=np.float32))
        masks.append(np.asarray(mask))
        if len(indices) >= limit:
            break
    return indices, images, masks


def score_methods(
    model: nn.Module,
    dataset: Any,
    *,
    targets: Sequence[str] | None = None,
    methods: Sequence[str] = PAPER_METHODS,
    autoencoder: Any = None,
    limit: int = 80,
    threshold: str | float = "area",
    sigma: float = 0.0,
    min_pred: float | None = None,
    output: str = "model",
    batch_size: int = 8,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    confidence: float = 0.95,
) -> AgreementResults:
    """Mask agreement of attribution methods over a dataset with pathology masks.

    Usage::

        d = xrv.datasets.SyntheticChest_Dataset(n=200, size=64, pathology_masks=True)
        results = xrv.explain.score_methods(model, d, methods=["gradient", "gradcam"])
        print(results)       # one table per method: IoU, IoP, IoT with 95 % intervals

    Args:
        model: the classifier (eval mode), whose labels include the targets.
        dataset: returns ``img`` and ``pathology_masks`` (``pathology_masks=True``).
        targets: pathology names (default: those of the dataset the model also has).
        methods: attribution methods (names of :data:`~.attribution.METHODS`);
            ``latentshift`` needs ``autoencoder``.
        autoencoder: for ``latentshift``.
        limit: most images per target (the published table used 81: its loop's
            ``limit=80`` let one more through).
        threshold: ``"area"`` (area-matched) or the top percentage kept.
        sigma: Gaussian blur of every map before scoring (0 in the published table).
        min_pred: score only images whose explained output exceeds this (the published
            ``pthresh``; None scores all).
        output: the explained output type (see :func:`~.attribution.attribute`).
        batch_size: images per attribution call.
        options: extra keywords per method, e.g. ``{"integrated_gradients": {"n_steps": 100}}``
            or ``{"latentshift": {"heatmap": "max", "legacy": True}}``.
        confidence: level of the bootstrap intervals.

    Returns:
        :class:`AgreementResults`.

    Raises:
        UnknownNameError: a target or method name is unknown.
        ExplainError: the dataset returns no masks, or no image qualifies.
    """
    names = [canonical_method(m) for m in methods]
    options = {canonical_method(k): dict(v) for k, v in (options or {}).items()}
    model_names = model_labels(model)
    chosen = list(targets) if targets is not None else [p for p in dataset.pathologies if p and p in (model_names or [])]
    forward = ClassifierOutput(model, output)
    rows = []
    for target in chosen:
        if target not in dataset.pathologies:
            raise UnknownNameError("pathology of this dataset", target, dataset.pathologies)
        column = resolve_target(target, model_names)
        indices, images, masks = _gather(dataset, dataset.pathologies.index(target), limit)
        if not indices:
            continue
        batch = torch.from_numpy(np.stack(images))
        with torch.no_grad():
            preds = forward(batch)[:, column].tolist()
        keep = [i for i, p in enumerate(preds) if min_pred is None or p > min_pred]
        for method in names:
            kwargs = {"output": output, **options.get(method, {})}
            if method == "latentshift":
                kwargs["autoencoder"] = autoencoder
            for start in range(0, len(keep), batch_size):
                part = keep[start : start + batch_size]
                maps = attribute(model, batch[part], target, method, abs=True, sigma=sigma, **kwargs)
                for k, i in enumerate(part):
                    scores = mask_scores(maps[k].sum(0), masks[i], threshold=threshold)
                    rows.append({"method": method, "target": target, "idx": indices[i], "pred": preds[i],
                                 "iou": scores.iou, "iop": scores.iop, "iot": scores.iot})  # fmt: skip
    if not rows:
        raise ExplainError(
            f"no image of {type(dataset).__name__} is positive for {chosen} with a non-empty mask"
            + ("" if min_pred is None else f" and a prediction above {min_pred}")
        )
    return AgreementResults(pd.DataFrame(rows), confidence)
