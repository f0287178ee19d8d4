"""A tiny VinDr-CXR copy in the Kaggle on-disk format.

Layout written under ``root``::

    train/<image_id>.dicom     16-bit MONOCHROME1 and 8-bit MONOCHROME2 DICOMs
    train.csv                  image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max

Awkward cases: three radiologists per image, ``No finding`` rows with blank boxes,
two radiologists boxing the same finding (OR-ed), the synonyms ``Pleural effusion`` and
``Pleural thickening``, ``Other lesion`` in lower case, a non-square image, image ids
not in sorted order in the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .images import chest_xray_like, write_dicom

HEADER = "image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max"
CLASS_IDS = {
    "Aortic enlargement": 0, "Atelectasis": 1, "Calcification": 2, "Cardiomegaly": 3, "Consolidation": 4,
    "ILD": 5, "Infiltration": 6, "Lung Opacity": 7, "Nodule/Mass": 8, "Other lesion": 9,
    "Pleural effusion": 10, "Pleural thickening": 11, "Pneumothorax": 12, "Pulmonary fibrosis": 13,
    "No finding": 14,
}
# image_id -> (shape, photometric, bits, rows of (class_name, rad_id, box or None))
IMAGES = {
    "ffff0000000000000000000000000001": ((64, 48), "MONOCHROME1", 12, (
        ("Cardiomegaly", "R1", (10.0, 30.0, 40.5, 50.9)),
        ("Cardiomegaly", "R2", (12.0, 28.0, 42.0, 52.0)),
        ("Pleural effusion", "R3", (0.0, 40.0, 10.0, 64.0)),
    )),
    "0000aaaa000000000000000000000002": ((64, 64), "MONOCHROME2", 8, (
        ("No finding", "R1", None), ("No finding", "R2", None), ("No finding", "R3", None),
    )),
    "8888bbbb000000000000000000000003": ((64, 64), "MONOCHROME2", 16, (
        ("Other lesion", "R4", (5.0, 5.0, 15.0, 15.0)),
        ("Pleural thickening", "R5", (50.0, 0.0, 64.0, 10.0)),
        ("Aortic enlargement", "R6", (30.0, 20.0, 38.0, 30.0)),
    )),
}


def write_vindr(root: str | Path, seed: int = 0) -> dict[str, Path]:
    """Write a fake VinDr-CXR (Kaggle) release under ``root`` (images: :data:`IMAGES`).

    Returns:
        ``{"imgpath", "csvpath"}``.
    """
    root = Path(root)
    images = root / "train"
    images.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    lines = [HEADER]
    for image_id, (shape, photometric, bits, rows) in IMAGES.items():
        dtype = np.uint8 if bits <= 8 else np.uint16
        pixels = chest_xray_like(shape, seed=int(rng.integers(2**31)), dtype=dtype)
        if bits not in (8, 16):
            pixels = (pixels >> (16 - bits)).astype(np.uint16)
        write_dicom(images / f"{image_id}.dicom", pixels, bits_stored=bits, photometric=photometric,
                    patient_id=image_id, view_position=None)
        for class_name, rad_id, box in rows:
            coords = ",".join(str(v) for v in box) if box else ",,,"
            lines.append(f"{image_id},{class_name},{CLASS_IDS[class_name]},{rad_id},{coords}")
    csvpath = root / "train.csv"
    csvpath.write_text("\n".join(lines) + "\n")
    return {"imgpath": images, "csvpath": csvpath}



def example(root: str | Path) -> dict[str, Any]:
    """Arguments of a small :class:`~xrayvision.datasets.VinDr_Dataset` on a fake copy written
    under ``root`` (every row, masks on where the source has them): the dataset
    registry's example, which the tests' contract battery builds."""
    root = Path(root)
    return {**write_vindr(root), "pathology_masks": True}

__all__ = ["example", "write_vindr", "IMAGES", "HEADER"]
