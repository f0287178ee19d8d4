"""A tiny CheXlocalize copy: ``CheXpert/val/...`` JPEGs, ``val_labels.csv`` and both JSON files.

Awkward cases: non-square images, a lateral image, an image without annotations, polygons
(``gt_annotations_val.json``) and the COCO RLE masks made from them
(``gt_segmentations_val.json``, empty masks included), CSV paths starting ``CheXpert-v1.0/valid/``
while the folder is ``val/``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .chexpert import HEADER
from .images import chest_xray_like, write_jpeg

SIZE = (30, 50)  # (H, W): not square
# (patient, view, AP/PA, label cells from No Finding on, {json finding: polygons})
IMAGES = (
    ("64541", "view1_frontal", "AP", "0.0,1.0,1.0,1.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0",
     {"Cardiomegaly": [[[10, 5], [40, 5], [40, 20], [10, 20]]], "Airspace Opacity": [[[2, 2], [8, 2], [5, 9]], [[30, 22], [45, 22], [45, 28]]]}),
    ("64542", "view1_frontal", "PA", "0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,1.0",
     {"Support Devices": [[[20, 0], [24, 0], [24, 29], [20, 29]]]}),
    ("64542", "view2_lateral", "", "0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,1.0", None),
    ("64543", "view1_frontal", "PA", "1.0,,,,,,,,,,,,,", {}),
)
SEGMENTED = ("Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Lesion", "Airspace Opacity", "Edema",
             "Consolidation", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Support Devices")  # fmt: skip


def encode_rle(mask: np.ndarray) -> dict:
    """COCO compressed RLE of a bool ``(h, w)`` mask (column-major runs, delta-coded)."""
    flat = np.asarray(mask, dtype=bool).T.ravel()
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    runs = list(np.diff(bounds))
    if flat.size and flat[0]:
        runs = [0, *runs]
    chars = []
    for i, value in enumerate(int(r) for r in runs):
        if i > 2:
            value -= int(runs[i - 2])
        more = True
        while more:
            c = value & 0x1F
            value >>= 5
            more = not ((value == 0 and not c & 0x10) or (value == -1 and c & 0x10))
            chars.append(chr(48 + (c | 0x20 if more else c)))
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": "".join(chars)}


def write_chexlocalize(root: str | Path, *, rasterise=None) -> dict[str, Path]:
    """Write the copy under ``root``; ``rasterise(polygons, (H, W))`` makes the RLE masks
    (default: :func:`xrayvision.datasets._polygons.polygon_mask`)."""
    if rasterise is None:
        from ..datasets._polygons import polygon_mask as rasterise
    root = Path(root)
    imgpath = root / "CheXpert"
    lines, annotations, segmentations = [HEADER], {}, {}
    for i, (patient, view, appa, cells, polygons) in enumerate(IMAGES):
        relative = f"patient{patient}/study1/{view}.jpg"
        frontal = "Lateral" if "lateral" in view else "Frontal"
        lines.append(f"CheXpert-v1.0/valid/{relative},Male,70,{frontal},{appa},{cells}")
        target = imgpath / "val" / relative
        write_jpeg(target, chest_xray_like(SIZE, seed=i))
        if polygons is None:
            continue
        key = relative[:-4].replace("/", "_")
        annotations[key] = {"img_size": list(SIZE), **polygons}
        segmentations[key] = {
            name: encode_rle(rasterise(polygons[name], SIZE) if name in polygons else np.zeros(SIZE, bool))
            for name in SEGMENTED
        }
    csvpath = imgpath / "val_labels.csv"
    csvpath.write_text("\n".join(lines) + "\n")
    (root / "CheXlocalize").mkdir(parents=True, exist_ok=True)
    seg = root / "CheXlocalize" / "gt_segmentations_val.json"
    ann = root / "CheXlocalize" / "gt_annotations_val.json"
    seg.write_text(json.dumps(segmentations))
    ann.write_text(json.dumps(annotations))
    return {"imgpath": imgpath, "csvpath": csvpath, "segmentations": seg, "annotations": ann}


def example(root: str | Path) -> dict[str, Any]:
    """Arguments of a small :class:`~xrayvision.datasets.CheXlocalize_Dataset` on a fake copy written
    under ``root`` (every row, masks on where the source has them): the dataset
    registry's example, which the tests' contract battery builds."""
    root = Path(root)
    paths = write_chexlocalize(root)
    return {"imgpath": paths["imgpath"], "csvpath": paths["csvpath"], "segmentation_jsonpath": paths["segmentations"]}
