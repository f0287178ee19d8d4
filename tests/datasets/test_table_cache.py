"""The parsed-table cache: warm == cold, keyed on content, safe on damage and concurrency."""

from __future__ import annotations

import multiprocessing
import os

import numpy as np
import pandas as pd
import pytest

from xrayvision.datasets import _table_cache as tc


def _entries() -> list:
    return sorted(tc.table_cache_dir().glob(f"*{tc.ENTRY_SUFFIX}"))


def _sample_table() -> pd.DataFrame:
    table = pd.DataFrame(
        {
            "name": pd.array(["a", None, "c\x00d", "a", "é"], dtype="str"),
            "obj": pd.Series(["x", "y", np.nan, "x", "z"], dtype=object),
            "f32": np.array([1, np.nan, -1, 0, 2], dtype=np.float32),
            "f64": np.array([0.5, np.nan, -0.0, 1e300, 2], dtype=np.float64),
            "i64": np.arange(5, dtype=np.int64),
            "flag": np.array([True, False, True, False, True]),
            "when": pd.to_datetime(["2020-01-01", "1970-01-02", None, "2001-09-09", "2019-12-31"]),
            "sex": pd.Categorical(["M", None, "F", "M", "F"]),
        }
    )
    table.attrs["metadata_problems"] = [{"file": "x.csv", "column": "name", "count": 1}]
    return table


@pytest.fixture
def metadata(tmp_path):
    path = tmp_path / "meta.csv"
    path.write_text("a,b\n1,2\n")
    return path


def _counting_parser(table):
    calls = []

    def parse():
        calls.append(1)
        return table.copy()

    return parse, calls


def test_cold_and_warm_tables_are_identical(metadata):
    table = _sample_table()
    parse, calls = _counting_parser(table)
    cold = tc.load_table([metadata], parse, key="t-1")
    warm = tc.load_table([metadata], parse, key="t-1")
    assert len(calls) == 1, "the second call must come from the cache"
    pd.testing.assert_frame_equal(cold, table)
    pd.testing.assert_frame_equal(warm, table)
    assert warm.attrs == table.attrs, "notes of metadata problems travel with the table"
    assert np.signbit(warm["f64"].to_numpy()[2]), "-0.0 comes back as -0.0"
    (entry,) = _entries()
    assert not list(tc.table_cache_dir().glob(".tmp-*")), "no temporary file left behind"
    # a plain Arrow IPC (Feather) file: other tools can open it
    assert pd.read_feather(entry)["i64"].tolist() == [0, 1, 2, 3, 4]


def test_key_and_content_both_invalidate(metadata):
    parse, calls = _counting_parser(_sample_table())
    tc.load_table([metadata], parse, key="t-1")
    tc.load_table([metadata], parse, key="t-2")  # another parser version / argument
    assert len(calls) == 2
    stat = metadata.stat()
    metadata.write_text("a,b\n1,3\n")  # same size ...
    os.utime(metadata, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # ... and the same modification time
    assert metadata.stat().st_size == stat.st_size and metadata.stat().st_mtime_ns == stat.st_mtime_ns
    tc.load_table([metadata], parse, key="t-1")
    assert len(calls) == 3, "an in-place edit keeping size and mtime must not return the old table"


def test_every_file_read_is_part_of_the_key(metadata, tmp_path):
    other = tmp_path / "headers.csv"
    other.write_text("x\n1\n")
    parse, calls = _counting_parser(_sample_table())
    tc.load_table([metadata, other], parse, key="t-1")
    tc.load_table([metadata, other], parse, key="t-1")
    assert len(calls) == 1
    other.write_text("x\n2\n")
    tc.load_table([metadata, other], parse, key="t-1")
    assert len(calls) == 2


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "flip one bit"])
def test_damaged_entry_is_rebuilt_never_returned(metadata, damage):
    table = _sample_table()
    parse, calls = _counting_parser(table)
    tc.load_table([metadata], parse, key="t-1")
    (entry,) = _entries()
    raw = bytearray(entry.read_bytes())
    if damage == "flip one bit":
        position = raw.index(np.int64(3).tobytes())  # a value of column i64: still a valid Arrow file
        raw[position] ^= 0x08
    damaged = {"truncate": raw[: len(raw) // 2], "garbage": b"ARROW1junk" * 10, "empty": b""}.get(damage, raw)
    entry.write_bytes(bytes(damaged))
    again = tc.load_table([metadata], parse, key="t-1")
    assert len(calls) == 2
    pd.testing.assert_frame_equal(again, table)
    pd.testing.assert_frame_equal(tc.load_table([metadata], parse, key="t-1"), table)
    assert len(calls) == 2, "the rebuilt entry is used next time"
    assert len(_entries()) == 1


def test_opt_out(metadata, monkeypatch):
    monkeypatch.setenv("XRV_NO_TABLE_CACHE", "1")
    parse, calls = _counting_parser(_sample_table())
    tc.load_table([metadata], parse, key="t-1")
    tc.load_table([metadata], parse, key="t-1")
    assert len(calls) == 2 and not _entries()


@pytest.mark.parametrize(
    "column", [pd.Series(["a", 1, 2.5], dtype=object), pd.Series([[1.0, 2.0], [], [3.0]], dtype=object)]
)
def test_a_column_that_cannot_round_trip_is_returned_uncached(metadata, column):
    table = pd.DataFrame({"odd": column})
    parse, calls = _counting_parser(table)
    pd.testing.assert_frame_equal(tc.load_table([metadata], parse, key="t-1"), table)
    tc.load_table([metadata], parse, key="t-1")
    assert len(calls) == 2 and not _entries()


def test_non_default_index_is_reset(metadata):
    table = _sample_table().iloc[[4, 0, 2]]
    parse, _ = _counting_parser(table)
    cold = tc.load_table([metadata], parse, key="t-1")
    warm = tc.load_table([metadata], parse, key="t-1")
    pd.testing.assert_frame_equal(cold, table.reset_index(drop=True))
    pd.testing.assert_frame_equal(warm, cold)


def test_unwritable_cache_still_returns_table(metadata, monkeypatch, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setattr(tc, "table_cache_dir", lambda: blocker / "tables")
    parse, _ = _counting_parser(_sample_table())
    pd.testing.assert_frame_equal(tc.load_table([metadata], parse, key="t-1"), _sample_table())


def test_parser_errors_propagate(metadata):
    def parse():
        raise ValueError("bad file")

    with pytest.raises(ValueError, match="bad file"):
        tc.load_table([metadata], parse, key="t-1")


def _build_in_child(path: str, start, results) -> None:
    start.wait(30)
    table = tc.load_table([path], _sample_table, key="t-1")
    results.put(table.to_json(date_format="iso"))


def test_several_processes_building_at_once_agree(metadata):
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork start method on this platform")
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(4), context.SimpleQueue()
    children = [context.Process(target=_build_in_child, args=(str(metadata), start, results)) for _ in range(4)]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
    assert [child.exitcode for child in children] == [0] * 4
    expected = _sample_table().to_json(date_format="iso")
    assert [results.get() for _ in children] == [expected] * 4
    assert len(_entries()) == 1 and not list(tc.table_cache_dir().glob(".tmp-*"))
    pd.testing.assert_frame_equal(tc.load_table([metadata], lambda: pytest.fail("parsed again"), key="t-1"),
                                  _sample_table())  # fmt: skip
