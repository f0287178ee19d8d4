"""From the ``[data]`` section to train / valid / test datasets.

Each dataset is built by name with the deterministic transform (center crop, resize),
relabelled to the run's pathologies, split by patient with the run's seed, and the
splits of all datasets are merged. Augmentation is applied by :class:`SeededSamples`
with a seed carried by each sample's key, so a sample looks the same whichever worker,
rank or restarted process loads it (the basis of exact resume).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..errors import ConfigError, UnknownNameError, XRVError
from .config import DataConfig, DatasetSpec
from .covariate import build_covariate, covariate_spec, is_covariate
from .covariate import describe as describe_covariate
from .failures import SampleFailure, in_worker
from .splits import SPLITS, patient_split


def dataset_class(name: str) -> type:
    """The dataset class called ``name``: a class name (``"NIH_Dataset"``) or a short name
    of the dataset registry, the reference training script's included (``"nih"``, ``"pc"``,
    ``"chex"``, ``"kaggle"``, ``"phantom"``; see :func:`xrayvision.datasets.get_dataset_class`).

    Raises:
        ConfigError: no such dataset (the message lists the valid names).
    """
    from ..datasets import get_dataset_class

    if not isinstance(name, str):
        raise ConfigError(f"unknown dataset {name!r}: a dataset is named by a string, e.g. 'nih'")
    try:
        return get_dataset_class(name)
    except UnknownNameError as err:
        raise ConfigError(str(err)) from None


def build_dataset(spec: DatasetSpec, transform: Callable[[Any], Any] | None, where: str = "data.datasets",
                  masks: bool = False) -> Any:  # fmt: skip
    """Construct one dataset of the mix.

    Args:
        spec: the dataset's settings.
        transform: its deterministic pixel transform.
        where: how messages name it.
        masks: also return pathology masks (for mask-guided training).

    Raises:
        ConfigError: unknown dataset, missing image folder, a keyword the class does not
            take (the message lists those it takes), or masks asked of a dataset without any.
    """
    cls = dataset_class(spec.name)
    accepted = inspect.signature(cls.__init__).parameters
    kwargs: dict[str, Any] = dict(spec.options)
    if masks:
        if "pathology_masks" not in accepted:
            raise ConfigError(
                f"{where}: mask-guided training needs pathology masks and {cls.__name__} has none; use a dataset "
                "with masks (NIH with boxes, RSNA, SIIM, CheXlocalize, the phantoms) or guidance.masks = \"ellipse\""
            )
        kwargs["pathology_masks"] = True
    if spec.imgpath:
        if not Path(spec.imgpath).expanduser().is_dir():
            raise ConfigError(f"{where}: imgpath {spec.imgpath!r} of {spec.name} is not a folder")
        kwargs["imgpath"] = spec.imgpath
    if spec.csvpath is not None:
        if not Path(spec.csvpath).expanduser().exists():
            raise ConfigError(f"{where}: csvpath {spec.csvpath!r} of {spec.name} does not exist")
        kwargs["csvpath"] = spec.csvpath
    if spec.views is not None:
        kwargs["views"] = spec.views
    if "unique_patients" in accepted:
        kwargs["unique_patients"] = spec.unique_patients
    kwargs["transform"] = transform
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
    unknown = [k for k in kwargs if k not in accepted and not takes_any]
    if unknown:
        valid = [k for k in accepted if k != "self"]
        raise ConfigError(f"{where}: {cls.__name__} takes no {', '.join(map(repr, unknown))}; it takes {', '.join(valid)}")
    required = [name for name, p in accepted.items() if name != "self" and p.default is inspect.Parameter.empty
                and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name not in kwargs]  # fmt: skip
    if "imgpath" in required:
        raise ConfigError(
            f"{where}: imgpath is required: {cls.__name__} reads its images from a folder (set imgpath in its "
            "table of the config; on the command line, --imgpath DIR after --dataset)"
        )
    if required:
        raise ConfigError(f"{where}: {cls.__name__} needs {', '.join(required)} (set them in its options)")
    try:
        return cls(**kwargs)
    except XRVError as err:
        raise ConfigError(f"{where}: could not build {cls.__name__}: {err}") from err


def pixel_transform(resolution: int) -> Any:
    """Center crop then resize to ``resolution`` (the paper's deterministic preprocessing)."""
    from ..transforms import Compose, XRayCenterCrop, XRayResizer

    return Compose([XRayCenterCrop(), XRayResizer(resolution)])


def augmentation(config: DataConfig) -> Any:
    """The paper's random affine augmentation with the configured ranges, or None."""
    from ..transforms import RandomAffine

    if not config.augment:
        return None
    return RandomAffine(config.degrees, (config.translate, config.translate), tuple(config.scale))


@dataclass
class TrainingData:
    """The datasets of a run, relabelled and split by patient.

    Attributes:
        train, valid, test: merged splits (``valid``/``test`` None when their fraction is 0).
        pathologies: the label columns of every split.
        domains: domain index of every training row (balanced sampling).
        domain_names: the name of each domain index.
        assignments: one row per image of every dataset: ``dataset``, ``row``,
            ``patientid``, ``split`` (written to ``splits.csv`` by the trainer).
        sources: short description of each dataset (saved in the weight set).
    """

    train: Any
    valid: Any
    test: Any
    pathologies: list[str]
    domains: np.ndarray
    domain_names: list[str]
    assignments: pd.DataFrame
    sources: list[str] = field(default_factory=list)


def _labelled_somewhere(pathologies: list[str], datasets: list[Any], offered: dict[str, list[str]], default: bool) -> None:
    missing = [name for j, name in enumerate(pathologies)
               if not any(np.isfinite(np.asarray(d.labels)[:, j]).any() for d in datasets)]  # fmt: skip
    if not missing:
        return
    shown = ", ".join(map(repr, missing))
    if default:
        labelled = [name for name in pathologies if name not in missing]
        raise ConfigError(
            f"data.pathologies is not set, so the {len(pathologies)} default pathologies are used, and none of the "
            f"datasets ({offered}) labels {shown}; set data.pathologies to the labels to learn, e.g. {labelled}"
        )
    one = len(missing) == 1
    raise ConfigError(
        f"data.pathologies: {shown} {'is' if one else 'are'} labelled by none of the datasets ({offered}); "
        f"remove {'it' if one else 'them'} or add a dataset that labels {'it' if one else 'them'}"
    )


def build_training_data(config: DataConfig, seed: int, domain: str = "dataset", masks: bool = False) -> TrainingData:
    """Build, relabel, split by patient and merge the datasets of ``config``.

    A ``covariate`` entry (see :mod:`xrayvision.train.covariate`) brings its own train /
    valid / test splits; every other entry is split by patient with ``config.split`` (or
    used whole as the split its ``role`` names).

    Args:
        config: the ``[data]`` section.
        seed: the run's seed (the patient split depends on it and on nothing else).
        domain: ``"dataset"`` or a ``csv`` column naming each row's domain.
        masks: build the datasets with their pathology masks.

    Raises:
        ConfigError: a dataset cannot be built, a pathology no dataset labels, an empty
            training split, or an unknown domain column.
    """
    from ..datasets import MergeDataset, relabel_dataset

    if not config.datasets:
        raise ConfigError("data.datasets is empty: add at least one dataset")
    pathologies = _run_pathologies(config)
    transform = pixel_transform(config.resolution)

    def build_site(spec: DatasetSpec, where: str) -> Any:
        dataset = build_dataset(spec, transform, where=where, masks=masks)
        if len(dataset) == 0:
            raise ConfigError(f"{where} has no images after its view and row selection")
        return dataset

    parts: dict[str, list[Any]] = {s: [] for s in SPLITS}
    offered: dict[str, list[str]] = {}
    labelled, assignments, domain_parts = [], [], []
    domain_names: list[str] = []
    for i, spec in enumerate(config.datasets):
        where = f"data.datasets[{i}] ({spec.name})"
        if is_covariate(spec):
            pieces, table = build_covariate(spec, build_site, seed, where)
            offered[spec.name] = [covariate_spec(spec, where).target]
            for piece in pieces.values():
                relabel_dataset(pathologies, piece, silent=True)
        else:
            dataset = build_site(spec, where)
            offered[spec.name] = list(dataset.pathologies)
            relabel_dataset(pathologies, dataset, silent=True)
            pieces, table = _split_dataset(spec, dataset, config.split, seed)
        assignments.append(table.assign(dataset=i)[["dataset", "name", "row", "patientid", "split"]])
        labelled.extend(pieces.values())
        for split, piece in pieces.items():
            if len(piece):
                parts[split].append(piece)
        if domain == "dataset":
            label = spec.domain or spec.name
            if label not in domain_names:
                domain_names.append(label)
            train_rows = len(pieces["train"]) if "train" in pieces else 0
            domain_parts.append(np.full(train_rows, domain_names.index(label), dtype=np.int64))
    from_default = not config.pathologies and not all(is_covariate(spec) for spec in config.datasets)
    _labelled_somewhere(pathologies, labelled, offered, from_default)
    if not parts["train"]:
        raise ConfigError("the training split is empty: the datasets have too few patients for data.split")
    merged = {s: (MergeDataset(p) if p else None) for s, p in parts.items()}
    if domain == "dataset":
        domains = np.concatenate(domain_parts)
    else:
        if domain not in merged["train"].csv.columns:
            raise ConfigError(
                f"sampling.domain: no column {domain!r} in the training data; columns: {', '.join(merged['train'].csv.columns)}"
            )
        codes, names = pd.factorize(merged["train"].csv[domain], sort=True)
        if (codes < 0).any():
            raise ConfigError(f"sampling.domain: column {domain!r} has missing values; every row needs a domain")
        domains, domain_names = codes.astype(np.int64), [str(n) for n in names]
    sources = [
        describe_covariate(spec) if is_covariate(spec) else spec.name + (f" ({spec.imgpath})" if spec.imgpath else "")
        for spec in config.datasets
    ]
    return TrainingData(
        train=merged["train"], valid=merged["valid"], test=merged["test"], pathologies=pathologies,
        domains=domains, domain_names=domain_names, assignments=pd.concat(assignments, ignore_index=True),
        sources=sources,
    )  # fmt: skip


def _run_pathologies(config: DataConfig) -> list[str]:
    """``data.pathologies``; unset: the targets when every entry is a covariate study, else
    the 18 default pathologies."""
    from ..datasets import default_pathologies

    if config.pathologies:
        return list(config.pathologies)
    if all(is_covariate(spec) for spec in config.datasets):
        targets = [covariate_spec(spec, f"data.datasets[{i}]").target for i, spec in enumerate(config.datasets)]
        return list(dict.fromkeys(targets))
    return list(default_pathologies)


def _split_dataset(spec: DatasetSpec, dataset: Any, fractions: list[float], seed: int) -> tuple[dict[str, Any], pd.DataFrame]:
    """A dataset split by patient (``role = "split"``) or taken whole as one split."""
    from ..datasets import SubsetDataset

    ids = dataset.csv["patientid"] if "patientid" in dataset.csv else pd.Series([None] * len(dataset))
    if spec.role == "split":
        codes = patient_split(ids, fractions, seed)
    else:
        codes = np.full(len(dataset), SPLITS.index(spec.role), dtype=np.int8)
    table = pd.DataFrame({"name": spec.name, "row": np.arange(len(dataset)), "patientid": ids.to_numpy(),
                          "split": np.asarray(SPLITS)[codes]})  # fmt: skip
    pieces = {split: SubsetDataset(dataset, np.flatnonzero(codes == k)) for k, split in enumerate(SPLITS)}
    return pieces, table


class SeededSamples(torch.utils.data.Dataset):
    """Samples of ``dataset`` keyed by ``(index, seed)``: the seed drives the augmentation.

    Only what training needs is kept: ``img`` (float32 ``[1, R, R]``), ``lab``,
    ``idx`` and ``domain``. A plain integer key means "no augmentation".

    Args:
        dataset: a dataset without ``data_aug`` (augmentation happens here).
        augmentation: a joint transform (e.g. :class:`~xrayvision.transforms.RandomAffine`) or None.
        domains: the domain index of each row (default: all 0).
        keep_masks: also return ``pathology_masks`` (for mask-guided losses).
    """

    def __init__(self, dataset: Any, augmentation: Any = None, domains: np.ndarray | None = None, keep_masks: bool = False):
        self.dataset = dataset
        self.augmentation = augmentation
        self.domains = np.zeros(len(dataset), dtype=np.int64) if domains is None else np.asarray(domains, dtype=np.int64)
        self.keep_masks = keep_masks

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any] | SampleFailure:
        """The sample; in a DataLoader worker, a library error comes back as a
        :class:`~xrayvision.train.failures.SampleFailure` (raised again by the main process)."""
        index, seed = (key, None) if isinstance(key, (int, np.integer)) else key
        try:
            return self._load(int(index), seed)
        except XRVError as error:
            if not in_worker():
                raise
            return SampleFailure.of(error, int(index))

    def _load(self, index: int, seed: int | None) -> dict[str, Any]:
        from ..transforms import apply_transforms

        sample = self.dataset[index]
        if self.augmentation is not None and seed is not None:
            sample = apply_transforms(sample, self.augmentation, seed=int(seed))
        out = {
            "img": torch.as_tensor(np.ascontiguousarray(sample["img"], dtype=np.float32)),
            "lab": torch.as_tensor(np.asarray(sample["lab"], dtype=np.float32)),
            "idx": int(index),
            "domain": int(self.domains[int(index)]),
        }
        if self.keep_masks:
            out["pathology_masks"] = sample.get("pathology_masks", {})
        return out


def collate(samples: list[dict[str, Any] | SampleFailure]) -> dict[str, Any] | SampleFailure:
    """Stack images and labels; indices and domains as int64 tensors; masks as a list.
    A sample that failed in a worker becomes the batch (the main process raises its error)."""
    for sample in samples:
        if isinstance(sample, SampleFailure):
            return sample
    batch: dict[str, Any] = {
        "img": torch.stack([s["img"] for s in samples]),
        "lab": torch.stack([s["lab"] for s in samples]),
        "idx": torch.tensor([s["idx"] for s in samples], dtype=torch.int64),
        "domain": torch.tensor([s["domain"] for s in samples], dtype=torch.int64),
    }
    if samples and "pathology_masks" in samples[0]:
        batch["pathology_masks"] = [s["pathology_masks"] for s in samples]
    return batch
