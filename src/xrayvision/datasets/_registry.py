"""The registry of dataset classes: one record per class, read by everything that needs
"every dataset" (``xrayvision.datasets``' names, ``xrv datasets``, training by name, the
tests' contract battery and their fake data).

Usage::

    import xrayvision as xrv

    xrv.datasets.list_datasets()              # ['NIH_Dataset', 'NIH_Google_Dataset', ...]
    cls = xrv.datasets.get_dataset_class("nih")   # or "NIH_Dataset", "nih_dataset"
    d = cls(imgpath="NIH/images-224")

Records are plain data (the class's module is imported only when the class is asked
for), so listing is instant. To add a dataset: write its module, then add one
:class:`DatasetRecord` to :data:`DATASETS` (or call :func:`register_dataset` from your
own package). ``example`` names a function ``example(root) -> dict`` giving the
constructor arguments of a small instance: for a source with files, one that writes a
format-faithful fake copy under ``root`` (``xrayvision.fakedata``); for a generated
dataset, one that returns its options and writes nothing. The contract battery of the
tests runs over every record with an example.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UnknownNameError


@dataclass(frozen=True)
class DatasetRecord:
    """One registered dataset class.

    Attributes:
        name: the class name (``"NIH_Dataset"``), also its name in ``xrayvision.datasets``.
        module: the module defining it (``"xrayvision.datasets.nih"``).
        short_name: a lower-case name for command lines and configs (``"nih"``).
        aliases: other names of the same class: an old class name (``"VinBrain_Dataset"``,
            also exported by ``xrayvision.datasets``) or a short name the reference's
            training script used (``"pc"``, ``"kaggle"``).
        example: ``"module:function"`` of ``function(root: Path) -> dict``, the
            constructor arguments of a small instance (see the module docstring).
    """

    name: str
    module: str
    short_name: str
    aliases: tuple[str, ...] = ()
    example: str | None = None

    def load(self) -> type:
        """The class (imports its module)."""
        return getattr(importlib.import_module(self.module), self.name)

    def example_arguments(self, root: Path) -> dict[str, Any]:
        """Constructor arguments of a small instance, its files (if any) written under ``root``.

        Raises:
            LookupError: the record has no example.
        """
        if self.example is None:
            raise LookupError(f"{self.name} has no registered example")
        module, _, function = self.example.partition(":")
        make: Callable[[Path], dict[str, Any]] = getattr(importlib.import_module(module), function)
        Path(root).mkdir(parents=True, exist_ok=True)
        return make(Path(root))


def _builtin(name: str, module: str, short_name: str, *aliases: str, example: str | None = None) -> DatasetRecord:
    return DatasetRecord(name, f"xrayvision.datasets.{module}", short_name, aliases,
                         example=example or f"xrayvision.fakedata.{module}:example")  # fmt: skip


#: The records, in listing order.
DATASETS: list[DatasetRecord] = [
    _builtin("NIH_Dataset", "nih", "nih"),
    _builtin("NIH_Google_Dataset", "nih_google", "nih_google", "google"),
    _builtin("RSNA_Pneumonia_Dataset", "rsna", "rsna", "kaggle"),
    _builtin("CheX_Dataset", "chexpert", "chexpert"),
    _builtin("CheXlocalize_Dataset", "chexlocalize", "chexlocalize"),
    _builtin("MIMIC_Dataset", "mimic", "mimic", "mimic_ch"),
    _builtin("BRAX_Dataset", "brax", "brax"),
    _builtin("PC_Dataset", "padchest", "padchest"),
    _builtin("Openi_Dataset", "openi", "openi"),
    _builtin("COVID19_Dataset", "covid19", "covid19"),
    _builtin("NLMTB_Dataset", "nlmtb", "nlmtb"),
    _builtin("TBX11K_Dataset", "tbx11k", "tbx11k"),
    _builtin("SIIM_Pneumothorax_Dataset", "siim", "siim"),
    _builtin("VinDr_Dataset", "vindr", "vindr", "VinBrain_Dataset", "vin"),
    _builtin("StonyBrookCOVID_Dataset", "stonybrook", "stonybrook"),
    _builtin("ObjectCXR_Dataset", "objectcxr", "objectcxr"),
    # generated, with known ground truth: their examples write nothing (but the folder copy)
    _builtin("SyntheticChest_Dataset", "synthetic_chest", "synthetic_chest", "phantom",
             example="xrayvision.fakedata.synthetic:chest_example"),
    _builtin("SyntheticChestFolder_Dataset", "synthetic_chest_folder", "synthetic_chest_folder",
             example="xrayvision.fakedata.synthetic:chest_folder_example"),
    _builtin("SyntheticCross_Dataset", "synthetic_cross", "synthetic_cross", "cross",
             example="xrayvision.fakedata.synthetic:cross_example"),
]  # fmt: skip


def register_dataset(record: DatasetRecord) -> None:
    """Add ``record`` (or replace the record of the same class name).

    Raises:
        ValueError: one of its names already belongs to another record.
    """
    taken = {key: other.name for other in DATASETS if other.name != record.name for key in _keys(other)}
    clash = sorted(key for key in _keys(record) if key in taken)
    if clash:
        raise ValueError(f"dataset names {clash} already belong to {sorted({taken[k] for k in clash})}")
    DATASETS[:] = [other for other in DATASETS if other.name != record.name] + [record]


def list_datasets() -> list[str]:
    """The class names of every registered dataset, in listing order."""
    return [record.name for record in DATASETS]


def dataset_record(name: str) -> DatasetRecord:
    """The record of ``name``: a class name, an alias or a short name, in any letter
    case, with or without ``_Dataset`` (``"NIH_Dataset"``, ``"nih"``, ``"PC"``).

    Raises:
        UnknownNameError: no such dataset (with close matches and the valid names).
    """
    wanted = name.lower().removesuffix("_dataset")
    for record in DATASETS:
        if wanted in _keys(record):
            return record
    raise UnknownNameError("dataset", name, [n for r in DATASETS for n in (r.name, r.short_name, *r.aliases)])


def get_dataset_class(name: str) -> type:
    """The dataset class called ``name`` (see :func:`dataset_record` for the spellings).

    Raises:
        UnknownNameError: no such dataset.
    """
    return dataset_record(name).load()


def _keys(record: DatasetRecord) -> set[str]:
    names = (record.name, record.short_name, *record.aliases)
    return {n.lower().removesuffix("_dataset") for n in names}
