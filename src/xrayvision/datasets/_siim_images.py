"""SIIM's image table read without turning run-length codes into strings.

``train-rle.csv`` is mostly long run-length codes (390 characters on average), yet the
image table needs of each row only its ``ImageId`` and whether its code is ``-1`` (no
pneumothorax). Read as bytes, ids whole and codes cut to their first
:data:`CODE_PREFIX` bytes, the file parses in 19 ms instead of 40 ms (measured), and
only the distinct ids and prefixes are ever decoded.

The result equals :func:`.siim.siim_image_table` of :func:`.siim.read_rle_table`
exactly; a file this reading cannot decide (a cut code that might still strip to
``-1``, an id that may be cut, column names it does not find) is read that way instead.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ..errors import MetadataError
from ._bytes_columns import decode_bytes, factorize_bytes, is_bytes_column
from ._files import PathLike
from ._lean_csv import read_lean_csv

#: Bytes of each run-length code read: enough to tell ``-1`` (and padding) from a code.
CODE_PREFIX = 16
#: Value of ``EncodedPixels`` meaning "no pneumothorax".
NO_MASK = "-1"


class _Undecided(Exception):
    """The prefixes cannot decide this file: read it whole."""


def read_image_table(path: PathLike, exact: Callable[[PathLike], pd.DataFrame]) -> pd.DataFrame:
    """One row per ``ImageId`` (first-appearance order): ``ImageId``, ``regions`` (rows with
    a code), ``has_masks``; ``exact(path)`` builds it the plain way when this cannot."""
    # ids whole (one that may be cut comes back as text: undecided); codes cut on purpose
    table = read_lean_csv(
        path, "SIIM_Pneumothorax_Dataset", "train-rle CSV", skipinitialspace=True,
        bytes_columns=["ImageId"], dtype={"EncodedPixels": f"S{CODE_PREFIX}"},
    )  # fmt: skip
    try:
        ids, codes = _bytes_column(table, "ImageId"), _bytes_column(table, "EncodedPixels")
        image_of_row, image_ids = _stripped_codes(ids)
        coded = _is_coded(codes)
    except (_Undecided, UnicodeDecodeError, MetadataError):  # the exact reader decides (or reports)
        return exact(path)
    return image_table(image_of_row, image_ids, coded)


def image_table(image_of_row: np.ndarray, image_ids: np.ndarray, coded: np.ndarray) -> pd.DataFrame:
    """The image table from each row's image code (-1: no ``ImageId``, dropped), the
    distinct ids and whether each row has a run-length code: ``ImageId``, ``regions``
    (coded rows) and ``has_masks``, in the ids' order."""
    named = image_of_row >= 0
    regions = np.bincount(image_of_row[named], weights=coded[named].astype(np.float64), minlength=len(image_ids))
    table = pd.DataFrame({"ImageId": np.asarray(image_ids, dtype=object), "regions": regions.astype(np.int64)})
    table["has_masks"] = table["regions"] > 0
    return table


def _bytes_column(table: pd.DataFrame, name: str) -> np.ndarray:
    if name not in table.columns or not is_bytes_column(table[name]):
        raise _Undecided(f"no bytes column {name!r}")  # other spellings: the exact reader says
    return table[name].to_numpy()


def _stripped_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First-appearance codes of the stripped strings (-1: missing) and those strings."""
    codes, distinct = factorize_bytes(values)
    stripped = [text.strip() for text in decode_bytes(distinct).tolist()]
    merged, names = pd.factorize(pd.Series(stripped, dtype=object))  # " a" and "a" become one
    return np.where(codes >= 0, merged[codes], -1), np.asarray(names, dtype=object)


def _is_coded(prefixes: np.ndarray) -> np.ndarray:
    """Per row: the code is present and does not strip to ``-1``."""
    codes, distinct = factorize_bytes(prefixes)  # missing cells: -1, never coded
    decided = np.zeros(len(distinct) + 1, dtype=bool)  # last slot: missing
    for i, cell in enumerate(distinct.tolist()):
        whole = len(cell) < CODE_PREFIX
        text = cell.decode("utf-8", "strict" if whole else "ignore").strip()
        if not whole and text == NO_MASK:
            raise _Undecided("a cut code strips to -1")
        decided[i] = text != NO_MASK
    return decided[codes]
