"""A tiny PadChest copy: the official 36-column CSV (gzip) and 16-bit PNGs in one flat folder.

Awkward cases: several images per patient, every projection (incl. ``AP_horizontal``),
findings matched only through synonyms or substrings (``pericardial effusion``,
``NSG tube``, ``double J stent``, ``tuberculosis`` vs ``tube``), list items with leading
spaces, a missing ``Labels``, one of the reference's known-bad image names, a missing birth
year, a child born after 2008, a patient whose first image is ineligible.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .images import chest_xray_like, write_png

COLUMNS = (
    "Unnamed: 0,ImageID,ImageDir,StudyDate_DICOM,StudyID,PatientID,PatientBirth,PatientSex_DICOM,"
    "ViewPosition_DICOM,Projection,MethodProjection,Pediatric,Modality_DICOM,Manufacturer_DICOM,"
    "PhotometricInterpretation_DICOM,PixelRepresentation_DICOM,PixelAspectRatio_DICOM,"
    "SpatialResolution_DICOM,BitsStored_DICOM,WindowCenter_DICOM,WindowWidth_DICOM,Rows_DICOM,"
    "Columns_DICOM,XRayTubeCurrent_DICOM,Exposure_DICOM,ExposureInuAs_DICOM,ExposureTime,"
    "RelativeXRayExposure_DICOM,ReportID,Report,MethodLabel,Labels,Localizations,"
    "LabelsLocalizationsBySentence,labelCUIS,LocalizationsCUIS"
).split(",")
BAD_IMAGE = "216840111366964012819207061112010307142602253_04-014-084.png"
# (ImageID, PatientID, Projection, StudyDate_DICOM, PatientBirth, sex, Labels or None)
ROWS = (
    ("img05_a.png", "pat2", "PA", 20140915, 1930.0, "F", "['normal']"),
    ("img01_b.png", "pat1", "PA", 20090101, 1950.0, "M", "['pleural effusion', ' laminar atelectasis']"),
    ("img02_c.png", "pat1", "L", 20090101, 1950.0, "M", "['pleural effusion', ' laminar atelectasis']"),
    ("img03_d.png", "pat3", "AP_horizontal", 20161231, 1940.0, "F", "['NSG tube', 'pericardial effusion']"),
    ("img04_e.png", "pat4", "PA", 20120229, 1960.0, "M", "['tuberculosis', 'double J stent', 'pacemaker']"),
    ("img06_f.png", "pat5", "PA", 20100505, 1970.0, "F", None),
    ("img07_g.png", "pat5", "PA", 20100506, 1970.0, "F", "['hydropneumothorax', 'calcified granuloma', 'air bronchogram']"),
    (BAD_IMAGE, "pat6", "PA", 20110101, 1955.0, "M", "['cardiomegaly']"),
    ("img08_h.png", "pat6", "PA", 20110102, 1955.0, "M", "['subcutaneous emphysema', 'adenopathy']"),
    ("img09_i.png", "pat7", "PA", 20130303, None, "M", "['scoliosis']"),
    ("img10_j.png", "pat8", "PA", 20150101, 2012.0, "F", "['normal']"),
    ("img11_k.png", "pat9", "AP", 20150101, 1980.0, "F", "['chest drain tube', 'interstitial pattern']"),
    ("img12_l.png", "pat9", "COSTAL", 20150101, 1980.0, "F", "['rib fracture']"),
)


def write_padchest(
    root: str | Path, *, size: tuple[int, int] = (36, 44), images: bool = True, rows: Sequence[tuple] = ROWS
) -> dict[str, Path]:
    """Write ``root/images/*.png`` and ``root/padchest.csv.gz``; return ``{"imgpath", "csvpath"}``.

    ``rows`` are ``(ImageID, PatientID, Projection, StudyDate_DICOM, PatientBirth, sex,
    Labels or None)`` tuples (default :data:`ROWS`; pass more for larger studies).
    """
    root = Path(root)
    imgpath = root / "images"
    imgpath.mkdir(parents=True, exist_ok=True)
    csvpath = root / "PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv.gz"
    with gzip.open(csvpath, "wt", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for i, (image, patient, projection, date, birth, sex, labels) in enumerate(rows):
            row = dict.fromkeys(COLUMNS, "")
            row.update({
                "Unnamed: 0": i, "ImageID": image, "ImageDir": i % 3, "StudyDate_DICOM": date,
                "StudyID": f"study{i}", "PatientID": patient, "PatientBirth": "" if birth is None else birth,
                "PatientSex_DICOM": sex, "Projection": projection, "Modality_DICOM": "CR",
                "Labels": "" if labels is None else labels, "Report": "informe", "MethodLabel": "Physician",
            })  # fmt: skip
            writer.writerow([row[c] for c in COLUMNS])
            if images and image != BAD_IMAGE:
                write_png(imgpath / image, chest_xray_like(size, seed=i, dtype=np.uint16))
    return {"imgpath": imgpath, "csvpath": csvpath}


def example(root: str | Path) -> dict[str, Any]:
    """Arguments of a small :class:`~xrayvision.datasets.PC_Dataset` on a fake copy written
    under ``root`` (every row, masks on where the source has them): the dataset
    registry's example, which the tests' contract battery builds."""
    root = Path(root)
    return {**write_padchest(root), "views": "*", "unique_patients": False}
