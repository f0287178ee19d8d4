"""fetch(): verified, atomic, resumable, offline-aware downloads against a local server."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from xrayvision.errors import ChecksumError, DownloadError, OfflineError, WeightsFormatError
from xrayvision.hub import ContentCheck, Resource, fetch, get_cache_dir, import_file, verify_cached

BODY = bytes(range(256)) * 400  # 100 KiB of non-HTML bytes
DIGEST = hashlib.sha256(BODY).hexdigest()


def _resource(url: str, *, sha256: str | None = DIGEST, size: int | None = len(BODY)) -> Resource:
    return Resource("weights-test.pt", url, sha256, size, "test licence", "test file")


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock"))


def test_good_download_lands_verified_and_is_reused(file_server):
    url = file_server.add("/w.pt", BODY)
    path = fetch(_resource(url))
    assert path == get_cache_dir() / "weights-test.pt"
    assert path.read_bytes() == BODY
    assert _listing(path.parent) == ["weights-test.pt"]  # no partial, no sidecar for pinned files
    assert fetch(_resource(url)) == path
    assert len(file_server.gets("/w.pt")) == 1  # the second call was served by the cache


def test_final_name_never_holds_a_partial_file(file_server):
    seen = []
    final = get_cache_dir() / "weights-test.pt"
    partial = get_cache_dir() / ".weights-test.pt.part"

    def look() -> None:  # runs in the server half way through each transfer
        deadline = time.monotonic() + 2
        while not partial.exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        seen.append((final.exists(), partial.exists()))

    url = file_server.add("/w.pt", BODY, truncate_first=1, during=look)
    fetch(_resource(url))
    # Half way through both transfers: the partial file exists, the final one does not.
    assert seen == [(False, True), (False, True)]
    assert final.read_bytes() == BODY and not partial.exists()


def test_failure_leaves_no_final_file_and_keeps_the_partial_for_resuming(file_server, monkeypatch):
    monkeypatch.setenv("XRV_DOWNLOAD_ATTEMPTS", "2")
    url = file_server.add("/w.pt", BODY, truncate_first=5)
    with pytest.raises(DownloadError, match="after 2 attempts"):
        fetch(_resource(url))
    assert not (get_cache_dir() / "weights-test.pt").exists()
    # Each attempt kept what it received: half, then half of the rest (resumed).
    kept = len(BODY) // 2 + (len(BODY) - len(BODY) // 2) // 2
    assert (get_cache_dir() / ".weights-test.pt.part").stat().st_size == kept
    assert [r.range for r in file_server.gets("/w.pt")] == [None, f"bytes={len(BODY) // 2}-"]


def test_checksum_mismatch_leaves_nothing_behind(file_server):
    url = file_server.add("/w.pt", BODY)
    wrong = Resource("weights-test.pt", url, "0" * 64, len(BODY))
    with pytest.raises(ChecksumError, match="0000000000"):
        fetch(wrong)
    assert _listing(get_cache_dir()) == []


def test_resume_after_truncation_requests_the_missing_range(file_server):
    url = file_server.add("/w.pt", BODY, truncate_first=1)
    path = fetch(_resource(url))
    assert path.read_bytes() == BODY
    ranges = [r.range for r in file_server.gets("/w.pt")]
    assert ranges == [None, f"bytes={len(BODY) // 2}-"]


def test_server_ignoring_range_restarts_from_scratch(file_server):
    url = file_server.add("/w.pt", BODY, truncate_first=1, honour_range=False)
    assert fetch(_resource(url)).read_bytes() == BODY
    assert len(file_server.gets("/w.pt")) == 2


def test_416_restarts_the_transfer(file_server):
    url = file_server.add("/w.pt", BODY)
    folder = get_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".weights-test.pt.part").write_bytes(b"x" * len(BODY))  # "complete" but wrong
    assert fetch(_resource(url, size=None)).read_bytes() == BODY
    assert [r.range for r in file_server.gets("/w.pt")] == [f"bytes={len(BODY)}-", None]


def test_stale_partial_with_wrong_bytes_is_redownloaded_once(file_server):
    url = file_server.add("/w.pt", BODY)
    folder = get_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".weights-test.pt.part").write_bytes(b"\0" * 1000)  # bytes of some other file
    assert fetch(_resource(url)).read_bytes() == BODY
    assert [r.range for r in file_server.gets("/w.pt")] == ["bytes=1000-", None]


def test_retries_server_errors(file_server):
    url = file_server.add("/w.pt", BODY, fail_first=2)
    assert fetch(_resource(url)).read_bytes() == BODY
    assert len(file_server.gets("/w.pt")) == 3


def test_client_errors_are_not_retried(file_server):
    with pytest.raises(DownloadError, match="404"):
        fetch(_resource(file_server.base + "/missing.pt"))
    assert len(file_server.gets("/missing.pt")) == 1
    assert _listing(get_cache_dir()) == []


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "application/octet-stream"])
def test_html_pages_are_rejected(file_server, content_type):
    page = b"<!DOCTYPE html><html><body>Sign in to continue</body></html>"
    url = file_server.add("/w.pt", page, content_type=content_type)
    with pytest.raises(DownloadError, match="HTML"):
        fetch(_resource(url, sha256=None, size=None))
    assert _listing(get_cache_dir()) == []


def test_wrong_content_length_is_rejected(file_server):
    url = file_server.add("/w.pt", BODY[:-1])
    with pytest.raises(DownloadError, match=f"must be {len(BODY)} bytes"):
        fetch(_resource(url))
    assert _listing(get_cache_dir()) == []


def test_offline_mode_names_url_file_and_path_and_makes_no_request(file_server, monkeypatch):
    monkeypatch.setenv("XRV_OFFLINE", "1")
    url = file_server.add("/w.pt", BODY)
    with pytest.raises(OfflineError) as info:
        fetch(_resource(url))
    message = str(info.value)
    assert url in message and "weights-test.pt" in message
    assert str(get_cache_dir() / "weights-test.pt") in message
    assert file_server.requests == []


def test_offline_mode_uses_a_warm_cache(file_server, monkeypatch):
    url = file_server.add("/w.pt", BODY)
    fetch(_resource(url))
    monkeypatch.setenv("XRV_OFFLINE", "1")
    assert fetch(_resource(url)).read_bytes() == BODY
    assert len(file_server.requests) == 1


def test_mirror_url_replaces_the_original_host(file_server, monkeypatch):
    file_server.add("/mirror/weights-test.pt", BODY)
    monkeypatch.setenv("XRV_WEIGHTS_MIRROR", file_server.base + "/mirror")
    assert fetch(_resource("https://example.invalid/v1/weights-test.pt")).read_bytes() == BODY
    assert [r.path for r in file_server.requests] == ["/mirror/weights-test.pt"]


def test_mirror_folder_is_copied_and_verified(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "weights-test.pt").write_bytes(BODY)
    monkeypatch.setenv("XRV_WEIGHTS_MIRROR", str(mirror))
    monkeypatch.setenv("XRV_OFFLINE", "1")  # a folder mirror is not network
    path = fetch(_resource("https://example.invalid/weights-test.pt"))
    assert path.read_bytes() == BODY and path.parent == get_cache_dir()
    (mirror / "weights-test.pt").write_bytes(BODY[::-1])
    with pytest.raises(ChecksumError):
        fetch(_resource("https://example.invalid/weights-test.pt"), cache_dir=tmp_path / "other")
    with pytest.raises(DownloadError, match="has no file"):
        fetch(Resource("absent.pt", "https://example.invalid/absent.pt"))


def test_legacy_cache_is_reused_without_a_request(file_server, tmp_path, monkeypatch):
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "weights-test.pt").write_bytes(BODY)
    monkeypatch.setenv("XRV_LEGACY_CACHE_DIR", str(legacy))
    url = file_server.add("/w.pt", BODY)
    assert fetch(_resource(url)).read_bytes() == BODY
    assert file_server.requests == []
    assert (legacy / "weights-test.pt").read_bytes() == BODY  # left as it was


def test_corrupt_legacy_copy_is_ignored_with_a_warning(file_server, tmp_path, monkeypatch):
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "weights-test.pt").write_bytes(b"\0" * len(BODY))
    monkeypatch.setenv("XRV_LEGACY_CACHE_DIR", str(legacy))
    url = file_server.add("/w.pt", BODY)
    with pytest.warns(UserWarning, match="reference's cached copy"):
        assert fetch(_resource(url)).read_bytes() == BODY
    assert len(file_server.gets("/w.pt")) == 1
    assert (legacy / "weights-test.pt").read_bytes() == b"\0" * len(BODY)


def _body_check(*, complete: bool = True) -> ContentCheck:
    """A content check with an independent oracle: the file must be BODY exactly."""

    def run(path: Path) -> None:
        if path.read_bytes() != BODY:
            raise WeightsFormatError(f"{path} is not the test body")

    return ContentCheck(run, complete, "test body")


def test_unpinned_file_is_recorded_only_after_a_complete_check(file_server, monkeypatch):
    url = file_server.add("/w.pt", BODY)
    unpinned = _resource(url, sha256=None, size=None)
    path = fetch(unpinned, check=_body_check())
    sidecar = path.with_name("weights-test.pt.sha256")
    assert sidecar.read_text().split()[0] == DIGEST
    status = verify_cached(unpinned, check=_body_check())
    assert (status.state, status.policy) == ("recorded", "first-use")
    path.write_bytes(BODY[::-1])  # tampered after the first download
    assert verify_cached(unpinned).state == "mismatch"
    monkeypatch.setenv("XRV_OFFLINE", "1")
    with pytest.raises(ChecksumError, match=DIGEST):
        fetch(unpinned, check=_body_check())
    monkeypatch.delenv("XRV_OFFLINE")
    with pytest.warns(UserWarning, match="downloading it again"):
        assert fetch(unpinned, check=_body_check()).read_bytes() == BODY
    assert len(file_server.gets("/w.pt")) == 2


@pytest.mark.parametrize("check", [None, _body_check(complete=False)], ids=["no-check", "incomplete"])
def test_unpinned_file_without_a_complete_check_stays_unverified(file_server, check):
    url = file_server.add("/w.pt", BODY)
    unpinned = _resource(url, sha256=None, size=None)
    path = fetch(unpinned, check=check)
    assert path.read_bytes() == BODY
    assert _listing(path.parent) == ["weights-test.pt"]  # no digest recorded
    status = verify_cached(unpinned, check=check)
    assert status.state == "unverified" and status.policy == "none"
    path.write_bytes(BODY[::-1])  # nothing to compare with: a changed file is still "unverified"...
    assert verify_cached(unpinned).state == "unverified"
    if check is not None:  # ...unless its content check refuses it
        assert verify_cached(unpinned, check=check).state == "mismatch"


def test_refused_content_is_deleted_and_never_recorded(file_server):
    url = file_server.add("/w.pt", BODY[::-1])
    unpinned = _resource(url, sha256=None, size=None)
    with pytest.raises(WeightsFormatError, match=f"weights-test.pt from {url} was refused"):
        fetch(unpinned, check=_body_check())
    assert _listing(get_cache_dir()) == []
    file_server.add("/w.pt", BODY)
    assert fetch(unpinned, check=_body_check()).read_bytes() == BODY


def test_a_hand_placed_unpinned_file_is_recorded_when_first_used(file_server):
    url = file_server.add("/w.pt", BODY)
    unpinned = _resource(url, sha256=None, size=None)
    folder = get_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "weights-test.pt").write_bytes(BODY)
    status = verify_cached(unpinned, check=_body_check())
    assert status.state == "unverified" and "recorded the first time it is used" in status.detail
    assert fetch(unpinned, check=_body_check()) == folder / "weights-test.pt"
    assert verify_cached(unpinned, check=_body_check()).state == "recorded"
    assert file_server.requests == []


def test_verify_cached_and_import_file(tmp_path):
    resource = _resource("https://example.invalid/weights-test.pt")
    status = verify_cached(resource)
    assert (status.state, status.policy, status.expected) == ("missing", "pinned", DIGEST)
    wrong = tmp_path / "wrong.pt"
    wrong.write_bytes(BODY[:-1] + b"!")
    with pytest.raises(ChecksumError):
        import_file(wrong, resource)
    assert verify_cached(resource).state == "missing"
    good = tmp_path / "downloaded.pt"
    good.write_bytes(BODY)
    path = import_file(good, resource)
    assert path.read_bytes() == BODY
    status = verify_cached(resource)
    assert (status.state, status.sha256, status.expected) == ("verified", DIGEST, DIGEST)


def test_import_of_an_unpinned_file_runs_the_content_check(tmp_path):
    resource = _resource("https://example.invalid/weights-test.pt", sha256=None, size=None)
    wrong = tmp_path / "weights-test.pt"
    wrong.write_bytes(b"hello\n")
    with pytest.raises(WeightsFormatError):
        import_file(wrong, resource, check=_body_check())
    assert _listing(get_cache_dir()) == []
    wrong.write_bytes(BODY)
    import_file(wrong, resource, check=_body_check())
    assert verify_cached(resource, check=_body_check()).state == "recorded"


def test_cache_dir_argument_and_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("XRV_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert get_cache_dir() == tmp_path / "xdg" / "xrayvision"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert get_cache_dir() == tmp_path / "home" / ".cache" / "xrayvision"
    monkeypatch.setenv("XRV_CACHE_DIR", "~/elsewhere")
    assert get_cache_dir() == tmp_path / "home" / "elsewhere"


def test_explicit_cache_dir_is_used(file_server, tmp_path):
    url = file_server.add("/w.pt", BODY)
    path = fetch(_resource(url), cache_dir=tmp_path / "mine")
    assert path == tmp_path / "mine" / "weights-test.pt"
    assert not (get_cache_dir() / "weights-test.pt").exists()


def test_resource_rejects_unsafe_names():
    for name in ("../evil.pt", "a/b.pt", ".hidden", "x.part", ""):
        with pytest.raises(ValueError):
            Resource(name, "https://example.invalid/x")
    with pytest.raises(ValueError, match="sha256"):
        Resource("a.pt", "https://example.invalid/a.pt", "ABC")


_WORKER = textwrap.dedent(
    """
    import pathlib, sys
    from xrayvision.hub import Resource, fetch
    resource = Resource("weights-test.pt", sys.argv[1], sys.argv[2], int(sys.argv[3]))
    pathlib.Path(sys.argv[4]).touch()  # "I am about to fetch"
    print(fetch(resource))
    """
)


def test_concurrent_processes_download_once(file_server, tmp_path):
    started = [tmp_path / "started-0", tmp_path / "started-1"]

    def wait_for_both() -> None:  # hold the body until both workers are inside fetch()
        deadline = time.monotonic() + 20
        while not all(p.exists() for p in started) and time.monotonic() < deadline:
            time.sleep(0.01)

    url = file_server.add("/w.pt", BODY, during=wait_for_both)
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, url, DIGEST, str(len(BODY)), str(marker)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for marker in started
    ]
    outputs = [w.communicate(timeout=60) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    expected = str(get_cache_dir() / "weights-test.pt")
    assert [out.strip() for out, _ in outputs] == [expected, expected]
    assert all(p.exists() for p in started)
    assert len(file_server.gets("/w.pt")) == 1
