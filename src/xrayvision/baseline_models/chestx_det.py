"""PSPNet segmentation of 14 anatomical structures, trained on ChestX-Det (Lian et al. 2021).

The network is pytorch-semseg's PSPNet (MIT) with its key names as published: a dilated
ResNet-101-like encoder (``convbnrelu1_*``, ``res_block2..5``), pyramid pooling over
(6, 3, 2, 1) bins, a final conv and a 1x1 classifier, plus the auxiliary head used only
in training (spec models.md §8.3). The file is a state dict saved from
``nn.DataParallel`` (``module.`` prefix).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..models._builders import register_model
from ..models._loading import read_file, strip_prefix
from ._base import BaselineModel, WeightsArg, imagenet_normalize

TARGETS = [
    "Left Clavicle", "Right Clavicle", "Left Scapula", "Right Scapula", "Left Lung", "Right Lung",
    "Left Hilus Pulmonis", "Right Hilus Pulmonis", "Heart", "Aorta", "Facies Diaphragmatica",
    "Mediastinum", "Weasand", "Spine",
]  # fmt: skip


class _ConvBN(nn.Module):
    """``cb_unit`` = [Conv2d (no bias), BatchNorm2d], or ``cbr_unit`` with a ReLU after."""

    def __init__(
        self, cin: int, cout: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1, relu: bool = True
    ):
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, dilation=dilation, bias=False),
            nn.BatchNorm2d(cout),
        ]
        if relu:
            layers.append(nn.ReLU(inplace=True))
        self.unit_name = "cbr_unit" if relu else "cb_unit"
        self.add_module(self.unit_name, nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(self, self.unit_name)(x)


class _Bottleneck(nn.Module):
    """1x1 → 3x3 (dilated) → 1x1 bottleneck; ``cb4`` projects the shortcut when present."""

    def __init__(self, cin: int, mid: int, cout: int, stride: int, dilation: int, project: bool):
        super().__init__()
        self.cbr1 = _ConvBN(cin, mid, 1)
        self.cbr2 = _ConvBN(mid, mid, 3, stride=stride, padding=dilation, dilation=dilation)
        self.cb3 = _ConvBN(mid, cout, 1, relu=False)
        self.cb4 = _ConvBN(cin, cout, 1, stride=stride, relu=False) if project else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.cb4 is None else self.cb4(x)
        return F.relu(self.cb3(self.cbr2(self.cbr1(x))) + shortcut, inplace=True)


class _ResidualStage(nn.Module):
    """``layers`` = one projection bottleneck, then identity bottlenecks."""

    def __init__(self, blocks: int, cin: int, mid: int, cout: int, stride: int, dilation: int):
        super().__init__()
        stride = 1 if dilation > 1 else stride  # dilated stages keep the resolution
        self.layers = nn.Sequential(
            _Bottleneck(cin, mid, cout, stride, dilation, project=True),
            *(_Bottleneck(cout, mid, cout, 1, dilation, project=False) for _ in range(blocks - 1)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class _PyramidPooling(nn.Module):
    """Average-pool into 6/3/2/1 bins (kernel = stride = ⌊size/bins⌋), 1x1 CBR, upsample, concatenate."""

    def __init__(self, channels: int, bins: tuple[int, ...] = (6, 3, 2, 1)):
        super().__init__()
        self.bins = bins
        self.path_module_list = nn.ModuleList(_ConvBN(channels, channels // len(bins), 1) for _ in bins)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        slices = [x]
        for module, bins in zip(self.path_module_list, self.bins):
            kernel = (int(height / bins), int(width / bins))
            pooled = module(F.avg_pool2d(x, kernel, stride=kernel))
            slices.append(F.interpolate(pooled, size=(height, width), mode="bilinear", align_corners=False))
        return torch.cat(slices, dim=1)


class PSPNetNetwork(nn.Module):
    """pytorch-semseg's PSPNet, layer plan [3, 4, 23, 3], 3 input channels."""

    def __init__(self, n_classes: int = len(TARGETS), block_config: tuple[int, int, int, int] = (3, 4, 23, 3)):
        super().__init__()
        self.convbnrelu1_1 = _ConvBN(3, 64, 3, stride=2, padding=1)
        self.convbnrelu1_2 = _ConvBN(64, 64, 3, padding=1)
        self.convbnrelu1_3 = _ConvBN(64, 128, 3, padding=1)
        self.res_block2 = _ResidualStage(block_config[0], 128, 64, 256, 1, 1)
        self.res_block3 = _ResidualStage(block_config[1], 256, 128, 512, 2, 1)
        self.res_block4 = _ResidualStage(block_config[2], 512, 256, 1024, 1, 2)
        self.res_block5 = _ResidualStage(block_config[3], 1024, 512, 2048, 1, 4)
        self.pyramid_pooling = _PyramidPooling(2048)
        self.cbr_final = _ConvBN(4096, 512, 3, padding=1)
        self.dropout = nn.Dropout2d(p=0.1)
        self.classification = nn.Conv2d(512, n_classes, 1)
        # Auxiliary head: trained with the model and stored in the file; unused for inference.
        self.convbnrelu4_aux = _ConvBN(1024, 256, 3, padding=1)
        self.aux_cls = nn.Conv2d(256, n_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, n_classes, H, W]`` at the input's size."""
        size = x.shape[-2:]
        x = self.convbnrelu1_3(self.convbnrelu1_2(self.convbnrelu1_1(x)))
        x = F.max_pool2d(x, 3, 2, 1)
        x = self.res_block4(self.res_block3(self.res_block2(x)))
        # (the reference also ran the auxiliary head here and discarded it: ~10 GFLOPs skipped)
        x = self.pyramid_pooling(self.res_block5(x))
        x = self.classification(self.dropout(self.cbr_final(x)))
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


@register_model("pspnet-resnet101", task="segmentation")
class PSPNet(BaselineModel):
    """Segmentation of 14 anatomical structures (``targets``, in channel order).

    Usage::

        model = xrv.baseline_models.chestx_det.PSPNet()
        logits = model(img)                   # [B, 14, 512, 512]
        masks = torch.sigmoid(logits) > 0.5

    Input ``[B, 1, H, W]`` in [-1024, 1024] (square; resized to 512), mapped to [0, 1]
    and normalised with ImageNet statistics. ``xrv segment`` writes the masks at the
    input's size.

    Args:
        cache_dir: folder for downloaded weights.
        weights: ``"chestx_det"`` (default), a local file, or False for an untrained network.

    Raises:
        WeightsFormatError: the file does not fit (names missing and unexpected keys).
    """

    targets = TARGETS
    input_resolution = 512
    architecture = "pspnet-resnet101"
    default_weights = "chestx_det"
    output_modes = ("logits",)
    network = staticmethod(PSPNetNetwork)

    @staticmethod
    def read(path: Path) -> dict[str, torch.Tensor]:
        state, _ = read_file(path)
        return strip_prefix(state, "module.")  # saved from nn.DataParallel

    def __init__(self, cache_dir: str | os.PathLike | None = None, *, weights: WeightsArg = True):
        super().__init__()
        self.model = self.network()
        self.load_network(self.model, weights, cache_dir)
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, 14, 512, 512]`` for ``[B, 1, H, W]`` images in [-1024, 1024]."""
        return self.model(imagenet_normalize(self.prepare(x)))

    def __repr__(self) -> str:
        return "chestx-det-pspnet"


__all__ = ["PSPNet", "PSPNetNetwork", "TARGETS"]
