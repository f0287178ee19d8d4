"""CheXlocalize (Stanford AIMI): CheXpert validation/test images with radiologist segmentations."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DatasetError, MetadataError
from ._base import UNKNOWN_VIEW, Dataset
from ._chexpert_labels import CHEXPERT_PATHOLOGIES, chexpert_label_matrix
from ._files import read_metadata_csv, require_columns
from ._polygons import polygon_mask, rle_to_mask
from ._problems import drop_duplicate_rows, note_missing, note_unknown_views
from .chexpert import AP_PA_VALUES, FRONTAL_LATERAL_VALUES, PATH_PREFIXES
from .chexpert import add_demographics, chexpert_views, patient_digits

#: xrayvision pathology -> key in the CheXlocalize JSON files (others use the same name).
JSON_NAMES = {"Effusion": "Pleural Effusion", "Lung Opacity": "Airspace Opacity"}
DOWNLOAD_HINT = (
    "CheXlocalize: https://stanfordaimi.azurewebsites.net/datasets/23c56a0d-15de-405b-87c8-99c30138950c ; "
    "imgpath must be the folder holding the split folder (val/, valid/ or test/)"
)


PARSER_VERSION = "chexlocalize-1"


def read_chexlocalize_csv(path: Path) -> pd.DataFrame:
    """Read ``val_labels.csv`` / ``test_labels.csv`` (every column).

    Blank paths, unknown view spellings and images listed twice are noted (see
    :mod:`._problems`); a row repeated exactly is removed.

    Raises:
        MetadataError: the file cannot be parsed or lacks ``Path``.
    """
    table = read_metadata_csv(path, "CheXlocalize_Dataset", "a CheXlocalize labels CSV")
    require_columns(table, ("Path",), path, "CheXlocalize_Dataset")
    note_missing(table, ("Path",), path)
    note_unknown_views(table, "Frontal/Lateral", FRONTAL_LATERAL_VALUES, path)
    note_unknown_views(table, "AP/PA", AP_PA_VALUES, path)
    return drop_duplicate_rows(table, path, key=["Path"])


def clean_paths(paths: pd.Series) -> pd.Series:
    """Remove the CheXpert release prefixes from ``Path`` (literal substrings)."""
    for prefix in PATH_PREFIXES:
        paths = paths.str.replace(prefix, "", regex=False)
    return paths


def cxr_ids(paths: pd.Series) -> pd.Series:
    """JSON key of each image: path without split folder and extension, ``/`` -> ``_``.

    ``val/patient64622/study1/view1_frontal.jpg`` -> ``patient64622_study1_view1_frontal``.
    """
    return paths.str.split("/", n=1).str[1].str.rsplit(".", n=1).str[0].str.replace("/", "_", regex=False)


def prepare_chexlocalize_table(table: pd.DataFrame, imgpath: str | Path) -> pd.DataFrame:
    """Clean paths, fix the split folder name, synthesise absent columns, derive common columns.

    Pure apart from looking at which split folders exist under ``imgpath``.
    """
    table = table.copy()
    table["Path"] = clean_paths(table["Path"])
    folder = Path(imgpath)
    if table["Path"].str.startswith("valid/").any() and (folder / "val").is_dir() and not (folder / "valid").is_dir():
        table["Path"] = table["Path"].str.replace(r"^valid/", "val/", regex=True)
    if "Frontal/Lateral" not in table:  # the blinded test CSV has only Path and labels
        lateral = table["Path"].str.contains("_lateral", case=False, regex=False)
        table["Frontal/Lateral"] = np.where(lateral, "Lateral", "Frontal")
    if "AP/PA" not in table:
        table["AP/PA"] = pd.Series(np.nan, index=table.index, dtype="str")  # -> view UNKNOWN
    table["view"] = chexpert_views(table["Frontal/Lateral"], table["AP/PA"])
    table["patientid"] = patient_digits(table["Path"])
    add_demographics(table)
    table["offset_day_int"] = np.nan
    table["cxr_id"] = cxr_ids(table["Path"])
    return table


class CheXlocalize_Dataset(Dataset):
    """CheXlocalize: CheXpert validation (234) and test (668) images with radiologist masks.

    **Source**: Saporta et al., "Benchmarking saliency methods for chest X-ray
    interpretation", Nature Machine Intelligence 4, 867-878 (2022).
    https://stanfordaimi.azurewebsites.net/datasets/23c56a0d-15de-405b-87c8-99c30138950c

    **Licence**: Stanford University School of Medicine research use agreement (no
    redistribution). Nothing is shipped.

    **Layout**: ``imgpath`` holds the split folder (``val/`` or ``valid/``, ``test/``) as
    written in the CSV's ``Path`` (the ``CheXpert-v1.0[-small]/`` prefix is removed; a
    ``valid/`` path is read from ``val/`` when only that folder exists). ``csvpath`` =
    ``val_labels.csv`` / ``test_labels.csv``; ``segmentation_jsonpath`` = either
    ``gt_segmentations_*.json`` (COCO RLE per finding) or ``gt_annotations_*.json``
    (polygons per finding, with ``img_size``); both formats are read, without pycocotools.

    **Labels**: as :class:`CheX_Dataset` (13 findings, NaN for uncertain/blank, No Finding
    rows zeroed except Support Devices). **Masks** (``pathology_masks``, on by default): one
    float32 ``[1, H, W]`` mask per finding present in the JSON for the image (empty ones
    included), at the image's own ``(H, W)`` (the reference makes ``W x W`` squares).
    ``Effusion`` is ``Pleural Effusion`` and ``Lung Opacity`` is ``Airspace Opacity`` in the
    JSON. ``csv["has_masks"]``: the image is a key of the JSON.

    **Views**: as CheXpert; images without ``AP/PA`` (the blinded test CSV) are ``UNKNOWN``
    (the reference's ``"Unknown"`` is accepted as a synonym in ``views``).

    Args:
        imgpath: folder holding the split folder.
        csvpath: the labels CSV.
        views: views to keep (``"*"`` for all).
        transform, data_aug: callables applied to each sample (see :class:`Dataset`).
        seed: accepted for compatibility; construction never touches global random state.
        unique_patients: keep one image per patient (first in file order).
        pathology_masks: return masks in samples (needs ``segmentation_jsonpath``).
        segmentation_jsonpath: the segmentation or annotation JSON.
        strict: raise on metadata problems (blank paths, unknown views, images listed
            twice) instead of one warning.

    Raises:
        DatasetError: ``pathology_masks`` without ``segmentation_jsonpath``.
    """

    known_views = ("PA", "AP", "L", "LL", "RL")
    image_hint = DOWNLOAD_HINT
    metadata_files = {"csvpath": None, "segmentation_jsonpath": None}

    def __init__(
        self,
        imgpath: str | Path,
        csvpath: str | Path,
        views: str | Iterable[str] | None = ["PA", "AP", "Unknown"],  # noqa: B006 - never mutated
        transform: Any = None,
        data_aug: Any = None,
        seed: int = 0,
        unique_patients: bool = True,
        pathology_masks: bool = True,
        segmentation_jsonpath: str | Path | None = None,
        *,
        strict: bool = False,
    ) -> None:
        super().__init__(imgpath, transform=transform, data_aug=data_aug, seed=seed,
                         pathology_masks=pathology_masks, strict=strict)  # fmt: skip
        if pathology_masks and segmentation_jsonpath is None:
            raise DatasetError(
                "CheXlocalize_Dataset: pathology_masks=True needs segmentation_jsonpath= "
                "(gt_segmentations_val.json or gt_annotations_val.json); pass it, or pathology_masks=False"
            )
        self.csvpath = self._metadata_path("csvpath", csvpath)
        self.segmentation_jsonpath = segmentation_jsonpath
        self.segmentations: Mapping[str, Any] = {}
        if pathology_masks:
            json_file = self._metadata_path("segmentation_jsonpath", segmentation_jsonpath)
            try:
                self.segmentations = json.loads(json_file.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError) as err:
                raise MetadataError(f"CheXlocalize_Dataset: {json_file} is not valid JSON ({err})") from None
            if not isinstance(self.segmentations, dict):
                raise MetadataError(f"CheXlocalize_Dataset: {json_file} must hold an object keyed by image id")
        table = self._load_table([self.csvpath], lambda: read_chexlocalize_csv(self.csvpath), PARSER_VERSION)
        self.csv = prepare_chexlocalize_table(table, self.imgpath)
        self.csv["has_masks"] = self.csv["cxr_id"].isin(set(self.segmentations)).to_numpy()
        if views is not None and not isinstance(views, str):
            views = [UNKNOWN_VIEW if v == "Unknown" else v for v in views]
        elif views == "Unknown":
            views = UNKNOWN_VIEW
        self._select_rows(views, unique_patients)
        self._finish_csv()
        self._set_labels(chexpert_label_matrix(self.csv, source=str(self.csvpath)), CHEXPERT_PATHOLOGIES)

    def _image_path(self, index: int) -> Path:
        """Where the image of row ``index`` should be (it may be missing)."""
        return self.imgpath / str(self.csv["Path"].iat[index])

    def _pathology_masks(self, index: int, shape: tuple[int, int]) -> dict[str, np.ndarray]:
        entry = self.segmentations.get(str(self.csv["cxr_id"].iat[index]))
        if not entry:
            return {}
        masks = {}
        for name in self.pathologies:
            record = entry.get(JSON_NAMES.get(name, name))
            if record is None:
                continue
            if isinstance(record, dict):  # COCO RLE (gt_segmentations_*.json)
                mask = rle_to_mask(record, shape)
            else:  # polygons (gt_annotations_*.json), in the coordinates of img_size
                size = entry.get("img_size")
                source = (int(size[0]), int(size[1])) if size is not None else None
                mask = polygon_mask(record, shape, source)
            masks[name] = mask[None].astype(np.float32)
        return masks
