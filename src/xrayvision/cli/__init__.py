"""The ``xrv`` command line: ``xrv demo``, ``xrv datasets``, ``xrv weights``, ``xrv predict``, ``xrv segment``,
``xrv train``, ``xrv evaluate``, ``xrv calibrate``, ``xrv cache``."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Iterator, Sequence

from .._version import __version__
from ..errors import XRVError
from ._common import UsageError

#: Subcommand modules; each defines ``register(subparsers)`` that adds its parser and
#: sets ``func`` (called with the parsed arguments, returning an exit status).
_COMMANDS = ("demo", "datasets", "weights", "predict", "segment", "explain", "train", "evaluate", "calibrate", "cache")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xrv",
        description="Chest X-ray datasets, pre-trained models and tools (xrayvision).",
    )
    parser.add_argument("--version", action="version", version=f"xrayvision {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        importlib.import_module(f".{name}", __name__).register(subparsers)
    for sub in _all_parsers(parser):
        # The innermost parser wins: a UsageError is reported with its usage line.
        sub.set_defaults(usage_parser=sub)
    return parser


def _all_parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _all_parsers(sub)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    # Warnings read as the command's own lines, not as a source file and line of the library.
    # (formatwarning only: code that records warnings, such as pytest's, is unaffected.)
    formatwarning, warnings.formatwarning = warnings.formatwarning, _command_warning(args.command)
    try:
        return int(args.func(args) or 0)
    except UsageError as error:
        args.usage_parser.error(str(error))  # argparse's own path: usage, message, exit 2
    except XRVError as error:
        # Our errors already say what, why and what next: no traceback for users.
        print(f"xrv {args.command}: error: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (``xrv datasets list | head``): stop quietly, as cat does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        warnings.formatwarning = formatwarning
    return 2  # pragma: no cover - usage_parser.error never returns


def _command_warning(command: str):  # noqa: ANN202 - warnings.formatwarning's signature
    def format_warning(message, category, filename, lineno, line=None) -> str:  # noqa: ANN001
        return f"xrv {command}: warning: {message}\n"

    return format_warning


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
