"""What the cache holds for a resource, and how far its content can be trusted.

Every file is in one of three trust states once it is in the cache:

* ``verified``: it matches the digest published for it (pinned in the record);
* ``recorded``: no digest is published; the first copy passed a complete content check
  (format, every key and shape) and its digest was recorded then: this copy matches it;
* ``unverified``: no digest to compare with: either nothing can check its content
  completely (it was only seen to parse safely), or it was placed in the cache by hand
  and has not been used yet.

plus ``missing`` and ``mismatch`` (an error page, the wrong size or digest, or content
the check refuses).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import DownloadError, UnsafeWeightsError, WeightsFormatError
from .cache import file_digest, recorded_digest, resolve_cache_dir, verify_file
from .resource import ContentCheck, Resource

State = Literal["verified", "recorded", "unverified", "missing", "mismatch"]
Policy = Literal["pinned", "first-use", "none"]


def trust_policy(resource: Resource, check: ContentCheck | None) -> Policy:
    """How a copy of ``resource`` earns trust.

    Returns:
        ``"pinned"`` (a published digest), ``"first-use"`` (a complete content check; the
        first accepted copy's digest is recorded) or ``"none"`` (the content can only be
        seen to parse safely: copies stay unverified).
    """
    if resource.sha256:
        return "pinned"
    return "first-use" if check is not None and check.complete else "none"


def describe_policy(resource: Resource, check: ContentCheck | None) -> str:
    """One sentence saying which guarantee holds for ``resource``."""
    policy = trust_policy(resource, check)
    if policy == "pinned":
        return f"pinned: every copy must match the published SHA-256 {resource.sha256}"
    if policy == "first-use":
        return (f"recorded on first use: no digest is published; the first copy must pass the "
                f"{check.description} check, its digest is recorded, and later copies must match it")
    what = f" (only checked: {check.description})" if check is not None else ""
    return (f"unverified: no digest is published and nothing checks its content completely{what}; "
            "no digest is recorded")


@dataclass(frozen=True)
class CacheStatus:
    """Result of :func:`verify_cached` for one resource.

    Attributes:
        resource: the record checked.
        path: where the file is (or would be) in the cache.
        state: ``"verified"``, ``"recorded"``, ``"unverified"`` (see the module
            docstring), ``"missing"`` or ``"mismatch"``.
        policy: ``"pinned"``, ``"first-use"`` or ``"none"`` (see :func:`trust_policy`).
        sha256: the file's actual digest, when it exists.
        expected: the digest it was compared with, if any.
        detail: a sentence for humans.
    """

    resource: Resource
    path: Path
    state: State
    policy: Policy
    sha256: str | None
    expected: str | None
    detail: str

    @property
    def usable(self) -> bool:
        """True when the file is present and nothing is known to be wrong with it."""
        return self.state in ("verified", "recorded", "unverified")


def verify_cached(
    resource: Resource,
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    check: ContentCheck | None = None,
) -> CacheStatus:
    """Check the cached copy of ``resource`` without downloading or changing anything.

    Args:
        resource: the record of the file.
        cache_dir: folder to use instead of :func:`get_cache_dir`.
        check: the content check of the file; run when there is no digest to compare with.

    Returns:
        A :class:`CacheStatus`.
    """
    folder = resolve_cache_dir(cache_dir)
    final = folder / resource.filename
    policy = trust_policy(resource, check)
    recorded = recorded_digest(folder, resource)
    expected = resource.sha256 or recorded

    def status(state: State, actual: str | None, detail: str) -> CacheStatus:
        return CacheStatus(resource, final, state, policy, actual, expected, detail)

    if not final.is_file():
        return status("missing", None, "not in the cache")
    actual = file_digest(final)  # verify_file below reuses it
    try:
        verify_file(final, resource, expected)
    except DownloadError as err:
        return status("mismatch", actual, str(err))
    if resource.sha256:
        return status("verified", actual, "matches the published SHA-256")
    if recorded:
        return status("recorded", actual, "matches the SHA-256 recorded when its content was first checked")
    if check is None:
        return status("unverified", actual, "no digest is published and no content check is known")
    try:
        check.run(final)
    except (WeightsFormatError, UnsafeWeightsError) as err:
        return status("mismatch", actual, f"content refused: {err}")
    if check.complete:
        return status("unverified", actual, f"passes the {check.description} check; its digest is "
                                            "recorded the first time it is used")
    return status("unverified", actual, f"parses safely ({check.description}); no digest is published "
                                        "and nothing checks its content completely")
