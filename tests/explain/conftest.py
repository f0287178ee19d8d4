"""Tiny models for the explanation tests: fast, deterministic, with named outputs."""

from __future__ import annotations

import pytest
import torch
from torch import nn


class Logistic(nn.Module):
    """``f(x) = sigmoid(w . x + b)`` per output; ``w`` of output 0 given, output 1 = -output 0."""

    def __init__(self, weight: torch.Tensor, bias: float = 0.0, labels=("Effusion", "Mass")):
        super().__init__()
        self.head = nn.Linear(weight.numel(), 2)
        with torch.no_grad():
            self.head.weight.copy_(torch.stack([weight.flatten(), -weight.flatten()]))
            self.head.bias.copy_(torch.tensor([bias, -bias]))
        self.targets = list(labels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.head(x.flatten(1)))


class Identity(nn.Module):
    """The identity autoencoder: ``encode(x) = x``, ``decode(z) = z``."""

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return z


class TinyAE(nn.Module):
    """A random 4x-downsampling convolutional autoencoder on the [-1024, 1024] scale."""

    def __init__(self, seed: int = 0):
        super().__init__()
        with torch.random.fork_rng():  # seeded weights; the global random stream untouched
            torch.manual_seed(seed)
            self.down = nn.Conv2d(1, 6, 4, stride=4)
            self.up = nn.ConvTranspose2d(6, 1, 4, stride=4)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.down(x / 1024))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return 1024 * torch.tanh(self.up(z))


class TinyCNN(nn.Module):
    """conv-ReLU-conv-ReLU-pool-linear with named outputs; ``features`` is the last feature map."""

    def __init__(self, labels=("Cardiomegaly", "Effusion", "", "Pneumothorax"), seed: int = 0, width: int = 8):
        super().__init__()
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.features = nn.Sequential(
                nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, width, 3, padding=1, stride=2), nn.ReLU()
            )
            self.classifier = nn.Linear(width, len(labels))
        self.targets = list(labels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x / 1024).mean((2, 3)))


@pytest.fixture
def tiny_cnn() -> TinyCNN:
    return TinyCNN().eval()


@pytest.fixture
def image() -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    return (torch.rand(1, 1, 16, 16, generator=generator) * 2 - 1) * 900
