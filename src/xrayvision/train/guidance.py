"""Mask guidance inside the training loop: which masks, which loss, which layer.

``[guidance]`` in a run's configuration (or :class:`MaskGuidance` in Python) adds one of the
red-herring paper's methods to the classification loss: ``actdiff``, ``gradmask``, ``rrr``,
``adversarial``, ``masked_input`` (training images zeroed outside the ROI) or
``shuffled_input`` (outside pixels shuffled). Images without a mask contribute only the
classification loss.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from .config import GuidanceConfig
from .mask_losses import (
    Discriminator,
    actdiff_loss,
    critic_loss,
    fooling_loss,
    gradmask_loss,
    rrr_loss,
    shuffle_outside,
    zero_outside,
)

#: Methods that add a loss term computed on activations of a named layer.
_ACTIVATION_METHODS = ("actdiff", "adversarial")
#: Methods that differentiate the loss through input gradients (double backpropagation).
_GRADIENT_METHODS = ("gradmask", "rrr")
#: Methods that only change the training images.
_INPUT_METHODS = ("masked_input", "shuffled_input")
METHODS = ("none", *_ACTIVATION_METHODS, *_GRADIENT_METHODS, *_INPUT_METHODS)


def ellipse_roi(size: int) -> torch.Tensor:
    """The fixed central ellipse the paper's X-ray setups used as every image's mask
    (centre at the image centre, both radii size / 2.5): ``[1, size, size]``."""
    centre = (size - 1) / 2
    rows, cols = np.mgrid[0:size, 0:size]
    inside = ((rows - centre) ** 2 + (cols - centre) ** 2) <= (size / 2.5) ** 2
    return torch.from_numpy(inside.astype(np.float32))[None]


class _Tap:
    """Keeps the latest activations of one module (a forward hook; the input of the head by default)."""

    def __init__(self, model: nn.Module, layer: str):
        modules = dict(model.named_modules())
        if layer:
            if layer not in modules:
                names = [n for n in modules if n]
                shown = ", ".join(names[:40]) + (" ..." if len(names) > 40 else "")
                raise ConfigError(f"guidance.layer {layer!r} is not a module of {type(model).__name__}; its modules: {shown}")
            self.handle = modules[layer].register_forward_hook(self._keep_output)
            self.where = layer
        else:
            heads = [(n, m) for n, m in modules.items() if isinstance(m, nn.Linear)]
            if not heads:
                raise ConfigError(f"{type(model).__name__} has no linear head; set guidance.layer to a module name")
            name, head = heads[-1]
            self.handle = head.register_forward_pre_hook(self._keep_input)
            self.where = f"the input of {name}"
        self.value: torch.Tensor | None = None

    def _keep_output(self, module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        self.value = output

    def _keep_input(self, module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        self.value = inputs[0]

    def take(self) -> torch.Tensor:
        value, self.value = self.value, None
        if value is None:
            raise ConfigError(f"no activations were recorded at {self.where}: the forward pass does not reach it")
        return value

    def remove(self) -> None:
        self.handle.remove()


class MaskGuidance:
    """One mask-guided method, attached to a model for the length of a run.

    Args:
        config: the ``[guidance]`` settings.
        model: the (unwrapped) classifier; a forward hook is registered on it for the
            activation methods and removed by :meth:`close`.
        device: where the discriminator lives.
    """

    def __init__(self, config: GuidanceConfig, model: nn.Module, device: torch.device):
        if config.method not in METHODS:
            raise ConfigError(f"guidance.method {config.method!r} is not one of {', '.join(METHODS)}")
        if config.layer and config.method not in _ACTIVATION_METHODS:
            raise ConfigError(
                f"guidance.layer = {config.layer!r} is used by {' and '.join(_ACTIVATION_METHODS)} only, and "
                f"guidance.method is {config.method!r}: remove guidance.layer"
            )
        self.config = config
        self.method = config.method
        self.device = device
        self.tap = _Tap(model, config.layer) if self.method in _ACTIVATION_METHODS else None
        self.discriminator: Discriminator | None = None
        self.critic_optimizer: torch.optim.Optimizer | None = None
        self._pending_state: dict[str, Any] | None = None

    @property
    def active(self) -> bool:
        return self.method != "none"

    @property
    def needs_input_gradient(self) -> bool:
        return self.method in _GRADIENT_METHODS

    @property
    def single_process_only(self) -> bool:
        """Extra forward passes and double backpropagation do not mix with DDP's gradient hooks."""
        return self.method in (*_ACTIVATION_METHODS, *_GRADIENT_METHODS)

    def classifier_steps(self, step: int) -> bool:
        """Whether the classifier's optimiser steps at ``step`` (adversarial: every ``disc_every``)."""
        return self.method != "adversarial" or (step + 1) % self.config.disc_every == 0

    # ------------------------------------------------------------------ masks

    def regions(self, batch: dict[str, Any], images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(roi ``[B, 1, H, W]``, has_mask ``[B]``) of a batch; images without a mask get an
        all-ones ROI (nothing is outside it).

        Raises:
            ConfigError: a mask whose size differs from its image.
        """
        size = images.shape[-2:]
        if self.config.masks == "ellipse":
            roi = ellipse_roi(int(size[0])).to(images.device).expand(len(images), 1, *size)
            return roi, torch.ones(len(images), dtype=torch.bool, device=images.device)
        roi = torch.ones((len(images), 1, *size), device=images.device)
        has_mask = torch.zeros(len(images), dtype=torch.bool, device=images.device)
        for b, masks in enumerate(batch.get("pathology_masks") or [{}] * len(images)):
            union = None
            for key, mask in masks.items():
                mask = torch.as_tensor(np.asarray(mask, dtype=np.float32))
                if tuple(mask.shape[-2:]) != tuple(size):
                    raise ConfigError(
                        f"the mask {key!r} of training sample {int(batch['idx'][b])} is {tuple(mask.shape[-2:])} but "
                        f"its image is {tuple(size)}: masks must follow the image's crop and resize"
                    )
                mask = mask.reshape(1, *size) > 0.5
                union = mask if union is None else union | mask
            if union is not None and bool(union.any()):
                roi[b] = union.to(roi)
                has_mask[b] = True
        return roi, has_mask

    # ------------------------------------------------------------------ the loss

    def prepare_inputs(self, images: torch.Tensor, roi: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The images the classifier trains on (changed by the input methods only)."""
        if self.method == "masked_input":
            return zero_outside(images, roi)
        if self.method == "shuffled_input":
            return shuffle_outside(images, roi, generator)
        if self.needs_input_gradient:
            return images.detach().requires_grad_(True)
        return images

    def extra_loss(self, forward: Any, images: torch.Tensor, logits: torch.Tensor, roi: torch.Tensor,
                   has_mask: torch.Tensor, generator: torch.Generator) -> torch.Tensor:  # fmt: skip
        """λ times the method's term for one micro-batch (``forward`` runs the classifier)."""
        outside = (1 - roi) * has_mask[:, None, None, None].to(roi)
        weight = self.config.weight
        if self.method == "gradmask":
            return weight * gradmask_loss(images, logits, outside)
        if self.method == "rrr":
            return weight * rrr_loss(images, logits, outside)
        if self.method in _ACTIVATION_METHODS:
            assert self.tap is not None
            features = self.tap.take()
            forward(shuffle_outside(images, roi, generator))
            shuffled = self.tap.take()
            if self.method == "actdiff":
                return weight * actdiff_loss(features, shuffled, has_mask)
            real, fake = features[has_mask], shuffled[has_mask]
            if not len(real):
                return features.sum() * 0
            # The critic learns first, then the classifier is trained to fool the updated critic.
            critic = self._critic(features)
            self._critic_step(weight * critic_loss(critic, real, fake))
            return weight * fooling_loss(critic, real, fake)
        return logits.new_zeros(())

    def _critic(self, features: torch.Tensor) -> Discriminator:
        if self.discriminator is None:
            self.discriminator = Discriminator(features[0].numel(), tuple(self.config.disc_hidden)).to(self.device)
            self.critic_optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=self.config.disc_lr)
            if self._pending_state is not None:
                self.discriminator.load_state_dict(self._pending_state["discriminator"])
                self.critic_optimizer.load_state_dict(self._pending_state["optimizer"])
                self._pending_state = None
        return self.discriminator

    def _critic_step(self, loss: torch.Tensor) -> None:
        assert self.critic_optimizer is not None
        self.critic_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.critic_optimizer.step()

    # ------------------------------------------------------------------ state

    def state_dict(self) -> dict[str, Any]:
        """The critic and its optimiser (empty for the other methods)."""
        if self.discriminator is None:
            return dict(self._pending_state or {})
        assert self.critic_optimizer is not None
        return {"discriminator": self.discriminator.state_dict(), "optimizer": self.critic_optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (the critic is built on the first batch, then filled)."""
        self._pending_state = dict(state) if state else None

    def close(self) -> None:
        """Remove the forward hook from the model."""
        if self.tap is not None:
            self.tap.remove()
