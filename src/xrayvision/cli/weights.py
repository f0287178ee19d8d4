"""``xrv weights list | download NAME... | verify [NAME...] | import FILE [--name NAME] [--trust]``."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("weights", help="list, download, verify or import pre-trained weights")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    listing = actions.add_parser("list", help="the registered weights and whether each is cached")
    listing.add_argument("--all", action="store_true", help="include third-party baseline models")
    listing.set_defaults(func=_list)
    download = actions.add_parser("download", help="download and verify weights into the cache")
    download.add_argument("names", nargs="+", metavar="NAME")
    download.set_defaults(func=_download)
    verify = actions.add_parser("verify", help="check cached files against their digests (downloads nothing)")
    verify.add_argument("names", nargs="*", metavar="NAME", help="default: every downloadable weight set")
    verify.set_defaults(func=_verify)
    imported = actions.add_parser("import", help="copy a manually downloaded weight file into the cache")
    imported.add_argument("file")
    imported.add_argument("--name", help="registry name (default: recognised from the file name)")
    imported.add_argument(
        "--trust",
        action="store_true",
        help="also trust this exact TorchScript file to run (the riken age model is code, not just weights)",
    )
    imported.set_defaults(func=_import)
    for sub in (listing, download, verify, imported):
        sub.add_argument("--cache-dir", default=None, help="cache folder (default: XRV_CACHE_DIR or the user cache)")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _records(names: list[str]) -> list[Any]:
    from ..models import get_weights

    return [get_weights(name) for name in names]


def _list(args: argparse.Namespace) -> int:
    from ..hub.cache import resolve_cache_dir
    from ..models._registry import all_weights

    folder = resolve_cache_dir(args.cache_dir)
    rows = [("NAME", "ALIASES", "ARCHITECTURE", "RES", "OUTPUTS", "CACHED")]
    for w in all_weights():
        if w.is_baseline and not args.all:
            continue
        outputs = sum(bool(label) for label in w.labels)
        cached = "yes" if (folder / w.filename).is_file() else "no"
        rows.append((w.name, ",".join(w.aliases) or "-", w.architecture, str(w.input_resolution), str(outputs), cached))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(n) for c, n in zip(row, widths)).rstrip())
    for w in all_weights():
        if w.licence_notice and (args.all or not w.is_baseline):
            print(f"note: {w.licence_notice}")
    return 0


def _download(args: argparse.Namespace) -> int:
    from ..models._loading import fetch_file

    for record in _records(args.names):
        if record.licence_notice:
            print(f"xrv weights download: note: {record.licence_notice}", file=sys.stderr)
        path = fetch_file(record, args.cache_dir)
        print(f"{record.name}\t{path}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from ..hub import verify_cached
    from ..models._registry import all_weights

    records = _records(args.names) if args.names else [w for w in all_weights() if w.url]
    bad = 0
    for record in records:
        status = verify_cached(record.resource(), args.cache_dir)
        if status.state == "missing" and not args.names:
            continue
        bad += status.state in ("mismatch", "missing")
        print(f"{record.name}\t{status.state}\t{status.path}\t{status.detail}")
    return 1 if bad else 0


def _import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import UnknownNameError
    from ..hub import import_file
    from ..models._registry import all_weights, get_weights

    source = Path(args.file).expanduser()
    if not source.is_file():
        print(f"xrv weights import: error: {source}: no such file", file=sys.stderr)
        return 1
    if args.name:
        record = get_weights(args.name)
    else:
        record = next((w for w in all_weights() if w.filename == source.name), None)
        if record is None:
            raise UnknownNameError("weights file", source.name, [w.filename for w in all_weights()])
    if args.trust and record.file_format != "torchscript":
        print(
            f"xrv weights import: error: --trust is for TorchScript files; {record.name!r} weights are data",
            file=sys.stderr,
        )
        return 2
    path = import_file(source, record.resource(), args.cache_dir)
    if args.trust:
        from ..hub.trust import trust_file

        digest = trust_file(path, args.cache_dir)
        print(f"xrv weights import: trusted {path.name} (SHA-256 {digest}) to run", file=sys.stderr)
    print(f"{record.name}\t{path}", file=sys.stdout)
    return 0
