"""Tiny Montgomery / Shenzhen TB sets in the real layout.

Layout written under ``root``::

    MontgomerySet/CXR_png/MCUCXR_<nnnn>_<label>.png       8-bit gray PNGs
    MontgomerySet/ClinicalReadings/MCUCXR_<nnnn>_<label>.txt
    ChinaSet_AllFiles/CXR_png/CHNCXR_<nnnn>_<label>.png   (RGB PNGs, as some of Shenzhen's)
    ChinaSet_AllFiles/CXR_png/Thumbs.db                   (a Windows leftover of the release)

Awkward cases: names listed out of order on disk, a non-PNG file, a PNG without the
label suffix (``MCUCXR_9999.png``), non-square images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ._pixels import radiograph, write_image

MONTGOMERY = {"MCUCXR_0001_0.png": 0, "MCUCXR_0104_1.png": 1, "MCUCXR_0005_0.png": 0, "MCUCXR_0141_1.png": 1}
SHENZHEN = {"CHNCXR_0001_0.png": 0, "CHNCXR_0002_0.png": 0, "CHNCXR_0327_1.png": 1}


def write_nlmtb(root: str | Path, *, seed: int = 0) -> dict[str, Path]:
    """Write both sets under ``root``; returns ``{"montgomery", "shenzhen"}`` (the imgpaths)."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    montgomery, shenzhen = root / "MontgomerySet", root / "ChinaSet_AllFiles"
    for name in MONTGOMERY:
        write_image(montgomery / "CXR_png" / name, radiograph(rng, 80, 64))
        readings = montgomery / "ClinicalReadings" / name.replace(".png", ".txt")
        readings.parent.mkdir(parents=True, exist_ok=True)
        readings.write_text("Patient's Sex: F\nPatient's Age: 040Y\nnormal\n")
    write_image(montgomery / "CXR_png" / "MCUCXR_9999.png", radiograph(rng, 64, 64))
    for name in SHENZHEN:
        write_image(shenzhen / "CXR_png" / name, radiograph(rng, 64, 72), "RGB")
    (shenzhen / "CXR_png" / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0 not an image")
    return {"montgomery": montgomery, "shenzhen": shenzhen}


def example(root: str | Path) -> dict[str, Any]:
    """Arguments of a small :class:`~xrayvision.datasets.NLMTB_Dataset` on a fake copy written
    under ``root`` (every row, masks on where the source has them): the dataset
    registry's example, which the tests' contract battery builds."""
    root = Path(root)
    return {"imgpath": write_nlmtb(root)["shenzhen"]}
