"""Openi_Dataset: report parsing, label rule, views, cache; fake data and the shipped metadata."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import xrayvision.datasets.openi as openi_module
from xrayvision.datasets.openi import Openi_Dataset, openi_labels, parse_reports
from xrayvision.errors import MissingImageError, MissingMetadataError, UnknownNameError
from xrayvision.fakedata.openi import write_openi

PATHS = ("xmlpath", "dicomcsv_path", "tsnepacsv_path")


@pytest.fixture()
def fake(tmp_path: Path) -> dict[str, Path]:
    return write_openi(tmp_path / "openi")


def build(fake, **kwargs) -> Openi_Dataset:
    return Openi_Dataset(fake["imgpath"], **{k: fake[k] for k in PATHS}, **kwargs)


def test_parse_reports(fake) -> None:
    table = parse_reports(fake["xmlpath"])
    assert list(table.columns) == ["uid", "imageid", "labels_major", "labels_automatic"]
    # archive (text) order 1, 10, 2, 3, 4, 5, 6; report 5 has no image
    assert list(table["uid"]) == ["CXR1", "CXR1", "CXR10", "CXR10", "CXR2", "CXR2", "CXR3",
                                  "CXR4", "CXR4", "CXR6", "CXR6"]
    row = table.set_index("imageid").loc["CXR2_IM-0652-1001"]
    assert row["labels_automatic"] == "calcified granuloma|granuloma"  # lower-cased, unique, sorted
    assert row["labels_major"] == "calcified granuloma"
    cxr4 = table.set_index("imageid").loc["CXR4_IM-2050-1001"]
    assert cxr4["labels_automatic"] == "atelectases|mass lesion|opacity & nodule"  # &amp; decoded
    assert table.set_index("imageid").loc["CXR1_1_IM-0001-3001", "labels_automatic"] == ""


def test_label_rule_by_hand() -> None:
    terms = pd.Series([
        "cardiomegaly|pericardial effusion",
        "infiltrates|pleural thickening|subcutaneous emphysema",
        "atelectases|mass lesion|opacity & nodule",
        "",
        "effusion|hydropneumothorax",
    ])
    labels, names = openi_labels(terms)
    positives = [{n for n, v in zip(names, row) if v == 1} for row in labels]
    assert positives == [
        {"Cardiomegaly"},
        {"Infiltration", "Pleural_Thickening"},
        {"Atelectasis", "Mass", "Lung Lesion", "Lung Opacity", "Nodule"},
        set(),
        {"Effusion", "Pneumothorax"},
    ]
    reference, _ = openi_labels(terms, match="substring")
    changed = np.argwhere(reference != labels)
    assert {(int(i), names[j]) for i, j in changed} == {(0, "Effusion"), (1, "Emphysema")}
    assert not np.isnan(labels).any() and labels.dtype == np.float32
    assert names[11] == "Lung Lesion" and names[14] == "Lung Opacity"  # renamed in place


def test_label_rule_rejects_unknown_mode() -> None:
    with pytest.raises(ValueError, match="match"):
        openi_labels(pd.Series(["x"]), match="regex")


def test_views_and_unique(fake) -> None:
    d = build(fake)
    assert list(d.csv["imageid"]) == ["CXR10_IM-0002-1001", "CXR2_IM-0652-1001",
                                      "CXR4_IM-2050-1001", "CXR6_IM-2192-1001"]
    assert list(d.csv["patientid"]) == ["CXR10", "CXR2", "CXR4", "CXR6"]
    assert len(build(fake, views=["PA", "AP"], unique_patients=False)) == 5
    everything = build(fake, views="*", unique_patients=False)
    assert len(everything) == 11
    unknown = everything.csv.loc[everything.csv["view"] == "UNKNOWN", "imageid"]
    assert sorted(unknown) == ["CXR2_IM-0652-2001", "CXR6_IM-2192-2001"]  # blank / no DICOM row
    tsne = build(fake, use_tsne_derived_view=True, unique_patients=False)
    assert sorted(tsne.csv["imageid"]) == ["CXR10_IM-0002-1001", "CXR2_IM-0652-1001", "CXR3_IM-1384-1001",
                                           "CXR4_IM-2050-1001", "CXR6_IM-2192-2001"]
    with pytest.raises(UnknownNameError):
        build(fake, views=["Frontal"])


def test_labels_follow_rows(fake) -> None:
    d = build(fake, views="*", unique_patients=False)
    expected, names = openi_labels(d.csv["labels_automatic"])
    assert np.array_equal(d.labels, expected) and d.pathologies == names
    row = d.csv.index[d.csv["imageid"] == "CXR4_IM-2050-1001"][0]
    assert d.labels[row, d.pathologies.index("Lung Lesion")] == 1


def test_parsed_reports_are_cached(fake, monkeypatch) -> None:
    first = build(fake)
    monkeypatch.setattr(openi_module, "parse_reports", lambda path: pytest.fail("parsed again"))
    second = build(fake)
    assert second.csv.equals(first.csv) and np.array_equal(second.labels, first.labels)


def test_shipped_files_by_key(fake, monkeypatch) -> None:
    import xrayvision.hub.metadata as metadata

    keys = {"openi_reports": fake["xmlpath"], "openi_dicom_metadata": fake["dicomcsv_path"],
            "openi_tsne": fake["tsnepacsv_path"]}
    asked = []
    monkeypatch.setattr(metadata, "resolve", lambda arg, key: asked.append((arg, key)) or keys[key])
    d = Openi_Dataset(fake["imgpath"])
    assert sorted(asked) == sorted(("USE_INCLUDED_FILE", k) for k in keys)
    assert len(d) == 4


def test_missing_files(fake, tmp_path) -> None:
    with pytest.raises(MissingMetadataError):
        Openi_Dataset(fake["imgpath"], xmlpath=tmp_path / "none.tgz",
                      dicomcsv_path=fake["dicomcsv_path"], tsnepacsv_path=fake["tsnepacsv_path"])
    d = build(fake)
    (fake["imgpath"] / "CXR2_IM-0652-1001.png").unlink()
    with pytest.raises(MissingImageError, match="CXR2_IM-0652-1001.png"):
        d[1]


# ------------------------------------------------------------------ the shipped metadata


@pytest.fixture(scope="module")
def shipped(realdata, tmp_path_factory) -> dict[str, Path]:
    meta = realdata / "xrv-metadata"
    return {"xmlpath": meta / "NLMCXR_reports.tgz", "dicomcsv_path": meta / "nlmcxr_dicom_metadata.csv.gz",
            "tsnepacsv_path": meta / "nlmcxr_tsne_pa.csv.gz", "imgpath": tmp_path_factory.mktemp("no-openi-images")}


def test_real_counts(shipped) -> None:
    """Check numbers of spec datasets.md 3.9 and the paper's Table 1 (7,470 / 4,014)."""
    assert len(parse_reports(shipped["xmlpath"])) == 7470
    default = build(shipped)
    assert len(default) == 2314
    assert default.csv["imageid"].iloc[0] == "CXR10_IM-0002-1001"
    assert len(build(shipped, views=["PA", "AP"], unique_patients=False)) == 4014
    assert len(build(shipped, use_tsne_derived_view=True)) == 3267
    everything = build(shipped, views="*", unique_patients=False)
    assert len(everything) == 7470 and len(build(shipped, views="*")) == 3851
    assert everything.csv["view"].value_counts().to_dict() == {
        "PA": 3591, "UNKNOWN": 2589, "LL": 717, "AP": 423, "LATERAL": 119, "RL": 29, "LARGE LATERAL": 2}


def test_real_default_positives(shipped) -> None:
    spec = {"Atelectasis": 186, "Calcified Granuloma": 136, "Cardiomegaly": 135, "Edema": 41, "Effusion": 89,
            "Emphysema": 57, "Fibrosis": 13, "Fracture": 44, "Granuloma": 247, "Hernia": 30, "Infiltration": 61,
            "Lung Lesion": 3, "Mass": 5, "Nodule": 43, "Lung Opacity": 238, "Pleural_Thickening": 16,
            "Pneumonia": 43, "Pneumothorax": 12}
    reference = build(shipped, match="substring")
    assert dict(zip(reference.pathologies, reference.labels.sum(axis=0).astype(int).tolist())) == spec
    ours = build(shipped)
    changed = {n: int(a - b) for n, a, b in zip(ours.pathologies, reference.labels.sum(0), ours.labels.sum(0)) if a != b}
    assert changed == {"Effusion": 3, "Emphysema": 1}  # pericardial effusion / subcutaneous emphysema
