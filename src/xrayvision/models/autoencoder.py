"""ResNet autoencoder ("101-elastic") with the published file's parameter names (spec §7).

Encoder: a ResNet-101-like trunk whose bottlenecks apply ReLU *before* the residual
add, and whose last stage (2 blocks, width 128, stride 6) gives a ``[B, 512, 3, 3]``
latent at 224 px. Decoder: mirrored stages of transposed-convolution bottlenecks.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from torch import nn

from ..errors import ModelInputError, UnknownNameError
from . import _loading
from ._input import as_batch
from ._builders import register_model
from ._validate import check_autoencoder
from ._registry import AUTOENCODER, Weights, list_weights
from .resnet import Bottleneck


def _residual_relu_first(block: nn.Module, x: torch.Tensor, shortcut: torch.Tensor) -> torch.Tensor:
    """The autoencoder's bottleneck body: ReLU after *every* BN, before the residual add (as trained)."""
    out = block.relu(block.bn1(block.conv1(x)))
    out = block.relu(block.bn2(block.conv2(out)))
    out = block.relu(block.bn3(block.conv3(out)))
    return block.relu(out + shortcut)


class _EncoderBottleneck(Bottleneck):
    """The classifier's bottleneck layout (same parameter names), ReLU before the add."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _residual_relu_first(self, x, x if self.downsample is None else self.downsample(x))


class _DecoderBottleneck(nn.Module):
    def __init__(self, in_channels: int, mid: int, expansion: int, stride: int = 1, upsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, mid, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        if stride == 1:
            self.conv2: nn.Module = nn.Conv2d(mid, mid, kernel_size=3, stride=1, padding=1, bias=False)
        else:
            self.conv2 = nn.ConvTranspose2d(
                mid, mid, kernel_size=3, stride=stride, padding=1, output_padding=1, bias=False
            )
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, mid * expansion, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(mid * expansion)
        self.relu = nn.ReLU(inplace=True)
        self.upsample = upsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _residual_relu_first(self, x, x if self.upsample is None else self.upsample(x))


def _upsample(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(in_channels, out_channels, kernel_size=1, stride=stride, output_padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
    )


class _ResNetAE(nn.Module):
    """Encoder/decoder pair; see :func:`ResNetAE` for the pre-trained factory."""

    resolution = 224

    def __init__(self, layers: Sequence[int]):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self._width = 64
        self.layer1 = self._encoder_layer(64, layers[0], 1)
        self.layer2 = self._encoder_layer(128, layers[1], 2)
        self.layer3 = self._encoder_layer(256, layers[2], 2)
        self.layer4 = self._encoder_layer(128, layers[3], 6)
        self.uplayer1 = self._decoder_layer(128, layers[3], 6)
        self.uplayer2 = self._decoder_layer(64, layers[2], 2)
        self.uplayer3 = self._decoder_layer(32, layers[1], 2)
        self.uplayer4 = self._decoder_layer(16, layers[0], 2)
        self.uplayer_top = _DecoderBottleneck(self._width, 64, 1, 2, _upsample(self._width, 64, 2))
        self.conv1_1 = nn.ConvTranspose2d(64, 1, kernel_size=1, stride=1, bias=False)
        self.weights: str | None = None

    def _encoder_layer(self, mid: int, blocks: int, stride: int) -> nn.Sequential:
        out = mid * _EncoderBottleneck.expansion
        downsample = nn.Sequential(
            nn.Conv2d(self._width, out, kernel_size=1, stride=stride, bias=False), nn.BatchNorm2d(out)
        )
        layer = [_EncoderBottleneck(self._width, mid, stride, downsample)]
        self._width = out
        layer += [_EncoderBottleneck(out, mid) for _ in range(1, blocks)]
        return nn.Sequential(*layer)

    def _decoder_layer(self, mid: int, blocks: int, stride: int) -> nn.Sequential:
        layer = [_DecoderBottleneck(self._width, mid, 4) for _ in range(blocks - 1)]
        layer.append(_DecoderBottleneck(self._width, mid, 2, stride, _upsample(self._width, mid * 2, stride)))
        self._width = mid * 2
        return nn.Sequential(*layer)

    def encode(self, x: torch.Tensor, check_resolution: bool = True) -> torch.Tensor:
        """Latent code ``[B, 512, 3, 3]`` of images ``[B, 1, 224, 224]`` in [-1024, 1024].

        Raises:
            ModelInputError: (pre-trained models, ``check_resolution=True``) the input is
                not 224x224; the autoencoder does not resize.
        """
        x = as_batch(x, 1)
        if check_resolution and self.weights is not None and tuple(x.shape[-2:]) != (self.resolution,) * 2:
            raise ModelInputError(
                f"the autoencoder expects {self.resolution}x{self.resolution} images, got "
                f"{x.shape[-2]}x{x.shape[-1]}; resize first (weights.transforms()) or pass check_resolution=False"
            )
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Same as :meth:`encode`."""
        return self.encode(x)

    def decode(self, z: torch.Tensor, image_size: Sequence[int] = (1, 1, 224, 224)) -> torch.Tensor:
        """Reconstruct ``[B, 1, 224, 224]`` images (linear output, ~[-1024, 1024]) from ``z``."""
        x = self.uplayer4(self.uplayer3(self.uplayer2(self.uplayer1(z))))
        x = self.uplayer_top(x)
        return self.conv1_1(x, output_size=list(image_size)[-2:])

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"z": encode(x), "out": decode(z)}``."""
        x = as_batch(x, 1)
        z = self.encode(x)
        return {"z": z, "out": self.decode(z, x.shape)}

    def __repr__(self) -> str:
        return f"XRV-ResNetAE-{self.weights}" if self.weights is not None else f"XRV-{type(self).__name__}"


class ResNetAE50(_ResNetAE):
    """ResNetAE with a ResNet-50 layer plan ([3, 4, 6, 3]); no published weights."""

    def __init__(self) -> None:
        super().__init__([3, 4, 6, 3])


class ResNetAE101(_ResNetAE):
    """ResNetAE with the layer plan of the published ``101-elastic`` weights ([3, 4, 23, 2])."""

    def __init__(self) -> None:
        super().__init__([3, 4, 23, 2])


_CLASSES = {"resnetae101": ResNetAE101, "resnetae50": ResNetAE50}


@register_model("resnetae101", "resnetae50", task="autoencoder", check_file=check_autoencoder)
def ResNetAE(weights: str | os.PathLike | Weights | None = None, cache_dir: str | os.PathLike | None = None) -> _ResNetAE:
    """Build the ResNet autoencoder, pre-trained when ``weights`` is given.

    Args:
        weights: ``"101-elastic"`` (the published weights), a local file, or None for an
            untrained ResNetAE-101.
        cache_dir: folder for downloaded weights.

    Returns:
        A model in eval mode (when pre-trained) with ``encode``, ``decode``, ``forward``.

    Raises:
        UnknownNameError: unknown weights name (or a classifier's name).
        WeightsFormatError: the file does not fit.
    """
    if weights is None:
        return ResNetAE101()
    record, path = _loading.resolve(weights)
    if record is not None and record.kind != AUTOENCODER:
        raise UnknownNameError("autoencoder weights", record.name, list_weights(AUTOENCODER))
    model = _CLASSES[record.architecture if record else "resnetae101"]()
    local, _ = _loading.load_into(model, record, path, cache_dir)
    model.weights = record.name if record else str(weights)
    model.weights_metadata = record
    model.description = record.description if record else None
    model.weights_filename_local = str(local)
    return model.eval()


__all__ = ["ResNetAE", "ResNetAE50", "ResNetAE101"]
