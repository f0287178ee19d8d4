"""Read a gzip file while a second thread decompresses it.

pandas reads a ``.gz`` CSV by decompressing and tokenising on one thread, one after the
other. zlib and pandas' tokeniser both release the GIL, so with a thread that
decompresses ahead of the parser the two overlap on two cores: PadChest's 17 MB file
(99 MB of CSV) parses in 0.45 s instead of 0.68 s, measured on a 2-core machine. Small
files gain nothing (the thread costs more than it saves) and are read as usual.
"""

from __future__ import annotations

import io
import os
import queue
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: Compressed size above which decompression gets its own thread.
MIN_THREADED_BYTES = 4 * 2**20
_CHUNK = 1 << 20  # compressed bytes per step; about 5 MB of CSV, ~10 ms of zlib
_AHEAD = 8  # decompressed chunks buffered ahead of the parser
_GZIP_MAGIC = b"\x1f\x8b"


@contextmanager
def open_csv(path: str | os.PathLike[str]) -> Iterator[Path | io.BufferedReader]:
    """``with open_csv(path) as source: pandas.read_csv(source, ...)``.

    ``source`` is a decompress-ahead reader for a large gzip file, else the path itself
    (pandas then handles it, compression included). The reader is closed on exit, which
    also stops its thread when the parser stopped early.
    """
    if not isinstance(path, (str, os.PathLike)):
        yield path  # a buffer or an open file: pandas reads it as it is
        return
    path = Path(path)
    if not _worth_a_thread(path):
        yield path
        return
    reader = io.BufferedReader(_DecompressAhead(path), buffer_size=_CHUNK)
    try:
        yield reader
    finally:
        reader.close()


def _worth_a_thread(path: Path) -> bool:
    try:
        if path.stat().st_size < MIN_THREADED_BYTES:
            return False
        with open(path, "rb") as handle:
            return handle.read(2) == _GZIP_MAGIC
    except OSError:
        return False  # pandas reports the missing or unreadable file in its own words


class _DecompressAhead(io.RawIOBase):
    """A raw stream of a gzip file's decompressed bytes, produced by a worker thread.

    A truncated or corrupt file raises an :class:`OSError` naming it from ``readinto``
    (as pandas' own reading raises for a damaged file); closing early stops the worker.
    """

    def __init__(self, path: Path):
        super().__init__()
        self._chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=_AHEAD)
        self._stop = threading.Event()
        self._current = memoryview(b"")
        self._finished = False
        self._worker = threading.Thread(target=self._produce, args=(path,), name="xrv-gunzip", daemon=True)
        self._worker.start()

    def _put(self, item: bytes | BaseException | None) -> bool:
        while not self._stop.is_set():
            try:
                self._chunks.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self, path: Path) -> None:
        try:
            with open(path, "rb") as handle:
                decompressor = zlib.decompressobj(wbits=31)
                while not self._stop.is_set():
                    block = handle.read(_CHUNK)
                    if not block:
                        break
                    out = decompressor.decompress(block)
                    while decompressor.eof and decompressor.unused_data:  # another gzip member
                        rest = decompressor.unused_data
                        decompressor = zlib.decompressobj(wbits=31)
                        out += decompressor.decompress(rest)
                    if out and not self._put(out):
                        return
                if not decompressor.eof and not self._stop.is_set():
                    raise OSError(f"{path} ends before the end of its gzip stream (a truncated download?)")
            self._put(None)
        except zlib.error as err:
            self._put(OSError(f"{path} is not a valid gzip file ({err}); download it again"))
        except BaseException as err:  # noqa: BLE001 - handed to the reading thread
            self._put(err)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while not len(self._current):
            if self._finished:
                return 0
            item = self._chunks.get()
            if item is None:
                self._finished = True
                return 0
            if isinstance(item, BaseException):
                self._finished = True
                raise item
            self._current = memoryview(item)
        count = min(len(buffer), len(self._current))
        buffer[:count] = self._current[:count]
        self._current = self._current[count:]
        return count

    def close(self) -> None:
        self._stop.set()
        super().close()
