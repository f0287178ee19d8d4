"""Google's radiologist relabels of NIH ChestX-ray14 images (four findings)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import MetadataError
from ._base import Dataset, Transform
from ._files import PathLike, nrows_key, read_csv_arrow, require_columns
from ._problems import drop_duplicate_rows, note_missing, note_unknown_views
from ._vocabulary import USE_INCLUDED_FILE

#: Source columns (sorted) and the names the dataset gives them, in label order.
GOOGLE_COLUMNS = {
    "Airspace opacity": "Lung Opacity",
    "Fracture": "Fracture",
    "Nodule or mass": "Nodule/Mass",
    "Pneumothorax": "Pneumothorax",
}
NIH_GOOGLE_PATHOLOGIES = tuple(GOOGLE_COLUMNS.values())
NIH_GOOGLE_VIEWS = ("PA", "AP")
REQUIRED_COLUMNS = ("Image Index", "Patient ID", "View Position", *GOOGLE_COLUMNS)
PARSER_VERSION = "nih-google-2"

_DOWNLOAD_HINT = "the images are the NIH ChestX-ray14 PNGs (see NIH_Dataset), in one flat folder"


def read_google_labels(path: PathLike, nrows: int | None = None) -> pd.DataFrame:
    """Read a four-findings label file (the reference's merged file or an official one).

    Rows with a blank id or view, unknown views and repeated rows are noted (see
    :mod:`._problems`); a row repeated exactly is removed.

    Raises:
        MetadataError: the file cannot be parsed or lacks a needed column.
    """
    strings = ("Image Index", "Finding Labels", "Patient Gender", "View Position", "Set Id", *GOOGLE_COLUMNS)
    table = read_csv_arrow(path, "NIH_Google_Dataset", "a label CSV", text=strings, nrows=nrows)
    require_columns(table, REQUIRED_COLUMNS, path, "NIH_Google_Dataset")
    note_missing(table, ("Image Index", "Patient ID", "View Position"), path)
    note_unknown_views(table, "View Position", NIH_GOOGLE_VIEWS, path)
    return drop_duplicate_rows(table, path, key=["Image Index"])


def nih_google_labels(csv: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Label matrix (pure function): 1 where the reader consensus is ``YES``, 0 for ``NO``,
    NaN for a blank cell; columns :data:`NIH_GOOGLE_PATHOLOGIES`.

    Raises:
        MetadataError: a cell is neither YES, NO nor blank.
    """
    require_columns(csv, list(GOOGLE_COLUMNS), "the metadata", "NIH_Google_Dataset")
    labels = np.empty((len(csv), len(GOOGLE_COLUMNS)), dtype=np.float32)
    for j, column in enumerate(GOOGLE_COLUMNS):
        # Decide once per distinct cell text (a handful), then broadcast by code.
        codes, uniques = pd.factorize(csv[column].to_numpy(dtype=object), use_na_sentinel=True)
        value_of = np.full(len(uniques) + 1, np.nan, dtype=np.float32)  # last slot: code -1
        for i, text in enumerate(uniques):
            if not isinstance(text, str):
                continue  # not text: unknown, as a blank cell
            text = text.strip()
            if text not in ("YES", "NO"):
                raise MetadataError(f"NIH_Google_Dataset: column {column!r} holds {text!r}; expected YES or NO")
            value_of[i] = text == "YES"
        labels[:, j] = value_of[codes]
    return labels, list(NIH_GOOGLE_PATHOLOGIES)


class NIH_Google_Dataset(Dataset):
    """NIH ChestX-ray14 images relabelled by panels of radiologists (Google, 2019).

    **Source**: https://cloud.google.com/healthcare/docs/resources/public-datasets/nih-chest
    (four-findings expert labels: ``test_labels.csv`` 1,962 rows, ``validation_labels.csv``
    2,414 rows). The default ``csvpath`` is the reference's merged copy of both files
    (``google2019_nih-chest-xray-labels.csv.gz``, 4,376 rows), fetched on first use; give
    one official file, or a list of them (read in order), instead. **Licence**: research
    and educational use; cite both papers below.

    **Layout**: ``imgpath`` is the NIH PNG folder (see :class:`NIH_Dataset`); the files
    hold the NIH Data_Entry columns plus ``Fracture, Pneumothorax, Airspace opacity,
    Nodule or mass`` (``YES``/``NO``, the adjudicated consensus) and ``Set Id``.

    **Labels**: ``Lung Opacity`` (from ``Airspace opacity``), ``Fracture``,
    ``Nodule/Mass`` (from ``Nodule or mass``), ``Pneumothorax``; 1 = YES, 0 = NO.

    **Common columns**: ``patientid`` (``Patient ID`` as text), ``offset_day_int`` (NaN),
    ``view`` (``View Position``), ``has_masks`` (False: no boxes).

    **Unique patients** (default): the first image (file order) of each patient, ordered
    by patient id; every kept row is a real row.

    **Citation**: Majkowska et al., "Chest Radiograph Interpretation with Deep Learning
    Models", Radiology 2019; Wang et al., CVPR 2017 (the images).

    Args:
        imgpath: folder of the NIH PNGs.
        csvpath: label file, or a list of them (default: the shipped merged copy).
        views: views to keep (``"*"`` or ``None`` for all).
        transform: applied to each sample.
        data_aug: applied after ``transform``.
        nrows: read only this many rows (of each file).
        seed: kept for compatibility; construction is not random.
        unique_patients: keep one image per patient.
        strict: raise on metadata problems instead of one warning (see :class:`NIH_Dataset`).

    Raises:
        MissingMetadataError: a metadata path does not exist.
        MetadataError: a file lacks a needed column or holds an unexpected label value.
        MissingImageError: ``imgpath`` is not a folder.
        UnknownNameError: a requested view is not PA or AP.
    """

    dataset_url = "https://cloud.google.com/healthcare/docs/resources/public-datasets/nih-chest"
    known_views = NIH_GOOGLE_VIEWS
    image_hint = _DOWNLOAD_HINT
    metadata_files = {"csvpath": "nih_google"}

    def __init__(
        self,
        imgpath: PathLike,
        csvpath: PathLike | Sequence[PathLike] = USE_INCLUDED_FILE,
        views: str | Iterable[str] | None = ("PA",),
        transform: Transform | None = None,
        data_aug: Transform | None = None,
        nrows: int | None = None,
        seed: int = 0,
        unique_patients: bool = True,
        *,
        strict: bool = False,
    ) -> None:
        super().__init__(imgpath, transform=transform, data_aug=data_aug, seed=seed, strict=strict)
        paths = list(csvpath) if isinstance(csvpath, (list, tuple)) else [csvpath]
        resolved = [self._metadata_path("csvpath", p) for p in paths]
        self.csvpath = resolved[0] if len(resolved) == 1 else resolved
        self.nrows = nrows
        self.unique_patients = bool(unique_patients)

        key = f"{PARSER_VERSION}|nrows={nrows_key(nrows)}"
        tables = [self._load_table([p], lambda p=p: read_google_labels(p, nrows), key) for p in resolved]
        self.csv = tables[0] if len(tables) == 1 else pd.concat(tables, ignore_index=True)
        self.csv["view"] = self.csv["View Position"]
        self._select_rows(views, self.unique_patients, "Patient ID")
        self.csv["patientid"] = self.csv["Patient ID"].astype("str")
        self._finish_csv()
        self._set_labels(*nih_google_labels(self.csv))

    def _image_path(self, index: int) -> Path:
        """Where item ``index``'s file should be (it may be absent)."""
        return self.imgpath / self.csv["Image Index"].iat[index]


__all__ = ["NIH_Google_Dataset", "NIH_GOOGLE_PATHOLOGIES", "nih_google_labels", "read_google_labels"]
