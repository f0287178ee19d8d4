"""Emory HITI's self-reported race classifier (Gichoya et al., Lancet Digital Health 2022).

A torchvision ResNet-34 whose ``fc`` is [Linear(512 → 3), LogSoftmax]; the file is a
state dict saved from ``nn.DataParallel`` (``module.`` prefix). Spec models.md §8.5.
"""

from __future__ import annotations

import torch
from torch import nn

from ..models._builders import register_model
from ._resnet_classifier import RESNET34, ResNetClassifier

TARGETS = ["Asian", "Black", "White"]



@register_model("emory-hiti-resnet34", task="classification")
class RaceModel(ResNetClassifier):
    """Self-reported race (``targets``: Asian, Black, White) from a 320 px image.

    Usage::

        model = xrv.baseline_models.emory_hiti.RaceModel()
        log_probabilities = model(img)        # [B, 3], as the reference
        model.output = "probabilities"        # or "logits"

    Input ``[B, 1, H, W]`` in [-1024, 1024] (square; resized to 320), mapped to [0, 1]
    and normalised with ImageNet statistics.

    Args:
        weights: ``"emory_hiti"`` (default), a local file, or False for an untrained network.
        cache_dir: folder for downloaded weights (the reference ignored it).

    Raises:
        WeightsFormatError: the file does not fit (names missing and unexpected keys).
    """

    targets = TARGETS
    input_resolution = 320
    architecture = "emory-hiti-resnet34"
    default_weights = "emory_hiti"
    output_modes = ("log_probabilities", "probabilities", "logits")
    plan = RESNET34

    @staticmethod
    def head(features: int) -> nn.Module:
        return nn.Sequential(nn.Linear(features, len(TARGETS)), nn.LogSoftmax(dim=1))

    def finish(self, features: torch.Tensor) -> torch.Tensor:
        logits = self.model.fc[0](features)
        if self.output == "logits":
            return logits
        log_probabilities = self.model.fc[1](logits)
        return log_probabilities.exp() if self.output == "probabilities" else log_probabilities

    def __repr__(self) -> str:
        return "Emory-HITI-RaceModel-resnet34"


__all__ = ["RaceModel", "TARGETS"]
