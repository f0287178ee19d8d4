"""PadChest (BIMCV, Hospital San Juan, Alicante): ``PC_Dataset``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ._base import Dataset
from ._files import read_csv_arrow
from ._problems import drop_duplicate_rows, note_missing, note_unknown_views
from ._vocabulary import USE_INCLUDED_FILE

#: Bump whenever :func:`parse_padchest_table` changes its output (invalidates the cache).
PARSER_VERSION = "padchest-table-6"

#: Label names in column order (alphabetical before ``Tube'`` was renamed ``Tube``).
PADCHEST_PATHOLOGIES: tuple[str, ...] = (
    "Air Trapping", "Aortic Atheromatosis", "Aortic Elongation", "Atelectasis", "Bronchiectasis",
    "Cardiomegaly", "Consolidation", "Costophrenic Angle Blunting", "Edema", "Effusion",
    "Emphysema", "Fibrosis", "Flattened Diaphragm", "Fracture", "Granuloma",
    "Hemidiaphragm Elevation", "Hernia", "Hilar Enlargement", "Infiltration", "Mass", "Nodule",
    "Pleural_Thickening", "Pneumonia", "Pneumothorax", "Scoliosis", "Support Devices", "Tube",
    "Tuberculosis",
)  # fmt: skip

#: Extra search patterns per label, besides the lower-cased label name itself. ``tube'`` and
#: ``stent'`` end with the closing quote of a list item: "a finding whose last word is tube".
PADCHEST_SYNONYMS: dict[str, tuple[str, ...]] = {
    "Infiltration": (
        "infiltrates", "interstitial pattern", "ground glass pattern", "reticular interstitial pattern",
        "reticulonodular interstitial pattern", "alveolar pattern", "consolidation", "air bronchogram",
    ),
    "Pleural_Thickening": ("pleural thickening",),
    "Consolidation": ("air bronchogram",),
    "Hilar Enlargement": ("adenopathy", "pulmonary artery enlargement"),
    "Support Devices": ("device", "pacemaker"),
    "Tube": ("tube'", "stent'"),
}  # fmt: skip


def padchest_patterns(name: str) -> tuple[str, ...]:
    """Substrings whose presence in the raw ``Labels`` text makes ``name`` positive."""
    own = () if name == "Tube" else (name.lower(),)  # "tube" alone would match "tuberculosis"
    return own + PADCHEST_SYNONYMS.get(name, ())



#: Images the reference skips: unreadable or absent in the official release (all 21 are
#: rows of the shipped CSV). Rows naming them are removed and counted in ``skipped``.
PADCHEST_BAD_IMAGES: frozenset[str] = frozenset({
    "216840111366964012819207061112010307142602253_04-014-084.png",
    "216840111366964012989926673512011074122523403_00-163-058.png",
    "216840111366964012959786098432011033083840143_00-176-115.png",
    "216840111366964012558082906712009327122220177_00-102-064.png",
    "216840111366964012339356563862009072111404053_00-043-192.png",
    "216840111366964013076187734852011291090445391_00-196-188.png",
    "216840111366964012373310883942009117084022290_00-064-025.png",
    "216840111366964012283393834152009033102258826_00-059-087.png",
    "216840111366964012373310883942009170084120009_00-097-074.png",
    "216840111366964012819207061112010315104455352_04-024-184.png",
    "216840111366964012819207061112010306085429121_04-020-102.png",
    "216840111366964012989926673512011083134050913_00-168-009.png",
    "216840111366964012373310883942009152114636712_00-102-045.png",
    "216840111366964012819207061112010281134410801_00-129-131.png",
    "216840111366964012487858717522009280135853083_00-075-001.png",
    "216840111366964012989926673512011151082430686_00-157-045.png",
    "216840111366964013686042548532013208193054515_02-026-007.png",
    "216840111366964013590140476722013058110301622_02-056-111.png",
    "216840111366964013590140476722013043111952381_02-065-198.png",
    "216840111366964013829543166512013353113303615_02-092-190.png",
    "216840111366964013962490064942014134093945580_01-178-104.png",
})  # fmt: skip

#: Patients born in this year or later are removed (the reference keeps 2019 - birth > 10).
FIRST_EXCLUDED_BIRTH_YEAR = 2009
PADCHEST_COLUMNS = ("ImageID", "PatientID", "Projection", "Labels", "PatientBirth", "StudyDate_DICOM", "PatientSex_DICOM")
#: Values of ``Projection`` in the release.
PADCHEST_PROJECTIONS = ("PA", "L", "AP_horizontal", "AP", "COSTAL", "EXCLUDE", "UNK")
#: Why a row is removed; the first reason that applies counts.
DROP_REASONS = (
    "no Labels",
    "unreadable image (reference's list)",
    "no PatientBirth",
    f"born in {FIRST_EXCLUDED_BIRTH_YEAR} or later",
)
DOWNLOAD_HINT = (
    "PadChest images: https://bimcv.cipf.es/bimcv-projects/padchest/ (or the academictorrents "
    "copies); imgpath must be one flat folder holding every <ImageID>.png"
)


def padchest_label_matrix(labels_text: pd.Series) -> np.ndarray:
    """Label matrix of PadChest ``Labels`` strings (reference rule; pure).

    A label is 1 when its lower-cased name or one of its synonyms
    (:data:`PADCHEST_SYNONYMS`) occurs as a **substring** of the raw, case-sensitive text,
    as in the reference and therefore in the published models' training labels (so
    ``Effusion`` includes "pericardial effusion", ``Emphysema`` "subcutaneous emphysema"; see
    docs/differences.md for the counts). Missing text gives 0.

    Each text is a list of findings (``"['pleural effusion', ' laminar atelectasis']"``).
    No pattern holds a comma or starts with a space (a test keeps it so), so a pattern
    occurs in a text exactly when it occurs in one of the text's ``", "``-separated pieces:
    the patterns are matched once per distinct piece (about a thousand), not per distinct
    text (29k), then OR-ed.

    Returns:
        uint8 array ``(len(labels_text), 28)`` in :data:`PADCHEST_PATHOLOGIES` order.
    """
    codes, texts = pd.factorize(labels_text, use_na_sentinel=True)
    lists = pc.split_pattern(pa.array(np.asarray(texts, dtype=object), pa.string()), ", ")
    pieces = pc.list_flatten(lists).dictionary_encode()  # each distinct piece once
    distinct = pieces.dictionary.to_pylist()
    hits = np.zeros((len(distinct), len(PADCHEST_PATHOLOGIES)), dtype=np.uint8)
    for j, name in enumerate(PADCHEST_PATHOLOGIES):
        for pattern in padchest_patterns(name):
            hits[:, j] |= np.fromiter((pattern in piece for piece in distinct), dtype=bool, count=len(distinct))
    table = np.zeros((len(texts) + 1, len(PADCHEST_PATHOLOGIES)), dtype=np.uint8)  # last row: missing
    if len(texts):  # a text's pieces are consecutive: OR them by reduceat at each list's start
        table[:-1] = np.maximum.reduceat(hits[pieces.indices.to_numpy()], lists.offsets.to_numpy()[:-1])
    return table[codes]


def yyyymmdd_to_days(values: pd.Series) -> np.ndarray:
    """Whole days since 1970-01-01 of ``YYYYMMDD`` numbers; NaN for missing or invalid dates.

    Plain calendar arithmetic (fix 5.7: the reference's nanosecond division is off by 1000x
    on pandas 3).
    """
    number = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    valid = np.isfinite(number) & (number >= 1000_01_01) & (number <= 9999_12_31) & (number % 1 == 0)
    whole = np.where(valid, number, 1970_01_01).astype(np.int64)
    year, month, day = whole // 10000, whole // 100 % 100, whole % 100
    valid &= (month >= 1) & (month <= 12) & (day >= 1)
    month_start = ((year - 1970) * 12 + np.clip(month, 1, 12) - 1).astype("datetime64[M]")
    next_month = month_start + np.timedelta64(1, "M")
    length = (next_month.astype("datetime64[D]") - month_start.astype("datetime64[D]")).astype(np.int64)
    valid &= day <= length
    days = month_start.astype("datetime64[D]").astype(np.int64) + day - 1
    return np.where(valid, days, np.nan)


def parse_padchest_table(path: Path) -> pd.DataFrame:
    """Read the PadChest CSV (needed columns only) and add views, dates, ages and sexes.

    Pure function of the file (cached by the parsed-table cache). Blank ids or views,
    unknown projections and repeated rows are noted (see :mod:`._problems`); a row
    repeated exactly is removed.

    Raises:
        MetadataError: a needed column is missing.
    """
    text = ("ImageID", "PatientID", "Projection", "Labels", "PatientSex_DICOM")
    table = read_csv_arrow(path, "PC_Dataset", "the PadChest CSV", PADCHEST_COLUMNS, text)
    note_missing(table, ("ImageID", "PatientID", "Projection"), path)
    note_unknown_views(table, "Projection", PADCHEST_PROJECTIONS, path)
    table = drop_duplicate_rows(table, path, key=["ImageID"])
    table["view"] = table["Projection"].mask(table["Projection"] == "AP_horizontal", "AP Supine")
    table["offset_day_int"] = yyyymmdd_to_days(table["StudyDate_DICOM"])
    birth = pd.to_numeric(table["PatientBirth"], errors="coerce").astype("float64")
    study_year = np.floor(pd.to_numeric(table["StudyDate_DICOM"], errors="coerce") / 10000)
    table["age_years"] = study_year - birth  # age at the study (fix 5.8)
    table["sex_male"] = (table["PatientSex_DICOM"] == "M").to_numpy()
    table["sex_female"] = (table["PatientSex_DICOM"] == "F").to_numpy()
    table["has_masks"] = False
    return table


def drop_reasons(table: pd.DataFrame) -> np.ndarray:
    """Per row, 1 + the index in :data:`DROP_REASONS` of the first reason to remove it, or 0."""
    birth = table["PatientBirth"]
    reasons = (
        table["Labels"].isna(),
        table["ImageID"].isin(list(PADCHEST_BAD_IMAGES)),
        birth.isna(),
        birth >= FIRST_EXCLUDED_BIRTH_YEAR,
    )
    codes = np.zeros(len(table), dtype=np.int8)
    for code, rows in reversed(list(enumerate(reasons, start=1))):
        codes[rows.to_numpy(dtype=bool, na_value=False)] = code
    return codes


class PC_Dataset(Dataset):
    """PadChest: 160,861 chest X-rays of 67,625 patients (Hospital San Juan, Alicante, 2009-2017).

    **Source**: Bustos et al., "PadChest: A large chest x-ray image dataset with multi-label
    annotated reports", Medical Image Analysis 66, 2020.
    https://bimcv.cipf.es/bimcv-projects/padchest/

    **Licence**: BIMCV PadChest Dataset Research Use Agreement (CC BY-SA 4.0 with research
    use terms); register on the site above. Cite the paper.

    **Layout**: ``imgpath`` is ONE flat folder holding every ``<ImageID>`` PNG (the release's
    numbered sub-folders, column ``ImageDir``, are not used). Originals are 16-bit PNGs and are
    scaled by 65535; an 8-bit copy is scaled by 255 (the reference would divide it by 65535
    too). ``csvpath`` defaults to the reference's shipped copy of
    ``PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv.gz`` (fetched and verified on
    first use). Only the columns ``ImageID``, ``PatientID``, ``Projection``, ``Labels``,
    ``PatientBirth``, ``StudyDate_DICOM`` and ``PatientSex_DICOM`` are read.

    **Labels**: 28 labels from the radiologists' and NLP-extracted findings in ``Labels``:
    a label is 1 when its name or a synonym occurs as a substring of the finding list (the
    reference rule; see :func:`padchest_label_matrix`), else 0 (never NaN).

    **Rows**: removed and counted in ``skipped``: rows without ``Labels``; the 21 files the
    reference lists as unreadable (:data:`PADCHEST_BAD_IMAGES`); rows without birth year; and
    patients born in 2009 or later (the reference's ``2019 - birth > 10``). Rows are sorted
    by ``ImageID``.

    **Views**: ``PA``, ``L``, ``AP``, ``AP Supine`` (the release's ``AP_horizontal``),
    ``COSTAL``, ``EXCLUDE``, ``UNK``.

    **Common columns**: ``patientid`` = ``PatientID``; ``offset_day_int`` = days since
    1970-01-01 of ``StudyDate_DICOM``; ``age_years`` = study year minus birth year;
    ``sex_male``/``sex_female`` from ``PatientSex_DICOM``.

    Args:
        imgpath: the flat image folder.
        csvpath: the PadChest CSV; default: the reference's shipped copy.
        views: views to keep (``"*"`` for all).
        transform, data_aug: callables applied to each sample (see :class:`Dataset`).
        flat_dir: accepted for compatibility; unused (as in the reference).
        seed: accepted for compatibility; construction never touches global random state.
        unique_patients: keep one image per patient (its first eligible image in file order).
        strict: raise on metadata problems (blank ids or views, unknown projections,
            repeated rows) instead of one warning.
    """

    known_views = ("PA", "L", "AP Supine", "AP", "COSTAL", "EXCLUDE", "UNK")
    image_hint = DOWNLOAD_HINT
    metadata_files = {"csvpath": "padchest"}

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
        self.csv = self._load_table([self.csvpath], lambda: parse_padchest_table(self.csvpath), PARSER_VERSION)
        self.limit_to_selected_views(views)
        drop = drop_reasons(self.csv)
        counts = np.bincount(drop, minlength=len(DROP_REASONS) + 1)
        for code, reason in enumerate(DROP_REASONS, start=1):
            self._count_skip(reason, int(counts[code]))
        self.csv = self.csv[drop == 0]
        if unique_patients:
            self.keep_one_image_per_patient("PatientID")
        self.csv = self.csv.sort_values("ImageID", kind="stable", na_position="first")
        self._finish_csv()
        self.csv["patientid"] = self.csv["PatientID"]
        self._set_labels(padchest_label_matrix(self.csv["Labels"]), PADCHEST_PATHOLOGIES)

    def _image_path(self, index: int) -> Path:
        """Where the image of row ``index`` should be (it may be missing)."""
        return self.imgpath / self.csv["ImageID"].iat[index]
