"""The red-herring losses on tiny models, against hand-computed values (spec methods.md §2.2, §5 check 9)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from xrayvision.train.mask_losses import (
    Discriminator,
    actdiff_loss,
    critic_loss,
    fooling_loss,
    gradmask_loss,
    rrr_loss,
    shuffle_outside,
    zero_outside,
)


def roi_square(size: int = 6, batch: int = 2) -> torch.Tensor:
    roi = torch.zeros(batch, 1, size, size)
    roi[:, :, 2:4, 2:4] = 1
    return roi


def test_shuffle_outside_keeps_the_roi_and_the_outside_values():
    generator = torch.Generator().manual_seed(0)
    x = torch.arange(2 * 36, dtype=torch.float32).reshape(2, 1, 6, 6)
    roi = roi_square()
    shuffled = shuffle_outside(x, roi, generator)
    inside = roi.bool()
    assert torch.equal(shuffled[inside], x[inside])
    for b in range(2):
        outside = ~inside[b]
        assert torch.equal(torch.sort(shuffled[b][outside]).values, torch.sort(x[b][outside]).values)
    assert not torch.equal(shuffled, x)  # something moved
    assert torch.equal(shuffle_outside(x, torch.ones_like(roi), generator), x)  # all-ROI: identity
    assert not shuffled.requires_grad


def test_zero_outside_is_mid_grey_outside():
    x = torch.full((1, 1, 6, 6), 700.0)
    out = zero_outside(x, roi_square(batch=1))
    assert out.sum().item() == 4 * 700.0


class Linear(nn.Module):
    """logit_t = <w_t, x> + b_t."""

    def __init__(self, weight: torch.Tensor, bias: float = 0.0):
        super().__init__()
        self.weight = nn.Parameter(weight.clone())
        self.bias = bias

    def forward(self, x):
        return torch.einsum("bchw,tchw->bt", x, self.weight) + self.bias


def test_gradmask_is_the_input_gradient_magnitude_outside_the_roi():
    torch.manual_seed(0)
    w = torch.randn(1, 1, 6, 6, dtype=torch.float64)
    x = torch.randn(2, 1, 6, 6, dtype=torch.float64, requires_grad=True)
    roi = roi_square().double()
    outside = 1 - roi
    logits = Linear(w)(x)
    # d|<w, x>|/dx = sign(<w, x>) w  ->  sum over images and outside pixels of |w|
    assert gradmask_loss(x, logits, outside).item() == pytest.approx(2 * (w.abs() * outside[0]).sum().item())
    assert gradmask_loss(x, Linear(w)(x), torch.zeros_like(outside)).item() == 0.0
    # a classifier that ignores outside pixels gets no penalty
    assert gradmask_loss(x, Linear(w * roi[0])(x), outside).item() == 0.0


def test_rrr_is_the_squared_log_probability_gradient_outside_the_roi():
    torch.manual_seed(1)
    w = torch.randn(1, 1, 6, 6, dtype=torch.float64) * 0.1
    x = torch.randn(2, 1, 6, 6, dtype=torch.float64, requires_grad=True)
    outside = 1 - roi_square().double()
    logits = Linear(w)(x)
    p = torch.sigmoid(logits.detach())[:, 0]
    # d/dx [log p + log(1 - p)] = (1 - 2p) w   (up to the 1e-11 guards)
    expected = sum(((1 - 2 * p[b]) ** 2 * (w[0] * outside[b]) ** 2).sum() for b in range(2))
    assert rrr_loss(x, logits, outside).item() == pytest.approx(expected.item(), rel=1e-6)
    assert rrr_loss(x, Linear(w * (1 - outside[0]))(x), outside).item() == 0.0


def test_gradmask_gradient_by_double_backpropagation_matches_finite_differences():
    torch.manual_seed(2)
    outside = 1 - roi_square(batch=1).double()
    x = torch.randn(1, 1, 6, 6, dtype=torch.float64)
    w0 = torch.randn(1, 1, 6, 6, dtype=torch.float64)

    def loss_of(weight: torch.Tensor) -> torch.Tensor:
        inputs = x.clone().requires_grad_(True)
        logits = torch.tanh((inputs * weight).sum(dim=(1, 2, 3)))[:, None] * 3  # input gradient depends on w
        return gradmask_loss(inputs, logits, outside)

    weight = w0.clone().requires_grad_(True)
    (analytic,) = torch.autograd.grad(loss_of(weight), weight)
    numeric = torch.zeros_like(w0)
    eps = 1e-6
    for i in range(w0.numel()):
        step = torch.zeros_like(w0).view(-1)
        step[i] = eps
        step = step.view_as(w0)
        numeric.view(-1)[i] = (loss_of(w0 + step) - loss_of(w0 - step)) / (2 * eps)
    assert torch.allclose(analytic, numeric, atol=1e-6)
    assert analytic.abs().sum() > 0


def test_actdiff_is_the_mean_activation_distance_of_masked_images():
    features = torch.tensor([[3.0, 4.0], [1.0, 1.0], [0.0, 0.0]])
    shuffled = torch.tensor([[0.0, 0.0], [1.0, 1.0], [6.0, 8.0]])
    assert actdiff_loss(features, shuffled).item() == pytest.approx((5 + 0 + 10) / 3)
    assert actdiff_loss(features, shuffled, torch.tensor([True, True, False])).item() == pytest.approx(2.5)
    # features blind to outside pixels: shuffling them changes nothing
    x = torch.randn(2, 1, 6, 6)
    roi = roi_square()
    blind = lambda images: (images * roi).flatten(1)  # noqa: E731
    assert actdiff_loss(blind(x), blind(shuffle_outside(x, roi))).item() == 0.0


def test_adversarial_critic_learns_and_the_classifier_loss_never_reaches_the_critic():
    torch.manual_seed(3)
    critic = Discriminator(4, hidden=(8,))
    features = torch.randn(5, 4, requires_grad=True)
    shuffled = torch.randn(5, 4)
    loss = critic_loss(critic, features, shuffled)
    loss.backward()
    assert features.grad is None  # the critic trains on detached activations
    assert all(p.grad is not None for p in critic.parameters() if p.requires_grad)
    critic.zero_grad()
    fooling = fooling_loss(critic, features, shuffled)
    fooling.backward()
    assert features.grad is not None and features.grad.abs().sum() > 0
    assert all(p.grad is None for p in critic.parameters())
    assert all(p.requires_grad for p in critic.parameters())  # unfrozen again
    # labels are swapped between the two losses
    with torch.no_grad():
        real, fake = critic(features), critic(shuffled)
        bce = nn.functional.binary_cross_entropy_with_logits
        assert fooling.item() == pytest.approx((bce(real, torch.zeros(5)) + bce(fake, torch.ones(5))).item(), rel=1e-5)
