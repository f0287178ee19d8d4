"""SIIM_Pneumothorax_Dataset and the run-length decoder: one item per image, OR of regions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xrayvision.datasets._masks import decode_relative_rle, rle_mask
from xrayvision.datasets.siim import SIIM_Pneumothorax_Dataset, siim_image_table, siim_labels
from xrayvision.errors import MetadataError, MissingImageError
from xrayvision.fakedata.siim import IMAGES, write_siim


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    return write_siim(tmp_path_factory.mktemp("siim"))


def test_decode_is_column_major_with_relative_starts():
    # 4 rows x 3 columns. Column-major positions: col c, row r -> 4c + r.
    # Runs: rows 1-2 of column 0 (start 1, len 2), then all of column 2 (abs 8, len 4):
    # the second start is relative to the end of the first run (3): 8 - 3 = 5.
    mask = decode_relative_rle("1 2 5 4", height=4, width=3)
    expected = np.array([[0, 0, 1], [1, 0, 1], [1, 0, 1], [0, 0, 1]], np.uint8)
    np.testing.assert_array_equal(mask, expected)


@pytest.mark.parametrize("bad", ["1 2 3", "a b", "0 13", "-1 2"])
def test_decode_rejects_malformed_codes(bad):
    with pytest.raises(MetadataError):
        decode_relative_rle(bad, height=4, width=3)


def test_rle_mask_resizes_like_scikit_image_nearest():
    transform = pytest.importorskip("skimage.transform")
    code = "5130 10 1014 10 1014 10 300000 700"
    full = decode_relative_rle(code)
    oracle = np.round(transform.resize(full.astype(float), (64, 48), order=0, mode="constant",
                                       preserve_range=True, anti_aliasing=False))
    np.testing.assert_array_equal(rle_mask((64, 48), [code])[0], oracle.astype(np.float32))


def test_image_table_merges_rows_of_one_image():
    rle = pd.DataFrame({"ImageId": ["a", "b", "b", "c"], "EncodedPixels": ["-1", "1 2", "5 4", " -1 "]})
    table = siim_image_table(rle)
    assert table["ImageId"].tolist() == ["a", "b", "c"]
    assert table["regions"].tolist() == [0, 2, 0]
    labels, pathologies = siim_labels(table)
    assert pathologies == ["Pneumothorax"] and labels[:, 0].tolist() == [0, 1, 0]


def test_one_item_per_image_and_or_of_regions(fake):
    d = SIIM_Pneumothorax_Dataset(fake["imgpath"], csvpath=fake["csvpath"], pathology_masks=True)
    assert d.csv["ImageId"].tolist() == [i for i, _, _ in IMAGES]
    assert d.labels[:, 0].tolist() == [0, 1, 1, 0]
    assert str(d) == "SIIM_Pneumothorax_Dataset num_samples=4 data_aug=None"
    sample = d[1]  # 1024x1024, three regions: every one of them is in the mask
    expected = np.zeros((1, 1024, 1024), np.float32)
    for top, left, h, w in IMAGES[1][2]:
        expected[0, top : top + h, left : left + w] = 1
    np.testing.assert_array_equal(sample["pathology_masks"][0], expected)
    small = d[2]["pathology_masks"][0]  # 64x64: rows 512..767, cols 512..639 of 1024 -> /16
    expected = np.zeros((1, 64, 64), np.float32)
    expected[0, 32:48, 32:40] = 1
    np.testing.assert_array_equal(small, expected)
    assert d[0]["pathology_masks"] == {}


def test_padded_values_are_stripped(tmp_path):
    paths = write_siim(tmp_path, padded=True)
    d = SIIM_Pneumothorax_Dataset(paths["imgpath"], csvpath=paths["csvpath"])
    assert d.labels[:, 0].tolist() == [0, 1, 1, 0]


def test_file_map_is_per_instance(fake, tmp_path):
    other = write_siim(tmp_path / "other", seed=5)
    a = SIIM_Pneumothorax_Dataset(fake["imgpath"], csvpath=fake["csvpath"])
    b = SIIM_Pneumothorax_Dataset(other["imgpath"], csvpath=other["csvpath"])
    a[0]
    assert not np.array_equal(a[0]["img"], b[0]["img"])  # b reads its own tree


def test_missing_image(fake, tmp_path):
    d = SIIM_Pneumothorax_Dataset(tmp_path, csvpath=fake["csvpath"])
    with pytest.raises(MissingImageError, match=IMAGES[0][0]):
        d[0]


def test_missing_column(fake, tmp_path):
    bad = tmp_path / "rle.csv"
    bad.write_text("ImageId,Mask\na,-1\n")
    with pytest.raises(MetadataError, match="EncodedPixels"):
        SIIM_Pneumothorax_Dataset(fake["imgpath"], csvpath=bad)


# ------------------------------------------------------------------ real metadata


def test_real_counts(realdata):
    d = SIIM_Pneumothorax_Dataset(realdata / "siim-acr-pneumothorax", csvpath=realdata / "siim-acr-pneumothorax" / "train-rle.csv")
    assert len(d) == 12047 and int(d.labels.sum()) == 2669
    assert d.csv["ImageId"][0] == "1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819"
    raw = pd.read_csv(realdata / "siim-acr-pneumothorax" / "train-rle.csv")
    assert len(raw) == 12954  # the reference's item count (one per region)
    assert int(d.csv["regions"].sum()) == 3576
    assert d.csv["regions"].value_counts().to_dict() == {0: 9378, 1: 2045, 2: 447, 3: 112, 4: 40, 5: 18, 6: 3, 8: 2, 7: 1, 10: 1}


def test_real_dicom_loads(realdata):
    import pydicom

    root = realdata / "siim-acr-pneumothorax"
    d = SIIM_Pneumothorax_Dataset(root, csvpath=root / "train-rle.csv", pathology_masks=True)
    sample = d[0]
    path = next(root.rglob("*.dcm"))
    pixels = pydicom.dcmread(path).pixel_array.astype(np.float32)
    np.testing.assert_allclose(sample["img"][0], (2 * pixels / 255 - 1) * 1024, rtol=1e-5, atol=1e-3)
    assert sample["pathology_masks"] == {}  # a negative image


def test_real_positive_codes_decode(realdata):
    raw = pd.read_csv(realdata / "siim-acr-pneumothorax" / "train-rle.csv")
    codes = raw[raw.iloc[:, 1].str.strip() != "-1"].iloc[:50, 1]
    for code in codes:
        mask = decode_relative_rle(code)
        lengths = np.array(code.split(), dtype=int)[1::2]
        assert mask.sum() == lengths.sum()  # runs never overlap
