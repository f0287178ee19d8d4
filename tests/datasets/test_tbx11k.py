"""TBX11K_Dataset: JSON parsing, labels, boxes as masks and a collatable bbox field."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch.utils.data

from xrayvision.datasets.tbx11k import TBX11K_Dataset, tbx11k_table
from xrayvision.errors import DatasetError, MetadataError, MissingImageError, MissingMetadataError
from xrayvision.fakedata.tbx11k import SPLITS, write_tbx11k


SCALE = 128 / 512  # the fake's images are 128 px; SPLITS boxes are in 512 px space


def box(split: str, image: int, k: int) -> list[float]:
    return [round(v * SCALE, 4) for v in SPLITS[split][image][2][k][1]]


@pytest.fixture(scope="module")
def fake(tmp_path_factory) -> Path:
    return write_tbx11k(tmp_path_factory.mktemp("tbx") / "TBX11K", size=128)


def test_table_by_hand() -> None:
    coco = {
        "categories": [{"id": 7, "name": "B", "supercategory": "Tuberculosis"},
                       {"id": 3, "name": "A", "supercategory": "Other"}],
        "images": [{"id": 10, "file_name": "tb/x.png"}, {"id": 11, "file_name": "sick/y.png"},
                   {"id": 12, "file_name": "odd/z.png"}],
        "annotations": [{"image_id": 11, "category_id": 3, "bbox": [1, 2, 3, 4]},
                        {"image_id": 10, "category_id": 7, "bbox": [0, 0, 1, 1]}],
    }
    csv, labels, names = tbx11k_table(coco)
    assert names == ["B", "A", "Tuberculosis"]  # JSON order, then the union
    assert labels.tolist() == [[1, 0, 1], [0, 1, 0], [0, 0, 0]]  # "A" is not TB
    assert csv["bbox"].tolist() == [[[0.0, 0.0, 1.0, 1.0]], [[1.0, 2.0, 3.0, 4.0]], []]
    assert csv["image_class"].tolist()[:2] == ["tb", "sick"] and np.isnan(csv["image_class"].iloc[2])


def test_table_errors() -> None:
    with pytest.raises(MetadataError):
        tbx11k_table({"images": []})
    with pytest.raises(MetadataError, match="invalid"):
        tbx11k_table({"categories": [], "images": [{"id": 1, "file_name": "a"}],
                      "annotations": [{"id": 5, "image_id": 1, "category_id": 9, "bbox": [0, 0, 1, 1]}]})


def test_splits_and_labels(fake) -> None:
    d = TBX11K_Dataset(fake)
    assert len(d) == len(SPLITS["train"]) and len(TBX11K_Dataset(fake, split="trainval")) == 7
    assert d.pathologies == ["ActiveTuberculosis", "ObsoletePulmonaryTuberculosis", "PulmonaryTuberculosis",
                             "Tuberculosis"]
    assert d.labels.tolist() == [[1, 0, 0, 1], [0, 1, 0, 1], [1, 1, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]]
    assert d.csv["image_class"].tolist() == ["tb", "tb", "tb", "health", "sick"]
    assert d.csv["has_masks"].tolist() == [True, True, True, False, False]
    with pytest.raises(DatasetError, match="trainval"):
        TBX11K_Dataset(fake, split="test")
    with pytest.raises(MissingMetadataError):
        TBX11K_Dataset(fake.parent)


def test_bbox_field_collates(fake) -> None:
    d = TBX11K_Dataset(fake)
    sample = d[1]
    assert sample["bbox"].shape == (2, 4) and sample["bbox"].dtype == np.float32
    assert np.allclose(sample["bbox"], [box("train", 1, 0), box("train", 1, 1)])
    assert np.isnan(d[0]["bbox"][1]).all() and np.isnan(d[3]["bbox"]).all()
    batch = next(iter(torch.utils.data.DataLoader(d, batch_size=5)))
    assert tuple(batch["bbox"].shape) == (5, 2, 4)


def test_box_masks(fake) -> None:
    d = TBX11K_Dataset(fake, pathology_masks=True)
    sample = d[2]  # boxes of two categories, one past the edge
    masks = sample["pathology_masks"]
    names = {d.pathologies[k] for k in masks}
    assert names == {"ActiveTuberculosis", "ObsoletePulmonaryTuberculosis", "Tuberculosis"}
    active = masks[0][0]
    x, y, w, h = box("train", 2, 0)
    rows, cols = np.nonzero(active)
    assert (rows.min(), rows.max() + 1, cols.min(), cols.max() + 1) == (
        int(np.floor(y)), int(np.ceil(y + h)), int(np.floor(x)), int(np.ceil(x + w)))
    union = masks[3][0]
    assert np.array_equal(union, np.maximum(masks[0][0], masks[1][0]))
    assert d[3]["pathology_masks"] == {}


def test_box_masks_scale_to_image_size(fake, tmp_path) -> None:
    root = tmp_path / "scaled"
    (root / "annotations" / "json").mkdir(parents=True)
    coco = json.loads((fake / "annotations" / "json" / "TBX11K_train.json").read_text())
    for image in coco["images"]:
        image["width"] = image["height"] = 512  # JSON says 512 px, files are 128 px
    for annotation in coco["annotations"]:
        annotation["bbox"] = [v * 4 for v in annotation["bbox"]]
    (root / "annotations" / "json" / "TBX11K_train.json").write_text(json.dumps(coco))
    (root / "imgs").symlink_to(fake / "imgs")
    mask = TBX11K_Dataset(root, pathology_masks=True)[0]["pathology_masks"][0][0]
    x, y, w, h = box("train", 0, 0)
    rows, cols = np.nonzero(mask)
    assert rows.min() == int(np.floor(y)) and cols.max() + 1 == int(np.ceil(x + w))


def test_missing_image(fake, tmp_path) -> None:
    root = tmp_path / "noimgs"
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "json").symlink_to(fake / "annotations" / "json")
    with pytest.raises(MissingImageError, match="tb/tb0001.png"):
        TBX11K_Dataset(root)[0]


def test_real_sample(realdata) -> None:
    """The reference's own fixture: labels [[1,0,0,1],[0,1,0,1],[0,0,0,0]], 512x512 images."""
    d = TBX11K_Dataset(realdata / "tbx11k" / "TBX11K", pathology_masks=True)
    assert d.labels.tolist() == [[1, 0, 0, 1], [0, 1, 0, 1], [0, 0, 0, 0]]
    assert d.csv["image_class"].tolist() == ["tb", "tb", "health"]
    for i in range(len(d)):
        sample = d[i]
        assert sample["img"].shape == (1, 512, 512)
        assert all(m.shape == (1, 512, 512) for m in sample["pathology_masks"].values())
