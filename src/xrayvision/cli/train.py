"""``xrv train CONFIG.toml [--set KEY=VALUE ...] [--resume]``: train a classifier.

Runs alone or under ``torchrun`` (``torchrun --nproc_per_node=4 -m xrayvision train run.toml``).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
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
    trainer = Trainer(config)
    main_process = int(os.environ.get("RANK", "0")) == 0
    try:
        result = trainer.fit(resume=args.resume)
    except KeyboardInterrupt:
        if main_process:
            print(f"xrv train: interrupted; {trainer.how_to_continue()}", file=sys.stderr)
        return 130
    if main_process:
        if not math.isnan(result.best_metric):
            best = f"{result.best_metric:.4f} at step {result.best_step}"
        elif trainer.data.valid is None:
            best = "no validation split (best weights: the last weights)"
        else:
            best = "no validation AUC (every pathology of the validation split has one class; best weights: the last weights)"
        print(f"trained {result.steps} step{'' if result.steps == 1 else 's'}; best mean validation AUC: {best}")
        print(f"best weights: {result.best_weights}")
        print(f"last weights: {result.last_weights}")
        print(f"metrics:      {result.out / 'metrics.jsonl'} (curves: {result.out / 'curves.png'})")
    return 0
