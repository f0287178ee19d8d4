"""Lean metadata reads: bytes and category columns that decode to a default read_csv's."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from xrayvision.datasets import _lean_csv as lean
from xrayvision.datasets._bytes_columns import decode_bytes_columns

AWKWARD = (
    "Path,Sex,View,Count,Flag,Blank\n"
    'NA,Male,PA,1,True,\n'
    ",Female,AP,2,False,\n"
    '"a,b/patient01",NA,PA,3,True,\n'
    "null,,L,4,False,\n"
    "xé/patient001,Male,,5,True,\n"
)


def _read(path, **kwargs):
    return lean.read_lean_csv(path, "Test_Dataset", "a test CSV", **kwargs)


def test_lean_read_decodes_to_the_default_read(tmp_path):
    path = tmp_path / "awkward.csv"
    path.write_text(AWKWARD, encoding="utf-8")
    table = _read(path, bytes_columns=["Path", "Absent"], text_columns=["Sex", "View", "Count", "Flag", "Blank"])
    assert table["Path"].dtype.kind == "S"
    assert table["Path"].dtype.itemsize == len("xé/patient001".encode()), "trimmed to the longest cell"
    assert str(table["Sex"].dtype) == "str"
    decode_bytes_columns(table)
    # numbers, booleans and all-blank columns come back as read_csv infers them
    pd.testing.assert_frame_equal(table, pd.read_csv(path))


def test_categories_stay_until_turned_into_text(tmp_path):
    path = tmp_path / "awkward.csv"
    path.write_text(AWKWARD, encoding="utf-8")
    table = _read(path, text_columns=["Sex", "View"], text_as_categories=True, category_columns=["Path"])
    assert all(isinstance(table[c].dtype, pd.CategoricalDtype) for c in ("Sex", "View", "Path"))
    lean.categories_to_text(table, ["Sex", "View"])
    expected = pd.read_csv(path)
    pd.testing.assert_series_equal(table["Sex"], expected["Sex"])
    assert table["Path"].astype("str").equals(expected["Path"])


def test_a_cell_longer_than_the_width_is_read_again_as_text(tmp_path):
    long_path = "p/" + "x" * (lean.BYTES_WIDTH + 10)
    path = tmp_path / "long.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(f"Path,N\nshort,1\n{long_path},2\n")
    table = _read(path, bytes_columns=["Path"])
    assert table["Path"].tolist() == ["short", long_path]


def test_text_given_as_str_is_never_read_again(tmp_path):
    path = tmp_path / "digits.csv"
    path.write_text("Id,Sex\n001,M\n002,F\n", encoding="utf-8")
    table = _read(path, dtype={"Id": "str"}, text_columns=["Id"])
    assert table["Id"].tolist() == ["001", "002"], "leading zeros kept: the caller asked for text"


@pytest.mark.parametrize(
    ("name", "bytes_columns", "text_columns"),
    [
        ("chexpert_train.csv.gz", ["Path"], ["Sex", "Frontal/Lateral", "AP/PA"]),
        ("Data_Entry_2017_v2020.csv.gz", ["Image Index"], ["Finding Labels", "Patient Gender", "View Position"]),
        ("vinbigdata-train.csv.gz", ["image_id"], ["class_name", "rad_id"]),
    ],
)
def test_real_metadata_reads_exactly_as_the_default(realdata, name, bytes_columns, text_columns):
    path = realdata / "xrv-metadata" / name
    if not path.is_file():
        pytest.skip(f"{path} not in the real sample data")
    table = _read(path, bytes_columns=bytes_columns, text_columns=text_columns)
    decode_bytes_columns(table)
    pd.testing.assert_frame_equal(table, pd.read_csv(path))


@pytest.mark.parametrize("width", [1, 3, 8, 13, 16, 128])
@pytest.mark.parametrize("rows", [0, 1, 2, 7, 64, 1001])
def test_used_width_is_the_longest_cell(width, rows):
    rng = np.random.default_rng(width * 10_000 + rows)
    lengths = rng.integers(0, width + 1, size=rows)
    cells = [bytes(rng.integers(1, 256, size=n).astype(np.uint8)) for n in lengths]
    values = np.array(cells, dtype=f"S{width}")
    assert lean._used_width(values) == max(lengths, default=0)
