"""Classifiers of the red-herring study, for ``model.factory`` in a training configuration.

:func:`localization_resnet18` is the paper's network (spec methods.md §2.1); :func:`small_cnn`
is the few-layer network the CPU study (``benchmarks/red_herring_synthetic.py``) trains in
its place. Both map ``[B, 1, H, W]`` to ``[B, num_outputs]`` logits, end with global average
pooling then one linear layer (the pooled features are the input of that layer, where the
activation methods look by default), and take any input size.
"""

from __future__ import annotations

from torch import nn


class _BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch normalisation and an identity (or 1x1) shortcut."""

    def __init__(self, in_channels: int, channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU()
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(channels))  # fmt: skip

    def forward(self, x):  # noqa: D102
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))  # out of place: double backpropagation runs through it


class LocalizationResNet18(nn.Module):
    """ResNet-18 with a 3x3 stride-1 stem and no max-pool (the red-herring paper's classifier).

    Args:
        num_outputs: logits (one per pathology; the paper's two softmax outputs are one logit).
        in_channels: input channels.
        widths: channels of the four stages (ResNet-18: 64, 128, 256, 512).
    """

    def __init__(self, num_outputs: int = 1, in_channels: int = 1, widths: tuple[int, ...] = (64, 128, 256, 512)):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU())  # fmt: skip
        blocks, channels = [], widths[0]
        for stage, width in enumerate(widths):
            stride = 1 if stage == 0 else 2
            blocks += [_BasicBlock(channels, width, stride), _BasicBlock(width, width, 1)]
            channels = width
        self.layers = nn.Sequential(*blocks)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(channels, num_outputs)

    def forward(self, x):  # noqa: D102
        return self.fc(self.pool(self.layers(self.stem(x))))


def localization_resnet18(num_outputs: int = 1, in_channels: int = 1) -> LocalizationResNet18:
    """The red-herring paper's ResNet-18 variant (spec methods.md §2.1), trained from scratch.

    Args:
        num_outputs: logits.
        in_channels: input channels.
    """
    return LocalizationResNet18(num_outputs, in_channels)


def small_cnn(num_outputs: int = 1, width: int = 16) -> nn.Sequential:
    """Three 3x3 convolutions (``width``, 2x, 4x channels; the last two of stride 2), each with
    batch normalisation and ReLU, then global average pooling and a linear layer.

    The first convolution keeps the full resolution, as the paper's stem does, so the
    28-pixel crosses and the 2x3 distractor both stay visible; 24 k parameters at width 16
    against ResNet-18's 11 M, which makes a run of the synthetic study take seconds on a CPU.

    Args:
        num_outputs: logits.
        width: channels of the first convolution.
    """
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(),
        nn.Conv2d(2 * width, 4 * width, 3, stride=2, padding=1), nn.BatchNorm2d(4 * width), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * width, num_outputs),
    )  # fmt: skip
