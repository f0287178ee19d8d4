"""The decompress-ahead reader gives exactly gzip's bytes, and fails loudly on damage."""

from __future__ import annotations

import gzip
import threading
import time

import pandas as pd
import pytest

from xrayvision.datasets import _gzip_stream
from xrayvision.datasets._gzip_stream import open_csv


@pytest.fixture(autouse=True)
def _always_threaded(monkeypatch):
    monkeypatch.setattr(_gzip_stream, "MIN_THREADED_BYTES", 0)
    monkeypatch.setattr(_gzip_stream, "_CHUNK", 4096)  # many chunks even for small files


def _csv_text(rows: int) -> str:
    return "id,name,value\n" + "".join(f"{i},patient{i:05d},{i * 0.5}\n" for i in range(rows))


def test_same_table_as_pandas_gzip(tmp_path):
    path = tmp_path / "table.csv.gz"
    path.write_bytes(gzip.compress(_csv_text(20_000).encode()))
    with open_csv(path) as source:
        assert not isinstance(source, type(path)), "a large gzip file gets the threaded reader"
        table = pd.read_csv(source)
    pd.testing.assert_frame_equal(table, pd.read_csv(path))


def test_multi_member_gzip(tmp_path):
    path = tmp_path / "two.csv.gz"
    text = _csv_text(3000)
    half = text.index("\n", len(text) // 2) + 1
    path.write_bytes(gzip.compress(text[:half].encode()) + gzip.compress(text[half:].encode()))
    with open_csv(path) as source:
        assert source.read() == text.encode()


def test_plain_and_small_files_pass_through(tmp_path, monkeypatch):
    plain = tmp_path / "plain.csv"
    plain.write_text(_csv_text(10))
    with open_csv(plain) as source:
        assert source == plain
    monkeypatch.setattr(_gzip_stream, "MIN_THREADED_BYTES", 10**9)
    small = tmp_path / "small.csv.gz"  # inflated at once, every member
    small.write_bytes(gzip.compress(b"a\n1\n") + gzip.compress(b"2\n"))
    with open_csv(small) as source:
        assert source.read() == b"a\n1\n2\n"
    damaged = tmp_path / "damaged.csv.gz"  # left to pandas, which names the problem
    damaged.write_bytes(gzip.compress(b"a\n1\n")[:-6])
    with open_csv(damaged) as source:
        assert source == damaged


def test_truncated_gzip_raises(tmp_path):
    path = tmp_path / "cut.csv.gz"
    data = gzip.compress(_csv_text(20_000).encode())
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(OSError, match="cut.csv.gz.*truncated"), open_csv(path) as source:
        source.read()


def test_corrupt_gzip_raises(tmp_path):
    path = tmp_path / "bad.csv.gz"
    data = bytearray(gzip.compress(_csv_text(20_000).encode()))
    data[100:200] = b"\xff" * 100
    path.write_bytes(bytes(data))
    with pytest.raises(OSError, match="bad.csv.gz"), open_csv(path) as source:
        source.read()


def test_closing_early_stops_the_worker(tmp_path):
    path = tmp_path / "big.csv.gz"
    path.write_bytes(gzip.compress(_csv_text(200_000).encode()))
    with open_csv(path) as source:
        source.read(10)
    deadline = time.monotonic() + 5
    while any(t.name == "xrv-gunzip" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(t.name == "xrv-gunzip" for t in threading.enumerate())


def test_damaged_metadata_is_a_metadata_error_naming_the_file(tmp_path):
    from xrayvision.datasets._files import read_metadata_csv
    from xrayvision.errors import MetadataError

    path = tmp_path / "labels.csv.gz"
    data = gzip.compress(_csv_text(20_000).encode())
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(MetadataError, match="labels.csv.gz"):
        read_metadata_csv(path, "NIH_Dataset", "Data_Entry CSV")


def test_inflate_gives_zlibs_bytes():
    import gzip
    import zlib

    from xrayvision.datasets import _inflate

    payload = b"Path,Sex\n" + b"".join(b"train/patient%05d/view1.jpg,Male\n" % i for i in range(20000))
    packed = gzip.compress(payload)
    assert _inflate.decompressobj(31).decompress(packed) == zlib.decompressobj(31).decompress(packed) == payload


def test_one_member_zip_is_inflated_here_and_read_alike(tmp_path):
    import zipfile

    text = "patientId,Target\n" + "".join(f"id{i},{i % 2}\n" for i in range(5000))
    deflated, stored = tmp_path / "labels.csv.zip", tmp_path / "stored.csv.zip"
    with zipfile.ZipFile(deflated, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("labels.csv", text)
    with zipfile.ZipFile(stored, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("labels.csv", text)
    with open_csv(deflated) as source:
        assert not isinstance(source, type(deflated)), "inflated by xrayvision, not handed to pandas"
        pd.testing.assert_frame_equal(pd.read_csv(source), pd.read_csv(deflated))
    with open_csv(stored) as source:
        assert source == stored  # not deflated: pandas reads it
    raw = bytearray(deflated.read_bytes())
    raw[60] ^= 0xFF  # damage the member's data: pandas' own reading reports it
    deflated.write_bytes(bytes(raw))
    with open_csv(deflated) as source:
        assert source == deflated
