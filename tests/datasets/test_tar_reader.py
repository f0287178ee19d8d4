"""The one-pass tar walker gives exactly tarfile's regular files, or defers to tarfile."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest

from xrayvision.datasets import _tar_reader
from xrayvision.datasets._tar_reader import iter_tar_files


def _archive(path, members, fmt=tarfile.USTAR_FORMAT, mode="w:gz"):
    with tarfile.open(path, mode, format=fmt) as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            else:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("link.xml")
        link.type, link.linkname = tarfile.SYMTYPE, "a/1.xml"
        archive.addfile(link)
    return path


def _with_tarfile(path):
    with tarfile.open(path) as archive:
        return [(m.name, archive.extractfile(m).read()) for m in archive if m.isfile()]


MEMBERS = [("a", None), ("a/1.xml", b"<r/>" * 300), ("a/empty.xml", b""), ("a/2.xml", b"x" * 512), ("p" * 60 + "/" + "q" * 60 + ".xml", b"long")]


@pytest.mark.parametrize("mode", ["w:gz", "w"])
def test_same_members_as_tarfile(tmp_path, mode, monkeypatch):
    path = _archive(tmp_path / "a.tar", MEMBERS, mode=mode)
    calls = []
    monkeypatch.setattr(_tar_reader, "_with_tarfile", lambda p: calls.append(p) or iter(()))
    assert list(iter_tar_files(path)) == [(n, d) for n, d in MEMBERS if d is not None]
    assert not calls, "a ustar archive never needs tarfile"
    monkeypatch.undo()
    assert list(iter_tar_files(path)) == _with_tarfile(path)


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT])
def test_long_name_formats_defer_to_tarfile(tmp_path, fmt):
    members = [("d/" + "x" * 150 + ".xml", b"data"), ("short.xml", b"s")]
    path = _archive(tmp_path / "a.tgz", members, fmt=fmt)
    assert list(iter_tar_files(path)) == _with_tarfile(path) == members


def test_multi_member_gzip(tmp_path):
    plain = _archive(tmp_path / "a.tar", MEMBERS, mode="w").read_bytes()
    path = tmp_path / "two.tgz"
    path.write_bytes(gzip.compress(plain[:1024]) + gzip.compress(plain[1024:]))
    assert list(iter_tar_files(path)) == _with_tarfile(tmp_path / "a.tar")


def test_damage_gives_tarfiles_error(tmp_path):
    data = _archive(tmp_path / "a.tar", MEMBERS, mode="w").read_bytes()
    truncated = tmp_path / "cut.tgz"
    truncated.write_bytes(gzip.compress(data)[:-200])
    with pytest.raises((EOFError, tarfile.TarError, OSError)):
        list(iter_tar_files(truncated))
    later = bytearray(data)
    later[600] ^= 0xFF  # a bad checksum in the second header: tarfile stops there
    damaged = tmp_path / "later.tar"
    damaged.write_bytes(bytes(later))
    assert list(iter_tar_files(damaged)) == _with_tarfile(damaged)
    first = bytearray(data)
    first[10] ^= 0xFF  # in the first header: tarfile raises
    damaged = tmp_path / "first.tar"
    damaged.write_bytes(bytes(first))
    with pytest.raises(tarfile.TarError):
        list(iter_tar_files(damaged))
