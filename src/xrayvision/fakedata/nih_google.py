"""A tiny copy of Google's four-findings NIH relabels, in the official file format.

Layout written under ``root``::

    images/<Image Index>                 NIH-style PNGs
    test_labels.csv, validation_labels.csv   CRLF line ends, no final newline (as released)

Awkward cases: a patient in both files, AP and PA views, a patient whose first image is
AP, every finding YES somewhere and an all-NO row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .images import chest_xray_like, write_png

HEADER = (
    "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
    "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],Fracture,Pneumothorax,"
    "Airspace opacity,Nodule or mass,Set Id"
)
# (image index, view, Fracture, Pneumothorax, Airspace opacity, Nodule or mass, set)
ROWS = (
    ("00000013_008.png", "AP", "NO", "NO", "YES", "NO", "test"),
    ("00000013_026.png", "PA", "NO", "YES", "NO", "NO", "test"),
    ("00000009_000.png", "PA", "YES", "NO", "NO", "YES", "test"),
    ("00000009_001.png", "PA", "NO", "NO", "NO", "NO", "val"),
    ("00000100_000.png", "AP", "NO", "NO", "YES", "YES", "val"),
)


def write_nih_google(root: str | Path, seed: int = 0, *, size: int = 48) -> dict[str, Path]:
    """Write the fake relabels and their images under ``root``.

    Returns:
        ``{"imgpath", "test_csvpath", "val_csvpath"}``.
    """
    root = Path(root)
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    files = {"test": [HEADER], "val": [HEADER]}
    for name, view, fracture, ptx, opacity, nodule, split in ROWS:
        write_png(images / name, chest_xray_like((size, size), seed=int(rng.integers(2**31))))
        patient, followup = int(name[:8]), int(name[9:12])
        files[split].append(
            f"{name},No Finding,{followup},{patient},50,M,{view},2500,2048,0.143,0.143,"
            f"{fracture},{ptx},{opacity},{nodule},{split}"
        )
    out = {"imgpath": images}
    for split, filename in (("test", "test_labels.csv"), ("val", "validation_labels.csv")):
        path = root / filename
        path.write_bytes("\r\n".join(files[split]).encode("utf-8"))  # CRLF, no final newline
        out[f"{split}_csvpath"] = path
    return out



def example(root: str | Path) -> dict[str, Any]:
    """Arguments of a small :class:`~xrayvision.datasets.NIH_Google_Dataset` on a fake copy written
    under ``root`` (every row, masks on where the source has them): the dataset
    registry's example, which the tests' contract battery builds."""
    root = Path(root)
    paths = write_nih_google(root)
    return {"imgpath": paths["imgpath"], "csvpath": [paths["test_csvpath"], paths["val_csvpath"]], "views": "*",
            "unique_patients": False}  # fmt: skip

__all__ = ["example", "write_nih_google", "ROWS", "HEADER"]
