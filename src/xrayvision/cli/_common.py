"""What every ``xrv`` subcommand shares: usage errors, the progress flag, plain text."""

from __future__ import annotations

import argparse
import re
import shutil
import textwrap
from pathlib import Path


class UsageError(Exception):
    """A command line that cannot run as given (a missing option, a contradiction).

    ``xrv`` reports it exactly as argparse reports its own errors: the subcommand's usage
    line, then ``xrv <command>: error: <message>``, exit status 2.
    """


def existing_file(text: str) -> Path:
    """argparse ``type=`` for a file argument: a missing file is a usage error naming it."""
    path = Path(text).expanduser()
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{path}: no such file")
    return path


def output_folder(text: str) -> Path:
    """argparse ``type=`` for an output folder: it may not exist yet (it is created), but
    neither it nor a parent may be an existing file."""
    path = Path(text).expanduser()
    for part in (path, *path.parents):
        if part.exists():
            if not part.is_dir():
                raise argparse.ArgumentTypeError(f"{part} is a file, not a folder: choose another output folder")
            break
    return path


def print_table(rows: list[tuple[str, ...]]) -> None:
    """Left-aligned columns, two spaces apart; the first row is the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def add_progress_flag(parser: argparse.ArgumentParser) -> None:
    """``--no-progress`` (and ``--quiet``, its hidden alias): no progress bar on stderr."""
    parser.add_argument("--no-progress", dest="no_progress", action="store_true", help="no progress bar on stderr")
    parser.add_argument("--quiet", dest="no_progress", action="store_true", help=argparse.SUPPRESS)


_ROLE = re.compile(r":(?:[a-z]+:)?[a-z]+:`(~?)([^`<]+?)(?:\s*<[^>]+>)?`")  # :class:`X`, :func:`~a.b`
_LINK = re.compile(r"`([^`<]+?)\s*<([^>]+)>`_+")  # `text <url>`_
_LITERAL = re.compile(r"``(.+?)``", re.S)  # may run over a line break
_EMPHASIS = re.compile(r"\*\*(.+?)\*\*|(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", re.S)


def plain_text(text: str) -> str:
    """Docstring text without reStructuredText markup, for a terminal.

    ``code`` and **bold** lose their marks, ``:class:`NIH_Dataset``` becomes
    ``NIH_Dataset`` and ```name <url>`_`` becomes ``name (url)``; URLs and line breaks are
    kept as they are.
    """
    text = _LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", text)
    text = _ROLE.sub(lambda m: m.group(2).rsplit(".", 1)[-1] if m.group(1) else m.group(2), text)
    text = _LITERAL.sub(r"\1", text)
    return _EMPHASIS.sub(lambda m: m.group(1) or m.group(2), text)


def wrapped(text: str, indent: str) -> str:
    """``text`` filled to the terminal's width after ``indent``; URLs and words never split."""
    width = max(shutil.get_terminal_size((100, 24)).columns, 60)
    return textwrap.fill(
        text, width=width, initial_indent=indent, subsequent_indent=" " * len(indent),
        break_long_words=False, break_on_hyphens=False,
    )
