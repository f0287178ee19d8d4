"""``xrv explain IMAGE...``: attribution maps and Latent Shift counterfactuals as files.

For each image and method it writes ``<stem>-<method>.png`` (the map over the image),
for Latent Shift also ``<stem>-latentshift.gif`` (and ``.mp4`` with ``--mp4``), and with
``--report`` one self-contained ``report.html`` holding everything.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ._common import output_folder

_DEFAULT_WEIGHTS = "densenet121-res224-all"
_DEFAULT_AUTOENCODER = "101-elastic"
#: Command-line method names -> library method names.
_METHODS = {
    "latentshift": "latentshift",
    "gradient": "gradient",
    "ixg": "input_x_gradient",
    "ig": "integrated_gradients",
    "guided": "guided_backprop",
    "gradcam": "gradcam",
    "occlusion": "occlusion",
    "smoothgrad": "smoothgrad",
}


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
        "--method", action="append", choices=sorted(_METHODS), metavar="METHOD",
        help=f"repeat for several; one of {', '.join(_METHODS)} (default: gradient)",
    )  # fmt: skip
    parser.add_argument("--weights", default=_DEFAULT_WEIGHTS, help=f"classifier: registry name or file (default {_DEFAULT_WEIGHTS})")
    parser.add_argument(
        "--autoencoder", default=_DEFAULT_AUTOENCODER,
        help=f"for latentshift: autoencoder weights, registry name or file (default {_DEFAULT_AUTOENCODER})",
    )  # fmt: skip
    parser.add_argument("--out", type=output_folder, default=Path("xrv-explain"), help="output folder (default ./xrv-explain)")
    parser.add_argument("--report", action="store_true", help="also write a self-contained report.html")
    parser.add_argument(
        "--output", choices=("model", "logit", "probability", "calibrated"), default="model",
        help="the output explained (default: what the model returns, calibrated for the published weights)",
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
    from ..models.autoencoder import ResNetAE

    try:
        return ResNetAE(weights=name, cache_dir=cache_dir)
    except DownloadError as error:
        raise OfflineError(
            f"Latent Shift needs an autoencoder, and {name!r} could not be obtained ({error}). Either: "
            f"download it once where there is internet (xrv weights download {name}) and copy it here "
            f"(xrv weights import FILE); or pass --autoencoder FILE, a ResNetAE checkpoint you trained "
            f"(xrv.models.save_model); or leave latentshift out of --method"
        ) from error


def run(args: argparse.Namespace) -> int:
    import torch

    from ..explain import FixedRange, LatentShift, ReportEntry, attribute, postprocess, save_overlay, write_report
    from ..explain._targets import resolve_target
    from ..models._preprocess import WeightsTransform
    from ..models.predict import expand_inputs
    from .predict import load_classifier

    methods = list(dict.fromkeys(args.method or ["gradient"]))
    try:
        files = expand_inputs(args.inputs)
    except FileNotFoundError as error:
        print(f"xrv explain: error: {error}", file=sys.stderr)
        return 1
    model = load_classifier(args.weights, args.cache_dir)
    resolve_target(args.target, model.targets)  # a wrong name fails before any work
    explainer = None
    if "latentshift" in methods:
        autoencoder = load_autoencoder(args.autoencoder, args.cache_dir)
        search = FixedRange(*args.lambda_range) if args.lambda_range else args.search
        explainer = LatentShift(model, autoencoder, search=search, output=args.output, sigmoid=args.sigmoid)
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
            scores = model(image)[0].tolist()
        predictions = {label: value for label, value in zip(model.targets, scores) if label}
        maps, counterfactual, written = {}, None, []
        for method in methods:
            if method == "latentshift":
                (counterfactual,) = explainer.attribute(image, args.target)
                raw = torch.from_numpy(counterfactual.heatmap(args.heatmap))
                written.append(counterfactual.save_gif(args.out / f"{path.stem}-latentshift.gif", side_by_side=True))
                if args.mp4:
                    written.append(counterfactual.save_mp4(args.out / f"{path.stem}-latentshift.mp4", side_by_side=True))
            else:
                raw = attribute(model, image, args.target, _METHODS[method], output=args.output)[0].sum(0)
            shown = postprocess(raw, abs=True, sigma=args.sigma, percentile=args.percentile)
            maps[method] = shown
            title = f"{args.target} ({predictions.get(args.target, float('nan')):.2f}): {method}"
            written.append(save_overlay(args.out / f"{path.stem}-{method}.png", image[0], shown, title=title))
        print(f"{path}: {args.target} = {predictions.get(args.target, float('nan')):.3f}; wrote "
              + ", ".join(str(p) for p in written))  # fmt: skip
        notes = [f"weights {args.weights}; explained output: {explainer.output if explainer else args.output}; "
                 f"maps: absolute value, blur {args.sigma:g} px, values above the {args.percentile:g}th percentile"]
        if explainer:
            notes.append(f"Latent Shift: search {search}, heatmap {args.heatmap}, autoencoder {args.autoencoder}")
        entries.append(ReportEntry(path.name, image[0], args.target, predictions, maps, counterfactual, notes))
    if args.report and entries:
        print(f"report: {write_report(args.out / 'report.html', entries)}")
    if failures:
        print(f"xrv explain: {failures} of {len(files)} files could not be read", file=sys.stderr)
        return 1
    return 0
