"""CheXlocalize_Dataset, the polygon rasteriser and the COCO RLE decoder."""

from __future__ import annotations

import numpy as np
import pytest

from xrayvision.datasets._polygons import decode_rle_counts, polygon_mask, resize_nearest, rle_to_mask
from xrayvision.datasets.chexlocalize import CheXlocalize_Dataset
from xrayvision.errors import DatasetError, MetadataError
from xrayvision.fakedata.chexlocalize import SIZE, encode_rle, write_chexlocalize


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    return write_chexlocalize(tmp_path_factory.mktemp("chexlocalize"))


def test_polygon_matches_skimage():
    draw = pytest.importorskip("skimage.draw")
    rng = np.random.default_rng(0)
    for _ in range(20):
        poly = rng.uniform(-5, 45, size=(7, 2))
        ours = polygon_mask([poly.tolist()], (30, 40))
        oracle = draw.polygon2mask((30, 40), poly[:, ::-1])
        assert (ours != oracle).sum() <= 0.02 * max(1, oracle.sum()) + 3  # only edge-touching pixels may differ


def test_rle_round_trip_and_known_vector():
    # pycocotools' documented example: counts [2, 3, 1] on a 2x3 mask -> column-major fill
    np.testing.assert_array_equal(rle_to_mask({"size": [2, 3], "counts": [2, 3, 1]}), [[0, 1, 1], [0, 1, 0]])
    rng = np.random.default_rng(1)
    for shape in ((7, 5), (30, 50), (1, 1)):
        mask = rng.random(shape) > 0.6
        assert np.array_equal(rle_to_mask(encode_rle(mask)), mask)
    assert decode_rle_counts("PVWX6") and rle_to_mask({"size": [2320, 2828], "counts": "PVWX6"}).sum() == 0
    with pytest.raises(MetadataError):
        rle_to_mask({"size": [3, 3], "counts": [2, 2]})
    assert resize_nearest(np.eye(2, dtype=bool), (4, 6)).sum() == 12


def test_masks(fake):
    d = CheXlocalize_Dataset(fake["imgpath"], fake["csvpath"], views="*", unique_patients=False,
                             segmentation_jsonpath=fake["segmentations"])  # fmt: skip
    assert d.csv["has_masks"].tolist() == [True, True, False, True]
    sample = d[0]
    masks = {d.pathologies[k]: v for k, v in sample["pathology_masks"].items()}
    assert len(masks) == 10 and masks["Cardiomegaly"].shape == (1, *SIZE) == sample["img"].shape
    # rectangle x 10..40, y 5..20 with half-open edges: rows 5..19, columns 11..40
    assert masks["Cardiomegaly"][0, 5:20, 11:41].all() and masks["Cardiomegaly"].sum() == 15 * 30
    polys = CheXlocalize_Dataset(fake["imgpath"], fake["csvpath"], views="*", unique_patients=False,
                                 segmentation_jsonpath=fake["annotations"])  # fmt: skip
    pm = {polys.pathologies[k]: v for k, v in polys[0]["pathology_masks"].items()}
    assert set(pm) == {"Cardiomegaly", "Lung Opacity"} and np.array_equal(pm["Lung Opacity"], masks["Lung Opacity"])


def test_views_and_errors(fake):
    default = CheXlocalize_Dataset(fake["imgpath"], fake["csvpath"], segmentation_jsonpath=fake["segmentations"])
    assert default.views == ["PA", "AP", "UNKNOWN"] and default.csv["patientid"].tolist() == ["64541", "64542", "64543"]
    with pytest.raises(DatasetError, match="segmentation_jsonpath"):
        CheXlocalize_Dataset(fake["imgpath"], fake["csvpath"])
    assert len(CheXlocalize_Dataset(fake["imgpath"], fake["csvpath"], pathology_masks=False)) == 3


def test_real_sample_masks():
    from tests.conftest import REALDATA

    root = REALDATA / "chexlocalize"
    if not root.is_dir():
        pytest.skip("real CheXlocalize sample absent")
    seg = CheXlocalize_Dataset(root / "CheXpert", root / "CheXpert" / "valid.csv",
                               segmentation_jsonpath=root / "CheXlocalize" / "gt_segmentations_val.json")  # fmt: skip
    ann = CheXlocalize_Dataset(root / "CheXpert", root / "CheXpert" / "valid.csv",
                               segmentation_jsonpath=root / "CheXlocalize" / "gt_annotations_val.json")  # fmt: skip
    s, a = seg[0], ann[0]
    assert s["img"].shape == (1, 2320, 2828)
    for k, mask in a["pathology_masks"].items():
        assert mask.shape == s["img"].shape
        if seg.pathologies[k] in ("Cardiomegaly", "Lung Opacity"):  # polygons vs the release's RLE
            other = s["pathology_masks"][k]
            assert (mask * other).sum() / np.maximum(mask, other).sum() > 0.99
