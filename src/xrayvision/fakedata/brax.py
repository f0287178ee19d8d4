"""A tiny BRAX 1.1.0 copy: ``master_spreadsheet_update.csv`` and the ``images/`` PNG tree.

Awkward cases: several images per patient (not in patient order), a blank ``ViewPosition``,
a thin strip image (aspect ratio above 10), the ``85 or more`` age group, uncertain and
blank labels, ``No Finding`` with Support Devices.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .images import chest_xray_like, write_png

HEADER = (
    "DicomPath,PngPath,PatientID,AccessionNumber,ViewPosition,Rows,Columns,PatientSex,PatientAge,"
    "No Finding,Enlarged Cardiomediastinum,Cardiomegaly,Lung Opacity,Lung Lesion,Edema,"
    "Consolidation,Pneumonia,Atelectasis,Pneumothorax,Pleural Effusion,Pleural Other,Fracture,"
    "Support Devices"
)
# (patient, accession, view, rows, columns, sex, age, 14 label cells)
ROWS = (
    ("9", "a1", "PA", 40, 36, "M", "85 or more", "1.0,,,,,,,,,,,,,1.0"),
    ("2", "a2", "PA", 40, 36, "F", "40", ",,1.0,-1.0,,,,,,,1.0,,,"),
    ("2", "a3", "L", 40, 36, "F", "40", ",,1.0,,,,,,,,,,,"),
    ("9", "a4", "", 40, 36, "M", "85 or more", ",,,,,,,,,1.0,,,,"),
    ("5", "a5", "PA", 4, 48, "M", "20", ",,,,,,,,,,,,,"),  # thin strip
    ("5", "a6", "PA", 40, 36, "M", "20", ",0.0,0.0,,,,,,,,,,,"),
)


def write_brax(root: str | Path, *, images: bool = True) -> dict[str, Path]:
    """Write ``root/images/...`` and ``root/master_spreadsheet_update.csv``."""
    root = Path(root)
    lines = [HEADER]
    for i, (patient, accession, view, rows, cols, sex, age, cells) in enumerate(ROWS):
        png = f"images/id_{patient}/Study_{accession}/Series_1/image-{i}.png"
        lines.append(f"{png.replace('.png', '.dcm')},{png},{patient},{accession},{view},{rows},{cols},{sex},{age},{cells}")
        if images:
            target = root / png
            write_png(target, chest_xray_like((rows, cols), seed=i))
    csvpath = root / "master_spreadsheet_update.csv"
    csvpath.write_text("\n".join(lines) + "\n")
    return {"imgpath": root / "images", "csvpath": csvpath}


def example(root: str | Path) -> dict[str, Any]:
    """Arguments of a small :class:`~xrayvision.datasets.BRAX_Dataset` on a fake copy written
    under ``root`` (every row, masks on where the source has them): the dataset
    registry's example, which the tests' contract battery builds."""
    root = Path(root)
    return write_brax(root)
