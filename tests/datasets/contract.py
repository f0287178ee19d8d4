"""One battery of checks that every dataset class must pass (the Dataset contract).

``tests/datasets/test_registry.py`` runs it over every registered dataset on its
registered example (fake data written by ``xrayvision.fakedata``); tests of wrappers and
toy datasets call it directly::

    from tests.datasets.contract import check_dataset_contract

    make = lambda: MergeDataset([toy(3), toy(2)])
    check_dataset_contract(make(), constructor=make)

Pass a dataset built **without** ``transform``/``data_aug`` (the battery adds its own).
Options switch off checks that do not apply to a source (continuous labels, extra
sample keys that cannot be batched, ...).
"""

from __future__ import annotations

import contextlib
import copy
import io
import pickle
import random
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.utils.data

from xrayvision.datasets import default_pathologies

COMMON_COLUMNS = ("patientid", "offset_day_int", "view", "has_masks")
MASK_KINDS = ("pathology_masks", "semantic_masks")


# ---------------------------------------------------------------------------------- helpers


class CropResize:
    """Centre crop then resize to ``size`` (picklable, so DataLoader workers can use it).

    Uses ``xrayvision.transforms`` when it is available; otherwise a crop and a
    nearest-neighbour resize in NumPy, enough for shape checks.
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size

    def __call__(self, x: Any) -> Any:
        try:
            from xrayvision.transforms import XRayCenterCrop, XRayResizer
        except ImportError:
            return _numpy_crop_resize(np.asarray(x), self.size)
        return XRayResizer(self.size)(XRayCenterCrop()(x))


def _numpy_crop_resize(x: np.ndarray, size: int) -> np.ndarray:
    h, w = x.shape[-2:]
    s = min(h, w)
    y0, x0 = h // 2 - s // 2, w // 2 - s // 2
    x = x[..., y0 : y0 + s, x0 : x0 + s]
    rows = (np.arange(size) * s // size).astype(int)
    return np.ascontiguousarray(x[..., rows[:, None], rows[None, :]], dtype=np.float32)


class _Batchable(torch.utils.data.Dataset):
    """Picks ``indices`` of ``dataset``, applies ``transform`` and keeps ``keys`` (collatable)."""

    def __init__(self, dataset: Any, indices: Sequence[int], transform: Any, keys: Sequence[str]) -> None:
        self.dataset, self.indices, self.transform, self.keys = dataset, list(indices), transform, tuple(keys)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict[str, Any]:
        sample = self.dataset[self.indices[i]]
        sample["img"] = self.transform(sample["img"])
        return {k: sample[k] for k in self.keys if k in sample}


def _as_numpy(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


@contextlib.contextmanager
def no_global_side_effects(what: str):
    """Fail if the body changes the global RNGs, the warning filters or writes to stdout.

    The RNGs are first moved to an unusual state (some draws after a seed), so that even a
    reseed to the value they happened to hold is detected; the caller's states are
    restored afterwards.
    """
    saved = np.random.get_state(), random.getstate(), torch.get_rng_state()
    probe_np = np.random.RandomState(20240611)
    probe_np.random_sample(7)
    probe_py = random.Random(20240611)
    probe_py.random()
    probe_torch = torch.Generator().manual_seed(20240611)
    torch.rand(3, generator=probe_torch)
    np.random.set_state(probe_np.get_state())
    random.setstate(probe_py.getstate())
    torch.set_rng_state(probe_torch.get_state())
    np_state, py_state, torch_state = np.random.get_state(), random.getstate(), torch.get_rng_state()
    filters = list(warnings.filters)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            yield
        after = np.random.get_state()
        assert after[0] == np_state[0] and np.array_equal(after[1], np_state[1]) and after[2:] == np_state[2:], (
            f"{what} changed NumPy's global RNG state"
        )
        assert random.getstate() == py_state, f"{what} changed Python's global RNG state"
        assert torch.equal(torch.get_rng_state(), torch_state), f"{what} changed torch's global RNG state"
        assert list(warnings.filters) == filters, f"{what} changed the warning filters"
        assert out.getvalue() == "", f"{what} printed to stdout: {out.getvalue()[:200]!r}"
    finally:
        np.random.set_state(saved[0])
        random.setstate(saved[1])
        torch.set_rng_state(saved[2])


def _mask_kinds(dataset: Any, expect_masks: bool | str | Iterable[str] | None) -> set[str]:
    if expect_masks is None:
        return {k for k in MASK_KINDS if getattr(dataset, k, False)}
    if expect_masks is False:
        return set()
    if expect_masks is True:
        return {"pathology_masks"}
    kinds = {expect_masks} if isinstance(expect_masks, str) else set(expect_masks)
    assert kinds <= set(MASK_KINDS), f"unknown mask kinds {kinds - set(MASK_KINDS)}"
    return kinds


def _same_labels(a: Any, b: Any) -> bool:
    return np.array_equal(_as_numpy(a).astype(np.float64), _as_numpy(b).astype(np.float64), equal_nan=True)


# ---------------------------------------------------------------------------------- checks


def check_fields(dataset: Any, *, binary_labels: bool = True, common_columns: Sequence[str] = COMMON_COLUMNS) -> None:
    """``pathologies``, ``labels`` and ``csv`` are present, typed and aligned."""
    n = len(dataset)
    assert isinstance(dataset.pathologies, list), type(dataset.pathologies)
    assert all(isinstance(p, str) for p in dataset.pathologies), dataset.pathologies
    assert len(set(dataset.pathologies)) == len(dataset.pathologies), "repeated pathology names"
    labels = dataset.labels
    assert isinstance(labels, np.ndarray) and labels.dtype == np.float32, (type(labels), labels.dtype)
    assert labels.shape == (n, len(dataset.pathologies)), (labels.shape, n, len(dataset.pathologies))
    if binary_labels:
        known = labels[~np.isnan(labels)]
        assert np.isin(known, [0.0, 1.0]).all(), f"labels other than 0/1/NaN: {np.unique(known)[:10]}"
    csv = dataset.csv
    assert isinstance(csv, pd.DataFrame)
    assert len(csv) == n, (len(csv), n)
    missing = [c for c in common_columns if c not in csv.columns]
    assert not missing, f"csv lacks common columns {missing}"
    assert np.array_equal(csv.index.to_numpy(), np.arange(n)), "csv index is not 0..n-1"


def check_sample(
    dataset: Any, index: int, *, kinds: set[str], transformed_size: int | None = None
) -> dict[str, Any]:
    """``dataset[index]`` is a dict with the right ``idx``, ``lab``, ``img`` and masks."""
    n = len(dataset)
    sample = dataset[index]
    assert isinstance(sample, dict), type(sample)
    assert int(sample["idx"]) == index % n, f"sample['idx']={sample['idx']} for index {index} of {n} items"
    assert _same_labels(sample["lab"], dataset.labels[index]), (sample["lab"], dataset.labels[index])
    img = _as_numpy(sample["img"])
    assert img.dtype == np.float32, img.dtype
    assert img.ndim == 3 and img.shape[0] == 1, img.shape
    if transformed_size is not None:
        assert img.shape == (1, transformed_size, transformed_size), img.shape
    else:
        assert img.min() >= -1024 and img.max() <= 1024, (img.min(), img.max())
    for kind in MASK_KINDS:
        assert (kind in sample) == (kind in kinds), f"{kind} present={kind in sample}, expected {kind in kinds}"
    for key, mask in sample.get("pathology_masks", {}).items():
        assert isinstance(key, (int, np.integer)) and 0 <= key < len(dataset.pathologies), key
        _check_mask(mask, img.shape, f"pathology mask {key}")
    for key, mask in sample.get("semantic_masks", {}).items():
        assert isinstance(key, str), key
        _check_mask(mask, img.shape, f"semantic mask {key!r}")
    return sample


def _check_mask(mask: Any, shape: tuple[int, ...], what: str) -> None:
    mask = _as_numpy(mask)
    assert mask.shape == shape, f"{what} shape {mask.shape} != image shape {shape}"
    assert mask.dtype == np.float32, f"{what} dtype {mask.dtype}"
    assert mask.min() >= 0 and mask.max() <= 1, f"{what} values outside [0, 1]"


def check_printing(dataset: Any) -> None:
    """``print(dataset)`` starts with the class name and the size."""
    text = str(dataset)
    head = f"{type(dataset).__name__} num_samples={len(dataset)}"
    assert text.startswith(head), (text[:200], head)
    assert repr(dataset) == text
    assert dataset.string() == text


def check_totals(dataset: Any) -> None:
    """``totals()`` counts each known label value of each pathology."""
    totals = dataset.totals()
    assert list(totals) == list(dataset.pathologies)
    for j, name in enumerate(dataset.pathologies):
        column = dataset.labels[:, j]
        column = column[~np.isnan(column)]
        counts = totals[name]
        assert sum(counts.values()) == len(column), (name, counts, len(column))
        for value, count in counts.items():
            assert count == int((column == value).sum()), (name, value, count)
        assert list(counts.values()) == sorted(counts.values(), reverse=True), "totals not most-common first"


def check_relabel(dataset: Any, *, kinds: set[str]) -> None:
    """Relabelling a copy to ``default_pathologies`` moves columns and adds NaN ones."""
    from xrayvision.datasets import relabel_dataset

    clone = copy.copy(dataset)  # relabel replaces labels/pathologies; the original keeps its own
    names, shape = list(dataset.pathologies), dataset.labels.shape
    try:
        relabel_dataset(default_pathologies, clone, silent=True)
    except NotImplementedError:  # wrappers refuse: their inner datasets are relabelled instead
        return
    assert dataset.pathologies == names and dataset.labels.shape == shape, "relabel changed the original"
    assert clone.pathologies == default_pathologies and clone.pathologies is not default_pathologies
    assert clone.labels.dtype == np.float32 and clone.labels.shape == (len(dataset), len(default_pathologies))
    for j, name in enumerate(default_pathologies):
        if name in dataset.pathologies:
            expected = dataset.labels[:, dataset.pathologies.index(name)]
            assert np.array_equal(clone.labels[:, j], expected, equal_nan=True), name
        else:
            assert np.isnan(clone.labels[:, j]).all(), name
    assert len(clone) == 0 or _same_labels(clone[0]["lab"], clone.labels[0])
    if "pathology_masks" in kinds and len(clone):
        for i in _probe_indices(len(clone)):
            for key in clone[i].get("pathology_masks", {}):
                assert 0 <= key < len(default_pathologies)
                assert clone.pathologies[key] in dataset.pathologies, clone.pathologies[key]


def check_transform(dataset: Any, *, kinds: set[str], size: int, indices: Sequence[int]) -> None:
    """With a crop+resize ``transform``, the image and every mask come out ``[1,size,size]``."""
    clone = copy.copy(dataset)
    try:
        clone.transform = CropResize(size)
    except NotImplementedError:  # wrappers take transforms from their inner datasets
        return
    for i in indices:
        check_sample(clone, i, kinds=kinds, transformed_size=size)
    assert dataset.transform is None, "setting transform on a copy changed the original"


def check_loader(
    dataset: Any, *, size: int, indices: Sequence[int], keys: Sequence[str], num_workers: Iterable[int]
) -> None:
    """A DataLoader with batch size 2 iterates and returns stacked images and labels."""
    wrapped = _Batchable(dataset, indices, CropResize(size), keys)
    for workers in num_workers:
        loader = torch.utils.data.DataLoader(wrapped, batch_size=2, num_workers=workers)
        seen = 0
        for batch in loader:
            assert tuple(batch["img"].shape[1:]) == (1, size, size)
            assert batch["lab"].shape[1:] == (len(dataset.pathologies),)
            seen += len(batch["img"])
        assert seen == len(indices), (workers, seen, len(indices))


def check_pickle(dataset: Any, index: int) -> None:
    """The dataset survives pickling (DataLoader workers started with spawn need it)."""
    clone = pickle.loads(pickle.dumps(dataset))
    assert len(clone) == len(dataset) and clone.pathologies == dataset.pathologies
    a, b = dataset[index], clone[index]
    assert np.array_equal(_as_numpy(a["img"]), _as_numpy(b["img"]))
    assert _same_labels(a["lab"], b["lab"])


def check_reconstruction(dataset: Any, rebuilt: Any) -> None:
    """A second construction with the same arguments (warm: from the table cache) gives
    the same ``csv``, dtypes included, ``labels`` and ``pathologies``."""
    pd.testing.assert_frame_equal(rebuilt.csv, dataset.csv)
    assert rebuilt.pathologies == dataset.pathologies
    assert _same_labels(rebuilt.labels, dataset.labels)


def _probe_indices(n: int) -> list[int]:
    return sorted({0, n // 2, n - 1, -1}) if n else []


def check_dataset_contract(
    dataset: Any,
    *,
    expect_masks: bool | str | Iterable[str] | None = None,
    constructor: Callable[[], Any] | None = None,
    binary_labels: bool = True,
    common_columns: Sequence[str] = COMMON_COLUMNS,
    indices: Sequence[int] | None = None,
    size: int = 64,
    loader_keys: Sequence[str] = ("idx", "lab", "img"),
    num_workers: Iterable[int] = (0, 2),
) -> None:
    """Run every contract check on ``dataset`` (built without transform/data_aug).

    Args:
        dataset: the dataset under test (needs at least one item).
        expect_masks: which of ``"pathology_masks"``/``"semantic_masks"`` samples must
            carry (``True`` = pathology masks, ``False`` = none); ``None`` reads the
            dataset's own flags.
        constructor: a zero-argument callable building a dataset; it is called once to
            check that construction leaves global RNGs, warning filters and stdout alone.
        binary_labels: labels must be 0/1/NaN (switch off for continuous scores).
        common_columns: columns every ``csv`` must have.
        indices: items to sample (default: first, middle, last and -1).
        size: side of the crop+resize transform used for transform/loader checks.
        loader_keys: sample keys to batch in the DataLoader check.
        num_workers: DataLoader worker counts to try.
    """
    kinds = _mask_kinds(dataset, expect_masks)
    n = len(dataset)
    assert n > 0, "the contract needs a non-empty dataset"
    if constructor is not None:
        with no_global_side_effects(f"constructing {type(dataset).__name__}"):
            constructor()
    probe = list(indices) if indices is not None else _probe_indices(n)
    check_fields(dataset, binary_labels=binary_labels, common_columns=common_columns)
    with no_global_side_effects(f"indexing {type(dataset).__name__}"):
        for i in probe:
            check_sample(dataset, i, kinds=kinds)
    check_printing(dataset)
    check_totals(dataset)
    check_relabel(dataset, kinds=kinds)
    check_transform(dataset, kinds=kinds, size=size, indices=probe)
    check_loader(dataset, size=size, indices=[i % n for i in probe], keys=loader_keys, num_workers=num_workers)
    check_pickle(dataset, probe[0])
