"""A two-site dataset whose site/label correlation differs between train and test.

After Viviano et al., "Saliency is a possible red herring when diagnosing poor
generalization" (ICLR 2021, arXiv:1910.00199); TorchXRayVision's ``CovariateDataset``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import DatasetError
from ._compose import _GuardedWrapper

logger = logging.getLogger(__name__)

__all__ = ["CovariateDataset"]

_MODES = ("train", "valid", "test")
_SELECTIONS = ("patients", "reference")
#: Allowed distance of ``sum(splits)`` from 1 (TorchXRayVision wanted exact equality, so
#: ``[0.7, 0.2, 0.1]``, which sums to 0.9999999999999999, was refused).
_SPLITS_TOLERANCE = 1e-6
_CATEGORIES = ("d1 negative", "d1 positive", "d2 negative", "d2 positive")


class CovariateDataset(_GuardedWrapper):
    """Items of two datasets (sites) chosen so that site and target are correlated.

    Both sites contribute ``n`` negatives and ``n`` positives, where ``n`` is the size of
    the smallest of the four (site, target) groups. In the ``train`` split a fraction
    ``ratio`` of the negatives comes from ``d1`` and of the positives from ``d2``; the
    ``valid`` split uses ``valid_ratio`` (default ``1 - ratio``: the correlation is
    reversed); ``test`` gets the rest of the ``n`` per group (about ``1 - ratio``). Each
    split is 50/50 in the target, and its size does not depend on ``ratio``.

    Group sizes per split are the reference's (``int()`` of ``n * share * splits[k] * 2``).
    How the items are drawn depends on ``selection``:

    - ``"patients"`` (default): patients, not images, are drawn, so no patient has images
      in two splits (a patient id found in both sites is one patient: ``d1`` and ``d2``
      may be two views of one dataset; an item without a patient id is its own patient).
      See :func:`split_by_patient` for the rule. With one image per patient the group
      sizes are exactly the reference's. When patients with several images cannot fill
      every group of a split, the split is scaled down as a whole, so that its ratio and
      its 50/50 balance stay exact (``group_sizes`` and ``verbose`` show the sizes).
      ``nsamples`` keeps the split's composition: each group keeps its share, rounded by
      :func:`proportional_counts`, so ``ratio`` 0.1 and 0.9 give different images.
    - ``"reference"``: TorchXRayVision 1.5.7's selection, item for item for the same
      ``seed``: images are drawn one by one (a patient's images may land in several splits)
      and ``nsamples`` keeps ``floor(nsamples/4)``, ``ceil``, ``ceil``, ``floor`` items of
      the four groups, whatever ``ratio`` (so every ratio gives the same 500-per-group
      images at ``nsamples=2000``). For reproducing published numbers.

    Draws come from a private ``numpy.random.RandomState(seed)``: NumPy's global RNG is
    left alone.

    Worked example (methods spec, COVID-19 PA vs AP, n = 63): ``ratio=0.9`` gives train
    (d1 neg, d1 pos, d2 neg, d2 pos) = (56, 6, 6, 56), valid (3, 28, 28, 3), test
    (4, 29, 29, 4); ``ratio=0.5`` gives 31, 15 and 17 per group.

    The red-herring paper's own loaders used ``splits=(0.25, 0.125, 0.625)`` with
    ``valid_ratio=ratio`` (valid not shifted): train (.45, .05, .05, .45) of ``n`` per
    group at ratio 0.9, valid (.225, .025, .025, .225), test (.325, .925, .925, .325).

    Args:
        d1: the first site's dataset.
        d1_target: one 0/1 target per item of ``d1`` (e.g. ``d1.labels[:, j]``).
        d2: the second site's dataset.
        d2_target: one 0/1 target per item of ``d2``.
        ratio: in ``train``, the share of negatives from ``d1`` and of positives from ``d2``.
        mode: ``"train"``, ``"valid"`` or ``"test"``.
        seed: seed of the private random state.
        nsamples: if given (and non-zero), keep at most this many items of the split.
        splits: train/valid/test fractions; must sum to 1 (within 1e-6). Only the first
            two are used: test takes the rest.
        verbose: log the group sizes (INFO level of ``xrayvision.datasets._covariate``).
        exclude_missing: drop items whose target is NaN before anything else. By default
            a NaN target is an error (TorchXRayVision cast it to a huge negative integer).
        selection: ``"patients"`` or ``"reference"`` (above).
        valid_ratio: the ``valid`` split's share of negatives from ``d1`` (default
            ``1 - ratio``).
        pathology: the name of the label column (TorchXRayVision: ``"Custom"``).

    Attributes:
        pathologies: ``[pathology]``.
        labels: float32 ``(m, 1)``: the target of each chosen item.
        site: int64 ``(m,)``: 0 for ``d1``, 1 for ``d2``.
        imageids: int64 ``(m,)``: the item's index in its own dataset.
        select: int64 ``(m,)``: the item's position in ``d1`` then ``d2`` (items with a NaN
            target excluded).
        csv: the chosen rows of ``d1.csv`` / ``d2.csv`` plus ``site`` and ``label``,
            index ``0..m-1``.
        n_per_category: ``n``.
        group_sizes: ``{"train"|"valid"|"test": (d1 neg, d1 pos, d2 neg, d2 pos)}`` before
            ``nsamples``.

    Samples are the site dataset's sample with its ``"lab"`` moved to ``"lab-old"``,
    ``"lab"`` = ``labels[i]``, ``"site"`` and ``"idx"`` = ``i``. Setting ``transform`` or
    ``data_aug`` raises ``NotImplementedError`` (they belong to ``d1``/``d2``); ``labels``
    may be replaced (e.g. by :func:`relabel_dataset`).

    Raises:
        DatasetError: bad ``mode``, ``ratio``, ``valid_ratio``, ``selection`` or ``splits``;
            a target that is not 0/1 (or NaN without ``exclude_missing``) or has the wrong
            length; an empty group; ``splits`` asking for more items than a group has.
    """

    _GUARDED = frozenset({"transform", "data_aug"})
    _kind = "covariate"
    _printed_fields = ()  # ``CovariateDataset num_samples=<n>`` (TorchXRayVision had no ``string()``)

    def __init__(
        self,
        d1: Any,
        d1_target: Any,
        d2: Any,
        d2_target: Any,
        ratio: float = 0.5,
        mode: str = "train",
        seed: int = 0,
        nsamples: int | None = None,
        splits: Sequence[float] = (0.5, 0.25, 0.25),
        verbose: bool = False,
        exclude_missing: bool = False,
        *,
        selection: Literal["patients", "reference"] = "patients",
        valid_ratio: float | None = None,
        pathology: str = "Custom",
    ) -> None:
        super().__init__()
        if mode not in _MODES:
            raise DatasetError(f"CovariateDataset mode must be one of {list(_MODES)}, got {mode!r}")
        if selection not in _SELECTIONS:
            raise DatasetError(f"CovariateDataset selection must be one of {list(_SELECTIONS)}, got {selection!r}")
        for name, value in (("ratio", ratio), ("valid_ratio", 0.0 if valid_ratio is None else valid_ratio)):
            if not 0.0 <= float(value) <= 1.0:
                raise DatasetError(f"CovariateDataset {name} must lie in [0, 1], got {value!r}")
        if nsamples is not None and (isinstance(nsamples, bool) or not isinstance(nsamples, (int, np.integer)) or nsamples < 0):
            raise DatasetError(f"CovariateDataset nsamples must be a non-negative integer or None, got {nsamples!r}")
        splits = [float(s) for s in splits]
        if len(splits) != 3 or min(splits) < 0 or abs(sum(splits) - 1.0) > _SPLITS_TOLERANCE:
            raise DatasetError(
                f"CovariateDataset splits must be three non-negative train/valid/test fractions "
                f"summing to 1, got {splits}"
            )
        self.d1, self.d2 = d1, d2
        self.ratio, self.mode, self.seed, self.nsamples, self.splits = ratio, mode, seed, nsamples, splits
        self.selection, self.valid_ratio = selection, valid_ratio
        targets = [_check_target(d1_target, len(d1), "d1", exclude_missing),
                   _check_target(d2_target, len(d2), "d2", exclude_missing)]  # fmt: skip

        # Global position g runs over d1's items then d2's (missing targets removed).
        keep = [~np.isnan(t) for t in targets]
        imageid = np.concatenate([np.flatnonzero(k) for k in keep]).astype(np.int64)
        label = np.concatenate([t[k] for t, k in zip(targets, keep)]).astype(np.int64)
        site = np.concatenate([np.full(int(k.sum()), s, dtype=np.int64) for s, k in enumerate(keep)])
        groups = [np.flatnonzero((site == s) & (label == y)) for s in (0, 1) for y in (0, 1)]
        n = min(len(g) for g in groups)
        if n == 0:
            empty = [name for name, g in zip(_CATEGORIES, groups) if len(g) == 0]
            raise DatasetError(f"CovariateDataset needs items in every (site, target) group; none in {empty}")
        self.n_per_category = n

        quotas = _quotas(n, ratio, valid_ratio, splits)
        for name, t, v in zip(_CATEGORIES, quotas[0], quotas[1]):
            if t + v > n:
                raise DatasetError(
                    f"CovariateDataset splits {splits} with ratio {ratio} ask for {t} train + {v} valid "
                    f"items of the {name} group, which has only n={n}; lower splits[0]/splits[1]"
                )
        rng = np.random.RandomState(seed)
        if selection == "reference":
            drawn = _reference_draw(groups, n, quotas, rng)
        else:
            drawn = _patient_draw(groups, _patient_keys([d1.csv, d2.csv], keep), quotas, rng)
        self.group_sizes = {m: tuple(len(part) for part in parts) for m, parts in zip(_MODES, drawn)}
        if verbose:
            _log_sizes(n, self.group_sizes, ratio, 1 - ratio if valid_ratio is None else valid_ratio)
        chosen = drawn[_MODES.index(mode)]
        if nsamples:
            if selection == "reference":
                quarter = nsamples / 4
                limits = [math.floor(quarter), math.ceil(quarter), math.ceil(quarter), math.floor(quarter)]
            else:
                limits = proportional_counts([len(part) for part in chosen], int(nsamples))
            chosen = [part[:k] for part, k in zip(chosen, limits)]
        select = np.concatenate(chosen).astype(np.int64)

        self.select = select
        self.imageids = imageid[select]
        self.site = site[select]
        csv_all = pd.concat(
            [d1.csv.iloc[imageid[site == 0]], d2.csv.iloc[imageid[site == 1]]], ignore_index=True, sort=False
        )
        csv_all["site"] = site
        csv_all["label"] = label
        self.csv = csv_all.iloc[select].reset_index(drop=True)
        self._set_labels(label[select].reshape(-1, 1), [str(pathology)])
        self._freeze()

    def __getitem__(self, idx: int) -> dict[str, Any]:
        index = self._check_index(idx)
        dataset = self.d1 if self.site[index] == 0 else self.d2
        sample = dataset[int(self.imageids[index])]
        sample["lab-old"] = sample.get("lab")
        sample["lab"] = self.labels[index]
        sample["site"] = int(self.site[index])
        sample["idx"] = index
        return sample


def _quotas(n: int, ratio: float, valid_ratio: float | None, splits: list[float]) -> np.ndarray:
    """``[3, 4]`` items per (split, group): the reference's ``int()`` of the products written
    left to right (kept verbatim for parity); test is the rest of ``n``."""
    r = ratio
    train = [int(n * r * splits[0] * 2), int(n * (1 - r) * splits[0] * 2),
             int(n * (1 - r) * splits[0] * 2), int(n * r * splits[0] * 2)]  # fmt: skip
    v_neg, v_pos = (1 - r, r) if valid_ratio is None else (valid_ratio, 1 - valid_ratio)
    valid = [int(n * v_neg * splits[1] * 2), int(n * v_pos * splits[1] * 2),
             int(n * v_pos * splits[1] * 2), int(n * v_neg * splits[1] * 2)]  # fmt: skip
    test = [max(0, n - t - v) for t, v in zip(train, valid)]
    return np.array([train, valid, test], dtype=np.int64)


def _reference_draw(groups: list[np.ndarray], n: int, quotas: np.ndarray, rng: np.random.RandomState) -> list[list[np.ndarray]]:
    """TorchXRayVision's draws, in its order: pools of ``n``, then train, then valid; test is
    what is left of each pool (sorted, as NumPy's set difference returns it)."""
    pools = [rng.choice(g, n, replace=False) for g in groups]
    train = [rng.choice(p, k, replace=False) for p, k in zip(pools, quotas[0])]
    pools = [np.setdiff1d(p, t) for p, t in zip(pools, train)]
    valid = [rng.choice(p, k, replace=False) for p, k in zip(pools, quotas[1])]
    test = [np.setdiff1d(p, v) for p, v in zip(pools, valid)]
    return [train, valid, test]


def _patient_draw(groups: list[np.ndarray], patients: np.ndarray, quotas: np.ndarray,
                  rng: np.random.RandomState) -> list[list[np.ndarray]]:  # fmt: skip
    """Whole patients per split (:func:`split_by_patient`), each split then kept to the
    quotas' composition."""
    group_of = np.empty(len(patients), dtype=np.int64)
    for k, members in enumerate(groups):
        group_of[members] = k
    drawn = split_by_patient(group_of, patients, quotas, rng)
    return [_keep_composition(parts, wanted) for parts, wanted in zip(drawn, quotas)]


def _patient_keys(tables: list[pd.DataFrame], keep: list[np.ndarray]) -> np.ndarray:
    """One patient code per kept item of both sites (equal ids are one patient; an item
    without an id is its own patient)."""
    keys = []
    for s, (table, kept) in enumerate(zip(tables, keep)):
        ids = table["patientid"] if "patientid" in table else pd.Series([None] * len(table))
        ids = ids.iloc[np.flatnonzero(kept)].reset_index(drop=True)
        text = ids.astype(str).to_numpy(dtype=object)
        missing = ids.isna().to_numpy()
        text[missing] = [f"\x00{s}:{i}" for i in np.flatnonzero(missing)]  # never equal to a real id
        keys.append(text)
    codes, _ = pd.factorize(np.concatenate(keys))
    return codes.astype(np.int64)


def split_by_patient(
    group: np.ndarray, patient: np.ndarray, quotas: np.ndarray, rng: np.random.RandomState
) -> list[list[np.ndarray]]:
    """Fill per-(split, group) quotas with items so that no patient is in two splits.

    Patients are visited in a random order and each goes to one split (or none), whose
    room it fills with as many of its items as fit (the rest are not used). The split is
    the one whose choice leaves the fewest items missing in the end, counting each
    group's spare supply (the items of patients not yet visited beyond what the room
    still needs); among equals, the one that uses most of the patient's items; among
    equals again, a random one in proportion to its room for the patient's groups. So an
    item of a scarce group (the smallest holds exactly the items asked for) is not wasted
    while a split can still take it, and patients spread over the splits as the quotas do.
    A quota may end unfilled when patients with several items cannot be packed exactly;
    it is never exceeded.

    Args:
        group: the group (column of ``quotas``) of every item.
        patient: the patient code (0..P-1) of every item.
        quotas: ``[splits, groups]`` item counts wanted.
        rng: the random state (permutations of patients and items, the ties).

    Returns:
        Per split, per group, the chosen item positions: patients in the visiting order, a
        patient's items in a random order.
    """
    n_splits, n_groups = quotas.shape
    n_patients = int(patient.max()) + 1 if len(patient) else 0
    counts = np.zeros((n_patients, n_groups), dtype=np.int64)
    np.add.at(counts, (patient, group), 1)
    visiting = rng.permutation(n_patients)
    ties = rng.random_sample(n_patients)

    rows = counts.tolist()
    room = quotas.astype(np.int64).tolist()
    supply = counts.sum(axis=0).tolist()
    demand = quotas.sum(axis=0).tolist()
    split_of = np.full(n_patients, -1, dtype=np.int64)
    take = np.zeros((n_patients, n_groups), dtype=np.int64)
    for p in visiting.tolist():
        if not any(demand):
            break
        need = rows[p]
        best: tuple[int, int] | None = None
        candidates: list[tuple[int, list[int], int]] = []
        for k in range(n_splits):
            free = room[k]
            used = [min(c, f) for c, f in zip(need, free)]
            if not any(used):
                continue
            # items the end will miss because of this choice: wasted items a group cannot spare
            missing = 0
            for g in range(n_groups):
                spare = supply[g] - demand[g]
                missing += max(0, need[g] - used[g] - spare) - max(0, -spare)
            score = (missing, -sum(used))
            if best is None or score < best:
                best, candidates = score, []
            if score == best:
                candidates.append((k, used, sum(f for f, c in zip(free, need) if c)))
        for g in range(n_groups):
            supply[g] -= need[g]
        if not candidates:
            continue
        weights = np.cumsum([c[2] for c in candidates], dtype=np.float64)
        k, used, _ = candidates[int(np.searchsorted(weights, ties[p] * weights[-1], side="right"))]
        room[k] = [f - u for f, u in zip(room[k], used)]
        demand = [d - u for d, u in zip(demand, used)]
        split_of[p], take[p] = k, used

    order = np.lexsort((rng.permutation(len(patient)), np.argsort(visiting)[patient]))
    ordered_patient, ordered_group = patient[order], group[order]
    # each item's rank among its patient's items of its group, in that order
    rank = pd.DataFrame({"p": ordered_patient, "g": ordered_group}).groupby(["p", "g"], sort=False).cumcount().to_numpy()
    chosen = rank < take[ordered_patient, ordered_group]
    split = split_of[ordered_patient]
    return [[order[chosen & (split == k) & (ordered_group == g)] for g in range(n_groups)] for k in range(n_splits)]


def _keep_composition(parts: list[np.ndarray], quota: np.ndarray) -> list[np.ndarray]:
    """A split whose groups fell short, scaled down as a whole: every group keeps
    ``floor(quota * f)`` items, ``f`` being the smallest fill fraction, so the ratio holds up
    to rounding and the two targets stay balanced (their quotas are pairwise equal)."""
    sizes = [len(p) for p in parts]
    if all(s >= q for s, q in zip(sizes, quota)):
        return parts
    # the group with the smallest got/quota, compared exactly in integers
    m = min((g for g in range(len(quota)) if quota[g] > 0), key=lambda g: Fraction(sizes[g], int(quota[g])))
    return [p[: int(q) * sizes[m] // int(quota[m])] for p, q in zip(parts, quota)]


def proportional_counts(sizes: Sequence[int], total: int) -> list[int]:
    """Shares of ``total`` proportional to ``sizes`` (largest-remainder rounding).

    Each share is the floor or the ceiling of ``size * total / sum(sizes)``; the shares sum
    to ``min(total, sum(sizes))``; the leftover units go to the largest fractional parts,
    ties to the earlier group. E.g. sizes (56, 6, 6, 56) and total 10 give (5, 0, 0, 5);
    total 20 gives (9, 1, 1, 9).
    """
    sizes = [int(s) for s in sizes]
    whole = sum(sizes)
    total = min(int(total), whole)
    if whole == 0:
        return [0] * len(sizes)
    floors = [s * total // whole for s in sizes]
    remainders = [s * total - f * whole for s, f in zip(sizes, floors)]  # exact integer arithmetic
    for k in sorted(range(len(sizes)), key=lambda k: (-remainders[k], k))[: total - sum(floors)]:
        floors[k] += 1
    return floors


def _log_sizes(n: int, sizes: dict[str, tuple[int, ...]], ratio: float, valid_ratio: float) -> None:
    logger.info("n_per_category=%d", n)
    for mode, rr in (("train", ratio), ("valid", valid_ratio), ("test", 1 - ratio)):
        a, b, c, d = sizes[mode]
        logger.info(
            "%s (ratio=%.2g): neg=%d, pos=%d, d1_pos/neg=%d/%d, d2_pos/neg=%d/%d",
            mode.upper(), rr, a + c, b + d, b, a, d, c,
        )  # fmt: skip


def _check_target(target: Any, length: int, name: str, exclude_missing: bool) -> np.ndarray:
    """A site's targets as float64, checked to be 0/1 (NaN allowed only when excluded)."""
    try:
        values = np.asarray(target, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise DatasetError(f"CovariateDataset {name}_target must be numeric 0/1 values: {error}") from None
    values = values.reshape(-1) if values.ndim == 2 and 1 in values.shape else values
    if values.ndim != 1 or len(values) != length:
        raise DatasetError(
            f"CovariateDataset {name}_target must hold one value per item of {name} ({length}), "
            f"got shape {np.shape(target)}"
        )
    missing = np.isnan(values)
    if missing.any() and not exclude_missing:
        raise DatasetError(
            f"CovariateDataset {name}_target has {int(missing.sum())} NaN (unknown) values "
            f"(first at position {int(np.flatnonzero(missing)[0])}); pass exclude_missing=True to "
            "drop those items, or select known rows first with SubsetDataset"
        )
    bad = values[~missing & (values != 0) & (values != 1)]
    if len(bad):
        raise DatasetError(f"CovariateDataset {name}_target must be 0 or 1, found {np.unique(bad)[:5].tolist()}")
    return values
