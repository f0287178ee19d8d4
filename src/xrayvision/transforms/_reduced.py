"""The paper's centre crop + resize, computed from an image decoded at reduced scale.

:func:`crop_resize_reduced` approximates ``XRayResizer(size)(XRayCenterCrop()(full))`` from
a :class:`~xrayvision.io.reduced.ReducedImage` (a JPEG decoded at 1/2, 1/4 or 1/8 scale).
Each axis is one ``(size, n)`` matrix built in the *full* image's coordinates, so the field
of view is exactly the crop's, whatever the reduction:

* the crop: reduced pixels are weighted by the share of their ``factor`` full pixels that lie
  inside the crop (the exact pipeline pads the crop with zeros);
* the anti-alias blur: a reduced pixel already averages ``factor`` pixels (about a box, of
  variance ``factor**2 / 12``), so the Gaussian adds only what is missing to reach the exact
  pipeline's ``sigma = (s / size - 1) / 2`` full pixels;
* linear interpolation at the exact pipeline's sample points, zero outside.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..io.reduced import ReducedImage
from ._resample import _blur_matrix, _matmul


@functools.lru_cache(maxsize=64)
def _axis_matrix(n: int, factor: int, full: int, start: int, length: int, size: int) -> np.ndarray:
    """``(size, n)`` float32 matrix: reduced axis of ``n`` pixels -> ``size`` samples of the
    crop ``[start, start + length)`` of a ``full``-pixel axis."""
    j = np.arange(n)
    lo, hi = np.maximum(j * factor, start), np.minimum((j + 1) * factor, min(start + length, full))
    inside = np.clip(hi - lo, 0, None) / factor  # share of each reduced pixel inside the crop
    sigma_full = max(0.0, (length / size - 1.0) / 2.0)
    sigma = math.sqrt(max(0.0, (sigma_full / factor) ** 2 - (1.0 / 12.0 if factor > 1 else 0.0)))
    blur = _blur_matrix(n, sigma, "constant")
    # sample points of the exact pipeline, in reduced pixel-centre coordinates
    centres = start + (np.arange(size) + 0.5) * (length / size)
    u = centres / factor - 0.5
    left = np.floor(u).astype(np.int64)
    frac = u - left
    # interpolation has two taps per row: combine the two blur rows they pick (zero outside)
    source = np.eye(n) if blur is None else blur
    padded = np.zeros((n + 2, n))
    padded[1:-1] = source
    taps = np.clip(left, -1, n) + 1  # row of `padded` for column `left`; 0 and n+1 are zero rows
    matrix = (1.0 - frac)[:, None] * padded[taps] + frac[:, None] * padded[np.clip(left + 1, -1, n) + 1]
    return (matrix * inside[None, :]).astype(np.float32)


def crop_resize_reduced(reduced: ReducedImage, size: int) -> np.ndarray:
    """``XRayResizer(size)(XRayCenterCrop()(full))`` approximated from a reduced decode.

    With ``factor == 1`` it is the exact pipeline up to float rounding (without the
    reference's clip to the input range, which only matters for images that never reach 0).

    Returns:
        float32 ``[1, size, size]``, clipped to [-1024, 1024].
    """
    height, width = reduced.full_shape
    side = min(height, width)
    top, left = height // 2 - side // 2, width // 2 - side // 2
    plane = reduced.image[0]
    rows = _axis_matrix(plane.shape[0], reduced.factor, height, top, side, size)
    cols = _axis_matrix(plane.shape[1], reduced.factor, width, left, side, size)
    # single-threaded products (see _resample._matmul: threaded BLAS stalls on busy machines)
    half = np.empty((size, plane.shape[1]), dtype=np.float32)
    _matmul(rows, np.ascontiguousarray(plane, dtype=np.float32), half)
    out = np.empty((size, size), dtype=np.float32)
    _matmul(half, np.ascontiguousarray(cols.T), out)
    return np.clip(out, -1024.0, 1024.0, out=out)[None]


__all__ = ["crop_resize_reduced"]
