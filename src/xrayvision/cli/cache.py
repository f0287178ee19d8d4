"""``xrv cache``: what the xrayvision cache folder holds, and emptying it.

* ``xrv cache info``: the folder and, per kind, the number of files and their size:
  ``weights`` (model files), ``metadata`` (the reference's shipped tables, fetched by
  datasets) and ``tables`` (parsed metadata tables, rebuilt on demand).
* ``xrv cache clear [--kind KIND ...] [--all]``: delete the parsed tables (default), the
  kinds named, or everything. Weights and metadata are downloaded again when needed.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
from pathlib import Path

#: Kinds of cached file, in display order.
KINDS = ("weights", "metadata", "tables")
#: Sub-folder of the parsed-table cache (see ``xrayvision.datasets._table_cache``).
TABLES = "tables"
# Suffixes of the hub's companion files (partial download, lock, recorded digest, temporary).
_COMPANIONS = (".part", ".lock", ".sha256", ".tmp")


def kind_of(path: Path, folder: Path) -> str:
    """``"tables"`` for anything under ``tables/``, ``"metadata"`` for a shipped metadata
    table (or its companion files), else ``"weights"``."""
    relative = path.relative_to(folder)
    if relative.parts[0] == TABLES:
        return "tables"
    name = relative.parts[0].lstrip(".")
    for suffix in _COMPANIONS:
        name = name.removesuffix(suffix)
    return "metadata" if name in _metadata_files() else "weights"


@functools.cache
def _metadata_files() -> frozenset[str]:
    from ..hub.metadata import METADATA

    return frozenset(record.filename for record in METADATA.values())


def usage(folder: Path) -> dict[str, tuple[int, int]]:
    """``{kind: (files, bytes)}`` of ``folder``, every kind present (zeros when empty)."""
    totals = dict.fromkeys(KINDS, (0, 0))
    for path in _files(folder):
        kind = kind_of(path, folder)
        files, size = totals[kind]
        totals[kind] = (files + 1, size + path.stat().st_size)
    return totals


def clear(folder: Path, kinds: set[str]) -> tuple[int, int]:
    """Delete the files of ``kinds`` under ``folder``; return ``(files, bytes)`` removed.

    A file that cannot be removed (in use on Windows, no permission) is left in place.
    """
    removed = freed = 0
    for path in _files(folder):
        if kind_of(path, folder) in kinds:
            try:
                size = path.stat().st_size
                path.unlink()
            except OSError:
                continue
            removed, freed = removed + 1, freed + size
    if "tables" in kinds and (folder / TABLES).is_dir():
        shutil.rmtree(folder / TABLES, ignore_errors=True)  # leftover sub-folders of older formats
    return removed, freed


def _files(folder: Path) -> list[Path]:
    """The cached files; lock files are left out (another process may hold one, and removing
    a held lock would let a second process in)."""
    if not folder.is_dir():
        return []
    return [Path(root) / name for root, _dirs, names in os.walk(folder) for name in names if not name.endswith(".lock")]


def _size(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return ""  # never reached


def _folder(args: argparse.Namespace) -> Path:
    from ..hub.cache import resolve_cache_dir

    return resolve_cache_dir(args.cache_dir)


def run_info(args: argparse.Namespace) -> int:
    folder = _folder(args)
    print(f"xrayvision cache: {folder}" + ("" if folder.is_dir() else " (does not exist yet)"))
    totals = usage(folder)
    for kind in KINDS:
        files, size = totals[kind]
        print(f"  {kind:<9}{files:>7} file{'s' if files != 1 else ' '}{_size(size):>12}")
    print(f"  {'total':<9}{sum(f for f, _ in totals.values()):>7} files{_size(sum(s for _, s in totals.values())):>12}")
    return 0


def run_clear(args: argparse.Namespace) -> int:
    kinds = set(KINDS) if args.all else set(args.kind or ["tables"])
    folder = _folder(args)
    removed, freed = clear(folder, kinds)
    what = ", ".join(kind for kind in KINDS if kind in kinds)
    print(f"removed {removed} file{'s' * (removed != 1)} ({_size(freed)}) of {what} from {folder}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``xrv cache`` with its ``info`` and ``clear`` subcommands."""
    parser = subparsers.add_parser("cache", help="show or empty the cache folder", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="cache_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
    info = commands.add_parser("info", help="files and sizes per kind (weights, metadata, tables)")
    info.set_defaults(func=run_info)
    emptying = commands.add_parser("clear", help="delete cached files (default: the parsed tables)")
    emptying.add_argument("--kind", action="append", choices=KINDS, help="a kind to delete (repeatable)")
    emptying.add_argument("--all", action="store_true", help="delete every kind")
    emptying.set_defaults(func=run_clear)
    for sub in (info, emptying):
        sub.add_argument("--cache-dir", default=None, help="cache folder (default: XRV_CACHE_DIR or the user cache)")
