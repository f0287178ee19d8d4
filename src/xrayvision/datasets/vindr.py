"""VinDr-CXR (Kaggle "VinBigData Chest X-ray Abnormalities Detection" training set)."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import compress
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import MetadataError
from ._base import Dataset, Transform
from ._files import PathLike, read_csv_arrow, require_columns
from ._masks import corner_box_mask
from ._problems import carry_problems, note_missing, note_problem, value_examples
from ._vocabulary import USE_INCLUDED_FILE

VINDR_PATHOLOGIES = (
    "Aortic enlargement", "Atelectasis", "Calcification", "Cardiomegaly", "Consolidation",
    "Effusion", "ILD", "Infiltration", "Lung Opacity", "Nodule/Mass", "Other Lesion",
    "Pleural_Thickening", "Pneumothorax", "Pulmonary Fibrosis",
)
#: Raw class names (lower case) that name a pathology under another spelling.
SYNONYMS = {"pleural thickening": "Pleural_Thickening", "pleural effusion": "Effusion"}
#: Raw class name of images without findings.
NO_FINDING = "No finding"
#: Other class names of the Kaggle and PhysioNet releases: valid, but no label of ours.
OTHER_CLASS_NAMES = (
    "No finding", "Clavicle fracture", "Edema", "Emphysema", "Enlarged PA", "Lung cavity", "Lung cyst",
    "Mediastinal shift", "Rib fracture", "COPD", "Lung tumor", "Pneumonia", "Tuberculosis", "Other diseases",
)  # fmt: skip
BOX_COLUMNS = ("x_min", "y_min", "x_max", "y_max")
PARSER_VERSION = "vindr-2"

_DOWNLOAD_HINT = (
    "get the DICOMs (train/<image_id>.dicom) from https://www.kaggle.com/c/vinbigdata-chest-xray-abnormalities-detection "
    "or https://physionet.org/content/vindr-cxr/"
)
_CLASS_TO_PATHOLOGY = {**{p.lower(): p for p in VINDR_PATHOLOGIES}, **SYNONYMS}
_KNOWN_CLASS_NAMES = frozenset([*_CLASS_TO_PATHOLOGY, *(n.lower() for n in OTHER_CLASS_NAMES)])


def pathology_of(class_name: object) -> str | None:
    """The pathology a raw class name stands for (case-insensitive, with synonyms), or None."""
    return _CLASS_TO_PATHOLOGY.get(str(class_name).strip().lower())


def read_annotations(path: PathLike, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """Read the annotation table (Kaggle ``train.csv`` or PhysioNet ``annotations_*.csv``).

    Blank ids or class names and unknown class names are noted (see :mod:`._problems`);
    repeated rows are harmless here (labels and masks are an OR over rows).

    Args:
        path: the CSV (plain or gzipped).
        columns: read only these columns where present (``None``: every column).

    Raises:
        MetadataError: the file cannot be parsed or lacks ``image_id``/``class_name``.
    """
    table = read_csv_arrow(path, "VinDr_Dataset", "annotation CSV", text=("image_id", "class_name", "rad_id"))
    if columns is not None:
        wanted = set(columns)
        table = table[[c for c in table.columns if c in wanted]]
    require_columns(table, ["image_id", "class_name"], path, "VinDr_Dataset")
    note_missing(table, ["image_id", "class_name"], path)
    names = table["class_name"].dropna()
    count, examples = value_examples(names[~names.str.strip().str.lower().isin(_KNOWN_CLASS_NAMES)])
    note_problem(table, path, "class_name", "row(s) with an unknown class name (no label)", count, examples)
    return table


def vindr_image_table(annotations: pd.DataFrame) -> pd.DataFrame:
    """One row per ``image_id`` (sorted): ``class_name`` = its sorted distinct class names
    joined by ``|``, ``has_masks`` = at least one row with a box (pure function; the
    notes of ``annotations`` are carried over)."""
    require_columns(annotations, ["image_id", "class_name"], "the metadata", "VinDr_Dataset")
    image_of_row, image_ids = pd.factorize(annotations["image_id"])
    class_of_row, class_names = pd.factorize(annotations["class_name"], sort=True)
    if len(class_names) > 62:
        raise MetadataError(f"VinDr_Dataset: {len(class_names)} distinct class names; at most 62 are supported")
    # Each class name is one bit; an image's set of names is the OR of its rows' bits,
    # turned into text once per distinct set (a groupby joining strings cost 20x more).
    named = (image_of_row >= 0) & (class_of_row >= 0)
    bits = np.zeros(len(image_ids), dtype=np.int64)
    np.bitwise_or.at(bits, image_of_row[named], np.left_shift(np.int64(1), class_of_row[named].astype(np.int64)))
    listed = np.flatnonzero(bits)  # ids with at least one named row
    keep = listed[pd.Series(image_ids[listed]).argsort(kind="stable").to_numpy()]
    distinct, inverse = np.unique(bits[keep], return_inverse=True)
    names = [str(n) for n in class_names]
    has_name = (distinct[:, None] >> np.arange(len(names))) & 1  # one row of bits per distinct set
    text = np.array(["|".join(compress(names, row)) for row in has_name.tolist()], dtype=object)
    table = pd.DataFrame({"image_id": np.asarray(image_ids[keep], dtype=object), "class_name": text[inverse]})
    if set(BOX_COLUMNS) <= set(annotations.columns):
        boxed = annotations[list(BOX_COLUMNS)].notna().all(axis=1).to_numpy() & (image_of_row >= 0)
        has_box = np.zeros(len(image_ids), dtype=bool)
        has_box[image_of_row[boxed]] = True
        table["has_masks"] = has_box[keep]
    else:
        table["has_masks"] = False
    carry_problems(table, annotations)
    return table


def vindr_labels(csv: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Label matrix from the ``|``-joined ``class_name`` (pure function).

    A pathology is 1 when one of the image's class names equals it case-insensitively or
    is its synonym (``Pleural thickening`` -> Pleural_Thickening, ``Pleural effusion``
    -> Effusion); other names (``No finding``, PhysioNet's global labels) set nothing.
    """
    require_columns(csv, ["class_name"], "the metadata", "VinDr_Dataset")
    codes, uniques = pd.factorize(csv["class_name"], use_na_sentinel=True)
    position = {p: j for j, p in enumerate(VINDR_PATHOLOGIES)}
    table = np.zeros((len(uniques) + 1, len(VINDR_PATHOLOGIES)), dtype=np.float32)
    columns: dict[str, int | None] = {}  # per distinct name: ~15 names in ~1000 lists
    for i, text in enumerate(uniques):
        for token in str(text).split("|"):
            if token not in columns:
                name = pathology_of(token)
                columns[token] = None if name is None else position[name]
            if columns[token] is not None:
                table[i, columns[token]] = 1.0
    table[-1] = np.nan
    return table[codes], list(VINDR_PATHOLOGIES)


class VinDr_Dataset(Dataset):
    """VinDr-CXR: 15,000 Vietnamese hospital radiographs, each read by three radiologists
    who drew boxes for 14 findings.

    **Source**: Kaggle VinBigData Chest X-ray Abnormalities Detection
    (https://www.kaggle.com/c/vinbigdata-chest-xray-abnormalities-detection) and PhysioNet
    (https://physionet.org/content/vindr-cxr/). **Licence**: Kaggle competition rules;
    the PhysioNet release is under the PhysioNet Credentialed Health Data Licence.

    **Layout**: ``imgpath`` is the folder of ``<image_id>.dicom`` files (Kaggle ``train/``,
    PhysioNet ``train``/``test``; often 16-bit, MONOCHROME1 or 2). ``csvpath`` (default:
    the copy the reference ships, fetched on first use) is Kaggle's ``train.csv``
    (``image_id, class_name, class_id, rad_id, x_min, y_min, x_max, y_max``: one row per
    radiologist and box; ``No finding`` rows have blank boxes); a PhysioNet
    ``annotations_*.csv`` also works.

    **Labels**: :data:`VINDR_PATHOLOGIES`: 1 when any radiologist reported the finding
    (:func:`vindr_labels`), else 0.

    **Common columns**: ``patientid``, ``offset_day_int`` and ``view`` are NaN (not in the
    metadata; ``views`` is stored but cannot filter); ``has_masks`` = at least one box.
    ``class_name`` holds the image's distinct class names joined by ``|``.

    **Pixels**: the DICOM is scaled by the range its ``BitsStored`` allows, MONOCHROME1
    inverted, rescale applied, with no windowing (the reference applied the DICOM window
    and divided by ``2**bits``; see docs/differences.md).

    **Masks** (``pathology_masks=True``): per finding, the OR of every radiologist's boxes,
    in the DICOM's own pixel frame; images without findings get none.

    **Citation**: Nguyen et al., "VinDr-CXR: An open dataset of chest X-rays with
    radiologist's annotations", Scientific Data 2022.

    Args:
        imgpath: folder of the DICOM files.
        csvpath: the annotation CSV (default: the shipped copy).
        views: stored for compatibility (the metadata has no view).
        transform: applied to each sample (image and masks).
        data_aug: applied after ``transform``.
        seed: kept for compatibility; construction is not random.
        pathology_masks: add the box masks to samples.
        strict: raise on metadata problems (blank cells, unknown class names, repeated
            rows) instead of one warning.

    Raises:
        MissingMetadataError: ``csvpath`` does not exist.
        MetadataError: the CSV lacks a needed column.
        MissingImageError: ``imgpath`` is not a folder (an absent image is reported
            when its item is read).
    """

    dataset_url = "https://www.kaggle.com/c/vinbigdata-chest-xray-abnormalities-detection"
    image_hint = _DOWNLOAD_HINT
    metadata_files = {"csvpath": "vindr_train"}

    def __init__(
        self,
        imgpath: PathLike,
        csvpath: PathLike = USE_INCLUDED_FILE,
        views: str | Iterable[str] | None = None,
        transform: Transform | None = None,
        data_aug: Transform | None = None,
        seed: int = 0,
        pathology_masks: bool = False,
        *,
        strict: bool = False,
    ) -> None:
        super().__init__(imgpath, transform=transform, data_aug=data_aug, seed=seed,
                         pathology_masks=pathology_masks, strict=strict)  # fmt: skip
        self.csvpath = self._metadata_path("csvpath", csvpath)
        self.views = views  # type: ignore[assignment]  # stored as given, as the reference does

        self.csv = self._load_table(
            [self.csvpath],
            # the image table needs only these columns (rad_id, class_id: 10% of the parse)
            lambda: vindr_image_table(read_annotations(self.csvpath, ("image_id", "class_name", *BOX_COLUMNS))),
            f"{PARSER_VERSION}|images",
        )
        self._finish_csv()
        self._boxes: dict[str, dict[str, np.ndarray]] = {}
        if self.pathology_masks:
            raw = self._load_table([self.csvpath], lambda: read_annotations(self.csvpath), f"{PARSER_VERSION}|raw")
            require_columns(raw, BOX_COLUMNS, self.csvpath, type(self).__name__)
            raw = raw[raw[list(BOX_COLUMNS)].notna().all(axis=1).to_numpy()]
            raw = raw.assign(pathology=raw["class_name"].map(pathology_of))
            raw = raw[raw["pathology"].notna().to_numpy()]
            coords = raw[list(BOX_COLUMNS)].to_numpy(dtype=np.float64)
            for (image_id, pathology), rows in raw.groupby(["image_id", "pathology"], sort=False).indices.items():
                self._boxes.setdefault(image_id, {})[pathology] = coords[rows]
        self._set_labels(*vindr_labels(self.csv))

    def _image_path(self, index: int) -> Path:
        """Where item ``index``'s file should be (it may be absent)."""
        return self.imgpath / f"{self.csv['image_id'].iat[index]}.dicom"

    def _pathology_masks(self, index: int, shape: tuple[int, int]) -> dict[str, np.ndarray]:
        boxes = self._boxes.get(self.csv["image_id"].iat[index], {})
        return {name: corner_box_mask(shape, coords) for name, coords in boxes.items()}


#: The 1.5.2 name of the class (same class object).
VinBrain_Dataset = VinDr_Dataset

__all__ = ["VinDr_Dataset", "VinBrain_Dataset", "VINDR_PATHOLOGIES", "read_annotations", "vindr_image_table", "vindr_labels"]
