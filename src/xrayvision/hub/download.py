"""HTTP transfer of one file into a partial file: content checks, deadlines, retries.

Only the standard library speaks HTTP here (``urllib.request``), so the usual
``http_proxy`` / ``https_proxy`` / ``no_proxy`` variables apply. The transfer policy
(:class:`TransferPolicy`) comes from the environment unless one is passed:

* ``XRV_DOWNLOAD_ATTEMPTS`` (default 4): tries per file before giving up;
* ``XRV_DOWNLOAD_BACKOFF`` (default 1.0 s): first retry delay, doubled each time;
* ``XRV_DOWNLOAD_TIMEOUT`` (default 60 s): connect timeout, longest wait for one read,
  and the window of the speed check;
* ``XRV_DOWNLOAD_MIN_SPEED`` (default 1024 bytes/s, 0 = off): a transfer that receives
  fewer than this many bytes per second over a whole window has stalled;
* ``XRV_DOWNLOAD_DEADLINE`` (default 14400 s, 0 = off): the most one file may take,
  all attempts together, so a trickling server cannot hold the download lock forever;
* ``XRV_NO_PROGRESS=1``: never draw a progress bar.
"""

from __future__ import annotations

import errno
import http.client
import logging
import os
import re
import socket
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .._version import __version__
from ..errors import DownloadError, NoNetworkError
from .cache import error_page_kind

logger = logging.getLogger("xrayvision.hub")

_CHUNK = 1 << 20
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
# Errors meaning "this machine has no route to the internet": retrying cannot help.
_NO_ROUTE = {errno.ENETUNREACH, errno.EHOSTUNREACH}


class _Transient(Exception):
    """A failure worth retrying (network hiccup, 5xx, truncated body, stall)."""


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass(frozen=True)
class TransferPolicy:
    """How long and how hard one download may try.

    Attributes:
        attempts: tries per file (at least 1).
        backoff: seconds before the first retry, doubled after each failure.
        timeout: connect timeout, longest wait for one read, and the speed-check window.
        min_speed: bytes per second a transfer must average over each ``timeout`` window
            (0 disables the check).
        deadline: seconds one file may take, all attempts together (0 disables it).
    """

    attempts: int = 4
    backoff: float = 1.0
    timeout: float = 60.0
    min_speed: float = 1024.0
    deadline: float = 14400.0

    @classmethod
    def from_environment(cls) -> TransferPolicy:
        """The policy set by the ``XRV_DOWNLOAD_*`` variables (defaults where unset)."""
        return cls(
            attempts=max(1, int(_env_float("XRV_DOWNLOAD_ATTEMPTS", cls.attempts))),
            backoff=max(0.0, _env_float("XRV_DOWNLOAD_BACKOFF", cls.backoff)),
            timeout=max(0.01, _env_float("XRV_DOWNLOAD_TIMEOUT", cls.timeout)),
            min_speed=max(0.0, _env_float("XRV_DOWNLOAD_MIN_SPEED", cls.min_speed)),
            deadline=max(0.0, _env_float("XRV_DOWNLOAD_DEADLINE", cls.deadline)),
        )


class _Clock:
    """The file's overall deadline, shared by all its attempts."""

    def __init__(self, policy: TransferPolicy, url: str):
        self.policy = policy
        self.url = url
        self.start = time.monotonic()

    def remaining(self) -> float:
        if not self.policy.deadline:
            return float("inf")
        return self.policy.deadline - (time.monotonic() - self.start)

    def check(self, received: int, total: int | None) -> None:
        if self.remaining() <= 0:
            of = f" of {total}" if total is not None else ""
            raise DownloadError(
                f"gave up on {self.url} after {self.policy.deadline:g} s (the download deadline, "
                f"XRV_DOWNLOAD_DEADLINE) with {received}{of} bytes received: the server is too slow "
                "or has stalled"
            )


def _show_progress(progress: bool | None) -> bool:
    if progress is False or os.environ.get("XRV_NO_PROGRESS", "") not in ("", "0"):
        return False
    if progress is True:
        return True
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def download(
    url: str,
    partial: Path,
    *,
    expected_size: int | None = None,
    resume: bool = False,
    binary: bool = True,
    label: str = "",
    progress: bool | None = None,
    policy: TransferPolicy | None = None,
) -> None:
    """Download ``url`` into ``partial``.

    On return ``partial`` holds the complete body (its size matches the server's and
    ``expected_size``). It is not verified against a digest here and never renamed: the
    caller does both. With ``resume``, bytes already in ``partial`` (from an interrupted
    transfer) are kept and the rest is requested with an HTTP Range request; servers
    that ignore Range (200) or refuse it (416) restart it. Without ``resume`` (the
    caller has no digest to detect a mix of two versions of the file) every attempt
    starts from the first byte.

    Args:
        url: http(s) URL.
        partial: file to write.
        expected_size: the size the file must have, when known.
        resume: keep and extend what ``partial`` already holds.
        binary: refuse an HTML or JSON body (an error page, never a binary file).
        label: name shown on the progress bar.
        progress: True/False forces the bar on/off; None shows it when stderr is a terminal.
        policy: attempts, timeouts, minimum speed and deadline (default: from the environment).

    Raises:
        NoNetworkError: the host name cannot be resolved or the network is unreachable.
        DownloadError: the server answered with an error, an error page, a compressed or
            wrong-size body, stalled past the deadline, or kept failing after the allowed
            attempts.
    """
    if not url.startswith(("http://", "https://")):
        raise DownloadError(f"cannot download {url!r}: only http:// and https:// URLs are supported")
    policy = policy or TransferPolicy.from_environment()
    clock = _Clock(policy, url)
    if not resume:
        partial.unlink(missing_ok=True)
    for attempt in range(1, policy.attempts + 1):
        try:
            _transfer(url, partial, expected_size, resume, binary, label, progress, policy, clock)
            return
        except NoNetworkError:
            if not resume:
                partial.unlink(missing_ok=True)
            raise
        except DownloadError:
            # Permanent (404, an error page, wrong size, deadline): nothing worth keeping.
            partial.unlink(missing_ok=True)
            raise
        except _Transient as err:
            if not resume:
                partial.unlink(missing_ok=True)
            if attempt == policy.attempts or clock.remaining() <= 0:
                kept = ""
                if resume and partial.exists():
                    kept = f" The partial file {partial} is kept and the next attempt resumes it."
                tries = f"{attempt} attempt" + ("s" if attempt > 1 else "")
                raise DownloadError(
                    f"could not download {url} after {tries}: {err}.{kept} Behind a proxy set "
                    "https_proxy; on a cluster without network see XRV_WEIGHTS_MIRROR / XRV_OFFLINE"
                ) from err
            delay = min(policy.backoff * 2 ** (attempt - 1), max(clock.remaining(), 0.0))
            logger.warning("download of %s failed (%s); retrying in %.3g s", url, err, delay)
            time.sleep(delay)


def _no_network(url: str, err: BaseException) -> NoNetworkError:
    host = urllib.request.urlparse(url).hostname
    return NoNetworkError(
        f"cannot reach {host} to download {url} ({err}): this machine seems to have no network "
        "access (not retried)"
    )


def _open(url: str, have: int, timeout: float) -> http.client.HTTPResponse:
    headers = {"User-Agent": f"xrayvision/{__version__}", "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (scheme checked)
    except urllib.error.HTTPError as err:
        err.close()
        if err.code == 416:
            raise
        if err.code >= 500 or err.code in (408, 429):
            raise _Transient(f"HTTP {err.code} {err.reason}") from err
        raise DownloadError(f"{url}: the server answered HTTP {err.code} {err.reason}") from err
    except urllib.error.URLError as err:
        reason = err.reason
        if isinstance(reason, socket.gaierror) or getattr(reason, "errno", None) in _NO_ROUTE:
            raise _no_network(url, reason) from err
        raise _Transient(f"{type(reason).__name__}: {reason}") from err
    except (OSError, http.client.HTTPException) as err:
        if isinstance(err, socket.gaierror) or getattr(err, "errno", None) in _NO_ROUTE:
            raise _no_network(url, err) from err
        raise _Transient(f"{type(err).__name__}: {err}") from err


def _check_headers(response: http.client.HTTPResponse, url: str, binary: bool) -> None:
    encoding = (response.headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding != "identity":
        raise DownloadError(
            f"{url} was sent with Content-Encoding {encoding!r} although the raw file was asked "
            "for; a proxy or server altered it. Download it another way (e.g. a browser) and "
            "import it"
        )
    content_type = response.headers.get_content_type()
    if content_type == "text/html" or (binary and content_type.endswith("json")):
        page = "an HTML page" if content_type == "text/html" else "a JSON document"
        raise DownloadError(
            f"{url} answered with {page} (Content-Type {content_type}), not the file: the URL may "
            "have moved, need a login, or the server reported an error"
        )


def _transfer(
    url: str,
    partial: Path,
    expected_size: int | None,
    resume: bool,
    binary: bool,
    label: str,
    progress: bool | None,
    policy: TransferPolicy,
    clock: _Clock,
) -> None:
    have = partial.stat().st_size if resume and partial.exists() else 0
    if expected_size is not None and have > expected_size:
        partial.unlink()
        have = 0
    try:
        response = _open(url, have, policy.timeout)
    except urllib.error.HTTPError:  # 416: our partial does not fit the remote file
        logger.info("server refused to resume %s; restarting from the beginning", url)
        partial.unlink(missing_ok=True)
        have = 0
        response = _open(url, 0, policy.timeout)
    with response:
        _check_headers(response, url, binary)
        if response.status == 206 and have:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != have:
                partial.unlink(missing_ok=True)
                raise _Transient(f"unexpected Content-Range {response.headers.get('Content-Range')!r}")
            total = None if match.group(3) == "*" else int(match.group(3))
            mode = "ab"
        elif response.status == 200:
            if have:
                logger.info("server ignored the Range request for %s; restarting", url)
            have = 0
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            mode = "wb"
        else:
            raise DownloadError(f"{url}: unexpected HTTP status {response.status}")
        if expected_size is not None and total is not None and total != expected_size:
            raise DownloadError(
                f"{url} is {total} bytes but {label or partial.name} must be {expected_size} bytes; "
                "the server sent a different file"
            )
        received = _stream(response, partial, mode, have, total, label, progress, url, binary, policy, clock)
    if total is None and expected_size is not None:
        total = expected_size  # no Content-Length: the record says how long the body must be
    if total is not None and received < total:
        raise _Transient(f"connection closed after {received} of {total} bytes")
    if total is not None and received > total:
        raise DownloadError(f"{url}: received {received} bytes but the file has {total}")


def _stream(
    response: http.client.HTTPResponse,
    partial: Path,
    mode: str,
    have: int,
    total: int | None,
    label: str,
    progress: bool | None,
    url: str,
    binary: bool,
    policy: TransferPolicy,
    clock: _Clock,
) -> int:
    """Copy the body into ``partial``; returns the bytes the file then holds."""
    from tqdm.auto import tqdm

    received = have
    window_start, window_bytes = time.monotonic(), received
    bar = tqdm(
        total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
        desc=label or partial.name, disable=not _show_progress(progress), file=sys.stderr, leave=False,
    )
    try:
        with open(partial, mode) as out:
            while True:
                try:
                    chunk = response.read1(_CHUNK)  # what has arrived, so the bar moves
                except (http.client.IncompleteRead, OSError, socket.timeout) as err:
                    clock.check(received, total)
                    raise _Transient(f"connection lost after {received} bytes: {err}") from err
                if not chunk:
                    break
                if received == 0 and binary:
                    page = error_page_kind(chunk[:512])
                    if page:
                        raise DownloadError(f"{url} sent {page} instead of the file")
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
                clock.check(received, total)
                now = time.monotonic()
                if now - window_start >= policy.timeout:
                    speed = (received - window_bytes) / (now - window_start)
                    if speed < policy.min_speed:
                        raise _Transient(
                            f"transfer stalled at {speed:.0f} bytes/s after {received} bytes (minimum "
                            f"{policy.min_speed:g}, XRV_DOWNLOAD_MIN_SPEED)"
                        )
                    window_start, window_bytes = now, received
            out.flush()
            os.fsync(out.fileno())
    except OSError as err:  # the cache folder's disk: a full disk, a read-only folder
        if isinstance(err, (_Transient, DownloadError)):
            raise
        partial.unlink(missing_ok=True)
        raise DownloadError(
            f"cannot write {partial} ({err}); free some space or set XRV_CACHE_DIR (or cache_dir=) to a "
            "writable folder with room for the file"
        ) from err
    finally:
        bar.close()
    return received
