"""CheXpert (Stanford ML Group): ``CheX_Dataset``."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._base import Dataset
from ._bytes_columns import is_bytes_column
from ._chexpert_labels import CHEXPERT_PATHOLOGIES, CHEXPERT_SOURCE_FINDINGS, NO_FINDING, chexpert_label_matrix
from ._files import require_columns
from ._lean_csv import read_lean_csv
from ._shipped import metadata_path
from ._table_cache import load_table
from ._vocabulary import USE_INCLUDED_FILE

#: Bump whenever :func:`parse_chexpert_table` changes its output (invalidates the cache).
PARSER_VERSION = "chexpert-table-4"
#: Prefixes of ``Path`` in the official CSVs; removed to get the path below ``imgpath``.
PATH_PREFIXES = ("CheXpert-v1.0-small/", "CheXpert-v1.0/")
#: Columns read from the CSV (others are ignored: the official file has no others).
CHEXPERT_COLUMNS = ("Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", NO_FINDING, *CHEXPERT_SOURCE_FINDINGS)
REQUIRED_COLUMNS = ("Path", "Frontal/Lateral", "AP/PA")
# Text columns with a few distinct values (read as categories, see _lean_csv).
_TEXT_COLUMNS = ("Sex", "Frontal/Lateral", "AP/PA")
DOWNLOAD_HINT = (
    "CheXpert is distributed by Stanford after registration: "
    "https://stanfordmlgroup.github.io/competitions/chexpert/ ; imgpath must be the folder that "
    "holds train/ and valid/ (e.g. CheXpert-v1.0-small)"
)

# Exactly one match per "\n"-terminated line: the digits of its first "patient<digits>" (the
# rest of the line is consumed), or "" at the newline of a line without one. Scanning for
# the literal is 10x faster than the lazy "^.*?patient(\d+)" (0.03 s vs 0.3 s, 223k paths).
_PATIENT_LINE = re.compile(r"patient(\d+)[^\n]*\n|\n")
# The first "patient<digits>" of a line and the rest of that line (lines without one are skipped).
_PATIENT_FIRST = re.compile(r"patient(\d+)[^\n]*\n")
# Patient ids of up to this many digits are found without decoding the paths (CheXpert's have 5).
_MAX_FAST_DIGITS = 8


def patient_digits(paths: pd.Series) -> pd.Series:
    """The digits after the first ``patient`` in each path (``"00001"``), missing when absent.

    Split-agnostic (``train/``, ``valid/``, ``val/``, ``test/``...), unlike the reference,
    which needs the word ``train`` or ``valid`` in the *csv file name* (bug 5.11). Paths
    given as undecoded bytes (a lean read, see :mod:`._lean_csv`) give bytes ids (an empty
    cell when absent); strings give strings (NaN when absent).
    """
    if is_bytes_column(paths):
        return pd.Series(_patient_digit_bytes(paths.to_numpy()), index=paths.index)
    return _patient_digit_strings(paths)


def _patient_digit_bytes(paths: np.ndarray) -> np.ndarray:
    """:func:`patient_digits` of a bytes array, vectorised: no string is decoded except for
    the rare path whose first ``patient`` is not followed by 1-7 digits."""
    n, width = len(paths), paths.dtype.itemsize
    cells = paths.view(np.uint8).reshape(n, width)
    start = np.strings.find(paths, b"patient") + len("patient")
    found = start >= len("patient")
    digits = np.zeros((n, _MAX_FAST_DIGITS), dtype=np.uint8)
    starts = start[found]
    if len(starts) and starts.min() == starts.max():  # one offset, as in CheXpert: one slice
        span = cells[:, starts[0] : starts[0] + _MAX_FAST_DIGITS]
        digits[:, : span.shape[1]] = span
        digits[~found] = 0
    else:
        for offset in np.unique(starts).tolist():
            rows = np.flatnonzero(found & (start == offset))
            span = cells[rows, offset : offset + _MAX_FAST_DIGITS]
            digits[rows, : span.shape[1]] = span
    is_digit = (digits - np.uint8(ord("0"))) < 10
    count = np.where(is_digit.all(axis=1), _MAX_FAST_DIGITS, np.argmin(is_digit, axis=1))
    digits[np.arange(_MAX_FAST_DIGITS) >= count[:, None]] = 0
    out = digits.view(f"S{_MAX_FAST_DIGITS}").ravel()
    slow = np.flatnonzero(found & ((count == 0) | (count == _MAX_FAST_DIGITS)))
    if not len(slow):
        return out.astype(f"S{max(int(count.max(initial=0)), 1)}")
    # A later "patient<digits>", or a longer id: the regex on those paths only.
    text = pd.Series([cell.decode("utf-8", "replace") for cell in paths[slow].tolist()], dtype="str")
    redone = [b"" if isinstance(v, float) else v.encode("ascii") for v in _patient_digit_strings(text).tolist()]
    width = max(max(map(len, redone)), int(count.max(initial=0)), 1)
    out = out.astype(f"S{width}")
    out[slow] = redone
    return out


def _patient_digit_strings(paths: pd.Series) -> pd.Series:
    values = paths.to_numpy(dtype=object, na_value="")
    if not len(values):
        return pd.Series([], dtype="str", index=paths.index)
    # One regex pass over all lines at once: each line start yields exactly one match.
    strings = pd.api.types.infer_dtype(values, skipna=False) == "string"
    text = "\n".join(values) + "\n" if strings else ""
    if not strings or text.count("\n") != len(values):  # a path holding a newline: slow path
        return paths.str.extract(r"patient(\d+)", expand=False).astype("str")
    # Usual case first: every line has a "patient<digits>" (at most one match per line, so
    # as many matches as lines means one each); the literal-led pattern is 2x faster.
    found = _PATIENT_FIRST.findall(text)
    if len(found) == len(values):
        return pd.Series(found, dtype="str", index=paths.index)
    out = pd.Series(_PATIENT_LINE.findall(text), dtype="str", index=paths.index)
    return out.mask(out == "")


def chexpert_views(frontal_lateral: pd.Series, ap_pa: pd.Series) -> pd.Series:
    """``view`` of each row: the ``AP/PA`` value for frontal images, ``L`` for laterals.

    A frontal image with a blank ``AP/PA`` has no view (it becomes ``UNKNOWN``). Text or
    category columns (a lean read compares categories 200x faster than text).
    """
    frontal = (frontal_lateral == "Frontal").to_numpy(dtype=bool)
    lateral = np.where(frontal, ap_pa == "Lateral", frontal_lateral == "Lateral")
    view = np.where(
        frontal, ap_pa.to_numpy(dtype=object, na_value=np.nan), frontal_lateral.to_numpy(dtype=object, na_value=np.nan)
    )
    view[lateral] = "L"
    return pd.Series(pd.array(view, dtype="str"), index=frontal_lateral.index)


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

    Pure function of the file (cached by :func:`~._table_cache.load_table`). Label columns
    are kept raw (1, 0, -1, blank); the label matrix is built after row selection.

    Raises:
        MetadataError: a required column is missing.
    """
    wanted = set(CHEXPERT_COLUMNS)
    table = read_lean_csv(
        path, "CheX_Dataset", "a CheXpert CSV", usecols=lambda c: c in wanted,
        bytes_columns=["Path"], text_columns=_TEXT_COLUMNS, text_as_categories=True,
    )  # fmt: skip
    require_columns(table, REQUIRED_COLUMNS, path, "CheX_Dataset")
    table["view"] = chexpert_views(table["Frontal/Lateral"], table["AP/PA"])
    table["patientid"] = patient_digits(table["Path"])
    add_demographics(table)
    table["offset_day_int"] = np.nan  # CheXpert releases no study dates
    table["has_masks"] = False
    return table  # the text columns stay categories until the rows are chosen (_finish_csv)


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

    Example (the paper's Table 1 has 191,010 frontal training images)::

        d = CheX_Dataset(imgpath="CheXpert-v1.0-small", views=["PA", "AP"], unique_patients=False)
    """

    known_views = ("PA", "AP", "L", "LL", "RL")
    image_hint = DOWNLOAD_HINT

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
    ) -> None:
        super().__init__(transform=transform, data_aug=data_aug, seed=seed)
        self.imgpath = imgpath
        self.csvpath = metadata_path(csvpath, "chexpert_train", "csvpath", "CheX_Dataset", DOWNLOAD_HINT)
        self.flat_dir = flat_dir
        # Path and patientid stay bytes until the rows are selected (see _lean_csv)
        self.csv = load_table(self.csvpath, parse_chexpert_table, key=PARSER_VERSION)
        self.limit_to_selected_views(views)
        if unique_patients:
            self.keep_one_image_per_patient()
        self._finish_csv()
        labels = chexpert_label_matrix(self.csv, source=str(self.csvpath))
        self._set_labels(labels, CHEXPERT_PATHOLOGIES)

    def _image_path(self, index: int) -> Path:
        """Where item ``index``'s file should be (it may be absent)."""
        return Path(self.imgpath) / image_relative_path(str(self.csv["Path"].iat[index]))
