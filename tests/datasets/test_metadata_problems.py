"""Metadata problems: counted and reported in one warning per construction, or raised."""

from __future__ import annotations

import gzip
import warnings

import numpy as np
import pandas as pd
import pytest

from xrayvision.datasets import _problems as problems
from xrayvision.datasets.nih import NIH_Dataset
from xrayvision.datasets.padchest import PC_Dataset
from xrayvision.errors import MetadataError, MetadataWarning
from xrayvision.fakedata.nih import write_nih
from xrayvision.fakedata.padchest import write_padchest

# ------------------------------------------------------------------ the notes, by hand


def test_missing_cells_are_noted_with_their_rows():
    table = pd.DataFrame({"a": ["x", None, "y", None], "b": [1, 2, 3, 4]})
    problems.note_missing(table, ["a", "b", "absent"], "f.csv")
    (note,) = problems.pop_problems(table)
    assert (note["file"], note["column"], note["count"]) == ("f.csv", "a", 2)
    assert note["examples"] == ["row 2", "row 4"] and not note["removed"]
    assert "metadata_problems" not in table.attrs


def test_unknown_values_and_tokens_are_counted_most_frequent_first():
    table = pd.DataFrame({"view": ["PA", "pa ", "AP", "pa ", "LL", None],
                          "found": ["Mass|Nodul", "No Finding", "Nodul", "Cardiomegally|Mass", None, "Mass"]})  # fmt: skip
    problems.note_unknown_views(table, "view", ("PA", "AP"), "f.csv")
    problems.note_unknown_tokens(table, "found", {"Mass", "Nodule", "No Finding"}, "f.csv")
    views, names = problems.pop_problems(table)
    assert views["count"] == 3 and views["examples"] == ["'pa ' (2 rows)", "'LL' (1 row)"]
    assert names["count"] == 3 and names["examples"] == ["'Nodul' (2 rows)", "'Cardiomegally' (1 row)"]


def test_exact_repeats_are_removed_conflicting_ones_kept():
    table = pd.DataFrame({"id": ["a", "b", "a", "b", "c"], "label": [1, 0, 1, 1, 0]})
    out = problems.drop_duplicate_rows(table, "f.csv", key=["id"])
    assert out["label"].tolist() == [1, 0, 1, 0] and out["id"].tolist() == ["a", "b", "b", "c"]
    removed, conflicting = problems.pop_problems(out)
    assert removed["removed"] and removed["count"] == 1 and removed["examples"] == ["row 3"]
    assert conflicting["count"] == 1 and conflicting["examples"] == ["'b' in rows 2 and 4"]
    clean = pd.DataFrame({"id": ["a", "b"]})
    assert problems.drop_duplicate_rows(clean, "f.csv", key=["id"]) is clean and not clean.attrs


def test_one_warning_or_one_error_naming_file_and_column():
    notes = [problems.make_note("data.csv", "View Position", "row(s) with an unknown view spelling", 2, ["'pa '"]),
             problems.make_note("data.csv", None, "row(s) repeating an earlier row (removed)", 1, ["row 9"])]  # fmt: skip
    with pytest.warns(MetadataWarning) as caught:
        problems.report_problems("X_Dataset", notes, strict=False)
    assert len(caught) == 1
    text = str(caught[0].message)
    assert "X_Dataset" in text and "data.csv, column 'View Position': 2 row(s)" in text and "row 9" in text
    with pytest.raises(MetadataError, match=r"data\.csv, column 'View Position'"):
        problems.report_problems("X_Dataset", notes, strict=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        problems.report_problems("X_Dataset", [], strict=False)  # nothing to say: silence


# ------------------------------------------------------------------ through a dataset


@pytest.fixture
def broken_nih(tmp_path):
    """The fake NIH release with: a row cut short, a misspelt finding, a view spelled
    ``pa ``, a repeated row and an image listed twice with other findings."""
    paths = write_nih(tmp_path / "nih")
    lines = paths["csvpath"].read_text().splitlines()
    lines += [
        "00000099_000.png,Mass,0,99",  # cut short: no age, sex, view...
        "00000098_000.png,Cardiomegally|Mass,0,98,40,M,PA,2500,2048,0.143,0.143",
        "00000097_000.png,Nodule,0,97,40,M,pa ,2500,2048,0.143,0.143",
        lines[3],  # an exact repeat of data row 3
        lines[1].replace("Cardiomegaly", "Effusion"),  # data row 1's image, other findings
    ]
    paths["csvpath"].write_text("\n".join(lines) + "\n")
    return paths, len(lines) - 1


def _build(paths, **kwargs):
    return NIH_Dataset(paths["imgpath"], csvpath=paths["csvpath"], bbox_list_path=paths["bbox_list_path"],
                       views="*", unique_patients=False, **kwargs)  # fmt: skip


def test_every_problem_is_in_one_warning_and_nothing_vanishes(broken_nih):
    paths, rows = broken_nih
    for construction in ("cold", "warm"):  # the second one is read from the table cache
        with pytest.warns(MetadataWarning) as caught:
            d = _build(paths)
        assert len(caught) == 1, construction
        text = str(caught[0].message)
        for expected in (f"{paths['csvpath']}, column 'View Position': 1 row(s) with no value (kept), e.g. row {rows - 4}",
                         "column 'View Position': 1 row(s) with an unknown view spelling (kept as written), e.g. 'pa '",
                         "column 'Finding Labels': 1 row(s) with unknown names", "'Cardiomegally' (1 row)",
                         f"{paths['csvpath']}: 1 row(s) repeating an earlier row (removed), e.g. row {rows - 1}",
                         "column 'Image Index': 1 row(s) repeating an image with other values (kept), "
                         "e.g. '00000001_000.png' in rows 1 and"):  # fmt: skip
            assert expected in text, (construction, expected, text)
        assert len(d) == rows - 1 and d.skipped == {"row(s) repeating an earlier row (removed)": 1}
        names = d.csv["Image Index"].tolist()
        assert d.csv["view"][names.index("00000099_000.png")] == "UNKNOWN"
        assert d.csv["view"][names.index("00000097_000.png")] == "pa "
        assert names.count("00000001_000.png") == 2


def test_the_default_views_still_report_the_rows_they_leave_out(broken_nih):
    paths, _ = broken_nih
    with pytest.warns(MetadataWarning, match="'pa '"):
        d = NIH_Dataset(paths["imgpath"], csvpath=paths["csvpath"], bbox_list_path=paths["bbox_list_path"])
    assert "00000097_000.png" not in set(d.csv["Image Index"])


def test_strict_raises_naming_file_and_column(broken_nih):
    paths, _ = broken_nih
    with pytest.raises(MetadataError, match=rf"{paths['csvpath'].name}, column 'View Position'"):
        _build(paths, strict=True)


def test_a_clean_file_says_nothing(tmp_path):
    paths = write_nih(tmp_path / "nih")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _build(paths, strict=True)


def test_padchest_reader_notes_unknown_projections_and_blank_ids(tmp_path):
    paths = write_padchest(tmp_path / "pc")
    table = pd.read_csv(paths["csvpath"], dtype=str)
    table.loc[0, "Projection"] = "Pa"
    table.loc[1, "PatientID"] = np.nan
    with gzip.open(paths["csvpath"], "wt") as handle:
        table.to_csv(handle, index=False)
    with pytest.warns(MetadataWarning) as caught:
        PC_Dataset(paths["imgpath"], csvpath=paths["csvpath"], views="*")
    text = str(caught[0].message)
    assert "column 'Projection': 1 row(s) with an unknown view spelling (kept as written), e.g. 'Pa'" in text
    assert "column 'PatientID': 1 row(s) with no value (kept), e.g. row 2" in text


# ------------------------------------------------------------------ the official files


@pytest.mark.parametrize(
    ("cls", "files"),
    [
        ("NIH_Dataset", {"csvpath": "Data_Entry_2017_v2020.csv.gz", "bbox_list_path": "BBox_List_2017.csv.gz"}),
        ("NIH_Google_Dataset", {"csvpath": "google2019_nih-chest-xray-labels.csv.gz"}),
        ("RSNA_Pneumonia_Dataset", {"csvpath": "kaggle_stage_2_train_labels.csv.zip",
                                    "dicomcsvpath": "kaggle_stage_2_train_images_dicom_headers.csv.gz"}),
        ("PC_Dataset", {"csvpath": "PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv.gz"}),
        ("CheX_Dataset", {"csvpath": "chexpert_train.csv.gz"}),
        ("Openi_Dataset", {"xmlpath": "NLMCXR_reports.tgz", "dicomcsv_path": "nlmcxr_dicom_metadata.csv.gz",
                           "tsnepacsv_path": "nlmcxr_tsne_pa.csv.gz"}),
        ("SIIM_Pneumothorax_Dataset", {"csvpath": "siim-pneumothorax-train-rle.csv.gz"}),
        ("VinDr_Dataset", {"csvpath": "vinbigdata-train.csv.gz"}),
    ],
)  # fmt: skip
def test_the_shipped_tables_have_no_problems(realdata, tmp_path, cls, files):
    import inspect

    import xrayvision.datasets as datasets

    meta = realdata / "xrv-metadata"
    if not all((meta / name).is_file() for name in files.values()):
        pytest.skip("shipped metadata not in the real sample data")
    cls = getattr(datasets, cls)
    every_view = {"views": "*"} if "views" in inspect.signature(cls).parameters else {}
    cls(tmp_path, **{k: meta / v for k, v in files.items()}, **every_view, strict=True)


def test_the_covid_collection_lists_five_images_twice(realdata, tmp_path):
    from xrayvision.datasets.covid19 import COVID19_Dataset

    root = realdata / "covid-chestxray-dataset"
    with pytest.warns(MetadataWarning) as caught:
        COVID19_Dataset(root / "images", root / "metadata.csv")
    assert len(caught) == 1
    assert "column 'filename': 5 row(s) repeating an image with other values (kept)" in str(caught[0].message)
