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

from ._common import add_progress_flag

from ._data_args import add_dataset_arguments, datasets_from_arguments

_EXAMPLE = """\
examples:
  xrv calibrate --weights runs/x/best.safetensors --config runs/x/config.toml --split test --out runs/x/calibrated
  xrv calibrate --weights densenet121-res224-all --dataset nih --imgpath NIH/images-224 --out nih-calibrated"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "calibrate", help="compute op_threshs (Youden's J) and 80%%-precision thresholds on held-out data",
        description=__doc__, epilog=_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--weights", required=True, metavar="NAME|FILE", help="a registry name or a weight file")
    add_dataset_arguments(parser, default_split="test")
    parser.add_argument("--out", required=True, metavar="BASE",
                        help="where to save the calibrated weight set (BASE.safetensors + BASE.json)")  # fmt: skip
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="auto")
    add_progress_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..models import get_model
    from ..models._loading import save_model
    from ..train import distributed
    from ..train.calibration import calibrate, describe

    context = distributed.setup(args.device)
    try:
        model = get_model(args.weights).to(context.device)
        datasets = datasets_from_arguments(args, int(getattr(model, "input_resolution", None) or 224))
        result = calibrate(model, datasets, context=context, batch_size=args.batch_size, workers=args.workers,
                           progress=not args.no_progress)  # fmt: skip
        if context.is_main:
            print(describe(result))
            result.apply(model)
            saved = save_model(model.cpu(), Path(args.out), ppv80_thres=result.ppv80_thres,
                               calibration={"weights": args.weights, "datasets": list(datasets),
                                            "method": "Youden's J on probabilities (one sigmoid)"})  # fmt: skip
            print(f"calibrated weight set: {saved} (+ {saved.with_suffix('.json').name})")
    finally:
        distributed.teardown(context)
    return 0
