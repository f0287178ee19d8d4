"""The dataset contract shared by every chest X-ray dataset class.

A concrete dataset builds three aligned things in its constructor:

* ``csv``: a pandas DataFrame, one row per item, holding the source's own metadata
  plus the common columns ``patientid``, ``offset_day_int``, ``view`` and ``has_masks``;
* ``pathologies``: the ordered label names;
* ``labels``: a float32 NumPy matrix ``(len(csv), len(pathologies))`` of 1 / 0 / NaN.

and says where its images are: either the hook :meth:`Dataset._image_path` (item ->
file under ``imgpath``; the default :meth:`Dataset._read_image` then decodes it, and
``xrayvision datasets verify`` can check files without decoding them) or, for images
that are not plain files (zip members, searched trees), its own
:meth:`Dataset._read_image`. Optional hooks: :meth:`Dataset._pathology_masks` and
:meth:`Dataset._semantic_masks`. The base class does the rest: view filtering, one
image per patient, samples, transforms, totals and the printed form.
"""

from __future__ import annotations

import collections
import functools
import operator
import pprint
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch.utils.data

from ..errors import DatasetError, MetadataError, UnknownNameError
from . import _deferred_writes
from ._bytes_columns import bytes_sort_keys, decode_bytes, decode_bytes_columns, is_bytes_column, missing_bytes
from ._files import PathLike, read_image_under
from ._lean_csv import categories_to_text

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
    #: Every view value the source may hold; ``None`` when the class has no view column.
    known_views: tuple[str, ...] | None = None
    #: Folder of the images, for classes that define :meth:`_image_path`.
    imgpath: PathLike
    #: Appended to a missing-image error: where to get the images, what ``imgpath`` must be.
    image_hint: str = ""
    #: Attributes :meth:`string` shows after the size (each source prints what the reference did).
    _printed_fields: tuple[str, ...] = ("views", "data_aug")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Wrap each subclass constructor so that table-cache writes wait until it returns
        (see :mod:`._deferred_writes`: they would compete with it for the GIL)."""
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None:
            return

        @functools.wraps(init)
        def constructing_init(self: Dataset, *args: Any, **kw: Any) -> None:
            with _deferred_writes.constructing():
                init(self, *args, **kw)

        cls.__init__ = constructing_init  # type: ignore[method-assign]

    def __init__(
        self,
        *,
        transform: Transform | None = None,
        data_aug: Transform | None = None,
        seed: int = 0,
        pathology_masks: bool = False,
        semantic_masks: bool = False,
    ) -> None:
        """Store the options every dataset takes (wrappers keep the defaults)."""
        #: Rows removed on purpose during construction, by reason (never silent).
        self.skipped: dict[str, int] = {}
        self.transform = transform
        self.data_aug = data_aug
        self.seed = seed
        self.pathology_masks = bool(pathology_masks)
        self.semantic_masks = bool(semantic_masks)

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

    def _count_skip(self, reason: str, count: int) -> None:
        if count:
            self.skipped[reason] = self.skipped.get(reason, 0) + int(count)

    def limit_to_selected_views(self, views: str | Iterable[str] | None) -> None:
        """Keep the rows whose ``csv["view"]`` is one of ``views`` (``"*"`` keeps all).

        Missing views are filled with ``"UNKNOWN"`` first. A requested view that the
        source never uses raises :class:`UnknownNameError` listing the valid ones.
        """
        keep = self._rows_of_views(views)
        if keep is not None:
            self.csv = self.csv[keep]
        self._fill_kept_missing_views(keep is None)

    def _rows_of_views(self, views: str | Iterable[str] | None) -> np.ndarray | None:
        """Set ``self.views``; return the boolean mask of the rows with a wanted view
        (None: every row). Raises UnknownNameError for a view the source never uses."""
        self.views = as_view_list(views)
        if self.views == ["*"]:
            return None
        if self.known_views is not None:
            valid = set(self.known_views) | {UNKNOWN_VIEW}
            for v in self.views:
                if v not in valid:
                    raise UnknownNameError(f"view of {type(self).__name__}", v, valid)
        # Select first, then fill the kept rows: filling all rows of a large table first
        # (223k for CheXpert) cost more than the selection itself.
        view = self.csv["view"]
        keep = view.isin(self.views).to_numpy()
        if UNKNOWN_VIEW in self.views:
            keep = keep | view.isna().to_numpy()
        return keep

    def _fill_kept_missing_views(self, every_view: bool) -> None:
        # "*" always gives a text view column, even with nothing to fill.
        if every_view or self.csv["view"].hasnans:
            self._fill_missing_views()

    def _fill_missing_views(self) -> None:
        categories_to_text(self.csv, ["view"])  # a lean read's category cannot take a new value
        self.csv["view"] = self.csv["view"].fillna(UNKNOWN_VIEW)

    def _select_rows(self, views: str | Iterable[str] | None, unique_patients: bool, key: str = "patientid") -> None:
        """The usual row selection: :meth:`limit_to_selected_views`, then, when
        ``unique_patients``, :meth:`keep_one_image_per_patient` on ``key``; the table is
        copied once, not once per step."""
        if not unique_patients:
            self.limit_to_selected_views(views)
            return
        keep = self._rows_of_views(views)
        rows = np.arange(len(self.csv)) if keep is None else np.flatnonzero(keep)
        self.csv = self.csv.take(rows[self._first_image_per_patient(key, rows)])
        self._fill_kept_missing_views(keep is None)

    def keep_one_image_per_patient(self, key: str = "patientid") -> None:
        """Keep the first image (in file order) of each patient, ordered by patient id.

        Unlike the reference's ``groupby().first()``, every kept row is a real row of the
        metadata: fields are never mixed from several images (docs/differences.md).
        Rows with no patient id cannot be grouped; they are removed and counted in
        ``self.skipped``.
        """
        self.csv = self.csv.take(self._first_image_per_patient(key))

    def _first_image_per_patient(self, key: str, rows: np.ndarray | None = None) -> np.ndarray:
        """Positions in ``rows`` (positions of csv rows; default all) of the rows
        :meth:`keep_one_image_per_patient` keeps among them, in its order."""
        if key not in self.csv.columns:
            raise MetadataError(f"cannot keep one image per patient: no column {key!r}")
        ids = (self.csv[key] if rows is None else self.csv[key].iloc[rows]).reset_index(drop=True)
        if is_bytes_column(ids):  # undecoded (see _lean_csv)
            values = ids.to_numpy()
            keys = bytes_sort_keys(values)  # integers that sort and compare as the strings
            ids = pd.Series(decode_bytes(values) if keys is None else keys)
            missing = missing_bytes(values)
        else:
            missing = ids.isna().to_numpy()
        self._count_skip(f"no {key} (unique_patients)", int(missing.sum()))
        # One row selection instead of three (filter, dedupe, sort): the first
        # occurrence of each id is the same with or without the id-less rows.
        kept = np.flatnonzero(~missing & ~ids.duplicated(keep="first").to_numpy())
        order = ids.iloc[kept].reset_index(drop=True).sort_values(kind="stable").index.to_numpy()
        return kept[order]

    def _finish_csv(self) -> None:
        """Decode the bytes and category columns of a lean read (see :mod:`._lean_csv`),
        add the common columns that the subclass did not fill and reset the index."""
        self.csv = self.csv.reset_index(drop=True)
        decode_bytes_columns(self.csv)
        categories_to_text(self.csv, [name for name, dt in self.csv.dtypes.items() if isinstance(dt, pd.CategoricalDtype)])
        for column in COMMON_COLUMNS:
            if column not in self.csv.columns:
                self.csv[column] = False if column == "has_masks" else np.nan

    def _set_labels(self, labels: pd.DataFrame | np.ndarray, pathologies: Iterable[str]) -> None:
        """Store the label matrix (as float32) and the pathology list (as a new list)."""
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
