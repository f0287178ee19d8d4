"""A tiny CheXpert copy in the official format (``CheXpert-v1.0-small/{train,valid}.csv`` + JPEGs).

Awkward cases: several studies and views per patient (duplicate patients), laterals, a
frontal image with a blank ``AP/PA``, the rare ``LL`` view, uncertain (-1) and blank labels,
``No Finding`` = 1 together with Support Devices = 1, an age of 0, non-square images, rows
not sorted by patient.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .images import chest_xray_like, write_jpeg

HEADER = (
    "Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Enlarged Cardiomediastinum,Cardiomegaly,"
    "Lung Opacity,Lung Lesion,Edema,Consolidation,Pneumonia,Atelectasis,Pneumothorax,"
    "Pleural Effusion,Pleural Other,Fracture,Support Devices"
)
# (patient, study, view file, sex, age, Frontal/Lateral, AP/PA, 14 label cells from No Finding on)
ROWS = (
    ("00003", 1, "view1_frontal", "Male", 50, "Frontal", "PA", "1.0,,,,,,,,,0.0,,,,1.0"),
    ("00001", 1, "view1_frontal", "Female", 68, "Frontal", "AP", "1.0,,,,,,,,,0.0,,,,1.0"),
    ("00001", 1, "view2_lateral", "Female", 68, "Lateral", "", "1.0,,,,,,,,,0.0,,,,1.0"),
    ("00002", 2, "view1_frontal", "Female", 87, "Frontal", "AP", ",,-1.0,1.0,,-1.0,-1.0,,-1.0,,-1.0,,1.0,"),
    ("00002", 1, "view1_frontal", "Female", 83, "Frontal", "PA", ",,,1.0,,,,,,,,,1.0,"),
    ("00004", 1, "view1_frontal", "Male", 0, "Frontal", "PA", ",0.0,1.0,,,0.0,,,1.0,0.0,1.0,,,"),
    ("00004", 1, "view2_frontal", "Male", 0, "Frontal", "", ",,,1.0,,,,,,,,,,"),
    ("00005", 1, "view1_frontal", "Unknown", 33, "Frontal", "LL", ",,,,,,,,,,,,,-1.0"),
    ("00005", 2, "view1_frontal", "Unknown", 33, "Frontal", "PA", ",1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0"),
)


def write_chexpert(root: str | Path, *, split: str = "train", size: tuple[int, int] = (40, 48), images: bool = True) -> dict[str, Path]:
    """Write ``root/CheXpert-v1.0-small/<split>.csv`` and its JPEGs; return paths.

    Returns:
        ``{"imgpath": release folder, "csvpath": the CSV}``.
    """
    release = Path(root) / "CheXpert-v1.0-small"
    release.mkdir(parents=True, exist_ok=True)
    lines = [HEADER]
    for i, (patient, study, view, sex, age, fl, appa, cells) in enumerate(ROWS):
        relative = f"{split}/patient{patient}/study{study}/{view}.jpg"
        lines.append(f"CheXpert-v1.0-small/{relative},{sex},{age},{fl},{appa},{cells}")
        if images:
            target = release / relative
            write_jpeg(target, chest_xray_like(size, seed=i))
    csvpath = release / f"{split}.csv"
    csvpath.write_text("\n".join(lines) + "\n")
    return {"imgpath": release, "csvpath": csvpath}


def label_cells(row: tuple) -> list[float]:
    """The 14 label cells (No Finding first) of a :data:`ROWS` entry, blanks as NaN."""
    return [float(c) if c else np.nan for c in row[7].split(",")]


def example(root: str | Path) -> dict[str, Any]:
    """Arguments of a small :class:`~xrayvision.datasets.CheX_Dataset` on a fake copy written
    under ``root`` (every row, masks on where the source has them): the dataset
    registry's example, which the tests' contract battery builds."""
    root = Path(root)
    return {**write_chexpert(root), "views": "*", "unique_patients": False}
