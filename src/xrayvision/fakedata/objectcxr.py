"""A tiny Object-CXR copy in the challenge's on-disk format.

Layout written under ``root``::

    train.zip     members train/<image_name> (JPEG)
    train.csv     image_name,annotation   (blank, or ";"-joined "type x1 y1 x2 y2 ...")

Awkward cases: a blank annotation, a box (type 0), an ellipse (type 1), a polygon
(type 2), several objects in one image, a non-square image.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .images import chest_xray_like

# image_name -> (shape (H, W), annotation)
IMAGES = {
    "00001.jpg": ((64, 64), ""),
    "00002.jpg": ((64, 64), "0 10 20 30 40"),
    "00003.jpg": ((48, 64), "1 8 8 24 24;2 40 10 60 10 50 30"),
}


def write_objectcxr(root: str | Path, seed: int = 0) -> dict[str, Path]:
    """Write the fake Object-CXR train split under ``root``.

    Returns:
        ``{"imgzippath", "csvpath"}``.
    """
    from PIL import Image

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    zippath = root / "train.zip"
    with zipfile.ZipFile(zippath, "w") as archive:
        for name, (shape, _) in IMAGES.items():
            buffer = io.BytesIO()
            Image.fromarray(chest_xray_like(shape, seed=int(rng.integers(2**31)))).save(buffer, format="JPEG", quality=95)
            archive.writestr(f"train/{name}", buffer.getvalue())
    lines = ["image_name,annotation"] + [f"{name},{annotation}" for name, (_, annotation) in IMAGES.items()]
    csvpath = root / "train.csv"
    csvpath.write_text("\n".join(lines) + "\n")
    return {"imgzippath": zippath, "csvpath": csvpath}



def example(root: str | Path) -> dict[str, Any]:
    """Arguments of a small :class:`~xrayvision.datasets.ObjectCXR_Dataset` on a fake copy written
    under ``root`` (every row, masks on where the source has them): the dataset
    registry's example, which the tests' contract battery builds."""
    root = Path(root)
    return {**write_objectcxr(root), "pathology_masks": True}

__all__ = ["example", "write_objectcxr", "IMAGES"]
