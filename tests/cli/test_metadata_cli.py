"""``xrv datasets metadata``: the tables a cluster without internet needs, and the
messages that send users there."""

from __future__ import annotations

import pytest

from xrayvision.cli import main
from xrayvision.errors import OfflineError
from xrayvision.hub import get_cache_dir
from xrayvision.hub.metadata import METADATA, USED_BY


def test_list_names_every_table(capsys):
    assert main(["datasets", "metadata", "list"]) == 0
    out = capsys.readouterr().out
    for key, resource in METADATA.items():
        line = next(line for line in out.splitlines() if line.startswith(key + " "))
        assert line.split() == [key, resource.filename, str(resource.size), USED_BY[key], "no"]


def test_download_needs_names_or_all(capsys):
    with pytest.raises(SystemExit) as info:
        main(["datasets", "metadata", "download"])
    assert info.value.code == 2 and "--all" in capsys.readouterr().err
    assert main(["datasets", "metadata", "download", "nih_dat_entry"]) == 1
    assert "did you mean 'nih_data_entry'" in capsys.readouterr().err


def test_import_refuses_a_file_that_is_not_the_table(tmp_path, capsys):
    fake = tmp_path / METADATA["nih_bbox"].filename
    fake.write_bytes(b"\x1f\x8b" + b"\0" * (METADATA["nih_bbox"].size - 2))  # right size, wrong bytes
    assert main(["datasets", "metadata", "import", str(fake)]) == 1
    assert "SHA-256" in capsys.readouterr().err
    assert not (get_cache_dir() / fake.name).exists()
    other = tmp_path / "renamed.csv.gz"
    other.write_bytes(b"x")
    assert main(["datasets", "metadata", "import", str(other)]) == 1
    assert "unknown metadata file 'renamed.csv.gz'" in capsys.readouterr().err


@pytest.fixture
def tables(realdata):
    return realdata / "xrv-metadata"


def test_offline_message_names_commands_that_work_for_that_file(tables, tmp_path, monkeypatch, capsys):
    import xrayvision as xrv

    monkeypatch.setenv("XRV_OFFLINE", "1")
    (tmp_path / "images").mkdir()
    with pytest.raises(OfflineError) as info:
        xrv.datasets.NIH_Dataset(imgpath=tmp_path / "images", bbox_list_path=None)
    message = str(info.value)
    download = "xrv datasets metadata download nih_data_entry"
    imported = "xrv datasets metadata import FILE --name nih_data_entry"
    assert f"`{download}`" in message and f"`{imported}`" in message
    # Both commands do what the message says (the download from a mirror folder).
    copy = tmp_path / "renamed-by-the-user.csv.gz"
    copy.write_bytes((tables / "Data_Entry_2017_v2020.csv.gz").read_bytes())
    assert main([*imported.split()[1:-3], str(copy), "--name", "nih_data_entry"]) == 0
    assert capsys.readouterr().out.split("\t")[:2] == ["nih_data_entry", "verified"]
    d = xrv.datasets.NIH_Dataset(imgpath=tmp_path / "images", bbox_list_path=None)
    assert len(d) > 0
    (get_cache_dir() / "Data_Entry_2017_v2020.csv.gz").unlink()
    monkeypatch.setenv("XRV_WEIGHTS_MIRROR", str(tables))
    assert main(download.split()[1:]) == 0
    assert (get_cache_dir() / "Data_Entry_2017_v2020.csv.gz").is_file()


def test_download_by_dataset_name_and_all(tables, monkeypatch, capsys):
    monkeypatch.setenv("XRV_WEIGHTS_MIRROR", str(tables))
    monkeypatch.setenv("XRV_OFFLINE", "1")  # a folder mirror is not the network
    assert main(["datasets", "metadata", "download", "NIH_Dataset", "openi", "--no-progress"]) == 0
    captured = capsys.readouterr()
    keys = [line.split("\t")[0] for line in captured.out.splitlines()]
    assert keys == ["nih_data_entry", "nih_bbox", "openi_reports", "openi_dicom_metadata", "openi_tsne"]
    assert "5 table(s): 5 verified in the cache, 0 failed" in captured.err
    assert main(["datasets", "metadata", "download", "--all", "--quiet"]) == 0
    assert all((get_cache_dir() / r.filename).is_file() for r in METADATA.values())
