"""``xrv cache info / clear``: sizes per kind, and emptying one kind or all."""

from __future__ import annotations

import pytest

from xrayvision.cli import main
from xrayvision.hub import get_cache_dir


@pytest.fixture
def cache():
    folder = get_cache_dir()  # the test's own (conftest)
    padchest = "PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv.gz"
    files = {
        "densenet121-res224-all.pt": 100, ".densenet121-res224-all.pt.part": 7, ".resnet.pt.lock": 0,
        "chexpert_train.csv.gz": 40, "chexpert_train.csv.gz.sha256": 3, f".{padchest}.part": 11,
        f".{padchest}.lock": 0, "tables/0123-abcd.arrow": 500, "tables/digests/old.json": 9,
    }  # fmt: skip
    for name, size in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"x" * size)
    return folder


def _info(capsys, *args) -> dict[str, list[str]]:
    assert main(["cache", "info", *args]) == 0
    return {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()[1:]}


def test_info_sizes_per_kind(cache, capsys):
    rows = _info(capsys)
    assert rows["weights"] == ["2", "files", "107", "B"]  # the .pt and its partial download (locks are left out)
    assert rows["metadata"] == ["3", "files", "54", "B"]  # a shipped table, its digest, a download's part
    assert rows["tables"] == ["2", "files", "509", "B"]
    assert rows["total"] == ["7", "files", "670", "B"]


def test_clear_defaults_to_the_parsed_tables(cache, capsys):
    assert main(["cache", "clear"]) == 0
    assert "removed 2 files (509 B) of tables" in capsys.readouterr().out
    rows = _info(capsys)
    assert rows["tables"][0] == "0" and rows["weights"][0] == "2" and rows["metadata"][0] == "3"
    assert not (cache / "tables").exists()


def test_clear_named_kinds_or_all(cache, capsys):
    assert main(["cache", "clear", "--kind", "metadata"]) == 0
    rows = _info(capsys)
    assert rows["metadata"][0] == "0" and rows["weights"][0] == "2" and rows["tables"][0] == "2"
    assert main(["cache", "clear", "--all"]) == 0
    assert _info(capsys)["total"][0] == "0"


def test_another_folder_and_an_absent_one(tmp_path, capsys):
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "e.arrow").write_bytes(b"12345")
    assert _info(capsys, "--cache-dir", str(tmp_path))["tables"] == ["1", "file", "5", "B"]
    assert main(["cache", "info", "--cache-dir", str(tmp_path / "absent")]) == 0
    assert "does not exist yet" in capsys.readouterr().out


def test_lock_files_are_neither_counted_nor_removed(tmp_path, capsys):
    from xrayvision.cli import main

    (tmp_path / ".BBox_List_2017.csv.gz.lock").write_text("")
    (tmp_path / "BBox_List_2017.csv.gz").write_bytes(b"x" * 10)
    assert main(["cache", "info", "--cache-dir", str(tmp_path)]) == 0
    assert "1 file" in capsys.readouterr().out
    assert main(["cache", "clear", "--all", "--cache-dir", str(tmp_path)]) == 0
    assert [p.name for p in tmp_path.iterdir()] == [".BBox_List_2017.csv.gz.lock"]
