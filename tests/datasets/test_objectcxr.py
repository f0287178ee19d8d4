"""ObjectCXR_Dataset: annotation parsing, zip members, rendered masks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xrayvision.datasets.objectcxr import ObjectCXR_Dataset, objectcxr_labels, parse_annotation
from xrayvision.errors import MetadataError, MissingImageError
from xrayvision.fakedata.objectcxr import write_objectcxr


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    return write_objectcxr(tmp_path_factory.mktemp("ocxr"))


def test_parse_annotation():
    assert parse_annotation("") == [] and parse_annotation(None) == []
    assert parse_annotation("0 1 2 3 4;2 0 0 5 0 5 5") == [("box", [1, 2, 3, 4]), ("polygon", [0, 0, 5, 0, 5, 5])]
    for bad in ["7 1 2 3 4", "0 1 2 3", "2 1 2 3 4", "0 a b c d"]:
        with pytest.raises(MetadataError):
            parse_annotation(bad)


def test_labels():
    labels, pathologies = objectcxr_labels(pd.DataFrame({"annotation": ["", None, "0 1 2 3 4"]}))
    assert pathologies == ["Foreign Object"] and labels[:, 0].tolist() == [0, 0, 1]


def test_masks_render_box_ellipse_polygon(fake):
    d = ObjectCXR_Dataset(fake["imgzippath"], fake["csvpath"], pathology_masks=True)
    assert str(d) == "ObjectCXR_Dataset num_samples=3 views=[] data_aug=None"
    assert d[0]["pathology_masks"] == {}
    box = d[1]["pathology_masks"][0]
    expected = np.zeros((1, 64, 64), np.float32)
    expected[0, 20:41, 10:31] = 1  # Pillow's rectangle includes both corners
    np.testing.assert_array_equal(box, expected)
    both = d[2]["pathology_masks"][0]
    assert both.shape == (1, 48, 64)
    assert both[0, 16, 16] == 1 and both[0, 8, 8] == 0  # ellipse centre in, box corner out
    assert both[0, 20, 50] == 1 and both[0, 40, 50] == 0  # inside / outside the triangle


def test_prefix_selects_the_split(fake):
    d = ObjectCXR_Dataset(fake["imgzippath"], fake["csvpath"], prefix="dev")
    with pytest.raises(MissingImageError, match="dev/00001.jpg"):
        d[0]


def test_bad_annotation_is_reported_at_construction(fake, tmp_path):
    bad = tmp_path / "train.csv"
    bad.write_text("image_name,annotation\n00001.jpg,9 1 2 3 4\n")
    with pytest.raises(MetadataError, match="9 1 2 3 4"):
        ObjectCXR_Dataset(fake["imgzippath"], bad)
