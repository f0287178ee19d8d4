"""``xrv predict IMAGE|FOLDER|GLOB``: scores for chest X-ray files, one row per image."""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from typing import Any

_DEFAULT_WEIGHTS = "densenet121-res224-all"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="score chest X-ray images with a pre-trained model",
        description="Score PNG/JPEG/DICOM chest X-rays. Prints one row per image: the file, then "
        "one column per pathology the weights were trained on. Unreadable files are reported on "
        "stderr and skipped (exit status 1 at the end).",
    )
    parser.add_argument("inputs", nargs="+", metavar="IMAGE|FOLDER|GLOB")
    parser.add_argument(
        "--weights", default=_DEFAULT_WEIGHTS, help=f"registry name or local weight file (default {_DEFAULT_WEIGHTS})"
    )
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument(
        "--output",
        choices=("probabilities", "calibrated", "logits"),
        default="probabilities",
        help="probabilities (sigmoid), calibrated (operating point mapped to 0.5, as the models' default), or logits",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.add_argument("--cache-dir", default=None, help="weights cache folder")
    parser.set_defaults(func=run)


def _load_model(weights: str, cache_dir: str | None, output: str) -> Any:
    model = load_classifier(weights, cache_dir)
    if output != "calibrated":
        model.op_threshs = None
        model.apply_sigmoid = output == "probabilities"
    return model.optimize_for_inference()


def load_classifier(weights: str, cache_dir: str | None) -> Any:
    """The DenseNet or ResNet named by ``weights`` (registry name or local file), in eval mode."""
    from ..models import _loading
    from ..models.autoencoder import AUTOENCODER
    from ..models.densenet import DenseNet
    from ..models.resnet import ResNet

    record, path = _loading.resolve(weights)
    architecture = record.architecture if record else None
    if path is not None and record is None:
        _, config = _loading.read_file(path)
        architecture = config.get("architecture", "densenet121")
    if record is not None and record.kind == AUTOENCODER:
        from ..errors import UnknownNameError
        from ..models import list_weights

        raise UnknownNameError("classifier weights", weights, list_weights("classifier"))
    cls = ResNet if str(architecture).startswith("resnet") else DenseNet
    return cls(weights=weights, cache_dir=cache_dir).eval()


def run(args: argparse.Namespace) -> int:
    from ..models.predict import expand_inputs, predict_files

    if args.batch_size < 1:
        print("xrv predict: error: --batch-size must be at least 1", file=sys.stderr)
        return 2
    try:
        files = expand_inputs(args.inputs)
    except FileNotFoundError as error:
        print(f"xrv predict: error: {error}", file=sys.stderr)
        return 1
    model = _load_model(args.weights, args.cache_dir, args.output)
    columns = [(i, label) for i, label in enumerate(model.targets) if label]
    rows: list[dict[str, Any]] = []
    failures = 0
    progress = not args.no_progress and len(files) > 1
    for result in predict_files(model, files, batch_size=args.batch_size, progress=progress):
        if result.scores is None:
            failures += 1
            print(f"xrv predict: skipping {result.path}: {result.error}", file=sys.stderr)
            continue
        row: dict[str, Any] = {"image": str(result.path)}
        for index, label in columns:
            value = float(result.scores[index])
            row[label] = None if math.isnan(value) else value
        rows.append(row)
    _write(rows, ["image", *(label for _, label in columns)], args.format)
    if failures:
        print(f"xrv predict: {failures} of {len(files)} files could not be read", file=sys.stderr)
        return 1
    return 0


def _write(rows: list[dict[str, Any]], header: list[str], fmt: str) -> None:
    out = sys.stdout
    if fmt == "json":
        json.dump(rows, out, indent=1)
        out.write("\n")
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        cells = [header] + [[r["image"]] + ["nan" if r[h] is None else f"{r[h]:.4f}" for h in header[1:]] for r in rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
        for row in cells:
            out.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() + "\n")
