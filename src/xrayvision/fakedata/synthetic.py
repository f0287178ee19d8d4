"""Registry examples of the generated datasets: small instances, nothing to download."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def chest_example(root: str | Path) -> dict[str, Any]:
    """Arguments of a small :class:`~xrayvision.datasets.SyntheticChest_Dataset` (writes nothing)."""
    return {"n": 8, "size": 64, "seed": 1, "pathology_masks": True, "semantic_masks": True}


def chest_folder_example(root: str | Path) -> dict[str, Any]:
    """Arguments of a :class:`~xrayvision.datasets.SyntheticChestFolder_Dataset` on a small
    phantom written under ``root`` (PNG images, masks and CSV)."""
    from ..datasets import SyntheticChest_Dataset, write_synthetic_chest

    folder = Path(root) / "phantom"
    write_synthetic_chest(SyntheticChest_Dataset(n=6, size=48, seed=2), folder)
    return {"imgpath": folder, "pathology_masks": True, "semantic_masks": True}


def cross_example(root: str | Path) -> dict[str, Any]:
    """Arguments of a small :class:`~xrayvision.datasets.SyntheticCross_Dataset` (writes nothing)."""
    return {"n": 8, "seed": 1, "pathology_masks": True}
