"""Remote files (weights, metadata tables), the local cache, and safe weight loading.

Everything xrayvision downloads is a :class:`Resource` record (file name, URL, SHA-256,
size, licence) fetched by :func:`fetch` into :func:`get_cache_dir`:

* ``XRV_CACHE_DIR``: cache folder (default ``$XDG_CACHE_HOME/xrayvision`` or
  ``~/.cache/xrayvision``); files already in the reference's
  ``~/.torchxrayvision/models_data`` (``XRV_LEGACY_CACHE_DIR``) are verified and reused;
* ``XRV_OFFLINE=1``: never use the network (a missing file raises :class:`OfflineError`
  saying where to put it);
* ``XRV_WEIGHTS_MIRROR``: a base URL or a local folder serving the same file names;
* ``XRV_NO_PROGRESS=1``, ``XRV_DOWNLOAD_ATTEMPTS``, ``XRV_DOWNLOAD_BACKOFF``,
  ``XRV_DOWNLOAD_TIMEOUT``, ``XRV_DOWNLOAD_MIN_SPEED``, ``XRV_DOWNLOAD_DEADLINE``: progress
  bar, retries, stall detection and the overall deadline (:class:`TransferPolicy`).

A file with a published digest is *pinned*: only that exact file is accepted. Without
one, the caller's :class:`ContentCheck` decides: a complete check (the safe loader finds
the expected keys and shapes) lets the first accepted copy's digest be recorded, an
incomplete one leaves the file *unverified* (:func:`verify_cached` reports which).
"""

from __future__ import annotations

import importlib
from typing import Any

from .._lazy import lazy_namespace
from ..errors import (
    ChecksumError,
    DownloadError,
    NoNetworkError,
    OfflineError,
    UnsafeWeightsError,
    WeightsFormatError,
)
from .cache import get_cache_dir, legacy_cache_dir, sha256sum
from .download import TransferPolicy
from .fetch import advice, fetch, import_file, is_offline
from .resource import ContentCheck, Resource
from .status import CacheStatus, describe_policy, trust_policy, verify_cached

# Names that need torch load on first use, so fetching a CSV does not import torch.
_lazy_getattr, _dir = lazy_namespace(
    __name__,
    {
        "load_weights_file": ".safe_load",
        "load_object": ".safe_load",
        "save_checkpoint": ".checkpoint",
        "load_checkpoint": ".checkpoint",
        "METADATA": ".metadata",
    },
)
_SUBMODULES = ("metadata", "safe_load", "checkpoint", "download", "cache", "status", "trust")


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:  # ``xrv.hub.metadata.resolve`` works without an import
        return importlib.import_module(f".{name}", __name__)
    return _lazy_getattr(name)

__all__ = [
    "CacheStatus",
    "ChecksumError",
    "ContentCheck",
    "DownloadError",
    "METADATA",
    "NoNetworkError",
    "OfflineError",
    "Resource",
    "TransferPolicy",
    "UnsafeWeightsError",
    "WeightsFormatError",
    "advice",
    "describe_policy",
    "fetch",
    "get_cache_dir",
    "import_file",
    "is_offline",
    "legacy_cache_dir",
    "load_checkpoint",
    "load_object",
    "load_weights_file",
    "save_checkpoint",
    "sha256sum",
    "trust_policy",
    "verify_cached",
]


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(globals()))
