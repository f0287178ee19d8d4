"""The training configuration: a TOML file checked against typed dataclasses.

``xrv train run.toml --set optim.lr=3e-4`` reads ``run.toml``, applies the overrides
and builds a :class:`TrainConfig`. Every key is checked: an unknown key names the
closest valid ones, a wrong type names the key, the expected type and the value found.

Example::

    [run]
    out = "runs/nih-pc"
    seed = 0

    [[data.datasets]]
    name = "nih"
    imgpath = "NIH/images-224"

    [[data.datasets]]
    name = "pc"
    imgpath = "PC/images-224"

    [model]
    architecture = "densenet121"

    [optim]
    epochs = 10
    batch_size = 64
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


@dataclass
class DatasetSpec:
    """One dataset of the training mix.

    Attributes:
        name: a dataset class (``"NIH_Dataset"``) or its short name (``"nih"``).
        imgpath: the image folder (empty for generated datasets).
        csvpath: the metadata table, when not the shipped one.
        views: views to keep (default: the dataset's own default).
        unique_patients: keep one image per patient (the reference trained with False).
        domain: the domain this dataset belongs to for balanced sampling (default: its
            name).
        role: ``"split"`` (split by patient with ``data.split``), or ``"train"``,
            ``"valid"``, ``"test"`` to use the whole dataset as that split (for sets that
            come with their own splits, e.g. a covariate-shift study's test set).
        options: any other constructor keywords of the dataset class.
    """

    name: str
    imgpath: str = ""
    csvpath: str | None = None
    views: list[str] | None = None
    unique_patients: bool = False
    domain: str | None = None
    role: Literal["split", "train", "valid", "test"] = "split"
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunConfig:
    """Where the run writes, and how it runs.

    Attributes:
        out: output folder (checkpoints, weight sets, metrics, curves).
        seed: the seed of everything random in the run (splits, order, augmentation, init).
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        amp: mixed precision: ``"auto"`` (bfloat16 on a GPU that supports it, else
            float16 with a gradient scaler; off on the CPU), ``"off"``, ``"bf16"``, ``"fp16"``.
        channels_last: ``"auto"`` (on GPU), ``"on"`` or ``"off"``.
        workers: DataLoader worker processes per rank.
        progress: show a progress bar (rank 0 only).
        checkpoint_every: optimiser steps between checkpoints (0: at the end of each epoch).
        eval_every: epochs between validations.
        sync_batchnorm: use SyncBatchNorm across ranks (GPU only).
    """

    out: str = "runs/xrv"
    seed: int = 0
    device: str = "auto"
    amp: Literal["auto", "off", "bf16", "fp16"] = "auto"
    channels_last: Literal["auto", "on", "off"] = "auto"
    workers: int = 4
    progress: bool = True
    checkpoint_every: int = 0
    eval_every: int = 1
    sync_batchnorm: bool = False


@dataclass
class DataConfig:
    """What the model learns from.

    Attributes:
        datasets: the training mix (each split by patient, then merged).
        pathologies: the label columns (default: the 18 of ``default_pathologies``);
            every dataset is relabelled to them, NaN where it has no such label.
        resolution: side of the square images (center crop, then resize).
        split: fractions of patients for (train, valid, test); the reference's
            64 / 16 / 20 by default.
        augment: the paper's random affine augmentation on the training split.
        degrees, translate, scale: its ranges (paper: 45°, 15 %, 0.85-1.15).
    """

    datasets: list[DatasetSpec] = field(default_factory=list)
    pathologies: list[str] | None = None
    resolution: int = 224
    split: list[float] = field(default_factory=lambda: [0.64, 0.16, 0.20])
    augment: bool = True
    degrees: float = 45.0
    translate: float = 0.15
    scale: list[float] = field(default_factory=lambda: [0.85, 1.15])


@dataclass
class ModelConfig:
    """The network.

    Attributes:
        architecture: ``"densenet121"`` (or another DenseNet), ``"resnet50"``,
            ``"resnet101"``; ignored when ``factory`` is set.
        weights: start from these weights (a registry name or a weight file): fine-tuning.
            The head is replaced when its labels differ from ``data.pathologies``.
        factory: ``"package.module:function"`` returning any ``nn.Module`` that maps
            ``[B, 1, R, R]`` to ``[B, len(pathologies)]`` logits.
        options: keywords for the architecture or the factory (e.g. a small DenseNet's
            ``growth_rate``, ``block_config``, ``num_init_features``).
        freeze_features: train only the classifier head (the paper's transfer example);
            the frozen layers keep their BatchNorm statistics as well.
    """

    architecture: str = "densenet121"
    weights: str | None = None
    factory: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    freeze_features: bool = False


@dataclass
class OptimConfig:
    """Optimisation.

    Attributes:
        optimizer: ``"adam"`` (the reference: AMSGrad, weight decay 1e-5) or ``"adamw"``.
        lr: peak learning rate.
        weight_decay: weight decay.
        amsgrad: the AMSGrad variant.
        schedule: ``"cosine"`` (after warm-up, down to ``min_lr``) or ``"constant"``.
        warmup_steps: linear warm-up from ``lr * warmup_start`` over this many steps.
        warmup_start: fraction of ``lr`` the warm-up starts at.
        min_lr: floor of the cosine schedule.
        epochs: passes over the training split (or ``sampling.steps_per_epoch`` steps).
        max_steps: stop after this many optimiser steps (0: no limit).
        batch_size: images per optimiser step, over all ranks and accumulation steps.
        accumulate: micro-batches per optimiser step (gradient accumulation).
        task_weights: weight each task by its rarity (the reference's formula).
        grad_clip: clip the gradient norm to this value (0: off).
    """

    optimizer: Literal["adam", "adamw"] = "adam"
    lr: float = 1e-3
    weight_decay: float = 1e-5
    amsgrad: bool = True
    schedule: Literal["cosine", "constant"] = "cosine"
    warmup_steps: int = 0
    warmup_start: float = 0.01
    min_lr: float = 0.0
    epochs: int = 10
    max_steps: int = 0
    batch_size: int = 64
    accumulate: int = 1
    task_weights: bool = True
    grad_clip: float = 0.0


@dataclass
class SamplingConfig:
    """How training batches are drawn.

    Attributes:
        balanced: every step takes the same number of images from each domain
            ("Multi-Domain Balanced Sampling Improves Out-of-Distribution Generalization").
        domain: what a domain is: ``"dataset"`` (each entry of ``data.datasets``, or its
            ``domain`` name) or a ``csv`` column (e.g. the phantom's ``"site"``).
        steps_per_epoch: steps of a balanced epoch (0: the largest domain seen once).
    """

    balanced: bool = False
    domain: str = "dataset"
    steps_per_epoch: int = 0


@dataclass
class GuidanceConfig:
    """Mask-guided training ("Saliency is a Possible Red Herring", spec methods.md §2).

    Attributes:
        method: ``"none"``, ``"actdiff"``, ``"gradmask"``, ``"rrr"``, ``"adversarial"``,
            ``"masked_input"`` (train on images zeroed outside the ROI) or
            ``"shuffled_input"`` (outside pixels shuffled).
        weight: λ of the added term.
        masks: where the ROI comes from: ``"pathology"`` (the union of a sample's
            pathology masks; images without one contribute only the classification loss)
            or ``"ellipse"`` (the paper's fixed central ellipse for every image).
        layer: the module whose output ActDiff and the adversarial critic compare (default:
            the input of the last linear layer, the pooled features).
        disc_lr: the critic's learning rate (adversarial).
        disc_every: the classifier steps once every this many steps (adversarial).
        disc_hidden: the critic's hidden widths.
    """

    method: Literal["none", "actdiff", "gradmask", "rrr", "adversarial", "masked_input", "shuffled_input"] = "none"
    weight: float = 1.0
    masks: Literal["pathology", "ellipse"] = "pathology"
    layer: str = ""
    disc_lr: float = 1e-3
    disc_every: int = 1
    disc_hidden: list[int] = field(default_factory=lambda: [1024, 1024, 1024])


@dataclass
class TrainConfig:
    """A whole training run; see the module docstring for the file format."""

    run: RunConfig = field(default_factory=RunConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    guidance: GuidanceConfig = field(default_factory=GuidanceConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (TOML-writable once None values are dropped)."""
        return dataclasses.asdict(self)

    def check(self) -> TrainConfig:
        """Check values that types cannot express; returns ``self``.

        Raises:
            ConfigError: a value out of range or an inconsistent combination.
        """
        o, d, r = self.optim, self.data, self.run
        if not r.out.strip():
            raise ConfigError("run.out is empty: set it to the folder the run writes to (e.g. runs/nih)")
        if not (math.isfinite(o.lr) and o.lr > 0):
            raise ConfigError(f"optim.lr must be a finite number above 0, got {o.lr} (the reference used 1e-3)")
        for key, value in {"optim.weight_decay": o.weight_decay, "optim.min_lr": o.min_lr, "optim.grad_clip": o.grad_clip,
                           "optim.warmup_start": o.warmup_start, "guidance.weight": self.guidance.weight,
                           "guidance.disc_lr": self.guidance.disc_lr}.items():  # fmt: skip
            if not math.isfinite(value):
                raise ConfigError(f"{key} must be a finite number, got {value}")
        positive = {"optim.batch_size": o.batch_size, "optim.accumulate": o.accumulate, "optim.epochs": o.epochs,
                    "data.resolution": d.resolution, "run.eval_every": r.eval_every}  # fmt: skip
        for key, value in positive.items():
            if value < 1:
                raise ConfigError(f"{key} must be at least 1, got {value}")
        for key, value in {"optim.lr": o.lr, "optim.weight_decay": o.weight_decay, "optim.min_lr": o.min_lr,
                           "optim.max_steps": o.max_steps, "optim.warmup_steps": o.warmup_steps,
                           "optim.grad_clip": o.grad_clip, "run.workers": r.workers,
                           "run.checkpoint_every": r.checkpoint_every}.items():  # fmt: skip
            if value < 0:
                raise ConfigError(f"{key} must not be negative, got {value}")
        if o.batch_size % o.accumulate:
            raise ConfigError(
                f"optim.batch_size ({o.batch_size}) must be a multiple of optim.accumulate ({o.accumulate})"
            )
        if len(d.split) != 3 or any(not 0 <= f <= 1 for f in d.split) or abs(sum(d.split) - 1) > 1e-6:
            raise ConfigError(f"data.split must be three fractions (train, valid, test) summing to 1, got {d.split}")
        if d.split[0] == 0:
            raise ConfigError(
                f"data.split {d.split} gives no patient to training (its first fraction, train, is 0); e.g. "
                "[0.64, 0.16, 0.20]. A dataset used whole for validation or testing takes role = \"valid\" or \"test\""
            )
        if d.pathologies is not None and not d.pathologies:
            raise ConfigError(
                "data.pathologies is empty: list the labels to learn, or leave it out for the default ones"
            )
        if len(d.scale) != 2 or not 0 < d.scale[0] <= d.scale[1]:
            raise ConfigError(f"data.scale must be [low, high] with 0 < low <= high, got {d.scale}")
        if self.guidance.disc_every < 1 or self.guidance.weight < 0:
            raise ConfigError("guidance.disc_every must be at least 1 and guidance.weight not negative")
        if not d.datasets:
            raise ConfigError("data.datasets is empty: add at least one [[data.datasets]] table with a name")
        return self


# --------------------------------------------------------------------------- parsing


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " or ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        absent = " (or left out)" if len(options) < len(typing.get_args(tp)) else ""
        return " or ".join(_type_name(a) for a in options) + absent
    if origin is list:
        item = _type_name(typing.get_args(tp)[0])
        return "a list of " + {"a string": "strings", "an integer": "integers", "a number": "numbers"}.get(item, item)
    if origin is dict:
        return "a table"
    if dataclasses.is_dataclass(tp):
        return "a table"
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false", type(None): "absent"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _convert(value: Any, tp: Any, where: str) -> Any:
    """``value`` as type ``tp``, or ConfigError naming ``where``."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in typing.get_args(tp):
            return None
        for option in typing.get_args(tp):
            if option is type(None):
                continue
            try:
                return _convert(value, option, where)
            except ConfigError:
                continue
    elif origin is Literal:
        if value in typing.get_args(tp):
            return value
    elif origin is list:
        if isinstance(value, list):
            (item,) = typing.get_args(tp)
            return [_convert(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    elif origin is dict:
        if isinstance(value, dict):
            return dict(value)
    elif dataclasses.is_dataclass(tp):
        if isinstance(value, dict):
            return _build(tp, value, where)
    elif tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")


def _build(cls: type, table: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in table:
        if key not in hints:
            close = difflib.get_close_matches(str(key), names, n=2, cutoff=0.5)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            if not where:  # the sections are few: list them once, in the place
                raise ConfigError(f"unknown key {key!r} in the top level (sections: {', '.join(names)}){hint}")
            valid = f" Valid keys: {', '.join(names)}" if hint else f"; valid keys: {', '.join(names)}"
            raise ConfigError(f"unknown key {key!r} in [{where}]{hint}{valid}")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in table:
            kwargs[f.name] = _convert(table[f.name], hints[f.name], f"{where}.{f.name}" if where else f.name)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"[{where}] needs the key {f.name!r}")
    return cls(**kwargs)


def _parse_value(text: str) -> Any:
    """A ``--set`` value: a TOML value (``3e-4``, ``true``, ``["PA"]``), else a string."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def apply_override(table: dict[str, Any], assignment: str) -> None:
    """Apply ``"section.key=value"`` (``data.datasets.0.imgpath=...`` for list items) in place.

    Raises:
        ConfigError: not ``key=value``, or a path through a missing list item.
    """
    key, sep, text = assignment.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {assignment!r}: expected KEY=VALUE, e.g. optim.lr=3e-4")
    parts = key.strip().split(".")
    node: Any = table
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"--set {assignment!r}: {'.'.join(parts[:i])} has no item {part}")
            node = node[int(part)]
        else:
            node = node.setdefault(part, {})
        if not isinstance(node, (dict, list)):
            raise ConfigError(f"--set {assignment!r}: {'.'.join(parts[: i + 1])} is a value, not a table")
    last = parts[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise ConfigError(f"--set {assignment!r}: no list item {last}")
        node[int(last)] = _parse_value(text)
    else:
        node[last] = _parse_value(text)


def config_from_dict(table: dict[str, Any], overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """Build and check a :class:`TrainConfig` from a nested dict plus ``--set`` overrides.

    Raises:
        ConfigError: unknown keys, wrong types or invalid values.
    """
    import copy

    table = copy.deepcopy(table)
    for assignment in overrides:
        apply_override(table, assignment)
    return _build(TrainConfig, table, "").check()


def load_config(path: str | os.PathLike[str], overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """Read a TOML training configuration.

    Args:
        path: the ``.toml`` file.
        overrides: ``"section.key=value"`` assignments applied after reading.

    Returns:
        The checked configuration.

    Raises:
        ConfigError: the file is missing, is not valid TOML, or holds invalid settings
            (the message names the file and the key).
    """
    path = Path(path).expanduser()
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a folder; give the .toml file (e.g. {path / 'config.toml'})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    try:
        return config_from_dict(table, overrides)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def to_toml(config: TrainConfig) -> str:
    """The configuration as TOML text (what ``xrv train`` saves beside its outputs)."""
    lines: list[str] = []

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k} = {value(x)}" for k, x in v.items() if x is not None) + "}"
        return repr(v)

    def table(name: str, items: dict[str, Any]) -> None:
        lines.append(f"[{name}]")
        lines.extend(f"{k} = {value(v)}" for k, v in items.items() if v is not None and not _is_table_list(v))
        lines.append("")

    for section, items in config.to_dict().items():
        table(section, items)
        for k, v in items.items():
            if _is_table_list(v):
                for item in v:
                    table(f"[{section}.{k}]", item)
    return "\n".join(lines)


def _is_table_list(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)
