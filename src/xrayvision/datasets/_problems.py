"""Problems in metadata files: noted while parsing, reported once per construction.

Nothing in a metadata file is dropped or misread without a word. A parser notes what it
finds on the table it returns (``DataFrame.attrs``, which the parsed-table cache keeps,
so a warm construction reports the same): rows with no value in a column the dataset
needs, finding names or view spellings outside the source's vocabulary, duplicate rows.
The dataset then reports every note of its construction at once
(:func:`report_problems`): one :class:`~xrayvision.errors.MetadataWarning` with the
first few examples, or, with ``strict=True``, a :class:`~xrayvision.errors.MetadataError`.
Each note names the file and the column.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import MetadataError, MetadataWarning

#: ``DataFrame.attrs`` key of the notes.
PROBLEMS = "metadata_problems"
#: Examples shown per note.
MAX_EXAMPLES = 3


def make_note(
    file: object, column: str | None, what: str, count: int, examples: Iterable[str], *, removed: bool = False
) -> dict[str, Any]:
    """One note (a plain dict, so that the table cache can keep it).

    Args:
        file: the metadata file.
        column: the column at fault (None: whole rows).
        what: the problem and what was done, e.g. ``"row(s) with no value (kept)"``.
        count: rows concerned.
        examples: a few offending values or row numbers, already formatted.
        removed: the rows were removed (they are then counted in ``skipped``).
    """
    return {"file": str(file), "column": column, "what": what, "count": int(count),
            "examples": list(examples)[:MAX_EXAMPLES], "removed": removed}  # fmt: skip


def note_problem(
    table: pd.DataFrame, file: object, column: str | None, what: str, count: int, examples: Iterable[str],
    *, removed: bool = False,
) -> None:
    """Attach :func:`make_note`'s note to ``table`` (nothing when ``count`` is 0)."""
    if count:
        note = make_note(file, column, what, count, examples, removed=removed)
        table.attrs[PROBLEMS] = [*table.attrs.get(PROBLEMS, []), note]


def pop_problems(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Remove and return the notes of ``table``."""
    return list(table.attrs.pop(PROBLEMS, []))


def carry_problems(table: pd.DataFrame, *sources: pd.DataFrame) -> None:
    """Copy the notes of ``sources`` (tables ``table`` was built from) onto ``table``."""
    notes = [note for source in sources for note in source.attrs.get(PROBLEMS, [])]
    if notes:
        table.attrs[PROBLEMS] = [*table.attrs.get(PROBLEMS, []), *notes]


def _rows(positions: np.ndarray) -> list[str]:
    # data rows counted from 1 (line numbers would be off for quoted multi-line cells)
    return [f"row {int(p) + 1}" for p in positions[:MAX_EXAMPLES]]


def value_examples(values: pd.Series, *, counted: bool = False) -> tuple[int, list[str]]:
    """``(rows, ["'value' (n rows)", ...])`` of the offending cells ``values``, the most
    frequent first; with ``counted``, ``values`` is already ``{value: rows}``."""
    counts = values if counted else values.value_counts()
    return int(counts.sum()), [f"{value!r} ({n} row{'s' * (n > 1)})" for value, n in counts.items()]


def note_missing(table: pd.DataFrame, columns: Sequence[str], file: object) -> None:
    """Note the rows with no value in each of ``columns`` (e.g. a line cut short)."""
    for column in columns:
        if column in table.columns:
            missing = np.flatnonzero(table[column].isna().to_numpy())
            note_problem(table, file, column, "row(s) with no value (kept)", len(missing), _rows(missing))


def note_unknown_values(table: pd.DataFrame, column: str, known: Collection[str], file: object, what: str) -> None:
    """Note the cells of ``column`` that are not blank and not one of ``known``."""
    if column in table.columns:
        values = table[column].dropna()
        count, examples = value_examples(values[~values.isin(list(known))])
        note_problem(table, file, column, what, count, examples)


def note_unknown_views(table: pd.DataFrame, column: str, known: Collection[str], file: object) -> None:
    """Note the view cells of ``column`` outside ``known`` (such rows match no ``views`` but ``"*"``)."""
    note_unknown_values(table, column, known, file, "row(s) with an unknown view spelling (kept as written)")


def note_unknown_tokens(
    table: pd.DataFrame, column: str, known: Collection[str], file: object, separator: str = "|"
) -> None:
    """Note the ``separator``-joined names of ``column`` that are not in ``known``
    (a misspelt finding gives a row no label for it)."""
    if column not in table.columns:
        return
    codes, texts = pd.factorize(table[column], use_na_sentinel=True)
    rows_of = np.bincount(codes[codes >= 0], minlength=len(texts))
    unknown: dict[str, int] = {}
    for text, rows in zip(texts, rows_of.tolist()):
        for token in str(text).split(separator):
            if token.strip() not in known:
                unknown[token] = unknown.get(token, 0) + rows
    if unknown:
        count, examples = value_examples(pd.Series(unknown).sort_values(ascending=False, kind="stable"), counted=True)
        note_problem(table, file, column, "row(s) with unknown names (the names are ignored)", count, examples)


def drop_duplicate_rows(table: pd.DataFrame, file: object, key: Sequence[str] | None = None) -> pd.DataFrame:
    """``table`` without its repeated rows, each noted.

    A row equal to an earlier one in every column is removed. With ``key`` (the columns
    naming an image), rows that repeat an earlier row's key with other values are kept
    (which one is right cannot be told) and noted.
    """
    if key is not None and len(key) == 1 and table[key[0]].is_unique:
        return table  # the usual case, a third cheaper to decide than duplicated()
    repeated = table.duplicated(list(key) if key else None, keep="first").to_numpy()
    if key:
        repeated = repeated & table[list(key)].notna().all(axis=1).to_numpy()  # blank ids are noted as such
    if not repeated.any():
        return table
    identical = table.duplicated(keep="first").to_numpy() if key else repeated
    removed = np.flatnonzero(identical)
    what = "row(s) repeating an earlier row (removed)"
    note_problem(table, file, None, what, len(removed), _rows(removed), removed=True)
    if key:
        conflicting = np.flatnonzero(repeated & ~identical)
        ids = table[key[0]]
        examples = [f"{ids.iat[p]!r} in rows {np.flatnonzero(ids == ids.iat[p])[0] + 1} and {p + 1}"
                    for p in conflicting[:MAX_EXAMPLES]]  # fmt: skip
        what = "row(s) repeating an image with other values (kept)"
        note_problem(table, file, key[0], what, len(conflicting), examples)
    return table[~identical] if len(removed) else table


def report_problems(dataset: str, problems: Sequence[dict[str, Any]], *, strict: bool) -> None:
    """One warning listing ``problems`` (the notes of one construction), or, with
    ``strict``, a :class:`MetadataError` naming the first problem's file and column."""
    if not problems:
        return
    lines = []
    for note in problems:
        where = note["file"] + (f", column {note['column']!r}" if note["column"] else "")
        lines.append(f"  {where}: {note['count']} {note['what']}, e.g. {', '.join(note['examples'])}")
    listing = "\n".join(lines)
    if strict:
        raise MetadataError(f"{dataset}: problems in the metadata (strict=True):\n{listing}")
    warnings.warn(
        f"{dataset}: problems in the metadata (pass strict=True to make them errors):\n{listing}",
        MetadataWarning,
        stacklevel=5,
    )
