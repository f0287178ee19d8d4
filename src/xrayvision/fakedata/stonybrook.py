"""A tiny Stony Brook RALO copy in the real format.

Layout written under ``root``::

    ralo-dataset-metadata.csv      CRLF, no final newline, two header lines: column numbers
                                   (with ``geo``/``opac``), then the names repeated for
                                   two readers; ``Exam_DateTime`` as YYYYMMDD_hhmmss[.fff]
    CXR_images_scored/<row>.jpg    224x224 RGB JPEGs, one per data row

Awkward cases: several exams of one subject, a blank sub-score, notes with commas, a
timestamp without milliseconds, scores that differ between the readers.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np

from ._pixels import radiograph, write_image

NAMES = ["Subject_ID", "Exam_DateTime", "Right GEOGRAPHIC", "Right OPACITY", "Left GEOGRAPHIC",
         "Left OPACITY", "Total GEOGRAPHIC", "Total OPACITY", "Notes"]
HEADER_2 = NAMES + NAMES[2:] + ["Delta Geo-total", "Delta Opa total"]
HEADER_1 = [str(i) for i in range(13)] + ["geo", "opac"] + [str(i) for i in range(15, 18)]
# (subject, exam, reader 1 (rg, ro, lg, lo), reader 2 (rg, ro, lg, lo), note)
EXAMS = [
    ("S12513", "20200330_212953.338", (0, 0, 0, 0), (0, 0, 0, 0), ""),
    ("S11356", "20200328_150110.778", (4, 1, 4, 1), (3, 1, 3, 1), ""),
    ("S11356", "20200328_230602.381", (4, 2, 4, 2), (4, 2, 4, 2), "worse, bilateral"),
    ("S10001", "20200404_172622", (2, 1, None, 1), (2, 1, 3, 1), ""),
    ("S10002", "20200101_000000.000", (4, 4, 4, 4), (4, 3, 4, 4), ""),
]


def write_stonybrook(root: str | Path, *, size: int = 224, seed: int = 0) -> dict[str, Path]:
    """Write the fake RALO release under ``root``; returns ``{"imgpath", "csvpath"}``."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    rows = []
    for i, (subject, exam, first, second, note) in enumerate(EXAMS):
        def totals(scores):
            rg, ro, lg, lo = scores
            return [rg, ro, lg, lo, rg + (lg or 0), ro + lo]
        a, b = totals(first), totals(second)
        cells = [subject, exam, *a, note, *b, "", a[4] - b[4], a[5] - b[5]]
        rows.append(["" if c is None else str(c) for c in cells])
        write_image(root / "CXR_images_scored" / f"{i}.jpg", radiograph(rng, size, size), "RGB")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER_1)
    writer.writerow(HEADER_2)
    writer.writerows(rows)
    csvpath = root / "ralo-dataset-metadata.csv"
    csvpath.write_bytes(buffer.getvalue().removesuffix("\r\n").encode("utf-8"))
    return {"imgpath": root / "CXR_images_scored", "csvpath": csvpath}


def example(root: str | Path) -> dict[str, Any]:
    """Arguments of a small :class:`~xrayvision.datasets.StonyBrookCOVID_Dataset` on a fake copy written
    under ``root`` (every row, masks on where the source has them): the dataset
    registry's example, which the tests' contract battery builds."""
    root = Path(root)
    return write_stonybrook(root, size=64)
