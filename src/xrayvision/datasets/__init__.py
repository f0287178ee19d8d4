"""Every public chest X-ray dataset behind one contract (see :class:`Dataset`).

Usage, as in the paper::

    import xrayvision as xrv
    d = xrv.datasets.NIH_Dataset(imgpath="NIH/images-224", views=["PA", "AP"])
    xrv.datasets.relabel_dataset(xrv.datasets.default_pathologies, d)
"""

from __future__ import annotations

from .._lazy import lazy_namespace
from ._base import Dataset
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
    # one module per source
    "NIH_Dataset": ".nih",
    "NIH_Google_Dataset": ".nih_google",
    "RSNA_Pneumonia_Dataset": ".rsna",
    "CheX_Dataset": ".chexpert",
    "CheXlocalize_Dataset": ".chexlocalize",
    "MIMIC_Dataset": ".mimic",
    "BRAX_Dataset": ".brax",
    "PC_Dataset": ".padchest",
    "Openi_Dataset": ".openi",
    "COVID19_Dataset": ".covid19",
    "NLMTB_Dataset": ".nlmtb",
    "TBX11K_Dataset": ".tbx11k",
    "SIIM_Pneumothorax_Dataset": ".siim",
    "VinDr_Dataset": ".vindr",
    "VinBrain_Dataset": ".vindr",
    "StonyBrookCOVID_Dataset": ".stonybrook",
    "ObjectCXR_Dataset": ".objectcxr",
    # generated, with known ground truth
    "SyntheticChest_Dataset": ".synthetic_chest",
    "SiteStyle": ".synthetic_chest",
    "SyntheticChestFolder_Dataset": ".synthetic_chest_folder",
    "write_synthetic_chest": ".synthetic_chest_folder",
    "SyntheticCross_Dataset": ".synthetic_cross",
    "red_herring_splits": ".synthetic_cross",
}

__getattr__, _lazy_dir = lazy_namespace(__name__, _NAMES)


def __dir__() -> list[str]:
    return sorted(set(_lazy_dir()) | {"Dataset", "USE_INCLUDED_FILE", "default_pathologies"})


__all__ = ["Dataset", "USE_INCLUDED_FILE", "default_pathologies", *_NAMES]
