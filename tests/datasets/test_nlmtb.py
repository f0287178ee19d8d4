"""NLMTB_Dataset: labels from file names, both sets, merge."""

from __future__ import annotations

import numpy as np
import pytest

from xrayvision.datasets.nlmtb import NLMTB_Dataset, nlmtb_table
from xrayvision.errors import MissingImageError, UnknownNameError
from xrayvision.fakedata.nlmtb import MONTGOMERY, SHENZHEN, write_nlmtb


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    return write_nlmtb(tmp_path_factory.mktemp("nlmtb"))


def test_table_by_hand() -> None:
    csv, labels, skipped = nlmtb_table(["b_0002_1.png", "Thumbs.db", "a_0001_0.PNG", "c.png", "d_3.png"])
    assert csv["fname"].tolist() == ["a_0001_0.PNG", "b_0002_1.png"]
    assert csv["patientid"].tolist() == ["a_0001", "b_0002"]
    assert labels.tolist() == [[0.0], [1.0]] and labels.dtype == np.float32
    assert skipped == 2  # c.png and d_3.png have no _0/_1 label


def test_both_sets(fake) -> None:
    montgomery = NLMTB_Dataset(fake["montgomery"])
    assert montgomery.csv["fname"].tolist() == sorted(MONTGOMERY)
    assert montgomery.labels[:, 0].tolist() == [MONTGOMERY[n] for n in sorted(MONTGOMERY)]
    assert montgomery.skipped == {"PNG name without _0/_1 label suffix": 1}
    shenzhen = NLMTB_Dataset(fake["shenzhen"])
    assert shenzhen.labels[:, 0].tolist() == [SHENZHEN[n] for n in sorted(SHENZHEN)]
    assert shenzhen.skipped == {}  # Thumbs.db is not a PNG
    assert str(shenzhen) == "NLMTB_Dataset num_samples=3 views=['PA'] data_aug=None"
    with pytest.raises(UnknownNameError):
        NLMTB_Dataset(fake["shenzhen"], views=["AP"])


def test_merge(fake) -> None:
    from xrayvision.datasets import MergeDataset

    merged = MergeDataset([NLMTB_Dataset(fake["montgomery"]), NLMTB_Dataset(fake["shenzhen"])])
    assert len(merged) == len(MONTGOMERY) + len(SHENZHEN)
    assert merged.labels.sum() == sum(MONTGOMERY.values()) + sum(SHENZHEN.values())


def test_wrong_folder(fake, tmp_path) -> None:
    with pytest.raises(MissingImageError, match="CXR_png"):
        NLMTB_Dataset(tmp_path)
    with pytest.raises(MissingImageError, match="CXR_png"):
        NLMTB_Dataset(fake["montgomery"] / "CXR_png")
