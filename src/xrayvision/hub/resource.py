"""The record that describes one remote file, and the check its content must pass."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Suffixes the cache uses for its own bookkeeping files; a resource may not end with
# one, so a half-written or auxiliary file can never be mistaken for a resource.
RESERVED_SUFFIXES = (".part", ".lock", ".sha256", ".tmp")

_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Resource:
    """A remote file xrayvision may download: where it lives and how to check it.

    Attributes:
        filename: name of the file in the cache (a plain file name, no folders). Files
            keep their release names so caches can be shared with the reference.
        url: where the file is downloaded from (http or https).
        sha256: lower-case hex SHA-256 of the file when a digest is published (the file
            is then "pinned"), else ``None``. Without it, a digest is recorded only when a
            complete :class:`ContentCheck` vouches for the first copy (trust on first use).
        size: size in bytes, or ``None`` when unknown.
        licence: short licence / terms-of-use text shown to users.
        description: one line saying what the file is.
        binary: the file is binary (weights, compressed tables): a body that is an HTML
            page or a JSON document is an error page, never the file.
        download_command: the ``xrv`` command that downloads this file into the cache,
            quoted in error messages (e.g. ``xrv weights download nih``).
        import_command: the ``xrv`` command that installs a copy obtained elsewhere
            (e.g. ``xrv weights import FILE --name nih``).
    """

    filename: str
    url: str
    sha256: str | None = None
    size: int | None = None
    licence: str = ""
    description: str = ""
    binary: bool = True
    download_command: str = ""
    import_command: str = ""

    def __post_init__(self) -> None:
        name = self.filename
        if (
            not name
            or name != name.strip()
            or "/" in name
            or "\\" in name
            or name.startswith(".")
            or name.endswith(RESERVED_SUFFIXES)
        ):
            raise ValueError(
                f"Resource filename {name!r} must be a plain file name: no folders, not starting "
                f"with '.', not ending with {', '.join(RESERVED_SUFFIXES)}"
            )
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"Resource {name!r}: url {self.url!r} must start with http:// or https://")
        if self.sha256 is not None and not _HEX64.fullmatch(self.sha256):
            raise ValueError(f"Resource {name!r}: sha256 {self.sha256!r} is not 64 lower-case hex digits")
        if self.size is not None and (not isinstance(self.size, int) or self.size < 0):
            raise ValueError(f"Resource {name!r}: size {self.size!r} must be a non-negative integer")


@dataclass(frozen=True)
class ContentCheck:
    """What a file without a published digest must contain before it is accepted.

    The hub stays below the layers that understand file contents: the models layer
    passes one of these to :func:`~xrayvision.hub.fetch` (a weight file must parse through
    the safe loader as the expected network's keys and shapes).

    Attributes:
        run: called with the path of a candidate file; raises (``WeightsFormatError``,
            ``UnsafeWeightsError``) when the content is not what the record describes.
        complete: True when ``run`` checks the content completely (format, every key and
            shape): only then is the digest of the first accepted copy recorded, and later
            copies must match it. False when it can only check that the file parses
            safely: the file is accepted but stays "unverified".
        description: what ``run`` checks, in words (shown by ``xrv weights verify``).
    """

    run: Callable[[Path], None]
    complete: bool
    description: str
