"""A small generated NIH release and a configuration builder for training tests."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def nih_release(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from xrayvision.fakedata.nih import write_nih

    return write_nih(tmp_path_factory.mktemp("nih"), n_patients=40, seed=0, size=48)


def training_config(nih: dict[str, Path], out: Path, **sections: dict[str, Any]) -> dict[str, Any]:
    """A fast run on the generated NIH release: tiny CNN, 24 px, two epochs."""
    config: dict[str, Any] = {
        "run": {"out": str(out), "workers": 0, "progress": False, "seed": 0},
        "data": {
            "datasets": [{
                "name": "nih", "imgpath": str(nih["imgpath"]), "csvpath": str(nih["csvpath"]),
                "options": {"bbox_list_path": str(nih["bbox_list_path"])},
            }],
            "pathologies": ["Cardiomegaly", "Effusion", "Infiltration"],
            "resolution": 24,
        },
        "model": {"factory": "tests.train._tiny:tiny_cnn", "options": {"num_outputs": 3, "dropout": 0.2}},
        "optim": {"epochs": 2, "batch_size": 8},
    }  # fmt: skip
    merged = copy.deepcopy(config)
    for name, values in sections.items():
        if name == "model":  # a model section replaces the default one whole
            merged[name] = dict(values)
        else:
            merged.setdefault(name, {}).update(values)
    return merged
