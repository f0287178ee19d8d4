"""Reading pixels: PNG/JPEG/DICOM decoding and the paper's [-1024, 1024] scale.

Public names:
    read_image: any supported file -> float32 ``[1, H, W]`` in [-1024, 1024].
    decode: any supported file -> (unscaled pixels, maxval of the encoding).
    normalize: the paper's linear map ``(2 * img / maxval - 1) * 1024``.
    write_png: an image in [-1024, 1024] -> a PNG that reads back to it (16-bit: within 0.016).
    DEFAULT_MAX_PIXELS, MAX_PIXELS_ENV: the decompression-bomb limit and its env variable.
"""

from ._limits import DEFAULT_MAX_PIXELS, MAX_PIXELS_ENV
from ._read import decode, read_image
from ._scale import normalize
from .write import write_png

__all__ = ["DEFAULT_MAX_PIXELS", "MAX_PIXELS_ENV", "decode", "normalize", "read_image", "write_png"]
