"""Dataset options shared by ``xrv evaluate`` and ``xrv calibrate``.

Datasets are given one group at a time: ``--dataset`` starts a group and the options
after it belong to it::

    --dataset nih --imgpath NIH/images-224 --dataset pc --imgpath PC/images-224 --csvpath pc.csv

or taken from a training run: ``--config runs/x/config.toml --split test``.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import ConfigError


class _DatasetGroup(argparse.Action):
    """``--dataset`` opens a group; ``--imgpath`` / ``--csvpath`` / ``--views`` / ``--option`` fill the last one."""

    def __call__(self, parser: Any, namespace: argparse.Namespace, values: Any, option_string: str | None = None) -> None:
        groups = getattr(namespace, "datasets", None) or []
        if self.dest == "name":
            groups.append({"name": values})
        elif not groups:
            parser.error(f"{option_string} must follow the --dataset it belongs to")
        elif self.dest == "option":
            key, sep, value = values.partition("=")
            if not sep:
                parser.error(f"--option expects KEY=VALUE, got {values!r}")
            from ..train.config import _parse_value

            groups[-1].setdefault("options", {})[key] = _parse_value(value)
        elif self.dest in groups[-1]:
            parser.error(f"{option_string} given twice for --dataset {groups[-1]['name']}")
        else:
            groups[-1][self.dest] = values
        namespace.datasets = groups


def add_dataset_arguments(parser: argparse.ArgumentParser, default_split: str) -> None:
    """Add the dataset group options and the ``--config``/``--split`` alternative."""
    group = parser.add_argument_group("datasets (repeat --dataset for several)")
    group.add_argument("--dataset", dest="name", action=_DatasetGroup, metavar="NAME",
                       help="a dataset class or short name (nih, pc, chex, ...); starts a group")  # fmt: skip
    group.add_argument("--imgpath", dest="imgpath", action=_DatasetGroup, metavar="DIR", help="its image folder")
    group.add_argument("--csvpath", dest="csvpath", action=_DatasetGroup, metavar="FILE", help="its metadata table")
    group.add_argument("--views", dest="views", action=_DatasetGroup, metavar="V1,V2", help="views to keep, comma-separated")
    group.add_argument("--option", dest="option", action=_DatasetGroup, metavar="KEY=VALUE",
                       help="another keyword of the dataset class")  # fmt: skip
    group.add_argument("--config", help="take the datasets of a training run (its config.toml)")
    group.add_argument("--split", choices=("train", "valid", "test", "all"), default=default_split,
                       help=f"with --config: which patient split (default: {default_split})")  # fmt: skip
    parser.set_defaults(datasets=None)


def datasets_from_arguments(args: argparse.Namespace, resolution: int) -> dict[str, Any]:
    """``{name: dataset}`` from the options, images cropped and resized to ``resolution``.

    Raises:
        ConfigError: neither datasets nor ``--config`` given, or both; a dataset cannot be built.
    """
    from ..train.config import DatasetSpec, load_config
    from ..train.data import build_dataset, build_training_data, pixel_transform

    groups = args.datasets or []
    if bool(groups) == bool(args.config):
        raise ConfigError("give either --dataset NAME --imgpath DIR (repeatable) or --config RUN/config.toml")
    if args.config:
        config = load_config(args.config, [f"data.resolution={resolution}", "data.augment=false"])
        data = build_training_data(config.data, config.run.seed, "dataset")
        if args.split == "all":
            from ..datasets import MergeDataset

            parts = [d for d in (data.train, data.valid, data.test) if d is not None]
            return {f"{' + '.join(s.name for s in config.data.datasets)} (all)": MergeDataset(parts)}
        chosen = getattr(data, args.split)
        if chosen is None:
            raise ConfigError(f"the run {args.config} has no {args.split} split (its data.split gives it no patients)")
        return {f"{' + '.join(s.name for s in config.data.datasets)} ({args.split})": chosen}
    datasets = {}
    transform = pixel_transform(resolution)
    for i, group in enumerate(groups):
        views = group.get("views")
        spec = DatasetSpec(name=group["name"], imgpath=group.get("imgpath", ""), csvpath=group.get("csvpath"),
                           views=views.split(",") if views else None, options=group.get("options", {}))  # fmt: skip
        label = group["name"] if group["name"] not in datasets else f"{group['name']}#{i}"
        datasets[label] = build_dataset(spec, transform, where=f"--dataset {group['name']}")
    return datasets
