"""A tiny NIH ChestX-ray14 copy in the official on-disk format, for tests and the demo.

Layout written under ``root``::

    images/<patient:08d>_<follow-up:03d>.png     flat folder, as the release unpacks
    Data_Entry_2017_v2020.csv[.gz]               the 2020 header (9 names for 11 fields)
    BBox_List_2017.csv[.gz]                      the quirky header (9 names for 6 fields)

Awkward cases it always contains: multi-label findings (``A|B|C``), ``No Finding``,
AP and PA views, several follow-ups per patient (with a patient whose first image is
AP), patient ids 1..n so that text order (``"10" < "2"``) differs from numeric order,
one RGBA PNG, one non-square image, boxes labelled ``Infiltrate`` (the box file's
spelling of ``Infiltration``), an image with two boxes of the same finding and one with
boxes of two findings.
"""

from __future__ import annotations

import gzip as _gzip
from pathlib import Path
from typing import Any

import numpy as np

from .images import chest_xray_like, write_png

DATA_ENTRY_HEADER = (
    "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,"
    "View Position,OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y]"
)
BBOX_HEADER = "Image Index,Finding Label,Bbox [x,y,w,h],,,"

# Finding strings cycled over the images (all spellings of the real release).
_FINDINGS = (
    "Cardiomegaly",
    "Cardiomegaly|Emphysema",
    "No Finding",
    "Effusion|Infiltration|Mass",
    "Atelectasis",
    "No Finding",
    "Nodule",
    "Pleural_Thickening|Pneumothorax",
    "Hernia",
    "Consolidation|Edema|Fibrosis|Pneumonia",
    "Infiltration",
    "No Finding",
)


def _save_png(path: Path, rng: np.random.Generator, height: int, width: int, rgba: bool) -> None:
    pixels = chest_xray_like((height, width), seed=int(rng.integers(2**31)))
    if rgba:  # a few real NIH PNGs are RGBA: gray in R, G and B, opaque alpha
        pixels = np.dstack([pixels, pixels, pixels, np.full_like(pixels, 255)])
    write_png(path, pixels)


def _write_text(path: Path, text: str, compress: bool) -> Path:
    if compress:
        path = path.with_name(path.name + ".gz")
        # mtime=0: the same bytes every run
        path.write_bytes(_gzip.compress(text.encode("utf-8"), mtime=0))
    else:
        path.write_bytes(text.encode("utf-8"))
    return path


def write_nih(
    root: str | Path,
    n_patients: int = 12,
    seed: int = 0,
    *,
    size: int = 64,
    gzip: bool = False,
) -> dict[str, Path]:
    """Write a fake NIH ChestX-ray14 release under ``root``.

    Patient ``p`` (1-based) has ``1 + p % 3`` images; the first image of every patient
    with ``p % 4 == 2`` is AP, other first images are PA, and follow-ups alternate
    AP/PA. Findings cycle through a fixed list (see the module docstring). Image
    ``00000001_000.png`` is RGBA and ``00000002_002.png`` is ``size x 3/4 size`` (non
    square); every other image is ``size x size``.

    Boxes (1024x1024 frame): ``00000001_001.png`` has Cardiomegaly and Emphysema boxes;
    the first ``Infiltration`` image gets two ``Infiltrate`` boxes; the non-square image
    gets an Atelectasis box.

    Args:
        root: folder to write into (created).
        n_patients: number of patients (at least 4, so every awkward case occurs).
        seed: seed of the pixel noise (nothing else is random).
        size: side of the square images.
        gzip: write the CSVs gzipped (``.csv.gz``), as the reference ships them.

    Returns:
        ``{"imgpath", "csvpath", "bbox_list_path"}``.
    """
    if n_patients < 4:
        raise ValueError(f"n_patients must be at least 4, got {n_patients}")
    root = Path(root)
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    lines = [DATA_ENTRY_HEADER]
    boxes = [BBOX_HEADER]
    k = 0
    infiltrate_done = False
    for patient in range(1, n_patients + 1):
        for followup in range(1 + patient % 3):
            name = f"{patient:08d}_{followup:03d}.png"
            if followup == 0:
                view = "AP" if patient % 4 == 2 else "PA"
            else:
                view = "AP" if followup % 2 else "PA"
            finding = _FINDINGS[k % len(_FINDINGS)]
            k += 1
            height, width = (size * 3 // 4, size) if name == "00000002_002.png" else (size, size)
            _save_png(images / name, rng, height, width, rgba=name == "00000001_000.png")
            sex = "M" if patient % 2 else "F"
            lines.append(
                f"{name},{finding},{followup},{patient},{30 + patient + followup},{sex},{view},"
                f"2500,2048,0.143,0.143"
            )
            if name == "00000001_001.png":
                boxes.append(f"{name},Cardiomegaly,300.5,400.25,420.0,310.75")
                boxes.append(f"{name},Emphysema,100.0,100.0,200.0,200.0")
            if name == "00000002_002.png":
                boxes.append(f"{name},Atelectasis,512.0,256.0,256.0,512.0")
            if "Infiltration" in finding.split("|") and not infiltrate_done:
                boxes.append(f"{name},Infiltrate,0.0,0.0,128.0,128.0")
                boxes.append(f"{name},Infiltrate,896.0,896.0,128.0,128.0")
                infiltrate_done = True
    csvpath = _write_text(root / "Data_Entry_2017_v2020.csv", "\n".join(lines) + "\n", gzip)
    bboxpath = _write_text(root / "BBox_List_2017.csv", "\n".join(boxes) + "\n", gzip)
    return {"imgpath": images, "csvpath": csvpath, "bbox_list_path": bboxpath}



def example(root: str | Path) -> dict[str, Any]:
    """Arguments of a small :class:`~xrayvision.datasets.NIH_Dataset` on a fake copy written
    under ``root`` (every row, masks on where the source has them): the dataset
    registry's example, which the tests' contract battery builds."""
    root = Path(root)
    paths = write_nih(root)
    return {**paths, "views": ["PA", "AP"], "unique_patients": False, "pathology_masks": True}

__all__ = ["example", "write_nih", "DATA_ENTRY_HEADER", "BBOX_HEADER"]
