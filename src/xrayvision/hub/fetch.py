"""Get a :class:`Resource` into the cache, checked, exactly once across processes.

Order of sources tried by :func:`fetch` (the first that yields an accepted file wins):

1. the cache itself (``<cache>/<filename>``, checked on every call; hashing is
   remembered per process for unchanged files);
2. the reference library's folder ``~/.torchxrayvision/models_data`` (or
   ``$XRV_LEGACY_CACHE_DIR``): a file of the same name is checked and hard-linked into
   the cache (copied when a link is impossible). The legacy file is never modified;
3. ``$XRV_WEIGHTS_MIRROR`` when set: a local folder (the file is copied from it) or a
   base URL (the file name is appended). A mirror replaces the original URL; there is no
   silent fallback to the internet;
4. the record's URL — unless ``XRV_OFFLINE=1``, which raises :class:`OfflineError`.

Every copy lands in a partial file ``.<filename>.part`` beside the final one and is
accepted only if it is not an error page, has the record's size, and either matches the
published digest or (no digest published) passes the caller's :class:`ContentCheck`.
Then it is renamed into place with ``os.replace``: the final name only ever holds an
accepted file. The digest of the first copy is recorded (``<filename>.sha256``) only when
the check was complete (format, keys and shapes); later copies must match it. A lock
file serialises processes (e.g. 8 ranks of a torchrun job): one downloads, the others
wait and then check.
"""

from __future__ import annotations

import logging
import os
import shutil
import warnings
from pathlib import Path

from filelock import FileLock

from ..errors import ChecksumError, DownloadError, NoNetworkError, OfflineError, UnsafeWeightsError, WeightsFormatError
from .cache import legacy_cache_dir, record_digest, recorded_digest, resolve_cache_dir, verify_file
from .download import TransferPolicy, download
from .resource import ContentCheck, Resource

logger = logging.getLogger("xrayvision.hub")

#: Errors that mean "this copy is not the file": it is deleted (or not used) and reported.
_REJECTED = (DownloadError, WeightsFormatError, UnsafeWeightsError)


def is_offline() -> bool:
    """True when ``XRV_OFFLINE`` is set to a true value (1, true, yes, on)."""
    return os.environ.get("XRV_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _mirror() -> tuple[str, str] | None:
    """``("url", base)`` or ``("folder", path)`` from ``XRV_WEIGHTS_MIRROR``, or None."""
    value = os.environ.get("XRV_WEIGHTS_MIRROR", "").strip()
    if not value:
        return None
    if value.startswith(("http://", "https://")):
        return ("url", value.rstrip("/") + "/")
    if value.startswith("file://"):
        value = value[len("file://") :]
    return ("folder", str(Path(value).expanduser()))


def _partial_path(folder: Path, resource: Resource) -> Path:
    return folder / f".{resource.filename}.part"


def _expected(folder: Path, resource: Resource) -> str | None:
    return resource.sha256 or recorded_digest(folder, resource)


def advice(resource: Resource, final: Path) -> str:
    """How to put ``resource`` at ``final`` by hand: the sentence every error ends with.

    Args:
        resource: the record of the file.
        final: where the cache expects it.

    Returns:
        ``"To get it: copy URL to PATH; or run `xrv ... download ...` ...; or ..."``.
    """
    digest = f" (SHA-256 {resource.sha256})" if resource.sha256 else ""
    steps = [f"copy {resource.url}{digest} to {final}"]
    if resource.download_command:
        steps.append(
            f"run `{resource.download_command}` on a machine with network access (with XRV_CACHE_DIR "
            "on a shared folder, or copy its cache folder here)"
        )
    if resource.import_command:
        steps.append(f"import a copy you have with `{resource.import_command}`")
    return "To get it: " + "; or ".join(steps) + "."


def _accept(
    candidate: Path, folder: Path, resource: Resource, check: ContentCheck | None, source: str
) -> str:
    """Check ``candidate`` (not renamed, not deleted); record its digest when vouched for.

    Returns:
        Its SHA-256.

    Raises:
        DownloadError, ChecksumError: an error page, the wrong size or the wrong digest.
        WeightsFormatError, UnsafeWeightsError: the content check refused it.
    """
    expected = _expected(folder, resource)
    digest = verify_file(candidate, resource, expected)
    if expected is None and check is not None:
        try:
            check.run(candidate)
        except (WeightsFormatError, UnsafeWeightsError) as err:
            # The check saw the temporary copy; the user knows the file by its source.
            reason = str(err).replace(str(candidate), source)
            raise type(err)(f"{resource.filename} from {source} was refused: {reason}") from err
        if check.complete:
            record_digest(folder, resource, digest)
            logger.info("recorded SHA-256 %s for %s (%s)", digest, resource.filename, check.description)
    return digest


def _commit(
    partial: Path, final: Path, folder: Path, resource: Resource, source: str, check: ContentCheck | None
) -> Path:
    """Accept ``partial`` and rename it to ``final``; on any failure delete it and re-raise."""
    try:
        _accept(partial, folder, resource, check, source)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, final)
    logger.info("cached %s from %s", final, source)
    return final


def _install_local(
    source: Path, folder: Path, resource: Resource, check: ContentCheck | None, *, link: bool
) -> Path:
    """Hard-link (or copy) a local file into the cache through the partial file."""
    partial = _partial_path(folder, resource)
    partial.unlink(missing_ok=True)
    linked = False
    if link:
        try:
            os.link(source, partial)
            linked = True
        except OSError:
            pass
    if not linked:
        shutil.copyfile(source, partial)
    return _commit(partial, folder / resource.filename, folder, resource, str(source), check)


def _cached_ok(final: Path, folder: Path, resource: Resource, check: ContentCheck | None, *, warn: bool) -> bool:
    """True when ``final`` exists and is acceptable; False when absent.

    A present but bad file raises when offline (nothing can replace it) and is otherwise
    reported with a warning and left for the caller to replace. An unpinned file with no
    recorded digest is checked here only when the check is complete (so its digest can be
    recorded); otherwise it stays unverified and the caller's loader parses it.
    """
    if not final.exists():
        return False
    runs_check = check if check is not None and check.complete else None
    try:
        _accept(final, folder, resource, runs_check, str(final))
    except _REJECTED as err:
        if is_offline():
            raise
        if warn:
            warnings.warn(f"{err}; downloading it again", stacklevel=4)
        return False
    return True


def fetch(
    resource: Resource,
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    progress: bool | None = None,
    check: ContentCheck | None = None,
    policy: TransferPolicy | None = None,
    mirrors: bool = True,
) -> Path:
    """Return the local path of ``resource``, downloading and checking it if needed.

    Args:
        resource: the record of the file.
        cache_dir: folder to use instead of :func:`get_cache_dir` (``~`` is expanded).
        progress: True/False forces the progress bar on/off; None (default) shows it
            only when stderr is a terminal and ``XRV_NO_PROGRESS`` is unset.
        check: what the file must contain when no digest is published (see
            :class:`ContentCheck`); None accepts any file that is not an error page and
            has the right size, and never records a digest.
        policy: attempts, timeouts, minimum speed and deadline of a download (default:
            from the ``XRV_DOWNLOAD_*`` environment variables).
        mirrors: look in the reference's cache folder and ``XRV_WEIGHTS_MIRROR`` first;
            False for a file that is not one of the published resources (a mirror only
            serves those), which then comes from its URL only.

    Returns:
        Path of the accepted file in the cache folder.

    Raises:
        OfflineError: ``XRV_OFFLINE=1`` and no local source has the file.
        NoNetworkError: the host cannot be resolved (no retries).
        ChecksumError: the file does not match the published or recorded digest.
        DownloadError: the server failed, sent an error page or the wrong size, stalled,
            or the cache folder cannot be written.
        WeightsFormatError, UnsafeWeightsError: ``check`` refused the file's content.

        Errors about a missing file end with :func:`advice`: the URL, the exact path to
        put the file at, and the ``xrv`` commands that download or import it.
    """
    folder = resolve_cache_dir(cache_dir)
    final = folder / resource.filename
    if _cached_ok(final, folder, resource, check, warn=True):  # fast path: no lock for a warm cache
        return final
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(folder / f".{resource.filename}.lock"))
        lock.acquire()
    except OSError as err:
        raise DownloadError(
            f"cannot write to the cache folder {folder} ({err}); set XRV_CACHE_DIR or pass "
            "cache_dir= to a writable folder"
        ) from err
    try:
        if final.exists():  # another process may have finished while we waited
            if _cached_ok(final, folder, resource, check, warn=False):
                return final
            final.unlink(missing_ok=True)
        return _obtain(resource, folder, final, progress, check, policy, mirrors)
    finally:
        lock.release()


def _obtain(
    resource: Resource,
    folder: Path,
    final: Path,
    progress: bool | None,
    check: ContentCheck | None,
    policy: TransferPolicy | None,
    mirrors: bool,
) -> Path:
    legacy = legacy_cache_dir() / resource.filename
    if mirrors and legacy.is_file():
        try:
            return _install_local(legacy, folder, resource, check, link=True)
        except _REJECTED as err:
            warnings.warn(f"ignoring the reference's cached copy: {err}", stacklevel=3)
    mirror = _mirror() if mirrors else None
    if mirror is not None and mirror[0] == "folder":
        source = Path(mirror[1]) / resource.filename
        if not source.is_file():
            raise DownloadError(
                f"XRV_WEIGHTS_MIRROR={mirror[1]} has no file {resource.filename} (looked for "
                f"{source}); copy it there from {resource.url}"
            )
        return _install_local(source, folder, resource, check, link=False)
    if is_offline():
        raise OfflineError(
            f"XRV_OFFLINE is set and {resource.filename} is not in the cache (unset XRV_OFFLINE "
            f"to download it). {advice(resource, final)}"
        )
    url = mirror[1] + resource.filename if mirror is not None else resource.url
    # Resuming is safe only when a published digest will catch a mix of two versions.
    pinned = resource.sha256 is not None
    partial = _partial_path(folder, resource)
    resumed = pinned and partial.exists()
    logger.info("downloading %s to %s", url, final)
    options = dict(expected_size=resource.size, binary=resource.binary, label=resource.filename,
                   progress=progress, policy=policy)
    try:
        download(url, partial, resume=pinned, **options)
        try:
            return _commit(partial, final, folder, resource, url, check)
        except ChecksumError:
            if not resumed:
                raise
        # The bytes kept from an earlier attempt may belong to an older version of the
        # file: one fresh transfer from scratch before giving up.
        logger.warning("checksum mismatch after resuming %s; downloading it from scratch", url)
        download(url, partial, resume=False, **options)
        return _commit(partial, final, folder, resource, url, check)
    except (NoNetworkError, DownloadError) as err:
        if isinstance(err, ChecksumError):
            raise
        # Same type, plus the way out: where to put the file by hand, or which command.
        raise type(err)(f"{str(err).rstrip('.')}. {advice(resource, final)}") from err


def import_file(
    path: str | os.PathLike[str],
    resource: Resource,
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    check: ContentCheck | None = None,
) -> Path:
    """Copy a manually downloaded file into the cache after checking it.

    The same rules as a download apply: the published digest when there is one, else
    ``check`` (a complete check records the digest; later copies must match it).

    Args:
        path: the file the user obtained (e.g. on another machine).
        resource: the record it should match.
        cache_dir: folder to use instead of :func:`get_cache_dir`.
        check: what the file must contain when no digest is published.

    Returns:
        Path of the file in the cache.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ChecksumError: its digest differs from the published or recorded one.
        DownloadError: it is an error page or has the wrong size.
        WeightsFormatError, UnsafeWeightsError: ``check`` refused its content.
    """
    source = Path(path).expanduser()
    if not source.is_file():
        raise FileNotFoundError(f"cannot import {source}: no such file")
    folder = resolve_cache_dir(cache_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder / f".{resource.filename}.lock")):
        return _install_local(source, folder, resource, check, link=False)
