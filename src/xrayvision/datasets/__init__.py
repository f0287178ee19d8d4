"""Every public chest X-ray dataset behind one contract (see :class:`Dataset`).

Usage, as in the paper::

    import xrayvision as xrv
    d = xrv.datasets.NIH_Dataset(imgpath="NIH/images-224", views=["PA", "AP"])
    xrv.datasets.relabel_dataset(xrv.datasets.default_pathologies, d)

Every dataset class is registered (:func:`list_datasets`, :func:`get_dataset_class`),
so tools can choose one by name: ``get_dataset_class("nih")``.
"""

from __future__ import annotations

from .._lazy import lazy_namespace
from ._base import Dataset
from ._registry import DATASETS, DatasetRecord, get_dataset_class, list_datasets, register_dataset
from ._vocabulary import USE_INCLUDED_FILE, default_pathologies

_NAMES = {
    # composition and relabelling
    "relabel_dataset": "._compose",
    "MergeDataset": "._compose",
    "Merge_Dataset": "._compose",
    "SubsetDataset": "._compose",
    "FilterDataset": "._compose",
    "CovariateDataset": "._covariate",
    # pre-processing, re-exported for the paper's spelling
    "XRayCenterCrop": "..transforms",
    "XRayResizer": "..transforms",
    "ToPILImage": "..transforms",
    "apply_transforms": "..transforms",
    "normalize": "..io",
    # one module per source, from the registry
    **{name: record.module for record in DATASETS for name in (record.name, *record.aliases) if name.endswith("_Dataset")},
    # helpers of the generated datasets
    "SiteStyle": ".synthetic_chest",
    "write_synthetic_chest": ".synthetic_chest_folder",
    "red_herring_splits": ".synthetic_cross",
}

__getattr__, _lazy_dir = lazy_namespace(__name__, _NAMES)

__all__ = [
    "Dataset",
    "DatasetRecord",
    "USE_INCLUDED_FILE",
    "default_pathologies",
    "get_dataset_class",
    "list_datasets",
    "register_dataset",
    *_NAMES,
]


def __dir__() -> list[str]:
    return sorted(set(__all__))
