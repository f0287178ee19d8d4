"""The chest phantom as files on disk: PNG images, PNG masks and a CSV, read like a real dataset.

Layout written by :func:`write_synthetic_chest` under ``root``::

    synthetic_chest.csv     one row per image: path, mask_path, the phantom's csv columns and
                            one column per finding (1, 0, or empty for a missing label)
    synthetic_chest.json    the generator's settings and the bit of each mask
    images/000000.png       16-bit grayscale: [-1024, 1024] as 0..65535 (read back within 0.016)
    masks/000000.png        8-bit: bit j is pathology j's mask (column order), then Lungs,
                            Heart, Shortcut

It lets command-line tests and tutorials treat the phantom like any other dataset
(``--imgpath``, ``xrv datasets verify``, ``xrv datasets resize``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DatasetError, MetadataError
from ._base import COMMON_COLUMNS, Dataset, Transform
from ._files import PathLike, read_metadata_csv, require_columns, require_file, require_folder
from ._phantom import ANATOMY, FINDINGS
from .synthetic_chest import SyntheticChest_Dataset

CSV_NAME, SETTINGS_NAME = "synthetic_chest.csv", "synthetic_chest.json"
FORMAT = "xrayvision-synthetic-chest"
#: Mask bits: the findings in column order, then the anatomy.
MASK_BITS = (*FINDINGS, *ANATOMY)


def write_synthetic_chest(dataset: SyntheticChest_Dataset, root: PathLike, *, overwrite: bool = False) -> dict[str, Path]:
    """Write every image of ``dataset`` with its masks and metadata under ``root``.

    Every file is written atomically, the CSV last, so an interrupted write never passes
    for a complete copy.

    Args:
        dataset: the phantom to write (its ``transform``/``data_aug`` are not applied).
        root: output folder (created).
        overwrite: replace an existing copy (otherwise its presence is an error).

    Returns:
        ``{"imgpath": root, "csvpath": root / "synthetic_chest.csv"}``.

    Raises:
        DatasetError: ``dataset`` is not a phantom, or ``root`` already holds one.
    """
    from ..io.write import encode_png, write_atomic

    if not isinstance(dataset, SyntheticChest_Dataset):
        raise DatasetError(f"write_synthetic_chest needs a SyntheticChest_Dataset, got {type(dataset).__name__}")
    root = Path(root)
    csvpath = root / CSV_NAME
    if csvpath.exists() and not overwrite:
        raise DatasetError(f"{csvpath} already exists; pass overwrite=True to replace the copy")
    digits = max(6, len(str(max(len(dataset) - 1, 0))))
    names = [f"{i:0{digits}d}.png" for i in range(len(dataset))]
    for i, name in enumerate(names):
        rendered = dataset.render(i)
        write_atomic(root / "images" / name, encode_png(rendered.image, bits=16))
        flags = np.zeros(rendered.image.shape[1:], dtype=np.uint8)
        for bit, key in enumerate(MASK_BITS):
            mask = rendered.findings.get(key, rendered.anatomy.get(key))
            if mask is not None:
                flags |= mask.astype(np.uint8) << bit
        write_atomic(root / "masks" / name, _encode_flags(flags))
    table = dataset.csv.copy()
    table.insert(0, "path", [f"images/{n}" for n in names])
    table.insert(1, "mask_path", [f"masks/{n}" for n in names])
    for j, name in enumerate(dataset.pathologies):
        table[name] = pd.array(dataset.labels[:, j], dtype="Float64").round().astype("Int64")
    settings = {
        "format": FORMAT, "version": 1, "mask_bits": list(MASK_BITS), "size": dataset.size,
        "n": len(dataset), "seed": dataset.seed, "prevalence": dataset.prevalence,
        "shortcut": dataset.shortcut, "shortcut_label": dataset.shortcut_label,
        "shortcut_correlation": dataset.shortcut_correlation, "missing_labels": dataset.missing_labels,
        "images_per_patient": dataset.images_per_patient,
        "sites": [vars(s) for s in dataset.site_styles], "site_weights": dataset.site_weights.tolist(),
    }  # fmt: skip
    write_atomic(root / SETTINGS_NAME, json.dumps(settings, indent=2).encode())
    write_atomic(csvpath, table.to_csv(index=False).encode())
    return {"imgpath": root, "csvpath": csvpath}


def _encode_flags(flags: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(flags).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


class SyntheticChestFolder_Dataset(Dataset):
    """Chest phantom read from files written by :func:`write_synthetic_chest`.

    **Source**: a folder written by ``write_synthetic_chest(SyntheticChest_Dataset(...), root)``.
    **Licence**: synthetic images; use them freely.

    **Layout**: ``imgpath/images/*.png`` (16-bit), ``masks/*.png`` (bit flags) and
    ``synthetic_chest.csv`` beside them (see :mod:`.synthetic_chest_folder`). A resized copy
    of the images (``xrv datasets resize``) works as ``imgpath`` with ``csvpath`` pointing at
    the original CSV; masks are then read from the CSV's folder and resized to the image.

    **Labels**: those of the phantom (``Cardiomegaly``, ``Effusion``, ``Nodule``,
    ``Pneumothorax``); empty cells are NaN. Samples equal the phantom's, images within
    0.016 (16-bit storage).

    Args:
        imgpath: folder holding the ``path`` column's files.
        csvpath: the CSV (default ``imgpath/synthetic_chest.csv``).
        maskpath: folder holding the ``mask_path`` column's files (default: the CSV's folder).
        transform: applied to each sample (image and masks).
        data_aug: applied after ``transform``.
        seed: kept for compatibility; construction is not random.
        pathology_masks: add the findings' masks to samples.
        semantic_masks: add the Lungs, Heart and Shortcut masks.

    Raises:
        MissingImageError: ``imgpath`` is not a folder.
        MissingMetadataError: the CSV does not exist.
        MetadataError: the CSV lacks a column.
    """

    known_views = ("PA",)
    image_hint = "write the folder with xrayvision.datasets.write_synthetic_chest"

    def __init__(
        self,
        imgpath: PathLike,
        csvpath: PathLike | None = None,
        maskpath: PathLike | None = None,
        transform: Transform | None = None,
        data_aug: Transform | None = None,
        seed: int = 0,
        pathology_masks: bool = False,
        semantic_masks: bool = False,
    ) -> None:
        super().__init__(transform=transform, data_aug=data_aug, seed=seed,
                         pathology_masks=pathology_masks, semantic_masks=semantic_masks)  # fmt: skip
        name = type(self).__name__
        self.imgpath = require_folder(imgpath, name, self.image_hint)
        self.csvpath = require_file(self.imgpath / CSV_NAME if csvpath is None else csvpath, "csvpath", name, self.image_hint)
        self.maskpath = self.csvpath.parent if maskpath is None else Path(maskpath)
        csv = read_metadata_csv(self.csvpath, name, "the phantom's CSV", dtype={"patientid": str},
                                text=("effusion", "pneumothorax"))  # blank throughout in a small copy
        require_columns(csv, ["path", "mask_path", *FINDINGS, *COMMON_COLUMNS], self.csvpath, name)
        labels = csv[list(FINDINGS)].to_numpy(dtype=np.float32, na_value=np.nan)
        self.csv = csv.drop(columns=list(FINDINGS))
        self.csv["effusion"] = self.csv["effusion"].fillna("")
        self.csv["pneumothorax"] = self.csv["pneumothorax"].fillna("")
        self._finish_csv()
        self._set_labels(labels, FINDINGS)

    def _image_path(self, index: int) -> Path:
        return self.imgpath / self.csv["path"].iat[index]

    def _flags(self, index: int, shape: tuple[int, int]) -> tuple[np.ndarray, bool]:
        """The mask flags of row ``index`` and whether they need resizing to ``shape``."""
        from ..io import decode

        path = require_file(self.maskpath / self.csv["mask_path"].iat[index], "mask_path", type(self).__name__,
                            "masks are read from the CSV's folder unless maskpath says otherwise")  # fmt: skip
        flags, _ = decode(path)
        if flags.ndim != 2 or flags.dtype != np.uint8:
            raise MetadataError(f"{path} is not an 8-bit grayscale mask image")
        return flags, flags.shape != shape

    def _masks(self, index: int, shape: tuple[int, int], names: tuple[str, ...]) -> dict[str, np.ndarray]:
        flags, resize = self._flags(index, shape)
        out = {}
        for name in names:
            mask = ((flags >> MASK_BITS.index(name)) & 1).astype(np.float32)[None]
            if mask.any():
                out[name] = _fit(mask, shape) if resize else mask
        return out

    def _pathology_masks(self, index: int, shape: tuple[int, int]) -> dict[str, np.ndarray]:
        return self._masks(index, shape, FINDINGS)

    def _semantic_masks(self, index: int, shape: tuple[int, int]) -> dict[str, np.ndarray]:
        return self._masks(index, shape, ANATOMY)


def _fit(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Centre-crop and resize a mask to an image's shape, as ``xrv datasets resize`` did to
    the image (values become fractions at the edges, as any resize of a mask does)."""
    from ..transforms import XRayCenterCrop, resize

    return np.clip(resize(XRayCenterCrop()(mask), shape), 0.0, 1.0).astype(np.float32)


def read_settings(root: PathLike) -> dict[str, Any]:
    """The generator settings saved beside a written phantom (``synthetic_chest.json``)."""
    path = require_file(Path(root) / SETTINGS_NAME, "root", "SyntheticChestFolder_Dataset")
    settings = json.loads(path.read_text())
    if settings.get("format") != FORMAT:
        raise MetadataError(f"{path} is not a phantom settings file (format {settings.get('format')!r})")
    return settings


__all__ = ["MASK_BITS", "SyntheticChestFolder_Dataset", "read_settings", "write_synthetic_chest"]
