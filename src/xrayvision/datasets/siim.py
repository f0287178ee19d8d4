"""SIIM-ACR Pneumothorax Segmentation (Kaggle 2019, stage 1 training set)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import MissingImageError
from ._base import Dataset, Transform
from ._files import PathLike, read_metadata_csv, require_columns
from ._masks import rle_mask
from ._problems import carry_problems, drop_duplicate_rows, note_missing
from ._vocabulary import USE_INCLUDED_FILE

SIIM_PATHOLOGIES = ("Pneumothorax",)
#: Run-length codes index the 1024 x 1024 challenge images.
RLE_FRAME = (1024, 1024)
#: Value of ``EncodedPixels`` meaning "no pneumothorax".
NO_MASK = "-1"
PARSER_VERSION = "siim-2"

_DOWNLOAD_HINT = (
    "get the DICOMs from https://academictorrents.com/details/6ef7c6d039e85152c4d0f31d83fa70edc4aba088 "
    "(dicom-images-train/<study>/<series>/<ImageId>.dcm); imgpath is searched recursively"
)


def read_rle_table(path: PathLike) -> pd.DataFrame:
    """Read ``train-rle.csv`` (plain or gzipped): columns ``ImageId``, ``EncodedPixels``.

    Column names and values are stripped of surrounding spaces (the official header is
    ``ImageId, EncodedPixels`` and some copies write values as ``' -1'``). Blank cells
    and repeated rows are noted (see :mod:`._problems`); a row repeated exactly is removed.

    Raises:
        MetadataError: the file cannot be parsed or lacks a column.
    """
    table = read_metadata_csv(path, "SIIM_Pneumothorax_Dataset", "train-rle CSV", dtype="str", skipinitialspace=True)
    table.columns = [str(c).strip() for c in table.columns]
    require_columns(table, ["ImageId", "EncodedPixels"], path, "SIIM_Pneumothorax_Dataset")
    table = table[["ImageId", "EncodedPixels"]]
    for column in table.columns:
        table[column] = table[column].str.strip()
    note_missing(table, ["ImageId", "EncodedPixels"], path)
    return drop_duplicate_rows(table, path)


def siim_image_table(rle: pd.DataFrame) -> pd.DataFrame:
    """One row per ``ImageId`` (first-appearance order) with ``has_masks`` (pure function).

    ``has_masks`` is True when any of the image's rows holds a run-length code (a value
    other than ``-1``); ``regions`` counts those rows. The notes of ``rle`` (see
    :mod:`._problems`) are carried over.
    """
    require_columns(rle, ["ImageId", "EncodedPixels"], "the metadata", "SIIM_Pneumothorax_Dataset")
    coded = (rle["EncodedPixels"].str.strip() != NO_MASK) & rle["EncodedPixels"].notna()
    # factorize + bincount: a groupby cost 3x more (first-appearance order, rows without
    # an ImageId dropped, as groupby does)
    codes, image_ids = pd.factorize(rle["ImageId"], use_na_sentinel=True)
    named = codes >= 0
    regions = np.bincount(codes[named], weights=coded.to_numpy(dtype=bool)[named], minlength=len(image_ids))
    table = pd.DataFrame({"ImageId": np.asarray(image_ids, dtype=object), "regions": regions.astype(np.int64)})
    table["has_masks"] = table["regions"] > 0
    carry_problems(table, rle)
    return table


def siim_labels(csv: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """``Pneumothorax`` = 1 where the image has at least one region (``has_masks``), else 0."""
    require_columns(csv, ["has_masks"], "the metadata", "SIIM_Pneumothorax_Dataset")
    return csv["has_masks"].to_numpy(dtype=np.float32)[:, None], list(SIIM_PATHOLOGIES)


class SIIM_Pneumothorax_Dataset(Dataset):
    """SIIM-ACR Pneumothorax Segmentation: NIH images with radiologist pneumothorax outlines.

    **Source**: https://www.kaggle.com/c/siim-acr-pneumothorax-segmentation (stage 1
    training set, 12,047 images); torrent
    https://academictorrents.com/details/6ef7c6d039e85152c4d0f31d83fa70edc4aba088.
    **Licence**: Kaggle competition rules (SIIM/ACR annotations on NIH ChestX-ray14 images).

    **Layout**: ``imgpath`` is the root of the DICOM tree
    (``dicom-images-train/<StudyUID>/<SeriesUID>/<ImageId>.dcm``; 1024x1024 8-bit
    MONOCHROME2). A file is looked up first at ``imgpath/<ImageId>.dcm``, then in a map
    of every ``*.dcm`` under ``imgpath`` built the first time it is needed (per
    instance, so two instances never share a tree). ``csvpath`` (default: the copy the
    reference ships, fetched on first use) is ``train-rle.csv``: ``ImageId,
    EncodedPixels`` with one row per pneumothorax region, ``-1`` for none.

    **Items**: one per ``ImageId`` (the reference had one per *region*, repeating
    images); ``unique_patients`` is accepted for compatibility and ignored (one image per
    item already; the metadata names no patient).

    **Labels**: ``Pneumothorax`` = 1 when the image has at least one region, else 0.

    **Common columns**: ``patientid``, ``offset_day_int``, ``view`` are NaN (not in the
    metadata); ``has_masks`` = the image has a region. Also ``regions`` (their count).

    **Masks** (``pathology_masks=True``): positive images get ``Pneumothorax`` = the OR of
    all their regions, decoded in the 1024x1024 frame and resized nearest-neighbour to
    the image; negative images get no mask.

    **Citation**: Zawacki et al., "SIIM-ACR Pneumothorax Segmentation", Kaggle 2019.

    Args:
        imgpath: root folder of the DICOM files.
        csvpath: the run-length CSV (default: the shipped copy).
        transform: applied to each sample (image and masks).
        data_aug: applied after ``transform``.
        seed: kept for compatibility; construction is not random.
        unique_patients: ignored (see above).
        pathology_masks: add the pneumothorax masks to samples.
        strict: raise on metadata problems (blank cells, repeated rows) instead of one warning.

    Raises:
        MissingMetadataError: ``csvpath`` does not exist.
        MetadataError: the CSV lacks a column or a run-length code is malformed.
        MissingImageError: ``imgpath`` is not a folder (an absent image is reported
            when its item is read).
    """

    dataset_url = "https://www.kaggle.com/c/siim-acr-pneumothorax-segmentation"
    image_hint = _DOWNLOAD_HINT
    metadata_files = {"csvpath": "siim_rle"}
    _printed_fields = ("data_aug",)

    def __init__(
        self,
        imgpath: PathLike,
        csvpath: PathLike = USE_INCLUDED_FILE,
        transform: Transform | None = None,
        data_aug: Transform | None = None,
        seed: int = 0,
        unique_patients: bool = True,
        pathology_masks: bool = False,
        *,
        strict: bool = False,
    ) -> None:
        super().__init__(imgpath, transform=transform, data_aug=data_aug, seed=seed,
                         pathology_masks=pathology_masks, strict=strict)  # fmt: skip
        self.csvpath = self._metadata_path("csvpath", csvpath)
        self.unique_patients = unique_patients

        rle = lambda: read_rle_table(self.csvpath)  # noqa: E731
        # the image table only (the run-length codes are read when masks are wanted)
        self.csv = self._load_table([self.csvpath], lambda: siim_image_table(rle()),
                                    f"{PARSER_VERSION}|images")  # fmt: skip
        self._finish_csv()
        self._codes: dict[str, list[str]] = {}
        if self.pathology_masks:
            rows = self._load_table([self.csvpath], rle, PARSER_VERSION)
            coded = rows[(rows["EncodedPixels"] != NO_MASK).to_numpy() & rows["EncodedPixels"].notna().to_numpy()]
            for image_id, code in zip(coded["ImageId"].tolist(), coded["EncodedPixels"].tolist()):
                self._codes.setdefault(image_id, []).append(code)
        self._file_map: dict[str, str] | None = None
        self._set_labels(*siim_labels(self.csv))

    def _find(self, image_id: str) -> Path:
        filename = f"{image_id}.dcm"
        direct = self.imgpath / filename
        if direct.is_file():
            return direct
        if self._file_map is None:
            found: dict[str, str] = {}
            for folder, _dirs, files in os.walk(self.imgpath):
                for f in files:
                    if f.endswith(".dcm"):
                        found.setdefault(f, os.path.join(folder, f))
            self._file_map = found
        path = self._file_map.get(filename)
        if path is None:
            raise MissingImageError(
                f"{type(self).__name__}: image {filename!r} listed in the metadata is not under "
                f"imgpath={str(self.imgpath)!r} (searched recursively); {_DOWNLOAD_HINT}"
            )
        return Path(path)

    def _read_image(self, index: int) -> np.ndarray:
        from ..io import read_image

        return read_image(self._find(self.csv["ImageId"].iat[index]))

    def _pathology_masks(self, index: int, shape: tuple[int, int]) -> dict[str, np.ndarray]:
        codes = self._codes.get(self.csv["ImageId"].iat[index])
        if not codes:
            return {}
        return {"Pneumothorax": rle_mask(shape, codes, RLE_FRAME)}


__all__ = ["SIIM_Pneumothorax_Dataset", "SIIM_PATHOLOGIES", "read_rle_table", "siim_image_table", "siim_labels"]
