"""A tiny MIMIC-CXR-JPG 2.0.0 copy: the chexpert and metadata CSVs (gzip) and the files/ tree.

Awkward cases: several images per study and studies per patient, a lateral and a blank
``ViewPosition``, uncertain and blank labels, ``No Finding`` with Support Devices, a labelled
study without images.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

from .images import chest_xray_like, write_jpeg

LABEL_HEADER = (
    "subject_id,study_id,Atelectasis,Cardiomegaly,Consolidation,Edema,Enlarged Cardiomediastinum,"
    "Fracture,Lung Lesion,Lung Opacity,No Finding,Pleural Effusion,Pleural Other,Pneumonia,"
    "Pneumothorax,Support Devices"
)
LABEL_ROWS = (
    "10000032,50414267,,,,,,,,,1.0,,,,,1.0",
    "10000032,53189527,1.0,-1.0,,0.0,,,,1.0,,1.0,,,,",
    "10000898,50771383,,,,,,,,,,,,-1.0,,",
    "11000011,51111111,,1.0,,,,,,,,,,,,",  # no image in the metadata
)
META_HEADER = (
    "dicom_id,subject_id,study_id,PerformedProcedureStepDescription,ViewPosition,Rows,Columns,"
    "StudyDate,StudyTime,ProcedureCodeSequence_CodeMeaning,ViewCodeSequence_CodeMeaning,"
    "PatientOrientationCodeSequence_CodeMeaning"
)
META_ROWS = (
    "02aa804e-bde0afdd-112c0b34-7bc16630-4e384014,10000032,50414267,CHEST (PA AND LAT),PA,40,36,21800506,213014.531,CHEST (PA AND LAT),postero-anterior,Erect",
    "174413ec-4ec4c1f7-34ea26b7-c5f994f8-79ef1962,10000032,50414267,CHEST (PA AND LAT),LATERAL,40,36,21800506,213014.531,CHEST (PA AND LAT),lateral,Erect",
    "2a2277a9-b0ded155-c0de8eb9-c124d10e-82c5caab,10000032,53189527,CHEST (PORTABLE AP),AP,40,36,21800626,165500.312,CHEST (PORTABLE AP),antero-posterior,",
    "68b5c4b1-227d0485-9cc38c3f-7b84ab51-4b472714,10000898,50771383,CHEST (PA AND LAT),PA,40,36,21321231,141216.265,CHEST (PA AND LAT),postero-anterior,Erect",
    "fffabebf-74fd3a1f-673b6b41-96ec0ac9-2ab69818,10000898,50771383,CHEST (PA AND LAT),,40,36,21321231,141216.265,CHEST (PA AND LAT),,",
)


def write_mimic(root: str | Path, *, images: bool = True) -> dict[str, Path]:
    """Write ``root/files/...``, ``root/mimic-cxr-2.0.0-{chexpert,metadata}.csv.gz``."""
    root = Path(root)
    files = root / "files"
    csvpath = root / "mimic-cxr-2.0.0-chexpert.csv.gz"
    metacsvpath = root / "mimic-cxr-2.0.0-metadata.csv.gz"
    with gzip.open(csvpath, "wt") as handle:
        handle.write("\n".join((LABEL_HEADER, *LABEL_ROWS)) + "\n")
    with gzip.open(metacsvpath, "wt") as handle:
        handle.write("\n".join((META_HEADER, *META_ROWS)) + "\n")
    if images:
        for i, row in enumerate(META_ROWS):
            dicom, subject, study = row.split(",")[:3]
            target = files / f"p{subject[:2]}" / f"p{subject}" / f"s{study}" / f"{dicom}.jpg"
            write_jpeg(target, chest_xray_like((40, 36), seed=i))
    return {"imgpath": files, "csvpath": csvpath, "metacsvpath": metacsvpath}


def example(root: str | Path) -> dict[str, Any]:
    """Arguments of a small :class:`~xrayvision.datasets.MIMIC_Dataset` on a fake copy written
    under ``root`` (every row, masks on where the source has them): the dataset
    registry's example, which the tests' contract battery builds."""
    root = Path(root)
    return write_mimic(root)
