"""A full disk for the atomic writer: writes to chosen files stop half-way with ENOSPC."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from typing import Any


class _HalfWriting:
    """A file handle that writes half of the payload, then fails as a full disk does."""

    def __init__(self, handle: Any):
        self.handle = handle

    def __enter__(self) -> _HalfWriting:  # noqa: PYI034 - Self needs Python 3.11
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()

    def write(self, payload: bytes) -> int:
        self.handle.write(payload[: len(payload) // 2])
        self.handle.flush()
        raise OSError(errno.ENOSPC, "No space left on device")


class _FullDiskOS:
    """``os`` as ``xrayvision._atomic`` sees it, with a full disk for paths where ``full(path)``."""

    def __init__(self, full: Callable[[str], bool]):
        self.full = full
        self.paths: dict[int, str] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def open(self, path: str, *args: Any) -> int:
        fd = os.open(path, *args)
        self.paths[fd] = str(path)
        return fd

    def fdopen(self, fd: int, *args: Any) -> Any:
        handle = os.fdopen(fd, *args)
        return _HalfWriting(handle) if self.full(self.paths.pop(fd, "")) else handle


def fill_disk(monkeypatch: Any, full: Callable[[str], bool]) -> None:
    """From now on, atomic writes of temporary files whose path satisfies ``full`` fail with ENOSPC."""
    from xrayvision import _atomic

    monkeypatch.setattr(_atomic, "os", _FullDiskOS(full))
