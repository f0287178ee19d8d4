"""Reading a JPEG at reduced scale (libjpeg's DCT scaling) when it will be shrunk anyway.

A baseline JPEG stores 8 x 8 blocks of frequency coefficients; libjpeg can decode them
straight to 1/2, 1/4 or 1/8 of the size, skipping most of the inverse transform and colour
work. For a 2,000-3,000 px radiograph headed for 224 px that is several times faster than a
full decode followed by the anti-aliased resize, and the result differs from the exact
pipeline by a small, measured error (``benchmarks/resize.py``). Pillow exposes this as
:meth:`PIL.Image.Image.draft`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import CorruptImageError
from ._limits import check_pixel_count, resolve_max_pixels
from ._read import read_image
from ._scale import to_range
from ._source import ImageSource, describe, read_all
from .raster import _open as open_plugin
from .raster import sniff_raster

#: JPEG colour modes decoded at reduced scale (channel 0 kept, as :func:`read_image` does).
_REDUCIBLE = {"L": "L", "RGB": "RGB", "YCbCr": "RGB"}


@dataclass(frozen=True)
class ReducedImage:
    """An image decoded at ``1 / factor`` of its size: pixel ``j`` of ``image`` covers
    pixels ``j * factor`` to ``(j + 1) * factor - 1`` of the full image, ``full_shape``
    ``(H, W)`` (the last row and column may cover fewer)."""

    image: np.ndarray  # float32 [1, h, w] in [-1024, 1024]
    factor: int
    full_shape: tuple[int, int]


def read_image_reduced(
    source: ImageSource, min_side: int, *, name: str | None = None, max_pixels: int | None = None
) -> ReducedImage:
    """Decode an image, a JPEG at the smallest DCT scale whose shorter side is >= ``min_side``.

    Other formats (and JPEG modes libjpeg cannot scale) are decoded in full by
    :func:`read_image`. Pixels are scaled exactly as :func:`read_image` scales them.

    Args:
        source: a path, the file's bytes, or a binary file object.
        min_side: the shorter side the decoded image must keep (at least 1).
        name: label used in error messages.
        max_pixels: the decompression-bomb limit (see :func:`read_image`).

    Returns:
        The image (float32 ``[1, h, w]`` in [-1024, 1024]), its reduction factor (1, 2, 4
        or 8) and the full size.

    Raises:
        The errors of :func:`read_image`.
    """
    label = describe(source, name)
    data = read_all(source, label)
    if sniff_raster(data) != "JPEG":
        return _full(read_image(data, name=label, max_pixels=max_pixels))
    im = open_plugin(data, "JPEG", label)  # not Image.open: see .raster on Pillow's global limit
    width, height = im.size
    check_pixel_count(label, height, width, resolve_max_pixels(max_pixels))
    mode = _REDUCIBLE.get(im.mode)
    if mode is None:
        return _full(read_image(data, name=label, max_pixels=max_pixels))
    shorter = min(width, height)
    keep = max(1, int(min_side)) / shorter
    im.draft(mode, (math.ceil(width * keep), math.ceil(height * keep)))
    try:
        im.load()
    except Exception as err:  # truncated or corrupt compressed stream
        raise CorruptImageError(label, f"JPEG pixel data cannot be decoded: {err}") from None
    factor = round(width / im.size[0])
    plane = np.asarray(im.getchannel(0) if im.mode != "L" else im)
    return ReducedImage(to_range(plane, 255)[None], factor, (height, width))


def _full(image: np.ndarray) -> ReducedImage:
    return ReducedImage(image, 1, (int(image.shape[-2]), int(image.shape[-1])))


__all__ = ["ReducedImage", "read_image_reduced"]
