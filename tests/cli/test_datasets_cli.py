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
    # Fields are wrapped to the terminal's width, never cut.
    assert f"source: {' '.join(COVID19_Dataset.card['source'].split())}" in " ".join(out.split())
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


def test_verify_missing_folder_is_said_once(covid, tmp_path, capsys) -> None:
    args = ["--imgpath", str(tmp_path / "elsewhere"), "--csvpath", str(covid["csvpath"])]
    assert main(["datasets", "verify", "covid19", *args, "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"xrv datasets: error: --imgpath {tmp_path / 'elsewhere'} does not exist: give the folder that "
        "holds COVID19_Dataset's images"
    ]


def test_verify_wrong_imgpath_hint(covid, tmp_path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    args = ["--imgpath", str(tmp_path / "empty"), "--csvpath", str(covid["csvpath"])]
    assert main(["datasets", "verify", "covid19", *args, "--quiet"]) == 1  # --quiet: the hidden alias
    assert "is --imgpath" in capsys.readouterr().out


def test_missing_required_option_names_the_flag(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["datasets", "summary", "NIH_Dataset"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: xrv datasets summary")
    assert err.rstrip().endswith("xrv datasets summary: error: NIH_Dataset needs --imgpath DIR")


def test_progress_flag_is_spelled_one_way(capsys) -> None:
    for command in (["datasets", "verify"], ["predict"], ["weights", "download"], ["datasets", "metadata", "download"]):
        with pytest.raises(SystemExit):
            main([*command, "--help"])
        text = capsys.readouterr().out
        assert "--no-progress" in text and "--quiet" not in text, command


def test_list_prints_whole_fields_without_markup(capsys) -> None:
    assert main(["datasets", "list"]) == 0
    out = capsys.readouterr().out
    nih = out[out.index("NIH_Dataset:"):out.index("NIH_Google_Dataset:")]
    # The URLs a user needs, whole; no reStructuredText marks.
    assert "https://academictorrents.com/details/557481faacd824c83fbf57dcf7b6da9383b3235a" in nih
    assert "https://academictorrents.com/details/e615d3aebce373f1dc8bd9d11064da55bdadede0" in nih
    for mark in ("``", "**", ":data:`", ":class:`"):
        assert mark not in out, mark
    from xrayvision.cli._common import plain_text
    from xrayvision.datasets import NIH_Dataset

    flat = " ".join(nih.split())
    for field, text in card(NIH_Dataset).items():  # every field whole (wrapped, never cut)
        assert plain_text(" ".join(text.split())) in flat, field


def test_list_one_dataset_prints_its_whole_card(capsys) -> None:
    from xrayvision.datasets import NIH_Dataset

    assert main(["datasets", "list", "nih"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("NIH_Dataset\n")
    assert "Citation: Wang et al." in out and "bbox_list_path" in out  # the card's end and its Args
    assert "``" not in out and "**" not in out
    assert out.count("\n") >= (NIH_Dataset.__doc__ or "").count("\n") - 5
    assert main(["datasets", "list", "covid19"]) == 0
    assert COVID19_Dataset.card["source"] in capsys.readouterr().out


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
