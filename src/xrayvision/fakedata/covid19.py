"""A tiny COVID-19 Image Data Collection clone in the real on-disk format.

Layout written under ``root``::

    images/<filename>                        jpg / jpeg / png / PNG, gray, RGB and RGBA
    metadata.csv                             the June-2020 header (29 names, trailing comma)
                                             or, with schema="2021", the hierarchical one
    semantic_masks_v7labs_lungs.zip          members semantic_masks_v7labs_lungs/<filename>

Awkward cases always present: a combined finding (``COVID-19, ARDS``), a finding with a
regex metacharacter (``E.Coli``), a multi-word finding containing other labels
(``Mycoplasma Bacterial Pneumonia``), ``todo`` and ``Unknown`` findings, a blank
finding, views ``?`` and blank, CT rows (Axial, Coronal) including one pointing to a CT
volume that is not in ``images/``, an offset ``?``, a quoted location with commas, an
upper-case extension, an RGBA PNG; masks: a clean 0/255 PNG, a JPEG mask (values
between 0 and 255 from compression), an all-zero mask and one at another size than its
image.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ._pixels import encode, radiograph, write_image

HEADER_2020 = (
    "patientid,offset,sex,age,finding,survival,intubated,intubation_present,went_icu,in_icu,"
    "needed_supplemental_O2,extubated,temperature,pO2_saturation,leukocyte_count,"
    "neutrophil_count,lymphocyte_count,view,modality,date,location,folder,filename,doi,url,"
    "license,clinical_notes,other_notes,"
).split(",")
HEADER_2021 = HEADER_2020[:5] + ["RT_PCR_positive"] + HEADER_2020[5:]
MASK_FOLDER = "semantic_masks_v7labs_lungs"

# (patientid, offset, finding 2020, finding 2021, view, modality, folder, filename, image mode, size)
ROWS = (
    ("2", "0", "COVID-19", "Pneumonia/Viral/COVID-19", "PA", "X-ray", "images", "p2-day0.jpg", "RGB", (80, 96)),
    ("2", "3", "COVID-19, ARDS", "Pneumonia/Viral/COVID-19", "AP", "X-ray", "images", "p2-day3.png", "L", (72, 72)),
    ("3", "", "SARS", "Pneumonia/Viral/SARS", "PA", "X-ray", "images", "sars-1.jpeg", "L", (64, 80)),
    ("4", "?", "No Finding", "No Finding", "AP", "X-ray", "images", "normal-4.PNG", "RGBA", (90, 70)),
    ("5", "7", "Mycoplasma Bacterial Pneumonia", "Pneumonia/Bacterial/Mycoplasma", "PA", "X-ray",
     "images", "myco-5.jpg", "L", (64, 64)),
    ("6", "1", "E.Coli", "Pneumonia/Bacterial/E.Coli", "AP Supine", "X-ray", "images", "ecoli-6.jpg", "L",
     (64, 64)),
    ("7", "2", "Streptococcus", "Pneumonia/Bacterial/Streptococcus", "L", "X-ray", "images", "strep-7-L.jpg",
     "L", (64, 64)),
    ("8", "0", "todo", "todo", "?", "X-ray", "images", "todo-8.jpeg", "L", (64, 64)),
    ("9", "0", "todo", "Unknown", "", "X-ray", "images", "todo-9.jpg", "L", (64, 64)),
    ("10", "5", "COVID-19", "Pneumonia/Viral/COVID-19", "Axial", "CT", "images", "ct-10.png", "L", (64, 64)),
    ("11", "5", "COVID-19", "Pneumonia/Viral/COVID-19", "Coronal", "CT", "volumes", "ct-11.nii.gz", None, None),
    ("12", "-3", "", "", "PA", "X-ray", "images", "blank-12.jpg", "L", (64, 64)),
    ("13", "9", "Unknown", "Unknown", "PA", "X-ray", "images", "unknown-13.jpg", "L", (64, 64)),
)
#: filename -> kind of mask written for it ("png", "jpeg", "empty", "small").
MASKS = {"p2-day0.jpg": "jpeg", "p2-day3.png": "png", "sars-1.jpeg": "empty", "normal-4.PNG": "small"}


def _lung_mask(height: int, width: int) -> np.ndarray:
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[height // 5 : height * 4 // 5, width // 8 : width * 3 // 8] = 255
    mask[height // 5 : height * 4 // 5, width * 5 // 8 : width * 7 // 8] = 255
    return mask


def write_covid19(root: str | Path, *, schema: str = "2020", seed: int = 0) -> dict[str, Path]:
    """Write the fake collection under ``root``.

    Args:
        root: output folder (created).
        schema: ``"2020"`` (flat findings, no ``RT_PCR_positive``) or ``"2021"``
            (hierarchical findings, ``RT_PCR_positive`` column).
        seed: seed of the pixel generator.

    Returns:
        ``{"imgpath", "csvpath", "maskzippath"}``.
    """
    if schema not in ("2020", "2021"):
        raise ValueError(f"schema must be '2020' or '2021', got {schema!r}")
    root = Path(root)
    rng = np.random.default_rng(seed)
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    header = HEADER_2020 if schema == "2020" else HEADER_2021
    records = []
    for pid, offset, f2020, f2021, view, modality, folder, filename, mode, size in ROWS:
        values = {
            "patientid": pid, "offset": offset, "sex": "M" if int(pid) % 2 else "F",
            "age": str(40 + int(pid)), "finding": f2020 if schema == "2020" else f2021,
            "RT_PCR_positive": "Y" if "COVID" in f2021 else "", "survival": "Y",
            "view": view, "modality": modality, "date": "January 22, 2020",
            "location": "Cho Ray Hospital, Ho Chi Minh City, Vietnam", "folder": folder,
            "filename": filename, "doi": "10.1056/nejmc2001272", "url": "https://example.org/case",
            "license": "CC BY-NC-SA", "clinical_notes": 'A "quoted", multi-part note',
        }
        records.append([values.get(name, "") for name in header])
        if size is not None:
            write_image(images / filename, radiograph(rng, *size), mode)
    with open(root / "metadata.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(records)
    sizes = {row[7]: row[9] for row in ROWS}
    zippath = root / "semantic_masks_v7labs_lungs.zip"
    with zipfile.ZipFile(zippath, "w") as archive:
        archive.writestr(MASK_FOLDER + "/", b"")
        for filename, kind in MASKS.items():
            height, width = sizes[filename]
            if kind == "small":
                height, width = height // 2, width // 2
            mask = _lung_mask(height, width) if kind != "empty" else np.zeros((height, width), np.uint8)
            data = encode(mask, "JPEG", quality=40) if kind == "jpeg" else encode(mask, "PNG")
            archive.writestr(f"{MASK_FOLDER}/{filename}", data)
    return {"imgpath": images, "csvpath": root / "metadata.csv", "maskzippath": zippath}


def mask_pixels(zippath: str | Path, filename: str) -> np.ndarray:
    """The raw uint8 pixels of the mask of ``filename`` in the fake zip (a test oracle)."""
    from PIL import Image

    with zipfile.ZipFile(zippath) as archive:
        data = archive.read(f"{MASK_FOLDER}/{filename}")
    return np.asarray(Image.open(io.BytesIO(data)).convert("L"))


def example(root: str | Path) -> dict[str, Any]:
    """Arguments of a small :class:`~xrayvision.datasets.COVID19_Dataset` on a fake copy written
    under ``root`` (every row, masks on where the source has them): the dataset
    registry's example, which the tests' contract battery builds."""
    root = Path(root)
    return {**write_covid19(root), "semantic_masks": True}
