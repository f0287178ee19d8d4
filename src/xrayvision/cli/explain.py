"""``xrv explain IMAGE...``: attribution maps and Latent Shift counterfactuals as files.

For each image and method it writes ``<stem>-<method>.png`` (the map over the image),
for Latent Shift also ``<stem>-latentshift.gif`` (and ``.mp4`` with ``--mp4``), and with
``--report`` one self-contained ``report.html`` holding everything.

The output explained (and shown as the score) is by default the one ``xrv predict`` shows:
the calibrated score for weights with calibration thresholds, else the probability.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from ._common import UsageError, output_folder

_DEFAULT_WEIGHTS = "densenet121-res224-all"
_DEFAULT_AUTOENCODER = "101-elastic"
#: Command-line method names (short aliases of xrv.explain.attribute's, which resolves them).
_METHODS = ("latentshift", "gradient", "ixg", "ig", "guided", "gradcam", "occlusion", "smoothgrad")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="attribution maps and Latent Shift counterfactuals for chest X-ray images",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("inputs", nargs="+", metavar="IMAGE|FOLDER|GLOB")
    parser.add_argument("--target", required=True, help="pathology to explain, e.g. Effusion")
    parser.add_argument(
        "--method", action="append", choices=sorted(_METHODS), metavar="METHOD", type=str.lower,
        help=f"repeat for several; one of {', '.join(_METHODS)}, any case (default: gradient)",
    )  # fmt: skip
    parser.add_argument("--weights", default=_DEFAULT_WEIGHTS, help=f"classifier: registry name or file (default {_DEFAULT_WEIGHTS})")
    parser.add_argument(
        "--autoencoder", default=_DEFAULT_AUTOENCODER,
        help=f"for latentshift: autoencoder weights, registry name or file (default {_DEFAULT_AUTOENCODER})",
    )  # fmt: skip
    parser.add_argument("--out", type=output_folder, default=Path("xrv-explain"), help="output folder (default ./xrv-explain)")
    parser.add_argument("--report", action="store_true", help="also write a self-contained report.html")
    parser.add_argument(
        "--output", choices=("auto", "model", "logit", "probability", "calibrated"), default="auto", type=str.lower,
        help="the output explained and shown: auto (default) is calibrated for weights with calibration "
        "thresholds (the published ones), else probability (weights from xrv train, whose model returns "
        "logits; softmax for single-label baselines); model is exactly what the model returns",
    )  # fmt: skip
    parser.add_argument("--search", default="paper", choices=("paper", "head", "package", "captum"), help="Latent Shift λ search")
    parser.add_argument(
        "--lambda-range", nargs=2, type=float, metavar=("LO", "HI"),
        help="Latent Shift: no search, 11 frames from LO to HI (e.g. -75 75)",
    )  # fmt: skip
    parser.add_argument("--sigmoid", action="store_true", help="Latent Shift: the later published code's extra sigmoid")
    parser.add_argument("--heatmap", default="int", choices=("int", "max", "mean", "mm"), help="Latent Shift 2-D map")
    parser.add_argument("--sigma", type=float, default=0.0, help="Gaussian blur of the maps, pixels (default 0)")
    parser.add_argument("--percentile", type=float, default=95.0, help="show map values above this percentile (default 95)")
    parser.add_argument("--mp4", action="store_true", help="also write the Latent Shift video as MP4 (needs PyAV)")
    parser.add_argument("--cache-dir", default=None, help="weights cache folder")
    parser.set_defaults(func=run)


def load_autoencoder(name: str, cache_dir: str | None) -> Any:
    """The autoencoder for Latent Shift, or an error that says how to get one offline.

    Raises:
        OfflineError: the weights are not cached and cannot be downloaded (the message
            lists the ways to provide an autoencoder).
    """
    from ..errors import DownloadError, OfflineError
    from ..models._builders import resolve_entry
    from ..models.autoencoder import ResNetAE

    try:
        entry, _ = resolve_entry(name)
        # A registered autoencoder or a weight set of one is built by its own builder; a plain
        # checkpoint file says nothing of its network: the published architecture, ResNetAE.
        build = entry.builder if entry.task == "autoencoder" else ResNetAE
        return build(weights=name, cache_dir=cache_dir)
    except DownloadError as error:
        raise OfflineError(
            f"Latent Shift needs an autoencoder, and {name!r} could not be obtained ({error}). Either: "
            f"download it once where there is internet (xrv weights download {name}) and copy it here "
            f"(xrv weights import FILE); or pass --autoencoder FILE, an autoencoder you trained and saved "
            f"(xrv.models.save_model: a ResNetAE or a ConvAutoencoder); or leave latentshift out of --method"
        ) from error


def image_files(inputs: list[str]) -> list[Path]:
    """The image files named by ``inputs`` (files, folders, globs).

    Raises:
        FileNotFoundError: an input matches nothing, or a folder holds no image file
            (subfolders are not searched: the message says so when they hold images).
    """
    from ..models.predict import expand_inputs

    return list(dict.fromkeys(expand_inputs(inputs)))  # a file named twice is explained once


def _check_unique_names(files: list[Path], out: Path) -> None:
    """Refuse two inputs whose outputs would share a name (``<stem>-<method>.png``): one
    would silently replace the other."""
    stems: dict[str, Path] = {}
    for path in files:
        if path.stem in stems:
            raise UsageError(
                f"{stems[path.stem]} and {path} would both write to {out}/{path.stem}-*; "
                "explain them in separate runs (different --out) or rename one"
            )
        stems[path.stem] = path


def resolve_output(model: Any, output: str, target: str) -> str:
    """The output to explain for ``--output``: ``auto`` resolved for ``model``, and
    ``calibrated`` refused where it is undefined, in command-line words.

    Raises:
        UsageError: ``--output calibrated`` for weights without calibration thresholds,
            or for a target without one.
    """
    from ..explain._targets import default_output

    if output == "auto":
        return default_output(model)
    if output == "calibrated":
        thresholds = getattr(model, "op_threshs", None)
        if thresholds is None:
            raise UsageError(
                "--output calibrated needs calibration thresholds, and these weights have none; "
                "use --output probability (or --output logit)"
            )
        index = list(model.targets).index(target)
        if index < len(thresholds) and math.isnan(float(thresholds[index])):
            raise UsageError(
                f"--output calibrated: {target} has no calibration threshold in these weights, so its calibrated "
                "score is undefined; use --output probability (or --output logit)"
            )
    return output


def _search(args: argparse.Namespace) -> Any:
    """The Latent Shift search of ``--search`` / ``--lambda-range`` (a usage error for a bad range)."""
    from ..explain import FixedRange

    if not args.lambda_range:
        return args.search
    lo, hi = args.lambda_range
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        raise UsageError(f"--lambda-range LO HI must be finite numbers with LO <= HI, got {lo:g} {hi:g}")
    return FixedRange(lo, hi)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..explain import (
        ClassifierOutput,
        LatentShift,
        ReportEntry,
        attribute,
        postprocess,
        save_overlay,
        write_report,
    )
    from ..explain._targets import resolve_target
    from ..explain.media import require_pyav
    from ..models._preprocess import WeightsTransform
    from .predict import load_classifier

    methods = list(dict.fromkeys(args.method or ["gradient"]))
    search = _search(args) if "latentshift" in methods else None
    if args.mp4 and "latentshift" in methods:
        require_pyav()  # before any work, not after the first GIF
    try:
        files = image_files(args.inputs)
    except FileNotFoundError as error:
        print(f"xrv explain: error: {error}", file=sys.stderr)
        return 1
    _check_unique_names(files, args.out)
    model = load_classifier(args.weights, args.cache_dir)
    resolve_target(args.target, model.targets)  # a wrong name fails before any work
    output = resolve_output(model, args.output, args.target)
    scores_of = ClassifierOutput(model, output)
    explainer = None
    if "latentshift" in methods:
        autoencoder = load_autoencoder(args.autoencoder, args.cache_dir)
        explainer = LatentShift(model, autoencoder, search=search, output=output, sigmoid=args.sigmoid)
    transform = WeightsTransform(getattr(model, "input_resolution", None) or 224)
    args.out.mkdir(parents=True, exist_ok=True)
    entries, failures = [], 0
    for path in files:
        try:
            image = transform(path)
        except (OSError, ValueError) as error:
            failures += 1
            print(f"xrv explain: skipping {path}: {error}", file=sys.stderr)
            continue
        with torch.no_grad():
            scores = scores_of(image)[0].tolist()  # the explained output, not necessarily model(x)
        predictions = {label: value for label, value in zip(model.targets, scores) if label}
        score = predictions.get(args.target, float("nan"))
        maps, counterfactual, written = {}, None, []
        for method in methods:
            if method == "latentshift":
                (counterfactual,) = explainer.attribute(image, args.target)
                raw = torch.from_numpy(counterfactual.heatmap(args.heatmap))
                written.append(counterfactual.save_gif(args.out / f"{path.stem}-latentshift.gif", side_by_side=True))
                if args.mp4:
                    written.append(counterfactual.save_mp4(args.out / f"{path.stem}-latentshift.mp4", side_by_side=True))
            else:
                raw = attribute(model, image, args.target, method, output=output)[0].sum(0)
            shown = postprocess(raw, abs=True, sigma=args.sigma, percentile=args.percentile)
            maps[method] = shown
            title = f"{args.target} ({output} {score:.2f}): {method}"
            written.append(save_overlay(args.out / f"{path.stem}-{method}.png", image[0], shown, title=title))
        print(f"{path}: {args.target} = {score:.3f} ({output}); wrote " + ", ".join(str(p) for p in written))
        explained = explainer.output if explainer else output
        maps_note = f"absolute value, blur {args.sigma:g} px, values above the {args.percentile:g}th percentile"
        notes = [f"weights {args.weights}; explained output: {explained}; maps: {maps_note}"]
        if explainer:
            notes.append(f"Latent Shift: search {search}, heatmap {args.heatmap}, autoencoder {args.autoencoder}")
        entries.append(ReportEntry(path.name, image[0], args.target, predictions, maps, counterfactual, notes))
    if args.report and entries:
        print(f"report: {write_report(args.out / 'report.html', entries)}")
    if failures:
        print(f"xrv explain: {failures} of {len(files)} files could not be read", file=sys.stderr)
        return 1
    return 0
