"""DenseNet-121 classifier whose parameter names match the published weight files.

The module tree (``features.conv0`` ... ``features.norm5``, ``classifier``) is exactly
the one of spec models.md §3.2, so the official files load with ``strict=True``.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._vocabulary import default_pathologies
from ..errors import ModelInputError, UnknownArchitectureError
from . import _loading
from ._input import as_batch, fix_resolution, warn_normalization
from ._builders import register_model
from ._validate import check_densenet
from ._registry import Weights
from .calibration import ClassifierAttributes, finish_outputs, loaded_thresholds, threshold_tensor

#: (growth_rate, block_config, num_init_features) of the DenseNet family (spec §5.5).
_DENSENET_PARAMS = {
    "densenet121": (32, (6, 12, 24, 16), 64),
    "densenet161": (48, (6, 12, 36, 24), 96),
    "densenet169": (32, (6, 12, 32, 32), 64),
    "densenet201": (32, (6, 12, 48, 32), 64),
}


def get_densenet_params(arch: str) -> dict[str, Any]:
    """Constructor keywords of a DenseNet variant.

    Unlike the reference, which answered DenseNet-121's values for any other name
    containing "dense" (a typo such as ``"densenet12"`` built the wrong network silently),
    an unknown name raises.

    Args:
        arch: ``"densenet121"``, ``"densenet161"``, ``"densenet169"`` or ``"densenet201"``.

    Returns:
        ``{"growth_rate", "block_config", "num_init_features"}``.

    Raises:
        UnknownArchitectureError: ``arch`` is not one of them (a ``ValueError`` and a ``KeyError``).
    """
    if arch not in _DENSENET_PARAMS:
        raise UnknownArchitectureError("DenseNet architecture", arch, _DENSENET_PARAMS)
    growth, blocks, init = _DENSENET_PARAMS[arch]
    return {"growth_rate": growth, "block_config": blocks, "num_init_features": init}


class _DenseLayer(nn.Module):
    """BN-ReLU-conv1x1 bottleneck then BN-ReLU-conv3x3; output = [input, new channels]."""

    def __init__(self, in_channels: int, growth_rate: int, bn_size: int, drop_rate: float):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_channels, bn_size * growth_rate, kernel_size=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, padding=1, bias=False)
        self.drop_rate = float(drop_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        new = self.conv1(self.relu1(self.norm1(x)))
        new = self.conv2(self.relu2(self.norm2(new)))
        if self.drop_rate > 0:
            new = F.dropout(new, p=self.drop_rate, training=self.training)
        return torch.cat([x, new], 1)


class _DenseBlock(nn.Sequential):
    def __init__(self, num_layers: int, in_channels: int, growth_rate: int, bn_size: int, drop_rate: float):
        super().__init__()
        for i in range(num_layers):
            layer = _DenseLayer(in_channels + i * growth_rate, growth_rate, bn_size, drop_rate)
            self.add_module(f"denselayer{i + 1}", layer)


class _Transition(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.add_module("norm", nn.BatchNorm2d(in_channels))
        self.add_module("relu", nn.ReLU(inplace=True))
        self.add_module("conv", nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False))
        self.add_module("pool", nn.AvgPool2d(kernel_size=2, stride=2))


def densenet_features(
    growth_rate: int, block_config: Sequence[int], num_init_features: int, bn_size: int, drop_rate: float, in_channels: int
) -> tuple[nn.Sequential, int]:
    """The ``features`` trunk (stem, dense blocks, transitions, ``norm5``) and its width."""
    layers: OrderedDict[str, nn.Module] = OrderedDict(
        conv0=nn.Conv2d(in_channels, num_init_features, kernel_size=7, stride=2, padding=3, bias=False),
        norm0=nn.BatchNorm2d(num_init_features),
        relu0=nn.ReLU(inplace=True),
        pool0=nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
    )
    width = num_init_features
    for i, num_layers in enumerate(block_config):
        layers[f"denseblock{i + 1}"] = _DenseBlock(num_layers, width, growth_rate, bn_size, drop_rate)
        width += num_layers * growth_rate
        if i != len(block_config) - 1:
            layers[f"transition{i + 1}"] = _Transition(width, width // 2)
            width //= 2
    layers["norm5"] = nn.BatchNorm2d(width)
    return nn.Sequential(layers), width


class DenseNetNetwork(nn.Module):
    """A bare DenseNet laid out like torchvision's: ``features`` (the trunk) and ``classifier``.

    Forward: features → ReLU → global average pool → classifier. The baselines whose
    files were saved from ``torchvision.models.densenet121`` (3 input channels) load into
    it with their key names as they are.

    Args:
        num_classes: outputs of ``classifier``.
        in_channels: input channels of ``features.conv0``.
        arch: a name of :func:`get_densenet_params`.
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, arch: str = "densenet121"):
        super().__init__()
        params = get_densenet_params(arch)
        self.features, width = densenet_features(
            params["growth_rate"], params["block_config"], params["num_init_features"], 4, 0, in_channels
        )
        self.classifier = nn.Linear(width, num_classes)

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 1024]``: features → ReLU → global average pool."""
        return torch.flatten(F.adaptive_avg_pool2d(F.relu(self.features(x)), 1), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pooled(x))


@register_model("densenet121", task="classification", check_file=check_densenet)
class DenseNet(ClassifierAttributes, nn.Module):
    """DenseNet classifier for single-channel chest X-rays in [-1024, 1024].

    Usage, as in the paper::

        model = xrv.models.DenseNet(weights="densenet121-res224-all")
        out = model(img)                      # [B, 18] calibrated scores
        dict(zip(model.pathologies, out[0]))

    Outputs: with weights loaded, scores are *calibrated* (sigmoid then
    :func:`op_norm`, so each task's operating point is 0.5). Set ``model.op_threshs =
    None`` for logits, plus ``model.apply_sigmoid = True`` for plain probabilities.
    Outputs the weights cannot provide (empty ``""`` labels; slots without a threshold
    while calibrating) are NaN; ``model.mask_unavailable = False`` restores the
    reference's values (0.5 under calibration, an untrained head's output otherwise).

    Args:
        weights: registry name or alias (see :func:`list_weights`), a :class:`Weights`,
            or a local file (official release file or :func:`save_model` checkpoint).
            None builds an untrained network.
        growth_rate, block_config, num_init_features, bn_size, drop_rate, in_channels:
            architecture (defaults: DenseNet-121, 1 input channel).
        num_classes: outputs of an untrained network; must stay 18 with ``weights``.
        op_threshs: calibration thresholds (tensor or sequence). With ``weights`` the
            registry's thresholds are used unless this is given.
        apply_sigmoid: return sigmoid probabilities when no calibration is active.
        cache_dir: folder for downloaded weights (default: the hub's cache).
        progress: accepted for torchvision compatibility (the hub reports progress).

    Raises:
        UnknownNameError: unknown weights name.
        ValueError: ``num_classes`` given together with ``weights``.
        WeightsFormatError: the file does not fit this architecture.
    """

    architecture = "densenet121"

    def __init__(
        self,
        weights: str | os.PathLike | Weights | None = None,
        *,
        growth_rate: int = 32,
        block_config: Sequence[int] = (6, 12, 24, 16),
        num_init_features: int = 64,
        bn_size: int = 4,
        drop_rate: float = 0,
        num_classes: int = len(default_pathologies),
        in_channels: int = 1,
        op_threshs: torch.Tensor | Sequence[float] | None = None,
        apply_sigmoid: bool = False,
        cache_dir: str | os.PathLike | None = None,
        progress: bool = True,
    ):
        super().__init__()
        record, path = _loading.resolve(weights) if weights is not None else (None, None)
        # An xrayvision weight set fixes its own architecture and number of outputs.
        saved = _loading.weight_set_config(path) if path is not None else {}
        options = {"growth_rate": growth_rate, "block_config": tuple(block_config), "num_init_features": num_init_features,
                   "bn_size": bn_size, "drop_rate": drop_rate, "in_channels": in_channels}  # fmt: skip
        options.update({k: v for k, v in (saved.get("architecture_options") or {}).items() if k in options})
        options["block_config"] = tuple(options["block_config"])
        if saved.get("labels"):
            num_classes = len(saved["labels"])
        if record is not None and not record.architecture.startswith("densenet"):
            raise ValueError(
                f"weights {record.name!r} are for a {record.architecture}, not a DenseNet; "
                f"use xrv.models.get_model({record.name!r})"
            )
        if weights is not None and not saved.get("labels") and num_classes != len(default_pathologies):
            raise ValueError(
                "num_classes and weights cannot both be specified: the weights fix the outputs; "
                "replace model.classifier afterwards to fine-tune a new head"
            )
        self._init_attributes(weights, record, apply_sigmoid)
        self.in_channels = options["in_channels"]
        #: The constructor keywords of this architecture (saved with the weights).
        self.build_options = options
        self.features, width = densenet_features(**options)
        self.classifier = nn.Linear(width, num_classes)
        self._init_parameters()
        # A copy: mutating model.targets must never reach the registry.
        self.targets: list[str] = list(record.labels) if record else list(default_pathologies)
        # Registered empty while loading: weight files never contain thresholds.
        self.register_buffer("op_threshs", None)
        self.input_resolution: int | None = None
        # A module, not F.relu, so that hooks (guided backprop) see the last ReLU too.
        self.relu = nn.ReLU()
        if weights is None:
            self.op_threshs = threshold_tensor(op_threshs)
        else:
            local, metadata = _loading.load_into(self, record, path, cache_dir)
            self.weights_filename_local = str(local)
            self._apply_metadata(record, metadata, user_threshs=op_threshs)
            self.eval()

    def _init_parameters(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.constant_(module.weight, 1)
                nn.init.constant_(module.bias, 0)
            elif isinstance(module, nn.Linear):
                nn.init.constant_(module.bias, 0)

    def _apply_metadata(self, record: Weights | None, metadata: dict[str, Any], user_threshs: Any) -> None:
        if metadata.get("labels"):
            self.targets = list(metadata["labels"])
        self.op_threshs = loaded_thresholds(user_threshs, metadata, record)
        self.input_resolution = int(
            metadata.get("input_resolution") or (record.input_resolution if record else 224)
        )

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        x = as_batch(x, self.in_channels)
        if self.input_resolution is not None:
            x = fix_resolution(x, self.input_resolution, self)
            warn_normalization(x, self)
        return x

    def features2(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled image features ``[B, 1024]``: features → ReLU → global average pool."""
        x = self._prepare(x)
        return torch.flatten(F.adaptive_avg_pool2d(self.relu(self.features(x)), 1), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores ``[B, num_classes]`` for a batch ``[B, 1, H, W]`` (or ``[1, H, W]``) in [-1024, 1024].

        Raises:
            ModelInputError: wrong shape/channels or a non-square image.
        """
        logits = self.classifier(self.features2(x))
        return finish_outputs(self, logits)

    def optimize_for_inference(self, backend: str = "torch") -> nn.Module:
        """A faster, inference-only copy of this model (same outputs within float error).

        See :func:`xrayvision.models.fast.optimize_for_inference`.
        """
        from .fast import optimize_for_inference

        return optimize_for_inference(self, backend)

    def __repr__(self) -> str:
        if self.weights is not None:
            return f"XRV-DenseNet121-{self.weights}"
        return "XRV-DenseNet"


__all__ = ["DenseNet", "DenseNetNetwork", "get_densenet_params", "ModelInputError"]
