"""xrayvision: chest X-ray datasets, pre-trained models and the tools to study them.

    import xrayvision as xrv
    d = xrv.datasets.NIH_Dataset(imgpath="NIH/images-224")
    model = xrv.models.DenseNet(weights="densenet121-res224-all")
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__

_SUBMODULES = (
    "autoencoders",
    "baseline_models",
    "datasets",
    "errors",
    "explain",
    "fakedata",
    "hub",
    "io",
    "models",
    "train",
    "transforms",
    "utils",
)


def __getattr__(name: str) -> Any:
    # Submodules load on first use: importing xrayvision costs almost nothing.
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'xrayvision' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({"__version__", *_SUBMODULES})


__all__ = ["__version__", *_SUBMODULES]
