"""CXAS: segmentation of 159 anatomical structures (Seibold et al., BMVC 2022, arXiv 2306.03934).

**Licence: CC BY-NC-SA 4.0 (non-commercial)**, separate from xrayvision's Apache-2.0. A
:class:`LicenceWarning` is emitted when the weights are downloaded, and ``xrv weights
list``/``download``/``xrv segment`` print the notice.

A U-Net head on a ResNet-50 trunk (spec models.md §8.4, Appendix B): the trunk is
``backbone.backbone`` = [``layer0`` (stem), ``layer1``..``layer4``] with torchvision's
names inside; the head upsamples the deepest map and concatenates each skip
connection before it, ending in a 1x1 classifier at the input's size.

Loading: the file may be a state dict or a checkpoint dict (``model``, ``state_dict``,
``model_state_dict``, ``network`` or ``net`` entry); one leading ``module.``, ``model.``
or ``net.`` is stripped, and ``backbone.`` becomes ``backbone.backbone.`` when the file
uses the shorter spelling. Then the keys must match exactly: the reference loaded with
``strict=False``, silently leaving layers random on any mismatch.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..hub.safe_load import as_state_dict, load_object
from ..models._builders import register_model
from ..models._registry import get_weights
from ..models.resnet import ResNetBackbone
from ._base import BaselineModel, WeightsArg, imagenet_normalize

MODEL_NAME = "UNet_ResNet50_default"
#: Entries of a checkpoint dict that may hold the state dict, in the order they are tried.
_STATE_ENTRIES = ("model", "state_dict", "model_state_dict", "network", "net")
_PREFIXES = ("module.", "model.", "net.")


#: The 159 structures, in channel order (spec Appendix B; the list lives in weights.json).
TARGETS: list[str] = list(get_weights("chestx_anatomy").labels)


def _conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel_size=3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class _Conv(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Sequential(*_conv_bn_relu(cin, cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class _DoubleConv(nn.Module):
    def __init__(self, cin: int, cout: int, mid: int):
        super().__init__()
        self.double_conv = nn.Sequential(*_conv_bn_relu(cin, mid), *_conv_bn_relu(mid, cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.double_conv(x)


def _up_to(x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
    """Resize ``x`` to ``skip``'s size and concatenate, skip first."""
    return torch.cat([skip, F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)], dim=1)


class _UpInit(nn.Module):
    def __init__(self, temp: int, cin: int, cout: int):
        super().__init__()
        self.conv1 = _Conv(cin, temp)
        self.conv2 = _DoubleConv(cin, cout, cin // 2)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv2(_up_to(self.conv1(x), skip))


class _Up(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = _DoubleConv(cin, cout, cin // 2)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(_up_to(x, skip))


class _OutConv(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class _UNetHead(nn.Module):
    def __init__(self, in_channels: int, ngf: int, classes: int):
        super().__init__()
        self.up1 = _UpInit(in_channels // 2, in_channels, in_channels // 4)
        self.up2 = _Up(in_channels // 4 * 2, in_channels // 8)
        self.up3 = _Up(in_channels // 8 * 2, in_channels // 32)
        self.up4 = _Up(in_channels // 32 * 2, ngf)
        self.out = _OutConv(ngf, classes)


class _Backbone(nn.Module):
    """``backbone`` = the ResNet-50 trunk as [layer0 (stem), layer1..layer4]; no classifier."""

    def __init__(self) -> None:
        super().__init__()
        resnet = ResNetBackbone((3, 4, 6, 3), num_classes=1, in_channels=3)
        stem = nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool)
        stages = OrderedDict(layer0=stem)
        stages.update((f"layer{i}", getattr(resnet, f"layer{i}")) for i in range(1, 5))
        self.backbone = nn.Sequential(stages)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The five feature maps, shallowest first."""
        maps = []
        for stage in self.backbone:
            x = stage(x)
            maps.append(x)
        return maps


class CXASNetwork(nn.Module):
    """UNet-ResNet50 with the published key names (``backbone.backbone.*``, ``head.*``)."""

    def __init__(self, classes: int = 159):
        super().__init__()
        self.backbone = _Backbone()
        self.head = _UNetHead(2048, 128, classes)
        self.dropout = nn.Dropout(p=0)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"feats": [B, 128, H/4, W/4], "logits": [B, classes, H, W]}``."""
        f1, f2, f3, f4, f5 = self.backbone(x)
        up = self.dropout(self.head.up1(f5, f4))
        up = self.dropout(self.head.up2(up, f3))
        up = self.dropout(self.head.up3(up, f2))
        feats = self.dropout(self.head.up4(up, f1))
        full = F.interpolate(feats, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return {"feats": feats, "logits": self.head.out(full)}


def read_cxas_state(path: Path) -> dict[str, torch.Tensor]:
    """The state dict of a CXAS file with its keys mapped to :class:`CXASNetwork`'s."""
    loaded: Any = load_object(path)
    if isinstance(loaded, dict):
        for entry in _STATE_ENTRIES:
            if isinstance(loaded.get(entry), dict):
                loaded = loaded[entry]
                break
    state = as_state_dict(loaded, path)
    stripped = {}
    for key, value in state.items():
        prefix = next((p for p in _PREFIXES if key.startswith(p)), "")
        stripped[key[len(prefix) :]] = value
    if not any(key.startswith("backbone.backbone.") for key in stripped):
        stripped = {("backbone." + k if k.startswith("backbone.") else k): v for k, v in stripped.items()}
    return stripped


@register_model("cxas-unet-resnet50", task="segmentation")
class UNetResNet50(BaselineModel):
    """CXAS anatomy segmentation: 159 structures (``targets``, in channel order). Non-commercial licence.

    Usage::

        model = xrv.baseline_models.chestx_anatomy.UNetResNet50()
        logits = model(img)                    # [B, 159, 512, 512]
        out = model({"data": prepared})        # dict mode: no preprocessing, adds
                                               # "feats", "logits", "segmentation_preds"

    Input ``[B, 1, H, W]`` in [-1024, 1024] (square; resized to 512), mapped to [0, 1]
    and normalised with ImageNet statistics.

    Args:
        weights: True (the published weights, default), a registry name, a local file,
            or False for an untrained network.
        cache_dir: folder for downloaded weights.

    Raises:
        WeightsFormatError: the file does not fit (names missing and unexpected keys).
    """

    targets = TARGETS
    input_resolution = 512
    architecture = "cxas-unet-resnet50"
    default_weights = "chestx_anatomy"
    output_modes = ("logits",)
    threshold = 0.5
    model_name = MODEL_NAME
    network = staticmethod(CXASNetwork)
    read = staticmethod(read_cxas_state)

    def __init__(self, weights: WeightsArg = True, cache_dir: str | os.PathLike | None = None):
        super().__init__()
        self.model = self.network()
        self.load_network(self.model, weights, cache_dir)
        self.eval()

    def forward(self, x: torch.Tensor | dict[str, torch.Tensor]) -> torch.Tensor | dict[str, Any]:
        """Logits ``[B, 159, 512, 512]``; or, given ``{"data": tensor}`` (already mapped to
        the network's input), that dict plus ``feats``, ``logits`` and ``segmentation_preds``
        (sigmoid(logits) > :attr:`threshold`)."""
        if isinstance(x, dict):
            out = self.model(x["data"])
            return {**x, **out, "segmentation_preds": torch.sigmoid(out["logits"]) > self.threshold}
        return self.model(imagenet_normalize(self.prepare(x)))["logits"]

    def __repr__(self) -> str:
        return "cxas-unet-resnet50"


__all__ = ["CXASNetwork", "TARGETS", "UNetResNet50", "read_cxas_state"]
