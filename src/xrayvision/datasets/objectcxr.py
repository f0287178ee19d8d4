"""Object-CXR (MIDL 2020 challenge): foreign objects on chest X-rays."""

from __future__ import annotations

import os
import zipfile
from typing import Any

import numpy as np
import pandas as pd

from ..errors import MetadataError, MissingImageError
from ._base import Dataset, Transform
from ._files import PathLike, read_metadata_csv, require_columns
from ._masks import shapes_mask
from ._problems import drop_duplicate_rows, note_missing

OBJECTCXR_PATHOLOGIES = ("Foreign Object",)
#: Annotation type codes of the challenge: 0 box, 1 ellipse, 2 polygon.
SHAPE_KINDS = {"0": "box", "1": "ellipse", "2": "polygon"}

PARSER_VERSION = "objectcxr-1"

_DOWNLOAD_HINT = "get the zips from https://academictorrents.com/details/fdc91f11d7010f7259a05403fc9d00079a09f5d5"


def read_objectcxr_annotations(path: PathLike) -> pd.DataFrame:
    """Read ``train.csv`` / ``dev.csv``: ``image_name`` and ``annotation`` as text.

    Blank image names and images listed twice are noted (see :mod:`._problems`); a row
    repeated exactly is removed.

    Raises:
        MetadataError: the file cannot be parsed or lacks a column.
    """
    csv = read_metadata_csv(path, "ObjectCXR_Dataset", "the annotation CSV", dtype={"image_name": "str", "annotation": "str"})
    require_columns(csv, ["image_name", "annotation"], path, "ObjectCXR_Dataset")
    note_missing(csv, ["image_name"], path)
    return drop_duplicate_rows(csv, path, key=["image_name"])


def parse_annotation(text: object) -> list[tuple[str, list[float]]]:
    """Parse one ``annotation`` cell: ``;``-separated objects ``"type x1 y1 x2 y2 ..."``.

    Type 0 (box) and 1 (ellipse) give two corners; type 2 (polygon) any number of points.
    A blank cell gives ``[]``.

    Raises:
        MetadataError: an unknown type, an odd or too short coordinate list, or a
            non-numeric value.
    """
    if text is None or (isinstance(text, float) and np.isnan(text)) or not str(text).strip():
        return []
    shapes = []
    for part in str(text).split(";"):
        fields = part.split()
        if not fields:
            continue
        kind = SHAPE_KINDS.get(fields[0])
        try:
            coords = [float(v) for v in fields[1:]]
        except ValueError:
            kind = None
        if kind is None or len(coords) % 2 or len(coords) < (4 if kind != "polygon" else 6):
            raise MetadataError(
                f"ObjectCXR_Dataset: annotation {part.strip()[:60]!r} is not 'type x1 y1 x2 y2 ...' "
                "with type 0 (box), 1 (ellipse) or 2 (polygon)"
            )
        shapes.append((kind, coords))
    return shapes


def objectcxr_labels(csv: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """``Foreign Object`` = 1 where ``annotation`` is not blank, else 0 (pure function)."""
    require_columns(csv, ["annotation"], "the metadata", "ObjectCXR_Dataset")
    present = csv["annotation"].astype("object").fillna("").astype(str).str.strip() != ""
    return present.to_numpy(dtype=np.float32)[:, None], list(OBJECTCXR_PATHOLOGIES)


class ObjectCXR_Dataset(Dataset):
    """Object-CXR: 9,000 chest X-rays (8,000 train, 1,000 dev) with or without foreign
    objects (buttons, jewellery, tubes...) outlined by boxes, ellipses and polygons.

    **Source**: https://jfhealthcare.github.io/object-CXR/ (torrent
    https://academictorrents.com/details/fdc91f11d7010f7259a05403fc9d00079a09f5d5;
    https://archive.org/download/object-CXR/object-CXR/). **Licence**: CC BY-NC 4.0
    (JF Healthcare).

    **Layout**: ``imgzippath`` is the image zip (``train.zip`` with members
    ``train/<image_name>``, or ``dev.zip`` with ``dev/<image_name>``: set ``prefix``);
    ``csvpath`` is ``train.csv`` / ``dev.csv`` with ``image_name`` and ``annotation``
    (blank when there is no object; else ``;``-separated ``"type x1 y1 x2 y2 ..."``,
    type 0 box, 1 ellipse, 2 polygon, in the image's pixel frame).

    **Labels**: ``Foreign Object`` = 1 when the annotation is not blank.

    **Common columns**: ``patientid``, ``offset_day_int``, ``view`` NaN; ``has_masks`` =
    annotation present.

    **Masks** (``pathology_masks=True``): the OR of the image's drawn shapes (the
    reference never rendered them).

    **Citation**: JF Healthcare, "Object-CXR: Automatic detection of foreign objects on
    chest X-rays", MIDL 2020 challenge.

    Args:
        imgzippath: the image zip.
        csvpath: the annotation CSV.
        transform: applied to each sample (image and masks).
        data_aug: applied after ``transform``.
        seed: kept for compatibility; construction is not random.
        pathology_masks: add the object masks to samples.
        prefix: folder of the images inside the zip (``"train/"`` or ``"dev/"``).
        strict: raise on metadata problems (blank names, images listed twice) instead
            of one warning.

    Raises:
        MissingMetadataError: ``csvpath`` or ``imgzippath`` does not exist.
        MetadataError: the CSV lacks a column or holds a malformed annotation.
    """

    dataset_url = "https://jfhealthcare.github.io/object-CXR/"
    image_hint = _DOWNLOAD_HINT
    metadata_files = {"imgzippath": None, "csvpath": None}

    def __init__(
        self,
        imgzippath: PathLike,
        csvpath: PathLike,
        transform: Transform | None = None,
        data_aug: Transform | None = None,
        seed: int = 0,
        pathology_masks: bool = False,
        *,
        prefix: str = "train/",
        strict: bool = False,
    ) -> None:
        super().__init__(transform=transform, data_aug=data_aug, seed=seed, pathology_masks=pathology_masks,
                         strict=strict)  # fmt: skip
        self.imgzippath = self._metadata_path("imgzippath", imgzippath)
        self.csvpath = self._metadata_path("csvpath", csvpath)
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self.views = []  # the reference stores an empty list

        self.csv = self._load_table([self.csvpath], lambda: read_objectcxr_annotations(self.csvpath), PARSER_VERSION)
        self._finish_csv()
        labels, pathologies = objectcxr_labels(self.csv)
        self._set_labels(labels, pathologies)
        self.csv["has_masks"] = labels[:, 0] == 1
        # Parse every annotation now, so a malformed one is reported at construction.
        shapes = [parse_annotation(a) for a in self.csv["annotation"].tolist()]
        self._shapes = shapes if self.pathology_masks else None
        self._zip: zipfile.ZipFile | None = None
        self._zip_pid: int | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_zip"] = None  # an open file handle cannot travel to DataLoader workers
        state["_zip_pid"] = None
        return state

    def _archive(self) -> zipfile.ZipFile:
        # One handle per process: forked workers must not share a file position.
        if self._zip is None or self._zip_pid != os.getpid():
            self._zip = zipfile.ZipFile(self.imgzippath)
            self._zip_pid = os.getpid()
        return self._zip

    def _read_image(self, index: int) -> np.ndarray:
        from ..io import read_image

        member = self.prefix + str(self.csv["image_name"].iat[index])
        try:
            data = self._archive().read(member)
        except KeyError:
            raise MissingImageError(
                f"{type(self).__name__}: image {member!r} listed in {self.csvpath} is not in "
                f"imgzippath={str(self.imgzippath)!r}; check prefix={self.prefix!r} (train/ or dev/)"
            ) from None
        return read_image(data, name=f"{self.imgzippath}:{member}")

    def _pathology_masks(self, index: int, shape: tuple[int, int]) -> dict[str, np.ndarray]:
        shapes = self._shapes[index] if self._shapes is not None else ()
        if not shapes:
            return {}
        return {"Foreign Object": shapes_mask(shape, shapes)}


__all__ = ["ObjectCXR_Dataset", "OBJECTCXR_PATHOLOGIES", "objectcxr_labels", "parse_annotation"]
