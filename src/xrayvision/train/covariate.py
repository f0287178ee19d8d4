"""Covariate-shift studies as a training run: a ``covariate`` entry in ``[data]``.

The entry names two sites (each a dataset table like any other entry), the target
pathology and the site/label ratio; its :class:`~xrayvision.datasets.CovariateDataset`
``train``, ``valid`` and ``test`` modes become the run's splits::

    [[data.datasets]]
    name = "covariate"

    [data.datasets.options]
    target = "Cardiomegaly"
    ratio = 0.9                     # train: 90 % of negatives from site0, of positives from site1
    site0 = { name = "nih", imgpath = "NIH/images-224", views = ["PA"] }
    site1 = { name = "pc", imgpath = "PC/images-224", views = ["PA"] }
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ..errors import ConfigError, DatasetError
from .config import DatasetSpec, _build
from .splits import SPLITS

if TYPE_CHECKING:
    from ..datasets import CovariateDataset

#: The ``name`` of a covariate entry.
COVARIATE = "covariate"


@dataclass
class CovariateSpec:
    """The ``options`` of a covariate entry.

    Attributes:
        site0, site1: the two sites, each a dataset table (``name``, ``imgpath``,
            ``views``, ``options``...); they may be two views of one dataset.
        target: the pathology both sites are labelled for (the run's label).
        ratio: in train, the share of negatives from site0 and of positives from site1
            (0.9: a strong site/label correlation; 0.5: none).
        seed: the draw's seed (default: ``run.seed``).
        nsamples: keep at most this many images in each split (0: all).
        splits: the CovariateDataset's train/valid/test fractions (test takes the rest).
        valid_ratio: valid's share of negatives from site0 (default ``1 - ratio``: shifted
            like test; the red-herring paper used ``ratio``).
        selection: ``"patients"`` (no patient in two splits) or ``"reference"``
            (TorchXRayVision's image draw, for reproducing old numbers).
        negatives: ``"absent"`` (every image whose target is 0) or ``"no_finding"`` (only
            images with none of the site dataset's pathologies, the paper's "No Finding" /
            "normal" controls). Images with an unknown target are left out.
    """

    site0: DatasetSpec
    site1: DatasetSpec
    target: str
    ratio: float = 0.5
    seed: int | None = None
    nsamples: int = 0
    splits: list[float] = field(default_factory=lambda: [0.5, 0.25, 0.25])
    valid_ratio: float | None = None
    selection: Literal["patients", "reference"] = "patients"
    negatives: Literal["absent", "no_finding"] = "absent"


def is_covariate(spec: DatasetSpec) -> bool:
    """Whether a ``[[data.datasets]]`` entry is a covariate study."""
    return isinstance(spec.name, str) and spec.name.lower() == COVARIATE


def covariate_spec(spec: DatasetSpec, where: str) -> CovariateSpec:
    """The entry's options, checked.

    Args:
        spec: the entry (``name = "covariate"``).
        where: how messages name it.

    Raises:
        ConfigError: a missing or unknown key, a wrong type, or image settings given to
            the entry instead of its sites.
    """
    given = {"imgpath": spec.imgpath, "csvpath": spec.csvpath, "views": spec.views}
    misplaced = [key for key, value in given.items() if value]
    if misplaced:
        raise ConfigError(f"{where}: {', '.join(misplaced)} of a covariate entry belong in its site0 / site1 tables")
    options = _build(CovariateSpec, spec.options, f"{where}.options")
    for name, site in (("site0", options.site0), ("site1", options.site1)):
        if is_covariate(site):
            raise ConfigError(f"{where}.options.{name}: a site must be a dataset, not another covariate entry")
    return options


def site_target(dataset: Any, target: str, negatives: str, where: str) -> np.ndarray:
    """1 for positives, 0 for negatives, NaN for images that are neither.

    Args:
        dataset: a site.
        target: the label of the study.
        negatives: ``"absent"`` (target 0) or ``"no_finding"`` (every label of the site 0).
        where: how messages name the site.

    Raises:
        ConfigError: the dataset has no label ``target`` (the message lists its labels).
    """
    names = list(dataset.pathologies)
    if target not in names:
        raise ConfigError(f"{where}: {type(dataset).__name__} has no label {target!r}; its labels: {', '.join(names)}")
    labels = np.asarray(dataset.labels, dtype=np.float64)
    values = labels[:, names.index(target)].copy()
    if negatives == "no_finding":
        clear = (labels == 0).all(axis=1)
        values = np.where(values == 1, 1.0, np.where(clear, 0.0, np.nan))
    return values


def build_covariate(
    spec: DatasetSpec, build_site: Any, seed: int, where: str
) -> tuple[dict[str, CovariateDataset], pd.DataFrame]:
    """The splits of a covariate entry and the split of every site image.

    Args:
        spec: the entry (``name = "covariate"``).
        build_site: ``(DatasetSpec, where) -> dataset``: builds a site as any entry is built.
        seed: the run's seed (the draw's, unless the entry sets its own).
        where: how messages name the entry.

    Returns:
        ``({split: CovariateDataset}, assignments)``: the splits ``spec.role`` asks for (all
        three for ``"split"``), labelled with the target alone; one row per site image
        (``name``, ``row``, ``patientid``, ``split``; ``"unused"`` for images in no split).

    Raises:
        ConfigError: bad options, a site that cannot be built or lacks the target, or
            counts the CovariateDataset refuses (e.g. an empty (site, target) group).
    """
    from ..datasets import CovariateDataset, relabel_dataset

    options = covariate_spec(spec, where)
    sites, targets = [], []
    for s, site in enumerate((options.site0, options.site1)):
        here = f"{where}.options.site{s} ({site.name})"
        dataset = build_site(site, here)
        targets.append(site_target(dataset, options.target, options.negatives, here))
        relabel_dataset([options.target], dataset, silent=True)  # masks: the target's alone
        sites.append(dataset)
    modes = list(SPLITS) if spec.role == "split" else [spec.role]
    try:
        pieces = {
            mode: CovariateDataset(
                sites[0], targets[0], sites[1], targets[1], ratio=options.ratio, mode=mode,
                seed=seed if options.seed is None else options.seed, nsamples=options.nsamples or None,
                splits=options.splits, exclude_missing=True, selection=options.selection,
                valid_ratio=options.valid_ratio, pathology=options.target,
            )  # fmt: skip
            for mode in modes
        }
    except DatasetError as err:
        raise ConfigError(f"{where} (d1 = site0 {options.site0.name}, d2 = site1 {options.site1.name}): {err}") from err
    tables = []
    for s, (site, dataset) in enumerate(zip((options.site0, options.site1), sites)):
        split = np.full(len(dataset), "unused", dtype=object)
        for mode, piece in pieces.items():
            split[piece.imageids[piece.site == s]] = mode
        ids = dataset.csv["patientid"] if "patientid" in dataset.csv else pd.Series([None] * len(dataset))
        tables.append(pd.DataFrame({"name": f"{spec.name}/site{s}:{site.name}", "row": np.arange(len(dataset)),
                                    "patientid": ids.to_numpy(), "split": split}))  # fmt: skip
    return pieces, pd.concat(tables, ignore_index=True)


def describe(spec: DatasetSpec) -> str:
    """A short description of the entry for a weight set's ``training_data``."""
    options = covariate_spec(spec, "data.datasets")

    def site(s: DatasetSpec) -> str:
        return s.name + (f" ({s.imgpath})" if s.imgpath else "")

    return f"covariate {options.target} ratio {options.ratio}: {site(options.site0)} vs {site(options.site1)}"
