"""Exception types raised by xrayvision.

Every error names the offending file or value, says why it is wrong and what to do.
Each type also derives from the closest built-in exception, so ``except ValueError``
or ``except FileNotFoundError`` written for other libraries keeps working.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class XRVError(Exception):
    """Base class of every error raised on purpose by xrayvision."""


# --- reading pixels -------------------------------------------------------------------


class ImageReadError(XRVError, ValueError):
    """An image file could not be turned into pixels.

    Attributes:
        path: the file (or a description of the byte source) that failed.
        reason: why it failed, in words.
    """

    def __init__(self, path: object, reason: str, hint: str | None = None):
        self.path = path
        self.reason = reason
        self.hint = hint
        message = f"{path}: {reason}"
        if hint:
            message += f" ({hint})"
        super().__init__(message)


class ImageNotFoundError(ImageReadError, FileNotFoundError):
    """The image file does not exist."""


class UnsupportedImageError(ImageReadError):
    """The file is readable but is not a kind of image xrayvision supports
    (not an image at all, a multi-frame volume, a colour DICOM, ...)."""


class CorruptImageError(ImageReadError):
    """The file claims to be an image but is truncated, empty or damaged."""


class ImageTooLargeError(ImageReadError):
    """The image is larger than the safety limit (a likely decompression bomb)."""


class PixelRangeError(XRVError, ValueError):
    """Pixel values lie outside the range their encoding allows."""


# --- datasets ---------------------------------------------------------------------------


class DatasetError(XRVError, ValueError):
    """A dataset's files or arguments are inconsistent."""


class MetadataError(DatasetError):
    """A metadata table lacks a column, has a malformed value, or cannot be parsed."""


class MissingImageError(DatasetError, FileNotFoundError):
    """An image listed in the metadata is absent on disk."""


class MetadataWarning(UserWarning):
    """A metadata file has problems that did not stop the construction (rows with
    missing values, unknown names or view spellings, duplicate rows); ``strict=True``
    makes them a :class:`MetadataError`."""


# --- downloads, cache and weights ------------------------------------------------------


class DownloadError(XRVError, OSError):
    """A remote file could not be fetched (network, HTTP status, wrong content)."""


class ChecksumError(DownloadError):
    """A file's SHA-256 does not match the expected digest."""


class OfflineError(DownloadError):
    """A file is needed, is not in the cache, and downloads are disabled."""


class NoNetworkError(DownloadError):
    """A download failed because this machine has no network access: the host name cannot
    be resolved or the network is unreachable. Not retried: retrying cannot help."""


class UnsafeWeightsError(XRVError, ValueError):
    """A weight file asks to run code or construct objects outside the safe allow-list."""


class WeightsFormatError(XRVError, ValueError):
    """A weight file is readable but does not fit the model (keys, shapes, format)."""


class WeightsNotFoundError(XRVError, FileNotFoundError):
    """Weights that the user must supply (not downloadable) are not where they were looked for."""


class UnknownNameError(XRVError, KeyError):
    """A name (weights, model, dataset, view...) is not one of the known ones."""

    def __init__(self, kind: str, name: object, valid: Iterable[str]):
        self.kind = kind
        self.name = name
        self.valid = sorted(set(valid))
        close = difflib.get_close_matches(str(name), self.valid, n=3, cutoff=0.4)
        message = f"unknown {kind} {name!r}"
        if close:
            message += f"; did you mean {', '.join(repr(c) for c in close)}?"
        message += f"{'' if close else ';'} choose one of: {', '.join(self.valid)}"
        super().__init__(message)

    def __str__(self) -> str:  # KeyError would otherwise quote the whole message
        return self.args[0]


class UnknownArchitectureError(UnknownNameError, ValueError):
    """An architecture name (``"densenet122"``) is not one of the known ones.

    Also a ValueError: the reference's callers caught that for bad architecture names.
    """


class ModelInputError(XRVError, ValueError):
    """A tensor given to a model has the wrong shape, channel count or size."""


class MissingMetadataError(MetadataError, FileNotFoundError):
    """A metadata file given by path does not exist."""


class UnsupportedColourError(UnsupportedImageError, NotImplementedError):
    """A colour (RGB/YBR/palette) DICOM: xrayvision reads only MONOCHROME1/MONOCHROME2.

    Also a NotImplementedError, the type the reference's ``read_xray_dcm`` raises.
    """


class TransformError(XRVError, ValueError):
    """A transform got an input of the wrong type, shape or dtype, or an invalid option."""


# --- training, evaluation and calibration -------------------------------------------


class ConfigError(XRVError, ValueError):
    """A training or evaluation configuration has an unknown key, a wrong type or a bad value."""


class TrainingError(XRVError, RuntimeError):
    """A training run cannot go on (a NaN loss, a checkpoint that does not fit, a full disk)."""


# --- explanations -----------------------------------------------------------------------


class ExplainError(XRVError, ValueError):
    """An explanation cannot be computed as asked: an untrained output slot, a model in
    training mode, an option that does not fit the method or the model."""


class OptionalDependencyError(XRVError, ImportError):
    """A feature needs an optional package that is not installed (the message names the
    package and the ``pip install`` line)."""
