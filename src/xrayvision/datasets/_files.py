"""Locating and reading a dataset's files: metadata that must exist, images that may be missing.

Every dataset class reports a missing or unreadable file the same way: which file, which
argument it came from, and what to do about it (download link or the argument to fix).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv

from ..errors import MetadataError, MissingImageError, MissingMetadataError

PathLike = str | os.PathLike


def require_file(path: PathLike, argument: str, dataset: str, hint: str = "") -> Path:
    """Return ``path`` as a :class:`Path`, or raise when it is not an existing file.

    Raises:
        MissingMetadataError: naming the file, the argument and ``hint`` (where to get it).
    """
    resolved = Path(path).expanduser()
    if not resolved.is_file():
        message = f"{dataset}: {argument}={str(path)!r} is not an existing file"
        if hint:
            message += f"; {hint}"
        raise MissingMetadataError(message)
    return resolved


def require_folder(imgpath: PathLike, dataset: str, hint: str = "") -> Path:
    """Return ``imgpath`` as a :class:`Path`, or raise when it is not an existing folder.

    Raises:
        MissingImageError: naming ``imgpath`` and ``hint`` (where to get the images).
    """
    folder = Path(imgpath).expanduser()
    if not folder.is_dir():
        message = f"{dataset}: imgpath={str(imgpath)!r} is not an existing folder"
        raise MissingImageError(f"{message}; {hint}" if hint else message)
    return folder


def read_metadata_csv(
    path: PathLike, dataset: str, what: str, *, text: Collection[str] = (), **read_csv_options: object
) -> pd.DataFrame:
    """``pandas.read_csv(path, **read_csv_options)``, any parse failure as a :class:`MetadataError`.

    ``what`` names the expected content in the message (``"the label CSV"``). Columns named
    in ``text`` come back as pandas ``str`` even when blank throughout (read_csv would give
    floats); letting read_csv infer them, then casting the rare exception, is 2x faster than
    its ``dtype="str"`` (NIH's Data_Entry: 0.04 s against 0.10 s, CPU time). Text of digits
    only (``"001"``) needs ``dtype="str"`` to keep its zeros.

    Raises:
        MetadataError: ``{dataset}: cannot parse {path} as {what}: {reason}``.
    """
    try:
        table = pd.read_csv(path, **read_csv_options)  # type: ignore[call-overload]
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError) as err:
        raise MetadataError(f"{dataset}: cannot parse {path} as {what}: {err}") from err
    for column in text:
        if column in table.columns and not pd.api.types.is_string_dtype(table[column].dtype):
            table[column] = table[column].astype("str")
    return table


#: The cells ``pandas.read_csv`` reads as missing by default (its documented ``na_values``).
PANDAS_NA_VALUES = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
)  # fmt: skip
#: The cells ``pandas.read_csv`` reads as booleans by default (pyarrow's own also take 1 and 0).
PANDAS_TRUE_VALUES = ("True", "TRUE", "true")
PANDAS_FALSE_VALUES = ("False", "FALSE", "false")


def read_csv_arrow(
    path: PathLike, dataset: str, what: str, columns: Sequence[str] | None = None, text: Collection[str] = (),
    *, nrows: int | None = None,
) -> pd.DataFrame:
    """``pandas.read_csv(path, usecols=columns, dtype={c: "str" for c in text})``, parsed by
    pyarrow's multi-threaded reader (about twice as fast as pandas' C engine on 2 cores).

    pandas' own ``engine="pyarrow"`` cannot read cells spanning lines; this reader can.
    The result is what pandas would give: its default NA tokens and booleans, dates and
    times kept as text, a column without a value as float NaN, an unnamed column as
    ``Unnamed: <position>``. ``columns=None`` reads every column; otherwise they come back
    in ``columns`` order. pandas reads what pyarrow refuses (rows cut short, which it pads
    with NaN), a header that repeats a name (it renames the repeats) and a partial read
    (``nrows``: pyarrow cannot stop early).

    Raises:
        MetadataError: the file cannot be parsed, or lacks one of ``columns`` (naming them).
    """
    if nrows is not None:
        return _read_csv_pandas(path, dataset, what, columns, text, nrows=nrows)
    text_types = {c: pa.string() for c in text}
    try:
        table = _arrow_csv(path, columns, text_types)
        temporal = {field.name: pa.string() for field in table.schema if pa.types.is_temporal(field.type)}
        if temporal:  # pyarrow infers dates and times, pandas keeps the text: read those as text
            table = _arrow_csv(path, columns, {**text_types, **temporal})
    except (pa.ArrowException, OSError) as err:
        if "does not exist in CSV file" in str(err):  # a missing column: say which, as pandas would
            require_columns(read_metadata_csv(path, dataset, what, nrows=0), columns or (), path, dataset)
        # Rows cut short (pandas pads them with NaN, and the parsers note them) or a file
        # that cannot be read: pandas reads it, or says why as a MetadataError.
        return _read_csv_pandas(path, dataset, what, columns, text)
    names = [name or f"Unnamed: {i}" for i, name in enumerate(table.column_names)]
    if len(set(names)) != len(names):
        return _read_csv_pandas(path, dataset, what, columns, text)
    frame = table.rename_columns(names).to_pandas()
    for field, name in zip(table.schema, names):
        if pa.types.is_null(field.type):  # no value in the whole column: pandas reads float NaN
            frame[name] = frame[name].astype("float64")
    return frame


def _read_csv_pandas(
    path: PathLike, dataset: str, what: str, columns: Sequence[str] | None, text: Collection[str], **options: object
) -> pd.DataFrame:
    table = read_metadata_csv(path, dataset, what, text=text, usecols=None if columns is None else list(columns),
                              dtype={c: "str" for c in text}, **options)  # fmt: skip
    return table if columns is None else table[list(columns)]


def _arrow_csv(path: PathLike, columns: Sequence[str] | None, column_types: dict[str, pa.DataType]) -> pa.Table:
    convert = pcsv.ConvertOptions(
        include_columns=list(columns or ()), column_types=column_types, null_values=list(PANDAS_NA_VALUES),
        strings_can_be_null=True, true_values=list(PANDAS_TRUE_VALUES), false_values=list(PANDAS_FALSE_VALUES),
    )  # fmt: skip
    return pcsv.read_csv(path, parse_options=pcsv.ParseOptions(newlines_in_values=True), convert_options=convert)


def nrows_key(nrows: int | None) -> str:
    """The part of a table-cache key that says how many rows were read (``"all"`` or a count)."""
    return "all" if nrows is None else str(int(nrows))


def require_columns(frame: pd.DataFrame, columns: Iterable[str], source: object, dataset: str) -> None:
    """Raise :class:`MetadataError` listing every column of ``columns`` absent from ``frame``."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise MetadataError(
            f"{dataset}: {source} lacks column(s) {missing}; found {list(frame.columns)}. "
            "Is this the right metadata file for this dataset and release?"
        )


def image_file(imgpath: PathLike, relative: str, dataset: str, hint: str = "") -> Path:
    """Return ``imgpath / relative`` or raise :class:`MissingImageError` when absent.

    When ``imgpath`` is a resized copy (``xrv datasets resize``) whose file for ``relative``
    has another extension (a JPEG or DICOM original stored as PNG), that file is returned.
    """
    path = Path(imgpath) / relative
    if not path.is_file():
        from .resize import copy_file  # only on a miss: no cost for ordinary folders

        copied = copy_file(imgpath, relative)
        if copied is not None:
            return copied
        message = f"{dataset}: image {relative!r} listed in the metadata is not in imgpath={str(imgpath)!r}"
        if not Path(imgpath).is_dir():
            message += " (imgpath is not an existing folder)"
        message += f"; {hint}" if hint else "; check imgpath or restore the file"
        raise MissingImageError(message)
    return path


def read_image_file(imgpath: PathLike, relative: str, dataset: str, hint: str = "") -> np.ndarray:
    """Decode ``imgpath / relative`` with :func:`xrayvision.io.read_image` (``[1,H,W]``)."""
    from ..io import read_image

    return read_image(image_file(imgpath, relative, dataset, hint))


def read_image_under(imgpath: PathLike, path: PathLike, dataset: str, hint: str = "") -> np.ndarray:
    """Decode the image at ``path``, naming it relative to ``imgpath`` when it is missing.

    The form of :func:`read_image_file` for callers that hold the full path.
    """
    folder, full = Path(imgpath), Path(path)
    relative = full.relative_to(folder) if full.is_relative_to(folder) else full
    return read_image_file(folder, relative.as_posix(), dataset, hint)


def days_since_epoch(dates: pd.Series) -> pd.Series:
    """Whole days between 1970-01-01 and each date (``NaN`` where missing).

    Works on the date's calendar value, whatever the resolution pandas picks for the
    parsed dtype (the reference's nanosecond arithmetic is off by 1000x on pandas 3).
    """
    parsed = pd.to_datetime(dates, errors="coerce")
    days = (parsed - pd.Timestamp("1970-01-01")) // pd.Timedelta(days=1)
    return days.astype("float64")
