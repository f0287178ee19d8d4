"""TBX11K: tuberculosis chest X-rays with COCO-style boxes (Liu et al., CVPR 2020)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DatasetError, MetadataError
from ._base import Dataset, Transform
from ._files import PathLike, require_file

#: Split name -> annotation file under ``imgpath/annotations/json/``.
TBX11K_SPLITS = {
    "train": "TBX11K_train.json",
    "val": "TBX11K_val.json",
    "trainval": "TBX11K_trainval.json",
}
#: Supercategory of the TB categories; its union is the ``Tuberculosis`` label.
TB_SUPERCATEGORY = "Tuberculosis"
#: Image classes, from the first folder of ``file_name`` (``tb/tb0005.png`` -> ``tb``).
IMAGE_CLASSES = ("health", "sick", "tb")


def tbx11k_table(coco: dict[str, Any]) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """Rows, label matrix and pathology names from a parsed TBX11K JSON (pure function).

    One row per ``images`` entry (all its fields, JSON order) plus ``bbox`` (the boxes
    ``[x, y, w, h]`` of its annotations, annotation order), ``bbox_category`` (their
    category names) and ``image_class`` (``health`` / ``sick`` / ``tb`` from the file's
    folder). Pathologies are the category names in JSON order, then ``Tuberculosis``
    (1 when any box's category has supercategory ``Tuberculosis``). A category is 1 when
    the image has a box of it, else 0: healthy and sick-but-not-TB images are all zero,
    ``image_class`` tells them apart.

    Raises:
        MetadataError: a key of the COCO structure is missing or an annotation points to
            an unknown image or category.
    """
    try:
        categories = list(coco["categories"])
        images = list(coco["images"])
        annotations = list(coco.get("annotations", []))
        names = {int(c["id"]): str(c["name"]) for c in categories}
        tb_ids = {int(c["id"]) for c in categories if c.get("supercategory") == TB_SUPERCATEGORY}
        csv = pd.DataFrame(images)
        image_ids = [int(i) for i in csv["id"]] if len(csv) else []
        csv["file_name"]  # noqa: B018 - raises KeyError when absent
    except (KeyError, TypeError, ValueError) as err:
        raise MetadataError(f"TBX11K JSON lacks or garbles a COCO field: {err!r}") from err
    position = {image_id: i for i, image_id in enumerate(image_ids)}
    pathologies = list(dict.fromkeys([*names.values(), TB_SUPERCATEGORY]))
    column = {name: j for j, name in enumerate(pathologies)}
    labels = np.zeros((len(csv), len(pathologies)), dtype=np.float32)
    boxes: list[list[list[float]]] = [[] for _ in image_ids]
    box_names: list[list[str]] = [[] for _ in image_ids]
    for annotation in annotations:
        try:
            row = position[int(annotation["image_id"])]
            category = int(annotation["category_id"])
            name = names[category]
            box = [float(v) for v in annotation["bbox"]]
        except (KeyError, TypeError, ValueError) as err:
            raise MetadataError(f"TBX11K annotation {annotation.get('id')!r} is invalid: {err!r}") from err
        if len(box) != 4:
            raise MetadataError(f"TBX11K annotation {annotation.get('id')!r}: bbox {box} is not [x, y, w, h]")
        labels[row, column[name]] = 1.0
        if category in tb_ids:
            labels[row, column[TB_SUPERCATEGORY]] = 1.0
        boxes[row].append(box)
        box_names[row].append(name)
    csv["bbox"] = pd.Series(boxes, index=csv.index, dtype=object)
    csv["bbox_category"] = pd.Series(box_names, index=csv.index, dtype=object)
    folder = csv["file_name"].astype(str).str.split("/", n=1).str[0]
    csv["image_class"] = folder.where(folder.isin(IMAGE_CLASSES), np.nan)
    return csv, labels, pathologies


class TBX11K_Dataset(Dataset):
    """TBX11K: 11,200 chest X-rays (healthy, sick but not TB, TB) with TB bounding boxes.

    **Source**: https://github.com/yun-liu/Tuberculosis (download link in its README).
    **Licence**: TBX11K terms (academic, non-commercial research use).

    **Layout**: ``imgpath/imgs/<file_name>`` (``health/h0001.png``, ``sick/s0001.png``,
    ``tb/tb0005.png``; 512x512) and ``imgpath/annotations/json/TBX11K_<split>.json``
    (COCO: ``categories``, ``images``, ``annotations`` with ``bbox = [x, y, w, h]``).

    **Labels** (:func:`tbx11k_table`): one column per JSON category (ActiveTuberculosis,
    ObsoletePulmonaryTuberculosis, PulmonaryTuberculosis in the release) then
    ``Tuberculosis`` (any TB box). Images without boxes are all zero; ``csv.image_class``
    says ``health``, ``sick`` or ``tb``. The train split has 6,600 images.

    **Boxes**: samples carry ``"bbox"``, a float32 array ``[max_boxes, 4]`` of raw
    ``[x, y, w, h]`` in the JSON's pixel space, NaN-padded to the split's largest box
    count so a default DataLoader can batch it (it is *not* transformed with the image).
    With ``pathology_masks=True`` boxes are also rendered as masks at the image's real
    size (one per category plus their union under ``Tuberculosis``), which transforms
    move together with the image.

    **Common columns**: no patient ids or views in the release (``patientid``,
    ``offset_day_int`` NaN, ``view`` UNKNOWN); ``has_masks`` = the image has boxes.

    **Citation**: Liu et al., "Rethinking Computer-aided Tuberculosis Diagnosis", CVPR 2020.

    Args:
        imgpath: the TBX11K root (holding ``imgs/`` and ``annotations/``).
        split: ``"train"``, ``"val"`` or ``"trainval"``.
        transform: applied to each sample (image and masks).
        data_aug: applied after ``transform``.
        seed: kept for compatibility; construction is not random.
        pathology_masks: add box masks to samples.
        strict: accepted like every dataset's (a malformed JSON always raises).

    Raises:
        DatasetError: ``split`` is not one of the above.
        MissingMetadataError: the split's JSON file does not exist.
        MetadataError: the JSON is malformed.
    """

    image_hint = "imgpath must be the TBX11K folder holding imgs/"
    extra_sample_keys = ("bbox",)
    _printed_fields = ("data_aug",)
    card = {
        "source": "https://github.com/yun-liu/Tuberculosis",
        "licence": "TBX11K terms (academic, non-commercial)",
        "layout": "imgpath/imgs/<class>/<name>.png; imgpath/annotations/json/TBX11K_<split>.json",
        "labels": "JSON categories + Tuberculosis; boxes",
    }

    def __init__(
        self,
        imgpath: PathLike,
        split: str = "train",
        transform: Transform | None = None,
        data_aug: Transform | None = None,
        seed: int = 0,
        pathology_masks: bool = False,
        *,
        strict: bool = False,
    ) -> None:
        if split not in TBX11K_SPLITS:
            raise DatasetError(f"TBX11K split {split!r} is not one of {sorted(TBX11K_SPLITS)}")
        super().__init__(imgpath, transform=transform, data_aug=data_aug, seed=seed,
                         pathology_masks=pathology_masks, strict=strict)  # fmt: skip
        self.split = split
        self.csvpath = require_file(
            self.imgpath / "annotations" / "json" / TBX11K_SPLITS[split], "imgpath", type(self).__name__,
            "imgpath must be the TBX11K folder holding imgs/ and annotations/json/",
        )
        try:
            with open(self.csvpath, encoding="utf-8") as handle:
                coco = json.load(handle)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise MetadataError(f"{self.csvpath} is not valid JSON ({err})") from err
        csv, labels, pathologies = tbx11k_table(coco)
        self._tb_categories = frozenset(
            str(c["name"]) for c in coco["categories"] if c.get("supercategory") == TB_SUPERCATEGORY
        )
        csv["has_masks"] = csv["bbox"].map(len) > 0
        self.max_boxes = int(csv["bbox"].map(len).max()) if len(csv) else 0
        csv["view"] = pd.Series(np.nan, index=csv.index, dtype=object)  # the release records no view
        self.csv = csv
        self.limit_to_selected_views("*")
        self._finish_csv()
        self._set_labels(labels, pathologies)

    def _image_path(self, index: int) -> Path:
        """Where the image of row ``index`` should be (it may be missing)."""
        return self.imgpath / "imgs" / str(self.csv["file_name"].iat[index])

    def __getitem__(self, idx: int) -> dict[str, Any]:
        sample = super().__getitem__(idx)
        boxes = np.full((max(self.max_boxes, 1), 4), np.nan, dtype=np.float32)
        raw = self.csv["bbox"].iat[self._check_index(idx)]
        if raw:
            boxes[: len(raw)] = np.asarray(raw, dtype=np.float32)
        sample["bbox"] = boxes
        return sample

    def _pathology_masks(self, index: int, shape: tuple[int, int]) -> dict[str, np.ndarray]:
        row = self.csv.iloc[index]
        height, width = shape
        # Boxes are in the JSON's pixel space; scale if the file has another size.
        sy = height / float(row.get("height", height) or height)
        sx = width / float(row.get("width", width) or width)
        masks: dict[str, np.ndarray] = {}
        for (x, y, w, h), name in zip(row["bbox"], row["bbox_category"]):
            r0, r1 = max(math.floor(y * sy), 0), min(math.ceil((y + h) * sy), height)
            c0, c1 = max(math.floor(x * sx), 0), min(math.ceil((x + w) * sx), width)
            keys = (name, TB_SUPERCATEGORY) if name in self._tb_categories else (name,)
            for key in keys:
                mask = masks.setdefault(key, np.zeros((1, height, width), dtype=np.float32))
                mask[0, r0:r1, c0:c1] = 1.0
        return masks
