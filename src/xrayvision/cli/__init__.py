"""The ``xrv`` command line: ``xrv demo``, ``xrv datasets``, ``xrv weights``, ``xrv predict``, ``xrv explain``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .._version import __version__
from ..errors import XRVError

#: Subcommand modules; each defines ``register(subparsers)`` that adds its parser and
#: sets ``func`` (called with the parsed arguments, returning an exit status).
_COMMANDS = ("demo", "datasets", "weights", "predict", "explain")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xrv",
        description="Chest X-ray datasets, pre-trained models and tools (xrayvision).",
    )
    parser.add_argument("--version", action="version", version=f"xrayvision {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        importlib.import_module(f".{name}", __name__).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except XRVError as error:
        # Our errors already say what, why and what next: no traceback for users.
        print(f"xrv {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
