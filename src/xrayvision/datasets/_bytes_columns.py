"""Vectorised work on undecoded text: NumPy bytes (``S``) arrays from a lean read.

A lean read (:mod:`._lean_csv`) leaves mostly-unique text (paths, ids) as fixed-width
bytes, so that only the rows a dataset keeps are ever turned into Python strings. What
a construction does with such columns before that (find missing cells, sort, group,
look values up) is done here on the bytes, with results equal to the same operation on
the decoded strings: UTF-8 byte order is code point order, Python's string order.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

from ..errors import MetadataError

#: The cells ``read_csv`` reads as missing by default (its documented ``na_values``).
DEFAULT_NA_TOKENS = frozenset({
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
})  # fmt: skip
_NA_BYTES = frozenset(token.encode("ascii") for token in DEFAULT_NA_TOKENS)


def is_bytes_column(column: pd.Series) -> bool:
    """True for an undecoded bytes (``S``) column of a lean read."""
    return isinstance(column.dtype, np.dtype) and column.dtype.kind == "S"


def factorize_text(column: pd.Series, sort: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize`` of a text column: (int64 codes, -1 when missing; distinct values).

    A category column's own codes are used (re-ranked when ``sort``); a bytes column is
    factorised undecoded and its distinct values are returned as bytes (decoded by the
    caller once selected); any other column gives its distinct values as objects.
    """
    if is_bytes_column(column):
        codes, values = factorize_bytes(column.to_numpy())
        if sort:
            order = bytes_argsort(values)
            ranks = np.empty(len(values), dtype=np.int64)
            ranks[order] = np.arange(len(values))
            codes, values = np.where(codes >= 0, ranks[codes], -1), values[order]
        return codes, values
    if not isinstance(column.dtype, pd.CategoricalDtype):
        # on the plain object array: half the cost of factorising the pandas "str" array
        codes, values = pd.factorize(column.to_numpy(dtype=object), sort=sort, use_na_sentinel=True)
        return codes, np.asarray(values, dtype=object)
    codes = column.cat.codes.to_numpy().astype(np.int64)
    values = np.asarray(column.cat.categories, dtype=object)
    if sort:
        ranks, values = pd.factorize(values, sort=True)
        codes = np.where(codes >= 0, ranks[codes], -1)
    return codes, np.asarray(values, dtype=object)


def decode_bytes(values: np.ndarray) -> np.ndarray:
    """Object array of the strings of a bytes (``S``) array, NaN for NA tokens.

    Raises:
        MetadataError: a value is not UTF-8.
    """
    raw = values.tolist()
    out = np.empty(len(raw), dtype=object)
    try:
        out[:] = [np.nan if cell in _NA_BYTES else cell.decode("utf-8") for cell in raw]
    except UnicodeDecodeError as err:
        bad = next(cell for cell in raw if not _is_utf8(cell))
        raise MetadataError(f"metadata value {bad!r} is not UTF-8 text ({err})") from None
    return out


def text_values(values: np.ndarray) -> np.ndarray:
    """Object array of strings: a bytes array decoded (:func:`decode_bytes`), any other
    array (strings already, e.g. :func:`factorize_text`'s distinct values) as objects."""
    return decode_bytes(values) if values.dtype.kind == "S" else np.asarray(values, dtype=object)


def decode_bytes_columns(table: pd.DataFrame) -> None:
    """Turn every bytes (``S``) column of ``table`` into a ``str`` column, in place."""
    for name in table.columns[[dtype.kind == "S" for dtype in table.dtypes]]:
        table[name] = pd.array(decode_bytes(table[name].to_numpy()), dtype="str")


def missing_bytes(values: np.ndarray) -> np.ndarray:
    """Boolean mask of the cells of a bytes array that decode to NaN."""
    width = values.dtype.itemsize
    fitting = np.array([token for token in sorted(_NA_BYTES) if len(token) <= width], dtype=values.dtype)
    longest = max(map(len, _NA_BYTES))
    if width <= longest or not len(values):
        return np.isin(values, fitting)
    # A cell longer than every token (an id, a path) cannot be one: test the short ones only.
    short = np.flatnonzero(values.view(np.uint8).reshape(len(values), width)[:, longest] == 0)
    missing = np.zeros(len(values), dtype=bool)
    missing[short] = np.isin(values[short], fitting)
    return missing


def bytes_sort_keys(values: np.ndarray) -> np.ndarray | None:
    """uint64 keys ordered and equal exactly as the decoded strings, or None when the
    values are too wide (more than 8 bytes) for one key.

    UTF-8 byte order is code point order, Python's string order, and the NUL padding of
    a shorter value sorts before any character.
    """
    width = values.dtype.itemsize
    if width > 8:
        return None
    padded = np.zeros((len(values), 8), dtype=np.uint8)
    padded[:, :width] = values.view(np.uint8).reshape(len(values), width)
    return padded.view(">u8").ravel().astype(np.uint64)


def bytes_argsort(values: np.ndarray) -> np.ndarray:
    """Stable argsort of a bytes array in the decoded strings' order.

    Sorted on each cell's first 8 bytes as one integer, then the runs of equal prefixes
    that hold different values by their full bytes: 5x faster than sorting 160k PadChest
    file names as strings (measured). Arrays with many such runs (over 1 %) take
    NumPy's string sort.
    """
    keys = bytes_sort_keys(values.astype(f"S{min(values.dtype.itemsize, 8)}"))  # the first 8 bytes
    order = np.argsort(keys, kind="stable")
    if values.dtype.itemsize <= 8:
        return order
    ordered = keys[order]
    tied = np.flatnonzero(ordered[1:] == ordered[:-1])  # i: rows i and i+1 share a prefix
    differs = values[order[tied]] != values[order[tied + 1]]  # not mere repeats of a value
    if not differs.any():
        return order  # repeats are already in file order
    if differs.sum() > len(values) // 100:
        return np.argsort(values, kind="stable")
    # the runs of shared prefixes holding different values, each sorted on the full bytes
    run_of = np.cumsum(np.r_[True, tied[1:] != tied[:-1] + 1]) - 1
    for run in np.unique(run_of[differs]).tolist():
        members = tied[run_of == run]
        start, stop = int(members[0]), int(members[-1]) + 2
        rows = order[start:stop]
        order[start:stop] = rows[np.argsort(values[rows], kind="stable")]
    return order


def isin_bytes(values: np.ndarray, wanted: Collection[str]) -> np.ndarray:
    """``Series.isin(wanted)`` of the decoded strings of a bytes array."""
    encoded = [text.encode("utf-8") for text in wanted]
    fitting = np.array([cell for cell in encoded if len(cell) <= values.dtype.itemsize], dtype=values.dtype)
    if not len(fitting) or not len(values):
        return np.zeros(len(values), dtype=bool)
    # cheap integer prefilter on the first 8 bytes, exact test on the few candidates
    prefix = f"S{min(values.dtype.itemsize, 8)}"
    candidates = np.flatnonzero(np.isin(values.astype(prefix), fitting.astype(prefix)))
    found = np.zeros(len(values), dtype=bool)
    found[candidates] = np.isin(values[candidates], fitting)
    return found


def factorize_bytes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize`` of a bytes array: int64 codes in first-appearance order (-1 for a
    cell that decodes to NaN) and the distinct values (bytes).

    Rows are grouped by a 64-bit mix of their bytes (hashing integers is 10x cheaper
    than hashing 68k byte strings, measured); every row is then compared with its
    group's first row, and any collision falls back to the exact object factorisation.
    """
    codes = np.full(len(values), -1, dtype=np.int64)
    named = np.flatnonzero(~missing_bytes(values)) if len(values) else np.empty(0, dtype=np.int64)
    present = values[named]
    if not len(present):
        return codes, present
    padded = present.astype(f"S{-(-max(present.dtype.itemsize, 1) // 8) * 8}")
    found, _ = pd.factorize(_mix(padded.view("<u8").reshape(len(present), -1)))
    first = _first_rows(found)
    if not np.array_equal(present[first[found]], present):  # a collision of the mix
        found, _ = pd.factorize(present.astype(object))
        first = _first_rows(found)
    codes[named] = found
    return codes, present[first]


def _first_rows(codes: np.ndarray) -> np.ndarray:
    """Row of each code's first occurrence (codes 0..k-1, each present at least once)."""
    first = np.empty(codes.max(initial=-1) + 1, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]  # the last write wins: the first row
    return first


def _mix(words: np.ndarray) -> np.ndarray:
    """One uint64 per row of 64-bit words (not collision-free: callers verify)."""
    mixed = np.zeros(len(words), dtype=np.uint64)
    for column in range(words.shape[1]):  # an odd multiplier: a bijection per step
        mixed = (mixed ^ words[:, column]) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(column)
    return mixed


def _is_utf8(cell: bytes) -> bool:
    try:
        cell.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
