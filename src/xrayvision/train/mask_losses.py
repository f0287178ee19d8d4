"""Mask-guided losses: train a classifier to ignore what lies outside an expert's mask.

From "Saliency is a Possible Red Herring When Diagnosing Poor Generalization" (Viviano et
al., ICLR 2021; spec methods.md §2.2). ``roi`` is 1 inside the region an expert marked as
relevant; ``outside = 1 - roi`` for images that have a mask and 0 for images that do not,
so every term below vanishes for images without a mask.

The paper's classifiers had two softmax outputs; here each output is a sigmoid logit (one
per pathology). For one output the two are the same model (the logit is the difference of
the two softmax logits), and the terms below reduce exactly to the paper's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def shuffle_outside(x: torch.Tensor, roi: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each image's pixels outside its ROI randomly permuted among those positions.

    ROI pixels are unchanged; the multiset of outside values is kept; the result is detached
    (the paper's ``x_tilde``, used by ActDiff and the adversarial loss).

    Args:
        x: images ``[B, C, H, W]``.
        roi: ``[B, 1, H, W]`` (or ``[B, C, H, W]``) of 0/1, 1 in the region of interest.
        generator: the permutations' random source.
    """
    out = x.detach().clone()
    flat_out, flat_roi = out.flatten(2), roi.expand_as(x).flatten(2) > 0.5
    for b in range(x.shape[0]):
        for c in range(x.shape[1]):
            positions = torch.nonzero(~flat_roi[b, c]).squeeze(1)
            if len(positions) > 1:
                order = torch.randperm(len(positions), generator=generator).to(positions.device)  # a CPU generator
                flat_out[b, c, positions] = flat_out[b, c, positions[order]]
    return out


def zero_outside(x: torch.Tensor, roi: torch.Tensor) -> torch.Tensor:
    """``x`` with the pixels outside the ROI set to 0 (mid-grey on the [-1024, 1024] scale)."""
    return x * roi.to(x.dtype)


def actdiff_loss(features: torch.Tensor, features_shuffled: torch.Tensor, has_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over images (with a mask) of the Euclidean distance between their activations
    on the image and on its outside-shuffled copy (not squared, as the paper's code).

    Args:
        features: ``[B, ...]`` activations of the images.
        features_shuffled: the same layer's activations of :func:`shuffle_outside` copies.
        has_mask: ``[B]`` booleans; images without a mask are left out of the mean.
    """
    distance = (features - features_shuffled).flatten(1).norm(dim=1)
    if has_mask is not None:
        distance = distance[has_mask]
    return distance.mean() if distance.numel() else features.sum() * 0


def gradmask_loss(x: torch.Tensor, logits: torch.Tensor, outside: torch.Tensor) -> torch.Tensor:
    """GradMask (Simpson et al. 2019): the input gradient's magnitude outside the ROI.

    ``sum_{b,pixels} |d(sum_{b,t} |logit_bt|) / dx| * outside`` (double backpropagation;
    for two softmax outputs ``|y_0 - y_1|`` is the magnitude of the one logit).

    Args:
        x: the input batch (it must require grad and have produced ``logits``).
        logits: ``[B, T]``.
        outside: ``[B, 1, H, W]`` (0 inside the ROI and for images without a mask).
    """
    (gradient,) = torch.autograd.grad(logits.abs().sum(), x, create_graph=True)
    return (gradient.abs() * outside).sum()


def rrr_loss(x: torch.Tensor, logits: torch.Tensor, outside: torch.Tensor) -> torch.Tensor:
    """Right for the Right Reasons (Ross et al. 2017): squared input gradient of the summed
    log-probabilities, outside the ROI.

    ``sum_{b,pixels} (outside * d(sum_{b,t} [log(p + 1e-11) + log(1 - p + 1e-11)]) / dx)^2``
    with ``p = sigmoid(logit)`` (the two classes' log-softmax sum of the paper's code).
    """
    p = torch.sigmoid(logits)
    log_probabilities = torch.log(p + 1e-11) + torch.log(1 - p + 1e-11)
    (gradient,) = torch.autograd.grad(log_probabilities.sum(), x, create_graph=True)
    return ((outside * gradient) ** 2).sum()


class Discriminator(nn.Module):
    """The adversarial method's critic: spectral-normalised MLP on activations → P(original).

    Args:
        in_features: width of the (flattened) activations.
        hidden: widths of the hidden layers (paper: 1024, 1024, 1024).
    """

    def __init__(self, in_features: int, hidden: tuple[int, ...] = (1024, 1024, 1024)):
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for size in hidden:
            layers += [nn.utils.parametrizations.spectral_norm(nn.Linear(width, size)), nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Logits ``[B]`` of "these activations come from an unshuffled image"."""
        return self.net(features.flatten(1)).squeeze(1)


def critic_loss(discriminator: Discriminator, features: torch.Tensor, features_shuffled: torch.Tensor) -> torch.Tensor:
    """The critic's loss: tell activations of images (label 1) from those of their
    outside-shuffled copies (label 0), on detached activations."""
    real, fake = discriminator(features.detach()), discriminator(features_shuffled.detach())
    return F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) + \
        F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))  # fmt: skip


def fooling_loss(discriminator: Discriminator, features: torch.Tensor, features_shuffled: torch.Tensor) -> torch.Tensor:
    """The classifier's adversarial loss: the critic's labels swapped, through a frozen critic
    (gradients reach the activations, never the critic's parameters)."""
    flags = [p.requires_grad for p in discriminator.parameters()]
    for parameter in discriminator.parameters():
        parameter.requires_grad_(False)
    try:
        real, fake = discriminator(features), discriminator(features_shuffled)
    finally:
        for parameter, flag in zip(discriminator.parameters(), flags):
            parameter.requires_grad_(flag)
    return F.binary_cross_entropy_with_logits(real, torch.zeros_like(real)) + \
        F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))  # fmt: skip
