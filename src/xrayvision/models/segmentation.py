"""Segmentation masks at the input's own size, and a colour overlay to look at them.

The segmentation baselines (``chestx_det.PSPNet``, ``chestx_anatomy.UNetResNet50``) take
square images and answer at 512 px. :func:`segment` accepts any image: a non-square one
is padded to a square with black (-1024) borders, so no anatomy is cut away, and the
logits are resized back to the padded square (bilinear), cropped to the image and
thresholded, one structure at a time (a 159-channel float map at full resolution
would take gigabytes).
"""

from __future__ import annotations

import colorsys

import numpy as np
import torch
import torch.nn.functional as F


def pad_to_square(image: torch.Tensor, value: float = -1024.0) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad ``[..., H, W]`` to a square, centred; returns the result and the (top, left) offsets."""
    height, width = image.shape[-2:]
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2
    padded = F.pad(image, (left, side - width - left, top, side - height - top), value=value)
    return padded, (top, left)


def segment(model: torch.nn.Module, image: torch.Tensor | np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Boolean masks ``[C, H, W]`` of one image ``[1, H, W]`` (or ``[H, W]``) in [-1024, 1024].

    Args:
        model: a segmentation model returning logits ``[1, C, h, w]`` for ``[1, 1, S, S]``.
        image: the image at its own size.
        threshold: probability above which a pixel belongs to a structure.

    Returns:
        ``masks[c]`` is True where structure ``c`` (``model.targets[c]``) is.

    Raises:
        ValueError: ``threshold`` is not strictly between 0 and 1.
    """
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be strictly between 0 and 1, got {threshold}")
    pixels = torch.as_tensor(np.asarray(image, dtype=np.float32))
    if pixels.dim() == 2:
        pixels = pixels[None]
    height, width = pixels.shape[-2:]
    padded, (top, left) = pad_to_square(pixels[None])
    side = padded.shape[-1]
    cut = float(np.log(threshold / (1 - threshold)))  # sigmoid(l) > t  <=>  l > logit(t)
    with torch.inference_mode():
        logits = model(padded)[0]
        masks = np.empty((logits.shape[0], height, width), dtype=bool)
        for channel in range(logits.shape[0]):
            full = F.interpolate(logits[None, None, channel], size=(side, side), mode="bilinear", align_corners=False)
            masks[channel] = (full[0, 0, top : top + height, left : left + width] > cut).numpy()
    return masks


def palette(count: int) -> np.ndarray:
    """``count`` distinct, saturated RGB colours (uint8 ``[count, 3]``), always the same."""
    colours = [colorsys.hsv_to_rgb((index * 0.618033988749895) % 1.0, 0.85, 1.0) for index in range(count)]
    return (np.array(colours) * 255).round().astype(np.uint8).reshape(count, 3)


def overlay(image: np.ndarray, masks: np.ndarray, alpha: float = 0.4) -> np.ndarray:
    """The grey image with each structure tinted in its :func:`palette` colour (uint8 ``[H, W, 3]``).

    Args:
        image: ``[1, H, W]`` or ``[H, W]`` in [-1024, 1024].
        masks: boolean ``[C, H, W]``.
        alpha: opacity of each structure's colour.
    """
    grey = np.clip((np.asarray(image, dtype=np.float32).reshape(masks.shape[1:]) + 1024) / 2048 * 255, 0, 255)
    canvas = np.repeat(grey[..., None], 3, axis=2)
    for mask, colour in zip(masks, palette(len(masks)).astype(np.float32)):
        canvas[mask] = (1 - alpha) * canvas[mask] + alpha * colour
    return canvas.round().astype(np.uint8)


__all__ = ["overlay", "pad_to_square", "palette", "segment"]
