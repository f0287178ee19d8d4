"""``xrv weights list | info NAME | download NAME...|--all | verify [NAME...] | import FILE [--name NAME] [--trust]``.

Every weight file is in one of three trust states (see ``xrv weights info NAME``):
``verified`` (matches a published SHA-256), ``recorded`` (no digest is published; the
first copy passed the network's full content check and its digest was recorded, this
copy matches it) or ``unverified`` (no digest, and nothing checks the content
completely, or the copy has not been used yet).
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from ._common import UsageError, add_progress_flag, existing_file, print_table

#: What each state means, printed under ``verify`` and ``download`` summaries.
STATE_MEANING = {
    "verified": "matches the published SHA-256",
    "recorded": "no published digest; matches the digest recorded when its content was first checked",
    "unverified": "no digest to compare with (see `xrv weights info NAME`)",
    "mismatch": "wrong size, digest or content: delete it and download it again",
    "missing": "not in the cache",
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "weights", help="list, describe, download, verify or import pre-trained weights",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    listing = actions.add_parser("list", help="the registered weights and whether each is cached")
    listing.add_argument("--all", action="store_true", help="include third-party baseline models")
    listing.set_defaults(func=_list)
    info = actions.add_parser("info", help="the model card of one weight set: labels, thresholds, licence, trust")
    info.add_argument("name", metavar="NAME")
    info.set_defaults(func=_info)
    download = actions.add_parser(
        "download", help="download and check weights into the cache",
        description="Download weight sets into the cache (`all` is the name of one weight set; "
        "--all downloads every downloadable one, baselines included).",
    )
    download.add_argument("names", nargs="*", metavar="NAME")
    download.add_argument("--all", dest="every", action="store_true", help="every downloadable weight set")
    add_progress_flag(download)
    download.set_defaults(func=_download)
    verify = actions.add_parser(
        "verify", help="check cached files against their digests and content (downloads nothing)"
    )
    verify.add_argument("names", nargs="*", metavar="NAME", help="default: every downloadable weight set in the cache")
    verify.set_defaults(func=_verify)
    imported = actions.add_parser(
        "import", help="check a manually downloaded weight file and copy it into the cache"
    )
    imported.add_argument("file", type=existing_file)
    imported.add_argument("--name", help="registry name (default: recognised from the file name)")
    imported.add_argument(
        "--trust",
        action="store_true",
        help="also trust this exact TorchScript file to run (the riken age model is code, not just weights)",
    )
    imported.set_defaults(func=_import)
    for sub in (listing, info, download, verify, imported):
        sub.add_argument("--cache-dir", default=None, help="cache folder (default: XRV_CACHE_DIR or the user cache)")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _records(names: list[str]) -> list[Any]:
    from ..models import get_weights

    return [get_weights(name) for name in names]


def _downloadable() -> list[Any]:
    from ..models._registry import all_weights

    return [w for w in all_weights() if w.url]


def _status(record: Any, cache_dir: str | None, *, run_check: bool = True) -> Any:
    from ..hub import verify_cached
    from ..models._validate import content_check

    check = content_check(record)
    status = verify_cached(record.resource(), cache_dir, check=check if run_check else None)
    return status, check


# ----------------------------------------------------------------------------- list, info


def _list(args: argparse.Namespace) -> int:
    from ..hub import trust_policy
    from ..hub.cache import resolve_cache_dir
    from ..models._registry import all_weights
    from ..models._validate import content_check

    folder = resolve_cache_dir(args.cache_dir)
    rows = [("NAME", "ALIASES", "ARCHITECTURE", "RES", "OUTPUTS", "TRUST", "CACHED")]
    for w in all_weights():
        if w.is_baseline and not args.all:
            continue
        outputs = sum(bool(label) for label in w.labels)
        cached = "yes" if (folder / w.filename).is_file() else "no"
        trust = trust_policy(w.resource(), content_check(w))
        rows.append((w.name, ",".join(w.aliases) or "-", w.architecture, str(w.input_resolution),
                     str(outputs), trust, cached))
    print_table(rows)
    for w in all_weights():
        if w.licence_notice and (args.all or not w.is_baseline):
            print(f"note: {w.licence_notice}")
    return 0


def _number(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.4g}"


def _info(args: argparse.Namespace) -> int:
    from ..hub import describe_policy

    (record,) = _records([args.name])
    status, check = _status(record, args.cache_dir)
    aliases = f" (alias {', '.join(record.aliases)})" if record.aliases else ""
    print(f"{record.name}{aliases}: {record.kind}, {record.architecture}")
    if record.description:
        print(f"  {record.description}")
    size = f", {record.size:,} bytes" if record.size else ""
    fields = {
        "input": f"{record.input_resolution}x{record.input_resolution}, 1 channel, pixels in "
                 f"[{record.image_range[0]:g}, {record.image_range[1]:g}]",
        "training data": ", ".join(record.training_data) or "not published",
        "licence": record.licence,
        "paper": record.paper,
        "file": f"{record.filename} ({record.file_format}{size})",
        "url": record.url or record.extra.get("download_page", "-"),
        **{key.replace("_", " "): str(value) for key, value in record.extra.items()},
        "trust": describe_policy(record.resource(), check),
        "in the cache": f"{status.state}: {status.detail} ({status.path})",
    }
    for label, value in fields.items():
        print(f"  {label + ':':17}{value}")
    if record.labels:
        thresholds = [record.op_threshs, record.ppv80_thres] if record.ppv80_thres else [record.op_threshs]
        print("  outputs (slot, label, op_threshs" + (", ppv80_thres)" if record.ppv80_thres else ")")
              + "; an empty label was never trained:")
        for slot, label in enumerate(record.labels):
            values = "  ".join(_number(t[slot]).ljust(9) if t else "-".ljust(9) for t in thresholds)
            print(f"    {slot:>2}  {(label or '(untrained)'):<27} {values}".rstrip())
    return 0


# ----------------------------------------------------------------------------- download


def _download(args: argparse.Namespace) -> int:
    from ..errors import XRVError
    from ..models._loading import fetch_file

    if args.every and args.names:
        raise UsageError("give weight names or --all, not both")
    if not args.every and not args.names:
        raise UsageError("give one or more weight names (see `xrv weights list --all`), or --all for every "
                         "downloadable weight set (`all` alone is the name of one weight set)")
    records = _downloadable() if args.every else _records(args.names)
    counts = {"downloaded": 0, "already in the cache": 0, "failed": 0}
    states: dict[str, int] = {}
    for number, record in enumerate(records, start=1):
        before, _ = _status(record, args.cache_dir, run_check=False)
        terms = f"; licence: {record.licence}" if record.is_baseline else ""  # third-party terms, shown up front
        print(f"[{number}/{len(records)}] {record.name} ({record.filename}){terms}", file=sys.stderr)
        try:
            fetch_file(record, args.cache_dir, progress=False if args.no_progress else None)
        except (XRVError, OSError) as error:
            counts["failed"] += 1
            print(f"{record.name}\tfailed\t{error}")
            continue
        after, _ = _status(record, args.cache_dir, run_check=False)
        counts["already in the cache" if before.usable else "downloaded"] += 1
        states[after.state] = states.get(after.state, 0) + 1
        print(f"{record.name}\t{after.state}\t{after.path}")
    summary = ", ".join(f"{count} {what}" for what, count in counts.items())
    print(f"{len(records)} weight set(s): {summary}", file=sys.stderr)
    for state, count in sorted(states.items()):
        print(f"  {count} {state}: {STATE_MEANING[state]}", file=sys.stderr)
    return 1 if counts["failed"] else 0


# ----------------------------------------------------------------------------- verify


def _verify(args: argparse.Namespace) -> int:
    from ..hub.cache import resolve_cache_dir

    records = _records(args.names) if args.names else _downloadable()
    rows: list[tuple[str, ...]] = []
    tally: dict[str, int] = {}
    bad = 0
    for record in records:
        status, _ = _status(record, args.cache_dir)
        tally[status.state] = tally.get(status.state, 0) + 1
        if status.state == "missing" and not args.names:
            continue
        bad += status.state in ("mismatch", "missing")
        rows.append((record.name, status.state, record.filename, status.detail))
    folder = resolve_cache_dir(args.cache_dir)
    if not rows:
        pinned = sum(bool(r.sha256) for r in records)
        print(
            f"No weight file is in the cache ({folder}) yet. {len(records)} weight sets can be "
            f"downloaded: {pinned} with a published SHA-256 (verified on every use), the others "
            "recorded on first use after a content check, or unverified where no full check exists "
            "(`xrv weights info NAME` says which). Download them with `xrv weights download NAME...` "
            "or `xrv weights download --all`."
        )
        return 0
    print_table([("NAME", "STATE", "FILE", "DETAIL"), *rows])
    print(f"\n{folder}: " + ", ".join(f"{tally[s]} {s}" for s in STATE_MEANING if s in tally))
    for state in STATE_MEANING:
        if state in tally and (state != "missing" or args.names):
            print(f"  {state}: {STATE_MEANING[state]}")
    return 1 if bad else 0


# ----------------------------------------------------------------------------- import


def _import(args: argparse.Namespace) -> int:
    from ..errors import UnknownNameError
    from ..hub import import_file
    from ..models._registry import all_weights, get_weights
    from ..models._validate import content_check

    source = args.file
    if args.name:
        record = get_weights(args.name)
    else:
        record = next((w for w in all_weights() if w.filename == source.name), None)
        if record is None:
            raise UnknownNameError("weights file", source.name, [w.filename for w in all_weights()])
    if args.trust and record.file_format != "torchscript":
        raise UsageError(f"--trust is for TorchScript files; {record.name!r} weights are data, never run")
    # The file is accepted only if it passes what a download must: the published digest, or
    # the content check (format, keys, shapes) that lets its digest be recorded.
    path = import_file(source, record.resource(), args.cache_dir, check=content_check(record))
    if args.trust:
        from ..hub.trust import trust_file

        digest = trust_file(path, args.cache_dir)
        print(f"xrv weights import: trusted {path.name} (SHA-256 {digest}) to run", file=sys.stderr)
    status, _ = _status(record, args.cache_dir, run_check=False)
    print(f"{record.name}\t{status.state}\t{path}")
    return 0
