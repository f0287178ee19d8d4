"""MIRA's sex classifier (Glocker et al., eBioMedicine 2023; biomedia-mira/chexploration).

A torchvision ResNet-34 with ``fc`` = Linear(512 → 2), published as a PyTorch-Lightning
checkpoint: the state dict is its ``state_dict`` entry, keys prefixed ``model.``. The
checkpoint's other entries may name Lightning classes; they are read as inert records
(Lightning is not needed and nothing in the file runs). Spec models.md §8.6.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..models._builders import register_model
from ..models._loading import read_wrapped_state, strip_prefix
from ._base import to_unit_range
from ._resnet_classifier import RESNET34, ResNetClassifier

TARGETS = ["Male", "Female"]



@register_model("mira-resnet34", task="classification")
class SexModel(ResNetClassifier):
    """Sex (``targets``: Male = index 0, Female) from a 224 px image.

    Usage::

        model = xrv.baseline_models.mira.SexModel()
        logits = model(img)                   # [B, 2], as the reference
        model.targets[int(logits.argmax())]
        model.output = "probabilities"        # softmax

    Input ``[B, 1, H, W]`` in [-1024, 1024] (square; resized to 224), mapped to
    [0, 255] (no ImageNet normalisation, as trained).

    Args:
        weights: True / ``"mira"`` (default), a local file, or False for an untrained network.
        cache_dir: folder for downloaded weights (the reference ignored it).

    Raises:
        WeightsFormatError: the file does not fit (names missing and unexpected keys).
    """

    targets = TARGETS
    input_resolution = 224
    architecture = "mira-resnet34"
    default_weights = "mira"
    output_modes = ("logits", "probabilities")
    plan = RESNET34

    @staticmethod
    def head(features: int) -> nn.Module:
        return nn.Linear(features, len(TARGETS))

    @staticmethod
    def read(path: Path) -> dict[str, torch.Tensor]:
        return strip_prefix(read_wrapped_state(path, "state_dict"), "model.")

    def scale(self, x: torch.Tensor) -> torch.Tensor:
        return to_unit_range(x) * 255

    def __repr__(self) -> str:
        return "MIRA-SexModel-resnet34"


__all__ = ["SexModel", "TARGETS"]
