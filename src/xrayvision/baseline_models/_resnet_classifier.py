"""The shape shared by the torchvision-ResNet baselines (emory_hiti, mira, xinario).

Each is a torchvision ResNet (3 input channels, its key names as published) with its own
head, intensity mapping and output semantics; this class holds what they share: the
network, loading, ``features`` and the output modes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import torch
from torch import nn

from ..models._loading import read_file, strip_prefix
from ..models.resnet import BasicBlock, Bottleneck, ResNetBackbone
from ._base import BaselineModel, WeightsArg, imagenet_normalize

#: Layer plans of the torchvision ResNets the baselines use.
RESNET34 = ((3, 4, 6, 3), BasicBlock)
RESNET50 = ((3, 4, 6, 3), Bottleneck)


def resnet_network(plan: tuple[tuple[int, ...], type[nn.Module]], head: Callable[[int], nn.Module]) -> ResNetBackbone:
    """A 3-channel torchvision-named ResNet whose ``fc`` is ``head(num_features)``."""
    layers, block = plan
    network = ResNetBackbone(layers, num_classes=1, in_channels=3, block=block)  # type: ignore[arg-type]
    network.fc = head(network.num_features)
    return network


class ResNetClassifier(BaselineModel):
    """A torchvision ResNet classifier behind the baseline interface.

    Subclasses set ``plan`` and ``head``, and override ``read`` (file → state dict;
    default: a state dict saved from ``nn.DataParallel``), ``scale`` (the [-1024, 1024]
    3-channel input → the network's input; default: ImageNet normalisation) and ``finish``
    (pooled features → the :attr:`output`) where theirs differ.
    """

    plan: ClassVar[tuple[tuple[int, ...], type[nn.Module]]]

    @staticmethod
    def head(features: int) -> nn.Module:  # pragma: no cover - every subclass sets its own
        raise NotImplementedError

    @classmethod
    def network(cls) -> ResNetBackbone:  # type: ignore[override]
        return resnet_network(cls.plan, cls.head)

    def __init__(self, weights: WeightsArg = True, cache_dir: str | os.PathLike | None = None):
        super().__init__()
        self.model = self.network()
        self.load_network(self.model, weights, cache_dir)
        self.eval()

    @staticmethod
    def read(path: Path) -> dict[str, torch.Tensor]:
        state, _ = read_file(path)
        return strip_prefix(state, "module.")  # saved from nn.DataParallel

    def scale(self, x: torch.Tensor) -> torch.Tensor:
        return imagenet_normalize(x)

    def finish(self, features: torch.Tensor) -> torch.Tensor:
        """The head on pooled features, in the :attr:`output` mode: ``"logits"`` or
        ``"probabilities"`` (softmax over the outputs)."""
        logits = self.model.fc(features)
        return torch.softmax(logits, dim=1) if self.output == "probabilities" else logits

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Globally pooled trunk features ``[B, 512]`` (ResNet-34) or ``[B, 2048]`` (ResNet-50)."""
        return self.model.pooled(self.scale(self.prepare(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs for ``[B, 1, H, W]`` images in [-1024, 1024], as :attr:`output` says."""
        return self.finish(self.features(x))
