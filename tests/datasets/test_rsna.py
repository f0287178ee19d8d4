"""RSNA_Pneumonia_Dataset: label rule, fake release (DICOM and JPG), real metadata counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xrayvision.datasets import relabel_dataset
from xrayvision.datasets.rsna import RSNA_Pneumonia_Dataset, rsna_labels
from xrayvision.errors import DatasetError, MetadataError, MissingImageError, UnknownNameError
from xrayvision.fakedata.rsna import NO_HEADER, NON_SQUARE, PATIENTS, write_rsna

from .contract import check_dataset_contract


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    return write_rsna(tmp_path_factory.mktemp("rsna"), zip_labels=True)


@pytest.fixture(scope="module")
def fake_jpg(tmp_path_factory):
    return write_rsna(tmp_path_factory.mktemp("rsnajpg"), extension=".jpg")


def build(paths, **kwargs):
    ext = ".jpg" if str(next(paths["imgpath"].iterdir())).endswith(".jpg") else ".dcm"
    kwargs.setdefault("extension", ext)
    return RSNA_Pneumonia_Dataset(paths["imgpath"], csvpath=paths["csvpath"], dicomcsvpath=paths["dicomcsvpath"],
                                  **kwargs)


def test_labels_copy_target_into_both_columns():
    labels, pathologies = rsna_labels(pd.DataFrame({"Target": [1, 0, None]}))
    assert pathologies == ["Lung Opacity", "Pneumonia"]
    np.testing.assert_array_equal(labels, np.array([[1, 1], [0, 0], [np.nan, np.nan]], np.float32))


def test_labels_need_target():
    with pytest.raises(MetadataError, match="Target"):
        rsna_labels(pd.DataFrame({"patientId": ["a"]}))


def test_contract_jpg(fake_jpg):
    # the registry's battery runs on the DICOM copy; the JPG copy once more, in-process
    check_dataset_contract(build(fake_jpg, views=["PA", "AP"]), num_workers=(0,))


def test_one_row_per_image_sorted_by_id_with_views(fake):
    d = build(fake, views="*")
    ids = sorted(pid for pid, _, _ in PATIENTS)
    assert d.csv["patientId"].tolist() == ids
    assert d.csv["patientid"].tolist() == ids
    views = {pid: view for pid, view, _ in PATIENTS}
    views[NO_HEADER] = "UNKNOWN"
    assert d.csv["view"].tolist() == [views[i] for i in ids]
    positive = {pid for pid, _, boxes in PATIENTS if boxes}
    assert d.labels[:, 1].tolist() == [float(i in positive) for i in ids]
    assert d.csv["has_masks"].tolist() == [i in positive for i in ids]
    default = build(fake)
    assert set(default.csv["view"]) == {"PA"} and len(default) == 3  # NO_HEADER's view is unknown


def _row(d, pid):
    return d.csv["patientId"].tolist().index(pid)


def test_masks_or_all_boxes_scaled_to_image(fake):
    d = build(fake, views="*", pathology_masks=True)
    sample = d[_row(d, NON_SQUARE)]
    assert sample["img"].shape == (1, 64, 48)
    # boxes (0,0,64,64), (512,512,64,64), (960,0,64,128); x * 48/1024, y * 64/1024
    expected = np.zeros((1, 64, 48), np.float32)
    expected[0, 0:4, 0:3] = 1
    expected[0, 32:36, 24:27] = 1
    expected[0, 0:8, 45:48] = 1
    assert set(sample["pathology_masks"]) == {0, 1}
    for mask in sample["pathology_masks"].values():
        np.testing.assert_array_equal(mask, expected)
    negative = d[_row(d, "d0000000-0000-4000-8000-000000000004")]["pathology_masks"]
    assert all(m.shape == (1, 64, 64) and m.sum() == 0 for m in negative.values())


def test_masks_survive_relabel_to_one_name(fake):
    d = build(fake, views="*", pathology_masks=True)
    relabel_dataset(["Pneumonia", "Effusion"], d, silent=True)  # the reference crashes here
    masks = d[_row(d, PATIENTS[0][0])]["pathology_masks"]
    assert list(masks) == [0] and masks[0].sum() > 0


def test_dicom_and_jpg_copies_have_the_same_labels(fake, fake_jpg):
    a, b = build(fake, views="*"), build(fake_jpg, views="*")
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a[0]["img"].shape == b[0]["img"].shape


def test_nrows_limits_both_tables(fake):
    d = build(fake, views="*", nrows=3)  # first 3 label rows: 2 images; header rows 1-3
    assert d.csv["patientId"].tolist() == sorted({PATIENTS[0][0], PATIENTS[1][0]})


def test_missing_image_is_reported_when_read(fake, tmp_path):
    d = RSNA_Pneumonia_Dataset(tmp_path, csvpath=fake["csvpath"], dicomcsvpath=fake["dicomcsvpath"], extension=".dcm")
    with pytest.raises(MissingImageError, match=str(tmp_path)):
        d[0]


def test_bad_arguments(fake, tmp_path):
    with pytest.raises(DatasetError, match="extension"):
        build(fake, extension="dcm")
    with pytest.raises(UnknownNameError):
        build(fake, views=["LATERAL"])
    bad = tmp_path / "labels.csv"
    bad.write_text("patientId,x,y,width,height\n")
    with pytest.raises(MetadataError, match="Target"):
        RSNA_Pneumonia_Dataset(fake["imgpath"], csvpath=bad, dicomcsvpath=fake["dicomcsvpath"])


# ------------------------------------------------------------------ real metadata


@pytest.fixture(scope="module")
def real_paths():
    from tests.conftest import REALDATA

    meta = REALDATA / "xrv-metadata"
    if not (meta / "kaggle_stage_2_train_images_dicom_headers.csv.gz").is_file():
        pytest.skip("RSNA metadata not found")
    return {
        "imgpath": REALDATA / "rsna-pneumonia" / "stage_2_train_images",
        "csvpath": REALDATA / "rsna-pneumonia" / "stage_2_train_labels.csv",
        "dicomcsvpath": meta / "kaggle_stage_2_train_images_dicom_headers.csv.gz",
        "zipped": meta / "kaggle_stage_2_train_labels.csv.zip",
    }


def test_real_counts_match_spec(real_paths):
    d = build(real_paths)
    assert len(d) == 14511 and d.labels.sum(axis=0).tolist() == [1348, 1348]
    both = build(real_paths, views=["PA", "AP"])
    assert len(both) == 26684 and both.labels.sum(axis=0).tolist() == [6012, 6012]
    assert both.csv["has_masks"].sum() == 6012 and (~both.csv["has_masks"]).sum() == 20672
    assert both.csv["view"].value_counts().to_dict() == {"PA": 14511, "AP": 12173}


def test_real_shipped_zip_reads_the_same(real_paths):
    a = build(real_paths, views="*")
    b = RSNA_Pneumonia_Dataset(real_paths["imgpath"], csvpath=real_paths["zipped"],
                               dicomcsvpath=real_paths["dicomcsvpath"], views="*", extension=".dcm")
    assert a.csv["patientId"].tolist() == b.csv["patientId"].tolist()
    np.testing.assert_array_equal(a.labels, b.labels)


def test_real_dicoms_load_with_masks(real_paths):
    import pydicom

    d = build(real_paths, views="*", pathology_masks=True)
    raw = pd.read_csv(real_paths["csvpath"])
    index = {pid: i for i, pid in enumerate(d.csv["patientId"])}
    files = sorted(real_paths["imgpath"].glob("*.dcm"))
    assert len(files) == 17
    positives = 0
    for path in files:
        sample = d[index[path.stem]]
        pixels = pydicom.dcmread(path).pixel_array.astype(np.float32)
        np.testing.assert_allclose(sample["img"][0], (2 * pixels / 255 - 1) * 1024, rtol=1e-5, atol=1e-3)
        boxes = raw[(raw["patientId"] == path.stem) & (raw["Target"] == 1)]
        mask = sample["pathology_masks"][d.pathologies.index("Pneumonia")]
        expected = np.zeros((1, 1024, 1024), np.float32)
        for b in boxes.itertuples(index=False):
            expected[0, int(b.y) : int(b.y) + int(b.height), int(b.x) : int(b.x) + int(b.width)] = 1
        np.testing.assert_array_equal(mask, expected)
        positives += len(boxes) > 0
    assert positives == 5
