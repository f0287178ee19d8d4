"""The paper's utility API (``xrv.utils``): images, the pixel scale, the cache, downloads.

A thin layer over :mod:`xrayvision.io`, :mod:`xrayvision.hub` and
:mod:`xrayvision.models` under the reference's names. Only those names are public
(``dir(xrv.utils)``); the modules used to build them are kept private.
"""

from __future__ import annotations

import os as _os
import sys as _sys
import warnings as _warnings
from pathlib import Path as _Path
from typing import TYPE_CHECKING

from .io import normalize
from .io import read_image as _read_image

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "download",
    "fix_resolution",
    "get_cache_dir",
    "in_notebook",
    "infer",
    "load_image",
    "normalize",
    "read_xray_dcm",
    "warn_normalization",
]


def read_xray_dcm(
    path: str | _os.PathLike, voi_lut: bool = False, fix_monochrome: bool = True
) -> np.ndarray:
    """Read a grayscale DICOM radiograph, scaled to [-1024, 1024].

    Scale by ``2**BitsStored - 1`` as the reference does; signed data, Rescale
    Slope/Intercept and VOI output ranges are handled as described in
    :mod:`xrayvision.io.dicom`.

    Args:
        path: the DICOM file (with or without the 128-byte preamble).
        voi_lut: apply the VOI LUT / window (off by default, as in the reference).
        fix_monochrome: invert MONOCHROME1 so that bone is bright; a warning naming the
            file is emitted when this happens.

    Returns:
        float32 ``[H, W]`` (2-D, as the reference).

    Raises:
        UnsupportedColourError: RGB/YBR DICOM (also a ``NotImplementedError``).
        ImageNotFoundError, UnsupportedImageError, CorruptImageError, ImageTooLargeError.
    """
    from .io._limits import resolve_max_pixels
    from .io._scale import to_range
    from .io._source import describe, read_all
    from .io.dicom import decode_dicom, is_dicom

    label = describe(path, None)
    data = read_all(path, label)
    pixels = decode_dicom(
        data,
        label,
        resolve_max_pixels(),
        voi_lut=voi_lut,
        fix_monochrome=fix_monochrome,
        has_marker=is_dicom(data),
    )
    if fix_monochrome and pixels.photometric == "MONOCHROME1":
        _warnings.warn(
            f"{label}: MONOCHROME1 image inverted so that bone is bright "
            "(pass fix_monochrome=False to keep the stored orientation)",
            UserWarning,
            stacklevel=2,
        )
    return to_range(pixels.array, pixels.span, offset=pixels.offset, invert=pixels.invert)


def load_image(fname: str | _os.PathLike) -> np.ndarray:
    """Load a PNG, JPEG or DICOM file as float32 ``[1, H, W]`` in [-1024, 1024].

    DICOM files (``DICM`` marker) go through :func:`read_xray_dcm`. Raster images are
    scaled by their bit depth: 8-bit by 255 and, unlike the reference (which raised),
    16-bit grayscale PNG by 65535. Colour images keep channel 0 (red), as the reference.

    Raises:
        ImageNotFoundError, UnsupportedImageError, CorruptImageError, ImageTooLargeError.
    """
    from .io.dicom import is_dicom

    with open(_existing(fname), "rb") as handle:
        head = handle.read(132)
    if is_dicom(head):
        return read_xray_dcm(fname)[None]
    return _read_image(fname)


def _existing(fname: str | _os.PathLike) -> str | _os.PathLike:
    from .errors import ImageNotFoundError, UnsupportedImageError

    if not _os.path.exists(fname):
        raise ImageNotFoundError(_os.fspath(fname), "no such file", "check the path")
    if _os.path.isdir(fname):
        raise UnsupportedImageError(_os.fspath(fname), "is a directory, not an image file")
    return fname


# --- cache and downloads (the reference's names, through the verified hub) -------------


def get_cache_dir() -> str:
    """The folder xrayvision keeps weights and metadata tables in, with a trailing separator.

    The reference returned ``~/.torchxrayvision/models_data/``; xrayvision's cache is
    ``$XRV_CACHE_DIR``, else ``$XDG_CACHE_HOME/xrayvision``, else ``~/.cache/xrayvision``
    (files already in the reference's folder are reused from there). A ``str`` ending in
    the path separator, like the reference's, so ``get_cache_dir() + name`` keeps working.

    Returns:
        The user-expanded cache folder (not created here).
    """
    from .hub import get_cache_dir as _hub_cache_dir

    return _os.path.join(str(_hub_cache_dir()), "")


def download(url: str, filename: str | _os.PathLike) -> _Path:
    """Download ``url`` to ``filename`` through the verified hub (the reference's ``utils.download``).

    Unlike the reference, ``filename`` never holds a partial file or an error page: the
    body goes to a partial file beside it that is checked, then renamed into place, and a
    lock file (``.<name>.lock``) keeps two processes from downloading it at once. The URL
    of a published weight file or metadata table gets that record's treatment: its
    published digest or content check, the cache, ``XRV_WEIGHTS_MIRROR`` and
    ``XRV_OFFLINE`` (the verified cached copy is then copied to ``filename``).

    Args:
        url: http(s) URL.
        filename: where to put the file; its folder is created.

    Returns:
        ``filename`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: ``filename`` starts with ``.`` or ends with ``.part``, ``.lock``,
            ``.sha256`` or ``.tmp`` (names the hub keeps for itself), or ``url`` is not
            http(s).
        DownloadError, ChecksumError, OfflineError, NoNetworkError: see
            :func:`xrayvision.hub.fetch`.
        WeightsFormatError, UnsafeWeightsError: a published weight file's content check
            refused the download.
    """
    import shutil

    from .hub import Resource, fetch
    from .hub.metadata import METADATA

    target = _Path(filename).expanduser()
    record, check = next((r for r in METADATA.values() if r.url == url), None), None
    if record is None:
        from .models._registry import all_weights
        from .models._validate import content_check

        weights = next((w for w in all_weights() if w.url == url), None)
        if weights is not None:
            record, check = weights.resource(), content_check(weights)
    if record is None:  # not a published file: from its URL only
        return fetch(Resource(target.name, url), target.parent, mirrors=False)
    if record.filename == target.name:
        return fetch(record, target.parent, check=check)
    cached = fetch(record, check=check)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.tmp")
    try:
        shutil.copyfile(cached, partial)
        _os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def in_notebook() -> bool:
    """True inside a Jupyter kernel (an IPython kernel app is running), else False.

    Never imports IPython: a kernel has always imported it already.
    """
    ipython = _sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    try:
        return shell is not None and "IPKernelApp" in shell.config
    except (AttributeError, TypeError):
        return False


# --- models side (paper API): re-exported from xrayvision.models -------------------------


def __getattr__(name: str):
    # Lazy, so ``xrv.utils`` does not import torch-heavy model code until asked.
    if name in ("fix_resolution", "warn_normalization"):
        from .models import _input

        return getattr(_input, name)
    if name == "infer":
        from .models.predict import infer

        return infer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return list(__all__)
