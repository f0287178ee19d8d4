"""Patient splits: no patient in two splits, seeded, independent of row order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xrayvision.train import patient_split


def test_no_patient_is_in_two_splits_and_fractions_count_patients():
    rng = np.random.default_rng(1)
    ids = pd.Series(rng.integers(0, 200, size=1000)).astype(str)
    codes = patient_split(ids, [0.6, 0.2, 0.2], seed=0)
    per_patient = pd.DataFrame({"id": ids, "split": codes}).groupby("id")["split"].nunique()
    assert (per_patient == 1).all()
    patients = pd.DataFrame({"id": ids, "split": codes}).drop_duplicates("id")["split"].value_counts()
    n = ids.nunique()
    assert patients[0] == round(0.6 * n) and patients[1] == round(0.8 * n) - round(0.6 * n)


def test_seeded_and_independent_of_row_order():
    ids = pd.Series([f"p{i % 50}" for i in range(300)])
    a = patient_split(ids, [0.5, 0.25, 0.25], seed=3)
    assert np.array_equal(a, patient_split(ids, [0.5, 0.25, 0.25], seed=3))
    assert not np.array_equal(a, patient_split(ids, [0.5, 0.25, 0.25], seed=4))
    order = np.random.default_rng(0).permutation(len(ids))
    shuffled = patient_split(ids.iloc[order].reset_index(drop=True), [0.5, 0.25, 0.25], seed=3)
    assert np.array_equal(shuffled, a[order])


def test_rows_without_patient_are_their_own_patient():
    ids = pd.Series([None] * 100 + ["a"] * 5)
    codes = patient_split(ids, [0.5, 0.5, 0.0], seed=0)
    assert len(set(codes[100:])) == 1
    assert 30 < (codes[:100] == 0).sum() < 70  # the id-less rows are spread, not lumped together


def test_bad_fractions_are_refused():
    with pytest.raises(ValueError, match="sum to 1"):
        patient_split(["a", "b"], [0.5, 0.6, 0.1], seed=0)
