"""RSNA Pneumonia Detection Challenge (Kaggle 2018, stage 2 training set)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DatasetError
from ._base import Dataset, Transform
from ._demographics import add_sex_columns, age_years
from ._files import PathLike, nrows_key, read_csv_arrow, read_metadata_csv, require_columns
from ._masks import xywh_box_mask
from ._problems import carry_problems, drop_duplicate_rows, note_missing, note_problem
from ._problems import note_unknown_values, note_unknown_views
from ._vocabulary import USE_INCLUDED_FILE

#: Label columns, sorted. Both equal the challenge's ``Target``.
RSNA_PATHOLOGIES = ("Lung Opacity", "Pneumonia")
RSNA_VIEWS = ("PA", "AP")
#: Columns of ``stage_2_train_labels.csv``.
LABEL_COLUMNS = ("patientId", "x", "y", "width", "height", "Target")
#: Columns of the DICOM-header table the loader needs (the rest are kept as is).
HEADER_COLUMNS = ("PatientID", "ViewPosition")
#: Boxes are given in the frame of the 1024 x 1024 challenge images.
BOX_FRAME = (1024, 1024)
PARSER_VERSION = "rsna-5"

_DOWNLOAD_HINT = (
    "get the DICOMs from https://www.kaggle.com/c/rsna-pneumonia-detection-challenge "
    "(extension='.dcm') or the JPG copy from https://academictorrents.com/details/"
    "95588a735c9ae4d123f3ca408e56570409bcf2a9 (extension='.jpg')"
)


def read_label_table(path: PathLike, nrows: int | None = None) -> pd.DataFrame:
    """Read ``stage_2_train_labels.csv`` (plain, gzipped or the one-member zip): one row per box.

    Blank ids or targets and targets other than 0/1 are noted (see :mod:`._problems`).

    Raises:
        MetadataError: the file cannot be parsed or lacks a needed column.
    """
    table = read_metadata_csv(
        path, "RSNA_Pneumonia_Dataset", "the label CSV", nrows=nrows,
        text=("patientId",), dtype={"x": "float64", "y": "float64", "width": "float64", "height": "float64"},
    )  # fmt: skip
    require_columns(table, LABEL_COLUMNS, path, "RSNA_Pneumonia_Dataset")
    note_missing(table, ("patientId", "Target"), path)
    note_unknown_values(table, "Target", (0, 1), path, "row(s) with a target other than 0 or 1 (label unknown)")
    return table


def read_header_table(path: PathLike, nrows: int | None = None) -> pd.DataFrame:
    """Read the DICOM-header table (``kaggle_stage_2_train_images_dicom_headers.csv``).

    Its unnamed first column (a saved pandas index) is dropped. Blank ids or views,
    unknown views and repeated rows are noted (see :mod:`._problems`).

    Raises:
        MetadataError: the file cannot be parsed or lacks a needed column.
    """
    table = read_csv_arrow(
        path, "RSNA_Pneumonia_Dataset", "the DICOM-header CSV", text=("PatientID", "ViewPosition"), nrows=nrows
    )
    table = table.drop(columns=[c for c in table.columns if str(c).startswith("Unnamed:")])
    require_columns(table, HEADER_COLUMNS, path, "RSNA_Pneumonia_Dataset")
    note_missing(table, HEADER_COLUMNS, path)
    note_unknown_views(table, "ViewPosition", RSNA_VIEWS, path)
    return drop_duplicate_rows(table, path, key=["PatientID"])


def read_image_table(labels_path: PathLike, headers_path: PathLike, nrows: int | None = None) -> pd.DataFrame:
    """One row per image: its first label row (a real row, in file order) joined with its
    (first) DICOM-header row, sorted by ``patientId``. Images absent from the header
    table keep NaN header fields (noted: their view is unknown)."""
    raw = read_label_table(labels_path, nrows)
    headers = read_header_table(headers_path, nrows)
    first = raw[~raw["patientId"].duplicated(keep="first").to_numpy()]
    first = first.sort_values("patientId", kind="stable").reset_index(drop=True)
    headers = headers[~headers["PatientID"].duplicated(keep="first").to_numpy()]
    # Positions by a lookup, then one take (a third cheaper than set_index().reindex(),
    # which stays for ids without a header row: it gives their fields NaN, promoting
    # integer columns as it does).
    found = pd.Index(headers["PatientID"]).get_indexer(first["patientId"])
    if (found >= 0).all():
        joined = headers.take(found)
    else:
        joined = headers.set_index(headers["PatientID"].rename(None)).reindex(first["patientId"].to_numpy())
    table = pd.concat([first, joined.reset_index(drop=True)], axis=1)
    carry_problems(table, raw, headers)
    if nrows is None:  # with nrows the two files are cut at different images, as in the reference
        absent = first["patientId"][found < 0]
        note_problem(table, headers_path, "PatientID", "image(s) of the label file without a header row (view unknown)",
                     len(absent), map(repr, absent))  # fmt: skip
    return table


def rsna_labels(csv: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Label matrix from ``Target`` (pure function): both columns equal it; blank -> NaN."""
    require_columns(csv, ["Target"], "the metadata", "RSNA_Pneumonia_Dataset")
    target = pd.to_numeric(csv["Target"], errors="coerce").to_numpy(dtype=np.float32)
    return np.repeat(target[:, None], len(RSNA_PATHOLOGIES), axis=1), list(RSNA_PATHOLOGIES)


class RSNA_Pneumonia_Dataset(Dataset):
    """RSNA Pneumonia Detection Challenge: NIH images relabelled by radiologists, with boxes.

    **Source**: https://www.kaggle.com/c/rsna-pneumonia-detection-challenge (stage 2
    training set: 26,684 images); JPG copy https://academictorrents.com/details/95588a735c9ae4d123f3ca408e56570409bcf2a9.
    **Licence**: Kaggle competition terms (non-commercial research and education); the
    images come from NIH ChestX-ray14.

    **Layout**: ``imgpath`` is a flat folder of ``<patientId><extension>``:
    ``stage_2_train_images/*.dcm`` (``extension=".dcm"``; 1024x1024 8-bit MONOCHROME2,
    JPEG-compressed) or the JPG conversion (``extension=".jpg"``, the default).
    Metadata (default: the copies the reference ships, fetched on first use):
    ``csvpath`` = ``stage_2_train_labels.csv`` (``patientId, x, y, width, height,
    Target``; one row per box, one row with blank box for negatives; plain, gzip or a
    one-member zip) and ``dicomcsvpath`` = a table of DICOM header fields per image
    (``PatientID``, ``ViewPosition``, ``PatientAge``, ``PatientSex``, ...). ``nrows``
    reads only the first rows of both files.

    **Labels**: ``Lung Opacity`` and ``Pneumonia``, both equal to ``Target`` (1 = at least
    one opacity box).

    **Common columns**: ``patientid`` (``patientId``: in this challenge it identifies the
    *image*, not a person), ``offset_day_int`` (NaN), ``view`` (``ViewPosition``: PA or
    AP; ``UNKNOWN`` when the header table has no row), ``has_masks`` (``Target`` is 1),
    plus ``age_years`` and ``sex_male``/``sex_female`` from the header table.

    **Masks** (``pathology_masks=True``): for each of the two pathologies the OR of all
    boxes of the image, scaled from the 1024x1024 frame to the image's height and width;
    negative images get all-zero masks.

    There is no ``unique_patients`` parameter (each image has its own ``patientId``).

    **Citation**: Shih et al., "Augmenting the National Institutes of Health Chest
    Radiograph Dataset with Expert Annotations of Possible Pneumonia", Radiology: AI 2019.

    Args:
        imgpath: folder of the images.
        csvpath: the label CSV (default: the shipped copy).
        dicomcsvpath: the DICOM-header CSV (default: the shipped copy).
        views: views to keep (``"*"`` or ``None`` for all).
        transform: applied to each sample (image and masks).
        data_aug: applied after ``transform``.
        nrows: read only this many rows of each metadata file.
        seed: kept for compatibility; construction is not random.
        pathology_masks: add the box masks to samples.
        extension: file extension of the images (``".jpg"``, ``".png"`` or ``".dcm"``).
        strict: raise on metadata problems (blank cells, unknown views or targets,
            repeated rows, images without a header row) instead of one warning.

    Raises:
        MissingMetadataError: a metadata path does not exist.
        MetadataError: a metadata file lacks a needed column or cannot be parsed.
        MissingImageError: ``imgpath`` is not a folder (an absent image is reported
            when its item is read).
        UnknownNameError: a requested view is not PA or AP.
    """

    dataset_url = "https://www.kaggle.com/c/rsna-pneumonia-detection-challenge"
    known_views = RSNA_VIEWS
    image_hint = _DOWNLOAD_HINT
    metadata_files = {"csvpath": "rsna_labels", "dicomcsvpath": "rsna_dicom_headers"}

    def __init__(
        self,
        imgpath: PathLike,
        csvpath: PathLike = USE_INCLUDED_FILE,
        dicomcsvpath: PathLike = USE_INCLUDED_FILE,
        views: str | Iterable[str] | None = ("PA",),
        transform: Transform | None = None,
        data_aug: Transform | None = None,
        nrows: int | None = None,
        seed: int = 0,
        pathology_masks: bool = False,
        extension: str = ".jpg",
        *,
        strict: bool = False,
    ) -> None:
        super().__init__(imgpath, transform=transform, data_aug=data_aug, seed=seed,
                         pathology_masks=pathology_masks, strict=strict)  # fmt: skip
        if not isinstance(extension, str) or not extension.startswith("."):
            raise DatasetError(
                f"{type(self).__name__}: extension must start with a dot, like '.jpg' or '.dcm'; got {extension!r}"
            )
        self.csvpath = self._metadata_path("csvpath", csvpath)
        self.dicomcsvpath = self._metadata_path("dicomcsvpath", dicomcsvpath)
        self.nrows = nrows
        self.extension = extension

        self.csv = self._load_table(
            [self.csvpath, self.dicomcsvpath], lambda: read_image_table(self.csvpath, self.dicomcsvpath, nrows),
            f"{PARSER_VERSION}|nrows={nrows_key(nrows)}",
        )  # fmt: skip
        self.csv["view"] = self.csv["ViewPosition"]
        self.limit_to_selected_views(views)
        csv = self.csv
        csv["patientid"] = csv["patientId"]
        csv["has_masks"] = (csv["Target"] == 1).to_numpy(dtype=bool)
        if "PatientAge" in csv.columns:
            csv["age_years"] = age_years(csv["PatientAge"])
        if "PatientSex" in csv.columns:
            add_sex_columns(csv, "PatientSex")
        self._finish_csv()
        self._boxes: dict[str, np.ndarray] = {}
        if self.pathology_masks:
            raw = self._load_table([self.csvpath], lambda: read_label_table(self.csvpath, nrows),
                                   f"{PARSER_VERSION}|boxes|nrows={nrows_key(nrows)}")  # fmt: skip
            positive = raw[(raw["Target"] == 1).to_numpy() & raw["patientId"].isin(self.csv["patientId"]).to_numpy()]
            coords = positive[["x", "y", "width", "height"]].to_numpy(dtype=np.float64)
            for pid, rows in positive.groupby("patientId", sort=False).indices.items():
                self._boxes[pid] = coords[rows]
        self._set_labels(*rsna_labels(self.csv))

    def _image_path(self, index: int) -> Path:
        """Where item ``index``'s file should be (it may be absent)."""
        return self.imgpath / (self.csv["patientId"].iat[index] + self.extension)

    def _pathology_masks(self, index: int, shape: tuple[int, int]) -> dict[str, np.ndarray]:
        mask = xywh_box_mask(shape, self._boxes.get(self.csv["patientId"].iat[index], ()), BOX_FRAME)
        return {name: mask.copy() for name in RSNA_PATHOLOGIES}


__all__ = ["RSNA_Pneumonia_Dataset", "RSNA_PATHOLOGIES", "read_header_table", "read_label_table", "rsna_labels"]
