"""SIIM's lean image-table reader equals the exact one, or hands the file to it."""

from __future__ import annotations

import pandas as pd
import pytest

from xrayvision.datasets import _siim_images
from xrayvision.datasets.siim import read_rle_table, siim_image_table


def _exact(path):
    return siim_image_table(read_rle_table(path))


def _tables(tmp_path, text: str):
    path = tmp_path / "train-rle.csv"
    path.write_bytes(text.encode("utf-8"))
    calls = []

    def exact(p):
        calls.append(p)
        return _exact(p)

    return _siim_images.read_image_table(path, exact), _exact(path), calls


def test_lean_table_equals_the_exact_one(tmp_path):
    rows = [
        "ImageId, EncodedPixels",
        "1.2.3, -1",
        "1.2.4, 175349 7 1013 12 1000 17 998 20",  # a code longer than the prefix
        "1.2.4 , 5 5 5",  # the same image after stripping
        "1.2.5,-1   ",
        "1.2.6,",  # no code: not a region
        "1.2.6,NA",
        ",7 7",  # no id: dropped
        "1.2.é, 1 2",
        "1.2.3, 12",
    ]
    lean, exact, calls = _tables(tmp_path, "\n".join(rows) + "\n")
    assert not calls, "decided without the exact reader"
    pd.testing.assert_frame_equal(lean, exact)
    assert lean["ImageId"].tolist() == ["1.2.3", "1.2.4", "1.2.5", "1.2.6", "1.2.é"]
    assert lean["regions"].tolist() == [1, 2, 0, 0, 1]


@pytest.mark.parametrize(
    "rows",
    [
        ["ImageId,EncodedPixels", "a,-1" + " " * 20, "b,1 2"],  # a cut code that strips to -1
        ["Image,EncodedPixels", "a,-1"],  # not the expected column names
        ["ImageId,EncodedPixels", "x" * 200 + ",-1"],  # an id longer than the bytes width
    ],
)
def test_undecidable_files_go_to_the_exact_reader(tmp_path, rows):
    text = "\n".join(rows) + "\n"
    try:
        expected = _exact_or_error(tmp_path, text)
    except Exception as err:  # noqa: BLE001 - both readers must fail alike
        with pytest.raises(type(err)):
            _tables(tmp_path, text)
        return
    lean, _exact_table, calls = _tables(tmp_path, text)
    assert calls, "handed to the exact reader"
    pd.testing.assert_frame_equal(lean, expected)


def _exact_or_error(tmp_path, text):
    path = tmp_path / "probe.csv"
    path.write_text(text, encoding="utf-8")
    return _exact(path)


def test_real_metadata_equals_the_exact_reader(realdata):
    path = realdata / "xrv-metadata" / "siim-pneumothorax-train-rle.csv.gz"
    if not path.is_file():
        pytest.skip(f"{path} not in the real sample data")
    calls = []
    lean = _siim_images.read_image_table(path, lambda p: calls.append(p) or _exact(p))
    assert not calls
    pd.testing.assert_frame_equal(lean, _exact(path))
