"""A disk cache of parsed metadata tables, so that a dataset's second construction is fast.

Parsing a large metadata file (PadChest: 17 MB of gzip, 160k rows) takes a good part of a
second, and every notebook restart or script run pays it again. :func:`load_table` keeps
the *parsed* table (what a dataset's pure parse function returns) as an Arrow IPC
(Feather) file and reloads it in milliseconds.

* **Key**: the SHA-256 of the *content* of every metadata file the parser reads (a file
  edited in place, even keeping its size and modification time, gets a new entry), their
  absolute paths (the notes of metadata problems a parser attaches name the file), the
  caller's key (a parser version plus every argument that changes the parse) and
  :data:`FORMAT_VERSION`.
* **Entries**: ``<cache dir>/tables/<key digest>-<content crc>.arrow``, plain Arrow IPC
  files (``pandas.read_feather`` opens them). The CRC-32 of the entry's bytes in its name
  is checked on every read, so a damaged entry (truncated, overwritten, one bit flipped)
  is rebuilt, never returned.
* **Writes** are synchronous, to a temporary file in the same folder renamed into place:
  several processes building at once each write the same bytes, and a reader sees a
  whole entry or none. Failing to write (read-only or full disk) logs and goes on.
* ``XRV_NO_TABLE_CACHE=1`` turns the cache off.

Column dtypes survive the round trip (numbers, booleans, dates, categories, pandas
``str`` and ``object`` columns of strings), and so do ``DataFrame.attrs`` (the notes of
metadata problems); a table with any other column (lists, mixed objects) is returned as
parsed and not cached.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc

from .._atomic import write_atomic

logger = logging.getLogger(__name__)

#: Version of the entry layout; part of every key, so a change invalidates old entries.
FORMAT_VERSION = "xrv-table-5"
#: Environment variable that disables the cache when set to a true value.
DISABLE_ENV = "XRV_NO_TABLE_CACHE"
#: File name suffix of an entry.
ENTRY_SUFFIX = ".arrow"
# Schema metadata field holding the entry's key and the pandas dtype of every column.
_META = b"xrayvision"
# LZ4 frames: entries 3-6x smaller, so writing them (the cold path) costs less, and
# decompressing (the warm path) runs at GB/s.
_WRITE_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4")


def cache_enabled() -> bool:
    """True unless ``XRV_NO_TABLE_CACHE`` is set to a true value (1, true, yes, on)."""
    return os.environ.get(DISABLE_ENV, "").strip().lower() not in {"1", "true", "yes", "on"}


def table_cache_dir() -> Path:
    """Folder of the entries: ``<xrayvision cache dir>/tables``."""
    from ..hub.cache import get_cache_dir

    return get_cache_dir() / "tables"


def load_table(files: Iterable[str | os.PathLike[str]], parse: Callable[[], pd.DataFrame], *, key: str) -> pd.DataFrame:
    """Return ``parse()``, from the cache when an entry for these files and ``key`` exists.

    Args:
        files: every file ``parse`` reads; their content is part of the entry's key.
        parse: pure function of those files returning a DataFrame.
        key: parser identity, e.g. ``"padchest-6|nrows=all"``: a version to bump whenever
            the parser's output changes, plus every argument that changes it.

    Returns:
        The parsed table with a default RangeIndex, a fresh object the caller may modify.

    Raises:
        Whatever ``parse`` raises (e.g. :class:`~xrayvision.errors.MetadataError`);
        problems of the cache itself never raise.
    """
    if not cache_enabled():
        return _reset_index(parse())
    from ..hub.cache import sha256sum  # never its per-process memo: an edit may keep size and mtime

    files = [Path(path).resolve() for path in files]
    try:
        digests = [sha256sum(path) for path in files]
    except OSError as err:  # an unreadable file: the parser reports it in its own words
        logger.debug("table cache: cannot hash %s (%s)", files, err)
        return _reset_index(parse())
    full_key = json.dumps([FORMAT_VERSION, key, [str(path) for path in files], digests])
    name = hashlib.sha256(full_key.encode("utf-8")).hexdigest()[:40]
    folder = table_cache_dir()
    for entry in sorted(folder.glob(f"{name}-*{ENTRY_SUFFIX}")):
        cached = _read_entry(entry, full_key)
        if cached is not None:
            return cached
    table = _reset_index(parse())
    _write_entry(folder, name, full_key, table)
    return table


def _reset_index(table: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table parser returned {type(table).__name__}, not a DataFrame")
    return table.reset_index(drop=True)


def _write_entry(folder: Path, name: str, full_key: str, table: pd.DataFrame) -> None:
    """Write ``table`` as ``<name>-<crc>.arrow`` through a temporary file renamed into place."""
    arrow = _to_arrow(table)
    if arrow is None:
        logger.debug("table cache: not caching %s: a column cannot round-trip", name)
        return
    dtypes = {str(column): str(dtype) for column, dtype in table.dtypes.items()}
    try:  # attrs (notes of metadata problems) are kept whatever pyarrow's version does with them
        header = json.dumps({"key": full_key, "dtypes": dtypes, "attrs": table.attrs})
    except (TypeError, ValueError):
        logger.debug("table cache: not caching %s: its attrs are not JSON", name)
        return
    meta = {**(arrow.schema.metadata or {}), _META: header.encode("utf-8")}
    arrow = arrow.replace_schema_metadata(meta)
    sink = pa.BufferOutputStream()
    try:
        with pa.ipc.new_file(sink, arrow.schema, options=_WRITE_OPTIONS) as writer:
            writer.write_table(arrow)
    except pa.ArrowException as err:  # never a reason to fail the construction
        logger.debug("table cache: not caching %s: %s", name, err)
        return
    data = sink.getvalue()
    target = folder / f"{name}-{zlib.crc32(data):08x}{ENTRY_SUFFIX}"
    try:
        write_atomic(target, data)
    except OSError as err:
        logger.warning("table cache: could not write %s (%s); continuing without it", target, err)


def _to_arrow(table: pd.DataFrame) -> pa.Table | None:
    """The Arrow form of ``table``, or None when a column would not come back the same."""
    names = list(table.columns)
    if len(set(names)) != len(names) or not all(isinstance(name, str) for name in names):
        return None
    try:
        arrow = pa.Table.from_pandas(table, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError):  # mixed objects
        return None
    for name, field in zip(names, arrow.schema):
        if table[name].dtype == object and not (pa.types.is_string(field.type) or pa.types.is_null(field.type)):
            return None  # lists, arrays, numbers among objects...
    return arrow


def _read_entry(entry: Path, full_key: str) -> pd.DataFrame | None:
    """The entry's table, or None (and the entry removed) when it is damaged or foreign."""
    try:
        data = entry.read_bytes()
        if f"{zlib.crc32(data):08x}" != entry.name.removesuffix(ENTRY_SUFFIX).rsplit("-", 1)[-1]:
            raise ValueError("content does not match the CRC-32 in its name")
        arrow = pa.ipc.open_file(pa.py_buffer(data)).read_all()
        info = json.loads(arrow.schema.metadata[_META])
        if info["key"] != full_key:
            return None  # a 40-hex-digit name collision: leave the other entry alone
        table = arrow.to_pandas()
        table.attrs = info["attrs"]
        if list(table.columns) != list(info["dtypes"]):
            raise ValueError("columns do not match the entry's header")
        for column, dtype in info["dtypes"].items():
            if dtype == "object":  # Arrow gives text back as pandas "str"; missing as NaN
                values = table[column]
                table[column] = values.astype(object).where(values.notna(), np.nan)
            elif str(table[column].dtype) != dtype:
                table[column] = table[column].astype(dtype)
        return table
    except FileNotFoundError:
        return None  # removed meanwhile by another process
    except Exception as err:  # noqa: BLE001 - any damage means "rebuild", never a crash
        logger.warning("table cache: rebuilding damaged entry %s (%s)", entry, err)
        _remove(entry)
        return None


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
