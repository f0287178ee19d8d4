"""Every command that writes into a folder refuses a file given as that folder, up front."""

from __future__ import annotations

import pytest

from xrayvision.cli import main


@pytest.mark.parametrize(
    "command",
    [
        ["explain", "x.png"],
        ["segment", "x.png"],
        ["demo"],
        ["evaluate", "--weights", "all", "--dataset", "NIH", "--imgpath", "."],
        ["datasets", "resize", "NIH", "--imgpath", "."],
    ],
    ids=lambda c: c[0] if c[0] != "datasets" else "resize",
)
@pytest.mark.parametrize("below", [False, True], ids=["file", "below-a-file"])
def test_an_existing_file_is_refused_as_output_folder(tmp_path, capsys, command, below):
    taken = tmp_path / "taken"
    taken.write_text("keep me")
    out = taken / "sub" if below else taken
    with pytest.raises(SystemExit) as stop:
        main([*command, "--out", str(out)])
    assert stop.value.code == 2
    assert f"{taken} is a file, not a folder" in capsys.readouterr().err
    assert taken.read_text() == "keep me"
