"""Helpers shared by tests that need reference-format weight files or realistic weights."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch


def random_bn_stats(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every BatchNorm non-trivial statistics (so folding and loading are really tested)."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_(0, 0.1, generator=generator)
            module.running_var.uniform_(0.5, 2.0, generator=generator)
            module.weight.data.uniform_(0.5, 1.5, generator=generator)
            module.bias.data.normal_(0, 0.1, generator=generator)
    return model


def write_with_fake_reference(
    root: Path, models_source: str, writer_source: str, *, extra_path: Sequence[str] = (), timeout: float = 60
) -> Path:
    """Run ``writer_source`` in a child process where ``torchxrayvision.models`` is
    ``models_source``, so its pickles name the reference's classes; returns the folder
    (its ``sys.argv[1]``) the writer saved into. This process never imports the fake."""
    return write_with_fake_modules(
        root, {"torchxrayvision.models": models_source}, writer_source, extra_path=extra_path, timeout=timeout
    )


def write_with_fake_modules(
    root: Path, modules: Mapping[str, str], writer_source: str, *, extra_path: Sequence[str] = (), timeout: float = 60
) -> Path:
    """Run ``writer_source`` in a child process where each dotted module name of ``modules``
    (e.g. ``"pytorch_lightning.utilities.parsing"``) is the given source, so its pickles
    name classes this process does not have; returns the folder (its ``sys.argv[1]``)
    the writer saved into. This process never imports the fakes."""
    for dotted, source in modules.items():
        folder = root / "pkg"
        *packages, module = dotted.split(".")
        for package in packages:
            folder = folder / package
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "__init__.py").touch()
        (folder / f"{module}.py").write_text(source)
    out = root / "files"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "pkg"), *extra_path])}
    subprocess.run([sys.executable, "-c", writer_source, str(out)], env=env, check=True, timeout=timeout)
    return out
