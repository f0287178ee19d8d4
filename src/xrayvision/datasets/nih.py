"""NIH ChestX-ray14 (ChestX-ray8): 112,120 frontal images of 30,805 patients."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DownloadError, MetadataError
from ._base import Dataset, Transform
from ._demographics import add_sex_columns, age_years
from ._files import PathLike, read_csv_arrow, read_metadata_csv, require_columns
from ._masks import xywh_box_mask
from ._problems import drop_duplicate_rows, note_missing, note_unknown_tokens, note_unknown_views
from ._vocabulary import USE_INCLUDED_FILE

#: The 14 findings of ChestX-ray14, sorted (the label columns, in order).
NIH_PATHOLOGIES = (
    "Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Effusion", "Emphysema",
    "Fibrosis", "Hernia", "Infiltration", "Mass", "Nodule", "Pleural_Thickening",
    "Pneumonia", "Pneumothorax",
)
#: Views of the release.
NIH_VIEWS = ("PA", "AP")
#: Columns of Data_Entry_2017*.csv the loader needs (every other column is kept as is).
DATA_ENTRY_COLUMNS = ("Image Index", "Finding Labels", "Patient ID", "View Position")
#: Fields of BBox_List_2017.csv, by position (its header names them inconsistently).
BBOX_FIELDS = ("Image Index", "Finding Label", "x", "y", "w", "h")
#: Spellings of the box file that differ from Data_Entry's label names.
BBOX_LABEL_RENAMES = {"Infiltrate": "Infiltration"}
#: Boxes are given in the frame of the released 1024 x 1024 PNGs.
BOX_FRAME = (1024, 1024)
#: Bump when :func:`read_data_entry` changes its output (invalidates the table cache).
PARSER_VERSION = "nih-data-entry-4"
#: Names that may appear in ``Finding Labels`` (any other is reported and ignored).
FINDING_NAMES = frozenset({*NIH_PATHOLOGIES, "No Finding"})

_TEXT_COLUMNS = ("Image Index", "Finding Labels", "Patient Gender", "Patient Sex", "View Position")
_DOWNLOAD_HINT = (
    "download the images from https://academictorrents.com/details/"
    "557481faacd824c83fbf57dcf7b6da9383b3235a (or the 224x224 copy "
    "e615d3aebce373f1dc8bd9d11064da55bdadede0) and put every PNG in one flat folder"
)


def read_data_entry(path: PathLike) -> pd.DataFrame:
    """Read ``Data_Entry_2017*.csv`` (plain or gzipped) into a DataFrame.

    Every column is kept; ``Patient Sex`` (some copies) is renamed ``Patient Gender``.
    Rows with a blank needed cell, unknown finding names or views, and repeated rows are
    noted (see :mod:`._problems`); a row repeated exactly is removed.

    Raises:
        MetadataError: the file cannot be parsed or lacks a needed column.
    """
    table = read_csv_arrow(path, "NIH_Dataset", "Data_Entry CSV", text=_TEXT_COLUMNS)
    if "Patient Sex" in table.columns and "Patient Gender" not in table.columns:
        table = table.rename(columns={"Patient Sex": "Patient Gender"})
    require_columns(table, DATA_ENTRY_COLUMNS, path, "NIH_Dataset")
    note_missing(table, DATA_ENTRY_COLUMNS, path)
    note_unknown_views(table, "View Position", NIH_VIEWS, path)
    note_unknown_tokens(table, "Finding Labels", FINDING_NAMES, path)
    return drop_duplicate_rows(table, path, key=["Image Index"])


def read_bbox_list(path: PathLike) -> pd.DataFrame:
    """Read ``BBox_List_2017.csv`` (plain or gzipped): one row per box.

    The header line is skipped and the first six fields are read by position as
    ``Image Index, Finding Label, x, y, w, h`` (the official header, ``Image Index,
    Finding Label,Bbox [x,y,w,h],,,``, names nine fields for six). ``Infiltrate`` is
    renamed ``Infiltration`` to match Data_Entry.

    Raises:
        MetadataError: a line has fewer than six fields or a non-numeric coordinate.
    """
    table = read_metadata_csv(
        path, "NIH_Dataset", f"BBox_List CSV (expected fields {', '.join(BBOX_FIELDS)})",
        header=None, skiprows=1, usecols=range(6), names=list(BBOX_FIELDS),
        dtype={"Image Index": "str", "Finding Label": "str", "x": "float64",
               "y": "float64", "w": "float64", "h": "float64"},
    )
    incomplete = table.isna().any(axis=1).to_numpy()
    if incomplete.any():
        line = int(np.flatnonzero(incomplete)[0]) + 2
        raise MetadataError(f"NIH_Dataset: {path} line {line} lacks one of {', '.join(BBOX_FIELDS)}")
    table["Finding Label"] = table["Finding Label"].replace(BBOX_LABEL_RENAMES)
    return table


def finding_tokens_matrix(findings: pd.Series, names: Iterable[str]) -> np.ndarray:
    """1/0 matrix: does each ``|``-joined finding list contain each name as a whole token?

    Missing cells give a row of NaN. Computed once per distinct finding string (a few
    hundred in NIH) and broadcast, so it is fast on 100k rows.
    """
    names = list(names)
    codes, uniques = pd.factorize(findings, use_na_sentinel=True)
    position = {name: j for j, name in enumerate(names)}
    table = np.zeros((len(uniques) + 1, len(names)), dtype=np.float32)
    for i, text in enumerate(uniques):
        for token in str(text).split("|"):
            j = position.get(token.strip())
            if j is not None:
                table[i, j] = 1.0
    table[-1] = np.nan  # code -1 = missing cell
    return table[codes]


def nih_labels(csv: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Label matrix of NIH rows from ``Finding Labels`` (pure function).

    A pathology is 1 when it is one of the ``|``-separated findings of the row (exact
    names; ``No Finding`` sets nothing), else 0; a blank cell gives NaN.

    Returns:
        ``(labels, pathologies)``: float32 ``(len(csv), 14)`` and :data:`NIH_PATHOLOGIES`.
    """
    require_columns(csv, ["Finding Labels"], "the metadata", "NIH_Dataset")
    return finding_tokens_matrix(csv["Finding Labels"], NIH_PATHOLOGIES), list(NIH_PATHOLOGIES)


class NIH_Dataset(Dataset):
    """NIH ChestX-ray14: frontal chest X-rays with 14 text-mined findings.

    **Source**: NIH Clinical Center, https://nihcc.app.box.com/v/ChestXray-NIHCC
    (torrents: full size https://academictorrents.com/details/557481faacd824c83fbf57dcf7b6da9383b3235a,
    224x224 https://academictorrents.com/details/e615d3aebce373f1dc8bd9d11064da55bdadede0).
    112,120 images of 30,805 patients. **Licence**: no restriction on use; NIH asks for
    a link to the download site and a citation of the paper below.

    **Layout**: ``imgpath`` is one flat folder of PNGs named by ``Image Index``
    (``00000001_000.png`` = patient 1, follow-up 0); the release's ``images_001`` ...
    ``images_012`` archives each unpack to ``images/``, so extract them all into one
    folder. Originals are 1024x1024 8-bit PNGs (a few are RGBA: channel 0 is used);
    resized copies work too. Metadata (default: the copies the reference ships, fetched
    on first use): ``csvpath`` = ``Data_Entry_2017_v2020.csv[.gz]`` (``Image Index,
    Finding Labels, Follow-up #, Patient ID, Patient Age, Patient Gender, View Position,
    OriginalImage[Width, Height], OriginalImagePixelSpacing[x, y]``; a ``Patient Sex``
    column is accepted for ``Patient Gender``); ``bbox_list_path`` =
    ``BBox_List_2017.csv[.gz]`` (984 boxes on 880 images, in the 1024x1024 frame), or
    ``None`` to skip it (``has_masks`` is then all False and masks are empty). Without
    masks the shipped box list is optional: offline, ``has_masks`` is then NA (a warning
    says so).

    **Labels**: :data:`NIH_PATHOLOGIES`; 1 when the name is one of the ``|``-separated
    ``Finding Labels`` of the image (text-mined from reports by NLP, so noisy), else 0.
    ``No Finding`` sets every label to 0.

    **Common columns**: ``patientid`` (``Patient ID`` as text), ``offset_day_int`` (NaN:
    the release gives only the follow-up number), ``view`` (``View Position``: PA or AP),
    ``has_masks`` (the image has at least one box), plus ``age_years``, ``sex_male``,
    ``sex_female``.

    **Masks** (``pathology_masks=True``): one mask per boxed finding, the OR of its boxes,
    scaled from the 1024x1024 frame to the image's own height and width.

    **Unique patients** (default): the first image (in file order) of each patient,
    ordered by patient id; every kept row is a real row (docs/differences.md).

    **Citation**: Wang et al., "ChestX-ray8: Hospital-scale Chest X-ray Database and
    Benchmarks on Weakly-Supervised Classification and Localization of Common Thorax
    Diseases", CVPR 2017.

    Args:
        imgpath: folder of the PNGs.
        csvpath: the Data_Entry CSV (default: the shipped copy).
        bbox_list_path: the BBox_List CSV (default: the shipped copy; ``None``: no boxes).
        views: views to keep (``"*"`` or ``None`` for all).
        transform: applied to each sample (image and masks).
        data_aug: applied after ``transform``.
        seed: kept for compatibility; construction is not random.
        unique_patients: keep one image per patient.
        pathology_masks: add the box masks to samples.
        strict: raise on metadata problems (blank needed cells, unknown findings or
            views, repeated rows) instead of one :class:`~xrayvision.errors.MetadataWarning`.

    Raises:
        MissingMetadataError: a metadata path does not exist.
        MetadataError: a metadata file lacks a needed column or cannot be parsed (or,
            with ``strict``, has problems).
        MissingImageError: ``imgpath`` is not a folder (an image missing from it is
            reported when the item is read).
        UnknownNameError: a requested view is not PA or AP.
    """

    dataset_url = "https://nihcc.app.box.com/v/ChestXray-NIHCC"
    known_views = NIH_VIEWS
    image_hint = _DOWNLOAD_HINT
    metadata_files = {"csvpath": "nih_data_entry", "bbox_list_path": "nih_bbox"}

    def __init__(
        self,
        imgpath: PathLike,
        csvpath: PathLike = USE_INCLUDED_FILE,
        bbox_list_path: PathLike | None = USE_INCLUDED_FILE,
        views: str | Iterable[str] | None = ("PA",),
        transform: Transform | None = None,
        data_aug: Transform | None = None,
        seed: int = 0,
        unique_patients: bool = True,
        pathology_masks: bool = False,
        *,
        strict: bool = False,
    ) -> None:
        super().__init__(imgpath, transform=transform, data_aug=data_aug, seed=seed,
                         pathology_masks=pathology_masks, strict=strict)  # fmt: skip
        self.csvpath = self._metadata_path("csvpath", csvpath)
        self.bbox_list_path = self._bbox_list(bbox_list_path)
        self.unique_patients = bool(unique_patients)

        self.csv = self._load_table([self.csvpath], lambda: read_data_entry(self.csvpath), PARSER_VERSION)
        self.csv["view"] = self.csv["View Position"]
        # Key on the numeric id so patients sort 1, 2, 3 ... as in the reference.
        self._select_rows(views, self.unique_patients, "Patient ID")
        csv = self.csv
        csv["patientid"] = csv["Patient ID"].astype("str")
        if "Patient Age" in csv.columns:
            csv["age_years"] = age_years(csv["Patient Age"])  # v2017 spells ages "058Y"
        if "Patient Gender" in csv.columns:
            add_sex_columns(csv, "Patient Gender")

        self._boxes: dict[str, list[tuple[str, float, float, float, float]]] = {}
        if self.bbox_list_path is None and bbox_list_path is not None:
            csv["has_masks"] = pd.array([pd.NA] * len(csv), dtype="boolean")  # unknown
        if self.bbox_list_path is not None:
            boxes = read_bbox_list(self.bbox_list_path)
            csv["has_masks"] = csv["Image Index"].isin(boxes["Image Index"]).to_numpy(dtype=bool)
            if self.pathology_masks:
                wanted = boxes[boxes["Image Index"].isin(csv["Image Index"])]
                for row in wanted.itertuples(index=False):
                    self._boxes.setdefault(row[0], []).append(tuple(row[1:]))
        self._finish_csv()
        self._set_labels(*nih_labels(self.csv))

    def _bbox_list(self, argument: PathLike | None) -> Path | None:
        """Path of the box list, or None when it is not wanted or not obtainable.

        Without masks the shipped box list only fills ``has_masks``: when it cannot be
        fetched (offline, no network) the dataset still builds, with ``has_masks``
        unknown (NA) and a warning, instead of failing (the reference always needed it).
        """
        if argument is None:
            return None
        try:
            return self._metadata_path("bbox_list_path", argument)
        except DownloadError as error:
            if self.pathology_masks or argument != USE_INCLUDED_FILE:
                raise
            warnings.warn(
                f"{type(self).__name__}: has_masks is unknown (NA) because the shipped box list is not "
                f"available: {error}",
                stacklevel=3,
            )
            return None

    def _image_path(self, index: int) -> Path:
        """Where item ``index``'s file should be (it may be absent)."""
        return self.imgpath / self.csv["Image Index"].iat[index]

    def _pathology_masks(self, index: int, shape: tuple[int, int]) -> dict[str, np.ndarray]:
        by_label: dict[str, list[tuple[float, float, float, float]]] = {}
        for label, x, y, w, h in self._boxes.get(self.csv["Image Index"].iat[index], ()):
            by_label.setdefault(label, []).append((x, y, w, h))
        return {label: xywh_box_mask(shape, boxes, BOX_FRAME) for label, boxes in by_label.items()}


__all__ = ["NIH_Dataset", "NIH_PATHOLOGIES", "nih_labels", "read_bbox_list", "read_data_entry"]
