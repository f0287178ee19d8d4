"""Every help text of the command line renders (argparse formats them with %)."""

from __future__ import annotations

import subprocess
import sys

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


def test_warnings_read_as_lines_of_the_command_and_the_format_is_restored():
    code = (
        "import sys, warnings\n"
        "import xrayvision.cli as cli, xrayvision.cli.cache as cache\n"
        "def run(args):\n"
        "    warnings.warn('the metadata has 3 odd rows', UserWarning)\n"
        "    return 0\n"
        "cache.run_info = run\n"
        "before = warnings.formatwarning\n"
        "status = cli.main(['cache', 'info'])\n"
        "assert warnings.formatwarning is before\n"
        "sys.exit(status)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "xrv cache: warning: the metadata has 3 odd rows\n"
