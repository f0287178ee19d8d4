"""COVID19_Dataset: label rule, filtering, lung masks; fake data and the real 2020 metadata."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xrayvision.datasets.covid19 import COVID19_Dataset, covid19_labels, finding_tokens
from xrayvision.errors import MetadataError, MissingImageError, MissingMetadataError, UnknownNameError
from xrayvision.fakedata.covid19 import mask_pixels, write_covid19


@pytest.fixture()
def fake(tmp_path: Path) -> dict[str, Path]:
    return write_covid19(tmp_path / "covid")


def build(fake: dict[str, Path], **kwargs) -> COVID19_Dataset:
    return COVID19_Dataset(fake["imgpath"], fake["csvpath"], **kwargs)


# ------------------------------------------------------------------ pure label rule


def test_label_rule_by_hand() -> None:
    csv = pd.DataFrame({"finding": [
        "COVID-19", "COVID-19, ARDS", "Mycoplasma Bacterial Pneumonia", "E.Coli",
        None, "Pneumonia/Viral/MERS-CoV", "Pneumonia/Viral/SARS",
    ]})
    labels, names = covid19_labels(csv)
    assert names == sorted([
        "COVID-19", "ARDS", "Mycoplasma Bacterial Pneumonia", "E.Coli", "Pneumonia", "Viral",
        "MERS-CoV", "SARS",
    ])
    expected = {  # row -> positive names, written by hand
        0: {"COVID-19"},
        1: {"COVID-19", "ARDS"},
        2: {"Mycoplasma Bacterial Pneumonia", "Pneumonia"},
        3: {"E.Coli"},
        5: {"Pneumonia", "Viral", "MERS-CoV"},
        6: {"Pneumonia", "Viral", "SARS"},
    }
    for row, positives in expected.items():
        assert {n for n, v in zip(names, labels[row]) if v == 1} == positives, row
        assert not np.isnan(labels[row]).any()
    assert np.isnan(labels[4]).all()  # blank finding: unknown, not negative
    assert labels.dtype == np.float32


def test_label_rule_is_literal_not_regex() -> None:
    # "E.Coli" must not match "EXColi" (a regex "." would).
    labels, names = covid19_labels(pd.DataFrame({"finding": ["E.Coli", "EXColi"]}))
    assert labels[1, names.index("E.Coli")] == 0


def test_tokens_split_on_slash_and_comma() -> None:
    assert finding_tokens(pd.Series(["A/B, C", " D ", None, "A"])) == ["A", "B", "C", "D"]


def test_label_rule_needs_finding_column() -> None:
    with pytest.raises(MetadataError, match="finding"):
        covid19_labels(pd.DataFrame({"view": ["PA"]}))


# ------------------------------------------------------------------ construction on fake data


def test_default_rows_views_and_skips(fake) -> None:
    d = build(fake)
    # PA/AP X-ray rows of the fake minus the "Unknown" one (see fakedata.covid19.ROWS).
    assert list(d.csv["filename"]) == [
        "p2-day0.jpg", "p2-day3.png", "sars-1.jpeg", "normal-4.PNG", "myco-5.jpg", "blank-12.jpg",
    ]
    assert d.skipped == {"modality is not X-ray": 2, "finding is todo/Unknown (not labelled yet)": 1}
    assert d.pathologies == ["ARDS", "COVID-19", "Mycoplasma Bacterial Pneumonia", "No Finding", "SARS"]
    assert d.labels[1].tolist() == [1, 1, 0, 0, 0]  # "COVID-19, ARDS"
    assert np.isnan(d.labels[5]).all()
    assert list(d.csv["patientid"]) == ["2", "2", "3", "4", "5", "12"]
    assert d.csv["offset_day_int"].tolist()[:2] == [0.0, 3.0]
    assert np.isnan(d.csv["offset_day_int"].iloc[2]) and np.isnan(d.csv["offset_day_int"].iloc[3])  # "" and "?"
    assert "Unnamed: 28" not in d.csv.columns


def test_all_views_and_ct(fake) -> None:
    d = build(fake, views="*")
    assert set(d.csv["view"]) == {"PA", "AP", "AP Supine", "L"}  # todo rows with ?/blank views are gone
    assert "modality is not X-ray" in d.skipped
    with_ct = build(fake, views="*", xray_only=False)
    assert set(with_ct.csv["view"]) >= {"Axial", "Coronal"}
    assert len(with_ct) == len(d) + 2


def test_question_mark_view_is_unknown(fake) -> None:
    d = build(fake, views=["UNKNOWN"])
    assert len(d) == 0  # the ? and blank views only hold todo rows
    with pytest.raises(UnknownNameError):
        build(fake, views=["?"])
    with pytest.raises(UnknownNameError, match="did you mean"):
        build(fake, views=["Pa"])


def test_2021_schema(tmp_path) -> None:
    fake = write_covid19(tmp_path, schema="2021")
    d = build(fake, views="*")
    assert "RT_PCR_positive" in d.csv.columns
    assert {"Pneumonia", "Viral", "Bacterial", "COVID-19"} <= set(d.pathologies)
    pneumonia = d.labels[:, d.pathologies.index("Pneumonia")]
    finding = d.csv["finding"].fillna("")
    assert (pneumonia[finding.str.startswith("Pneumonia/").to_numpy()] == 1).all()


def test_missing_csv_and_column(fake, tmp_path) -> None:
    with pytest.raises(MissingMetadataError, match="ieee8023") as info:
        COVID19_Dataset(fake["imgpath"], tmp_path / "nope.csv")
    assert isinstance(info.value, FileNotFoundError)
    bad = tmp_path / "bad.csv"
    pd.read_csv(fake["csvpath"]).drop(columns="finding").to_csv(bad, index=False)
    with pytest.raises(MetadataError, match="finding"):
        COVID19_Dataset(fake["imgpath"], bad)


def test_missing_image_names_file_and_folder(fake) -> None:
    d = build(fake)
    (fake["imgpath"] / "sars-1.jpeg").unlink()
    with pytest.raises(MissingImageError, match="sars-1.jpeg") as info:
        d[2]
    assert str(fake["imgpath"]) in str(info.value)


# ------------------------------------------------------------------ masks


def test_masks_threshold_and_resize(fake) -> None:
    d = build(fake, semantic_masks=True, maskzippath=fake["maskzippath"])
    assert d.csv["has_masks"].tolist() == [True, True, True, True, False, False]
    by_name = {name: i for i, name in enumerate(d.csv["filename"])}
    # clean PNG and JPEG (compression noise): mask = raw pixel >= 128
    for name in ("p2-day3.png", "p2-day0.jpg"):
        mask = d[by_name[name]]["semantic_masks"]["Lungs"]
        expected = (mask_pixels(fake["maskzippath"], name) >= 128).astype(np.float32)
        assert mask.dtype == np.float32 and np.array_equal(mask[0], expected)
    raw = mask_pixels(fake["maskzippath"], "p2-day0.jpg")
    assert ((raw > 0) & (raw < 255)).any(), "the fake JPEG mask should carry compression noise"
    assert d[by_name["sars-1.jpeg"]]["semantic_masks"] == {}  # blank mask file
    assert d[by_name["myco-5.jpg"]]["semantic_masks"] == {}  # no mask file
    sample = d[by_name["normal-4.PNG"]]  # mask written at half size: resized to the image
    small = mask_pixels(fake["maskzippath"], "normal-4.PNG") >= 128
    mask = sample["semantic_masks"]["Lungs"]
    assert mask.shape == sample["img"].shape
    assert np.array_equal(mask[0, ::2, ::2], small.astype(np.float32))


def test_masks_off_by_default_do_not_touch_the_zip(fake, monkeypatch) -> None:
    import xrayvision.hub.metadata as metadata

    monkeypatch.setattr(metadata, "resolve", lambda *a, **k: pytest.fail("resolve called"))
    d = build(fake)
    assert "semantic_masks" not in d[0]
    assert not d.csv["has_masks"].any()


# ------------------------------------------------------------------ real 2020 metadata


def _reference_labels(csv: pd.DataFrame, names: list[str]) -> np.ndarray:
    """The reference's rule, re-derived here: regex substring of each token."""
    out = np.zeros((len(csv), len(names)))
    for j, name in enumerate(names):
        out[:, j] = csv["finding"].str.contains(name).astype(float)
    return out


def test_real_metadata_counts(realdata) -> None:
    root = realdata / "covid-chestxray-dataset"
    d = COVID19_Dataset(root / "images", root / "metadata.csv")
    raw = pd.read_csv(root / "metadata.csv")
    kept = raw[raw["view"].isin(["PA", "AP"]) & ~raw["finding"].isin(["todo", "Unknown"])]
    assert len(d) == len(kept) == 408
    assert d.skipped["modality is not X-ray"] == int((raw["modality"] != "X-ray").sum()) == 84
    tokens = sorted({t for f in kept["finding"] for t in f.split("/")})
    # Only difference from the reference: "COVID-19, ARDS" is split, not a column of its own.
    assert sorted(set(tokens) - set(d.pathologies)) == ["COVID-19, ARDS"]
    assert set(d.pathologies) - set(tokens) == set()
    reference = _reference_labels(kept, d.pathologies)
    assert np.array_equal(d.labels, reference)


def test_real_images_and_masks_load(realdata) -> None:
    root = realdata / "covid-chestxray-dataset"
    zippath = realdata / "xrv-metadata" / "semantic_masks_v7labs_lungs.zip"
    d = COVID19_Dataset(root / "images", root / "metadata.csv", views="*", xray_only=False,
                        semantic_masks=True, maskzippath=zippath)
    present = [i for i, f in enumerate(d.csv["filename"]) if (root / "images" / f).is_file()]
    assert len(present) >= 30
    with_masks = 0
    for i in present:
        sample = d[i]
        img = sample["img"]
        assert img.dtype == np.float32 and img.shape[0] == 1 and img.min() >= -1024 and img.max() <= 1024
        for mask in sample["semantic_masks"].values():
            assert mask.shape == img.shape and set(np.unique(mask)) <= {0.0, 1.0}
            with_masks += 1
    assert with_masks >= 8
    with zipfile.ZipFile(zippath) as archive:
        members = [n for n in archive.namelist() if not n.endswith("/")]
    assert len(members) == 517  # spec datasets.md 3.10
