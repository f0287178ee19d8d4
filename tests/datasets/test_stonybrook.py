"""StonyBrookCOVID_Dataset: two-line header, mean scores, file names tied to rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xrayvision.datasets.stonybrook import StonyBrookCOVID_Dataset, ralo_scores, read_ralo_metadata
from xrayvision.errors import MetadataError, MissingImageError, MissingMetadataError, UnknownNameError
from xrayvision.fakedata.stonybrook import EXAMS, write_stonybrook


@pytest.fixture()
def fake(tmp_path):
    return write_stonybrook(tmp_path / "ralo", size=64)


def test_scores_by_hand() -> None:
    csv = pd.DataFrame({"Total GEOGRAPHIC": [8, 0, 3], "Total GEOGRAPHIC.1": [6, 1, None],
                        "Total OPACITY": [4, 0, 2], "Total OPACITY.1": [5, 0, 2]})
    labels, names = ralo_scores(csv)
    assert names == ["Geographic Extent", "Lung Opacity"]
    assert labels.dtype == np.float32
    assert labels[:2].tolist() == [[7.0, 4.5], [0.5, 0.0]]
    assert np.isnan(labels[2, 0]) and labels[2, 1] == 2.0
    with pytest.raises(MetadataError, match="Total OPACITY.1"):
        ralo_scores(csv.drop(columns="Total OPACITY.1"))


def test_fake_rows(fake) -> None:
    d = StonyBrookCOVID_Dataset(**fake)
    assert len(d) == len(EXAMS) and str(d) == f"StonyBrookCOVID_Dataset num_samples={len(EXAMS)}"
    assert d.csv["filename"].tolist() == [f"{i}.jpg" for i in range(len(EXAMS))]
    # exam 1: reader totals geo 8 and 6, opacity 2 and 2 (fakedata.stonybrook.EXAMS)
    assert d.labels[1].tolist() == [7.0, 2.0]
    assert d.csv["patientid"].tolist()[:3] == ["S12513", "S11356", "S11356"]
    # 2020-03-30 is 18,351 days after 1970-01-01; 2020-01-01 is 18,262
    assert d.csv["offset_day_int"].tolist()[0] == 18351 and d.csv["offset_day_int"].tolist()[4] == 18262
    assert set(d.csv["view"]) == {"AP"}
    with pytest.raises(UnknownNameError):
        StonyBrookCOVID_Dataset(**fake, views=["PA"])


def test_filtering_keeps_images_with_their_rows(fake) -> None:
    from xrayvision.datasets import SubsetDataset

    d = StonyBrookCOVID_Dataset(**fake)
    sub = SubsetDataset(d, [3, 4])
    assert np.array_equal(sub[0]["img"], d[3]["img"])
    assert d.csv.loc[3, "filename"] == "3.jpg"


def test_errors(fake, tmp_path) -> None:
    with pytest.raises(MissingMetadataError, match="zenodo|RALO"):
        StonyBrookCOVID_Dataset(fake["imgpath"], tmp_path / "none.csv")
    d = StonyBrookCOVID_Dataset(**fake)
    (fake["imgpath"] / "2.jpg").unlink()
    with pytest.raises(MissingImageError, match="2.jpg"):
        d[2]


def test_real_metadata_and_images(realdata) -> None:
    root = realdata / "stonybrook-ralo"
    d = StonyBrookCOVID_Dataset(root / "CXR_images_scored", root / "ralo-dataset-metadata.csv")
    assert len(d) == 2373  # paper Table 1
    raw = read_ralo_metadata(root / "ralo-dataset-metadata.csv")
    expected = (raw["Total GEOGRAPHIC"] + raw["Total GEOGRAPHIC.1"]) / 2
    assert np.allclose(d.labels[:, 0], expected.to_numpy())
    assert d.labels.min() >= 0 and d.labels.max() <= 8
    assert d.csv["patientid"].nunique() == raw["Subject_ID"].nunique()
    for i in range(40):
        sample = d[i]
        assert sample["img"].shape == (1, 224, 224) and sample["img"].dtype == np.float32
