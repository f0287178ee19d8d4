"""The parsed-table cache: cold == warm, keyed on bytes + parser key, safe on damage."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from xrayvision.datasets import _table_cache as tc


def _entries() -> list:
    """The cache entries on disk once every background write has finished."""
    tc.wait_for_cache_writes()
    return sorted(tc.table_cache_dir().glob(f"*{tc.ENTRY_SUFFIX}"))


def _sample_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": pd.array(["a", None, "c\x00d", "a", "é"], dtype="str"),
            "obj": pd.Series(["x", "y", np.nan, "x", "z"], dtype=object),
            "f32": np.array([1, np.nan, -1, 0, 2], dtype=np.float32),
            "i64": np.arange(5, dtype=np.int64),
            "flag": np.array([True, False, True, False, True]),
            "when": pd.to_datetime(["2020-01-01", "1970-01-02", None, "2001-09-09", "2019-12-31"]),
        }
    )


@pytest.fixture
def metadata(tmp_path):
    path = tmp_path / "meta.csv"
    path.write_text("a,b\n1,2\n")
    return path


def _counting_parser(table):
    calls = []

    def parse(path):
        calls.append(path)
        return table.copy()

    return parse, calls


def test_cold_and_warm_tables_are_identical(metadata):
    table = _sample_table()
    parse, calls = _counting_parser(table)
    cold = tc.load_table(metadata, parse, key="t-1")
    warm = tc.load_table(metadata, parse, key="t-1")
    assert len(calls) == 1, "the second call must come from the cache"
    pd.testing.assert_frame_equal(cold, table)
    pd.testing.assert_frame_equal(warm, table)
    assert _entries(), "entry written under <cache>/tables"
    assert not list(tc.table_cache_dir().glob(".tmp-*")), "no temporary file left behind"


def test_key_and_file_bytes_both_invalidate(metadata):
    parse, calls = _counting_parser(_sample_table())
    tc.load_table(metadata, parse, key="t-1")
    tc.load_table(metadata, parse, key="t-2")  # another parser version / argument
    assert len(calls) == 2
    metadata.write_text("a,b\n1,3\n")  # same size, new bytes
    tc.load_table(metadata, parse, key="t-1")
    assert len(calls) == 3


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_entry_is_rebuilt(metadata, damage):
    table = _sample_table()
    parse, calls = _counting_parser(table)
    tc.load_table(metadata, parse, key="t-1")
    (entry,) = _entries()
    raw = entry.read_bytes()
    entry.write_bytes({"truncate": raw[: len(raw) // 2], "garbage": b"PK\x03\x04junk" * 10, "empty": b""}[damage])
    again = tc.load_table(metadata, parse, key="t-1")
    assert len(calls) == 2
    pd.testing.assert_frame_equal(again, table)
    pd.testing.assert_frame_equal(tc.load_table(metadata, parse, key="t-1"), table)
    assert len(calls) == 2, "the rebuilt entry is used next time"


def test_entry_never_needs_pickle(metadata):
    parse, _ = _counting_parser(_sample_table())
    tc.load_table(metadata, parse, key="t-1")
    (entry,) = _entries()
    _, arrays = tc.read_entry_arrays(entry)
    assert arrays, "the entry holds arrays"
    for name, array in arrays.items():
        assert array.dtype != object, name


def test_opt_out(metadata, monkeypatch):
    monkeypatch.setenv("XRV_NO_TABLE_CACHE", "1")
    parse, calls = _counting_parser(_sample_table())
    tc.load_table(metadata, parse, key="t-1")
    tc.load_table(metadata, parse, key="t-1")
    assert len(calls) == 2
    assert not tc.table_cache_dir().exists() or not _entries()


def test_unsupported_column_is_returned_uncached(metadata):
    table = pd.DataFrame({"mixed": pd.Series(["a", 1, 2.5], dtype=object)})
    parse, calls = _counting_parser(table)
    out = tc.load_table(metadata, parse, key="t-1")
    pd.testing.assert_frame_equal(out, table)
    tc.load_table(metadata, parse, key="t-1")
    assert len(calls) == 2


def test_non_default_index_is_reset(metadata):
    table = _sample_table().iloc[[4, 0, 2]]
    parse, _ = _counting_parser(table)
    cold = tc.load_table(metadata, parse, key="t-1")
    warm = tc.load_table(metadata, parse, key="t-1")
    pd.testing.assert_frame_equal(cold, table.reset_index(drop=True))
    pd.testing.assert_frame_equal(warm, cold)


def test_unwritable_cache_still_returns_table(metadata, monkeypatch, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setattr(tc, "table_cache_dir", lambda: blocker / "tables")
    parse, _ = _counting_parser(_sample_table())
    pd.testing.assert_frame_equal(tc.load_table(metadata, parse, key="t-1"), _sample_table())


def test_parser_errors_propagate(metadata):
    def parse(path):
        raise ValueError("bad file")

    with pytest.raises(ValueError, match="bad file"):
        tc.load_table(metadata, parse, key="t-1")


def test_mostly_unique_string_columns_round_trip(metadata):
    # >= 100 rows, mostly distinct: stored whole rather than factorised.
    names = [f"patient{i:05d}/view{i % 3}.jpg" for i in range(300)]
    names[5], names[6] = None, ""  # a missing value and a genuine empty string stay distinct
    table = pd.DataFrame({"path": pd.array(names, dtype="str"), "obj": pd.Series(names, dtype=object).fillna(np.nan)})
    parse, calls = _counting_parser(table)
    tc.load_table(metadata, parse, key="t-1")
    warm = tc.load_table(metadata, parse, key="t-1")
    assert len(calls) == 1
    pd.testing.assert_frame_equal(warm, table)
    assert warm["path"].isna().sum() == 1 and (warm["path"] == "").sum() == 1


def test_digest_sidecar_follows_file_changes(metadata):
    first = tc.memoised_sha256(metadata)
    assert first == tc.file_sha256(metadata)
    assert tc.memoised_sha256(metadata) == first
    metadata.write_text("a,b\n1,2\n3,4\n")  # new size and mtime: re-hashed
    assert tc.memoised_sha256(metadata) == tc.file_sha256(metadata) != first
    (sidecar,) = (tc.table_cache_dir() / "digests").glob("*.json")
    sidecar.write_text("{not json")
    assert tc.memoised_sha256(metadata) == tc.file_sha256(metadata)


def test_entry_is_written_in_background_and_waited_for(metadata, monkeypatch):
    """The cold call returns while the entry is still being written; a second call in
    the same process waits for that write and is then warm."""
    import threading

    release = threading.Event()
    real_write = tc._write_entry

    def slow_write(*args):
        assert release.wait(10), "test did not release the writer"
        real_write(*args)

    monkeypatch.setattr(tc, "_write_entry", slow_write)
    parse, calls = _counting_parser(_sample_table())
    cold = tc.load_table(metadata, parse, key="t-1")  # returns although the writer is blocked
    assert not list(tc.table_cache_dir().glob(f"*{tc.ENTRY_SUFFIX}")), "nothing visible before the write ends"
    threading.Timer(0.2, release.set).start()
    warm = tc.load_table(metadata, parse, key="t-1")  # waits for the pending write
    assert len(calls) == 1
    pd.testing.assert_frame_equal(warm, cold)


def test_caller_edits_never_reach_the_entry(metadata):
    table = _sample_table()
    parse, calls = _counting_parser(table)
    cold = tc.load_table(metadata, parse, key="t-1")
    cold.loc[0, "i64"] = 999  # in-place edits and new columns right after the cold call
    cold["extra"] = 1.0
    warm = tc.load_table(metadata, parse, key="t-1")
    assert len(calls) == 1
    pd.testing.assert_frame_equal(warm, table)


def test_fork_waits_for_pending_writes(metadata):
    """A forked child (DataLoader worker) never starts mid-write and finds the entry whole."""
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork start method on this platform")
    parse, _ = _counting_parser(_sample_table())
    tc.load_table(metadata, parse, key="t-1")
    queue = multiprocessing.get_context("fork").SimpleQueue()

    def child():
        from xrayvision.datasets import _deferred_writes

        entries = list(tc.table_cache_dir().glob(f"*{tc.ENTRY_SUFFIX}"))
        queue.put((_deferred_writes.pending_count(), len(entries)))

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join(30)
    assert process.exitcode == 0
    assert queue.get() == (0, 1)


def test_label_like_float_columns_are_stored_small_and_round_trip_exactly(metadata):
    table = pd.DataFrame(
        {
            "labels": np.array([1.0, 0.0, -1.0, np.nan, 127.0, -127.0]),
            "labels32": np.array([1, np.nan, 0, 0, -1, 1], dtype=np.float32),
            "negative_zero": np.array([0.0, -0.0, 1.0, 1.0, 1.0, 1.0]),  # -0.0 must come back as -0.0
            "fraction": np.array([0.5, 1, 2, 3, 4, 5], dtype=np.float64),
            "too_large": np.array([128.0, 1, 2, 3, 4, 5]),
        }
    )
    parse, calls = _counting_parser(table)
    tc.load_table(metadata, parse, key="t-1")
    (entry,) = _entries()
    header, arrays = tc.read_entry_arrays(entry)
    kinds = {c["name"]: c["kind"] for c in header["columns"]}
    assert kinds == {"labels": "small-float", "labels32": "small-float", "negative_zero": "numeric",
                     "fraction": "numeric", "too_large": "numeric"}
    assert arrays["c0"].dtype == np.int8
    warm = tc.load_table(metadata, parse, key="t-1")
    assert len(calls) == 1
    pd.testing.assert_frame_equal(warm, table)
    assert np.signbit(warm["negative_zero"].to_numpy()[1])


def test_bytes_columns_round_trip_in_place_and_width(metadata):
    paths = np.array([f"train/patient{i:05d}/view_é{i}.jpg".encode() for i in range(300)] + [b""], dtype="S40")
    table = pd.DataFrame({"group": np.arange(301) % 7})
    table.insert(0, "Path", paths)  # the DataFrame constructor would turn bytes into objects
    table["id"] = np.array([b"%05d" % i for i in range(301)], dtype="S5")
    parse, calls = _counting_parser(table)
    tc.load_table(metadata, parse, key="t-1")
    (entry,) = _entries()
    header, _arrays = tc.read_entry_arrays(entry)
    assert [c["kind"] for c in header["columns"]] == ["bytes", "numeric", "bytes"]
    warm = tc.load_table(metadata, parse, key="t-1")
    assert len(calls) == 1
    assert list(warm.dtypes) == [np.dtype("S40"), np.dtype("int64"), np.dtype("S5")]
    pd.testing.assert_frame_equal(warm, table)


def test_category_columns_round_trip(metadata):
    table = pd.DataFrame({"sex": pd.Categorical(["M", None, "F", "M"]), "n": np.arange(4)})
    table["view"] = table["sex"].cat.rename_categories({"F": "PA", "M": "é"})
    parse, calls = _counting_parser(table)
    tc.load_table(metadata, parse, key="t-1")
    warm = tc.load_table(metadata, parse, key="t-1")
    assert len(calls) == 1
    pd.testing.assert_frame_equal(warm, table)
    ordered = table.assign(sex=table["sex"].cat.as_ordered())  # not a lean read's: not cached
    parse, calls = _counting_parser(ordered)
    tc.load_table(metadata, parse, key="t-2")
    tc.load_table(metadata, parse, key="t-2")
    assert len(calls) == 2


def test_writes_wait_for_constructions_in_progress(metadata):
    """A write submitted during a dataset construction starts when it returns, or at
    once when something needs the entry (no deadlock inside the construction)."""
    from xrayvision.datasets import _deferred_writes

    parse, calls = _counting_parser(_sample_table())
    with _deferred_writes.constructing():
        tc.load_table(metadata, parse, key="t-1")
        time.sleep(0.3)
        on_disk = lambda: list(tc.table_cache_dir().glob(f"*{tc.ENTRY_SUFFIX}"))  # noqa: E731 - no waiting
        assert not on_disk(), "held back while the construction runs"
        tc.load_table(metadata, parse, key="t-1")  # needs the entry: the write goes now
        assert len(on_disk()) == 1 and len(calls) == 1
        tc.load_table(metadata, parse, key="t-2")
    tc.wait_for_cache_writes()
    assert len(_entries()) == 2, "released when the construction ended"


def test_dataset_constructors_hold_writes_back(monkeypatch, tmp_path):
    from xrayvision.datasets import _base, _deferred_writes

    seen = []

    class Probe(_base.Dataset):
        def __init__(self) -> None:
            super().__init__()
            seen.append(_deferred_writes._constructing)
            self._set_labels(np.zeros((0, 1)), ["x"])

    Probe()
    assert seen == [1] and _deferred_writes._constructing == 0


def test_a_file_seen_first_is_hashed_after_the_construction(metadata, monkeypatch):
    """The first construction does not wait for the file's digest; the next one does,
    and is warm."""
    import threading

    release = threading.Event()
    real_hash = tc.file_sha256

    def slow_hash(path, *args):
        assert release.wait(10), "test did not release the hash"
        return real_hash(path, *args)

    monkeypatch.setattr(tc, "file_sha256", slow_hash)
    parse, calls = _counting_parser(_sample_table())
    cold = tc.load_table(metadata, parse, key="t-1")  # returns although hashing is blocked
    threading.Timer(0.2, release.set).start()
    warm = tc.load_table(metadata, parse, key="t-1")
    assert len(calls) == 1
    pd.testing.assert_frame_equal(warm, cold)


def test_a_file_changed_before_its_hash_gets_no_entry(metadata, monkeypatch):
    real_hash = tc.file_sha256

    def hash_after_an_edit(path, *args):
        metadata.write_text("a,b\n3,4\n5,6\n")  # another size: another stamp
        return real_hash(path, *args)

    monkeypatch.setattr(tc, "file_sha256", hash_after_an_edit)
    parse, calls = _counting_parser(_sample_table())
    tc.load_table(metadata, parse, key="t-1")
    assert _entries() == [], "the parsed table belongs to the old bytes: not stored under the new digest"


def test_the_other_files_a_parser_reads_are_part_of_the_key(metadata, tmp_path):
    other = tmp_path / "headers.csv"
    other.write_text("x\n1\n")
    parse, calls = _counting_parser(_sample_table())
    tc.load_table(metadata, parse, key="t-1", also_reads=[other])
    tc.load_table(metadata, parse, key="t-1", also_reads=[other])
    assert len(calls) == 1
    other.write_text("x\n2\n3\n")  # new bytes in the second file: a new entry
    tc.load_table(metadata, parse, key="t-1", also_reads=[other])
    assert len(calls) == 2
