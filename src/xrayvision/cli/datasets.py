"""``xrv datasets``: list the dataset classes, summarise one, verify its image files.

* ``xrv datasets list [NAME]``: every ``*_Dataset`` class of :mod:`xrayvision.datasets`
  with its card (source, licence, layout, labels), read from the class itself so it stays
  true; with a NAME, that dataset's whole card.
* ``xrv datasets summary NAME --imgpath DIR [--csvpath FILE] [--views V ...] [key=value ...]``:
  build the dataset and print its size, label totals and skipped rows.
* ``xrv datasets verify NAME --imgpath DIR [--csvpath FILE] [key=value ...]``: find
  images the metadata lists that are missing or cannot be decoded; exit status 1 if any.
* ``xrv datasets resize NAME --imgpath DIR --out OUT [--size 224] [--workers N] [--fast-jpeg]``:
  write the centre-cropped, resized copy of every listed image (see
  :mod:`xrayvision.datasets.resize`); exit status 1 if an image is missing or unreadable.
* ``xrv datasets metadata list | download KEY...|--all | import FILE``: the metadata
  tables the datasets read by default (see :mod:`xrayvision.cli.metadata`).
"""

from __future__ import annotations

import argparse
import ast
import inspect
import math
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import DatasetError, ImageReadError, MissingImageError
from . import metadata
from ._common import UsageError, add_progress_flag, output_folder, plain_text, wrapped

#: Card fields shown by ``list``, in order.
CARD_FIELDS = ("source", "licence", "layout", "labels")
#: Constructor arguments set by an ``xrv datasets`` flag rather than KEY=VALUE.
FLAGS = {"imgpath": "--imgpath DIR", "csvpath": "--csvpath FILE", "views": "--views V[,V...]"}
#: Problems listed in full by ``verify`` before it only counts them.
MAX_LISTED = 20


# ---------------------------------------------------------------------------- discovery


def dataset_classes() -> dict[str, Any]:
    """``{class name: class or ImportError}`` for every registered dataset and old class
    name (``VinBrain_Dataset``), in listing order (:func:`xrayvision.datasets.list_datasets`).

    A class whose module cannot be imported maps to the error, so ``list`` can say so
    instead of failing.
    """
    from ..datasets._registry import DATASETS

    out: dict[str, Any] = {}
    for record in DATASETS:
        try:
            cls: Any = record.load()
        except (ImportError, AttributeError) as err:
            cls = err
        for name in (record.name, *record.aliases):
            if name.endswith("_Dataset"):
                out[name] = cls
    return out


def find_class(name: str) -> type:
    """The dataset class called ``name`` (a class name or a short name such as ``nih``,
    any letter case, ``_Dataset`` optional).

    Raises:
        UnknownNameError: no such dataset.
        DatasetError: its module cannot be imported here.
    """
    from ..datasets import get_dataset_class

    try:
        return get_dataset_class(name)
    except (ImportError, AttributeError) as err:
        raise DatasetError(f"dataset {name} is not available in this installation: {err}") from err


def card(cls: type) -> dict[str, str]:
    """The dataset card of ``cls``: its ``card`` attribute, else fields parsed from its docstring.

    The docstring's first line is the title; ``**Source**:``, ``**Licence**:`` ... markers
    (the house style of dataset docstrings) fill the other fields when there is no ``card``.
    """
    doc = inspect.getdoc(cls) or ""
    info = {"title": doc.splitlines()[0] if doc else cls.__name__}
    declared = getattr(cls, "card", None)
    if isinstance(declared, dict):
        info.update({k: str(v) for k, v in declared.items()})
        return info
    paragraphs = [" ".join(p.split()) for p in doc.split("\n\n")]
    for field in CARD_FIELDS:
        markers = [f"**{field}**", f"**{field.replace('licence', 'license')}**"]
        for paragraph in paragraphs:
            lower = paragraph.lower()
            at = min((lower.find(m) for m in markers if m in lower), default=-1)
            if at >= 0:
                text = paragraph[at:].split(":", 1)[-1].strip()
                info[field] = text.split(" **")[0].strip()
                break
    return info


# ---------------------------------------------------------------------------- arguments


def _parse_value(text: str) -> Any:
    """``"3"`` -> 3, ``"True"`` -> True, ``"None"`` -> None, ``"[1, 2]"`` -> list, else the text."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _keyword_options(pairs: list[str]) -> dict[str, Any]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise DatasetError(f"option {pair!r} is not KEY=VALUE (e.g. unique_patients=False)")
        options[key] = _parse_value(value)
    return options


def build_dataset(args: argparse.Namespace, *, everything: bool = False) -> Any:
    """Construct ``args.name`` from ``--imgpath``, ``--csvpath``, ``--views`` and KEY=VALUE options.

    With ``everything``, arguments the user left out default to all rows: every view and,
    where the class has ``unique_patients``, every image of each patient.
    """
    cls = find_class(args.name)
    kwargs = _keyword_options(args.options)
    accepted = inspect.signature(cls.__init__).parameters
    _require_arguments(cls, accepted, kwargs, args)
    if everything:
        if "views" in accepted and args.views is None:
            kwargs.setdefault("views", "*")
        if "unique_patients" in accepted:
            kwargs.setdefault("unique_patients", False)
    for flag in ("imgpath", "csvpath", "views"):
        value = getattr(args, flag, None)
        if value is None:
            continue
        if flag not in accepted:
            raise DatasetError(f"{cls.__name__} has no {flag} argument; its arguments: "
                               f"{', '.join(p for p in accepted if p != 'self')}")
        kwargs[flag] = value
    try:
        return cls(**kwargs)
    except TypeError as err:  # an unknown KEY=VALUE
        raise DatasetError(f"{cls.__name__}: {err}") from err


def _require_arguments(cls: type, accepted: Any, kwargs: dict[str, Any], args: argparse.Namespace) -> None:
    """Name the flag (or KEY=VALUE) of every required constructor argument left out."""
    for name, parameter in accepted.items():
        if name == "self" or parameter.default is not inspect.Parameter.empty:
            continue
        if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        if name in kwargs or getattr(args, name, None) is not None:
            continue
        raise UsageError(f"{cls.__name__} needs {FLAGS.get(name, f'{name}=VALUE')}")


# ---------------------------------------------------------------------------- commands


def run_list(args: argparse.Namespace) -> int:
    if args.name:
        return _print_whole_card(args.name)
    seen: dict[int, str] = {}
    for name, cls in dataset_classes().items():
        if isinstance(cls, Exception):
            print(f"{name}\n    (not available: {cls})")
            continue
        if id(cls) in seen:
            print(f"{name}\n    alias of {seen[id(cls)]}")
            continue
        seen[id(cls)] = name
        info = card(cls)
        print(f"{name}: {plain_text(info['title'])}")
        for field in CARD_FIELDS:
            if info.get(field):
                print(wrapped(plain_text(" ".join(info[field].split())), f"    {field + ':':9}"))
    print("\n(`xrv datasets list NAME` prints a dataset's whole card)")
    return 0


def _print_whole_card(name: str) -> int:
    cls = find_class(name)
    declared = getattr(cls, "card", None)
    print(f"{cls.__name__}\n")
    if isinstance(declared, dict):  # a card given as data: its fields, then the docstring
        for field, value in declared.items():
            print(f"{field}: {plain_text(str(value))}")
        print()
    print(plain_text(inspect.getdoc(cls) or "(no description)"))
    return 0


def _format_count(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return str(int(number)) if math.isfinite(number) and number.is_integer() else f"{number:g}"


def run_summary(args: argparse.Namespace) -> int:
    dataset = build_dataset(args)
    print(dataset.string())
    print(f"items: {len(dataset)}")
    totals = dataset.totals()
    width = max((len(p) for p in totals), default=0)
    for name, counts in totals.items():
        shown = ", ".join(f"{_format_count(v)}: {c}" for v, c in sorted(counts.items(), key=lambda kv: kv[0]))
        print(f"  {name:<{width}}  {shown or '(no known values)'}")
    skipped = getattr(dataset, "skipped", {})
    for reason, count in skipped.items():
        print(f"skipped {count}: {reason}")
    return 0


def _image_paths(dataset: Any) -> tuple[list[Path], list[str]] | None:
    """Each item's file, and the items whose metadata names none (their errors)."""
    locate: Callable[[int], Any] | None = getattr(dataset, "_image_path", None)
    if locate is None:
        return None
    paths, unnamed = [], []
    for i in range(len(dataset)):
        try:
            paths.append(Path(locate(i)))
        except MissingImageError as err:
            unnamed.append(str(err))
    return paths, unnamed


def _existing(dataset: Any, path: Path) -> Path | None:
    """``path``, or its file in a resized copy (another extension), if either exists."""
    if os.path.isfile(path):
        return path
    from ..datasets.resize import copy_file

    folder = Path(dataset.imgpath)
    return copy_file(folder, path.relative_to(folder).as_posix()) if path.is_relative_to(folder) else None


def _progress(items: list[Any], desc: str, quiet: bool) -> Iterator[Any]:
    from tqdm import tqdm

    return iter(tqdm(items, desc=desc, unit="img", file=sys.stderr, disable=quiet or None))


def run_verify(args: argparse.Namespace) -> int:
    from ..io import read_image

    cls = find_class(args.name)
    if args.imgpath is not None and not os.path.exists(args.imgpath):
        # Said once, instead of once per image the metadata lists.
        raise DatasetError(
            f"--imgpath {args.imgpath} does not exist: give the folder that holds {cls.__name__}'s images"
        )
    dataset = build_dataset(args, everything=True)
    missing: list[str] = []
    unreadable: list[tuple[str, str]] = []
    located = _image_paths(dataset)
    paths = None if located is None else located[0]
    if located is not None:
        unique = list(dict.fromkeys(located[0]))
        # Fast path: a stat per file first, so a wrong imgpath is reported in seconds.
        present = []
        for path in unique:
            found = _existing(dataset, path)
            if found is None:
                missing.append(str(path))
            else:
                present.append(found)
        missing += located[1]
        checked = len(unique) + len(located[1])
        if not args.no_decode:
            for path in _progress(present, "decoding", args.no_progress):
                try:
                    read_image(path)
                except ImageReadError as err:
                    unreadable.append((str(path), err.reason))
    else:  # the class cannot say where its files are: read every item
        checked = len(dataset)
        for index in _progress(list(range(len(dataset))), "reading", args.no_progress):
            try:
                dataset._read_image(index)
            except MissingImageError as err:
                missing.append(str(err))
            except ImageReadError as err:
                unreadable.append((str(err.path), err.reason))
    decoded = "existence only" if args.no_decode and paths is not None else "existence and decoding"
    print(f"{type(dataset).__name__}: checked {checked} image(s) ({decoded}): "
          f"{len(missing)} missing, {len(unreadable)} unreadable")
    for path in missing[:MAX_LISTED]:
        print(f"  missing: {path}")
    if len(missing) > MAX_LISTED:
        print(f"  ... and {len(missing) - MAX_LISTED} more missing")
    for path, reason in unreadable[:MAX_LISTED]:
        print(f"  unreadable: {path}: {reason}")
    if len(unreadable) > MAX_LISTED:
        print(f"  ... and {len(unreadable) - MAX_LISTED} more unreadable")
    if missing and paths is not None and len(missing) == checked:
        print(f"  no listed image was found: is --imgpath {args.imgpath} the right folder?")
    return 1 if missing or unreadable else 0


def _usable_cpus() -> int:
    """CPUs this process may run on (respects affinity, e.g. a SLURM allocation)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def run_resize(args: argparse.Namespace) -> int:
    from ..datasets.resize import resize_dataset

    dataset = build_dataset(args, everything=True)
    report = resize_dataset(dataset, args.out, size=args.size, bits=args.bits, workers=args.workers,
                            fast_jpeg=args.fast_jpeg, progress=not args.no_progress)  # fmt: skip
    print(f"{type(dataset).__name__}: {report.summary(MAX_LISTED)}")
    return 0 if report.complete else 1


# ---------------------------------------------------------------------------- parser


class _KeyValueParser(argparse.ArgumentParser):
    """Accepts KEY=VALUE options anywhere, also after ``--views`` (argparse alone would not)."""

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        namespace, extras = super().parse_known_args(args, namespace)
        if hasattr(namespace, "options"):
            namespace.options = list(namespace.options or [])
            stray = [e for e in extras if "=" in e and not e.startswith("-")]
            namespace.options.extend(stray)
            extras = [e for e in extras if e not in stray]
        return namespace, extras


def _view_list(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def _add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="dataset class, e.g. NIH_Dataset or nih")
    parser.add_argument("--imgpath", help="folder of the images")
    parser.add_argument("--csvpath", help="metadata file (default: the class's own)")
    parser.add_argument("options", nargs="*", metavar="KEY=VALUE",
                        help="other constructor arguments, e.g. unique_patients=False")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``xrv datasets`` and its ``list`` / ``summary`` / ``verify`` / ``resize`` subcommands."""
    parser = subparsers.add_parser("datasets", help="list, summarise and verify datasets",
                                   description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="datasets_command", metavar="SUBCOMMAND",
                                     parser_class=_KeyValueParser)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])

    listing = commands.add_parser("list", help="every dataset class with its card, or one dataset's whole card")
    listing.add_argument("name", nargs="?", metavar="NAME", help="a dataset class, e.g. NIH_Dataset or nih")
    listing.set_defaults(func=run_list)

    summary = commands.add_parser("summary", help="build a dataset and print its totals")
    _add_dataset_arguments(summary)
    summary.add_argument("--views", action="extend", type=_view_list,
                         help="views to keep, comma-separated or repeated (default: the class's)")
    summary.set_defaults(func=run_summary)

    verify = commands.add_parser("verify", help="report listed images that are missing or unreadable")
    _add_dataset_arguments(verify)
    verify.add_argument("--views", action="extend", type=_view_list,
                        help="views to check, comma-separated or repeated (default: all)")
    verify.add_argument("--no-decode", action="store_true", help="only check that the files exist")
    add_progress_flag(verify)
    verify.set_defaults(func=run_verify)

    resize = commands.add_parser("resize", help="write a centre-cropped, resized copy of the images")
    _add_dataset_arguments(resize)
    resize.add_argument("--out", required=True, type=output_folder, help="folder of the copy (rerun to resume)")
    resize.add_argument("--size", type=int, default=224, help="output side in pixels (default 224)")
    resize.add_argument("--bits", type=int, choices=(16, 8), default=16,
                        help="PNG depth: 16 keeps values within 0.016 (default), 8 within 4.02")
    resize.add_argument("--workers", type=int, default=_usable_cpus(),
                        help="processes (default: every CPU this process may use)")
    resize.add_argument("--fast-jpeg", action="store_true",
                        help="decode JPEGs at reduced scale: faster, small differences (see the docs)")
    resize.add_argument("--views", action="extend", type=_view_list,
                        help="views to copy, comma-separated or repeated (default: all)")
    add_progress_flag(resize)
    resize.set_defaults(func=run_resize)
    metadata.register(commands)
