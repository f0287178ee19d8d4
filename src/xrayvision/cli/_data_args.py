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
from ._common import UsageError


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
    group.add_argument("--split", choices=("train", "valid", "test", "all"), default=None,
                       help=f"with --config: which patient split (default: {default_split})")  # fmt: skip
    parser.set_defaults(datasets=None, default_split=default_split)


def count(minimum: int):  # noqa: ANN201 - an argparse type
    """argparse ``type=``: an integer of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def setup_device(device: str) -> Any:
    """The process context for ``--device`` (errors name the flag, not the config key)."""
    from ..train import distributed

    try:
        return distributed.setup(device, setting="--device")
    except ConfigError as error:
        raise UsageError(str(error)) from error


def load_model(weights: str, config_path: str | None) -> Any:
    """The model of ``--weights``. A weight set of a network built by a factory
    (``model.factory`` of a training run) is rebuilt from the run's ``--config``, which
    names that factory: the user chose to run it; a weight file alone never runs code.

    Raises:
        WeightsFormatError: a factory weight set without the ``--config`` of its run.
    """
    from pathlib import Path

    from ..errors import WeightsFormatError
    from ..models import get_model
    from ..models._loading import load_weight_set, weight_set_config

    try:
        return get_model(weights)
    except WeightsFormatError:
        record = weight_set_config(Path(weights)) if Path(weights).is_file() else {}
        factory = (record.get("recipe") or {}).get("factory")
        if not factory:
            raise
        if config_path is None:
            raise WeightsFormatError(
                f"{weights} holds a network built by the factory {factory!r}: pass --config RUN/config.toml, "
                "the configuration of the run that trained it, to rebuild that network"
            ) from None
    from ..train.config import load_config
    from ..train.model import build_model

    config = load_config(config_path)
    if config.model.factory != factory:
        raise WeightsFormatError(f"{weights} was built by {factory!r}, but {config_path} names {config.model.factory!r}")
    labels = list(record.get("labels") or [])
    return load_weight_set(weights, build_model(config.model, labels, config.data.resolution, config.run.seed))


def check_dataset_arguments(args: argparse.Namespace) -> None:
    """Refuse contradictory dataset options before any work (loading a model takes a while).

    Raises:
        ConfigError: neither datasets nor ``--config`` given, or both.
        UsageError: ``--split`` without ``--config``.
    """
    if bool(args.datasets) == bool(args.config):
        raise ConfigError("give either --dataset NAME --imgpath DIR (repeatable) or --config RUN/config.toml")
    if args.split is not None and not args.config:
        raise UsageError("--split chooses a split of a training run: it needs --config RUN/config.toml")


def datasets_from_arguments(args: argparse.Namespace, resolution: int) -> dict[str, Any]:
    """``{name: dataset}`` from the options, images cropped and resized to ``resolution``.

    The options were checked by :func:`check_dataset_arguments` (the commands call it first).

    Raises:
        ConfigError: a dataset cannot be built.
    """
    from ..train.config import DatasetSpec, load_config
    from ..train.data import build_dataset, build_training_data, pixel_transform

    groups = args.datasets or []
    split = args.split or args.default_split
    if args.config:
        config = load_config(args.config, [f"data.resolution={resolution}", "data.augment=false"])
        data = build_training_data(config.data, config.run.seed, "dataset")
        if split == "all":
            from ..datasets import MergeDataset

            parts = [d for d in (data.train, data.valid, data.test) if d is not None]
            return {f"{' + '.join(s.name for s in config.data.datasets)} (all)": MergeDataset(parts)}
        chosen = getattr(data, split)
        if chosen is None:
            raise ConfigError(f"the run {args.config} has no {split} split (its data.split gives it no patients)")
        return {f"{' + '.join(s.name for s in config.data.datasets)} ({split})": chosen}
    datasets = {}
    transform = pixel_transform(resolution)
    for i, group in enumerate(groups):
        views = group.get("views")
        spec = DatasetSpec(name=group["name"], imgpath=group.get("imgpath", ""), csvpath=group.get("csvpath"),
                           views=views.split(",") if views else None, options=group.get("options", {}))  # fmt: skip
        label = group["name"] if group["name"] not in datasets else f"{group['name']}#{i}"
        datasets[label] = build_dataset(spec, transform, where=f"--dataset {group['name']}")
    return datasets
