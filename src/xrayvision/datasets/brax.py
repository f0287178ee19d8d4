"""BRAX, Brazilian labelled chest X-ray dataset (Hospital Israelita Albert Einstein): ``BRAX_Dataset``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._base import Dataset
from ._chexpert_labels import CHEXPERT_PATHOLOGIES, CHEXPERT_SOURCE_FINDINGS, NO_FINDING, chexpert_label_matrix
from ._demographics import add_sex_columns, age_years
from ._files import read_metadata_csv, require_columns
from ._problems import drop_duplicate_rows, note_missing

PARSER_VERSION = "brax-table-2"
REQUIRED_COLUMNS = ("PngPath", "PatientID", "ViewPosition", "Rows", "Columns")
OPTIONAL_COLUMNS = ("PatientAge", "PatientSex", NO_FINDING, *CHEXPERT_SOURCE_FINDINGS)
DOWNLOAD_HINT = (
    "BRAX needs credentialed PhysioNet access: https://physionet.org/content/brax/1.1.0/ ; "
    "imgpath must be the release's images/ folder"
)


def parse_brax_table(path: Path) -> pd.DataFrame:
    """Read ``master_spreadsheet_update.csv`` (needed columns) and add the common columns.

    Blank paths or patients and images listed twice are noted (see :mod:`._problems`); a
    row repeated exactly is removed.
    """
    wanted = {*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS}
    table = read_metadata_csv(path, "BRAX_Dataset", "the master spreadsheet", usecols=lambda c: c in wanted,
                              dtype={"PatientID": "str", "PatientAge": "str"})  # fmt: skip
    require_columns(table, REQUIRED_COLUMNS, path, "BRAX_Dataset")
    note_missing(table, ("PngPath", "PatientID"), path)
    table = drop_duplicate_rows(table, path, key=["PngPath"])
    table["view"] = table["ViewPosition"]
    table["patientid"] = table["PatientID"]
    # 5-year groups given by their lower bound; the top group "85 or more" -> 85.
    table["age_years"] = age_years(table["PatientAge"]) if "PatientAge" in table else np.nan
    add_sex_columns(table, "PatientSex")
    table["offset_day_int"] = np.nan  # BRAX releases no dates
    table["has_masks"] = False
    return table


def image_relative_path(png_path: str) -> str:
    """``PngPath`` without its first ``images/`` (the part below ``imgpath``)."""
    return png_path.replace("images/", "", 1)


class BRAX_Dataset(Dataset):
    """BRAX: 40,967 chest X-rays of 18,442 patients (Hospital Israelita Albert Einstein, São Paulo).

    **Source**: Reis et al., "BRAX, Brazilian labeled chest x-ray dataset", Scientific Data 9,
    487 (2022); PhysioNet https://physionet.org/content/brax/1.1.0/

    **Licence**: PhysioNet Credentialed Health Data License 1.5.0 (credentialed access; no
    redistribution). Nothing is shipped.

    **Layout**: ``imgpath`` = the release's ``images/`` folder (a PNG tree); ``csvpath`` =
    ``master_spreadsheet_update.csv``, whose ``PngPath`` starts with ``images/``.

    **Labels**: the 13 CheXpert-labeller findings (``Pleural Effusion`` -> ``Effusion``): 1, 0,
    NaN (uncertain or blank); ``No Finding`` rows get 0 except Support Devices (one rule for
    all CheXpert-labelled sources). 8-bit PNGs, scaled by 255.

    **Rows**: images whose longer side exceeds ``max_aspect_ratio`` times the shorter are
    removed (thin strips; counted in ``skipped``). With ``unique_patients`` the first row of
    each patient in file order is kept, ordered by ``PatientID`` like every other dataset (the
    reference keeps file order).

    **Views**: ``ViewPosition`` (``PA``, ``AP``, ``L``, ...); about a quarter are blank
    (``UNKNOWN``).

    **Common columns**: ``patientid`` = ``PatientID``; ``offset_day_int`` = NaN (no dates);
    ``age_years`` = lower bound of the 5-year ``PatientAge`` group (``85 or more`` -> 85);
    ``sex_male``/``sex_female``.

    Args:
        imgpath: the ``images/`` folder.
        csvpath: ``master_spreadsheet_update.csv``.
        views: views to keep (``"*"`` for all).
        transform, data_aug: callables applied to each sample (see :class:`Dataset`).
        seed: accepted for compatibility; construction never touches global random state.
        unique_patients: keep one image per patient.
        max_aspect_ratio: drop images more elongated than this (``None`` keeps all).
        strict: raise on metadata problems (blank paths or patients, repeated images)
            instead of one warning.
    """

    known_views = None  # ViewPosition is free DICOM text
    image_hint = DOWNLOAD_HINT
    metadata_files = {"csvpath": None}

    def __init__(
        self,
        imgpath: str | Path,
        csvpath: str | Path,
        views: str | Iterable[str] | None = ["PA"],  # noqa: B006 - reference signature; never mutated
        transform: Any = None,
        data_aug: Any = None,
        seed: int = 0,
        unique_patients: bool = True,
        max_aspect_ratio: float | None = 10,
        *,
        strict: bool = False,
    ) -> None:
        super().__init__(imgpath, transform=transform, data_aug=data_aug, seed=seed, strict=strict)
        self.csvpath = self._metadata_path("csvpath", csvpath)
        self.max_aspect_ratio = max_aspect_ratio
        self.csv = self._load_table([self.csvpath], lambda: parse_brax_table(self.csvpath), PARSER_VERSION)
        self.limit_to_selected_views(views)
        if max_aspect_ratio is not None:
            sides = self.csv[["Rows", "Columns"]].to_numpy(dtype=np.float64)
            ratio = sides.max(axis=1) / sides.min(axis=1)
            too_thin = ratio > max_aspect_ratio
            self._count_skip(f"aspect ratio above {max_aspect_ratio}", int(too_thin.sum()))
            self.csv = self.csv[~too_thin]
        if unique_patients:
            self.keep_one_image_per_patient()
        self._finish_csv()
        self._set_labels(chexpert_label_matrix(self.csv, source=str(self.csvpath)), CHEXPERT_PATHOLOGIES)

    def _image_path(self, index: int) -> Path:
        """Where the image of row ``index`` should be (it may be missing)."""
        return self.imgpath / image_relative_path(str(self.csv["PngPath"].iat[index]))
