"""The small pieces every dataset module shares: demographics, file helpers, base hooks."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xrayvision.datasets import Dataset
from xrayvision.datasets._demographics import add_sex_columns, age_years
from xrayvision.datasets._files import nrows_key, read_csv_arrow, read_metadata_csv, require_folder
from xrayvision.errors import MetadataError, MissingImageError
from xrayvision.fakedata.images import chest_xray_like, write_png


def test_age_years_reads_numbers_and_text_spellings() -> None:
    text = pd.Series(["058Y", "85 or more", "40", None, "unknown"], dtype=object)
    assert age_years(text).tolist()[:3] == [58.0, 85.0, 40.0]
    assert age_years(text)[3:].isna().all()
    numbers = pd.Series([3, 70], dtype="int64")
    out = age_years(numbers)
    assert out.dtype == np.float64 and out.tolist() == [3.0, 70.0]


def test_sex_columns_are_false_when_unknown_or_absent() -> None:
    table = pd.DataFrame({"Sex": ["Male", "Female", None, "Other"]})
    add_sex_columns(table, "Sex", male="Male", female="Female")
    assert table["sex_male"].tolist() == [True, False, False, False]
    assert table["sex_female"].tolist() == [False, True, False, False]
    absent = pd.DataFrame({"x": [1, 2]})
    add_sex_columns(absent, "PatientSex")
    assert not absent["sex_male"].any() and not absent["sex_female"].any()


def test_require_folder_names_the_argument_and_hint(tmp_path: Path) -> None:
    assert require_folder(tmp_path, "X_Dataset") == tmp_path
    with pytest.raises(MissingImageError, match=r"X_Dataset: imgpath=.*nowhere.* not an existing folder; get it"):
        require_folder(tmp_path / "nowhere", "X_Dataset", "get it")


def test_read_metadata_csv_turns_parse_failures_into_metadata_errors(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text("a,b\n1,2\n")
    assert read_metadata_csv(good, "X_Dataset", "the table", dtype="str")["b"].tolist() == ["2"]
    with pytest.raises(MetadataError, match="X_Dataset: cannot parse .*missing.csv as the table"):
        read_metadata_csv(tmp_path / "missing.csv", "X_Dataset", "the table")
    assert nrows_key(None) == "all" and nrows_key(7) == "7"


# Cells pandas and pyarrow read differently unless told: dates and times, booleans among
# 1/0, an unnamed and an empty column, NA spellings, a quoted line break, digits as text.
_AWKWARD_CSV = (
    "id,date,time,flag,mixed,count,,empty,note,code\n"
    "a,2019-01-02,10:00:00,True,1,1,x,,\"two\nlines\",007\n"
    "b,2020-03-04,11:30:15,false,True,0,y,,n/a,010\n"
    "c,,,TRUE,0,,z,,None,\n"
)


@pytest.mark.parametrize("compress", [False, True])
def test_read_csv_arrow_gives_what_pandas_read_csv_gives(tmp_path: Path, compress: bool) -> None:
    path = tmp_path / ("t.csv.gz" if compress else "t.csv")
    path.write_bytes(gzip.compress(_AWKWARD_CSV.encode()) if compress else _AWKWARD_CSV.encode())
    expected = pd.read_csv(path, dtype={"code": "str"})
    pd.testing.assert_frame_equal(read_csv_arrow(path, "X", "t", text=("code",)), expected)
    chosen = read_csv_arrow(path, "X", "t", columns=["note", "id"])
    pd.testing.assert_frame_equal(chosen, pd.read_csv(path, usecols=["note", "id"])[["note", "id"]])
    first = read_csv_arrow(path, "X", "t", text=("code",), nrows=2)
    pd.testing.assert_frame_equal(first, pd.read_csv(path, dtype={"code": "str"}, nrows=2))


def test_read_csv_arrow_leaves_odd_files_to_pandas_and_names_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,a,b\n1,2,3\n")
    pd.testing.assert_frame_equal(read_csv_arrow(path, "X", "t"), pd.read_csv(path))
    with pytest.raises(MetadataError, match=r"X: .*t.csv lacks column\(s\) \['nope'\]"):
        read_csv_arrow(path, "X", "t", columns=["b", "nope"])
    path.write_bytes(b"a,b\n1\n2,3\n")  # a row cut short: kept, padded with NaN
    pd.testing.assert_frame_equal(read_csv_arrow(path, "X", "t"), pd.read_csv(path))
    path.write_bytes(b"a,b\n1,2\n3,4,5,6\n")
    with pytest.raises(MetadataError, match="X: cannot parse .*t.csv as t: .*Expected 2 fields in line 3"):
        read_csv_arrow(path, "X", "t")
    with pytest.raises(MetadataError, match="X: cannot parse .*absent.csv as t"):
        read_csv_arrow(tmp_path / "absent.csv", "X", "t")


class _FileDataset(Dataset):
    image_hint = "put the PNGs there"

    def __init__(self, imgpath: Path, names: list[str]) -> None:
        super().__init__(seed=3)
        self.imgpath = imgpath
        self.csv = pd.DataFrame({"name": names, "view": "PA"})
        self._finish_csv()
        self._set_labels(np.zeros((len(names), 1)), ["Finding"])

    def _image_path(self, index: int) -> Path:
        return self.imgpath / "sub" / self.csv["name"].iat[index]


def test_default_read_image_decodes_the_image_path(tmp_path: Path) -> None:
    write_png(tmp_path / "sub" / "a.png", chest_xray_like((20, 30), seed=1))
    d = _FileDataset(tmp_path, ["a.png", "b.png"])
    assert d.seed == 3 and d.transform is None and d.pathology_masks is False
    assert d[0]["img"].shape == (1, 20, 30)
    with pytest.raises(MissingImageError, match=r"'sub/b.png' .* imgpath=.*; put the PNGs there"):
        d[1]


def test_a_class_without_image_path_must_read_images_itself() -> None:
    class NoFiles(_FileDataset):
        _image_path = None

    d = NoFiles(Path("."), ["a.png"])
    with pytest.raises(NotImplementedError, match="NoFiles must define _image_path or _read_image"):
        d[0]
