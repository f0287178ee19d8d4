"""``xrv evaluate``: per-pathology AUC tables with bootstrap intervals, across datasets.

Each model is scored on each dataset (relabelled to the model's labels); the table is
printed and saved as CSV and Markdown, with ROC curves as PNG. Runs under ``torchrun``
too: each process scores a shard, the table is computed once on the gathered outputs.
"""

from __future__ import annotations

import argparse
from typing import Any

from ._common import add_progress_flag, output_folder

from ._data_args import (
    add_dataset_arguments, check_dataset_arguments, count, datasets_from_arguments, load_model, setup_device,
)

_EXAMPLE = """\
examples:
  xrv evaluate --weights densenet121-res224-all --dataset nih --imgpath NIH/images-224 \\
               --dataset pc --imgpath PC/images-224
  xrv evaluate --weights runs/x/best.safetensors --config runs/x/config.toml --split test
  torchrun --nproc_per_node=8 -m xrayvision evaluate --weights all --dataset chex --imgpath CheXpert-v1.0"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="AUC per pathology with 95%% bootstrap intervals, across datasets",
        description=__doc__, epilog=_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--weights", action="append", required=True, metavar="NAME|FILE",
                        help="a registry name or a weight file (repeat to compare models)")  # fmt: skip
    add_dataset_arguments(parser, default_split="test")
    parser.add_argument("--out", type=output_folder, default="xrv-evaluation", help="folder for auc.csv, auc.md and the ROC curves")
    parser.add_argument("--bootstrap", type=count(0), default=1000, help="bootstrap resamples (0: no intervals)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    parser.add_argument("--batch-size", type=count(1), default=32)
    parser.add_argument("--workers", type=count(0), default=2, help="DataLoader workers per process")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda")
    add_progress_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    import pandas as pd

    from ..train import distributed
    from ..train.evaluation import Evaluation, evaluate_model, scoring_mode

    check_dataset_arguments(args)
    context = setup_device(args.device)
    try:
        results, built = [], {}  # datasets per resolution: models of one size share them
        for weights in args.weights:
            model = scoring_mode(load_model(weights, args.config)).to(context.device)
            resolution = int(getattr(model, "input_resolution", None) or 224)
            if resolution not in built:
                built[resolution] = datasets_from_arguments(args, resolution)
            datasets = built[resolution]
            results.append(evaluate_model(
                model, datasets, name=weights, context=context, batch_size=args.batch_size, workers=args.workers,
                bootstrap=args.bootstrap, seed=args.seed, progress=not args.no_progress,
            ))  # fmt: skip
        if context.is_main:
            merged = Evaluation(pd.concat([r.table for r in results], ignore_index=True),
                                {k: v for r in results for k, v in r.curves.items()})  # fmt: skip
            print(merged.markdown())
            for note in dict.fromkeys(n for r in results for n in r.notes):
                print(f"xrv evaluate: note: {note}", file=sys.stderr)
            written = merged.save(args.out)
            print(f"saved {', '.join(str(p) for p in written.values())}")
    finally:
        distributed.teardown(context)
    return 0
