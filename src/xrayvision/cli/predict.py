"""``xrv predict IMAGE|FOLDER|GLOB``: scores for chest X-ray files, one row per image."""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from typing import Any

from ._common import UsageError, add_progress_flag

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
        help="probabilities (sigmoid, or softmax for single-label baselines), calibrated (operating "
        "point mapped to 0.5, as the core models' default), or logits; a regression model (riken "
        "age) prints its one output",
    )
    add_progress_flag(parser)
    parser.add_argument("--cache-dir", default=None, help="weights cache folder")
    parser.set_defaults(func=run)


def _load_model(weights: str, cache_dir: str | None, output: str) -> Any:
    model = load_classifier(weights, cache_dir)
    _set_output(model, output)
    optimize = getattr(model, "optimize_for_inference", None)
    return optimize() if optimize is not None else model


def _set_output(model: Any, output: str) -> None:
    """Put ``model`` in the output mode asked for on the command line."""
    from ..errors import UnknownNameError

    modes = getattr(model, "output_modes", None)
    if modes is None:  # the core classifiers: calibration and sigmoid switches
        if output == "calibrated" and getattr(model, "op_threshs", None) is None:
            raise UsageError(
                "--output calibrated: these weights have no calibration thresholds (op_threshs); "
                "use --output probabilities, or compute thresholds with `xrv calibrate`"
            )
        if output != "calibrated":
            model.op_threshs = None
            model.apply_sigmoid = output == "probabilities"
        return
    if output in modes:
        model.output = output
    elif output != "probabilities":
        # "probabilities" is only the default: a regression model keeps its one output.
        raise UnknownNameError(f"--output of {model!r}", output, modes)


def load_classifier(weights: str, cache_dir: str | None) -> Any:
    """The classifier (core or baseline, or a weight file) named by ``weights``, in eval mode.

    Raises:
        UnknownNameError: ``weights`` names no classifier (a segmentation model, an
            autoencoder, an unknown name); the message lists the classifiers.
    """
    from ..errors import UnknownNameError
    from ..models._builders import list_models, resolve_entry

    entry, _ = resolve_entry(weights)
    if entry.task == "segmentation":
        raise UsageError(f"{weights} is a segmentation model, not a classifier: use `xrv segment`")
    if entry.task not in ("classification", "regression"):
        raise UnknownNameError("classifier", weights, list_models("classification") + list_models("regression"))
    return entry.builder(weights=weights, cache_dir=cache_dir).eval()


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
