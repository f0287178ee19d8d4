"""The fault suite: every attack on a download, against a real server on 127.0.0.1.

After each attack: the error is typed and says what happened, no file under the final
cache name is anything but the right file, nothing is left that a later call would
trust, and the next call against a good server succeeds.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from filelock import FileLock

from xrayvision.errors import ChecksumError, DownloadError, NoNetworkError, WeightsFormatError
from xrayvision.hub import ContentCheck, Resource, TransferPolicy, fetch, get_cache_dir

BODY = bytes(range(256)) * 400  # 100 KiB of non-HTML bytes
DIGEST = hashlib.sha256(BODY).hexdigest()
NAME = "weights-test.pt"


def _body_check() -> ContentCheck:
    def run(path: Path) -> None:  # the oracle: the file must be BODY exactly
        if path.read_bytes() != BODY:
            raise WeightsFormatError(f"{path} is not the test body")

    return ContentCheck(run, True, "test body")


def _pinned(url: str) -> Resource:
    return Resource(NAME, url, DIGEST, len(BODY))


def _unpinned(url: str) -> Resource:
    return Resource(NAME, url)


def _final() -> Path:
    return get_cache_dir() / NAME


def _recovers(file_server, resource: Resource, path: str = "/w.pt") -> None:
    """Nothing wrong is cached, and the same call against a good server succeeds."""
    final = _final()
    assert not final.exists() or final.read_bytes() == BODY
    assert not (get_cache_dir() / f"{NAME}.sha256").exists()
    file_server.add(path, BODY)
    assert fetch(resource, check=_body_check()).read_bytes() == BODY


@pytest.mark.parametrize("make", [_pinned, _unpinned], ids=["pinned", "unpinned"])
def test_truncated_with_length_every_time(file_server, monkeypatch, make):
    monkeypatch.setenv("XRV_DOWNLOAD_ATTEMPTS", "2")
    url = file_server.add("/w.pt", BODY, truncate_first=99)
    resource = make(url)
    with pytest.raises(DownloadError, match=r"after 2 attempts: connection closed after \d+ of 102400 bytes"):
        fetch(resource, check=_body_check())
    partial = get_cache_dir() / f".{NAME}.part"
    assert partial.exists() == (resource.sha256 is not None)  # kept only when it can be resumed safely
    _recovers(file_server, resource)
    ranges = [r.range for r in file_server.gets("/w.pt")]
    if resource.sha256:
        assert ranges[-1] is not None  # the good call resumed what was kept
    else:
        assert ranges == [None, None, None]  # never resumed without a published digest


def test_truncated_without_length(file_server):
    url = file_server.add("/w.pt", BODY, truncate_first=99, send_length=False)
    # Pinned (size known): the short body is noticed and retried, then given up.
    with pytest.raises(DownloadError, match=r"connection closed after \d+ of 102400 bytes"):
        fetch(_pinned(url))
    # Unpinned, size unknown: the body looks complete; the content check refuses it.
    with pytest.raises(WeightsFormatError, match="was refused"):
        fetch(_unpinned(url), check=_body_check())
    _recovers(file_server, _unpinned(url))


def test_compressed_body(file_server):
    url = file_server.add("/w.pt", gzip.compress(BODY), content_encoding="gzip")
    with pytest.raises(DownloadError, match="Content-Encoding 'gzip'"):
        fetch(_unpinned(url), check=_body_check())
    assert len(file_server.gets("/w.pt")) == 1  # not retried: a proxy will do it again
    _recovers(file_server, _unpinned(url))


@pytest.mark.parametrize(
    ("body", "content_type", "said"),
    [
        (b"<!DOCTYPE html><html><body>Sign in</body></html>", "text/html", "an HTML page"),
        (b"<!DOCTYPE html><html><body>Sign in</body></html>", "application/octet-stream", "an HTML page"),
        (b'{"message": "Not Found", "documentation_url": "..."}', "application/json", "a JSON document"),
        (b'  [{"error": "rate limited"}]', "application/octet-stream", "a JSON document"),
    ],
    ids=["html", "html-as-binary", "json", "json-as-binary"],
)
def test_error_pages(file_server, body, content_type, said):
    url = file_server.add("/w.pt", body, content_type=content_type)
    with pytest.raises(DownloadError, match=said):
        fetch(_unpinned(url))  # no content check at all: the page itself is refused
    assert sorted(p.name for p in get_cache_dir().iterdir() if not p.name.endswith(".lock")) == []
    _recovers(file_server, _unpinned(url))


def test_same_size_wrong_bytes(file_server):
    url = file_server.add("/w.pt", BODY[::-1])
    with pytest.raises(ChecksumError, match=DIGEST):
        fetch(_pinned(url))
    with pytest.raises(WeightsFormatError, match="was refused"):
        fetch(_unpinned(url), check=_body_check())
    _recovers(file_server, _unpinned(url))


def test_stale_partial_without_a_published_digest_is_never_resumed(file_server):
    url = file_server.add("/w.pt", BODY)
    folder = get_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f".{NAME}.part").write_bytes(BODY[::-1][:1000])  # bytes of another version
    assert fetch(_unpinned(url), check=_body_check()).read_bytes() == BODY
    assert [r.range for r in file_server.gets("/w.pt")] == [None]


def test_stale_partial_with_a_published_digest_is_resumed_then_redone(file_server):
    url = file_server.add("/w.pt", BODY)
    folder = get_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f".{NAME}.part").write_bytes(b"\0" * 1000)
    assert fetch(_pinned(url)).read_bytes() == BODY
    assert [r.range for r in file_server.gets("/w.pt")] == ["bytes=1000-", None]


def test_trickle_fails_fast_and_releases_the_lock(file_server):
    url = file_server.add("/w.pt", BODY, trickle=(16, 0.05))  # 320 bytes/s: an hour for 100 KiB
    policy = TransferPolicy(attempts=3, backoff=0.01, timeout=0.3, min_speed=1000, deadline=1.2)
    start = time.monotonic()
    with pytest.raises(DownloadError, match="stalled|deadline"):
        fetch(_pinned(url), policy=policy)
    assert time.monotonic() - start < 4
    with FileLock(str(get_cache_dir() / f".{NAME}.lock"), timeout=0):
        pass  # another rank waiting on the lock gets it at once
    _recovers(file_server, _pinned(url))


def test_deadline_bounds_a_slow_but_steady_server(file_server):
    url = file_server.add("/w.pt", BODY, trickle=(1024, 0.05))  # 20 KiB/s: 5 s in all
    policy = TransferPolicy(attempts=4, backoff=0.01, timeout=1, min_speed=0, deadline=0.5)
    start = time.monotonic()
    with pytest.raises(DownloadError, match=r"gave up .* after 0.5 s \(the download deadline"):
        fetch(_unpinned(url), check=_body_check(), policy=policy)
    assert time.monotonic() - start < 2.5
    assert len(file_server.gets("/w.pt")) == 1  # a deadline is final: no retry
    _recovers(file_server, _unpinned(url))


@pytest.mark.parametrize("make", [_pinned, _unpinned], ids=["pinned", "unpinned"])
def test_drop_mid_body_then_success(file_server, make):
    url = file_server.add("/w.pt", BODY, truncate_first=1)
    resource = make(url)
    assert fetch(resource, check=_body_check()).read_bytes() == BODY
    expected = [None, f"bytes={len(BODY) // 2}-"] if resource.sha256 else [None, None]
    assert [r.range for r in file_server.gets("/w.pt")] == expected


def test_name_resolution_failure_fails_at_once_with_the_way_out(monkeypatch):
    lookups = []

    def no_dns(*args, **kwargs):
        lookups.append(args[0])
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    resource = Resource(NAME, "https://weights.example.org/v1/" + NAME, download_command="xrv weights download x",
                        import_command="xrv weights import FILE --name x")
    start = time.monotonic()
    with pytest.raises(NoNetworkError) as info:
        fetch(resource, check=_body_check())
    assert time.monotonic() - start < 1 and lookups == ["weights.example.org"]  # no retries
    message = str(info.value)
    assert "no network access" in message and resource.url in message and str(_final()) in message
    assert "`xrv weights download x`" in message and "`xrv weights import FILE --name x`" in message
    assert "kept" not in message  # no partial file exists to be kept
    assert not any(get_cache_dir().glob(f"*{NAME}*[!k]"))


_WORKER = textwrap.dedent(
    """
    import sys
    from xrayvision.hub import Resource, fetch
    url, digest, size = sys.argv[1], sys.argv[2], sys.argv[3]
    fetch(Resource("weights-test.pt", url, digest or None, int(size) if size else None))
    """
)


@pytest.mark.parametrize("pinned", [True, False], ids=["pinned", "unpinned"])
def test_kill_9_mid_download_then_rerun(file_server, pinned):
    in_body, release = threading.Event(), threading.Event()

    def hold() -> None:  # the first transfer stops half way until the test lets it go
        in_body.set()
        release.wait(20)

    url = file_server.add("/w.pt", BODY, during=hold)
    args = [url, DIGEST, str(len(BODY))] if pinned else [url, "", ""]
    worker = subprocess.Popen([sys.executable, "-c", _WORKER, *args], stderr=subprocess.PIPE)
    try:
        assert in_body.wait(30), "the worker never started downloading"
        time.sleep(0.2)  # let it write what it received
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
    finally:
        release.set()
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == -signal.SIGKILL
    assert not _final().exists()
    file_server.routes["/w.pt"].during = None
    resource = _pinned(url) if pinned else _unpinned(url)
    assert fetch(resource, check=_body_check()).read_bytes() == BODY  # the dead worker's lock is gone
    assert file_server.gets("/w.pt")[-1].range is None or pinned


# ------------------------------------------------- payload pickles under official names


class _Payload:
    """Pickles as a call of os.system: what a malicious weight file carries."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _payload_file(path: Path, marker: Path) -> Path:
    import torch

    torch.save({"features.conv0.weight": torch.zeros(1), "payload": _Payload(marker)}, path)
    return path


def _densenet_file(path: Path) -> Path:
    import torch

    from xrayvision.models import DenseNet

    torch.save(DenseNet().state_dict(), path)
    return path


@pytest.fixture(scope="module")
def good_densenet(tmp_path_factory) -> bytes:
    return _densenet_file(tmp_path_factory.mktemp("good") / "densenet.pt").read_bytes()


def _nothing_cached(filename: str) -> None:
    leftovers = [p.name for p in get_cache_dir().glob("*") if filename in p.name and not p.name.endswith(".lock")]
    assert leftovers == []


@pytest.mark.parametrize("mirror_kind", ["folder", "url"])
def test_payload_pickles_from_a_mirror_are_refused_and_never_run(file_server, tmp_path, monkeypatch, mirror_kind,
                                                                 good_densenet):
    import xrayvision as xrv
    from xrayvision.errors import UnsafeWeightsError

    marker = tmp_path / "payload-ran"
    folder = tmp_path / "mirror"
    folder.mkdir()
    unpinned, pinned = xrv.models.get_weights("nih"), xrv.models.get_weights("all")
    for record in (unpinned, pinned):
        _payload_file(folder / record.filename, marker)
        file_server.add(f"/mirror/{record.filename}", (folder / record.filename).read_bytes())
    monkeypatch.setenv("XRV_WEIGHTS_MIRROR", str(folder) if mirror_kind == "folder" else file_server.base + "/mirror")
    with pytest.raises(UnsafeWeightsError, match="tries to call posix.system|tries to call os.system"):
        xrv.models.DenseNet(weights="nih")
    with pytest.raises(DownloadError, match="has .* bytes but|SHA-256"):  # pinned: not even parsed
        xrv.models.DenseNet(weights="all")
    assert not marker.exists()
    _nothing_cached(unpinned.filename)
    _nothing_cached(pinned.filename)
    # The next call, with the right file on the mirror, succeeds and records its digest.
    (folder / unpinned.filename).write_bytes(good_densenet)
    file_server.add(f"/mirror/{unpinned.filename}", good_densenet)
    model = xrv.models.DenseNet(weights="nih")
    assert model.weights == "nih" and not marker.exists()
    recorded = (get_cache_dir() / f"{unpinned.filename}.sha256").read_text().split()[0]
    assert recorded == hashlib.sha256(good_densenet).hexdigest()


def test_payload_pickles_are_refused_by_import(tmp_path, capsys, good_densenet):
    import xrayvision as xrv
    from xrayvision.cli import main

    marker = tmp_path / "payload-ran"
    for name in ("nih", "all"):
        record = xrv.models.get_weights(name)
        payload = _payload_file(tmp_path / record.filename, marker)
        assert main(["weights", "import", str(payload)]) == 1
        err = capsys.readouterr().err
        assert record.filename in err and ("tries to call" in err or "bytes but" in err), err
        _nothing_cached(record.filename)
    assert not marker.exists()
    good = tmp_path / "good.pt"
    good.write_bytes(good_densenet)
    assert main(["weights", "import", str(good), "--name", "nih"]) == 0
    assert capsys.readouterr().out.split("\t")[:2] == ["nih", "recorded"]


def test_a_payload_in_the_reference_cache_is_ignored(file_server, tmp_path, monkeypatch, good_densenet):
    import xrayvision as xrv

    legacy = tmp_path / "legacy"
    legacy.mkdir()
    record = xrv.models.get_weights("pc")
    marker = tmp_path / "payload-ran"
    _payload_file(legacy / record.filename, marker)
    monkeypatch.setenv("XRV_LEGACY_CACHE_DIR", str(legacy))
    monkeypatch.setenv("XRV_WEIGHTS_MIRROR", file_server.base)
    file_server.add(f"/{record.filename}", good_densenet)
    with pytest.warns(UserWarning, match="ignoring the reference's cached copy.*tries to call"):
        xrv.models.DenseNet(weights="pc")
    assert not marker.exists()
    assert (get_cache_dir() / record.filename).read_bytes() == good_densenet


def test_a_full_disk_is_a_download_error_and_leaves_no_partial_file(file_server, monkeypatch):
    import xrayvision.hub.download as download

    url = file_server.add("/w.pt", BODY)
    real_open = open

    def full_disk(path, mode="r", *args, **kwargs):
        handle = real_open(path, mode, *args, **kwargs)
        if "b" in mode and ("w" in mode or "a" in mode) and str(path).endswith(".part"):
            def write(data):
                raise OSError(28, "No space left on device")

            handle.write = write
        return handle

    with monkeypatch.context() as patch:  # only the open() of the download module, only here
        patch.setattr(download, "open", full_disk, raising=False)
        with pytest.raises(DownloadError, match="No space left on device.*free some space or set XRV_CACHE_DIR"):
            fetch(_pinned(url))
    assert not _final().exists() and not list(get_cache_dir().glob(".*.part"))
    _recovers(file_server, _pinned(url))
