"""``xrv train CONFIG.toml [--set KEY=VALUE ...] [--resume]``: train a classifier.

Runs alone or under ``torchrun`` (``torchrun --nproc_per_node=4 -m xrayvision train run.toml``).
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from ._common import add_progress_flag

_EXAMPLE = """\
example:
  xrv train run.toml --set optim.lr=3e-4 --set run.out=runs/lr3e-4
  torchrun --nproc_per_node=4 -m xrayvision train run.toml     # 4 processes (GPUs or CPUs)

See docs/training.md for the configuration keys and a SLURM example."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a classifier from a TOML configuration (one process or many under torchrun)",
        description=__doc__,
        epilog=_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("config", help="the TOML configuration file")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a setting, e.g. optim.lr=3e-4 or data.datasets.0.imgpath=NIH/images-224 (repeatable)",
    )  # fmt: skip
    parser.add_argument("--resume", action="store_true", help="continue the run in run.out from its last state")
    add_progress_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..train import Trainer, load_config

    overrides = list(args.overrides) + (["run.progress=false"] if args.no_progress else [])
    config = load_config(args.config, overrides)
    result = Trainer(config).fit(resume=args.resume)
    import os

    if int(os.environ.get("RANK", "0")) == 0:
        best = "no validation split" if math.isnan(result.best_metric) else f"{result.best_metric:.4f} at step {result.best_step}"
        print(f"trained {result.steps} steps; best mean validation AUC: {best}")
        print(f"best weights: {result.best_weights}")
        print(f"last weights: {result.last_weights}")
        print(f"metrics:      {result.out / 'metrics.jsonl'} (curves: {result.out / 'curves.png'})")
    return 0
