"""A tiny RSNA Pneumonia (Kaggle stage 2) copy in the official on-disk format.

Layout written under ``root``::

    stage_2_train_images/<patientId>.dcm (or .jpg)      flat folder
    stage_2_train_labels.csv  or  kaggle_stage_2_train_labels.csv.zip (one member)
    kaggle_stage_2_train_images_dicom_headers.csv       unnamed index column first

Awkward cases: patients with 1, 2 and 3 boxes (several rows each), negatives (blank
box fields), PA and AP views, label rows not in patientId order, a patient whose header
row is missing (its view is unknown), a non-square image.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .images import chest_xray_like, write_dicom, write_jpeg

LABELS_HEADER = "patientId,x,y,width,height,Target"
HEADER_COLUMNS = (
    "BodyPartExamined,ConversionType,Filename,InstanceNumber,Modality,PatientAge,PatientID,"
    "PatientOrientation,PatientSex,PixelSpacing,SamplesPerPixel,SeriesNumber,ViewPosition"
)

# (patient id, view, boxes in the 1024 frame as (x, y, w, h)); file order is not sorted.
PATIENTS: tuple[tuple[str, str, tuple[tuple[float, float, float, float], ...]], ...] = (
    ("c0000000-0000-4000-8000-000000000003", "PA", ((264.0, 152.0, 213.0, 379.0), (562.0, 152.0, 256.0, 453.0))),
    ("a0000000-0000-4000-8000-000000000001", "PA", ()),
    ("b0000000-0000-4000-8000-000000000002", "AP", ((316.0, 318.0, 170.0, 478.0),)),
    ("d0000000-0000-4000-8000-000000000004", "AP", ()),
    ("e0000000-0000-4000-8000-000000000005", "PA", ((0.0, 0.0, 64.0, 64.0), (512.0, 512.0, 64.0, 64.0), (960.0, 0.0, 64.0, 128.0))),
    ("f0000000-0000-4000-8000-000000000006", "PA", ()),
)
#: A patient with label rows but no header row.
NO_HEADER = "a0000000-0000-4000-8000-000000000001"
#: The patient whose image is not square (``size`` high, ``size * 3/4`` wide).
NON_SQUARE = "e0000000-0000-4000-8000-000000000005"


def write_rsna(
    root: str | Path, seed: int = 0, *, extension: str = ".dcm", size: int = 64, zip_labels: bool = False,
    patients: Sequence[tuple[str, str, tuple[tuple[float, float, float, float], ...]]] = PATIENTS,
) -> dict[str, Path]:
    """Write a fake RSNA Pneumonia release under ``root`` (patients: :data:`PATIENTS`).

    Args:
        root: folder to write into (created).
        seed: seed of the synthetic pixels.
        extension: ``".dcm"`` (8-bit MONOCHROME2 JPEG-baseline DICOM, as Kaggle ships) or ``".jpg"``.
        size: image side.
        zip_labels: write the label CSV as the reference ships it (a one-member zip).
        patients: ``(patientId, view, boxes)`` rows, boxes ``(x, y, w, h)`` in the 1024 frame
            (default :data:`PATIENTS`; pass more for larger studies).

    Returns:
        ``{"imgpath", "csvpath", "dicomcsvpath"}``.
    """
    root = Path(root)
    images = root / "stage_2_train_images"
    images.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    label_lines = [LABELS_HEADER]
    header_lines = ["," + HEADER_COLUMNS]
    for i, (pid, view, boxes) in enumerate(patients):
        shape = (size, size * 3 // 4) if pid == NON_SQUARE else (size, size)
        pixels = chest_xray_like(shape, seed=int(rng.integers(2**31)))
        if extension == ".dcm":
            write_dicom(images / f"{pid}.dcm", pixels, view_position=view, patient_id=pid,
                        transfer_syntax="jpeg_baseline")
        elif extension == ".jpg":
            write_jpeg(images / f"{pid}.jpg", pixels)
        else:
            raise ValueError(f"extension must be '.dcm' or '.jpg', got {extension!r}")
        if boxes:
            label_lines += [f"{pid},{x},{y},{w},{h},1" for x, y, w, h in boxes]
        else:
            label_lines.append(f"{pid},,,,,0")
        if pid != NO_HEADER:
            sex = "M" if i % 2 else "F"
            header_lines.append(f"{i},CHEST,WSD,{pid}.dcm,1.0,CR,{40 + i},{pid},,{sex},0.168,1.0,1.0,{view}")
    labels_text = "\n".join(label_lines) + "\n"
    if zip_labels:
        csvpath = root / "kaggle_stage_2_train_labels.csv.zip"
        with zipfile.ZipFile(csvpath, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("stage_2_train_labels.csv", labels_text)
    else:
        csvpath = root / "stage_2_train_labels.csv"
        csvpath.write_text(labels_text)
    headers = root / "kaggle_stage_2_train_images_dicom_headers.csv"
    headers.write_text("\n".join(header_lines) + "\n")
    return {"imgpath": images, "csvpath": csvpath, "dicomcsvpath": headers}



def example(root: str | Path) -> dict[str, Any]:
    """Arguments of a small :class:`~xrayvision.datasets.RSNA_Pneumonia_Dataset` on a fake copy written
    under ``root`` (every row, masks on where the source has them): the dataset
    registry's example, which the tests' contract battery builds."""
    root = Path(root)
    return {**write_rsna(root, zip_labels=True), "extension": ".dcm", "views": "*", "pathology_masks": True}

__all__ = ["example", "write_rsna", "PATIENTS", "NO_HEADER", "NON_SQUARE"]
