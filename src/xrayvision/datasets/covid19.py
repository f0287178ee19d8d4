"""COVID-19 Image Data Collection (ieee8023/covid-chestxray-dataset)."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ._base import Dataset, Transform
from ._files import PathLike, read_metadata_csv, require_columns
from ._masks import resize_nearest
from ._problems import drop_duplicate_rows, note_missing, note_unknown_views
from ._vocabulary import USE_INCLUDED_FILE

#: Findings that mean "not yet labelled": such rows are removed (counted in ``skipped``).
UNLABELLED_FINDINGS = ("todo", "Unknown")
#: Folder inside the shipped lung-mask zip; members are ``<folder>/<filename>``.
MASK_FOLDER = "semantic_masks_v7labs_lungs"
#: Views of the published schemas (X-ray: PA, AP, AP Supine, AP Erect, L; CT: Axial, Coronal).
COVID19_VIEWS = ("PA", "AP", "AP Supine", "AP Erect", "L", "Axial", "Coronal")
#: Columns the loader reads; every other column is kept as is in ``csv``.
REQUIRED_COLUMNS = ("patientid", "offset", "finding", "view", "filename")
#: View spellings that mean "not recorded" (become ``UNKNOWN``).
MISSING_VIEW_SPELLINGS = ("?", "")

PARSER_VERSION = "covid19-1"

_TOKEN_SPLIT = re.compile(r"[/,]")


def read_covid19_metadata(path: PathLike) -> pd.DataFrame:
    """Read the collection's ``metadata.csv`` (every column; the 2020 file's empty trailing
    ``Unnamed`` column dropped).

    Blank file names, patients or findings, unknown view spellings and images listed
    twice are noted (see :mod:`._problems`); a row repeated exactly is removed.

    Raises:
        MetadataError: the file cannot be parsed or lacks a needed column.
    """
    csv = read_metadata_csv(path, "COVID19_Dataset", "the collection's metadata.csv", low_memory=False)
    require_columns(csv, REQUIRED_COLUMNS, path, "COVID19_Dataset")
    # The 2020 file ends every line with a comma: an unnamed, empty column.
    csv = csv.drop(columns=[c for c in csv.columns if str(c).startswith("Unnamed:") and csv[c].isna().all()])
    note_missing(csv, ("filename", "patientid", "finding"), path)
    note_unknown_views(csv, "view", (*COVID19_VIEWS, *MISSING_VIEW_SPELLINGS), path)
    return drop_duplicate_rows(csv, path, key=["filename"])


def finding_tokens(findings: pd.Series) -> list[str]:
    """Sorted unique label names in a ``finding`` column.

    Each finding is split on ``/`` (the hierarchical 2021 schema, e.g.
    ``Pneumonia/Viral/COVID-19``) and on ``,`` (the 2020 schema's combined findings, e.g.
    ``COVID-19, ARDS``); tokens are stripped, empty ones dropped.
    """
    tokens: set[str] = set()
    for finding in findings.dropna().astype(str).unique():
        tokens.update(t.strip() for t in _TOKEN_SPLIT.split(finding))
    tokens.discard("")
    return sorted(tokens)


def covid19_labels(csv: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Label matrix and pathology names from the ``finding`` column (pure function).

    Pathologies are the tokens of :func:`finding_tokens`. A pathology is 1 when it occurs
    in the row's finding as whole words (literal text, not a regex), so
    ``Mycoplasma Bacterial Pneumonia`` is also positive for ``Bacterial`` and
    ``Pneumonia``, ``COVID-19, ARDS`` for ``COVID-19`` and ``ARDS``, and ``SARS`` is not
    found inside ``MERS-CoV``. It is 0 otherwise, and NaN for every pathology when the
    finding is missing.

    Returns:
        ``(labels, pathologies)``: float32 ``(len(csv), n)`` matrix and its column names.

    Raises:
        MetadataError: when ``csv`` has no ``finding`` column.
    """
    require_columns(csv, ["finding"], "the metadata", "COVID19_Dataset")
    findings = csv["finding"].astype("object")
    pathologies = finding_tokens(findings)
    missing = findings.isna().to_numpy()
    text = findings.fillna("").astype(str)
    labels = np.zeros((len(csv), len(pathologies)), dtype=np.float32)
    for j, name in enumerate(pathologies):
        pattern = rf"(?<!\w){re.escape(name)}(?!\w)"
        labels[:, j] = text.str.contains(pattern, regex=True).to_numpy(dtype=bool)
    labels[missing] = np.nan
    return labels, pathologies


class COVID19_Dataset(Dataset):
    """COVID-19 Image Data Collection: public COVID-19 and other pneumonia cases.

    **Source**: https://github.com/ieee8023/covid-chestxray-dataset (clone the repository;
    ``imgpath`` = its ``images/`` folder, ``csvpath`` = its ``metadata.csv``). Images were
    collected from publications and websites; 866 images / 698 frontal at the time of the
    paper. **Licence**: per image (``license`` column; many blank); the lung masks are
    V7 Labs annotations (``v7labs/covid-19-xray-dataset``), shipped as
    ``semantic_masks_v7labs_lungs.zip`` (fetched on first use, or give ``maskzippath``).

    **Layout**: ``imgpath/<filename>`` (jpg/jpeg/png in any letter case); both the
    mid-2020 schema (flat ``finding`` such as ``COVID-19, ARDS``, no
    ``RT_PCR_positive``) and the 2021 schema (hierarchical ``Pneumonia/Viral/COVID-19``)
    are read; all columns are kept in ``csv``.

    **Labels**: one column per token of ``finding`` (split on ``/`` and ``,``); a token is
    positive where it occurs as whole words in the finding (:func:`covid19_labels`), NaN
    where the finding is blank. Rows whose finding is ``todo`` or ``Unknown`` are removed
    (counted in ``skipped``), so the pathology list depends on the metadata version and on
    ``views``. Only X-ray rows are kept unless ``xray_only=False`` (the metadata also
    lists CT slices with views Axial/Coronal). ``?`` and blank views become ``UNKNOWN``.

    **Common columns**: ``patientid`` (the collection's patient id, as text),
    ``offset_day_int`` (``offset``: days since symptom onset, NaN where unknown),
    ``view``, ``has_masks`` (a lung mask file exists for the image; only filled when
    ``semantic_masks=True``).

    **Masks**: with ``semantic_masks=True`` the sample has ``"semantic_masks"``:
    ``{"Lungs": float32 [1,H,W]}`` where the mask pixel is at least half of its range
    (``>= 128``; JPEG-compressed masks carry values near 0 and 255), resized
    nearest-neighbour to the image if the sizes differ; empty when the image has no mask
    or its mask file is blank (82 of the 517 files are).

    **Citation**: Cohen et al., "COVID-19 Image Data Collection: Prospective Predictions
    Are the Future", MELBA 2020.

    Args:
        imgpath: folder of the images (the repository's ``images/``).
        csvpath: the repository's ``metadata.csv``.
        views: views to keep (``"*"`` for all); default PA and AP.
        transform: applied to each sample (image and masks).
        data_aug: applied after ``transform``.
        seed: kept for compatibility; construction is not random.
        semantic_masks: add the lung masks to samples.
        maskzippath: the lung-mask zip (default: the shipped copy).
        xray_only: drop rows whose ``modality`` is not ``X-ray`` (CT slices).
        strict: raise on metadata problems (blank cells, unknown views, an image listed
            twice) instead of one warning.

    Raises:
        MissingMetadataError: ``csvpath`` does not exist.
        MetadataError: a needed column is missing.
        UnknownNameError: a requested view is not one the collection uses.
    """

    dataset_url = "https://github.com/ieee8023/covid-chestxray-dataset"
    known_views = COVID19_VIEWS
    image_hint = f"images are in the images/ folder of {dataset_url}"
    metadata_hint = f"it is metadata.csv of {dataset_url} (clone that repository)"
    metadata_files = {"csvpath": None, "maskzippath": "covid_lung_masks"}
    card = {
        "source": dataset_url,
        "licence": "per image (license column); lung masks: V7 Labs",
        "layout": "imgpath/<filename>; csvpath = metadata.csv; lung masks: shipped zip",
        "labels": "tokens of `finding` (dynamic)",
    }

    def __init__(
        self,
        imgpath: PathLike,
        csvpath: PathLike,
        views: str | Iterable[str] | None = ("PA", "AP"),
        transform: Transform | None = None,
        data_aug: Transform | None = None,
        seed: int = 0,
        semantic_masks: bool = False,
        *,
        maskzippath: PathLike = USE_INCLUDED_FILE,
        xray_only: bool = True,
        strict: bool = False,
    ) -> None:
        super().__init__(imgpath, transform=transform, data_aug=data_aug, seed=seed, semantic_masks=semantic_masks,
                         strict=strict)  # fmt: skip
        self.csvpath = self._metadata_path("csvpath", csvpath)
        self.xray_only = bool(xray_only)

        csv = self._load_table([self.csvpath], lambda: read_covid19_metadata(self.csvpath), PARSER_VERSION)
        csv["view"] = csv["view"].astype("object").where(
            ~csv["view"].astype("object").isin(MISSING_VIEW_SPELLINGS), np.nan
        )
        if self.xray_only and "modality" in csv.columns:
            is_xray = (csv["modality"] == "X-ray").fillna(False).to_numpy(dtype=bool)
            self._count_skip("modality is not X-ray", int((~is_xray).sum()))
            csv = csv[is_xray]
        self.csv = csv
        present = csv["view"].dropna().astype(str).unique().tolist()
        self.known_views = tuple(dict.fromkeys([*COVID19_VIEWS, *present]))
        self.limit_to_selected_views(views)

        unlabelled = self.csv["finding"].isin(UNLABELLED_FINDINGS).to_numpy(dtype=bool)
        self._count_skip("finding is todo/Unknown (not labelled yet)", int(unlabelled.sum()))
        self.csv = self.csv[~unlabelled]

        self.csv["patientid"] = self.csv["patientid"].astype("object").map(
            lambda v: v if pd.isna(v) else str(v)
        )
        self.csv["offset_day_int"] = pd.to_numeric(self.csv["offset"], errors="coerce")
        self.maskzippath: Path | None = None
        self._mask_members: frozenset[str] = frozenset()
        if self.semantic_masks:
            self.maskzippath = self._metadata_path("maskzippath", maskzippath)
            with zipfile.ZipFile(self.maskzippath) as archive:
                self._mask_members = frozenset(archive.namelist())
            self.csv["has_masks"] = (MASK_FOLDER + "/" + self.csv["filename"].astype(str)).isin(
                self._mask_members
            )
        self._finish_csv()
        self._set_labels(*covid19_labels(self.csv))

    def _image_path(self, index: int) -> Path:
        """Where the image of row ``index`` should be (it may be missing)."""
        return self.imgpath / str(self.csv["filename"].iat[index])

    def _semantic_masks(self, index: int, shape: tuple[int, int]) -> dict[str, np.ndarray]:
        from ..io import read_image

        member = f"{MASK_FOLDER}/{self.csv['filename'].iat[index]}"
        if member not in self._mask_members:
            return {}
        assert self.maskzippath is not None
        with zipfile.ZipFile(self.maskzippath) as archive:
            data = archive.read(member)
        pixels = read_image(data, name=f"{self.maskzippath}:{member}")
        # read_image maps [0, 255] to [-1024, 1024]: > 0 means pixel >= 128.
        mask = (pixels[:1] > 0).astype(np.float32)
        if not mask.any():
            return {}
        return {"Lungs": resize_nearest(mask, shape)}

