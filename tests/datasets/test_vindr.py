"""VinDr_Dataset: label rule with synonyms, fake Kaggle release, real metadata counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xrayvision.datasets.vindr import VINDR_PATHOLOGIES, VinBrain_Dataset, VinDr_Dataset, vindr_image_table, vindr_labels
from xrayvision.errors import MetadataError, MissingImageError
from xrayvision.fakedata.vindr import IMAGES, write_vindr

P = {p: j for j, p in enumerate(VINDR_PATHOLOGIES)}


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    return write_vindr(tmp_path_factory.mktemp("vindr"))


def test_alias_is_the_same_class():
    assert VinBrain_Dataset is VinDr_Dataset


def test_labels_match_names_case_insensitively_with_synonyms():
    csv = pd.DataFrame({"class_name": ["Other lesion|Pleural effusion", "No finding", "Pleural thickening|Pulmonary fibrosis", None]})
    labels, pathologies = vindr_labels(csv)
    assert pathologies == list(VINDR_PATHOLOGIES)
    expected = np.zeros((4, 14), np.float32)
    expected[0, [P["Other Lesion"], P["Effusion"]]] = 1
    expected[2, [P["Pleural_Thickening"], P["Pulmonary Fibrosis"]]] = 1
    expected[3] = np.nan
    np.testing.assert_array_equal(labels, expected)


def test_image_table_joins_sorted_distinct_names():
    ann = pd.DataFrame({
        "image_id": ["b", "a", "b", "b", "a"],
        "class_name": ["Nodule/Mass", "No finding", "Atelectasis", "Nodule/Mass", "No finding"],
        "x_min": [1, None, 2, 3, None], "y_min": [1, None, 2, 3, None],
        "x_max": [4, None, 5, 6, None], "y_max": [4, None, 5, 6, None],
    })
    table = vindr_image_table(ann)
    assert table["image_id"].tolist() == ["a", "b"]
    assert table["class_name"].tolist() == ["No finding", "Atelectasis|Nodule/Mass"]
    assert table["has_masks"].tolist() == [False, True]


def test_rows_labels_and_string(fake):
    d = VinDr_Dataset(fake["imgpath"], csvpath=fake["csvpath"])
    assert d.csv["image_id"].tolist() == sorted(IMAGES)
    assert str(d) == "VinDr_Dataset num_samples=3 views=None data_aug=None"
    row = d.csv["image_id"].tolist().index("ffff0000000000000000000000000001")
    assert {VINDR_PATHOLOGIES[j] for j in np.flatnonzero(d.labels[row])} == {"Cardiomegaly", "Effusion"}
    assert d.csv["has_masks"].tolist() == [False, True, True]


def test_masks_or_radiologists_boxes_in_native_frame(fake):
    d = VinDr_Dataset(fake["imgpath"], csvpath=fake["csvpath"], pathology_masks=True)
    row = d.csv["image_id"].tolist().index("ffff0000000000000000000000000001")
    sample = d[row]
    assert sample["img"].shape == (1, 64, 48)
    masks = sample["pathology_masks"]
    assert set(masks) == {P["Cardiomegaly"], P["Effusion"]}
    expected = np.zeros((1, 64, 48), np.float32)
    expected[0, 30:50, 10:40] = 1  # R1: x 10..40.5 -> 10:40, y 30..50.9 -> 30:50
    expected[0, 28:52, 12:42] = 1  # R2
    np.testing.assert_array_equal(masks[P["Cardiomegaly"]], expected)
    assert d[0]["pathology_masks"] == {}  # no finding


def test_monochrome1_is_inverted(fake):
    import pydicom

    d = VinDr_Dataset(fake["imgpath"], csvpath=fake["csvpath"])
    row = d.csv["image_id"].tolist().index("ffff0000000000000000000000000001")
    raw = pydicom.dcmread(fake["imgpath"] / "ffff0000000000000000000000000001.dicom").pixel_array.astype(np.float32)
    np.testing.assert_allclose(d[row]["img"][0], (2 * (4095 - raw) / 4095 - 1) * 1024, rtol=1e-5, atol=1e-2)


def test_missing_image_and_column(fake, tmp_path):
    d = VinDr_Dataset(tmp_path, csvpath=fake["csvpath"])
    with pytest.raises(MissingImageError, match=".dicom"):
        d[0]
    bad = tmp_path / "train.csv"
    bad.write_text("image_id,label\na,b\n")
    with pytest.raises(MetadataError, match="class_name"):
        VinDr_Dataset(fake["imgpath"], csvpath=bad)


def test_real_counts_match_spec_and_substring_rule(realdata):
    csvpath = realdata / "vindr-cxr" / "train.csv"
    d = VinDr_Dataset(realdata / "vindr-cxr", csvpath=csvpath)
    assert len(d) == 15000 and d.csv["image_id"][0] == "000434271f63a053c4128a0ba6352c7f"
    assert dict(zip(d.pathologies, d.labels.sum(axis=0).astype(int).tolist())) == {
        "Aortic enlargement": 3067, "Atelectasis": 186, "Calcification": 452, "Cardiomegaly": 2300,
        "Consolidation": 353, "Effusion": 1032, "ILD": 386, "Infiltration": 613, "Lung Opacity": 1322,
        "Nodule/Mass": 826, "Other Lesion": 1134, "Pleural_Thickening": 1981, "Pneumothorax": 96,
        "Pulmonary Fibrosis": 1617,
    }
    assert int(d.csv["has_masks"].sum()) == 4394
    assert int((d.csv["class_name"] != "No finding").sum()) == 4394  # the reference's has_masks rule
    raw = pd.read_csv(csvpath)
    assert len(raw) == 67914 and raw["rad_id"].nunique() == 17
    # the reference's rule: lower-cased substring search with the two synonyms
    text = d.csv["class_name"].str.lower()
    syn = {"Pleural_Thickening": "pleural thickening", "Effusion": "pleural effusion"}
    substring = np.stack([
        text.str.contains(p.lower(), regex=False) | (text.str.contains(syn[p], regex=False) if p in syn else False)
        for p in d.pathologies
    ], axis=1)
    np.testing.assert_array_equal(d.labels, substring.astype(np.float32))
