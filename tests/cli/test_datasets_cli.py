"""``xrv datasets list / summary / verify`` on fake data."""

from __future__ import annotations

import pytest

import xrayvision.datasets as datasets
from xrayvision.cli import main
from xrayvision.cli.datasets import card, dataset_classes
from xrayvision.datasets.covid19 import COVID19_Dataset
from xrayvision.fakedata.covid19 import write_covid19


@pytest.fixture()
def covid(tmp_path):
    return write_covid19(tmp_path / "covid")


def covid_args(paths) -> list[str]:
    return ["--imgpath", str(paths["imgpath"]), "--csvpath", str(paths["csvpath"])]


def test_list_names_every_source(capsys) -> None:
    assert main(["datasets", "list"]) == 0
    out = capsys.readouterr().out
    sources = [n for n in datasets.__all__ if n.endswith("_Dataset") and n != "Merge_Dataset"]
    assert len(sources) == 20  # 16 sources + the VinBrain alias + 3 generated (phantom, its folder, crosses)
    for name in sources:
        assert f"\n{name}" in "\n" + out, name
    assert "Merge_Dataset" not in out
    assert f"source:  {COVID19_Dataset.card['source']}" in out
    assert dataset_classes().keys() == set(sources)


def test_card_from_docstring_markers() -> None:
    class Example:
        """Example set: ten images.

        **Source**: https://example.org/data (mirror at
        https://example.org/mirror). **Licence**: CC0.

        **Labels**: one column, ``Thing``.
        """

    info = card(Example)
    assert info == {"title": "Example set: ten images.",
                    "source": "https://example.org/data (mirror at https://example.org/mirror).",
                    "licence": "CC0.", "labels": "one column, ``Thing``."}


def test_summary_prints_totals(covid, capsys) -> None:
    assert main(["datasets", "summary", "covid19", *covid_args(covid), "--views", "PA,AP", "xray_only=False"]) == 0
    out = capsys.readouterr().out
    d = COVID19_Dataset(covid["imgpath"], covid["csvpath"], views=["PA", "AP"], xray_only=False)
    assert out.splitlines()[0] == str(d)
    assert f"items: {len(d)}" in out
    column = d.labels[:, d.pathologies.index("COVID-19")]
    line = next(line for line in out.splitlines() if line.strip().startswith("COVID-19 "))
    assert line.split()[1:] == ["0:", f"{int((column == 0).sum())},", "1:", str(int((column == 1).sum()))]


def test_summary_views_repeated(covid, capsys) -> None:
    assert main(["datasets", "summary", "COVID19_Dataset", *covid_args(covid), "--views", "L", "--views", "AP Supine"]) == 0
    assert "views=['L', 'AP Supine']" in capsys.readouterr().out


def test_summary_bad_option_and_name(covid, capsys) -> None:
    assert main(["datasets", "summary", "covid19", *covid_args(covid), "bogus=1"]) == 1
    assert "bogus" in capsys.readouterr().err
    assert main(["datasets", "summary", "covd19_dataset", "--imgpath", "x"]) == 1
    assert "did you mean 'COVID19_Dataset'" in capsys.readouterr().err


def test_verify_clean(covid, capsys) -> None:
    assert main(["datasets", "verify", "covid19", *covid_args(covid), "--quiet"]) == 0
    assert "0 missing, 0 unreadable" in capsys.readouterr().out


def test_verify_reports_missing_and_corrupt(covid, capsys) -> None:
    (covid["imgpath"] / "sars-1.jpeg").unlink()
    (covid["imgpath"] / "myco-5.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    assert main(["datasets", "verify", "covid19", *covid_args(covid), "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "1 missing, 1 unreadable" in out
    assert f"missing: {covid['imgpath'] / 'sars-1.jpeg'}" in out
    assert f"unreadable: {covid['imgpath'] / 'myco-5.jpg'}" in out
    assert main(["datasets", "verify", "covid19", *covid_args(covid), "--no-decode"]) == 1
    assert "(existence only): 1 missing, 0 unreadable" in capsys.readouterr().out


def test_verify_wrong_imgpath_says_so_once(covid, tmp_path, capsys) -> None:
    args = ["--imgpath", str(tmp_path / "elsewhere"), "--csvpath", str(covid["csvpath"])]
    assert main(["datasets", "verify", "covid19", *args, "--quiet"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "imgpath=" in captured.err and "is not an existing folder" in captured.err


class NoPaths_Dataset(COVID19_Dataset):
    """A dataset that cannot say where its files are: verify must read every item."""

    _image_path = None

    def _read_image(self, index):  # such a class reads its images itself
        from xrayvision.datasets._files import read_image_file

        return read_image_file(self.imgpath, str(self.csv["filename"].iat[index]), "NoPaths_Dataset")


def test_verify_reads_items_when_paths_are_unknown(covid, monkeypatch, capsys) -> None:
    from xrayvision.datasets import _registry

    monkeypatch.setattr(_registry, "DATASETS", list(_registry.DATASETS))
    _registry.register_dataset(_registry.DatasetRecord("NoPaths_Dataset", __name__, "nopaths"))
    (covid["imgpath"] / "sars-1.jpeg").unlink()
    (covid["imgpath"] / "myco-5.jpg").write_bytes(b"not an image at all")
    assert main(["datasets", "verify", "nopaths", *covid_args(covid), "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "1 missing, 1 unreadable" in out
    assert "sars-1.jpeg" in out and "myco-5.jpg" in out
