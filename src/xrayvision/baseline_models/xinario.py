"""Frontal/lateral view classifier from xinario/chestViewSplit.

A stock torchvision ResNet-50 (1000-way ``fc``) whose first two logits are the two
views; the file is torchvision's state dict. The native resolution is 224 (the
reference's docstring says 320; its code has always used 224). Spec models.md §8.8.
"""

from __future__ import annotations

import torch
from torch import nn

from ..models._builders import register_model
from ._resnet_classifier import RESNET50, ResNetClassifier

TARGETS = ["Frontal", "Lateral"]



@register_model("xinario-resnet50", task="classification")
class ViewModel(ResNetClassifier):
    """View (``targets``: Frontal, Lateral) from a 224 px image.

    Usage::

        model = xrv.baseline_models.xinario.ViewModel()
        logits = model(img)                   # [B, 2], as the reference
        model.output = "probabilities"        # softmax over the two

    Input ``[B, 1, H, W]`` in [-1024, 1024] (square; resized to 224), mapped to [0, 1]
    and normalised with ImageNet statistics.

    Args:
        weights: ``"xinario"`` (default), a local file, or False for an untrained network.
        cache_dir: folder for downloaded weights (the reference ignored it).

    Raises:
        WeightsFormatError: the file does not fit (names missing and unexpected keys).
    """

    targets = TARGETS
    input_resolution = 224
    architecture = "xinario-resnet50"
    default_weights = "xinario"
    output_modes = ("logits", "probabilities")
    plan = RESNET50

    @staticmethod
    def head(features: int) -> nn.Module:
        return nn.Linear(features, 1000)  # ImageNet's head; the first two outputs are the views

    def finish(self, features: torch.Tensor) -> torch.Tensor:
        logits = self.model.fc(features)[:, : len(TARGETS)]
        return torch.softmax(logits, dim=1) if self.output == "probabilities" else logits

    def __repr__(self) -> str:
        return "xinario-view-prediction"


__all__ = ["TARGETS", "ViewModel"]
