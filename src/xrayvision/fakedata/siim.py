"""A tiny SIIM-ACR Pneumothorax copy in the official on-disk format.

Layout written under ``root``::

    dicom-images-train/<StudyUID>/<SeriesUID>/<ImageId>.dcm   nested, as released
    train-rle.csv                                             header "ImageId, EncodedPixels"

Awkward cases: the header's leading space, values padded with a space (``' -1'``) when
``padded=True``, an image with three regions (three rows), one with one region, negatives,
a 1024x1024 image (the RLE frame) and smaller ones (masks are resized).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .images import chest_xray_like, write_dicom

RLE_HEADER = "ImageId, EncodedPixels"


def rectangle_rle(top: int, left: int, height: int, width: int, frame: int = 1024) -> list[tuple[int, int]]:
    """Absolute ``(start, length)`` runs of a rectangle in column-major order."""
    return [(col * frame + top, height) for col in range(left, left + width)]


def relative_rle(runs: list[tuple[int, int]]) -> str:
    """Encode absolute runs as the stage-1 relative code (each start after the previous end)."""
    out, end = [], 0
    for start, length in sorted(runs):
        out += [start - end, length]
        end = start + length
    return " ".join(str(v) for v in out)


# (ImageId, image side, regions as rectangles (top, left, height, width) in the 1024 frame)
IMAGES: tuple[tuple[str, int, tuple[tuple[int, int, int, int], ...]], ...] = (
    ("1.2.276.0.7230010.3.1.4.1.1", 64, ()),
    ("1.2.276.0.7230010.3.1.4.1.2", 1024, ((100, 200, 50, 30), (600, 700, 20, 10), (0, 1000, 1024, 24))),
    ("1.2.276.0.7230010.3.1.4.1.3", 64, ((512, 512, 256, 128),)),
    ("1.2.276.0.7230010.3.1.4.1.4", 48, ()),
)


def write_siim(
    root: str | Path, seed: int = 0, *, padded: bool = False,
    images: Sequence[tuple[str, int, tuple[tuple[int, int, int, int], ...]]] = IMAGES,
) -> dict[str, Path]:
    """Write a fake SIIM-ACR release under ``root`` (images: :data:`IMAGES`).

    Args:
        root: folder to write into (created).
        seed: seed of the synthetic pixels.
        padded: write values with a leading space (``' -1'``) as some copies do.
        images: ``(ImageId, side, regions)`` rows, regions ``(top, left, height, width)`` in
            the 1024 frame (default :data:`IMAGES`; pass more for larger studies).

    Returns:
        ``{"imgpath", "csvpath"}``.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    lines = [RLE_HEADER]
    pad = " " if padded else ""
    for n, (image_id, side, regions) in enumerate(images):
        study, series = f"1.2.276.0.7230010.3.1.2.{n}", f"1.2.276.0.7230010.3.1.3.{n}"
        path = root / "dicom-images-train" / study / series / f"{image_id}.dcm"
        write_dicom(path, chest_xray_like((side, side), seed=int(rng.integers(2**31))),
                    patient_id=image_id, transfer_syntax="jpeg_baseline")
        if not regions:
            lines.append(f"{image_id},{pad}-1")
        for region in regions:
            lines.append(f"{image_id},{pad}{relative_rle(rectangle_rle(*region))}")
    csvpath = root / "train-rle.csv"
    csvpath.write_text("\n".join(lines) + "\n")
    return {"imgpath": root / "dicom-images-train", "csvpath": csvpath}



def example(root: str | Path) -> dict[str, Any]:
    """Arguments of a small :class:`~xrayvision.datasets.SIIM_Pneumothorax_Dataset` on a fake copy written
    under ``root`` (every row, masks on where the source has them): the dataset
    registry's example, which the tests' contract battery builds."""
    root = Path(root)
    return {**write_siim(root), "pathology_masks": True}

__all__ = ["example", "write_siim", "IMAGES", "rectangle_rle", "relative_rle"]
