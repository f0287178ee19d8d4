"""Stony Brook COVID-19 RALO: severity scores of COVID-19 chest X-rays by two radiologists."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ._base import Dataset, Transform
from ._files import PathLike, days_since_epoch, read_metadata_csv, require_columns
from ._problems import note_missing

#: The two readers' totals (pandas suffixes the second reader's repeated names with ``.1``).
SCORE_COLUMNS = {
    "Geographic Extent": ("Total GEOGRAPHIC", "Total GEOGRAPHIC.1"),
    "Lung Opacity": ("Total OPACITY", "Total OPACITY.1"),
}
REQUIRED_COLUMNS = ("Subject_ID", "Exam_DateTime", *(c for pair in SCORE_COLUMNS.values() for c in pair))
PARSER_VERSION = "ralo-1"


def read_ralo_metadata(path: PathLike) -> pd.DataFrame:
    """Read ``ralo-dataset-metadata.csv`` (two header lines; the second holds the names).

    Adds ``filename`` = ``<data row number>.jpg`` (the release names each image after its
    0-based row in this file), so the image stays tied to its row after any filtering.
    Rows with no subject or exam date are noted (see :mod:`._problems`).

    Raises:
        MetadataError: the file cannot be parsed.
    """
    csv = read_metadata_csv(path, "StonyBrookCOVID_Dataset", "the RALO metadata", skiprows=1)
    csv["filename"] = [f"{i}.jpg" for i in range(len(csv))]
    note_missing(csv, ("Subject_ID", "Exam_DateTime"), path)
    return csv


def ralo_scores(csv: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Continuous labels: mean of the two readers' totals (0..8), NaN if one is missing.

    Returns:
        ``(labels, ["Geographic Extent", "Lung Opacity"])`` with float32 labels.

    Raises:
        MetadataError: a total column is missing.
    """
    require_columns(csv, [c for pair in SCORE_COLUMNS.values() for c in pair], "the RALO metadata",
                    "StonyBrookCOVID_Dataset")
    columns = []
    for first, second in SCORE_COLUMNS.values():
        a = pd.to_numeric(csv[first], errors="coerce").to_numpy(dtype=np.float64)
        b = pd.to_numeric(csv[second], errors="coerce").to_numpy(dtype=np.float64)
        columns.append((a + b) / 2)
    labels = np.stack(columns, axis=1).astype(np.float32) if columns else np.zeros((len(csv), 0), np.float32)
    return labels, list(SCORE_COLUMNS)


class StonyBrookCOVID_Dataset(Dataset):
    """Stony Brook COVID-19 RALO: 2,373 portable AP chest X-rays with severity scores.

    **Source**: https://doi.org/10.5281/zenodo.4633999 (``RALO-Dataset.zip``).
    **Licence**: CC BY-SA 4.0.

    **Layout**: ``imgpath`` = ``CXR_images_scored/`` holding ``<row>.jpg`` (0-based data
    row of the metadata); ``csvpath`` = ``ralo-dataset-metadata.csv``, whose first line is
    column numbers (skipped) and whose second names the columns, repeated for the two
    readers (the second set gets a ``.1`` suffix). ``csv.filename`` holds each row's
    image name, so filtering never misaligns images and labels.

    **Labels** (continuous, not 0/1): ``Geographic Extent`` (0-8) and ``Lung Opacity``
    (0-8), the mean of the two readers' ``Total`` scores (:func:`ralo_scores`).

    **Common columns**: ``patientid`` = ``Subject_ID``, ``offset_day_int`` = days since
    1970-01-01 of the exam date (``Exam_DateTime`` before ``_``), ``view`` = ``AP``.

    **Citation**: Cohen et al., "Predicting COVID-19 Pneumonia Severity on Chest X-ray
    with Deep Learning", Cureus 2020; Cohen et al., "Radiographic Assessment of Lung
    Opacity Score Dataset", Zenodo 2021.

    Args:
        imgpath: the ``CXR_images_scored`` folder.
        csvpath: ``ralo-dataset-metadata.csv``.
        transform: applied to each sample.
        data_aug: applied after ``transform``.
        views: views to keep (every image is ``AP``).
        seed: kept for compatibility; construction is not random.
        strict: raise on metadata problems (rows without subject or date) instead of one warning.

    Raises:
        MissingMetadataError: ``csvpath`` does not exist.
        MetadataError: a needed column is missing.
    """

    known_views = ("AP",)
    image_hint = "imgpath must be the CXR_images_scored folder of the RALO release"
    metadata_hint = "it is ralo-dataset-metadata.csv of the Zenodo RALO release"
    metadata_files = {"csvpath": None}
    continuous_labels = True
    _printed_fields = ()
    card = {
        "source": "https://doi.org/10.5281/zenodo.4633999",
        "licence": "CC BY-SA 4.0",
        "layout": "imgpath/<row>.jpg; csvpath = ralo-dataset-metadata.csv",
        "labels": "Geographic Extent, Lung Opacity (continuous 0-8)",
    }

    def __init__(
        self,
        imgpath: PathLike,
        csvpath: PathLike,
        transform: Transform | None = None,
        data_aug: Transform | None = None,
        views: str | Iterable[str] | None = ("AP",),
        seed: int = 0,
        *,
        strict: bool = False,
    ) -> None:
        super().__init__(imgpath, transform=transform, data_aug=data_aug, seed=seed, strict=strict)
        self.csvpath = self._metadata_path("csvpath", csvpath)
        csv = self._load_table([self.csvpath], lambda: read_ralo_metadata(self.csvpath), PARSER_VERSION)
        require_columns(csv, REQUIRED_COLUMNS, self.csvpath, type(self).__name__)
        csv["patientid"] = csv["Subject_ID"].astype(str)
        exam_date = csv["Exam_DateTime"].astype(str).str.split("_", n=1).str[0]
        csv["offset_day_int"] = days_since_epoch(pd.to_datetime(exam_date, format="%Y%m%d", errors="coerce"))
        csv["view"] = "AP"
        self.csv = csv
        # Filter first, then label the rows that remain (the reference labels first).
        self.limit_to_selected_views(views)
        self._finish_csv()
        self._set_labels(*ralo_scores(self.csv))

    def _image_path(self, index: int) -> Path:
        """Where the image of row ``index`` should be (it may be missing)."""
        return self.imgpath / str(self.csv["filename"].iat[index])
