"""Writing pixels: the inverse of :func:`xrayvision.io.read_image` for PNG files.

An image in the paper's range [-1024, 1024] is stored as a grayscale PNG whose code values
span that range linearly (``0 -> -1024``, ``2**bits - 1 -> 1024``), so reading the file back
with :func:`~xrayvision.io.read_image` (or any dataset) gives the same values to within half
a quantisation step: ``1024 / 65535 = 0.0156`` for 16 bits, ``1024 / 255 = 4.02`` for 8.

Files are written atomically: to a temporary name in the same folder (or ``tmp_dir`` on the
same file system), then renamed, so a crash never leaves a half-written file under the final
name.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from .._atomic import write_atomic
from ..errors import PixelRangeError, TransformError

#: Bit depths :func:`write_png` can store.
BITS = (8, 16)
#: How far float32 rounding may carry a value past +-1024 (the resizer gives -1024.0004):
#: such values are stored as the range's ends; anything further out is an error.
ROUNDING_SLACK = 0.01
#: zlib level of written PNGs: 1 is 3-5x faster to write than Pillow's default 6 and the
#: files of radiographs are only about 10 % larger.
PNG_COMPRESS_LEVEL = 1


def quantization_error(bits: int) -> float:
    """Largest difference between an image and its ``bits``-bit PNG read back (half a step)."""
    return 1024.0 / (2**bits - 1)


def to_codes(img: np.ndarray, bits: int = 16) -> np.ndarray:
    """Map an image in [-1024, 1024] to the nearest ``bits``-bit code values (2-D).

    Args:
        img: ``[H, W]`` or ``[1, H, W]`` array (or tensor) of real values.
        bits: 8 or 16.

    Returns:
        ``uint8`` or ``uint16`` ``[H, W]``.

    Raises:
        TransformError: wrong shape, or ``bits`` not 8 or 16.
        PixelRangeError: values outside [-1024, 1024] (beyond float rounding) or not finite.
    """
    if bits not in BITS:
        raise TransformError(f"bits must be one of {BITS}, got {bits!r}")
    plane = np.asarray(img.detach().cpu() if hasattr(img, "detach") else img)
    if plane.ndim == 3 and plane.shape[0] == 1:
        plane = plane[0]
    if plane.ndim != 2 or plane.dtype.kind not in "fiu":
        raise TransformError(f"expected a real-valued image [1, H, W] or [H, W], got {plane.dtype} {plane.shape}")
    values = plane.astype(np.float64)
    low, high = -1024 - ROUNDING_SLACK, 1024 + ROUNDING_SLACK
    if values.size and not (np.isfinite(values).all() and values.min() >= low and values.max() <= high):
        raise PixelRangeError(
            f"image values {np.nanmin(values)}..{np.nanmax(values)} lie outside [-1024, 1024] "
            "(or are not finite); only the paper's range can be stored"
        )
    top = 2**bits - 1
    codes = np.clip(np.rint((values + 1024.0) * (top / 2048.0)), 0, top)
    return codes.astype(np.uint8 if bits == 8 else np.uint16)


def encode_png(img: np.ndarray, bits: int = 16) -> bytes:
    """The PNG bytes of an image in [-1024, 1024] (see :func:`to_codes`)."""
    from PIL import Image

    codes = to_codes(img, bits)
    if bits == 8:
        image = Image.fromarray(codes)
    else:
        height, width = codes.shape
        image = Image.frombytes("I;16", (width, height), codes.astype("<u2").tobytes())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def write_png(
    path: str | os.PathLike, img: np.ndarray, *, bits: int = 16, tmp_dir: str | os.PathLike | None = None
) -> Path:
    """Store an image in [-1024, 1024] as a grayscale PNG that reads back to the same values.

    Args:
        path: output file (written atomically).
        img: ``[1, H, W]`` or ``[H, W]`` array or tensor in [-1024, 1024].
        bits: 16 (default; error below 0.016) or 8 (error below 4.02, half the size).
        tmp_dir: folder of the temporary file (same file system as ``path``).

    Returns:
        The path written.

    Raises:
        TransformError, PixelRangeError: see :func:`to_codes`.
    """
    return write_atomic(path, encode_png(img, bits), tmp_dir=tmp_dir)


__all__ = ["BITS", "encode_png", "quantization_error", "to_codes", "write_atomic", "write_png"]
