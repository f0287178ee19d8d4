"""The dataset contract shared by every chest X-ray dataset class.

A concrete dataset builds three aligned things in its constructor:

* ``csv``: a pandas DataFrame, one row per item, holding the source's own metadata
  plus the common columns ``patientid``, ``offset_day_int``, ``view`` and ``has_masks``;
* ``pathologies``: the ordered label names;
* ``labels``: a float32 NumPy matrix ``(len(csv), len(pathologies))`` of 1 / 0 / NaN.

and says where its images are: either the hook :meth:`Dataset._image_path` (item ->
file under ``imgpath``; the default :meth:`Dataset._read_image` then decodes it, and
``xrv datasets verify`` can check files without decoding them) or, for images that are
not plain files (zip members, searched trees), its own :meth:`Dataset._read_image`.
Optional hooks: :meth:`Dataset._pathology_masks` and :meth:`Dataset._semantic_masks`.

The base class does the rest: the constructor preamble (options, the ``imgpath``
check, metadata paths, the parsed-table cache, metadata problems), view filtering, one
image per patient, samples, transforms, totals and the printed form. Per-row data stays
in NumPy or Arrow arrays (never lists of Python objects), so DataLoader workers forked
from the process share it instead of copying it page by page.
"""

from __future__ import annotations

import collections
import operator
import pprint
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch.utils.data

from ..errors import DatasetError, MetadataError, UnknownNameError
from ._files import PathLike, read_image_under, require_file, require_folder
from ._problems import make_note, pop_problems, report_problems
from ._table_cache import load_table
from ._vocabulary import USE_INCLUDED_FILE

#: Columns every dataset's ``csv`` has (NaN where the source does not say).
COMMON_COLUMNS = ("patientid", "offset_day_int", "view", "has_masks")

#: Fill value of a missing view (one spelling for every dataset).
UNKNOWN_VIEW = "UNKNOWN"

Transform = Callable[[Any], Any]


def as_view_list(views: str | Iterable[str] | None) -> list[str]:
    """Normalise a ``views`` argument: a string is one view, any iterable a list of them.

    ``None`` means every view (the wildcard ``"*"``).
    """
    if views is None:
        return ["*"]
    if isinstance(views, str):
        return [views]
    out = list(views)
    for v in out:
        if not isinstance(v, str):
            raise DatasetError(f"views must be strings, got {v!r} in {views!r}")
    return ["*"] if "*" in out else out


class Dataset(torch.utils.data.Dataset):
    """Base class of every xrayvision dataset (a ``torch.utils.data.Dataset``).

    Samples are dicts ``{"idx", "lab", "img"}`` plus ``"pathology_masks"`` /
    ``"semantic_masks"`` when the dataset was built with them. ``"img"`` is a float32
    ``[1, H, W]`` array in [-1024, 1024] at the file's native size, then passed through
    ``transform`` and ``data_aug``.
    """

    #: Label names, in column order of ``labels``.
    pathologies: list[str]
    #: float32 matrix ``(n, len(pathologies))`` of 1 (present), 0 (absent), NaN (unknown).
    labels: np.ndarray
    #: One row per item, aligned positionally with ``labels``.
    csv: pd.DataFrame
    #: The views kept (``["*"]`` for all).
    views: list[str] = ["*"]
    transform: Transform | None = None
    data_aug: Transform | None = None
    #: Accepted for compatibility with the reference; construction is never random.
    seed: int = 0
    pathology_masks: bool = False
    semantic_masks: bool = False
    #: Raise :class:`MetadataError` for metadata problems instead of one warning.
    strict: bool = False
    #: Every view value the source may hold; ``None`` when the class has no view column.
    known_views: tuple[str, ...] | None = None
    #: Folder of the images, for classes that define :meth:`_image_path`.
    imgpath: PathLike
    #: Appended to a missing-image error: where to get the images, what ``imgpath`` must be.
    image_hint: str = ""
    #: Appended to a missing-metadata error (default: :attr:`image_hint`).
    metadata_hint: str = ""
    #: Metadata-file arguments of the constructor -> key of the copy the reference ships
    #: (:data:`xrayvision.hub.metadata.METADATA`), or None when nothing is shipped.
    metadata_files: Mapping[str, str | None] = {}
    #: Labels are scores (e.g. severity 0-8), not 1/0/NaN.
    continuous_labels: bool = False
    #: Sample keys besides idx/lab/img/masks, collatable by a default DataLoader.
    extra_sample_keys: tuple[str, ...] = ()
    #: Attributes :meth:`string` shows after the size (each source prints what the reference did).
    _printed_fields: tuple[str, ...] = ("views", "data_aug")

    def __init__(
        self,
        imgpath: PathLike | None = None,
        *,
        transform: Transform | None = None,
        data_aug: Transform | None = None,
        seed: int = 0,
        pathology_masks: bool = False,
        semantic_masks: bool = False,
        strict: bool = False,
    ) -> None:
        """Store the options every dataset takes (wrappers keep the defaults).

        Args:
            imgpath: the image folder; when given it must exist (checked here, so a
                typo fails at once rather than at the first item in a worker).
            transform, data_aug, seed, pathology_masks, semantic_masks: see the class.
            strict: metadata problems raise instead of warning.

        Raises:
            MissingImageError: ``imgpath`` is not an existing folder.
        """
        #: Rows removed on purpose during construction, by reason (never silent).
        self.skipped: dict[str, int] = {}
        self.transform = transform
        self.data_aug = data_aug
        self.seed = seed
        self.pathology_masks = bool(pathology_masks)
        self.semantic_masks = bool(semantic_masks)
        self.strict = bool(strict)
        self._problems: list[dict[str, Any]] = []
        if imgpath is not None:
            self.imgpath = require_folder(imgpath, type(self).__name__, self.image_hint)

    # ------------------------------------------------------------------ subclass hooks

    #: Optional hook ``_image_path(index) -> Path``: where the file of row ``index``
    #: should be (it may be absent), under ``imgpath``. Classes whose images are plain
    #: files define it as a method; ``None`` means the class cannot say (its images are
    #: zip members or found by searching), and then it must override :meth:`_read_image`.
    #: It raises MissingImageError for a row whose metadata names no file at all.
    _image_path: Callable[[int], PathLike] | None = None

    def _read_image(self, index: int) -> np.ndarray:
        """Return the image of row ``index`` as float32 ``[1, H, W]`` in [-1024, 1024].

        By default the file :meth:`_image_path` names, decoded by
        :func:`xrayvision.io.read_image`.

        Raises:
            MissingImageError: the file is absent (named relative to ``imgpath``, plus
                :attr:`image_hint`).
        """
        if self._image_path is None:
            raise NotImplementedError(f"{type(self).__name__} must define _image_path or _read_image")
        return read_image_under(self.imgpath, self._image_path(index), type(self).__name__, self.image_hint)

    def _pathology_masks(self, index: int, shape: tuple[int, int]) -> Mapping[str, np.ndarray]:
        """Return ``{pathology name: float32 [1, H, W] mask}`` for row ``index``.

        ``shape`` is the image's ``(H, W)``. Names not in ``self.pathologies`` are
        ignored by the caller (so masks follow :func:`relabel_dataset`).
        """
        return {}

    def _semantic_masks(self, index: int, shape: tuple[int, int]) -> Mapping[str, np.ndarray]:
        """Return ``{anatomy name: float32 [1, H, W] mask}`` for row ``index``."""
        return {}

    # ------------------------------------------------------------------ construction helpers

    def _metadata_path(self, argument: str, value: PathLike) -> Path:
        """The file behind metadata argument ``argument`` (e.g. ``"csvpath"``).

        ``USE_INCLUDED_FILE`` means the copy the reference ships (see
        :attr:`metadata_files`), fetched and verified into the cache on first use; any
        other value must be an existing file.

        Raises:
            MissingMetadataError: a user path that does not exist (naming ``argument``).
            DatasetError: ``USE_INCLUDED_FILE`` for an argument with no shipped copy.
            OfflineError, DownloadError: the shipped copy cannot be fetched.
        """
        if isinstance(value, str) and value == USE_INCLUDED_FILE:
            key = self.metadata_files.get(argument)
            if key is None:
                raise DatasetError(
                    f"{type(self).__name__}: nothing is shipped for {argument}; give the path of your copy"
                )
            from ..hub.metadata import resolve

            return Path(resolve(value, key))
        hint = self.metadata_hint
        if not hint and self.metadata_files.get(argument):  # a copy is shipped: the user may leave it out
            hint = f"give the path of your copy, or leave {argument} out to use the shipped one"
        return require_file(value, argument, type(self).__name__, hint or self.image_hint)

    def _load_table(self, files: Iterable[PathLike], parse: Callable[[], pd.DataFrame], key: str) -> pd.DataFrame:
        """``parse()`` through the parsed-table cache (see :mod:`._table_cache`), keyed
        on the content of ``files`` and ``key``; the metadata problems it noted are kept
        for :meth:`_set_labels` to report."""
        table = load_table(files, parse, key=key)
        self._problems.extend(pop_problems(table))
        return table

    def _note_problem(self, file: object, column: str | None, what: str, count: int, examples: Iterable[str]) -> None:
        """Note a metadata problem found while building (see :mod:`._problems`)."""
        if count:
            self._problems.append(make_note(file, column, what, count, examples))

    def _count_skip(self, reason: str, count: int) -> None:
        if count:
            self.skipped[reason] = self.skipped.get(reason, 0) + int(count)

    def limit_to_selected_views(self, views: str | Iterable[str] | None) -> None:
        """Keep the rows whose ``csv["view"]`` is one of ``views`` (``"*"`` keeps all); a
        missing view is ``"UNKNOWN"``.

        Raises:
            UnknownNameError: a requested view the source never uses (listing the valid ones).
        """
        self.views = as_view_list(views)
        if self.views != ["*"] and self.known_views is not None:
            valid = set(self.known_views) | {UNKNOWN_VIEW}
            for v in self.views:
                if v not in valid:
                    raise UnknownNameError(f"view of {type(self).__name__}", v, valid)
        view = self.csv["view"].fillna(UNKNOWN_VIEW)
        if self.views != ["*"]:
            keep = view.isin(self.views).to_numpy()
            self.csv, view = self.csv[keep], view[keep]
        self.csv["view"] = view

    def _select_rows(self, views: str | Iterable[str] | None, unique_patients: bool, key: str = "patientid") -> None:
        """The usual row selection: :meth:`limit_to_selected_views`, then, when
        ``unique_patients``, :meth:`keep_one_image_per_patient` on ``key``."""
        self.limit_to_selected_views(views)
        if unique_patients:
            self.keep_one_image_per_patient(key)

    def keep_one_image_per_patient(self, key: str = "patientid") -> None:
        """Keep the first image (in file order) of each patient, ordered by patient id.

        Unlike the reference's ``groupby().first()``, every kept row is a real row of the
        metadata: fields are never mixed from several images (docs/differences.md).
        Rows with no patient id cannot be grouped; they are removed and counted in
        ``self.skipped``.
        """
        if key not in self.csv.columns:
            raise MetadataError(f"cannot keep one image per patient: no column {key!r}")
        ids = self.csv[key].reset_index(drop=True)
        missing = ids.isna().to_numpy()
        self._count_skip(f"no {key} (unique_patients)", int(missing.sum()))
        # One row selection instead of three (filter, dedupe, sort): the first
        # occurrence of each id is the same with or without the id-less rows.
        kept = np.flatnonzero(~missing & ~ids.duplicated(keep="first").to_numpy())
        order = ids.iloc[kept].reset_index(drop=True).sort_values(kind="stable").index.to_numpy()
        self.csv = self.csv.take(kept[order])

    def _finish_csv(self) -> None:
        """Add the common columns that the subclass did not fill and reset the index."""
        self.csv = self.csv.reset_index(drop=True)
        for column in COMMON_COLUMNS:
            if column not in self.csv.columns:
                self.csv[column] = False if column == "has_masks" else np.nan

    def _set_labels(self, labels: pd.DataFrame | np.ndarray, pathologies: Iterable[str]) -> None:
        """Store the label matrix (as float32) and the pathology list (as a new list),
        then report the metadata problems noted during the construction: one warning, or
        a :class:`MetadataError` with ``strict`` (rows removed for a problem are counted
        in :attr:`skipped`)."""
        # A copy: under pandas copy-on-write np.asarray(frame) is a read-only view.
        matrix = np.array(labels, dtype=np.float32)
        pathologies = [str(p) for p in pathologies]
        if matrix.ndim != 2 or matrix.shape[1] != len(pathologies):
            raise DatasetError(
                f"labels of shape {matrix.shape} do not fit {len(pathologies)} pathologies"
            )
        if hasattr(self, "csv") and len(self.csv) != len(matrix):
            raise DatasetError(f"{len(matrix)} label rows for {len(self.csv)} csv rows")
        self.labels = matrix
        self.pathologies = pathologies
        problems, self._problems = getattr(self, "_problems", []), []  # a subclass may skip __init__
        for problem in problems:
            if problem["removed"]:
                self._count_skip(problem["what"], problem["count"])
        report_problems(type(self).__name__, problems, strict=self.strict)

    # ------------------------------------------------------------------ samples

    def __len__(self) -> int:
        return len(self.labels)

    def _check_index(self, idx: int) -> int:
        try:
            idx = operator.index(idx)  # ints, NumPy and 0-d torch integers; not floats or slices
        except TypeError:
            raise TypeError(f"{type(self).__name__} indices must be integers, got {type(idx).__name__}") from None
        n = len(self)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} out of range for {type(self).__name__} of {n} items")
        return int(idx) % n if n else int(idx)

    def __getitem__(self, idx: int) -> dict[str, Any]:
        from ..transforms import apply_transforms

        index = self._check_index(idx)
        sample: dict[str, Any] = {"idx": index, "lab": self.labels[index]}
        img = self._read_image(index)
        sample["img"] = img
        shape = (int(img.shape[-2]), int(img.shape[-1]))
        if self.pathology_masks:
            sample["pathology_masks"] = self._masks_by_index(self._pathology_masks(index, shape))
        if self.semantic_masks:
            sample["semantic_masks"] = dict(self._semantic_masks(index, shape))
        sample = apply_transforms(sample, self.transform)
        sample = apply_transforms(sample, self.data_aug)
        return sample

    def _masks_by_index(self, masks: Mapping[str, np.ndarray]) -> dict[int, np.ndarray]:
        """Key masks by their column in the *current* ``pathologies`` (skip absent ones)."""
        position = {name: i for i, name in enumerate(self.pathologies)}
        return {position[name]: mask for name, mask in masks.items() if name in position}

    # ------------------------------------------------------------------ summaries

    def totals(self) -> dict[str, dict[Any, int]]:
        """Count of each label value per pathology, most common first (NaN excluded)."""
        out: dict[str, dict[Any, int]] = {}
        for j, name in enumerate(self.pathologies):
            column = self.labels[:, j]
            column = column[~np.isnan(column)] if column.dtype.kind == "f" else column
            out[name] = dict(collections.Counter(column.tolist()).most_common())
        return out

    def string(self) -> str:
        """One-line description; wrappers nest these lines into a tree."""
        fields = "".join(f" {name}={getattr(self, name)}" for name in self._printed_fields)
        return f"{type(self).__name__} num_samples={len(self)}{fields}"

    def __repr__(self) -> str:
        return self.string()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Jupyter shows the totals above the one-line description, as the paper does.
        printer.text(pprint.pformat(self.totals()) + "\n" + self.string())
