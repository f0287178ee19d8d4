"""One entry point for every supported file: sniff the format, decode, scale."""

from __future__ import annotations

import numpy as np

from ..errors import UnsupportedImageError
from ._limits import resolve_max_pixels
from ._scale import to_range
from ._source import ImageSource, describe, read_all
from .dicom import DicomPixels, decode_dicom, is_dicom
from .raster import decode_raster, sniff_raster

_DICOM_SUFFIXES = (".dcm", ".dicom", ".dic")


def _looks_like_dicom_name(label: str) -> bool:
    return label.lower().endswith(_DICOM_SUFFIXES)


def _decode_any(
    source: ImageSource,
    name: str | None,
    voi_lut: bool,
    fix_monochrome: bool,
    max_pixels: int | None,
    first_channel_only: bool,
) -> tuple[str, np.ndarray | DicomPixels, int]:
    """Returns ``("dicom", DicomPixels, 0)`` or ``("raster", pixels, maxval)``."""
    label = describe(source, name)
    limit = resolve_max_pixels(max_pixels)
    data = read_all(source, label)
    if is_dicom(data):
        return "dicom", decode_dicom(data, label, limit, voi_lut=voi_lut,
                                     fix_monochrome=fix_monochrome), 0
    if sniff_raster(data) is not None:
        pixels, maxval = decode_raster(data, label, limit, first_channel_only=first_channel_only)
        return "raster", pixels, maxval
    if _looks_like_dicom_name(label):  # DICOM without the 128-byte preamble and marker
        return "dicom", decode_dicom(data, label, limit, voi_lut=voi_lut,
                                     fix_monochrome=fix_monochrome, has_marker=False), 0
    raise UnsupportedImageError(
        label,
        f"not an image file of a kind xrayvision reads (it starts with {data[:16]!r})",
        "xrayvision reads PNG, JPEG, GIF, BMP, TIFF and DICOM images",
    )


def read_image(
    source: ImageSource,
    *,
    name: str | None = None,
    voi_lut: bool = False,
    fix_monochrome: bool = True,
    max_pixels: int | None = None,
) -> np.ndarray:
    """Decode an X-ray image and scale it to the paper's range.

    The scale is the encoding's *possible* range, never the image's own min/max:
    8-bit -> 255, 16-bit grayscale PNG -> 65535, DICOM -> its BitsStored range (see
    :mod:`xrayvision.io.dicom` for signed data, rescale, VOI and MONOCHROME1).
    Colour raster images keep channel 0 (red), as the reference does; palette images are
    expanded first.

    Args:
        source: a path, the file's bytes, or a binary file object (e.g. a zip member).
        name: label used in error messages (useful for byte sources).
        voi_lut: DICOM only: apply the VOI LUT/window and scale by its output range.
        fix_monochrome: DICOM only: mirror MONOCHROME1 so that bone is bright.
        max_pixels: refuse images with more pixels than this (default 2**28, or
            ``$XRV_MAX_IMAGE_PIXELS``), checked from the header before decoding.

    Returns:
        float32 array ``[1, H, W]`` with values in [-1024, 1024].

    Raises:
        ImageNotFoundError: the path does not exist.
        UnsupportedImageError: not an image; animated/multi-frame; unsupported mode
            (``UnsupportedColourError`` for a colour DICOM).
        CorruptImageError: empty, truncated or damaged file.
        ImageTooLargeError: more pixels than ``max_pixels``.
    """
    kind, pixels, maxval = _decode_any(source, name, voi_lut, fix_monochrome, max_pixels, True)
    if kind == "dicom":
        assert isinstance(pixels, DicomPixels)
        return to_range(pixels.array, pixels.span, offset=pixels.offset, invert=pixels.invert)[None]
    assert isinstance(pixels, np.ndarray)
    if pixels.ndim == 3:
        pixels = pixels[:, :, 0]
    return to_range(pixels, maxval)[None]


def decode(
    source: ImageSource,
    *,
    name: str | None = None,
    voi_lut: bool = False,
    fix_monochrome: bool = True,
    max_pixels: int | None = None,
) -> tuple[np.ndarray, int | float]:
    """Decode an image into unscaled pixels and the encoding's maximum.

    For datasets that must scale by a fixed bound (PadChest: always 65535) or need the
    raw channels: ``normalize(pixels, maxval, reshape=True)`` then gives what
    :func:`read_image` gives.

    Returns:
        ``(pixels, maxval)``. Raster: the decoded ``uint8``/``uint16`` array, ``[H, W]`` or
        ``[H, W, C]`` (palette expanded), maxval 255 or 65535; it may be read-only.
        DICOM: a 2-D array shifted so that the encoding's minimum is 0 (signed data),
        mirrored for MONOCHROME1 when ``fix_monochrome`` (and for a negative rescale
        slope), with maxval the range's width (``2**BitsStored - 1``); float64 when a VOI
        transform was applied.

    Raises:
        The same errors as :func:`read_image`.
    """
    kind, pixels, maxval = _decode_any(source, name, voi_lut, fix_monochrome, max_pixels, False)
    if kind == "raster":
        assert isinstance(pixels, np.ndarray)
        return pixels, maxval
    assert isinstance(pixels, DicomPixels)
    arr, span, offset = pixels.array, pixels.span, pixels.offset
    if np.issubdtype(arr.dtype, np.integer):
        span_int = int(span)
        out_dtype = np.uint8 if span_int < 2**8 else np.uint16 if span_int < 2**16 else np.uint32
        if offset or pixels.invert:
            wide = arr.astype(np.int64) - int(offset)
            if pixels.invert:
                wide = span_int - wide
            arr = wide.astype(out_dtype)
        return arr, span_int
    shifted = np.asarray(arr, dtype=np.float64) - offset
    if pixels.invert:
        shifted = span - shifted
    return shifted, span
