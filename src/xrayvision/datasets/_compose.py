"""Tools that build a dataset out of other datasets: relabel, merge, subset, filter.

Every wrapper is itself a :class:`~xrayvision.datasets.Dataset`: it has ``pathologies``,
float32 ``labels`` and a ``csv`` with index ``0..n-1``, so wrappers nest (a subset of a
merge of subsets...) and print as a tree::

    MergeDataset num_samples=261583
    ├0 PC_Dataset num_samples=94825 views=['PA', 'AP'] data_aug=None
    ├1 RSNA_Pneumonia_Dataset num_samples=26684 views=['PA', 'AP'] data_aug=None
    └2 NIH_Dataset num_samples=112120 views=['PA', 'AP'] data_aug=None

The tree uses exactly the characters TorchXRayVision 1.5.7 prints (``├0 ``; the paper's
figures show ``├─0``) so printed outputs can be compared line by line.

A sample of a wrapper is the inner dataset's sample with ``"idx"`` set to the index
passed to the wrapper and ``"lab"`` set to the wrapper's own label row.

Merge, Subset and Filter *follow* their inner datasets' label columns: relabelling an
inner dataset after wrapping it (``relabel_dataset``, which replaces ``labels`` and
``pathologies``) is seen by every wrapper around it at the next access, so a sample's
``"lab"`` and its masks (keyed by the inner dataset's current columns) always agree.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DatasetError, UnknownNameError
from ._base import Dataset

logger = logging.getLogger(__name__)

__all__ = ["relabel_dataset", "MergeDataset", "Merge_Dataset", "SubsetDataset", "FilterDataset"]


# ---------------------------------------------------------------------------------- relabel


def relabel_dataset(pathologies: Sequence[str], dataset: Any, silent: bool = False) -> None:
    """Reorder, drop and add label columns of ``dataset`` in place to match ``pathologies``.

    Column *j* of the new ``labels`` is the old column named ``pathologies[j]``, or a
    column of NaN ("unknown") when the dataset has no such label. Labels stay float32,
    ``csv`` is untouched, and pathology masks follow because their keys are resolved
    against the new list when a sample is built.

    Unlike TorchXRayVision, the list is copied (later changes to the caller's list do not
    leak into the dataset) and nothing is printed: dropped names are logged at INFO level
    and added (all-NaN) names raise a :class:`UserWarning`, both unless ``silent``.

    Args:
        pathologies: the wanted label names, in order (e.g. ``default_pathologies`` or a
            model's ``pathologies``).
        dataset: any object with ``pathologies`` and ``labels`` (every xrayvision dataset).
        silent: do not report dropped and added names.

    Returns:
        None; ``dataset`` is changed in place.

    Raises:
        DatasetError: ``pathologies`` is a string, holds a name twice, or ``dataset`` has
            no ``pathologies``/``labels``.
        NotImplementedError: ``dataset`` is a :class:`MergeDataset`, :class:`SubsetDataset`
            or :class:`FilterDataset`: relabel the datasets inside it instead (before or
            after wrapping them; the wrapper follows).
    """
    if isinstance(pathologies, str):
        raise DatasetError(
            f"pathologies must be a list of label names, got the string {pathologies!r}; "
            f"write [{pathologies!r}] for a single label"
        )
    wanted = [str(p) for p in pathologies]
    repeated = sorted({p for p in wanted if wanted.count(p) > 1})
    if repeated:
        raise DatasetError(f"pathologies lists {repeated} more than once; each label must appear once")
    if not hasattr(dataset, "pathologies") or not hasattr(dataset, "labels"):
        raise DatasetError(f"{type(dataset).__name__} has no pathologies/labels to relabel")
    if isinstance(dataset, _GuardedWrapper) and "labels" in dataset._GUARDED:
        dataset._refuse("labels")

    current = [str(p) for p in dataset.pathologies]
    old = np.asarray(dataset.labels)
    position = {}
    for j, name in enumerate(current):
        position.setdefault(name, j)  # the first column wins if a source repeats a name
    new = np.full((len(old), len(wanted)), np.nan, dtype=np.float32)
    added = []
    for j, name in enumerate(wanted):
        if name in position:
            new[:, j] = old[:, position[name]]
        else:
            added.append(name)
    if not silent:
        dropped = [name for name in current if name not in set(wanted)]
        if dropped:
            logger.info("relabel_dataset: %s will be dropped from %s", dropped, type(dataset).__name__)
        if added:
            warnings.warn(
                f"relabel_dataset: {type(dataset).__name__} has no label {added}; "
                "added as all-NaN (unknown) columns",
                UserWarning,
                stacklevel=2,
            )
    dataset.labels = new
    dataset.pathologies = wanted


# ---------------------------------------------------------------------------------- helpers


def _tree_line(child: Any) -> str:
    """A child's own description (``string()`` for datasets, ``repr`` otherwise)."""
    string = getattr(child, "string", None)
    return string() if callable(string) else repr(child)


def _require_fields(dataset: Any, where: str) -> None:
    missing = [f for f in ("pathologies", "labels", "csv") if not hasattr(dataset, f)]
    if missing:
        raise DatasetError(
            f"{where} ({type(dataset).__name__}) has no {', '.join(missing)}; "
            "only xrayvision datasets (or objects with pathologies, labels and csv) can be wrapped"
        )


class _GuardedWrapper(Dataset):
    """A wrapper whose fields are derived from inner datasets and must not be replaced.

    Setting ``transform``/``data_aug`` on a wrapper would do nothing (the inner dataset
    builds the sample), and replacing ``labels``/``pathologies`` would desynchronise them
    from the inner datasets' masks, so these assignments raise after construction.
    """

    _GUARDED: frozenset[str] = frozenset({"transform", "data_aug", "labels", "pathologies", "targets"})
    _kind = "wrapped"

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._GUARDED and self.__dict__.get("_frozen", False):
            self._refuse(name)
        super().__setattr__(name, value)

    def _refuse(self, name: str) -> None:
        raise NotImplementedError(
            f"cannot set {name!r} on a {self._kind} dataset ({type(self).__name__}); set it on the "
            "underlying dataset(s) (e.g. call relabel_dataset on each one: the wrapper follows)"
        )

    def _freeze(self) -> None:
        self._frozen = True

    def _own_sample(self, sample: dict[str, Any], index: int) -> dict[str, Any]:
        sample["idx"] = index
        sample["lab"] = self.labels[index]
        return sample


class _FollowsLabels:
    """``labels`` and ``pathologies`` derived from inner datasets, re-derived after a relabel.

    ``relabel_dataset`` replaces an inner dataset's ``labels`` array and ``pathologies``
    list; each access compares them (the array by identity, the names by value) with
    those the wrapper's copy was built from, so a wrapper never serves stale columns.
    Editing an inner ``labels`` array in place is not seen: replace it instead.
    """

    def _inner_datasets(self) -> list[Any]:
        raise NotImplementedError

    def _derive(self) -> tuple[np.ndarray, list[str]]:
        raise NotImplementedError

    def _current(self) -> tuple[np.ndarray, list[str]]:
        sources = [(d.labels, list(d.pathologies)) for d in self._inner_datasets()]
        derived = self.__dict__.get("_derived")
        fresh = derived is not None and all(
            old_labels is labels and old_names == names
            for (old_labels, old_names), (labels, names) in zip(derived[0], sources)
        )
        if not fresh:
            labels, pathologies = self._derive()
            derived = (sources, labels, pathologies)
            self.__dict__["_derived"] = derived
        return derived[1], derived[2]

    @property
    def labels(self) -> np.ndarray:
        return self._current()[0]

    @property
    def pathologies(self) -> list[str]:
        return list(self._current()[1])  # a copy: changing it cannot desynchronise the wrapper


def _as_row_positions(idxs: Any, n: int, where: str) -> np.ndarray:
    """Validate ``idxs`` (integers or a boolean mask over ``n`` rows) -> int64 positions."""
    if idxs is None:
        return np.arange(n, dtype=np.int64)
    array = np.asarray(idxs)
    if array.ndim != 1:
        raise DatasetError(f"{where}: idxs must be one-dimensional, got shape {array.shape}")
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.dtype == bool:
        if len(array) != n:
            raise DatasetError(f"{where}: a boolean mask must have one entry per row ({n}), got {len(array)}")
        return np.flatnonzero(array).astype(np.int64)
    if array.dtype.kind not in "iu":
        raise DatasetError(
            f"{where}: idxs must be integer row positions or a boolean mask, got dtype {array.dtype}"
        )
    bad = array[(array < -n) | (array >= n)]
    if len(bad):
        raise DatasetError(
            f"{where}: {len(bad)} index(es) out of range for {n} rows (first: {int(bad[0])}); "
            f"valid positions are {-n}..{n - 1}"
        )
    return np.where(array < 0, array + n, array).astype(np.int64)


# ---------------------------------------------------------------------------------- merge


class MergeDataset(_FollowsLabels, _GuardedWrapper):
    """Several datasets with the same label list, one after another.

    Args:
        datasets: the datasets, in order; their ``pathologies`` must be equal lists (call
            :func:`relabel_dataset` on each one first).
        seed: accepted for compatibility and stored; nothing here is random and the global
            RNGs are never touched (TorchXRayVision reseeded NumPy's global RNG).
        label_concat: give each source its own block of columns: ``labels`` becomes
            ``(n, len(pathologies) * len(datasets))``, NaN outside a row's own block.

    Attributes:
        datasets: the inner datasets.
        which_dataset: int64 array, the source of each row.
        offset: int64 array, the merged index of each row's source's first row.

    Samples are the source's sample with ``"idx"`` = the merged index (TorchXRayVision
    gave the source's local index), ``"lab"`` = ``labels[idx]`` and ``"source"`` = the
    source's position in ``datasets``.

    Raises:
        DatasetError: no datasets, a dataset without ``pathologies``/``labels``/``csv``,
            or label lists that differ.
    """

    _kind = "merged"

    def __init__(self, datasets: Iterable[Any], seed: int = 0, label_concat: bool = False) -> None:
        super().__init__()
        datasets = list(datasets)
        if not datasets:
            raise DatasetError("MergeDataset needs at least one dataset, got none")
        for i, d in enumerate(datasets):
            _require_fields(d, f"dataset {i}")
        self.datasets = datasets
        self.seed = seed
        self.label_concat = bool(label_concat)
        self._lengths = [len(d) for d in datasets]
        self._current()  # checks that the label lists agree
        starts = np.concatenate([[0], np.cumsum(self._lengths)[:-1]]).astype(np.int64)
        self.which_dataset = np.repeat(np.arange(len(datasets), dtype=np.int64), self._lengths)
        self.offset = np.repeat(starts, self._lengths)
        self.csv = pd.concat([d.csv for d in datasets], ignore_index=True, sort=False)
        self._freeze()

    def _inner_datasets(self) -> list[Any]:
        return self.datasets

    def _derive(self) -> tuple[np.ndarray, list[str]]:
        datasets = self.datasets
        after = "" if "_derived" not in self.__dict__ else (
            "MergeDataset: a dataset was relabelled after merging and the datasets no longer share "
            "one label list. "
        )
        reference = [str(p) for p in datasets[0].pathologies]
        for i, d in enumerate(datasets[1:], start=1):
            names = [str(p) for p in d.pathologies]
            if names != reference:
                raise DatasetError(after + _misalignment_message(reference, names, datasets[0], d, i))
        width = len(reference)
        for i, (d, length) in enumerate(zip(datasets, self._lengths)):
            shape = np.shape(d.labels)
            if shape != (length, width) or len(d.csv) != length:
                raise DatasetError(
                    f"{after}dataset {i} ({type(d).__name__}) has {length} items and {width} pathologies but "
                    f"labels of shape {shape} and {len(d.csv)} csv rows (a label_concat merge cannot be merged again)"
                )
        stacked = np.concatenate([np.asarray(d.labels, dtype=np.float32) for d in datasets])
        if self.label_concat:
            labels = np.full((len(stacked), width * len(datasets)), np.nan, dtype=np.float32)
            start = 0
            for k, length in enumerate(self._lengths):
                labels[start : start + length, k * width : (k + 1) * width] = stacked[start : start + length]
                start += length
            stacked = labels
        return stacked, reference

    def __getitem__(self, idx: int) -> dict[str, Any]:
        index = self._check_index(idx)
        source = int(self.which_dataset[index])
        sample = self.datasets[source][index - int(self.offset[index])]
        sample = self._own_sample(sample, index)
        sample["source"] = source
        return sample

    def string(self) -> str:
        """``MergeDataset num_samples=<n>`` then one tree line per source."""
        out = f"{type(self).__name__} num_samples={len(self)}\n"
        last = len(self.datasets) - 1
        for i, d in enumerate(self.datasets):
            if i < last:
                out += "├" + str(i) + " " + _tree_line(d).replace("\n", "\n|  ") + "\n"
            else:
                out += "└" + str(i) + " " + _tree_line(d).replace("\n", "\n   ") + "\n"
        return out


#: The name used in the TorchXRayVision paper (same class).
Merge_Dataset = MergeDataset


def _misalignment_message(reference: list[str], names: list[str], first: Any, other: Any, i: int) -> str:
    only_first = [p for p in reference if p not in names]
    only_other = [p for p in names if p not in reference]
    message = (
        f"cannot merge: dataset {i} ({type(other).__name__}) has different pathologies from "
        f"dataset 0 ({type(first).__name__})."
    )
    if only_first:
        message += f" Only in dataset 0: {only_first}."
    if only_other:
        message += f" Only in dataset {i}: {only_other}."
    if not only_first and not only_other:
        message += f" Same names in another order: {reference} vs {names}."
    return message + " Call xrv.datasets.relabel_dataset(pathologies, d) on every dataset first."


# ---------------------------------------------------------------------------------- subset


class _RowSelection(_FollowsLabels, _GuardedWrapper):
    """Shared body of the wrappers that pick rows of one inner dataset."""

    def _select(self, dataset: Any, positions: np.ndarray) -> None:
        self.dataset = dataset
        self.idxs = positions
        self.csv = dataset.csv.iloc[positions].reset_index(drop=True)
        if hasattr(dataset, "which_dataset"):
            self.which_dataset = np.asarray(dataset.which_dataset)[positions]
        self._freeze()

    def _inner_datasets(self) -> list[Any]:
        return [self.dataset]

    def _derive(self) -> tuple[np.ndarray, list[str]]:
        return np.asarray(self.dataset.labels, dtype=np.float32)[self.idxs], [str(p) for p in self.dataset.pathologies]

    def __getitem__(self, idx: int) -> dict[str, Any]:
        index = self._check_index(idx)
        return self._own_sample(self.dataset[int(self.idxs[index])], index)

    def string(self) -> str:
        """``<Class> num_samples=<n>`` then ``└ of`` and the inner dataset's description."""
        inner = _tree_line(self.dataset).replace("\n", "\n  ")
        return f"{type(self).__name__} num_samples={len(self)}\n└ of {inner}"


class SubsetDataset(_RowSelection):
    """The rows ``idxs`` of a dataset, in that order.

    Args:
        dataset: any xrayvision dataset (wrappers included).
        idxs: row positions (negative ones count from the end; repeats allowed) or a
            boolean mask with one entry per row, e.g.
            ``np.where(d.csv.PatientSex_DICOM == "F")[0]``. ``None`` keeps every row
            (TorchXRayVision built a broken label array then).

    Attributes:
        dataset: the inner dataset.
        idxs: int64 array of the inner positions kept (negatives resolved).
        which_dataset: the source of each row, when the inner dataset is a merge.

    Samples are the inner sample of ``idxs[i]`` with ``"idx"`` = ``i`` and
    ``"lab"`` = ``labels[i]``.

    Raises:
        DatasetError: ``idxs`` is not 1-D integers/booleans, or an index is out of range.
    """

    _kind = "subset"

    def __init__(self, dataset: Any, idxs: Sequence[int] | np.ndarray | None = None) -> None:
        super().__init__()
        _require_fields(dataset, "SubsetDataset's dataset")
        self._select(dataset, _as_row_positions(idxs, len(dataset), "SubsetDataset"))


# ---------------------------------------------------------------------------------- filter


class FilterDataset(_RowSelection):
    """The rows of a dataset that are positive (label 1) for some of ``labels``.

    Rows are grouped by requested label, in the order of ``labels``, and in file order
    within a group. As in TorchXRayVision a row positive for several requested labels
    appears once per label (so ``len`` matches published numbers); pass ``unique=True``
    to keep only its first occurrence.

    Args:
        dataset: any xrayvision dataset.
        labels: label names to keep (a single name may be given as a string). ``None`` or
            empty gives an empty dataset.
        unique: keep each inner row at most once.

    Attributes:
        dataset: the inner dataset.
        idxs: int64 array of the inner positions kept.

    Raises:
        UnknownNameError: a name is not in ``dataset.pathologies``.
    """

    _kind = "filtered"

    def __init__(self, dataset: Any, labels: str | Iterable[str] | None = None, unique: bool = False) -> None:
        super().__init__()
        _require_fields(dataset, "FilterDataset's dataset")
        names = [labels] if isinstance(labels, str) else list(labels or [])
        current = [str(p) for p in dataset.pathologies]
        matrix = np.asarray(dataset.labels)
        groups = []
        for name in names:
            if str(name) not in current:
                raise UnknownNameError(f"pathology of {type(dataset).__name__}", name, current)
            logger.info("FilterDataset: filtering for %s", name)
            groups.append(np.flatnonzero(matrix[:, current.index(str(name))] == 1))
        positions = np.concatenate(groups).astype(np.int64) if groups else np.zeros(0, dtype=np.int64)
        if unique:
            _, first = np.unique(positions, return_index=True)
            positions = positions[np.sort(first)]
        self.filter_labels = [str(n) for n in names]
        self._select(dataset, positions)
