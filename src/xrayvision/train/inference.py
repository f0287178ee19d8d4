"""Score a dataset with a model, one shard per process, gathered in dataset order."""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import torch

from . import distributed
from .data import SeededSamples, collate
from .failures import raise_if_failed
from .sampling import shard


@contextlib.contextmanager
def evaluating(model: torch.nn.Module):
    """Eval mode inside, the caller's mode (train or eval) restored after."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def predict_dataset(
    model: torch.nn.Module,
    dataset: Any,
    context: distributed.Context | None = None,
    *,
    batch_size: int = 32,
    workers: int = 0,
    autocast_dtype: torch.dtype | None = None,
    channels_last: bool = False,
    progress: bool = False,
    description: str = "scoring",
) -> tuple[np.ndarray, np.ndarray]:
    """Outputs and labels of every sample of ``dataset``, in dataset order.

    With several processes each scores a contiguous shard and the shards are gathered,
    so every process returns the whole arrays.

    Args:
        model: any module mapping ``[B, 1, R, R]`` to ``[B, T]``; run in eval mode (its
            mode is restored afterwards) without gradients.
        dataset: an xrayvision dataset (samples with ``img`` and ``lab``).
        context: the process context (default: one process on the CPU).
        batch_size: images per forward pass.
        workers: DataLoader workers.
        autocast_dtype: run the forward under autocast with this dtype (None: off).
        channels_last: feed channels-last images.
        progress: show a progress bar (on the main process).
        description: the progress bar's label.

    Returns:
        ``(outputs [N, T] float32, labels [N, T] float32)``.
    """
    context = context or distributed.Context()
    device = context.device
    rows = shard(len(dataset), context.rank, context.world_size)
    samples = SeededSamples(dataset)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.Subset(samples, rows.tolist()), batch_size=batch_size, num_workers=workers,
        collate_fn=collate, pin_memory=device.type == "cuda",
        generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    outputs, labels, indices = [], [], []
    bar = None
    if progress and context.is_main:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(rows), desc=description, unit="img", leave=False)
    autocast = (
        torch.autocast(device_type=device.type, dtype=autocast_dtype)
        if autocast_dtype is not None
        else contextlib.nullcontext()
    )
    with evaluating(model), torch.inference_mode(), autocast:
        for batch in map(raise_if_failed, loader):
            images = batch["img"].to(device, non_blocking=True)
            if channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            outputs.append(model(images).float())
            labels.append(batch["lab"].to(device))
            indices.append(batch["idx"].to(device))
            if bar is not None:
                bar.update(len(images))
    if bar is not None:
        bar.close()
    width = len(getattr(dataset, "pathologies", [])) or (outputs[0].shape[1] if outputs else 0)
    out = torch.cat(outputs) if outputs else torch.zeros((0, width), device=device)
    lab = torch.cat(labels) if labels else torch.zeros((0, width), device=device)
    idx = torch.cat(indices) if indices else torch.zeros((0,), dtype=torch.int64, device=device)
    out, lab, idx = (distributed.gather_rows(t, context) for t in (out, lab, idx))
    order = torch.argsort(idx)
    return out[order].cpu().numpy(), lab[order].cpu().numpy()
