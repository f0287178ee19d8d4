"""A small convolutional autoencoder, and a function that fits one in seconds.

Latent Shift (``xrv.explain.LatentShift``) needs an autoencoder of the classifier's
images. The published ``ResNetAE(weights="101-elastic")`` is trained on real 224 px
radiographs; for other data (the chest phantom, small images, another modality) or
offline without those weights, :func:`fit_autoencoder` trains a :class:`ConvAutoencoder`
with the published recipe's loss (squared plus absolute error, "elastic") in seconds.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ModelInputError, WeightsFormatError
from ._builders import register_model


@register_model("convautoencoder", task="autoencoder")
class ConvAutoencoder(nn.Module):
    """Strided convolutions down, transposed convolutions up: ``[B, 1, R, R]`` in [-1024, 1024].

    Saved with ``xrv.models.save_model(model, path)``, it comes back with
    ``xrv.models.get_model(path)`` (or ``ConvAutoencoder(weights=path)``), width, depth
    and resolution included, and serves ``xrv explain --autoencoder path``.

    Args:
        width: channels of the first layer (doubled at each level, at most ``8 * width``).
        depth: halvings of the image side (R must be a multiple of ``2 ** depth``).
        input_resolution: the side it was fitted at (recorded; inputs of another size that
            fit the depth still work).
        weights: a weight set saved from a ConvAutoencoder (its recorded width, depth and
            resolution replace the arguments); None for an untrained network.
        cache_dir: unused (the weights are a local file); accepted like every builder's.

    The interface is the library autoencoder's: :meth:`encode`, :meth:`decode` and
    ``forward(x) -> {"z", "out"}``.
    """

    architecture = "convautoencoder"

    def __init__(
        self,
        width: int = 16,
        depth: int = 3,
        input_resolution: int | None = None,
        *,
        weights: str | os.PathLike | None = None,
        cache_dir: str | os.PathLike | None = None,
    ):
        super().__init__()
        config = _saved_config(weights) if weights is not None else {}
        options = config.get("architecture_options") or {}
        width, depth = int(options.get("width", width)), int(options.get("depth", depth))
        input_resolution = config.get("input_resolution", input_resolution)
        if width < 1 or depth < 1:
            raise ValueError(f"width and depth must be positive, got {width} and {depth}")
        widths = [min(width * 2**i, 8 * width) for i in range(depth)]
        down: list[nn.Module] = []
        channels = 1
        for i, out in enumerate(widths):
            down += [nn.Conv2d(channels, out, 4, stride=2, padding=1)]
            if i < depth - 1:
                down += [nn.ReLU()]
            channels = out
        up: list[nn.Module] = []
        for i, out in enumerate([*reversed(widths[:-1]), 1]):
            up += [nn.ConvTranspose2d(channels, out, 4, stride=2, padding=1)]
            if i < depth - 1:
                up += [nn.ReLU()]
            channels = out
        self.encoder, self.decoder = nn.Sequential(*down), nn.Sequential(*up)
        self.depth = depth
        self.input_resolution = input_resolution
        self.build_options = {"width": width, "depth": depth}  # recorded by save_model
        if weights is not None:
            from ._loading import load_weight_set

            load_weight_set(weights, self)
            self.weights = str(weights)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Latent code ``[B, C, R / 2**depth, R / 2**depth]``.

        Raises:
            ModelInputError: not ``[B, 1, H, W]`` with sides multiples of ``2 ** depth``.
        """
        if x.dim() != 4 or x.shape[1] != 1 or x.shape[-1] % 2**self.depth or x.shape[-2] % 2**self.depth:
            raise ModelInputError(
                f"ConvAutoencoder takes [B, 1, H, W] with H and W multiples of {2**self.depth}, got {list(x.shape)}"
            )
        return self.encoder(x / 1024)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images ``[B, 1, H, W]`` in (-1024, 1024) from latent codes (a tanh keeps every
        frame of a latent shift on the pixel scale the classifiers expect)."""
        return 1024 * torch.tanh(self.decoder(z))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"z": encode(x), "out": decode(z)}``."""
        z = self.encode(x)
        return {"z": z, "out": self.decode(z)}


def _saved_config(weights: str | os.PathLike) -> dict[str, Any]:
    """The record of a ConvAutoencoder weight set (architecture checked)."""
    from ._loading import resolve, weight_set_config

    _, path = resolve(weights)
    config = weight_set_config(path) if path is not None else {}
    if config.get("architecture") != ConvAutoencoder.architecture:
        raise WeightsFormatError(
            f"{weights} is not a ConvAutoencoder weight set (xrv.models.save_model writes one); "
            f"its record names {config.get('architecture')!r}"
        )
    return config


def _as_images(images: Any) -> torch.Tensor:
    if isinstance(images, torch.Tensor):
        return images.float()
    if isinstance(images, np.ndarray):
        return torch.from_numpy(images).float()
    return torch.from_numpy(np.stack([np.asarray(images[i]["img"], dtype=np.float32) for i in range(len(images))]))


def fit_autoencoder(
    images: torch.Tensor | np.ndarray | Sequence[dict[str, Any]],
    *,
    model: ConvAutoencoder | None = None,
    epochs: int = 20,
    batch_size: int = 32,
    lr: float = 2e-3,
    seed: int = 0,
) -> ConvAutoencoder:
    """Fit a :class:`ConvAutoencoder` to ``images`` with the "elastic" loss (L2 + L1).

    The global random state is untouched: initial weights and batch order come from
    ``seed``.

    Args:
        images: ``[N, 1, R, R]`` tensor or array in [-1024, 1024], or a dataset whose
            samples have an ``"img"``.
        model: the network to fit (default: ``ConvAutoencoder(input_resolution=R)``).
        epochs: passes over the images.
        batch_size: images per step.
        lr: Adam's learning rate.
        seed: the seed of the initial weights and the batch order.

    Returns:
        The fitted model, in eval mode.
    """
    data = _as_images(images)
    if data.dim() != 4 or data.shape[1] != 1 or not len(data):
        raise ModelInputError(f"fit_autoencoder needs images [N, 1, R, R], got {list(data.shape)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model if model is not None else ConvAutoencoder(input_resolution=int(data.shape[-1]))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    order = torch.Generator().manual_seed(seed)
    model.train()
    scale = data / 1024
    for _ in range(epochs):
        for batch in torch.randperm(len(data), generator=order).split(batch_size):
            error = model.decode(model.encode(data[batch])) / 1024 - scale[batch]
            loss = (error**2).mean() + error.abs().mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return model.eval()


__all__ = ["ConvAutoencoder", "fit_autoencoder"]
