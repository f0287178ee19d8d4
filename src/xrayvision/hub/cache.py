"""Where cached files live, and how their content is checked.

Layout of the cache folder (``get_cache_dir()``)::

    <filename>            a verified file, only ever created by an atomic rename
    .<filename>.part      an unfinished download (resumed only when the file's digest is
                          published, so a mix of two versions can always be detected)
    .<filename>.lock      the lock that serialises downloads across processes
    <filename>.sha256     for resources without a published digest: the digest of the
                          first copy that passed a complete content check (``sha256sum``
                          format); later copies must match it
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path

from ..errors import ChecksumError, DownloadError
from .resource import Resource

logger = logging.getLogger("xrayvision.hub")

_CHUNK = 1 << 20


def get_cache_dir() -> Path:
    """Folder where xrayvision keeps downloaded weights and metadata files.

    ``$XRV_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/xrayvision``, else
    ``~/.cache/xrayvision``. The folder is not created here. Every function that takes a
    ``cache_dir`` argument uses it instead of this folder.

    Returns:
        The (user-expanded) cache folder.
    """
    explicit = os.environ.get("XRV_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "xrayvision"


def legacy_cache_dir() -> Path:
    """The reference library's weight folder, reused read-only when it holds a file.

    ``$XRV_LEGACY_CACHE_DIR`` if set, else ``~/.torchxrayvision/models_data``.
    """
    explicit = os.environ.get("XRV_LEGACY_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    return Path.home() / ".torchxrayvision" / "models_data"


def resolve_cache_dir(cache_dir: str | os.PathLike[str] | None) -> Path:
    """``cache_dir`` (user-expanded) if given, else :func:`get_cache_dir`."""
    return Path(cache_dir).expanduser() if cache_dir is not None else get_cache_dir()


def sha256sum(path: str | os.PathLike[str]) -> str:
    """Lower-case hex SHA-256 of a file, read in 1 MiB chunks.

    Args:
        path: the file.

    Returns:
        64 hex digits.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# Files already hashed by this process, keyed by identity and modification stamp, so
# that constructing ten models does not hash the same 30 MB file ten times.
_verified: dict[tuple[str, int, int, int], str] = {}
_verified_lock = threading.Lock()


def _stamp(path: Path) -> tuple[str, int, int, int]:
    st = path.stat()
    return (str(path.resolve()), st.st_ino, st.st_size, st.st_mtime_ns)


def file_digest(path: Path) -> str:
    """:func:`sha256sum` of ``path``, computed once per file version in this process."""
    key = _stamp(path)
    with _verified_lock:
        known = _verified.get(key)
    if known is None:
        known = sha256sum(path)
        with _verified_lock:
            _verified[key] = known
    return known


def sidecar_path(folder: Path, resource: Resource) -> Path:
    """Path of the recorded-digest file of an unpinned resource."""
    return folder / f"{resource.filename}.sha256"


def recorded_digest(folder: Path, resource: Resource) -> str | None:
    """Digest recorded for ``resource`` in ``folder`` on its first verified download."""
    try:
        text = sidecar_path(folder, resource).read_text(encoding="ascii")
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    word = text.split()[0].lower() if text.split() else ""
    return word if len(word) == 64 else None


def record_digest(folder: Path, resource: Resource, digest: str) -> None:
    """Write the ``<filename>.sha256`` record atomically (best effort on read-only caches)."""
    target = sidecar_path(folder, resource)
    tmp = folder / f".{target.name}.tmp"
    try:
        tmp.write_text(f"{digest}  {resource.filename}\n", encoding="ascii")
        os.replace(tmp, target)
    except OSError as err:
        logger.warning("could not record the digest of %s in %s: %s", resource.filename, target, err)


def looks_like_html(head: bytes) -> bool:
    """True when a file starts like an HTML page (an error or login page, never weights)."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return text.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<!--", b"<title"))


def looks_like_json(head: bytes) -> bool:
    """True when a file starts like a JSON document (an API error body, never weights).

    Only text counts: a binary file whose first byte happens to be ``{`` (a safetensors
    header length can end in 0x7b) has control bytes right after it.
    """
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.startswith((b"{", b"[")):
        return False
    return all(byte >= 0x20 or byte in b"\t\r\n" for byte in text[:64])


def error_page_kind(head: bytes) -> str | None:
    """``"an HTML page"`` or ``"a JSON document"`` when ``head`` starts one, else None."""
    if looks_like_html(head):
        return "an HTML page"
    if looks_like_json(head):
        return "a JSON document"
    return None


def verify_file(path: Path, resource: Resource, expected: str | None) -> str:
    """Check a local copy of ``resource``: not an error page, right size, right digest.

    Args:
        path: the file to check.
        resource: the record it should match.
        expected: the digest it must have (the record's, or the recorded one), or None.

    Returns:
        The file's SHA-256.

    Raises:
        DownloadError: the file is an HTML page or a JSON document (for a binary
            resource) or has the wrong size.
        ChecksumError: the digest differs from ``expected``.
    """
    with open(path, "rb") as handle:
        head = handle.read(512)
    page = error_page_kind(head) if resource.binary else None
    if page:
        raise DownloadError(
            f"{path} is {page}, not {resource.filename} (an error or login page was served "
            f"instead of the file); delete it and download {resource.url} again"
        )
    size = path.stat().st_size
    if resource.size is not None and size != resource.size:
        raise DownloadError(
            f"{path} has {size} bytes but {resource.filename} has {resource.size}; the file is "
            f"truncated or a different file. Delete it and download {resource.url} again"
        )
    digest = file_digest(path)
    if expected is not None and digest != expected:
        if expected == resource.sha256:
            why = "the published digest"
        else:
            why = (f"the digest recorded when it was first accepted (if the publisher replaced "
                   f"the file, delete {resource.filename}.sha256 in the cache folder to accept it)")
        raise ChecksumError(
            f"{path}: SHA-256 is {digest} but {resource.filename} must have {expected}, "
            f"{why}; the file is corrupt or was replaced. Delete it and download {resource.url} again"
        )
    return digest
