"""The red-herring study's classifiers: the paper's ResNet-18 variant and the small CNN."""

from __future__ import annotations

import torch

from xrayvision.train.mask_losses import gradmask_loss
from xrayvision.train.nets import localization_resnet18, small_cnn


def parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_the_papers_resnet18_variant():
    model = localization_resnet18(num_outputs=1)
    # torchvision's ResNet-18 (11,689,512 parameters) with a 1-channel 3x3 stem instead of the
    # 3-channel 7x7 one and one output instead of 1000
    assert parameters(model) == 11_689_512 - 7 * 7 * 3 * 64 + 3 * 3 * 64 - (512 * 1000 + 1000) + (512 + 1)
    x = torch.randn(2, 1, 28, 28)
    assert model.stem(x).shape == (2, 64, 28, 28)  # stride 1, no max-pool: full resolution
    assert model(x).shape == (2, 1)


def test_the_small_cnn():
    model = small_cnn(num_outputs=2, width=16)
    # convolutions (weights + biases), batch norms (scale + shift), the head
    assert parameters(model) == (9 * 16 + 16) + 2 * 16 + (9 * 16 * 32 + 32) + 2 * 32 + (9 * 32 * 64 + 64) + 2 * 64 + (64 * 2 + 2)
    assert model(torch.randn(3, 1, 48, 48)).shape == (3, 2)


def test_double_backpropagation_runs_through_both():
    for model in (localization_resnet18(), small_cnn()):
        x = torch.randn(2, 1, 8, 8, requires_grad=True)
        loss = gradmask_loss(x, model(x), torch.ones_like(x))
        loss.backward()  # no in-place operation breaks the second derivative
        assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
