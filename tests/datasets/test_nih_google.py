"""NIH_Google_Dataset: YES/NO labels, renamed columns, official CRLF files, real counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xrayvision.datasets.nih_google import NIH_Google_Dataset, nih_google_labels
from xrayvision.errors import MetadataError, MissingImageError

from xrayvision.fakedata.nih_google import write_nih_google


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    return write_nih_google(tmp_path_factory.mktemp("google"))


def both(fake):
    return [fake["test_csvpath"], fake["val_csvpath"]]


def test_labels_yes_no_blank_and_order():
    csv = pd.DataFrame({"Fracture": ["YES", "NO", None], "Pneumothorax": ["NO", "NO", "YES"],
                        "Airspace opacity": ["NO", "YES", "NO"], "Nodule or mass": ["YES", "NO", "NO"]})
    labels, pathologies = nih_google_labels(csv)
    assert pathologies == ["Lung Opacity", "Fracture", "Nodule/Mass", "Pneumothorax"]
    np.testing.assert_array_equal(labels, np.array([[0, 1, 1, 0], [1, 0, 0, 0], [0, np.nan, 0, 1]], np.float32))


def test_unexpected_label_value_is_an_error():
    csv = pd.DataFrame({"Fracture": ["MAYBE"], "Pneumothorax": ["NO"], "Airspace opacity": ["NO"], "Nodule or mass": ["NO"]})
    with pytest.raises(MetadataError, match="MAYBE"):
        nih_google_labels(csv)


def test_crlf_files_rows_and_unique_patients(fake):
    d = NIH_Google_Dataset(fake["imgpath"], csvpath=both(fake), views="*", unique_patients=False)
    assert d.csv["Image Index"].tolist() == ["00000013_008.png", "00000013_026.png", "00000009_000.png",
                                             "00000009_001.png", "00000100_000.png"]
    assert d.csv["Set Id"].tolist() == ["test"] * 3 + ["val"] * 2
    assert d.labels[4].tolist() == [1, 0, 1, 0]
    u = NIH_Google_Dataset(fake["imgpath"], csvpath=both(fake))  # PA, first image per patient
    assert u.csv["Image Index"].tolist() == ["00000009_000.png", "00000013_026.png"]
    assert u.csv["patientid"].tolist() == ["9", "13"]
    assert u.labels.tolist() == [[0, 1, 1, 0], [0, 0, 0, 1]]


def test_missing_column(fake, tmp_path):
    bad = tmp_path / "labels.csv"
    pd.read_csv(fake["test_csvpath"]).drop(columns=["Fracture"]).to_csv(bad, index=False)
    with pytest.raises(MetadataError, match="Fracture"):
        NIH_Google_Dataset(fake["imgpath"], csvpath=bad)


def test_missing_image(fake, tmp_path):
    d = NIH_Google_Dataset(tmp_path, csvpath=fake["test_csvpath"], views="*")
    with pytest.raises(MissingImageError, match="00000009_000.png"):
        d[0]


def test_real_counts_match_spec(realdata):
    merged = realdata / "xrv-metadata" / "google2019_nih-chest-xray-labels.csv.gz"
    images = realdata / "nih-chestxray14" / "images"
    d = NIH_Google_Dataset(images, csvpath=merged)
    assert len(d) == 810 and d.csv["Image Index"][0] == "00000211_006.png"
    assert d.labels.sum(axis=0).tolist() == [221, 28, 121, 46]
    # the reference's groupby().first() picks the same rows here (no blank cells)
    raw = pd.read_csv(merged)
    group_first = raw[raw["View Position"] == "PA"].groupby("Patient ID").first().reset_index()
    assert group_first["Image Index"].tolist() == d.csv["Image Index"].tolist()
    full = NIH_Google_Dataset(images, csvpath=merged, views=["PA", "AP"], unique_patients=False)
    assert len(full) == 4376 and full.labels.sum(axis=0).tolist() == [2166, 186, 605, 238]
    assert full.csv["patientid"].nunique() == 1695


def test_real_official_files_and_images(realdata):
    folder = realdata / "nih-google-expert-labels" / "four_findings_expert_labels"
    images = realdata / "nih-chestxray14" / "images"
    d = NIH_Google_Dataset(images, csvpath=[folder / "test_labels.csv", folder / "validation_labels.csv"],
                           views="*", unique_patients=False)
    assert len(d) == 4376 and d.labels.sum(axis=0).tolist() == [2166, 186, 605, 238]
    on_disk = {p.name for p in images.glob("*.png")}
    rows = [i for i, name in enumerate(d.csv["Image Index"]) if name in on_disk]
    assert len(rows) == 11
    for i in rows:
        img = d[i]["img"]
        assert img.shape == (1, 1024, 1024) and -1024 <= img.min() and img.max() <= 1024
