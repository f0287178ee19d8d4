"""CovariateDataset: the published worked example, parity of selections, validation."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

from tests.datasets._toy import ToyDataset
from tests.datasets.contract import check_dataset_contract, no_global_side_effects
from xrayvision.datasets import CovariateDataset, MergeDataset, SubsetDataset
from xrayvision.errors import DatasetError

# Group sizes (d1 neg, d1 pos, d2 neg, d2 pos); the smallest is n = 63 (methods spec §5 check 7).
# Pools larger than n make the first draw (choosing n of each group) matter.
GROUPS = (80, 63, 70, 91)


def site_dataset(negatives: int, positives: int, shuffle_seed: int, patients: str = "") -> tuple[ToyDataset, np.ndarray]:
    """A one-label dataset with the given counts, positives scattered through the rows, one
    image per patient (ids ``<patients><row>``)."""
    target = np.array([0.0] * negatives + [1.0] * positives)
    target = target[np.random.RandomState(shuffle_seed).permutation(len(target))]
    ids = [f"{patients}{i}" for i in range(len(target))]
    d = ToyDataset(target.reshape(-1, 1), ["Viral"], shapes=[(8, 8)] * len(target), patientids=ids)
    return d, d.labels[:, 0].copy()


@pytest.fixture(scope="module")
def sites():
    d1, t1 = site_dataset(GROUPS[0], GROUPS[1], 1, "a")
    d2, t2 = site_dataset(GROUPS[2], GROUPS[3], 2, "b")
    return d1, t1, d2, t2


def group_counts(cov: CovariateDataset) -> tuple[int, int, int, int]:
    label = cov.labels[:, 0]
    return tuple(int(((cov.site == s) & (label == y)).sum()) for s in (0, 1) for y in (0, 1))


@pytest.mark.parametrize(
    "ratio, expected",
    [
        # Methods spec §2.7 / §5 check 7 (reference notebook, COVID-19 PA vs AP, n = 63).
        (0.9, {"train": (56, 6, 6, 56), "valid": (3, 28, 28, 3), "test": (4, 29, 29, 4)}),
        (0.5, {"train": (31,) * 4, "valid": (15,) * 4, "test": (17,) * 4}),
    ],
)
@pytest.mark.parametrize("selection", ["reference", "patients"])
def test_worked_example_counts(sites, ratio, expected, selection):
    """Methods spec §5 check 7; with one image per patient the patient draw gives the same counts."""
    for mode, counts in expected.items():
        cov = CovariateDataset(*sites, ratio=ratio, mode=mode, selection=selection)
        assert cov.n_per_category == 63
        assert group_counts(cov) == counts and len(cov) == sum(counts)
        # Each split is 50/50 in the target whatever the ratio.
        assert (cov.labels == 1).sum() == (cov.labels == 0).sum()


@contextlib.contextmanager
def global_numpy_rng_restored():
    state = np.random.get_state()
    try:
        yield
    finally:
        np.random.set_state(state)


def reference_selection(t1, t2, ratio, mode, seed, splits=(0.5, 0.25, 0.25)):
    """The reference's algorithm (datasets spec §2.6) with its global-RNG draws."""
    label = np.concatenate([t1, t2]).astype(int)
    site = np.concatenate([np.zeros(len(t1), int), np.ones(len(t2), int)])
    n = min(((site == 0) & (label == 1)).sum(), ((site == 1) & (label == 1)).sum(),
            ((site == 0) & (label != 1)).sum(), ((site == 1) & (label != 1)).sum())  # fmt: skip
    with global_numpy_rng_restored():
        np.random.seed(seed)
        pools = [np.random.choice(np.where((site == s) & (label == y))[0], n, replace=False)
                 for s, y in ((0, 0), (0, 1), (1, 0), (1, 1))]  # fmt: skip
        t_fracs = [ratio, 1 - ratio, 1 - ratio, ratio]
        train = [np.random.choice(p, int(n * f * splits[0] * 2), replace=False) for p, f in zip(pools, t_fracs)]
        pools = [np.setdiff1d(p, t) for p, t in zip(pools, train)]
        v_fracs = [1 - ratio, ratio, ratio, 1 - ratio]
        valid = [np.random.choice(p, int(n * f * splits[1] * 2), replace=False) for p, f in zip(pools, v_fracs)]
        test = [np.setdiff1d(p, v) for p, v in zip(pools, valid)]
    return np.concatenate({"train": train, "valid": valid, "test": test}[mode])


@pytest.mark.parametrize("mode", ["train", "valid", "test"])
@pytest.mark.parametrize("ratio, seed", [(0.9, 0), (0.5, 3), (0.2, 11)])
def test_selection_matches_the_global_rng_algorithm(sites, mode, ratio, seed):
    d1, t1, d2, t2 = sites
    cov = CovariateDataset(d1, t1, d2, t2, ratio=ratio, mode=mode, seed=seed, selection="reference")
    assert cov.select.tolist() == reference_selection(t1, t2, ratio, mode, seed).tolist()
    site = np.where(cov.select < len(d1), 0, 1)
    assert cov.site.tolist() == site.tolist()
    assert cov.imageids.tolist() == np.where(site == 0, cov.select, cov.select - len(d1)).tolist()


def test_does_not_touch_the_global_rng(sites):
    with no_global_side_effects("CovariateDataset"):
        cov = CovariateDataset(*sites, mode="valid", seed=0, verbose=True)
        cov[0]


def test_labels_csv_and_samples(sites):
    d1, t1, d2, t2 = sites
    cov = CovariateDataset(d1, t1, d2, t2, ratio=0.9, mode="test")
    assert cov.pathologies == ["Custom"] and cov.labels.dtype == np.float32 and cov.labels.shape == (len(cov), 1)
    assert cov.csv.index.tolist() == list(range(len(cov)))
    assert cov.csv["site"].tolist() == cov.site.tolist()
    assert cov.csv["label"].tolist() == cov.labels[:, 0].astype(int).tolist()
    for i in (0, len(cov) - 1):
        d, t = (d1, t1) if cov.site[i] == 0 else (d2, t2)
        local = int(cov.imageids[i])
        assert cov.labels[i, 0] == t[local]
        assert cov.csv["row"].iloc[i] == d.csv["row"].iloc[local]
        s = cov[i]
        assert s["idx"] == i and s["site"] == cov.site[i]
        assert s["lab"].tolist() == [t[local]] and s["lab-old"].tolist() == [t[local]]
        assert np.array_equal(s["img"], d[local]["img"])


def test_nsamples_in_the_reference_selection_truncates_each_group_alike(sites):
    cov = CovariateDataset(*sites, ratio=0.5, mode="train", nsamples=10, selection="reference")
    assert group_counts(cov) == (2, 3, 3, 2)  # floor, ceil, ceil, floor of 10 / 4
    cov = CovariateDataset(*sites, ratio=0.9, mode="train", nsamples=10, selection="reference")
    assert group_counts(cov) == (2, 3, 3, 2)  # the ratio is gone


def test_nsamples_keeps_the_ratio(sites):
    # train is (56, 6, 6, 56): shares of 10 are 4.52, 0.48, 0.48, 4.52 -> largest remainders
    cov = CovariateDataset(*sites, ratio=0.9, mode="train", nsamples=10)
    assert group_counts(cov) == (5, 0, 0, 5)
    cov = CovariateDataset(*sites, ratio=0.9, mode="train", nsamples=20)
    assert group_counts(cov) == (9, 1, 1, 9)
    assert len(CovariateDataset(*sites, ratio=0.9, mode="train", nsamples=1000)) == 124  # all there is


def test_splits_sum_has_a_tolerance(sites):
    cov = CovariateDataset(*sites, splits=[0.3, 0.2, 0.5])
    assert len(cov) > 0
    assert sum([0.7, 0.2, 0.1]) != 1.0  # the reference refused this
    CovariateDataset(*sites, splits=[0.7, 0.2, 0.1], ratio=0.5)
    with pytest.raises(DatasetError, match="summing to 1"):
        CovariateDataset(*sites, splits=[0.5, 0.25, 0.2])


def test_splits_that_need_more_than_a_group_are_refused(sites):
    with pytest.raises(DatasetError, match="only n=63"):
        CovariateDataset(*sites, ratio=0.9, splits=[0.8, 0.1, 0.1])


def test_nan_targets_are_refused_or_excluded(sites):
    d1, t1, d2, t2 = sites
    t1 = t1.copy()
    t1[[3, 10]] = np.nan
    with pytest.raises(DatasetError, match="2 NaN"):
        CovariateDataset(d1, t1, d2, t2)
    cov = CovariateDataset(d1, t1, d2, t2, mode="test", exclude_missing=True)
    chosen_d1 = set(cov.imageids[cov.site == 0].tolist())
    assert not chosen_d1 & {3, 10}
    assert not np.isnan(cov.labels).any()


@pytest.mark.parametrize(
    "kwargs, match",
    [({"mode": "val"}, "mode"), ({"ratio": 1.5}, "ratio"), ({"splits": [0.5, 0.5]}, "three")],
)
def test_bad_arguments(sites, kwargs, match):
    with pytest.raises(DatasetError, match=match):
        CovariateDataset(*sites, **kwargs)


def test_bad_targets(sites):
    d1, t1, d2, t2 = sites
    with pytest.raises(DatasetError, match="0 or 1"):
        CovariateDataset(d1, t1 * 2, d2, t2)
    with pytest.raises(DatasetError, match="one value per item"):
        CovariateDataset(d1, t1[:-1], d2, t2)
    with pytest.raises(DatasetError, match="d2 positive"):
        CovariateDataset(d1, t1, d2, np.zeros_like(t2))


def test_prints_inside_merge_and_subset(sites):
    cov = CovariateDataset(*sites, mode="valid")
    assert str(cov) == "CovariateDataset num_samples=60"  # 15 per group (ratio 0.5)
    assert str(SubsetDataset(cov, [0])) == "SubsetDataset num_samples=1\n└ of CovariateDataset num_samples=60"
    assert str(MergeDataset([cov])) == "MergeDataset num_samples=60\n└0 CovariateDataset num_samples=60\n"


def test_contract(sites):
    make = lambda: CovariateDataset(*sites, ratio=0.8, mode="valid", seed=2)  # noqa: E731
    check_dataset_contract(make(), constructor=make, num_workers=(0,))


def test_relabel_is_allowed_but_transforms_belong_to_the_sites(sites):
    from xrayvision.datasets import relabel_dataset

    cov = CovariateDataset(*sites, mode="test")
    relabel_dataset(["Custom", "Other"], cov, silent=True)
    assert cov.labels.shape == (len(cov), 2) and np.isnan(cov.labels[:, 1]).all()
    assert cov[0]["lab"].shape == (2,)
    with pytest.raises(NotImplementedError, match="transform"):
        cov.transform = None


def test_verbose_logs_the_group_sizes(sites, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="xrayvision.datasets._covariate"):
        CovariateDataset(*sites, ratio=0.9, mode="train", verbose=True)
    assert "n_per_category=63" in caplog.text
    # train: d1 56 neg / 6 pos, d2 6 neg / 56 pos.
    assert "TRAIN (ratio=0.9): neg=62, pos=62, d1_pos/neg=6/56, d2_pos/neg=56/6" in caplog.text
    assert "VALID (ratio=0.1): neg=31, pos=31, d1_pos/neg=28/3, d2_pos/neg=3/28" in caplog.text


# ------------------------------------------------------------------ nsamples keeps the ratio


@pytest.fixture(scope="module")
def large_sites():
    d1, t1 = site_dataset(700, 600, 3, "a")
    d2, t2 = site_dataset(650, 620, 4, "b")
    return d1, t1, d2, t2  # n = 600


def chosen_items(cov: CovariateDataset) -> set[tuple[int, int]]:
    return set(zip(cov.site.tolist(), cov.imageids.tolist()))


def test_ratios_no_longer_share_their_nsamples_images(large_sites):
    """The issue's example: at nsamples=2000 the reference gave ratio 0.1 and 0.9 the very same
    images, 500 per group. Train holds (60, 540, 540, 60) and (540, 60, 60, 540) of n = 600."""
    low = CovariateDataset(*large_sites, ratio=0.1, nsamples=200)
    high = CovariateDataset(*large_sites, ratio=0.9, nsamples=200)
    assert group_counts(low) == (10, 90, 90, 10) and group_counts(high) == (90, 10, 10, 90)
    assert len(chosen_items(low) & chosen_items(high)) < 100

    old_low = CovariateDataset(*large_sites, ratio=0.1, nsamples=200, selection="reference")
    old_high = CovariateDataset(*large_sites, ratio=0.9, nsamples=200, selection="reference")
    assert group_counts(old_low) == group_counts(old_high) == (50, 50, 50, 50)
    assert chosen_items(old_low) == chosen_items(old_high)


def test_proportional_counts_rounding_rule():
    from xrayvision.datasets._covariate import proportional_counts

    assert proportional_counts([56, 6, 6, 56], 10) == [5, 0, 0, 5]  # exact shares 4.52, 0.48, 0.48, 4.52
    assert proportional_counts([56, 6, 6, 56], 20) == [9, 1, 1, 9]  # 9.03, 0.97, 0.97, 9.03
    assert proportional_counts([1, 1, 1], 2) == [1, 1, 0]  # ties go to the earlier group
    assert proportional_counts([3, 0], 10) == [3, 0] and proportional_counts([0, 0], 5) == [0, 0]
    rng = np.random.RandomState(0)
    for _ in range(300):
        sizes, total = rng.randint(0, 50, size=4), int(rng.randint(0, 250))
        shares = proportional_counts(sizes.tolist(), total)
        kept = min(total, int(sizes.sum()))
        exact = sizes * kept / max(int(sizes.sum()), 1)
        assert sum(shares) == kept
        assert all(np.floor(e) <= s <= np.ceil(e) for e, s in zip(exact, shares))


# ------------------------------------------------------------------ patients never straddle splits


def patients_with_several_images(patients: int, seed: int, prefix: str = "patient", pa_share: float = 0.55,
                                  risk: float = 1.0) -> ToyDataset:  # fmt: skip
    """Patients with 1-6 images each, PA or AP, whose label may change between images
    (each patient's chance of a positive image is uniform in [0, ``risk``])."""
    rng = np.random.RandomState(seed)
    labels, views, ids = [], [], []
    for p in range(patients):
        chance = rng.rand() * risk
        for _ in range(rng.randint(1, 7)):
            labels.append([float(rng.rand() < chance)])
            views.append("PA" if rng.rand() < pa_share else "AP")
            ids.append(f"{prefix}{p}")
    return ToyDataset(labels, ["Effusion"], row_views=views, patientids=ids, shapes=[(8, 8)] * len(ids), views="*")


def views_of_one_dataset(patients: int = 260, seed: int = 5) -> tuple:
    """A PA site and an AP site cut from one dataset: the same patients in both sites."""
    full = patients_with_several_images(patients, seed)
    pa, ap = (SubsetDataset(full, np.flatnonzero(full.csv["view"] == view)) for view in ("PA", "AP"))
    return pa, pa.labels[:, 0].copy(), ap, ap.labels[:, 0].copy()


def split_patients(sites, **kwargs) -> dict[str, CovariateDataset]:
    return {mode: CovariateDataset(*sites, mode=mode, **kwargs) for mode in ("train", "valid", "test")}


def test_the_reference_draw_leaks_patients_and_the_default_does_not():
    sites = views_of_one_dataset()
    old = split_patients(sites, ratio=0.9, seed=1, selection="reference")
    patients = {m: set(d.csv["patientid"]) for m, d in old.items()}
    assert patients["train"] & patients["test"]  # the leak the issue reports

    new = split_patients(sites, ratio=0.9, seed=1)
    patients = {m: set(d.csv["patientid"]) for m, d in new.items()}
    assert not patients["train"] & patients["test"]
    assert not patients["train"] & patients["valid"] and not patients["valid"] & patients["test"]
    for mode, d in new.items():
        # never more than the reference's group sizes; the ratio and the balance are kept
        wanted, got = np.array(old[mode].group_sizes[mode]), np.array(group_counts(d))
        assert (got <= wanted).all() and got.sum() > 0
        assert got[0] == got[3] and got[1] == got[2]
        assert abs(got[0] / (got[0] + got[2]) - wanted[0] / (wanted[0] + wanted[2])) < 0.05
        assert len(set(d.select.tolist())) == len(d)  # no item twice


def test_two_datasets_with_several_images_per_patient_keep_the_reference_sizes():
    """Sites from two datasets (no shared patient): whole patients fill the groups all but exactly."""
    d1, d2 = patients_with_several_images(400, 6, "nih", risk=0.6), patients_with_several_images(400, 7, "pc", risk=0.6)
    sites = (d1, d1.labels[:, 0].copy(), d2, d2.labels[:, 0].copy())
    for ratio in (0.5, 0.9):
        old = split_patients(sites, ratio=ratio, seed=2, selection="reference")
        new = split_patients(sites, ratio=ratio, seed=2)
        ids = {m: set(d.csv["patientid"]) for m, d in new.items()}
        assert not ids["train"] & ids["test"] and not ids["train"] & ids["valid"] and not ids["valid"] & ids["test"]
        for mode in new:
            wanted, got = sum(old[mode].group_sizes[mode]), len(new[mode])
            assert 0.97 * wanted <= got <= wanted, (ratio, mode, got, wanted)


def test_the_patient_draw_is_deterministic_and_ignores_the_global_rng():
    sites = views_of_one_dataset(80)
    first = CovariateDataset(*sites, ratio=0.7, mode="valid", seed=4)
    np.random.seed(123)
    again = CovariateDataset(*sites, ratio=0.7, mode="valid", seed=4)
    assert first.select.tolist() == again.select.tolist()
    assert first.select.tolist() != CovariateDataset(*sites, ratio=0.7, mode="valid", seed=5).select.tolist()


def test_split_by_patient_packs_whole_patients():
    from xrayvision.datasets._covariate import split_by_patient

    # P0: two items of group 0; P1: three of group 1; P2: one of each.
    group, patient = np.array([0, 0, 1, 1, 1, 0, 1]), np.array([0, 0, 1, 1, 1, 2, 2])
    quotas = np.array([[3, 1], [0, 3]])
    for seed in range(8):  # whatever the visiting order: P1 alone fits split 1
        (a0, a1), (b0, b1) = split_by_patient(group, patient, quotas, np.random.RandomState(seed))
        assert sorted(a0.tolist()) == [0, 1, 5] and a1.tolist() == [6] and b0.tolist() == [] and sorted(b1.tolist()) == [2, 3, 4]


def test_split_by_patient_uses_part_of_a_patient_in_one_split_only():
    from xrayvision.datasets._covariate import split_by_patient

    # P0 has two items and each split wants one: P0 gives one item to one split, P1 fills the other.
    group, patient = np.array([0, 0, 0]), np.array([0, 0, 1])
    for seed in range(8):
        (a,), (b,) = split_by_patient(group, patient, np.array([[1], [1]]), np.random.RandomState(seed))
        assert len(a) == len(b) == 1 and {int(a[0]), int(b[0])} & {2} and not {int(a[0]), int(b[0])} == {0, 1}


def test_items_without_a_patient_id_are_their_own_patients(sites):
    d1, t1, d2, t2 = sites
    unnamed = ToyDataset(d1.labels, ["Viral"], shapes=[(8, 8)] * len(d1), patientids=[None] * len(d1))
    counts = {m: group_counts(CovariateDataset(unnamed, t1, d2, t2, ratio=0.9, mode=m)) for m in ("train", "valid", "test")}
    assert counts == {"train": (56, 6, 6, 56), "valid": (3, 28, 28, 3), "test": (4, 29, 29, 4)}


# ------------------------------------------------------------------ the red-herring paper's split rule


def test_the_papers_split_rule_with_an_unshifted_valid(large_sites):
    """Methods spec §5 check 8: ratio 0.9, no factor 2, valid unshifted: train (.45, .05, .05, .45)
    of n per group, valid (.225, .025, .025, .225), test (.325, .925, .925, .325)."""
    n = 600
    expected = {"train": (.45, .05, .05, .45), "valid": (.225, .025, .025, .225), "test": (.325, .925, .925, .325)}
    for mode, fractions in expected.items():
        cov = CovariateDataset(*large_sites, ratio=0.9, valid_ratio=0.9, splits=(0.25, 0.125, 0.625), mode=mode)
        # up to the int() truncations (600 * (1 - 0.9) is 59.99999999999999); test takes their sum
        assert np.abs(np.array(group_counts(cov)) - np.array(fractions) * n).max() <= 2


def test_the_label_column_may_be_named(sites):
    cov = CovariateDataset(*sites, mode="test", pathology="Effusion")
    assert cov.pathologies == ["Effusion"]


@pytest.mark.parametrize(
    "kwargs, match",
    [({"selection": "images"}, "selection"), ({"valid_ratio": -0.1}, "valid_ratio"), ({"nsamples": 2.5}, "nsamples")],
)
def test_bad_new_options(sites, kwargs, match):
    with pytest.raises(DatasetError, match=match):
        CovariateDataset(*sites, **kwargs)


# ------------------------------------------------------------------ real metadata


@pytest.mark.realdata
def test_nih_pa_versus_ap_effusion(realdata):
    """The issue's runs on the whole NIH metadata (PA vs AP, Effusion, seed 0)."""
    from xrayvision.datasets import NIH_Dataset

    folder = realdata / "nih-chestxray14"
    if not (folder / "Data_Entry_2017_v2020.csv").exists():
        pytest.skip(f"no NIH metadata in {folder}")
    common = dict(imgpath=folder / "images", csvpath=folder / "Data_Entry_2017_v2020.csv", unique_patients=False,
                  bbox_list_path=None)  # fmt: skip
    pa, ap = NIH_Dataset(views=["PA"], **common), NIH_Dataset(views=["AP"], **common)
    j = pa.pathologies.index("Effusion")
    sites = (pa, pa.labels[:, j], ap, ap.labels[:, j])
    old = {r: CovariateDataset(*sites, ratio=r, nsamples=2000, selection="reference") for r in (0.1, 0.9)}
    assert group_counts(old[0.1]) == group_counts(old[0.9]) == (500, 500, 500, 500)
    assert chosen_items(old[0.1]) == chosen_items(old[0.9])
    new = {r: CovariateDataset(*sites, ratio=r, nsamples=2000) for r in (0.1, 0.9)}
    assert group_counts(new[0.1]) == (100, 900, 900, 100) and group_counts(new[0.9]) == (900, 100, 100, 900)

    leaky = split_patients(sites, ratio=0.9, selection="reference")
    assert set(leaky["train"].csv["patientid"]) & set(leaky["test"].csv["patientid"])
    clean = split_patients(sites, ratio=0.9)
    ids = {m: set(d.csv["patientid"]) for m, d in clean.items()}
    assert not ids["train"] & ids["test"] and not ids["train"] & ids["valid"] and not ids["valid"] & ids["test"]
