"""Every help text of the command line renders (argparse formats them with %)."""

from __future__ import annotations

import pytest

from xrayvision.cli import _COMMANDS, main


def test_top_level_help_and_bare_xrv(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert all(command in out for command in _COMMANDS)
    assert main([]) == 2  # usage, not a traceback


@pytest.mark.parametrize("command", _COMMANDS)
def test_each_command_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0 and command in capsys.readouterr().out
