"""The red-herring synthetic task: the construction facts of spec methods.md section 2.3."""

from __future__ import annotations

import numpy as np
import pytest

from tests.datasets.contract import check_dataset_contract
from xrayvision.datasets import SyntheticCross_Dataset, red_herring_splits
from xrayvision.errors import DatasetError


def plus(row: int, col: int, arm: int, size: int = 28) -> np.ndarray:
    """A "+" drawn pixel by pixel (independent of the dataset's code)."""
    mask = np.zeros((size, size), dtype=bool)
    for k in range(-arm, arm + 1):
        mask[row + k, col] = mask[row, col + k] = True
    return mask


def test_contract():
    d = SyntheticCross_Dataset(10, seed=1, pathology_masks=True, semantic_masks=True)
    check_dataset_contract(d, constructor=lambda: SyntheticCross_Dataset(10, seed=1))
    assert d.pathologies == ["Two Crosses"]
    assert str(d) == "SyntheticCross_Dataset num_samples=10 size=28 seed=1 correlation=1.0 data_aug=None"


def test_training_set_facts():
    d = SyntheticCross_Dataset(512, seed=0, correlation=1.0, pathology_masks=True, semantic_masks=True)
    labels = d.labels[:, 0]
    assert labels.sum() == 256  # 256 images per class
    arms = set()
    for i in range(len(d)):
        sample = d[i]
        img = sample["img"][0]
        assert img.shape == (28, 28) and set(np.unique(img)) == {-1024.0, 1024.0}
        crosses = sample["pathology_masks"][0][0] > 0
        distractor = sample["semantic_masks"]["Distractor"][0] > 0
        # the image is exactly the crosses plus the distractor, which never touch
        assert np.array_equal(img > 0, crosses | distractor) and not (crosses & distractor).any()
        # the distractor: a solid 2x3 block, rows 23-24, columns 3-5 (one cross) or 22-24 (two)
        rows, cols = np.nonzero(distractor)
        assert set(rows) == {23, 24} and len(rows) == 6
        assert set(cols) == ({22, 23, 24} if labels[i] == 1 else {3, 4, 5})
        # one cross for class 0, two with distinct centres for class 1, half-arms 1 or 2
        row = d.csv.iloc[i]
        expected = np.zeros((28, 28), dtype=bool)
        centres = []
        for k in range(1, 2 + int(labels[i])):
            r, c, a = int(row[f"cross{k}_row"]), int(row[f"cross{k}_col"]), int(row[f"cross{k}_arm"])
            assert a in (1, 2) and plus(r, c, a).sum() == 4 * a + 1  # 5 or 9 pixels
            expected |= plus(r, c, a)
            centres.append((r, c))
            arms.add(a)
        assert len(set(centres)) == len(centres)
        assert np.array_equal(crosses, expected)
        assert row["crosses"] == 1 + labels[i]
    assert arms == {1, 2}


def test_paper_splits_reverse_the_distractor():
    splits = red_herring_splits(seed=3)
    assert {k: len(v) for k, v in splits.items()} == {"train": 500, "valid": 128, "test": 128}
    assert splits["train"].labels.sum() == 250 and splits["test"].labels.sum() == 64
    for name, expected in (("train", 1.0), ("valid", -1.0), ("test", -1.0)):
        d = splits[name]
        right = (d.csv["distractor"] == "right").to_numpy(dtype=float)
        assert np.corrcoef(right, d.labels[:, 0])[0, 1] == pytest.approx(expected)
    # each split draws its own images
    assert not np.array_equal(splits["valid"][0]["img"], splits["test"][0]["img"])


def test_reversed_correlation_flips_each_image_left_right():
    kept = SyntheticCross_Dataset(64, seed=5, correlation=1.0, split="test")
    flipped = SyntheticCross_Dataset(64, seed=5, correlation=-1.0, split="test")
    assert np.array_equal(kept.labels, flipped.labels)
    for i in range(64):
        assert np.array_equal(flipped[i]["img"], kept[i]["img"][:, :, ::-1])
    assert flipped.csv["flipped"].all() and not kept.csv["flipped"].any()


@pytest.mark.parametrize("correlation", [0.4, 0.0, -0.7])
def test_correlation_is_a_parameter(correlation):
    d = SyntheticCross_Dataset(6000, seed=2, correlation=correlation)
    right = (d.csv["distractor"] == "right").to_numpy(dtype=float)
    assert abs(np.corrcoef(right, d.labels[:, 0])[0, 1] - correlation) < 0.05  # ~4 standard errors


@pytest.mark.parametrize("sigma", [0.64, 0.818, 1.0])
def test_mask_blur_is_the_papers_blur_then_threshold(sigma):
    ndimage = pytest.importorskip("scipy.ndimage")
    d = SyntheticCross_Dataset(12, seed=4, mask_blur=sigma, semantic_masks=True, pathology_masks=True)
    for i in range(len(d)):
        sample = d[i]
        crosses = sample["semantic_masks"]["Crosses"][0]
        expected = ndimage.gaussian_filter(crosses.astype(np.float64), sigma) > 0
        assert np.array_equal(sample["pathology_masks"][0][0] > 0, expected)


def test_determinism_and_prefixes():
    a, b = SyntheticCross_Dataset(40, seed=9), SyntheticCross_Dataset(8, seed=9)
    assert a.csv.iloc[:8].equals(b.csv)
    assert all(np.array_equal(a[i]["img"], b[i]["img"]) for i in range(8))
    assert not a.csv.equals(SyntheticCross_Dataset(40, seed=10).csv)
    assert all(a.labels[2 * k : 2 * k + 2].sum() == 1 for k in range(20))  # balanced pairs


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"correlation": 2}, "correlation"),
        ({"split": "dev"}, "split must be one of"),
        ({"size": 8}, "size"),
        ({"margin": 1}, "margin"),
        ({"half_arm": ()}, "half_arm"),
        ({"distractor": (9, 3)}, "distractor"),
        ({"mask_blur": -1}, "mask_blur"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(DatasetError, match=match):
        SyntheticCross_Dataset(**kwargs)
