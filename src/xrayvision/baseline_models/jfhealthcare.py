"""JF Healthcare's CheXpert competition model (Ye et al. 2020, arXiv 2005.14480; Apache-2.0).

A DenseNet-121 (3 input channels) whose feature map goes through feature pyramid
attention (FPA) before each of five heads; each head pools the map by average and max,
normalises, and classifies with a 1x1 convolution (spec models.md §8.1). The weight
file is a plain state dict of this network with its key names as published, including
the unused ImageNet classifier of the backbone and the two attention modules the
configuration does not select (``channel_attention``, ``spatial_attention``).

Unlike the reference, building the model never downloads ImageNet weights (they were
fetched at every construction and then overwritten).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..models._builders import register_model
from ..models._loading import adapt_keys, read_file
from ..models.densenet import DenseNetNetwork
from ._base import BaselineModel, WeightsArg

TARGETS = ["Cardiomegaly", "Edema", "Consolidation", "Atelectasis", "Effusion"]
_WIDTH = 1024  # channels of the DenseNet-121 feature map


class _ConvNormRelu(nn.Module):
    """``conv`` = [Conv2d (with bias), BatchNorm2d, ReLU] (the published key layout)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class _ChannelAttention(nn.Module):
    """Squeeze-and-excitation (in the weights, not selected by the published configuration)."""

    def __init__(self, channels: int):
        super().__init__()
        self.fc1 = nn.Linear(channels, channels // 2)
        self.fc2 = nn.Linear(channels // 2, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean((2, 3))))))
        return x * scale[:, :, None, None]


class _SpatialAttention(nn.Module):
    """Self-attention over positions (in the weights, not selected by the configuration)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels // 8, 1)
        self.conv2 = nn.Conv2d(channels, channels // 8, 1)
        self.conv3 = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The reference's version would fail (a misspelled softmax keyword); this is the intended one.
        batch, channels, height, width = x.shape
        query = self.conv1(x).flatten(2).transpose(1, 2)
        attention = torch.softmax(torch.bmm(query, self.conv2(x).flatten(2)), dim=-1)
        refined = torch.bmm(self.conv3(x).flatten(2), attention.transpose(1, 2))
        return self.gamma * refined.view(batch, channels, height, width) + x


class _PyramidAttention(nn.Module):
    """Feature pyramid attention (Li et al. 2018): the one the published model runs."""

    def __init__(self, channels: int):
        super().__init__()
        self.gap_branch = nn.Sequential(nn.AdaptiveAvgPool2d(1), _ConvNormRelu(channels, channels, 1))
        self.mid_branch = _ConvNormRelu(channels, channels, 1)
        self.downsample1 = _ConvNormRelu(channels, 1, 7, stride=2, padding=3)
        self.downsample2 = _ConvNormRelu(1, 1, 5, stride=2, padding=2)
        self.downsample3 = _ConvNormRelu(1, 1, 3, stride=2, padding=1)
        self.scale1 = _ConvNormRelu(1, 1, 7, padding=3)
        self.scale2 = _ConvNormRelu(1, 1, 5, padding=2)
        self.scale3 = _ConvNormRelu(1, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        gap = _resize(self.gap_branch(x), (height, width))
        mid = self.mid_branch(x)
        d1 = self.downsample1(x)
        d2 = self.downsample2(d1)
        d3 = self.downsample3(d2)
        s3 = _resize(self.scale3(d3), (height // 4, width // 4))
        s2 = self.scale2(d2)
        s2 = _resize(s2 + _resize(s3, s2.shape[-2:]), (height // 2, width // 2))
        s1 = self.scale1(d1)
        s1 = _resize(s1 + _resize(s2, s1.shape[-2:]), (height, width))
        return s1 * mid + gap


def _resize(x: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x  # bilinear resampling to the same size is the identity
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


class _AttentionMap(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.channel_attention = _ChannelAttention(channels)
        self.spatial_attention = _SpatialAttention(channels)
        self.pyramid_attention = _PyramidAttention(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pyramid_attention(x)  # the published configuration: "FPA"


class JFHealthcareNetwork(nn.Module):
    """The classifier whose state dict the published file holds (keys as published)."""

    def __init__(self, num_tasks: int = len(TARGETS)):
        super().__init__()
        self.num_tasks = num_tasks
        self.backbone = DenseNetNetwork(num_classes=1000, in_channels=3)  # its classifier is unused
        for index in range(num_tasks):
            self.add_module(f"fc_{index}", nn.Conv2d(2 * _WIDTH, 1, kernel_size=1))
        for index in range(num_tasks):
            self.add_module(f"bn_{index}", nn.BatchNorm2d(2 * _WIDTH))
        self.attention_map = _AttentionMap(_WIDTH)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone features after ReLU: ``[B, 1024, H/32, W/32]``."""
        return F.relu(self.backbone.features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feature_map = self.feature_map(x)
        logits = []
        for index in range(self.num_tasks):
            # As trained: the attention is re-applied to its own output, so head i sees it i+1 times.
            feature_map = self.attention_map(feature_map)
            pooled = torch.cat(
                [F.adaptive_avg_pool2d(feature_map, 1), F.adaptive_max_pool2d(feature_map, 1)], dim=1
            )
            pooled = getattr(self, f"bn_{index}")(pooled)
            logits.append(getattr(self, f"fc_{index}")(pooled).flatten(1))
        return torch.cat(logits, dim=1)


@register_model("jfhealthcare-densenet121", task="classification")
class DenseNet(BaselineModel):
    """JF Healthcare's CheXpert model: 5 findings from a 512 px image.

    Usage::

        model = xrv.baseline_models.jfhealthcare.DenseNet()
        probabilities = model(img)            # [B, 5], order: model.targets

    Input ``[B, 1, H, W]`` in [-1024, 1024] (square; resized to 512), mapped to [-2, 2]
    by dividing by 512 after the channel is repeated to 3.

    Args:
        apply_sigmoid: return probabilities (default, as the reference) or logits.
        weights: ``"jfhealthcare"`` (default), a local file, or False for an untrained network.
        cache_dir: folder for downloaded weights (the reference ignored it).

    Raises:
        UnknownNameError: weights of another model.
        WeightsFormatError: the file does not fit (names missing and unexpected keys).
    """

    targets = TARGETS
    input_resolution = 512
    architecture = "jfhealthcare-densenet121"
    default_weights = "jfhealthcare"
    output_modes = ("probabilities", "logits")
    network = staticmethod(JFHealthcareNetwork)

    @staticmethod
    def read(path: Path) -> dict[str, torch.Tensor]:
        state, _ = read_file(path)
        return adapt_keys(state)  # tolerates a DataParallel ``module.`` prefix

    def __init__(
        self, apply_sigmoid: bool = True, *, weights: WeightsArg = True, cache_dir: str | os.PathLike | None = None
    ):
        super().__init__()
        self.model = self.network()
        self.load_network(self.model, weights, cache_dir)
        self.apply_sigmoid = apply_sigmoid
        self.eval()

    @property
    def apply_sigmoid(self) -> bool:
        """True when ``forward`` returns probabilities (the ``output`` mode ``"probabilities"``)."""
        return self.output == "probabilities"

    @apply_sigmoid.setter
    def apply_sigmoid(self, value: bool) -> None:
        self.output = "probabilities" if value else "logits"

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled backbone features ``[B, 1024]`` (ReLU, global average pool)."""
        return torch.flatten(F.adaptive_avg_pool2d(self.model.feature_map(self.prepare(x) / 512), 1), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores ``[B, 5]`` for ``[B, 1, H, W]`` images in [-1024, 1024]."""
        logits = self.model(self.prepare(x) / 512)
        return torch.sigmoid(logits) if self.apply_sigmoid else logits

    def __repr__(self) -> str:
        return "jfhealthcare-DenseNet121"


__all__ = ["DenseNet", "JFHealthcareNetwork", "TARGETS"]
