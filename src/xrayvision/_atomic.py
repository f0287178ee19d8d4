"""Files replaced atomically: written under a temporary name, then renamed.

A reader never sees a half-written file under the final name, and the file's permissions
follow the umask like any other file's (``mkstemp`` and safetensors' own writer leave
files readable by their owner only, which breaks shared caches and run folders).
"""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path


def write_atomic(path: str | os.PathLike, payload: bytes, *, tmp_dir: str | os.PathLike | None = None) -> Path:
    """Write ``payload`` to ``path`` through a temporary file and a rename.

    Args:
        path: the final file (its folder is created).
        payload: the bytes.
        tmp_dir: where the temporary file goes (default: ``path``'s folder); it must be on
            the same file system for the rename to be atomic.

    Returns:
        ``path`` as a :class:`Path`.

    Raises:
        IsADirectoryError: ``path`` is an existing folder.
    """
    target = Path(path)
    if target.is_dir():
        # os.replace would fail naming the temporary file; say what is wrong with the target.
        raise IsADirectoryError(errno.EISDIR, f"{target} is a folder; give the name of a file to write (e.g. {target / 'name'})", str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    folder = target.parent if tmp_dir is None else Path(tmp_dir)
    # O_EXCL with mode 0o666: a private temporary name, and the file's permissions follow the
    # umask like any other file's (mkstemp would leave it readable by its owner only).
    tmp = str(folder / f".{target.name}.{secrets.token_hex(6)}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return target


__all__ = ["write_atomic"]
