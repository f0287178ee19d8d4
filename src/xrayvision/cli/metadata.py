"""``xrv datasets metadata list | download KEY...|--all | import FILE``.

The metadata tables the reference ships inside its package (NIH's Data_Entry, PadChest's
labels, ...) are downloaded into the cache on first use. On a cluster without internet,
fill the cache on a connected machine (``xrv datasets metadata download --all`` with
``XRV_CACHE_DIR`` on shared storage), or copy a table over and ``import`` it. A table is
named by its key (``nih_data_entry``), its file name, or the dataset that reads it
(``NIH_Dataset`` fetches both of NIH's tables).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import UsageError, add_progress_flag, existing_file, print_table


def register(commands: Any) -> None:
    """Add ``xrv datasets metadata`` and its ``list`` / ``download`` / ``import`` subcommands."""
    parser = commands.add_parser(
        "metadata", help="list, download or import the metadata tables the datasets read",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="metadata_command", metavar="ACTION")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
    listing = actions.add_parser("list", help="every table: key, file, size, dataset, cached")
    listing.set_defaults(func=run_list)
    download = actions.add_parser("download", help="download and verify tables into the cache")
    download.add_argument("names", nargs="*", metavar="NAME", help="table key, file name or dataset class")
    download.add_argument("--all", dest="every", action="store_true", help="every table")
    add_progress_flag(download)
    download.set_defaults(func=run_download)
    imported = actions.add_parser("import", help="verify a table obtained elsewhere and copy it into the cache")
    imported.add_argument("file", type=existing_file)
    imported.add_argument("--name", help="table key (default: recognised from the file name)")
    imported.set_defaults(func=run_import)
    for sub in (listing, download, imported):
        sub.add_argument("--cache-dir", default=None, help="cache folder (default: XRV_CACHE_DIR or the user cache)")


def tables_named(names: list[str]) -> list[str]:
    """Table keys for ``names`` (keys, file names or dataset classes), in order, once each.

    Raises:
        UnknownNameError: a name that is none of these.
    """
    from ..errors import UnknownNameError
    from ..hub.metadata import METADATA, USED_BY

    by_name: dict[str, list[str]] = {}
    for key, resource in METADATA.items():
        for alias in (key, resource.filename, USED_BY[key], USED_BY[key].removesuffix("_Dataset")):
            by_name.setdefault(alias.lower(), []).append(key)
    keys: list[str] = []
    for name in names:
        found = by_name.get(name.lower())
        if found is None:
            raise UnknownNameError("metadata table", name, [*METADATA, *sorted(set(USED_BY.values()))])
        keys += [key for key in found if key not in keys]
    return keys


def run_list(args: argparse.Namespace) -> int:
    from ..hub.cache import resolve_cache_dir
    from ..hub.metadata import METADATA, USED_BY

    folder = resolve_cache_dir(args.cache_dir)
    rows = [("KEY", "FILE", "BYTES", "DATASET", "CACHED")]
    for key, resource in METADATA.items():
        cached = "yes" if (folder / resource.filename).is_file() else "no"
        rows.append((key, resource.filename, str(resource.size), USED_BY[key], cached))
    print_table(rows)
    print(f"\nCache folder: {folder}")
    return 0


def run_download(args: argparse.Namespace) -> int:
    from ..errors import XRVError
    from ..hub import fetch
    from ..hub.metadata import METADATA

    if args.every and args.names:
        raise UsageError("give table names or --all, not both")
    if not args.every and not args.names:
        raise UsageError("give one or more tables (see `xrv datasets metadata list`), or --all for every table")
    keys = list(METADATA) if args.every else tables_named(args.names)
    failed = 0
    for number, key in enumerate(keys, start=1):
        print(f"[{number}/{len(keys)}] {key} ({METADATA[key].filename})", file=sys.stderr)
        try:
            path = fetch(METADATA[key], args.cache_dir, progress=False if args.no_progress else None)
        except (XRVError, OSError) as error:
            failed += 1
            print(f"{key}\tfailed\t{error}")
            continue
        print(f"{key}\tverified\t{path}")
    print(f"{len(keys)} table(s): {len(keys) - failed} verified in the cache, {failed} failed", file=sys.stderr)
    return 1 if failed else 0


def run_import(args: argparse.Namespace) -> int:
    from ..errors import UnknownNameError
    from ..hub import import_file
    from ..hub.metadata import METADATA

    source = args.file
    if args.name:
        if args.name not in METADATA:
            raise UnknownNameError("metadata table key", args.name, METADATA)
        key = args.name
    else:
        key = next((k for k, r in METADATA.items() if r.filename == source.name), None)
        if key is None:
            raise UnknownNameError("metadata file", source.name, [r.filename for r in METADATA.values()])
    path = import_file(source, METADATA[key], args.cache_dir)  # verified against the published SHA-256
    print(f"{key}\tverified\t{path}")
    return 0
