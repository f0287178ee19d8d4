"""Patient-level splits: every image of a patient lands in the same split."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: Split codes, in the order of :func:`patient_split`'s fractions.
SPLITS = ("train", "valid", "test")


def patient_split(patient_ids: Sequence[object] | pd.Series, fractions: Sequence[float], seed: int) -> np.ndarray:
    """Assign each row to a split so that no patient is in two splits.

    The distinct patients are put in a seeded random order and cut by the cumulative
    ``fractions`` of the *number of patients* (as a grouped shuffle split does); each
    row then takes its patient's split. Rows without a patient id count as their own
    patient. The result depends only on the set of ids and the seed, not on row order.

    Args:
        patient_ids: one id per row (missing: NaN or None).
        fractions: shares of patients per split (e.g. ``[0.64, 0.16, 0.20]``), summing to 1.
        seed: the seed of the order.

    Returns:
        int8 array, one split index per row (0 = first fraction, ...).

    Raises:
        ValueError: the fractions do not sum to 1 or one is negative.
    """
    fractions = np.asarray(fractions, dtype=np.float64)
    if fractions.ndim != 1 or (fractions < 0).any() or abs(fractions.sum() - 1) > 1e-6:
        raise ValueError(f"split fractions must be non-negative and sum to 1, got {fractions.tolist()}")
    ids = pd.Series(patient_ids).reset_index(drop=True)
    missing = ids.isna().to_numpy()
    keys = ids.astype("string").to_numpy(dtype=object)
    keys[missing] = [f"\0row{i}" for i in np.flatnonzero(missing)]  # cannot collide with a real id
    distinct, inverse = np.unique(keys.astype(str), return_inverse=True)
    order = np.random.default_rng(seed).permutation(len(distinct))
    bounds = np.round(np.cumsum(fractions) * len(distinct)).astype(np.int64)
    split_of_rank = np.searchsorted(bounds, np.arange(len(distinct)), side="right")
    split_of_patient = np.empty(len(distinct), dtype=np.int8)
    split_of_patient[order] = np.minimum(split_of_rank, len(fractions) - 1)
    return split_of_patient[inverse]
