"""CheXpert (Stanford ML Group): ``CheX_Dataset``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ._base import Dataset
from ._chexpert_labels import CHEXPERT_PATHOLOGIES, CHEXPERT_SOURCE_FINDINGS, NO_FINDING, chexpert_label_matrix
from ._files import read_csv_arrow, require_columns
from ._problems import drop_duplicate_rows, note_missing, note_unknown_views
from ._vocabulary import USE_INCLUDED_FILE

#: Bump whenever :func:`parse_chexpert_table` changes its output (invalidates the cache).
PARSER_VERSION = "chexpert-table-5"
#: Prefixes of ``Path`` in the official CSVs; removed to get the path below ``imgpath``.
PATH_PREFIXES = ("CheXpert-v1.0-small/", "CheXpert-v1.0/")
#: Columns read from the CSV (others are ignored: the official file has no others).
CHEXPERT_COLUMNS = ("Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", NO_FINDING, *CHEXPERT_SOURCE_FINDINGS)
REQUIRED_COLUMNS = ("Path", "Frontal/Lateral", "AP/PA")
#: Values of the two view columns (``Lateral`` in ``AP/PA`` also means a lateral image).
FRONTAL_LATERAL_VALUES = ("Frontal", "Lateral")
AP_PA_VALUES = ("AP", "PA", "LL", "RL", "Lateral")
DOWNLOAD_HINT = (
    "CheXpert is distributed by Stanford after registration: "
    "https://stanfordmlgroup.github.io/competitions/chexpert/ ; imgpath must be the folder that "
    "holds train/ and valid/ (e.g. CheXpert-v1.0-small)"
)


def patient_digits(paths: pd.Series) -> pd.Series:
    """The digits after the first ``patient`` in each path (``"00001"``), missing when absent.

    Split-agnostic (``train/``, ``valid/``, ``val/``, ``test/``...), unlike the reference,
    which needs the word ``train`` or ``valid`` in the *csv file name* (bug 5.11).
    """
    # pyarrow's regex kernel: pandas' str.extract runs Python per row (10x slower)
    found = pc.extract_regex(pa.array(paths.astype("str")), r"patient(?P<digits>\d+)")
    return pd.Series(pc.struct_field(found, "digits").to_pandas(), index=paths.index).astype("str")


def chexpert_views(frontal_lateral: pd.Series, ap_pa: pd.Series) -> pd.Series:
    """``view`` of each row: the ``AP/PA`` value for frontal images, ``L`` for laterals.

    A frontal image with a blank ``AP/PA`` has no view (it becomes ``UNKNOWN``).
    """
    frontal = (frontal_lateral == "Frontal").to_numpy(dtype=bool, na_value=False)
    lateral = np.where(frontal, (ap_pa == "Lateral").to_numpy(dtype=bool, na_value=False),
                       (frontal_lateral == "Lateral").to_numpy(dtype=bool, na_value=False))  # fmt: skip
    view = ap_pa.astype("str").where(frontal, frontal_lateral.astype("str"))
    return view.mask(lateral, "L")


def add_demographics(table: pd.DataFrame) -> None:
    """Add ``age_years`` (NaN for a missing or 0 age, fix 5.9) and ``sex_male``/``sex_female``."""
    if "Age" in table.columns:
        age = pd.to_numeric(table["Age"], errors="coerce").astype("float64")
        table["age_years"] = age.mask(age == 0)
    else:
        table["age_years"] = np.nan
    sex = table["Sex"] if "Sex" in table.columns else pd.Series(np.nan, index=table.index, dtype="str")
    table["sex_male"] = (sex == "Male").to_numpy()
    table["sex_female"] = (sex == "Female").to_numpy()


def parse_chexpert_table(path: Path) -> pd.DataFrame:
    """Read a CheXpert-format CSV and add ``view``, ``patientid`` and demographic columns.

    Pure function of the file (cached by the parsed-table cache). Label columns are kept
    raw (1, 0, -1, blank); the label matrix is built after row selection. Blank paths or
    views, unknown view spellings and repeated rows are noted (see :mod:`._problems`); a
    row repeated exactly is removed.

    Raises:
        MetadataError: a required column is missing.
    """
    table = read_csv_arrow(path, "CheX_Dataset", "a CheXpert CSV", text=("Path", "Sex", "Frontal/Lateral", "AP/PA"))
    table = table[[c for c in table.columns if c in CHEXPERT_COLUMNS]]  # the official files have no others
    require_columns(table, REQUIRED_COLUMNS, path, "CheX_Dataset")
    note_missing(table, ("Path", "Frontal/Lateral"), path)
    note_unknown_views(table, "Frontal/Lateral", FRONTAL_LATERAL_VALUES, path)
    note_unknown_views(table, "AP/PA", AP_PA_VALUES, path)
    table = drop_duplicate_rows(table, path, key=["Path"])
    table["view"] = chexpert_views(table["Frontal/Lateral"], table["AP/PA"])
    table["patientid"] = patient_digits(table["Path"])
    add_demographics(table)
    table["offset_day_int"] = np.nan  # CheXpert releases no study dates
    table["has_masks"] = False
    return table


def image_relative_path(path: str) -> str:
    """``Path`` of the CSV without its release prefix (the part below ``imgpath``)."""
    for prefix in PATH_PREFIXES:
        if path.startswith(prefix):
            return path[len(prefix) :]
    return path


class CheX_Dataset(Dataset):
    """CheXpert: 224,316 chest radiographs of 65,240 patients (Stanford Hospital, 2002-2017).

    **Source**: Irvin et al., "CheXpert: A Large Chest Radiograph Dataset with Uncertainty
    Labels and Expert Comparison", AAAI 2019.
    https://stanfordmlgroup.github.io/competitions/chexpert/

    **Licence**: Stanford University School of Medicine CheXpert Dataset Research Use
    Agreement (non-commercial research; no redistribution). Register on the site above.

    **Layout**: ``imgpath`` is the release folder (``CheXpert-v1.0-small`` or
    ``CheXpert-v1.0``) holding ``train/patientNNNNN/studyN/viewN_frontal.jpg`` and
    ``valid/...``; the CSV ``Path`` column starts with the release folder name, which is
    removed. ``csvpath`` defaults to the reference's shipped copy of the small release's
    ``train.csv`` (223,414 rows; downloaded into the cache and verified on first use).

    **Labels**: the 13 CheXpert findings (``Pleural Effusion`` renamed ``Effusion``), from
    the CheXpert labeller: 1 positive, 0 negative, NaN uncertain (-1) or not mentioned.
    Rows with ``No Finding`` = 1 get 0 for every finding except Support Devices (see
    :mod:`._chexpert_labels`). 8-bit JPEGs, scaled by 255.

    **Views**: ``PA``, ``AP`` (from ``AP/PA`` for frontal images), ``L`` (lateral), and the
    rare ``LL``/``RL``; a frontal image without ``AP/PA`` is ``UNKNOWN``.

    **Common columns**: ``patientid`` = the digits of the ``patientNNNNN`` folder;
    ``offset_day_int`` = NaN (no dates released); ``age_years`` (NaN for age 0);
    ``sex_male``/``sex_female``.

    Args:
        imgpath: release folder (see Layout).
        csvpath: CSV in the official format; default: the shipped train.csv.
        views: views to keep (``"*"`` for all).
        transform, data_aug: callables applied to each sample (see :class:`Dataset`).
        flat_dir: accepted for compatibility; unused (as in the reference).
        seed: accepted for compatibility; construction is deterministic and never touches
            global random state.
        unique_patients: keep one image per patient (the first in file order).
        strict: raise on metadata problems (blank paths or views, unknown view
            spellings, repeated rows) instead of one warning.

    Example (the paper's Table 1 has 191,010 frontal training images)::

        d = CheX_Dataset(imgpath="CheXpert-v1.0-small", views=["PA", "AP"], unique_patients=False)
    """

    known_views = ("PA", "AP", "L", "LL", "RL")
    image_hint = DOWNLOAD_HINT
    metadata_files = {"csvpath": "chexpert_train"}

    def __init__(
        self,
        imgpath: str | Path,
        csvpath: str | Path = USE_INCLUDED_FILE,
        views: str | Iterable[str] | None = ["PA"],  # noqa: B006 - reference signature; never mutated
        transform: Any = None,
        data_aug: Any = None,
        flat_dir: bool = True,
        seed: int = 0,
        unique_patients: bool = True,
        *,
        strict: bool = False,
    ) -> None:
        super().__init__(imgpath, transform=transform, data_aug=data_aug, seed=seed, strict=strict)
        self.csvpath = self._metadata_path("csvpath", csvpath)
        self.flat_dir = flat_dir
        self.csv = self._load_table([self.csvpath], lambda: parse_chexpert_table(self.csvpath), PARSER_VERSION)
        self._select_rows(views, unique_patients)
        self._finish_csv()
        labels = chexpert_label_matrix(self.csv, source=str(self.csvpath))
        self._set_labels(labels, CHEXPERT_PATHOLOGIES)

    def _image_path(self, index: int) -> Path:
        """Where the image of row ``index`` should be (it may be missing)."""
        return self.imgpath / image_relative_path(self.csv["Path"].iat[index])
