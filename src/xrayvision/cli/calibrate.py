"""``xrv calibrate``: operating points (op_threshs) of a classifier from held-out data.

For each pathology: the threshold maximising Youden's J, and the lowest threshold with
80 % precision, both on the model's probabilities (one sigmoid; the reference applied
two). The calibrated model is saved as a weight set whose record holds the thresholds,
so ``get_model(OUT)``, ``xrv predict --weights OUT`` and ``xrv evaluate`` use them.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._common import add_progress_flag, output_folder

from ._data_args import (
    add_dataset_arguments, check_dataset_arguments, count, datasets_from_arguments, load_model, setup_device,
)

_EXAMPLE = """\
examples:
  xrv calibrate --weights runs/x/best.safetensors --config runs/x/config.toml --split test --out runs/x/calibrated
  xrv calibrate --weights densenet121-res224-all --dataset nih --imgpath NIH/images-224 --out nih-calibrated"""


def _base_path(text: str) -> Path:
    """argparse ``type=`` for ``--out BASE``: its folder must not be a file."""
    path = Path(text).expanduser()
    output_folder(str(path.parent))
    return path


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "calibrate", help="compute op_threshs (Youden's J) and 80%%-precision thresholds on held-out data",
        description=__doc__, epilog=_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--weights", required=True, metavar="NAME|FILE", help="a registry name or a weight file")
    add_dataset_arguments(parser, default_split="test")
    parser.add_argument("--out", required=True, metavar="BASE", type=_base_path,
                        help="where to save the calibrated weight set (BASE.safetensors + BASE.json)")  # fmt: skip
    parser.add_argument("--batch-size", type=count(1), default=32)
    parser.add_argument("--workers", type=count(0), default=2)
    parser.add_argument("--device", default="auto")
    add_progress_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import math
    import sys

    from ..errors import DatasetError, WeightsFormatError
    from ..models._loading import save_model
    from ..train import distributed
    from ..train.calibration import calibrate, describe

    check_dataset_arguments(args)
    context = setup_device(args.device)
    try:
        model = load_model(args.weights, args.config).to(context.device)
        if not hasattr(model, "op_threshs"):
            raise WeightsFormatError(
                f"{args.weights}: calibration sets operating points (op_threshs), which only the library's "
                f"classifiers apply; {type(model).__name__} has none"
            )
        datasets = datasets_from_arguments(args, int(getattr(model, "input_resolution", None) or 224))
        result = calibrate(model, datasets, context=context, batch_size=args.batch_size, workers=args.workers,
                           progress=not args.no_progress)  # fmt: skip
        if context.is_main:
            print(describe(result))
            if not result.calibrated:
                raise DatasetError(
                    f"these data calibrate none of the model's outputs ({', '.join(result.uncalibrated)}): "
                    "each needs positive and negative images; nothing was saved"
                )
            for name, why in result.uncalibrated.items():
                print(f"xrv calibrate: warning: {name} is not calibrated ({why}); its output stays the probability",
                      file=sys.stderr)  # fmt: skip
            result.apply(model)
            ppv80 = [None if math.isnan(v) else v for v in result.ppv80_thres]  # JSON has no NaN
            saved = save_model(model.cpu(), Path(args.out), ppv80_thres=ppv80,
                               calibration={"weights": args.weights, "datasets": list(datasets),
                                            "method": "Youden's J on probabilities (one sigmoid)",
                                            "uncalibrated": result.uncalibrated})  # fmt: skip
            print(f"calibrated weight set: {saved} (+ {saved.with_suffix('.json').name})")
    finally:
        distributed.teardown(context)
    return 0
