"""Tiny networks for training tests (importable by ``model.factory`` strings)."""

from __future__ import annotations

import torch
from torch import nn


def tiny_cnn(num_outputs: int = 3, dropout: float = 0.0, batchnorm: bool = True) -> nn.Module:
    """A few convolutions and a linear head: ``[B, 1, R, R]`` -> ``[B, num_outputs]`` logits."""
    norm = (lambda c: nn.BatchNorm2d(c)) if batchnorm else (lambda c: nn.GroupNorm(2, c))
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, stride=2, padding=1), norm(8), nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1), norm(16), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(16, num_outputs),
    )  # fmt: skip


class NaNAfter(nn.Module):
    """Outputs NaN from the ``after``-th forward pass in training mode on."""

    def __init__(self, num_outputs: int = 3, after: int = 3):
        super().__init__()
        self.body = tiny_cnn(num_outputs)
        self.after = after
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        if self.training:
            self.calls += 1
            if self.calls >= self.after:
                out = out * float("nan")
        return out


def nan_after(num_outputs: int = 3, after: int = 3) -> nn.Module:
    return NaNAfter(num_outputs, after)
