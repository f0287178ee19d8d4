"""The regular files of a tar archive (plain or gzip), read in one pass.

:mod:`tarfile` parses each 512-byte header in Python with many small reads and seeks:
for OpenI's report archive (3,955 small XML files) that is 0.25 s, most of its parse.
Decompressing the whole archive at once and walking the fixed-layout ustar headers
directly takes a few hundredths of that. Anything this walker does not handle with
certainty (pax or GNU long-name headers, sparse files, base-256 sizes, a bad checksum,
a truncated archive) sends the whole archive to :mod:`tarfile` instead, so the result
is always what :mod:`tarfile` would give, or its error.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

from . import _inflate as inflate

_BLOCK = 512
_REGULAR = (b"0", b"\0", b"7")  # regular file, old-style regular file, contiguous file
_SKIPPED = (b"1", b"2", b"3", b"4", b"5", b"6")  # links, devices, directories, FIFOs: no data
_POSIX_MAGIC = b"ustar\x0000"


def iter_tar_files(path: str | os.PathLike[str]) -> Iterator[tuple[str, bytes]]:
    """Yield ``(member name, bytes)`` for every regular file, in archive order.

    Raises:
        tarfile.TarError, OSError, EOFError, zlib.error: the archive is unreadable (as
            :mod:`tarfile` reports it).
    """
    path = Path(path)
    data = _decompressed(path.read_bytes())
    members = _walk_ustar(data) if data is not None else None
    if members is None:
        yield from _with_tarfile(path)
        return
    for name, start, size in members:  # one member's bytes at a time: a small peak
        yield name, bytes(data[start : start + size])


def _decompressed(raw: bytes) -> bytes | bytearray | None:
    """The tar bytes of a plain or gzip archive; None for other compressions or damage."""
    if raw[:2] != b"\x1f\x8b":
        return raw if len(raw) >= _BLOCK and raw[257:262] == b"ustar" else None
    try:
        sized = _gunzip_sized(raw)
    except inflate.errors:
        return None  # damage: tarfile reports it in its own words
    return sized or inflate.gunzip(raw)  # several members (None when damaged: tarfile says)


def _gunzip_sized(raw: bytes) -> bytearray | None:
    """A one-member gzip decompressed into a buffer of the size its trailer states (the
    decompressor's own growing output peaked at twice the archive's size), or None."""
    size = int.from_bytes(raw[-4:], "little")  # ISIZE: the size modulo 2**32
    out = bytearray(size)
    view = memoryview(out)
    decompressor = inflate.decompressobj(wbits=31)
    pending, filled = raw, 0
    while not decompressor.eof:
        chunk = decompressor.decompress(pending, 1 << 20)
        pending = decompressor.unconsumed_tail
        if filled + len(chunk) > size or (not chunk and not pending):
            return None  # larger than stated (several members, or > 4 GB), or truncated
        view[filled : filled + len(chunk)] = chunk
        filled += len(chunk)
    view.release()
    return out if filled == size and not decompressor.unused_data else None


def _walk_ustar(data: bytes) -> list[tuple[str, int, int]] | None:
    """``(name, offset, size)`` of the regular files of an uncompressed tar, or None when
    any header needs tarfile."""
    members = []
    offset = 0
    while offset + _BLOCK <= len(data):
        header = data[offset : offset + _BLOCK]
        if header.count(0) == _BLOCK:
            return members  # end-of-archive marker
        try:
            checksum = int(header[148:156].strip(b"\0 ") or b"0", 8)
            size = int(header[124:136].strip(b"\0 ") or b"0", 8)
        except ValueError:
            return None  # base-256 numbers or damage: tarfile decides
        if checksum != sum(header) - sum(header[148:156]) + 8 * 0x20:
            return None
        typeflag = header[156:157]
        if typeflag not in _REGULAR and typeflag not in _SKIPPED:
            return None  # pax, GNU long names, sparse files...
        name = header[:100].split(b"\0", 1)[0]
        if header[257:265] == _POSIX_MAGIC and header[345] != 0:
            name = header[345:500].split(b"\0", 1)[0] + b"/" + name
        start = offset + _BLOCK
        if typeflag in _SKIPPED:
            size = 0
        if start + size > len(data):
            return None  # truncated member
        if typeflag in _REGULAR:
            members.append((name.decode("utf-8", "surrogateescape"), start, size))
        offset = start + -(-size // _BLOCK) * _BLOCK
    return members if offset >= len(data) else None


def _with_tarfile(path: Path) -> Iterator[tuple[str, bytes]]:
    with tarfile.open(path, "r:*") as archive:
        for member in archive:
            if member.isfile():
                handle = archive.extractfile(member)
                assert handle is not None  # a regular file always has data
                yield member.name, handle.read()
