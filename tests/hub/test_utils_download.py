"""``xrv.utils.download``: the reference's name, through the verified hub."""

from __future__ import annotations

import hashlib

import pytest

import xrayvision as xrv
from xrayvision.errors import ChecksumError, DownloadError
from xrayvision.hub.metadata import METADATA

BODY = bytes(range(256)) * 64


def test_any_url_lands_whole_or_not_at_all(file_server, tmp_path):
    url = file_server.add("/file.bin", BODY)
    target = tmp_path / "out" / "file.bin"
    assert xrv.utils.download(url, target) == target
    assert target.read_bytes() == BODY
    assert sorted(p.name for p in target.parent.iterdir()) == [".file.bin.lock", "file.bin"]
    page = file_server.add("/page.bin", b"<html><body>Sign in</body></html>", content_type="text/html")
    with pytest.raises(DownloadError, match="HTML"):
        xrv.utils.download(page, tmp_path / "page.bin")
    assert not (tmp_path / "page.bin").exists() and not (tmp_path / ".page.bin.part").exists()


def test_an_unpublished_url_never_goes_through_the_mirror(file_server, tmp_path, monkeypatch):
    url = file_server.add("/file.bin", BODY)
    file_server.add("/mirror/file.bin", b"something else")
    monkeypatch.setenv("XRV_WEIGHTS_MIRROR", file_server.base + "/mirror")
    assert xrv.utils.download(url, tmp_path / "file.bin").read_bytes() == BODY
    assert [r.path for r in file_server.requests] == ["/file.bin"]


def test_a_published_table_is_verified_against_its_digest(file_server, tmp_path, monkeypatch):
    record = METADATA["nih_bbox"]
    monkeypatch.setenv("XRV_WEIGHTS_MIRROR", file_server.base)
    file_server.add(f"/{record.filename}", b"\x1f\x8b" + b"\0" * (record.size - 2))  # right size, wrong bytes
    with pytest.raises(ChecksumError, match=record.sha256):
        xrv.utils.download(record.url, tmp_path / "boxes.csv.gz")
    assert not (tmp_path / "boxes.csv.gz").exists()


def test_a_published_table_under_another_name_is_copied_from_the_cache(realdata, tmp_path, monkeypatch):
    record = METADATA["nih_bbox"]
    monkeypatch.setenv("XRV_WEIGHTS_MIRROR", str(realdata / "xrv-metadata"))
    target = xrv.utils.download(record.url, tmp_path / "boxes.csv.gz")
    assert hashlib.sha256(target.read_bytes()).hexdigest() == record.sha256
    assert (xrv.hub.get_cache_dir() / record.filename).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boxes.csv.gz"]
