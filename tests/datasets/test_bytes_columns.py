"""Work on undecoded bytes columns equals the same work on the decoded strings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xrayvision.datasets import _bytes_columns as text_bytes
from xrayvision.errors import MetadataError


def test_non_utf8_bytes_name_the_value():
    with pytest.raises(MetadataError, match=r"not UTF-8"):
        text_bytes.decode_bytes(np.array([b"ok", b"bad\xff"], dtype="S4"))


def test_missing_bytes_are_the_default_na_tokens_that_fit():
    values = np.array([b"", b"NA", b"nan", b"N/", b"ok", b"None"], dtype="S4")
    assert text_bytes.missing_bytes(values).tolist() == [True, True, True, False, False, True]
    assert np.isnan(text_bytes.decode_bytes(values)[1])
    wide = np.array([b"NA", b"x" * 20, b"", b"#N/A N/A", b"#N/A N/AX", b"null "], dtype="S20")
    assert text_bytes.missing_bytes(wide).tolist() == [True, False, True, True, False, False]


def test_sort_keys_order_and_compare_as_the_strings():
    words = ["00012", "9", "0012", "", "é1", "z", "00012", "10"]
    values = np.array([w.encode() for w in words], dtype="S8")
    keys = text_bytes.bytes_sort_keys(values)
    assert [words[i] for i in np.argsort(keys, kind="stable")] == sorted(words)
    assert (keys[0] == keys[6]) and len(set(keys.tolist())) == len(set(words))
    assert text_bytes.bytes_sort_keys(np.array([b"123456789"], dtype="S9")) is None, "wider than one key"


@pytest.mark.parametrize("collide", [False, True])
def test_factorize_bytes_matches_pandas(monkeypatch, collide):
    if collide:  # every row mixes to the same key: the exact fallback must take over
        monkeypatch.setattr(text_bytes, "_mix", lambda words: np.zeros(len(words), dtype=np.uint64))
    rng = np.random.default_rng(0)
    words = [f"id{int(i):x}" * int(1 + i % 3) for i in rng.integers(0, 50, 500)] + ["", "NA", "id0"]
    values = np.array([w.encode() for w in words], dtype="S16")
    codes, uniques = text_bytes.factorize_bytes(values)
    expected_codes, expected_uniques = pd.factorize(pd.Series(text_bytes.decode_bytes(values), dtype=object))
    assert codes.tolist() == expected_codes.tolist()
    assert [u.decode() for u in uniques.tolist()] == list(expected_uniques)


@pytest.mark.parametrize("prefixes", [5, 10**9])  # many ties (NumPy's sort) or few (prefix keys)
def test_bytes_argsort_is_the_stable_string_order(prefixes):
    rng = np.random.default_rng(prefixes)
    words = [f"{rng.integers(0, prefixes):09d}" + "x" * int(rng.integers(0, 4)) for _ in range(2000)]
    words += ["", "é", "abcdefgh", "abcdefg", "abcdefgh"]
    values = np.array([w.encode() for w in words])
    assert text_bytes.bytes_argsort(values).tolist() == sorted(range(len(words)), key=words.__getitem__)


def test_isin_bytes_matches_series_isin():
    words = ["abcdefgh1", "abcdefgh2", "abc", "é.png", "", "x" * 30]
    values = np.array([w.encode() for w in words], dtype="S12")  # the long one is cut: never wanted
    wanted = ["abcdefgh2", "é.png", "zzz", "x" * 30]
    assert text_bytes.isin_bytes(values, wanted).tolist() == [False, True, False, True, False, False]


def test_bytes_argsort_with_repeated_values_keeps_file_order():
    rng = np.random.default_rng(3)
    ids = [f"{rng.integers(0, 10**12):012x}-{i}" for i in range(3000)]
    words = [ids[int(i)] for i in rng.integers(0, len(ids), 9000)]  # many exact repeats
    words += ["abcdefgh-2", "abcdefgh-1", "abcdefgh-2"]  # a shared prefix with different values
    values = np.array([w.encode() for w in words])
    assert text_bytes.bytes_argsort(values).tolist() == sorted(range(len(words)), key=words.__getitem__)
