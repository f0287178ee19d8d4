"""Models published by other groups, behind xrayvision's interface (spec models.md §8).

Every baseline takes the library's input: ``[B, 1, H, W]`` float32 in [-1024, 1024]
(square images are resized to the model's resolution; its own channel repetition and
intensity mapping happen inside), has ``targets``, downloads and verifies its weights
through the hub, loads them without running code from the file, and is in eval mode::

    import xrayvision as xrv
    model = xrv.baseline_models.jfhealthcare.DenseNet()
    model = xrv.models.get_model("mira")            # the same through the registry

Groups (one module each): ``jfhealthcare``, ``chexpert``, ``chestx_det``,
``chestx_anatomy``, ``emory_hiti``, ``mira``, ``riken``, ``xinario``, ``ieee8023``.
"""

from __future__ import annotations

import importlib
from typing import Any

_GROUPS = (
    "jfhealthcare",
    "chexpert",
    "chestx_det",
    "chestx_anatomy",
    "emory_hiti",
    "mira",
    "riken",
    "xinario",
    "ieee8023",
)


def __getattr__(name: str) -> Any:
    # Each group loads on first use, like the rest of the package.
    if name in _GROUPS:
        return importlib.import_module(f".{name}", __name__)
    if name == "LicenceWarning":
        from ._base import LicenceWarning

        return LicenceWarning
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*_GROUPS, "LicenceWarning"})


__all__ = [*_GROUPS, "LicenceWarning"]
