"""A disk cache of parsed metadata tables, so a dataset's second construction is instant.

Parsing a large metadata file (PadChest: 17 MB of gzip, 160k rows; CheXpert: 223k rows)
costs seconds, and every DataLoader worker or notebook restart pays it again. This module
stores the *parsed* table (the result of a dataset's pure parse function: needed columns,
derived columns, per-row label columns) and reloads it in milliseconds.

Usage (inside a dataset class)::

    from ._table_cache import load_table

    PARSER_VERSION = "padchest-1"   # bump whenever _parse changes its output

    def _parse(path: Path) -> pd.DataFrame:
        ...  # read only the needed columns, derive per-row columns, vectorised

    table = load_table(csvpath, _parse, key=f"{PARSER_VERSION}|exact={exact}")

Cache key: SHA-256 of the metadata file's bytes + the caller's ``key`` (which must name a
parser version and every argument that changes the parse) + this module's format version.
The file's digest is memoised in a small sidecar (``tables/digests/<hash of the absolute
path>.json``) keyed by the file's size and ``mtime_ns``, so a warm call does not re-read
the file (hashing the 17 MB PadChest file costs 0.04-0.14 s, measured, a large part of the
0.2 s budget of a warm construction); a changed size or modification time re-hashes.
A file with no remembered digest cannot have an entry found for it without hashing it,
so its first construction parses at once and hashes it, then writes the entry, in the
background; the entry is not written if the file changed since it was parsed.

Storage: one file per entry under ``<cache dir>/tables/`` (suffix :data:`ENTRY_SUFFIX`): a
magic string, a JSON header (key, columns, dtypes, and each array's dtype, shape and byte
range) and the raw array bytes, 64-byte aligned. Reading is one ``readinto`` plus
``np.frombuffer`` views (no zip, no CRC, no pickle: only plain numeric dtypes are accepted,
so loading never executes code); an ``.npz`` cost 0.05-0.1 s more per PadChest/CheXpert
entry, measured. Numeric, boolean and datetime columns are stored as arrays (a float column
holding only NaN and whole numbers in [-127, 127], as label columns do, as one byte per
value: CheXpert's entry shrinks from 40 to 13 MB and loads 0.03 s faster); string columns
(pandas ``str`` dtype, or ``object`` holding only strings and missing values) are stored
factorised: integer codes plus the distinct values joined into one UTF-8 blob with a
separator character absent from them. Bytes columns (NumPy ``S``: the mostly-unique
text of :mod:`._lean_csv`, decoded only for the rows a dataset keeps) are stored as
they are. Entries are written on a background thread (see
:mod:`._deferred_writes`: the construction that parsed the table does not wait for it) to
a temporary file in the same folder and moved into place with :func:`os.replace`, so
several DataLoader workers building at once are safe (the last writer wins; all write the
same bytes). A corrupt, truncated or foreign entry is ignored and rebuilt. A table holding
a column this format cannot represent is simply not cached. Failing to write the cache
(read only disk, full disk) is logged and never an error.

Cache folder: ``xrayvision.hub.get_cache_dir()`` when the hub provides it, else the
``XRV_CACHE_DIR`` environment variable, else ``~/.cache/xrayvision``.
Opt-out: set ``XRV_NO_TABLE_CACHE=1`` (then every construction parses the file).

The returned table always has a default ``RangeIndex``; cold (parsed) and warm (cached)
results are equal column by column, dtypes included (a missing value in an ``object``
column comes back as NaN, whether it was NaN or None).
"""

from __future__ import annotations

import codecs
import functools
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from . import _deferred_writes

logger = logging.getLogger(__name__)

#: Version of the on-disk layout; part of every key, so a change invalidates old entries.
FORMAT_VERSION = "xrv-table-4"
#: File name suffix of a cache entry.
ENTRY_SUFFIX = ".xtab"
#: Environment variable that disables the cache when set to a true value.
DISABLE_ENV = "XRV_NO_TABLE_CACHE"

# Characters tried, in order, to join the distinct strings of a column.
_SEPARATORS = ("\x00", "\x1f", "\x1e", "\x1d", "\x1c", "\ufffe", "\uffff")
_MAGIC = b"XRVTAB02"
# Mean characters per string above which a column is stored whole, never factorised.
_LONG_TEXT = 128
_ALIGN = 64


class _Unsupported(Exception):
    """A column cannot be stored in this format (the table is then not cached)."""


# ---------------------------------------------------------------------------- public API


def cache_enabled() -> bool:
    """True unless ``XRV_NO_TABLE_CACHE`` is set to a true value (1, true, yes)."""
    return os.environ.get(DISABLE_ENV, "").strip().lower() not in {"1", "true", "yes", "on"}


def table_cache_dir() -> Path:
    """Folder of the table cache: ``<xrayvision cache dir>/tables``."""
    return _base_cache_dir() / "tables"


def file_sha256(path: str | os.PathLike[str], chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk_size), b""):
            digest.update(block)
    return digest.hexdigest()


def load_table(
    path: str | os.PathLike[str],
    parse: Callable[[Path], pd.DataFrame],
    *,
    key: str,
    also_reads: Sequence[str | os.PathLike[str]] = (),
) -> pd.DataFrame:
    """Return ``parse(path)``, from the cache when an entry for these bytes and ``key`` exists.

    Args:
        path: the metadata file (any format ``parse`` understands).
        parse: pure function of the file returning a DataFrame; it must depend only on the
            file's bytes and on what ``key`` names.
        key: parser identity, e.g. ``"padchest-1|exact=False"``: a parser version string plus
            every argument that changes the output. Bump the version when the parser changes.
        also_reads: other files ``parse`` reads (RSNA's DICOM-header table): their bytes
            are part of the entry's key too.

    Returns:
        The parsed table with a default RangeIndex (a fresh object the caller may modify).
        On a cache miss the entry is written on a background thread
        (:func:`wait_for_cache_writes` waits for it).

    Raises:
        Whatever ``parse`` raises (e.g. :class:`~xrayvision.errors.MetadataError`); cache
        problems never raise.
    """
    return _load([Path(path), *map(Path, also_reads)], parse, key)


def _load(paths: list[Path], parse: Callable[[Path], pd.DataFrame], key: str) -> pd.DataFrame:
    if not cache_enabled():
        return _reset(parse(paths[0]))
    full_key = f"{FORMAT_VERSION}|{key}"
    first_sight = _deferred_target(paths, key)
    _deferred_writes.wait_for(first_sight)  # this process may still be hashing the files
    try:
        known = [_known_sha256(path) for path in paths]
    except OSError as err:  # unreadable file: let the parser report it in its own words
        logger.debug("table cache: cannot read %s (%s)", paths, err)
        return _reset(parse(paths[0]))
    stamps, digests = [stamp for stamp, _ in known], [digest for _, digest in known]
    if None in digests:
        # Never hashed here, so its entry cannot be looked up without reading the whole
        # file: parse at once and hash it, then write the entry, in the background
        # (hashing PadChest's 17 MB took 0.03 s of the cold construction).
        target, write = first_sight, functools.partial(_hash_then_write, paths, stamps, key=key)
    else:
        entry = _entry_path(digests, key)
        _deferred_writes.wait_for(entry)  # an entry this process is still writing
        if entry.is_file():
            cached = _read_entry(entry, full_key)
            if cached is not None:
                return cached
        target, write = entry, functools.partial(_write_entry, entry, full_key=full_key)
    table = _reset(parse(paths[0]))
    # The entry is written on a background thread (see _deferred_writes); copy-on-write
    # keeps this shallow snapshot unchanged whatever the caller does to ``table``.
    snapshot = table.copy(deep=False)
    _deferred_writes.submit(target, lambda: write(snapshot))
    return table


def _hash_then_write(paths: list[Path], stamps: list[list[int]], table: pd.DataFrame, key: str) -> None:
    """Hash ``paths`` and write the entry of ``table`` under those digests, unless a file
    changed since it was parsed (the entry would then hold another content's table)."""
    try:
        digests = [memoised_sha256(path) for path in paths]
        if [_stamp(path) for path in paths] != stamps:
            return
    except OSError as err:
        logger.debug("table cache: cannot hash %s (%s)", paths, err)
        return
    _write_entry(_entry_path(digests, key), table, f"{FORMAT_VERSION}|{key}")


def wait_for_cache_writes() -> None:
    """Return once every cache entry this process is writing in the background is on disk."""
    _deferred_writes.wait_for_all()


def clear_table_cache() -> int:
    """Delete every cached table; return how many entries were removed."""
    wait_for_cache_writes()
    folder = table_cache_dir()
    removed = 0
    if folder.is_dir():
        for item in folder.glob(f"*{ENTRY_SUFFIX}"):
            try:
                item.unlink()
                removed += 1
            except OSError:
                pass
    return removed


# ---------------------------------------------------------------------------- helpers


def _base_cache_dir() -> Path:
    try:  # the hub owns the cache location once it exists
        from ..hub import get_cache_dir  # type: ignore[attr-defined]

        return Path(get_cache_dir())
    except (ImportError, AttributeError):
        pass
    env = os.environ.get("XRV_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "xrayvision"


def memoised_sha256(path: Path) -> str:
    """:func:`file_sha256`, remembered per (absolute path, size, mtime_ns) in a sidecar."""
    stamp, digest = _known_sha256(path)
    if digest is not None:
        return digest
    digest = file_sha256(path)
    resolved = str(path.resolve())
    record = json.dumps({"path": resolved, "stamp": stamp, "sha256": digest}).encode("utf-8")
    _atomic_write(_sidecar(resolved), lambda handle: handle.write(record))
    return digest


def _known_sha256(path: Path) -> tuple[list[int], str | None]:
    """The file's (size, mtime_ns) and its remembered digest, None when not remembered."""
    stamp = _stamp(path)
    resolved = str(path.resolve())
    try:
        record = json.loads(_sidecar(resolved).read_text(encoding="utf-8"))
        if record["path"] == resolved and record["stamp"] == stamp and len(record["sha256"]) == 64:
            return stamp, str(record["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return stamp, None


def _stamp(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def _sidecar(resolved: str) -> Path:
    return table_cache_dir() / "digests" / (hashlib.sha256(resolved.encode("utf-8")).hexdigest()[:40] + ".json")


def _atomic_write(target: Path, write: Callable[[BinaryIO], object], suffix: str = "") -> bool:
    """Write ``target`` through a temporary file renamed into place (safe when several
    workers write at once; never a half-written entry). A failure leaves nothing behind
    and returns False: the cache is an optimisation, never a reason to fail."""
    tmp_name = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=target.parent)
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.replace(tmp_name, target)
        tmp_name = None
        return True
    except OSError as err:
        logger.warning("table cache: could not write %s (%s); continuing without it", target, err)
        return False
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass


def _entry_path(digests: list[str], key: str) -> Path:
    material = json.dumps([FORMAT_VERSION, digests[0], key, *digests[1:]])  # one file: as before
    return table_cache_dir() / f"{hashlib.sha256(material.encode('utf-8')).hexdigest()[:40]}{ENTRY_SUFFIX}"


def _deferred_target(paths: list[Path], key: str) -> Path:
    """The name under which the first-sight job of (files, key) waits in _deferred_writes."""
    material = json.dumps(["first-sight", [os.path.abspath(path) for path in paths], key])
    return table_cache_dir() / f"first-sight-{hashlib.sha256(material.encode('utf-8')).hexdigest()[:40]}"


def _reset(table: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table parser returned {type(table).__name__}, not a DataFrame")
    if isinstance(table.index, pd.RangeIndex) and table.index.start == 0 and table.index.step == 1:
        return table
    return table.reset_index(drop=True)


def _join_strings(strings: np.ndarray) -> tuple[str, str]:
    """``(separator, blob)``: the strings joined by a character none of them holds.

    Raises:
        _Unsupported: no free separator.
        TypeError: an element is not a ``str`` (``str.join`` checks every element in C,
            which is cheaper than a separate type check of the column).
    """
    for sep in _SEPARATORS:
        blob = sep.join(strings)
        # one join, then a C count, decides (joining twice cost 0.03 s on CheXpert, measured)
        if blob.count(sep) == max(len(strings) - 1, 0):
            return sep, blob
    raise _Unsupported("no free separator character")


def _encode_strings(values: pd.Series) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """Encode a string column as arrays plus header fields.

    Low-cardinality columns are factorised (codes + distinct values), which makes loading
    cheaper; mostly-unique columns (paths, ids) and long texts are stored whole, because
    factorising them costs a hash of every string for little or no gain. Both work on the column's object ndarray
    (factorising the pandas ``str`` array directly costs twice as much, measured) and
    let ``str.join`` do the type check.
    """
    # python-storage "str" arrays and object columns hand out their ndarray without a copy
    objects = values.to_numpy(dtype=object)
    probe = values.iloc[:1000]
    # Long texts (SIIM's run-length codes: 390 characters on average) are stored whole too:
    # hashing them to factorise cost 4x the join (9 ms vs 2 ms, measured).
    probe_chars = sum(len(text) for text in objects[:1000] if isinstance(text, str))
    if len(probe) >= 100 and (probe.nunique(dropna=True) > len(probe) // 2 or probe_chars > _LONG_TEXT * len(probe)):
        try:  # the common case: no missing value, so no mask to compute and no filled copy
            sep, text = _join_strings(objects)
            missing = np.zeros(len(objects), dtype=bool)
        except TypeError:
            missing = pd.isna(objects)
            strings = objects.copy()
            strings[missing] = ""
            try:
                sep, text = _join_strings(strings)
            except TypeError:
                raise _Unsupported("column mixes strings with other objects") from None
        blob = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
        return {"missing": missing, "blob": blob}, {"kind": "plain-string", "sep": sep}
    codes, uniques = pd.factorize(objects, use_na_sentinel=True)
    strings = np.asarray(uniques, dtype=object)
    try:
        sep, text = _join_strings(strings)
    except TypeError:
        raise _Unsupported("column mixes strings with other objects") from None
    blob = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    arrays = {"codes": codes.astype(np.int32 if len(strings) < 2**31 else np.int64), "blob": blob}
    return arrays, {"kind": "string", "sep": sep, "n_unique": len(strings)}


def _encode_categories(values: pd.Series) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """A category column of text (see :mod:`._lean_csv`) as its codes plus its categories
    joined into one blob."""
    dtype = values.dtype
    categories = np.asarray(dtype.categories, dtype=object)
    if dtype.ordered or not pd.api.types.is_string_dtype(dtype.categories):
        raise _Unsupported("only unordered categories of text are stored")
    try:
        sep, text = _join_strings(categories)
    except TypeError:
        raise _Unsupported("categories mix strings with other objects") from None
    blob = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    fields = {"kind": "category", "sep": sep, "n_unique": len(categories), "categories": str(dtype.categories.dtype)}
    return {"codes": values.cat.codes.to_numpy(), "blob": blob}, fields


#: Float value of each byte code of a "small-float" column (code 128, i.e. -128: NaN).
_SMALL_FLOAT_VALUES = np.concatenate([np.arange(0, 128), [np.nan], np.arange(-127, 0)]).astype(np.float64)


def _small_float_codes(values: np.ndarray) -> np.ndarray | None:
    """int8 codes of a float column holding only NaN and whole numbers in [-127, 127]
    (the labels of most tables), or None for any other column (-0.0 included, which a
    code could not give back)."""
    if values.dtype.kind != "f" or not len(values):
        return None
    missing = np.isnan(values)
    filled = np.where(missing, 0.0, values)
    if not (np.abs(filled) <= 127).all() or not (filled == np.trunc(filled)).all():
        return None
    if np.signbit(filled[filled == 0]).any():
        return None
    codes = filled.astype(np.int8)
    codes[missing] = -128
    return codes


def split_blob(blob: np.ndarray, sep: str, count: int) -> list[str]:
    """The ``count`` strings of a UTF-8 blob joined by ``sep`` (decoded without a copy).

    Raises:
        ValueError: the blob holds another number of strings (a damaged entry).
        UnicodeDecodeError: the blob is not UTF-8.
    """
    parts = codecs.utf_8_decode(blob, "strict", True)[0].split(sep) if count else []
    if len(parts) != count:
        raise ValueError("string blob does not match its header")
    return parts


def decode_plain_strings(missing: np.ndarray, blob: np.ndarray, sep: str) -> np.ndarray:
    """The object array of a column stored whole: its strings, NaN where ``missing``."""
    values = np.empty(len(missing), dtype=object)
    values[:] = split_blob(blob, sep, len(missing))
    values[missing] = np.nan
    return values


def _decode_strings(codes: np.ndarray, blob: np.ndarray, sep: str, n_unique: int) -> np.ndarray:
    values = np.empty(n_unique + 1, dtype=object)
    values[:n_unique] = split_blob(blob, sep, n_unique)
    values[n_unique] = np.nan  # code -1 (missing) indexes the last slot
    return values[codes]


def _write_entry(entry: Path, table: pd.DataFrame, full_key: str) -> None:
    arrays: dict[str, np.ndarray] = {}
    columns = []
    try:
        if table.columns.has_duplicates:
            raise _Unsupported("duplicate column names")
        for i, name in enumerate(table.columns):
            if not isinstance(name, str):
                raise _Unsupported(f"column name {name!r} is not a string")
            series = table[name]
            dtype = series.dtype
            info: dict[str, object] = {"name": name, "dtype": str(dtype)}
            if isinstance(dtype, pd.StringDtype) or dtype == np.dtype(object):
                parts, fields = _encode_strings(series)
                info.update(fields)
                arrays.update({f"c{i}_{part}": array for part, array in parts.items()})
            elif isinstance(dtype, np.dtype) and dtype.kind in "biuf":
                values = series.to_numpy()
                small = _small_float_codes(values)
                if small is None:
                    info["kind"] = "numeric"
                    arrays[f"c{i}"] = values
                else:  # label-like floats (NaN, -1, 0, 1...): one byte per value, not eight
                    info["kind"] = "small-float"
                    arrays[f"c{i}"] = small
            elif isinstance(dtype, np.dtype) and dtype.kind == "S":
                info["kind"] = "bytes"
                arrays[f"c{i}"] = series.to_numpy()
            elif isinstance(dtype, pd.CategoricalDtype):
                parts, fields = _encode_categories(series)
                info.update(fields)
                arrays.update({f"c{i}_{part}": array for part, array in parts.items()})
            elif isinstance(dtype, np.dtype) and dtype.kind == "M":
                info["kind"] = "datetime"
                arrays[f"c{i}"] = series.to_numpy().view(np.int64)
            else:
                raise _Unsupported(f"column {name!r} has dtype {dtype}")
            columns.append(info)
    except _Unsupported as why:
        logger.debug("table cache: not caching %s: %s", entry.name, why)
        return
    header = {"key": full_key, "rows": len(table), "columns": columns}
    _atomic_write(entry, lambda handle: _write_arrays(handle, header, arrays), ENTRY_SUFFIX)


def _write_arrays(handle, header: dict[str, object], arrays: dict[str, np.ndarray]) -> None:
    """Write magic, header length, JSON header, then each array's bytes at aligned offsets."""
    layout: dict[str, list[object]] = {}
    contiguous = {}
    offset = 0
    for name, array in arrays.items():
        array = np.ascontiguousarray(array)
        if array.dtype.kind not in "biufMS" or array.dtype.hasobject:
            raise OSError(f"array {name!r} of dtype {array.dtype} cannot be stored")  # never reached
        contiguous[name] = array
        layout[name] = [array.dtype.str, list(array.shape), offset, array.nbytes]
        offset += -(-array.nbytes // _ALIGN) * _ALIGN
    text = json.dumps({**header, "arrays": layout}).encode("utf-8")
    start = -(-(len(_MAGIC) + 8 + len(text)) // _ALIGN) * _ALIGN
    handle.write(_MAGIC + len(text).to_bytes(8, "little") + text)
    handle.write(b"\0" * (start - len(_MAGIC) - 8 - len(text)))
    written = 0
    for name, array in contiguous.items():
        handle.write(b"\0" * (int(layout[name][2]) - written))  # type: ignore[call-overload]
        handle.write(memoryview(array.reshape(-1)).cast("B"))
        written = int(layout[name][2]) + array.nbytes  # type: ignore[call-overload]


def read_entry_arrays(entry: Path) -> tuple[dict[str, object], dict[str, np.ndarray]]:
    """The header and the arrays of a cache entry (writable views of one buffer).

    Raises:
        ValueError: the file is not a complete entry of this format.
    """
    with open(entry, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        buffer = np.empty(size, dtype=np.uint8)  # not zero-filled, unlike bytearray(size)
        if handle.readinto(memoryview(buffer)) != size:
            raise ValueError("short read")
    head = len(_MAGIC) + 8
    if size < head or bytes(buffer[: len(_MAGIC)]) != _MAGIC:
        raise ValueError("not a table cache entry")
    length = int.from_bytes(buffer[len(_MAGIC) : head], "little")
    if head + length > size:
        raise ValueError("truncated header")
    header = json.loads(bytes(buffer[head : head + length]).decode("utf-8"))
    start = -(-(head + length) // _ALIGN) * _ALIGN
    arrays = {}
    for name, (dtype_str, shape, offset, nbytes) in header.pop("arrays").items():
        dtype = np.dtype(dtype_str)
        if dtype.kind not in "biufMS" or dtype.hasobject:
            raise ValueError(f"array {name!r} has dtype {dtype}")
        count = int(np.prod(shape, dtype=np.int64))
        if count * dtype.itemsize != nbytes or offset < 0 or start + offset + nbytes > size:
            raise ValueError(f"array {name!r} does not fit the file")
        arrays[name] = np.frombuffer(buffer, dtype=dtype, count=count, offset=start + offset).reshape(shape)
    return header, arrays


def _read_entry(entry: Path, full_key: str) -> pd.DataFrame | None:
    """The cached table, or None when the entry is unreadable, corrupt or for another key."""
    try:
        header, data = read_entry_arrays(entry)
        if header.get("key") != full_key:
            return None
        rows = int(header["rows"])
        out: dict[str, object] = {}
        inserted: list[tuple[int, str, np.ndarray]] = []  # bytes columns, by position
        for i, info in enumerate(header["columns"]):
            kind, dtype = info["kind"], info["dtype"]
            if kind in ("string", "plain-string"):
                if kind == "string":
                    values = _decode_strings(
                        data[f"c{i}_codes"], data[f"c{i}_blob"], info["sep"], int(info["n_unique"])
                    )
                else:
                    values = decode_plain_strings(data[f"c{i}_missing"], data[f"c{i}_blob"], info["sep"])
                if dtype == "object":  # keep object: a DataFrame would infer "str"
                    column = pd.Series(values, dtype=object, index=pd.RangeIndex(rows), copy=False)
                else:
                    column = pd.array(values, dtype=dtype)
            elif kind in ("numeric", "bytes"):
                column = data[f"c{i}"]
                if str(column.dtype) != dtype:
                    return None
            elif kind == "category":
                names = split_blob(data[f"c{i}_blob"], info["sep"], int(info["n_unique"]))
                categories = pd.Index(names, dtype=info["categories"])
                column = pd.Series(pd.Categorical.from_codes(data[f"c{i}_codes"], categories), copy=False)
            elif kind == "small-float":
                column = _SMALL_FLOAT_VALUES.astype(np.dtype(dtype))[data[f"c{i}"].view(np.uint8)]
            elif kind == "datetime":
                column = data[f"c{i}"].view(np.dtype(dtype))
            else:
                return None
            if len(column) != rows:
                return None
            if kind == "bytes":
                inserted.append((i, info["name"], column))
            else:
                out[info["name"]] = column
        # copy=True consolidates same-dtype columns into one block each: one take per
        # dtype instead of one per column in every later row selection (PadChest: 45 columns)
        table = pd.DataFrame(out, index=pd.RangeIndex(rows), copy=True)
        for position, name, column in inserted:  # the constructor would make them object
            table.insert(position, name, column)
        if list(table.columns) != [c["name"] for c in header["columns"]]:
            return None  # duplicate column names cannot round-trip through a dict
        return table
    except Exception as err:  # noqa: BLE001 - any damage means "rebuild", never a crash
        logger.debug("table cache: ignoring unreadable entry %s (%s)", entry, err)
        return None
