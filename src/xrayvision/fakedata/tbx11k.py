"""A tiny TBX11K copy in the real layout: class folders of RGB PNGs and COCO JSON splits.

Layout written under ``root``::

    imgs/health/h0001.png, imgs/sick/s0001.png, imgs/tb/tb0001.png ...   512x512 RGB PNG
    annotations/json/TBX11K_train.json, TBX11K_val.json, TBX11K_trainval.json

The JSON has the release's structure (``categories`` with ``supercategory``
``Tuberculosis``, ``images`` with ``date_captured``/``license``/``coco_url``/``flickr_url``,
``annotations`` with float ``bbox = [x, y, w, h]``, ``area``, ``iscrowd``). Awkward cases:
an image with two boxes of the same category, one with boxes of two categories, a box
reaching past the image edge, a sick-but-not-TB image and a healthy one (both without
boxes), image ids that are not consecutive.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ._pixels import radiograph, write_image

CATEGORIES = [
    {"id": 1, "name": "ActiveTuberculosis", "supercategory": "Tuberculosis"},
    {"id": 2, "name": "ObsoletePulmonaryTuberculosis", "supercategory": "Tuberculosis"},
    {"id": 3, "name": "PulmonaryTuberculosis", "supercategory": "Tuberculosis"},
]
# split -> [(image id, file_name, [(category id, [x, y, w, h]), ...])]
SPLITS = {
    "train": [
        (1, "tb/tb0001.png", [(1, [381.83, 126.87, 40.24, 44.57])]),
        (2, "tb/tb0002.png", [(2, [307.31, 62.05, 135.5, 146.61]), (2, [144.12, 52.93, 126.18, 116.23])]),
        (3, "tb/tb0003.png", [(1, [100.5, 200.25, 50.0, 60.0]), (2, [480.0, 490.0, 64.0, 40.0])]),
        (601, "health/h0001.png", []),
        (1601, "sick/s0001.png", []),
    ],
    "val": [
        (4, "tb/tb0004.png", [(3, [10.0, 20.0, 30.0, 40.0])]),
        (602, "health/h0002.png", []),
    ],
}
SPLITS["trainval"] = SPLITS["train"] + SPLITS["val"]


def write_tbx11k(root: str | Path, *, size: int = 512, seed: int = 0) -> Path:
    """Write the fake TBX11K under ``root`` and return ``root`` (the ``imgpath``).

    Images are ``size`` x ``size``; the boxes of :data:`SPLITS` (512 px space) are scaled to it.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    written = set()
    folder = root / "annotations" / "json"
    folder.mkdir(parents=True, exist_ok=True)
    for split, entries in SPLITS.items():
        images, annotations = [], []
        for image_id, file_name, boxes in entries:
            if file_name not in written:
                write_image(root / "imgs" / file_name, radiograph(rng, size, size), "RGB")
                written.add(file_name)
            images.append({"id": image_id, "file_name": file_name, "width": size, "height": size,
                           "date_captured": "2020-06-24 12:42:41.793194", "license": 1,
                           "coco_url": "", "flickr_url": ""})
            for category, box in boxes:
                box = [round(v * size / 512, 4) for v in box]  # SPLITS boxes are in 512 px space
                annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": category,
                                    "iscrowd": 0, "area": int(box[2] * box[3]), "bbox": box,
                                    "width": size, "height": size})
        coco = {"categories": CATEGORIES, "images": images, "annotations": annotations}
        (folder / f"TBX11K_{split}.json").write_text(json.dumps(coco), encoding="utf-8")
    return root


def example(root: str | Path) -> dict[str, Any]:
    """Arguments of a small :class:`~xrayvision.datasets.TBX11K_Dataset` on a fake copy written
    under ``root`` (every row, masks on where the source has them): the dataset
    registry's example, which the tests' contract battery builds."""
    root = Path(root)
    return {"imgpath": write_tbx11k(root / "TBX11K", size=128), "pathology_masks": True}
