"""MIMIC-CXR-JPG 2.0.0 (Beth Israel Deaconess Medical Center): ``MIMIC_Dataset``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import MissingImageError
from ._base import Dataset
from ._chexpert_labels import CHEXPERT_PATHOLOGIES, CHEXPERT_SOURCE_FINDINGS, NO_FINDING, chexpert_label_matrix
from ._files import read_metadata_csv, require_columns
from ._problems import drop_duplicate_rows, note_missing
from .padchest import yyyymmdd_to_days

PARSER_VERSION = "mimic-tables-2"
LABEL_KEYS = ("subject_id", "study_id")
META_COLUMNS = ("dicom_id", "subject_id", "study_id", "ViewPosition", "StudyDate")
DOWNLOAD_HINT = (
    "MIMIC-CXR-JPG needs credentialed PhysioNet access: https://physionet.org/content/mimic-cxr-jpg/2.0.0/ ; "
    "imgpath must be the release's files/ folder (files/pNN/pSUBJECT/sSTUDY/DICOM_ID.jpg)"
)


def parse_mimic_labels(path: Path) -> pd.DataFrame:
    """Read ``mimic-cxr-2.0.0-chexpert.csv.gz`` (or ``-negbio``): ids and labeller columns.

    Blank ids and studies listed twice are noted (see :mod:`._problems`); a row repeated
    exactly is removed.
    """
    wanted = {*LABEL_KEYS, NO_FINDING, *CHEXPERT_SOURCE_FINDINGS}
    table = read_metadata_csv(path, "MIMIC_Dataset", "a labeller CSV", usecols=lambda c: c in wanted)
    require_columns(table, LABEL_KEYS, path, "MIMIC_Dataset")
    note_missing(table, LABEL_KEYS, path)
    return drop_duplicate_rows(table, path, key=list(LABEL_KEYS))


def parse_mimic_metadata(path: Path) -> pd.DataFrame:
    """Read ``mimic-cxr-2.0.0-metadata.csv.gz``: one row per image.

    Blank ids and images listed twice are noted (see :mod:`._problems`); a row repeated
    exactly is removed.
    """
    columns = set(META_COLUMNS)
    table = read_metadata_csv(
        path, "MIMIC_Dataset", "the metadata CSV", usecols=lambda c: c in columns, dtype={"dicom_id": "str"}
    )
    require_columns(table, META_COLUMNS, path, "MIMIC_Dataset")
    note_missing(table, ("dicom_id", *LABEL_KEYS), path)
    return drop_duplicate_rows(table, path, key=["dicom_id"])


def join_mimic(labels: pd.DataFrame, metadata: pd.DataFrame) -> pd.DataFrame:
    """One row per image of each labelled study (the reference's left join), in label-file order.

    Adds ``view`` (``ViewPosition``), ``patientid`` (``subject_id`` as text) and
    ``offset_day_int`` (days since 1970-01-01 of the shifted ``StudyDate``; fix 5.6).
    """
    table = labels.merge(metadata, on=list(LABEL_KEYS), how="left", sort=False)
    table["view"] = table["ViewPosition"]
    table["patientid"] = table["subject_id"].astype("str")
    table["offset_day_int"] = yyyymmdd_to_days(table["StudyDate"])
    table["has_masks"] = False
    return table


class MIMIC_Dataset(Dataset):
    """MIMIC-CXR-JPG 2.0.0: 377,110 JPEG chest X-rays of 65,379 patients (BIDMC, Boston, 2011-2016).

    **Source**: Johnson et al., "MIMIC-CXR-JPG, a large publicly available database of labeled
    chest radiographs", arXiv:1901.07042 (2019); PhysioNet
    https://physionet.org/content/mimic-cxr-jpg/2.0.0/

    **Licence**: PhysioNet Credentialed Health Data License 1.5.0 (credentialed access, data
    use agreement, no redistribution). Nothing is shipped; the user supplies every file.

    **Layout**: ``imgpath`` = the ``files`` folder; an image is
    ``files/p<first 2 digits of subject_id>/p<subject_id>/s<study_id>/<dicom_id>.jpg``.
    ``csvpath`` = ``mimic-cxr-2.0.0-chexpert.csv.gz`` (or ``-negbio``; one row per study);
    ``metacsvpath`` = ``mimic-cxr-2.0.0-metadata.csv.gz`` (one row per image).

    **Labels**: the 13 CheXpert-labeller findings (``Pleural Effusion`` renamed
    ``Effusion``): 1, 0, NaN (uncertain or not mentioned); ``No Finding`` studies get 0 for
    every finding except Support Devices, the same rule as CheXpert (the reference also
    zeroes Support Devices here; docs/differences.md). 8-bit JPEGs, scaled by 255.

    **Views**: the metadata's ``ViewPosition`` (``PA``, ``AP``, ``LATERAL``, ``LL``, ...);
    blank is ``UNKNOWN``.

    **Common columns**: ``patientid`` = ``subject_id``; ``offset_day_int`` = days since
    1970-01-01 of the (per-patient shifted) ``StudyDate``.

    Args:
        imgpath: the ``files`` folder.
        csvpath: the labeller CSV.
        metacsvpath: the metadata CSV.
        views: views to keep (``"*"`` for all).
        transform, data_aug: callables applied to each sample (see :class:`Dataset`).
        seed: accepted for compatibility; construction never touches global random state.
        unique_patients: keep one image per patient (the first in label-file order).
        strict: raise on metadata problems (blank ids, repeated studies or images,
            studies without images) instead of one warning.
    """

    known_views = None  # the release's ViewPosition vocabulary is open-ended
    image_hint = DOWNLOAD_HINT
    metadata_files = {"csvpath": None, "metacsvpath": None}

    def __init__(
        self,
        imgpath: str | Path,
        csvpath: str | Path,
        metacsvpath: str | Path,
        views: str | Iterable[str] | None = ["PA"],  # noqa: B006 - reference signature; never mutated
        transform: Any = None,
        data_aug: Any = None,
        seed: int = 0,
        unique_patients: bool = True,
        *,
        strict: bool = False,
    ) -> None:
        super().__init__(imgpath, transform=transform, data_aug=data_aug, seed=seed, strict=strict)
        self.csvpath = self._metadata_path("csvpath", csvpath)
        self.metacsvpath = self._metadata_path("metacsvpath", metacsvpath)
        labels = self._load_table([self.csvpath], lambda: parse_mimic_labels(self.csvpath), f"{PARSER_VERSION}|labels")
        metadata = self._load_table([self.metacsvpath], lambda: parse_mimic_metadata(self.metacsvpath),
                                    f"{PARSER_VERSION}|meta")  # fmt: skip
        self.csv = join_mimic(labels, metadata)
        imageless = self.csv.loc[self.csv["dicom_id"].isna(), "study_id"]
        self._note_problem(self.metacsvpath, "study_id", "labelled stud(ies) with no image (kept; reading them fails)",
                           len(imageless), (f"s{s}" for s in imageless))  # fmt: skip
        self._select_rows(views, unique_patients)
        self._finish_csv()
        self._set_labels(chexpert_label_matrix(self.csv, source=str(self.csvpath)), CHEXPERT_PATHOLOGIES)

    def _image_path(self, index: int) -> Path:
        """Where item ``index``'s file should be (it may be absent).

        Raises:
            MissingImageError: the study has no image in the metadata (no ``dicom_id``).
        """
        subject, study, dicom = (self.csv[c].iat[index] for c in ("subject_id", "study_id", "dicom_id"))
        if pd.isna(dicom):
            raise MissingImageError(
                f"MIMIC_Dataset: study s{study} of p{subject} is in {self.csvpath} "
                f"but has no image in {self.metacsvpath}; filter it out or check the metadata file"
            )
        return self.imgpath / f"p{str(subject)[:2]}/p{subject}/s{study}/{dicom}.jpg"
