"""Post-processing shared by every attribution method (spec methods.md §1.5, ``clean``).

In order: absolute value, Gaussian blur (zero padding outside the image, kernel cut at
3.5 standard deviations, as ``skimage.filters.gaussian(mode="constant", truncate=3.5)``
which the published code used), then a percentile threshold keeping only values
*strictly above* the percentile (``percentile=95`` keeps the top 5 % of pixels; the
published code's ``threshold=True``).
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ExplainError

ArrayOrTensor = TypeVar("ArrayOrTensor", np.ndarray, torch.Tensor)

#: Kernel half-width in standard deviations (the published code's ``truncate``).
TRUNCATE = 3.5


def gaussian_kernel(sigma: float, truncate: float = TRUNCATE, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The normalised 1-D Gaussian of ``scipy.ndimage.gaussian_filter`` (radius ``int(truncate*sigma+0.5)``)."""
    radius = int(truncate * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    return (kernel / kernel.sum()).to(dtype)


def gaussian_blur(maps: torch.Tensor, sigma: float, truncate: float = TRUNCATE) -> torch.Tensor:
    """Blur the last two axes of ``maps`` with a Gaussian of ``sigma`` pixels, zeros outside.

    Equal (within float rounding) to ``scipy.ndimage.gaussian_filter(m, sigma,
    mode="constant", truncate=truncate)`` applied to each 2-D map.
    """
    if sigma <= 0:
        return maps
    shape = maps.shape
    flat = maps.reshape(-1, 1, *shape[-2:])
    kernel = gaussian_kernel(sigma, truncate, flat.dtype if flat.is_floating_point() else torch.float32)
    flat = flat.to(kernel.dtype)
    radius = kernel.numel() // 2
    flat = F.conv2d(flat, kernel.view(1, 1, 1, -1).to(flat.device), padding=(0, radius))
    flat = F.conv2d(flat, kernel.view(1, 1, -1, 1).to(flat.device), padding=(radius, 0))
    return flat.reshape(shape)


def threshold_percentile(maps: torch.Tensor, percentile: float) -> torch.Tensor:
    """Zero every value of each 2-D map not strictly above its ``percentile`` (linear interpolation, as NumPy)."""
    if not 0 <= percentile <= 100:
        raise ExplainError(f"percentile must lie in [0, 100], got {percentile!r}")
    shape = maps.shape
    flat = maps.reshape(-1, shape[-2] * shape[-1])
    cut = torch.quantile(flat.double(), percentile / 100.0, dim=1, keepdim=True).to(flat.dtype)
    return torch.where(flat > cut, flat, torch.zeros_like(flat)).reshape(shape)


def postprocess(
    maps: ArrayOrTensor, *, abs: bool = True, sigma: float = 0.0, percentile: float | None = None
) -> ArrayOrTensor:
    """Absolute value, optional Gaussian blur, optional percentile threshold, per 2-D map.

    Args:
        maps: attribution maps ``[..., H, W]`` (tensor or array; the input is not changed).
        abs: take the absolute value first (every method in the published comparisons).
        sigma: Gaussian blur standard deviation in pixels (0: none).
        percentile: keep only values strictly above this percentile of each map
            (95 keeps the top 5 %); None keeps all.

    Returns:
        Maps of the same shape and kind (tensor or array) as ``maps``.

    Raises:
        ExplainError: a negative ``sigma``, a percentile outside [0, 100], or a map with
            NaN or infinite values.
    """
    if sigma < 0:
        raise ExplainError(f"sigma must be >= 0 (pixels), got {sigma!r}")
    is_array = isinstance(maps, np.ndarray)
    out = torch.from_numpy(np.array(maps)) if is_array else maps.detach()
    if out.dim() < 2:
        raise ExplainError(f"attribution maps must have at least 2 dimensions [..., H, W], got shape {tuple(out.shape)}")
    if out.is_floating_point() and not bool(torch.isfinite(out).all()):
        # A blur would spread a NaN over its neighbours and the threshold would zero the
        # whole map: refuse rather than show an empty map as if nothing were salient.
        bad = int((~torch.isfinite(out)).sum())
        raise ExplainError(
            f"the attribution map has {bad} non-finite values (NaN or infinity) out of {out.numel()}: the model's "
            "output or its gradient is not finite for this input; check the image (scaled to [-1024, 1024]?) "
            "and the model's output for it"
        )
    if abs:
        out = out.abs()
    out = gaussian_blur(out, sigma)
    if percentile is not None:
        out = threshold_percentile(out, percentile)
    if is_array:
        return out.numpy().astype(maps.dtype, copy=False)
    return out.to(maps.dtype)
