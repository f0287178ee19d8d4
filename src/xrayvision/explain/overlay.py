"""A heatmap drawn over its chest X-ray, as PNG (matplotlib's object API; no pyplot state).

As in the published figures: the image in grey, the map's zero pixels transparent, the
rest in the ``Reds`` colour map at opacity 0.8, an optional mask at opacity 0.1. A map
smaller than the image is shown with nearest-neighbour upsampling. Unlike the published
figures, the colour scale starts at 0 (not at the smallest value shown), so every kept
pixel is visibly coloured.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import write_atomic
from ..errors import ExplainError


def _plane(values: Any, what: str) -> np.ndarray:
    array = np.asarray(values.detach().cpu() if hasattr(values, "detach") else values, dtype=np.float64)
    array = np.squeeze(array)
    if array.ndim == 3:  # channels first: show their mean
        array = array.mean(axis=0)
    if array.ndim != 2:
        raise ExplainError(f"{what} must be a 2-D map (or [1, H, W]), got shape {np.shape(values)}")
    return array


def overlay_png(
    image: Any,
    heatmap: Any,
    *,
    mask: Any = None,
    title: str | None = None,
    cmap: str = "Reds",
    alpha: float = 0.8,
    size: int | None = None,
) -> bytes:
    """PNG bytes of ``heatmap`` over ``image``.

    Args:
        image: the X-ray, ``[H, W]`` or ``[1, H, W]`` (tensor or array).
        heatmap: the map (any size; zeros and NaN are transparent). Not normalised here:
            post-process first (e.g. ``percentile=95`` keeps the top 5 %).
        mask: optional ground-truth mask drawn faintly (opacity 0.1).
        title: optional caption above the image.
        cmap, alpha: colour map and opacity of the map.
        size: output width in pixels of the image part (default: the image's width, at least 448).

    Returns:
        The PNG file's bytes.

    Raises:
        ExplainError: arrays that are not 2-D maps.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    picture = _plane(image, "image")
    values = _plane(heatmap, "heatmap")
    values = np.where(values == 0, np.nan, values)
    height, width = picture.shape
    dpi = 100
    scale = (size or max(width, 448)) / width
    band = 0.12 * height * scale if title else 0.0
    figure = Figure(figsize=(width * scale / dpi, (height * scale + band) / dpi), dpi=dpi)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0, 0, 1, height * scale / (height * scale + band)))
    axes.set_axis_off()
    extent = (-0.5, width - 0.5, height - 0.5, -0.5)
    axes.imshow(picture, cmap="gray", interpolation="nearest", extent=extent)
    if np.isfinite(values).any():
        # colour scale from 0, so the weakest kept value is still visibly coloured
        top = float(np.nanmax(values))
        axes.imshow(values, cmap=cmap, alpha=alpha, interpolation="nearest", extent=extent,
                    vmin=min(0.0, float(np.nanmin(values))), vmax=top if top > 0 else None)  # fmt: skip
    if mask is not None:
        axes.imshow(_plane(mask, "mask"), alpha=0.1, interpolation="nearest", extent=extent)
    axes.set_xlim(-0.5, width - 0.5)
    axes.set_ylim(height - 0.5, -0.5)
    if title:
        figure.text(0.5, 1 - 0.5 * band / (height * scale + band), title, ha="center", va="center",
                    fontsize=max(6.0, 0.5 * band * 72 / dpi))  # fmt: skip
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def save_overlay(path: str | os.PathLike, image: Any, heatmap: Any, **options: Any) -> Path:
    """Write ``heatmap`` over ``image`` as a PNG file (replaced atomically).

    Args:
        path: the PNG to write.
        image, heatmap: see :func:`overlay_png`.
        **options: ``mask``, ``title``, ``cmap``, ``alpha``, ``size`` of :func:`overlay_png`.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    return write_atomic(path, overlay_png(image, heatmap, **options))
