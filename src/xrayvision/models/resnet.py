"""ResNet-50/101 classifier (512 px) whose parameter names match the published weight file.

The inner network (``self.model``) is laid out like torchvision's ResNet ("v1.5":
stride on the 3x3 convolution) with a single-channel stem, so the official state
dict (``conv1.weight`` ... ``fc.bias``) loads with ``strict=True``; torchvision
itself is not needed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from torch import nn

from .._vocabulary import default_pathologies
from . import _loading
from ._input import as_batch, fix_resolution, warn_normalization
from ._builders import register_model
from ._validate import check_resnet
from ._registry import Weights
from .calibration import ClassifierAttributes, finish_outputs, loaded_thresholds, threshold_tensor

#: Bottlenecks per stage.
_LAYERS = {"resnet50": (3, 4, 6, 3), "resnet101": (3, 4, 23, 3)}


class Bottleneck(nn.Module):
    """1x1 → 3x3 (strided) → 1x1 bottleneck with residual add, expansion 4."""

    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, width * self.expansion, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(width * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions (stride on the first) with residual add, expansion 1 (ResNet-18/34)."""

    expansion = 1

    def __init__(self, in_channels: int, width: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(width, width, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNetBackbone(nn.Module):
    """torchvision-named ResNet: ``conv1, bn1, relu, maxpool, layer1..4, avgpool, fc``.

    Args:
        layers: blocks per stage ((3, 4, 6, 3) with bottlenecks is ResNet-50, with basic
            blocks ResNet-34).
        num_classes: outputs of ``fc``.
        in_channels: input channels of ``conv1`` (1 for xrayvision's own weights, 3 for
            files saved from torchvision models).
        block: :class:`Bottleneck` or :class:`BasicBlock`.
    """

    def __init__(
        self,
        layers: Sequence[int] = (3, 4, 6, 3),
        num_classes: int = 18,
        in_channels: int = 1,
        block: type[Bottleneck] | type[BasicBlock] = Bottleneck,
    ):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        width_in = 64
        for index, (blocks, width, stride) in enumerate(zip(layers, (64, 128, 256, 512), (1, 2, 2, 2))):
            downsample = None
            if stride != 1 or width_in != width * block.expansion:
                downsample = nn.Sequential(
                    nn.Conv2d(width_in, width * block.expansion, kernel_size=1, stride=stride, bias=False),
                    nn.BatchNorm2d(width * block.expansion),
                )
            stage = [block(width_in, width, stride, downsample)]
            width_in = width * block.expansion
            stage += [block(width_in, width) for _ in range(1, blocks)]
            self.add_module(f"layer{index + 1}", nn.Sequential(*stage))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc: nn.Module = nn.Linear(width_in, num_classes)
        self.num_features = width_in
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Stem and the four stages: ``[B, 2048, H/32, W/32]``."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """Globally average-pooled trunk features ``[B, num_features]``."""
        return torch.flatten(self.avgpool(self.trunk(x)), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pooled(x))


@register_model("resnet50", "resnet101", task="classification", check_file=check_resnet)
class ResNet(ClassifierAttributes, nn.Module):
    """ResNet classifier for single-channel chest X-rays in [-1024, 1024] (512 px weights).

    Usage, as in the paper::

        model = xrv.models.ResNet(weights="resnet50-res512-all")

    Output modes, NaN for unavailable outputs, and input checks are those of
    :class:`DenseNet`. Unlike the reference, ``ResNet()`` without weights builds an
    untrained ResNet-50 (``arch="resnet101"`` for the deeper variant).

    Note:
        The registry's ResNet thresholds were computed through a double sigmoid by the
        reference's calibration script; they are kept unchanged for output equality
        (see docs/differences.md).

    Args:
        weights: registry name, :class:`Weights`, local file, or None (untrained).
        apply_sigmoid: sigmoid probabilities when no calibration is active.
        cache_dir: folder for downloaded weights.
        arch: ``"resnet50"`` or ``"resnet101"`` when ``weights`` does not fix it.
        op_threshs: calibration thresholds overriding the registry's.

    Raises:
        UnknownNameError: unknown weights name.
        ValueError: the weights are not for a ResNet.
        WeightsFormatError: the file does not fit this architecture.
    """

    def __init__(
        self,
        weights: str | os.PathLike | Weights | None = None,
        *,
        apply_sigmoid: bool = False,
        cache_dir: str | os.PathLike | None = None,
        arch: str = "resnet50",
        op_threshs: torch.Tensor | Sequence[float] | None = None,
        progress: bool = True,
    ):
        super().__init__()
        record, path = _loading.resolve(weights) if weights is not None else (None, None)
        saved = _loading.weight_set_config(path) if path is not None else {}
        if record is not None:
            arch = record.architecture
        elif saved.get("architecture"):
            arch = saved["architecture"]
        if arch not in _LAYERS:
            raise ValueError(
                f"{arch!r} is not a ResNet architecture (expected one of {sorted(_LAYERS)}); "
                "use xrv.models.get_model(name) to build the right class"
            )
        self.architecture = arch
        self._init_attributes(weights, record, apply_sigmoid)
        outputs = len(saved["labels"]) if saved.get("labels") else len(default_pathologies)
        self.model = ResNetBackbone(_LAYERS[arch], num_classes=outputs, in_channels=1)
        self.targets: list[str] = list(record.labels) if record else list(default_pathologies)
        self.register_buffer("op_threshs", None)
        self.input_resolution = 512
        if weights is None:
            self.op_threshs = threshold_tensor(op_threshs)
            return
        local, metadata = _loading.load_into(self.model, record, path, cache_dir, prefix_to_strip=("module.", "model."))
        self.weights_filename_local = str(local)
        if metadata.get("labels"):
            self.targets = list(metadata["labels"])
        self.op_threshs = loaded_thresholds(op_threshs, metadata, record)
        self.input_resolution = int(metadata.get("input_resolution") or (record.input_resolution if record else 512))
        self.eval()

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        x = fix_resolution(as_batch(x, 1), self.input_resolution, self)
        warn_normalization(x, self)
        return x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled image features ``[B, 2048]`` (resized to the native resolution first)."""
        return torch.flatten(self.model.avgpool(self.model.trunk(self._prepare(x))), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores ``[B, 18]`` for a batch ``[B, 1, H, W]`` in [-1024, 1024]."""
        return finish_outputs(self, self.model.fc(self.features(x)))

    def optimize_for_inference(self, backend: str = "torch") -> nn.Module:
        """A faster, inference-only copy (see :func:`xrayvision.models.fast.optimize_for_inference`)."""
        from .fast import optimize_for_inference

        return optimize_for_inference(self, backend)

    def __repr__(self) -> str:
        return f"XRV-ResNet-{self.weights}" if self.weights is not None else f"XRV-ResNet-{self.architecture}"


__all__ = ["BasicBlock", "Bottleneck", "ResNet", "ResNetBackbone"]
