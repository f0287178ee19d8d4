"""RSNA Pneumonia Detection Challenge (Kaggle 2018, stage 2 training set)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DatasetError
from ._base import Dataset, Transform
from ._bytes_columns import bytes_argsort, decode_bytes, decode_bytes_columns, missing_bytes
from ._demographics import add_sex_columns, age_years
from ._files import PathLike, nrows_key, require_columns, require_folder
from ._lean_csv import read_lean_csv
from ._masks import xywh_box_mask
from ._shipped import metadata_path
from ._table_cache import load_table
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
PARSER_VERSION = "rsna-4"

_DOWNLOAD_HINT = (
    "get the DICOMs from https://www.kaggle.com/c/rsna-pneumonia-detection-challenge "
    "(extension='.dcm') or the JPG copy from https://academictorrents.com/details/"
    "95588a735c9ae4d123f3ca408e56570409bcf2a9 (extension='.jpg')"
)


def read_label_table(path: PathLike, nrows: int | None = None, *, lean: bool = False) -> pd.DataFrame:
    """Read ``stage_2_train_labels.csv`` (plain, gzipped or the one-member zip): one row per box.

    ``lean``: ``patientId`` comes back as bytes (see :mod:`._lean_csv`).

    Raises:
        MetadataError: the file cannot be parsed or lacks a needed column.
    """
    table = read_lean_csv(
        path, "RSNA_Pneumonia_Dataset", "the label CSV", nrows=nrows,
        dtype={"patientId": "str", "x": "float64", "y": "float64", "width": "float64", "height": "float64"},
        bytes_columns=["patientId"] if lean else [],
    )  # fmt: skip
    require_columns(table, LABEL_COLUMNS, path, "RSNA_Pneumonia_Dataset")
    return table


# DICOM-header fields with a few distinct values (read as categories, see _lean_csv)
_REPEATED_HEADER_TEXT = ("BodyPartExamined", "ConversionType", "Modality", "PatientSex", "ViewPosition")


def read_header_table(path: PathLike, nrows: int | None = None, *, lean: bool = False) -> pd.DataFrame:
    """Read the DICOM-header table (``kaggle_stage_2_train_images_dicom_headers.csv``).

    Its unnamed first column (a saved pandas index) is dropped. ``Filename`` (and with
    ``lean``, ``PatientID``) comes back as bytes and the few-valued text columns as
    categories (turned into text once the rows are chosen: see :mod:`._lean_csv`).

    Raises:
        MetadataError: the file cannot be parsed or lacks a needed column.
    """
    table = read_lean_csv(
        path, "RSNA_Pneumonia_Dataset", "the DICOM-header CSV", nrows=nrows,
        dtype={"PatientID": "str", "ViewPosition": "str"},
        bytes_columns=["Filename", "PatientID"] if lean else ["Filename"],
        text_columns=_REPEATED_HEADER_TEXT, text_as_categories=True,
    )  # fmt: skip
    unnamed = [c for c in table.columns if str(c).startswith("Unnamed:")]
    table = table.drop(columns=unnamed)
    require_columns(table, HEADER_COLUMNS, path, "RSNA_Pneumonia_Dataset")
    return table


def read_image_table(labels_path: PathLike, headers_path: PathLike, nrows: int | None = None) -> pd.DataFrame:
    """One row per image: its first label row (a real row, in file order) joined with its
    DICOM-header row, sorted by ``patientId``. Images absent from the header table keep
    NaN header fields. The ids stay bytes (see :mod:`._bytes_columns`) when every image
    has an id and a header row, as in the official files."""
    raw = read_label_table(labels_path, nrows, lean=True)
    headers = read_header_table(headers_path, nrows, lean=True)
    joined = _join_on_bytes(raw, headers)
    if joined is not None:
        return joined
    decode_bytes_columns(raw)
    decode_bytes_columns(headers)
    first = raw[~raw["patientId"].duplicated(keep="first").to_numpy()]
    first = first.sort_values("patientId", kind="stable").reset_index(drop=True)
    headers = headers[~headers["PatientID"].duplicated(keep="first").to_numpy()]
    # Positions by a lookup on plain object arrays, then one take: a third cheaper than
    # set_index().reindex(); reindex stays for the rare ids without a header row (it
    # gives their fields NaN, promoting integer columns as it does).
    found = pd.Index(headers["PatientID"].to_numpy(dtype=object)).get_indexer(first["patientId"].to_numpy(dtype=object))
    if (found >= 0).all():
        joined = headers.take(found)
    else:
        joined = headers.set_index(headers["PatientID"].rename(None)).reindex(first["patientId"].to_numpy())
    return pd.concat([first, joined.reset_index(drop=True)], axis=1)


def _join_on_bytes(raw: pd.DataFrame, headers: pd.DataFrame) -> pd.DataFrame | None:
    """:func:`read_image_table`'s join on undecoded ids, or None when an id is missing, a
    column came back as text, or an image has no header row (the text join decides)."""
    ids, header_ids = raw["patientId"].to_numpy(), headers["PatientID"].to_numpy()
    if ids.dtype.kind != "S" or header_ids.dtype.kind != "S" or missing_bytes(ids).any() or missing_bytes(header_ids).any():
        return None
    # Sorted stably, each id's first label row leads its run: the first rows, by id.
    order = bytes_argsort(ids)
    by_id = ids[order]
    first = order[np.r_[True, by_id[1:] != by_id[:-1]]] if len(ids) else order
    # Each image's header row: a binary search among the (stably) sorted header ids
    # finds the first row of an id, as the text join's first-occurrence rule does.
    header_order = bytes_argsort(header_ids)
    sorted_headers = header_ids[header_order]
    wanted = ids[first]
    at = np.searchsorted(sorted_headers, wanted)
    if len(wanted) and (len(sorted_headers) == 0 or at.max() >= len(sorted_headers)):
        return None
    if not np.array_equal(sorted_headers[at], wanted):
        return None
    found = header_order[at]
    return pd.concat([raw.take(first).reset_index(drop=True), headers.take(found).reset_index(drop=True)], axis=1)


def _decode_ids(csv: pd.DataFrame) -> None:
    """Decode the kept rows' bytes ids once: ``PatientID`` equals ``patientId`` on every
    row the join matched, so it shares the decoded strings when all did."""
    ids, header_ids = csv["patientId"].to_numpy(), csv["PatientID"].to_numpy()
    if ids.dtype.kind != "S":
        return
    csv["patientId"] = pd.array(decode_bytes(ids), dtype="str")
    if header_ids.dtype.kind == "S" and np.array_equal(ids, header_ids):
        csv["PatientID"] = csv["patientId"]


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
    ) -> None:
        super().__init__(transform=transform, data_aug=data_aug, seed=seed, pathology_masks=pathology_masks)
        name = type(self).__name__
        self.imgpath = require_folder(imgpath, name, _DOWNLOAD_HINT)
        if not isinstance(extension, str) or not extension.startswith("."):
            raise DatasetError(f"{name}: extension must start with a dot, like '.jpg' or '.dcm'; got {extension!r}")
        self.csvpath = metadata_path(csvpath, "rsna_labels", "csvpath", name)
        self.dicomcsvpath = metadata_path(dicomcsvpath, "rsna_dicom_headers", "dicomcsvpath", name)
        self.nrows = nrows
        self.extension = extension

        csv = load_table(
            self.csvpath, lambda p: read_image_table(p, self.dicomcsvpath, nrows),
            key=f"{PARSER_VERSION}|nrows={nrows_key(nrows)}", also_reads=[self.dicomcsvpath],
        )  # fmt: skip
        csv["view"] = csv["ViewPosition"]
        self.csv = csv
        self.limit_to_selected_views(views)
        csv = self.csv
        _decode_ids(csv)
        csv["patientid"] = csv["patientId"]
        csv["has_masks"] = (csv["Target"] == 1).to_numpy(dtype=bool)
        if "PatientAge" in csv.columns:
            csv["age_years"] = age_years(csv["PatientAge"])
        if "PatientSex" in csv.columns:
            add_sex_columns(csv, "PatientSex")
        self._finish_csv()
        self._set_labels(*rsna_labels(self.csv))
        self._ids = self.csv["patientId"].to_numpy(dtype=object)

        self._boxes: dict[str, np.ndarray] = {}
        if self.pathology_masks:
            raw = load_table(
                self.csvpath, lambda p: read_label_table(p, nrows), key=f"{PARSER_VERSION}|boxes|nrows={nrows_key(nrows)}"
            )
            positive = raw[(raw["Target"] == 1).to_numpy() & raw["patientId"].isin(self.csv["patientId"]).to_numpy()]
            coords = positive[["x", "y", "width", "height"]].to_numpy(dtype=np.float64)
            for pid, rows in positive.groupby("patientId", sort=False).indices.items():
                self._boxes[pid] = coords[rows]

    def _image_path(self, index: int) -> Path:
        """Where item ``index``'s file should be (it may be absent)."""
        return self.imgpath / (self._ids[index] + self.extension)

    def _pathology_masks(self, index: int, shape: tuple[int, int]) -> dict[str, np.ndarray]:
        mask = xywh_box_mask(shape, self._boxes.get(self._ids[index], ()), BOX_FRAME)
        return {name: mask.copy() for name in RSNA_PATHOLOGIES}


__all__ = ["RSNA_Pneumonia_Dataset", "RSNA_PATHOLOGIES", "read_header_table", "read_label_table", "rsna_labels"]
