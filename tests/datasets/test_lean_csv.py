"""Lean metadata reads: bytes and category columns that decode to a default read_csv's."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from xrayvision.datasets import _lean_csv as lean
from xrayvision.errors import MetadataError

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
    lean.decode_bytes_columns(table)
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


def test_non_utf8_bytes_name_the_value():
    with pytest.raises(MetadataError, match=r"not UTF-8"):
        lean.decode_bytes(np.array([b"ok", b"bad\xff"], dtype="S4"))


def test_missing_bytes_are_the_default_na_tokens_that_fit():
    values = np.array([b"", b"NA", b"nan", b"N/", b"ok", b"None"], dtype="S4")
    assert lean.missing_bytes(values).tolist() == [True, True, True, False, False, True]
    assert np.isnan(lean.decode_bytes(values)[1])
    wide = np.array([b"NA", b"x" * 20, b"", b"#N/A N/A", b"#N/A N/AX", b"null "], dtype="S20")
    assert lean.missing_bytes(wide).tolist() == [True, False, True, True, False, False]


def test_sort_keys_order_and_compare_as_the_strings():
    words = ["00012", "9", "0012", "", "é1", "z", "00012", "10"]
    values = np.array([w.encode() for w in words], dtype="S8")
    keys = lean.bytes_sort_keys(values)
    assert [words[i] for i in np.argsort(keys, kind="stable")] == sorted(words)
    assert (keys[0] == keys[6]) and len(set(keys.tolist())) == len(set(words))
    assert lean.bytes_sort_keys(np.array([b"123456789"], dtype="S9")) is None, "wider than one key"


@pytest.mark.parametrize("collide", [False, True])
def test_factorize_bytes_matches_pandas(monkeypatch, collide):
    if collide:  # every row mixes to the same key: the exact fallback must take over
        monkeypatch.setattr(lean, "_mix", lambda words: np.zeros(len(words), dtype=np.uint64))
    rng = np.random.default_rng(0)
    words = [f"id{int(i):x}" * int(1 + i % 3) for i in rng.integers(0, 50, 500)] + ["", "NA", "id0"]
    values = np.array([w.encode() for w in words], dtype="S16")
    codes, uniques = lean.factorize_bytes(values)
    expected_codes, expected_uniques = pd.factorize(pd.Series(lean.decode_bytes(values), dtype=object))
    assert codes.tolist() == expected_codes.tolist()
    assert [u.decode() for u in uniques.tolist()] == list(expected_uniques)


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
    lean.decode_bytes_columns(table)
    pd.testing.assert_frame_equal(table, pd.read_csv(path))


@pytest.mark.parametrize("prefixes", [5, 10**9])  # many ties (NumPy's sort) or few (prefix keys)
def test_bytes_argsort_is_the_stable_string_order(prefixes):
    rng = np.random.default_rng(prefixes)
    words = [f"{rng.integers(0, prefixes):09d}" + "x" * int(rng.integers(0, 4)) for _ in range(2000)]
    words += ["", "é", "abcdefgh", "abcdefg", "abcdefgh"]
    values = np.array([w.encode() for w in words])
    assert lean.bytes_argsort(values).tolist() == sorted(range(len(words)), key=words.__getitem__)


def test_isin_bytes_matches_series_isin():
    words = ["abcdefgh1", "abcdefgh2", "abc", "é.png", "", "x" * 30]
    values = np.array([w.encode() for w in words], dtype="S12")  # the long one is cut: never wanted
    wanted = ["abcdefgh2", "é.png", "zzz", "x" * 30]
    assert lean.isin_bytes(values, wanted).tolist() == [False, True, False, True, False, False]
