"""Batch inference helpers: files on disk → scores (``xrv predict``), datasets → arrays."""

from __future__ import annotations

import contextlib
import glob
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import XRVError

#: Suffixes taken from a folder (DICOM files often have no suffix at all).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".dcm", ".dicom", ".tif", ".tiff", "")


def expand_inputs(inputs: Iterable[str | os.PathLike]) -> list[Path]:
    """Files named by ``inputs``: a file, a folder (its image files, sorted), or a glob.

    Raises:
        FileNotFoundError: an input matches nothing (a folder: holds no image file).
    """
    files: list[Path] = []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
            )
            if not found:
                below = any(p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES for p in islice(path.rglob("*"), 10_000))
                hint = f"; its subfolders hold images: name one, or use a glob such as '{path}/**/*.png'" if below else ""
                raise FileNotFoundError(
                    f"no images found in {item} (PNG, JPEG or DICOM files; subfolders are not searched){hint}"
                )
            files += found
        elif path.is_file():
            files.append(path)
        else:
            matches = sorted(Path(m) for m in glob.glob(str(item), recursive=True) if Path(m).is_file())
            if not matches:
                raise FileNotFoundError(f"{item}: no such file, folder, or glob match")
            files += matches
    return files


@contextlib.contextmanager
def evaluating(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Run ``model`` in eval mode and restore every submodule's own mode afterwards.

    Inference in training mode gives batch-dependent outputs (BatchNorm uses the batch's
    statistics, dropout drops) and updates BatchNorm's running statistics for good; a
    caller in the middle of training must get its model back exactly as it was.
    """
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training


@dataclass(frozen=True)
class Prediction:
    """Scores for one file, or the reason it could not be read."""

    path: Path
    scores: np.ndarray | None
    error: str | None = None


def predict_files(
    model: torch.nn.Module,
    files: Sequence[Path],
    *,
    transform: Callable[[Any], torch.Tensor] | None = None,
    batch_size: int = 16,
    progress: bool = False,
) -> Iterator[Prediction]:
    """Run ``model`` over image files in batches, in order.

    Unreadable files yield a :class:`Prediction` with ``error`` set instead of stopping
    the run. The model runs in eval mode; the caller's mode (train or eval, per
    submodule) is restored before each result is yielded.

    Args:
        model: a classifier (its ``input_resolution`` picks the preprocessing).
        files: image paths (PNG, JPEG, DICOM, ...).
        transform: file → ``[1, 1, R, R]`` tensor (default: the model's weights transform).
        batch_size: images per forward pass.
        progress: show a tqdm bar on stderr.
    """
    from ._preprocess import WeightsTransform

    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    transform = transform or WeightsTransform(getattr(model, "input_resolution", None) or 224)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(files), unit="image", leave=False)
    pending: list[tuple[Path, torch.Tensor]] = []

    def flush() -> Iterator[Prediction]:
        if pending:
            with torch.inference_mode(), evaluating(model):
                scores = model(torch.cat([t for _, t in pending])).float().cpu().numpy()
            for (path, _), row in zip(pending, scores):
                yield Prediction(path, row)
            if bar is not None:
                bar.update(len(pending))
            pending.clear()

    try:
        for path in files:
            try:
                pending.append((path, transform(path)))
            except (XRVError, OSError) as error:
                if bar is not None:
                    bar.update(1)
                yield Prediction(path, None, str(error))
                continue
            if len(pending) >= batch_size:
                yield from flush()
        yield from flush()
    finally:
        if bar is not None:
            bar.close()


def infer(
    model: torch.nn.Module, dataset: Any, threads: int = 4, device: str = "cpu", batch_size: int | None = None
) -> np.ndarray:
    """Outputs of ``model`` for every sample of ``dataset`` (the paper's ``xrv.utils.infer``).

    Unlike the reference, the model is moved to ``device``, runs in eval mode (the
    caller's train/eval mode is restored afterwards, BatchNorm statistics untouched), and
    the batch size is not tied to the number of loader workers.

    Args:
        model: any model taking ``sample["img"]`` batches.
        dataset: a dataset whose samples are dicts with an ``"img"`` entry.
        threads: DataLoader worker processes.
        device: where to run.
        batch_size: samples per batch (default: ``threads``, as the reference).

    Returns:
        NumPy array ``[len(dataset), outputs]``.
    """
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size or max(threads, 1), num_workers=threads)
    model = model.to(device)
    outputs = []
    with torch.inference_mode(), evaluating(model):
        for batch in loader:
            outputs.append(model(batch["img"].to(device)).cpu().numpy())
    return np.concatenate(outputs) if outputs else np.empty((0, 0), dtype=np.float32)
