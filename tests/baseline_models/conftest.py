"""Baseline weight files in their official formats, and loading them in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import xrayvision as xrv

from .._official_format import random_bn_stats

__all__ = ["random_bn_stats", "real_input", "load_in_fresh_process", "cache_path"]

# Runs in a new interpreter: nothing imported or cached from the test process. It builds
# the model through its public constructor from the files in XRV_CACHE_DIR (offline),
# runs it on the real image, saves the output and prints what the test checks.
_FRESH = textwrap.dedent(
    """
    import json, sys, warnings
    import torch
    import xrayvision as xrv

    warnings.simplefilter("ignore", xrv.models.ResolutionWarning)
    image = torch.from_numpy(xrv.transforms.XRayCenterCrop()(xrv.io.read_image(sys.argv[1])))[None]
    model = {build}
    model.input_resolution = {resolution}  # a small forward; the native size is checked on meta tensors
    with torch.no_grad():
        out = model(image)
    torch.save(out, sys.argv[2])
    print(json.dumps({{
        "targets": list(getattr(model, "targets", [])),
        "repr": repr(model),
        "training": model.training,
        "weights": model.weights,
        "file": model.weights_filename_local,
    }}))
    """
)


@pytest.fixture(scope="session")
def real_image(realdata) -> Path:
    """A real chest X-ray (NIH ChestX-ray14 PNG) from ../shared/realdata."""
    images = sorted((realdata / "nih-chestxray14" / "images").glob("*.png"))
    if not images:
        pytest.skip(f"no NIH PNG under {realdata / 'nih-chestxray14' / 'images'}")
    return images[0]


def real_input(path: Path) -> torch.Tensor:
    """The image as the fresh process reads it: ``[1, 1, S, S]`` in [-1024, 1024]."""
    return torch.from_numpy(xrv.transforms.XRayCenterCrop()(xrv.io.read_image(path)))[None]


def cache_path(weights_name: str) -> Path:
    """Where the test's isolated cache keeps the file of ``weights_name``."""
    folder = Path(os.environ["XRV_CACHE_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    return folder / xrv.models.get_weights(weights_name).filename


def load_in_fresh_process(build: str, image: Path, resolution: int, tmp_path: Path) -> tuple[dict, torch.Tensor]:
    """Build ``build`` (Python source) in a new interpreter, offline, and run it on ``image``.

    Returns:
        (what the child printed: targets, repr, training, weights, file; its output).
    """
    out = tmp_path / "fresh-output.pt"
    code = _FRESH.format(build=build, resolution=resolution)
    env = {**os.environ, "XRV_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code, str(image), str(out)], env=env, capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        pytest.fail(f"fresh process failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), torch.load(out, weights_only=True)
