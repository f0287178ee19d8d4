"""Files the user has trusted to run: TorchScript archives, identified by SHA-256.

A TorchScript file is code, so xrayvision runs one only when its digest is pinned by
the registry or the user has trusted that exact file once (``trust_file``: the
``AgeModel(trust_torchscript=True)`` argument, or ``xrv weights import FILE --name riken --trust``).
Trust is per content, not per name: a replaced file is refused again.

The record is one small text file in the cache folder, ``trusted-code.sha256``, one
``<sha256>  <file name>`` line per trusted file (``sha256sum`` format, so ``sha256sum
-c`` can check it). It is rewritten atomically under a lock.
"""

from __future__ import annotations

import os
from pathlib import Path

from filelock import FileLock

from .._atomic import write_atomic
from .cache import resolve_cache_dir, sha256sum

TRUST_FILE = "trusted-code.sha256"


def trust_path(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the trusted digests are recorded."""
    return resolve_cache_dir(cache_dir) / TRUST_FILE


def trusted_digests(cache_dir: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Trusted digest → the file name it was trusted under."""
    try:
        text = trust_path(cache_dir).read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return {}
    digests = {}
    for line in text.splitlines():
        digest, _, name = line.partition("  ")
        if len(digest) == 64:
            digests[digest.lower()] = name
    return digests


def is_trusted(digest: str, cache_dir: str | os.PathLike[str] | None = None) -> bool:
    """Whether a file with this SHA-256 was trusted."""
    return digest.lower() in trusted_digests(cache_dir)


def trust_file(
    path: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None, *, digest: str | None = None
) -> str:
    """Record that the file at ``path`` (this exact content) may run.

    Args:
        path: the file.
        cache_dir: the cache folder holding the record (default: :func:`get_cache_dir`).
        digest: its SHA-256 when the caller has just computed it (a TorchScript file is
            hundreds of MB: not hashed twice).

    Returns:
        The file's SHA-256.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        OSError: the cache folder cannot be written.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"cannot trust {path}: no such file")
    digest = digest or sha256sum(path)
    target = trust_path(cache_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.with_name(f".{TRUST_FILE}.lock"))):
        digests = trusted_digests(cache_dir)
        if digest not in digests:
            digests[digest] = path.name
            write_atomic(target, "".join(f"{d}  {n}\n" for d, n in digests.items()).encode("utf-8"))
    return digest


__all__ = ["TRUST_FILE", "is_trusted", "trust_file", "trust_path", "trusted_digests"]
