"""How well a saliency map agrees with a ground-truth mask (spec methods.md §1.7, §2.5).

The map is binarised, then compared with the mask ``M`` (``S`` = kept pixels):
IoU = |S ∩ M| / |S ∪ M|, IoP = |S ∩ M| / |S| (precision), IoT = |S ∩ M| / |M|
(recall). A ratio whose denominator is 0 is 0 (the red-herring code's 1e-15 epsilon).

Binarisation keeps the values *strictly above* a percentile of the map:

- ``threshold="area"`` (the published protocol): the ``(1 - a) * 100`` percentile,
  ``a`` being the mask's share of the image, so ``|S|`` equals ``|M|`` up to ties and
  precision = recall = q, IoU = q / (2 - q);
- ``threshold=k`` (a number): the top ``k`` % of pixels (the ``100 - k`` percentile).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import ExplainError


@dataclass(frozen=True)
class MaskScores:
    """Agreement of one map with one mask."""

    iou: float
    iop: float
    iot: float
    #: The percentile the map was cut at.
    percentile: float

    @property
    def precision(self) -> float:
        """Same as :attr:`iop`."""
        return self.iop

    @property
    def recall(self) -> float:
        """Same as :attr:`iot`."""
        return self.iot

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _plane(values: Any, what: str, *, finite: bool = False) -> np.ndarray:
    array = np.asarray(values.detach().cpu() if hasattr(values, "detach") else values, dtype=np.float64)
    array = np.squeeze(array)
    if array.ndim != 2:
        raise ExplainError(f"{what} must be a 2-D map (or [1, H, W]), got shape {np.shape(values)}")
    if finite and not np.isfinite(array).all():
        # np.percentile of a map with NaN is NaN: nothing would be kept, and the scores would be 0.
        bad = int((~np.isfinite(array)).sum())
        raise ExplainError(
            f"the {what} has {bad} non-finite values (NaN or infinity) out of {array.size}; its scores would be "
            "meaningless: check the map (and the model's output for the image)"
        )
    return array


def _check_box(box: Sequence[float], shape: tuple[int, ...]) -> tuple[float, float, float, float]:
    """``box`` as ``(x, y, width, height)``: four finite numbers, a positive size, inside the image."""
    try:
        x, y, w, h = (float(v) for v in box)
    except (TypeError, ValueError):
        raise ExplainError(f"box must be four numbers (x, y, width, height) in pixels, got {box!r}") from None
    if not all(np.isfinite((x, y, w, h))) or w <= 0 or h <= 0:
        raise ExplainError(
            f"box {tuple(box)} is not a valid (x, y, width, height) in pixels: the width and height must be "
            "positive and every value finite (a box given as (x1, y1, x2, y2) must be converted first)"
        )
    height, width = shape[-2:]
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise ExplainError(f"box {tuple(box)} (x, y, width, height) lies outside the {height}x{width} map")
    return x, y, w, h


def box_mask(shape: Sequence[int], box: Sequence[float]) -> np.ndarray:
    """A boolean ``[H, W]`` mask of the box ``(x, y, width, height)`` in pixels (NIH/RSNA format).

    The corners are truncated to integers as the datasets' box masks are.
    """
    x, y, w, h = (float(v) for v in box)
    mask = np.zeros(tuple(int(s) for s in shape[-2:]), dtype=bool)
    mask[max(int(y), 0) : max(int(y) + int(h), 0), max(int(x), 0) : max(int(x) + int(w), 0)] = True
    return mask


def binarize(saliency: Any, percentile: float) -> np.ndarray:
    """Pixels of ``saliency`` strictly above its ``percentile`` (NumPy's linear interpolation)."""
    values = _plane(saliency, "saliency", finite=True)
    return values > np.percentile(values, percentile)


def mask_scores(saliency: Any, mask: Any = None, *, box: Sequence[float] | None = None, threshold: str | float = "area") -> MaskScores:
    """IoU, IoP and IoT of a saliency map against a mask or a box.

    Args:
        saliency: ``[H, W]`` (or ``[1, H, W]``) map; larger = more salient. Take the
            absolute value first for signed attributions.
        mask: ``[H, W]`` ground truth (non-zero = inside), or None with ``box``.
        box: ``(x, y, width, height)`` in pixels, instead of ``mask``.
        threshold: ``"area"`` (area-matched, the published protocol) or the top
            percentage of pixels to keep (e.g. 5 for the top 5 %).

    Returns:
        :class:`MaskScores`.

    Raises:
        ExplainError: shapes differ, the mask is empty, an invalid box or threshold, or
            a map with NaN or infinite values.
    """
    values = _plane(saliency, "saliency", finite=True)
    if (mask is None) == (box is None):
        raise ExplainError("give exactly one of mask= or box=")
    truth = box_mask(values.shape, _check_box(box, values.shape)) if box is not None else _plane(mask, "mask") > 0
    if truth.shape != values.shape:
        raise ExplainError(f"saliency {values.shape} and mask {truth.shape} differ in shape; resize one to the other")
    if not truth.any():
        raise ExplainError("the mask is empty: there is nothing to agree with")
    if threshold == "area":
        percentile = (1 - truth.mean()) * 100
    elif isinstance(threshold, (int, float)) and not isinstance(threshold, bool) and 0 < threshold <= 100:
        percentile = 100 - float(threshold)
    else:
        raise ExplainError(f"threshold must be 'area' or a percentage in (0, 100], got {threshold!r}")
    kept = binarize(values, percentile)
    overlap = float(np.logical_and(kept, truth).sum())

    def ratio(denominator: float) -> float:
        return overlap / denominator if denominator else 0.0

    return MaskScores(
        iou=ratio(float(np.logical_or(kept, truth).sum())),
        iop=ratio(float(kept.sum())),
        iot=ratio(float(truth.sum())),
        percentile=float(percentile),
    )


def localization_scores(saliency: Any, mask: Any) -> MaskScores:
    """:func:`mask_scores` with the area-matched threshold (the red-herring study's name)."""
    return mask_scores(saliency, mask, threshold="area")
