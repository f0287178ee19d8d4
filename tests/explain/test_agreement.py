"""Mask agreement: IoU/IoP/IoT, the area-matched threshold (spec §5 check 4) and the scoring runner."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xrayvision.errors import ExplainError
from xrayvision.explain import box_mask, mask_scores
from xrayvision.explain.scoring import AgreementResults, bootstrap_ci, score_methods

from .conftest import TinyCNN


def test_area_matched_iou_is_q_over_two_minus_q():
    # 1000 x 1000 map with distinct values; the mask holds 1,000,000 * a pixels of which a
    # share q are the top-|M| saliency pixels: precision = recall = q, IoU = q / (2 - q)
    side, area, q = 1000, 200_000, 0.432665
    rng = np.random.default_rng(0)
    saliency = rng.permutation(side * side).astype(np.float64)
    top = np.argsort(saliency)[-area:]
    rest = np.argsort(saliency)[:-area]
    inside = round(q * area)
    mask = np.zeros(side * side, dtype=bool)
    mask[top[:inside]] = True
    mask[rest[: area - inside]] = True
    scores = mask_scores(saliency.reshape(side, side), mask.reshape(side, side))
    assert scores.iop == pytest.approx(q) and scores.iot == pytest.approx(q)
    assert scores.iou == pytest.approx(0.276051, abs=1e-6)
    assert scores.precision == scores.iop and scores.recall == scores.iot


def test_top_percent_threshold_and_boxes():
    saliency = np.arange(100, dtype=np.float64).reshape(10, 10)  # the last row is the top 10 %
    scores = mask_scores(saliency, box=(0, 8, 10, 2), threshold=10)  # rows 8-9
    assert (scores.iou, scores.iop, scores.iot) == pytest.approx((0.5, 1.0, 0.5))
    assert scores.percentile == 90
    assert box_mask((10, 10), (2.7, 1.2, 3.9, 2.0)).sum() == 3 * 2  # corners truncated
    torch_scores = mask_scores(torch.from_numpy(saliency)[None], box_mask((10, 10), (0, 8, 10, 2)), threshold=10)
    assert torch_scores == scores


def test_ties_keep_fewer_pixels_and_empty_selections_score_zero():
    flat = np.zeros((8, 8))
    scores = mask_scores(flat, box=(0, 0, 4, 4))
    assert (scores.iou, scores.iop, scores.iot) == (0.0, 0.0, 0.0)  # nothing strictly above: no pixel kept


def test_bad_inputs_are_refused():
    with pytest.raises(ExplainError, match="empty"):
        mask_scores(np.ones((4, 4)), np.zeros((4, 4)))
    with pytest.raises(ExplainError, match="shape"):
        mask_scores(np.ones((4, 4)), np.ones((5, 5)))
    with pytest.raises(ExplainError, match="exactly one"):
        mask_scores(np.ones((4, 4)))
    with pytest.raises(ExplainError, match="threshold"):
        mask_scores(np.ones((4, 4)), np.ones((4, 4)), threshold=0)


def test_bootstrap_interval_contains_the_mean_and_is_seeded():
    values = np.random.default_rng(1).uniform(size=50)
    low, high = bootstrap_ci(values)
    assert low < values.mean() < high and (low, high) == bootstrap_ci(values)
    assert high - low == pytest.approx(2 * 1.96 * values.std() / np.sqrt(50), rel=0.2)


class _MaskedToy:
    """Three images; positives carry a box mask; one positive has an empty mask (skipped)."""

    def __init__(self):
        self.pathologies = ["Effusion", "Mass"]
        self.labels = np.array([[1, 0], [0, 1], [1, 1], [1, 0]], dtype=np.float32)

    def __len__(self):
        return 4

    def __getitem__(self, i):
        img = np.linspace(-800, 800, 256, dtype=np.float32).reshape(1, 16, 16) * (1 if i % 2 else -1)
        masks = {0: np.zeros((1, 16, 16), np.float32), 1: np.zeros((1, 16, 16), np.float32)}
        if i != 3:
            masks[0][0, 4:10, 4:10] = 1
        masks[1][0, :4] = 1
        return {"idx": i, "img": img, "lab": self.labels[i], "pathology_masks": masks}


def test_runner_scores_every_method_and_prints_a_table():
    model = TinyCNN(labels=("Effusion", "Mass")).eval()
    results = score_methods(model, _MaskedToy(), methods=["gradient", "gradcam", "occlusion"], options={"occlusion": {"window": 4}})
    table = results.per_image
    assert set(table["method"]) == {"gradient", "gradcam", "occlusion"}
    assert sorted(set(table[table.target == "Effusion"].idx)) == [0, 2]  # image 3's mask is empty
    assert sorted(set(table[table.target == "Mass"].idx)) == [1, 2]
    assert table[["iou", "iop", "iot"]].apply(lambda c: c.between(0, 1)).all().all()
    summary = results.summary()
    assert set(summary.target) == {"Effusion", "Mass", "all"}
    row = summary[(summary.method == "gradient") & (summary.target == "all")].iloc[0]
    assert row.n == 4 and row.iou_low <= row.iou <= row.iou_high
    text = str(results)
    assert text.splitlines()[0] == "gradient" and "95% CI" in text and "Mass" in text


def test_runner_needs_masks_and_known_targets():
    class NoMasks(_MaskedToy):
        def __getitem__(self, i):
            sample = super().__getitem__(i)
            del sample["pathology_masks"]
            return sample

    model = TinyCNN(labels=("Effusion", "Mass")).eval()
    with pytest.raises(ExplainError, match="pathology_masks=True"):
        score_methods(model, NoMasks(), methods=["gradient"])
    with pytest.raises(KeyError):
        score_methods(model, _MaskedToy(), targets=["Nodule"], methods=["gradient"])
    with pytest.raises(ExplainError, match="no image"):
        score_methods(model, _MaskedToy(), methods=["gradient"], min_pred=1e9)
    assert isinstance(score_methods(model, _MaskedToy(), methods=["grad"], limit=1), AgreementResults)


def test_invalid_boxes_and_non_finite_maps_are_named():
    saliency = np.arange(400, dtype=np.float64).reshape(20, 20)
    with pytest.raises(ExplainError, match=r"box \(10, 10, -5, 20\) is not a valid \(x, y, width, height\)"):
        mask_scores(saliency, box=(10, 10, -5, 20))
    with pytest.raises(ExplainError, match="not a valid"):
        mask_scores(saliency, box=(0, 0, float("nan"), 3))
    with pytest.raises(ExplainError, match="lies outside the 20x20 map"):
        mask_scores(saliency, box=(25, 0, 5, 5))
    with pytest.raises(ExplainError, match="four numbers"):
        mask_scores(saliency, box=(1, 2, 3))
    with pytest.raises(ExplainError, match="400 non-finite values"):
        mask_scores(np.full((20, 20), np.nan), box=(0, 0, 5, 5))
