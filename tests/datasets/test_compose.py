"""relabel_dataset, MergeDataset, SubsetDataset and FilterDataset on tiny in-memory datasets."""

from __future__ import annotations

import logging
import pickle
import warnings

import numpy as np
import pytest

from tests.datasets._toy import ToyDataset, toy
from tests.datasets.contract import check_dataset_contract, no_global_side_effects
from xrayvision.datasets import (
    CovariateDataset,
    FilterDataset,
    Merge_Dataset,
    MergeDataset,
    SubsetDataset,
    default_pathologies,
    relabel_dataset,
)
from xrayvision.errors import DatasetError, UnknownNameError

NAMES = ["Effusion", "Mass", "Nodule"]


def nan_equal(a, b) -> bool:
    return np.array_equal(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), equal_nan=True)


# ---------------------------------------------------------------------------------- relabel


def test_relabel_reorders_drops_and_adds_nan_columns():
    d = toy(6)
    before = d.labels.copy()
    wanted = ["Nodule", "Pneumonia", "Effusion"]
    with pytest.warns(UserWarning, match="Pneumonia"):
        relabel_dataset(wanted, d)
    assert d.pathologies == wanted
    assert d.labels.dtype == np.float32 and d.labels.shape == (6, 3)
    assert nan_equal(d.labels[:, 0], before[:, 2])
    assert np.isnan(d.labels[:, 1]).all()
    assert nan_equal(d.labels[:, 2], before[:, 0])
    assert nan_equal(d[4]["lab"], d.labels[4])


def test_relabel_copies_the_list():
    d = toy(3)
    wanted = ["Mass", "Effusion"]
    relabel_dataset(wanted, d, silent=True)
    wanted.append("Nodule")
    assert d.pathologies == ["Mass", "Effusion"]
    relabel_dataset(default_pathologies, d, silent=True)
    assert d.pathologies is not default_pathologies


def test_relabel_reports_through_logging_and_warnings_not_stdout(caplog, capsys):
    d = toy(3)
    with caplog.at_level(logging.INFO, logger="xrayvision.datasets._compose"):
        with pytest.warns(UserWarning, match=r"\['Hernia'\]"):
            relabel_dataset(["Mass", "Hernia"], d)
    assert "['Effusion', 'Nodule'] will be dropped" in caplog.text
    assert capsys.readouterr().out == ""


def test_relabel_silent_reports_nothing(caplog):
    d = toy(3)
    with caplog.at_level(logging.DEBUG), warnings.catch_warnings():
        warnings.simplefilter("error")
        relabel_dataset(["Hernia"], d, silent=True)
    assert caplog.records == []


@pytest.mark.parametrize("bad", ["Mass", ["Mass", "Mass"]])
def test_relabel_rejects_a_string_or_repeated_names(bad):
    d = toy(3)
    with pytest.raises(DatasetError):
        relabel_dataset(bad, d)
    assert d.pathologies == NAMES


def test_masks_follow_relabel():
    d = toy(6, pathology_masks=True)
    original = {NAMES[k]: m for k, m in d[0]["pathology_masks"].items()}
    assert original  # row 0 is positive for Effusion
    relabel_dataset(["Pneumonia", "Nodule", "Effusion"], d, silent=True)
    moved = {d.pathologies[k]: m for k, m in d[0]["pathology_masks"].items()}
    assert set(moved) == set(original) & {"Nodule", "Effusion"}
    for name, mask in moved.items():
        assert np.array_equal(mask, original[name])


def test_relabel_refuses_wrappers_without_changing_them():
    m = MergeDataset([toy(3), toy(2)])
    with pytest.raises(NotImplementedError, match="underlying dataset.*the wrapper follows"):
        relabel_dataset(["Mass"], m)
    assert m.pathologies == NAMES and m.labels.shape == (5, 3)


def _by_name(d, row: int) -> dict[str, float]:
    return dict(zip(d.pathologies, d.labels[row].tolist()))


def test_wrappers_follow_a_relabel_of_the_dataset_inside_them():
    d = toy(6, pathology_masks=True)
    before = [_by_name(d, i) for i in range(len(d))]  # the oracle: labels by name, per inner row
    subset = SubsetDataset(d, [4, 0, 2])
    filtered = FilterDataset(d, ["Mass", "Effusion"])
    merged = MergeDataset([SubsetDataset(d, [0, 1]), SubsetDataset(d, [5, 3])])
    nested = SubsetDataset(merged, [3, 0])
    inner_rows = {subset: [4, 0, 2], filtered: filtered.idxs.tolist(), merged: [0, 1, 5, 3], nested: [3, 0]}
    wanted = ["Nodule", "Effusion", "Hardware"]
    relabel_dataset(wanted, d, silent=True)
    for wrapper, rows in inner_rows.items():
        assert wrapper.pathologies == wanted, type(wrapper).__name__
        assert wrapper.labels.shape == (len(rows), 3) and wrapper.labels.dtype == np.float32
        for i, row in enumerate(rows):
            expected = [before[row].get(name, np.nan) for name in wanted]
            assert nan_equal(wrapper.labels[i], expected)
            sample = wrapper[i]
            assert nan_equal(sample["lab"], expected)
            # Masks are keyed by the new columns, and land on labels that are positive.
            assert {wanted[k] for k in sample["pathology_masks"]} == {
                name for name in ("Nodule", "Effusion") if before[row][name] == 1
            }
            assert all(sample["lab"][k] == 1 for k in sample["pathology_masks"])
    assert len(filtered) == len(inner_rows[filtered])  # rows chosen at construction stay


def test_a_merge_whose_datasets_are_relabelled_differently_says_so():
    a, b = toy(3), toy(2)
    m = MergeDataset([a, b], label_concat=True)
    relabel_dataset(["Mass", "Nodule"], a, silent=True)
    with pytest.raises(DatasetError, match="relabelled after merging.*Only in dataset 1: \\['Effusion'\\]"):
        m[0]
    relabel_dataset(["Mass", "Nodule"], b, silent=True)
    assert m.pathologies == ["Mass", "Nodule"] and m.labels.shape == (5, 4)
    assert nan_equal(m.labels[3:, 2:], b.labels) and np.isnan(m.labels[3:, :2]).all()


def test_wrapper_pathologies_cannot_be_changed_through_the_list():
    s = SubsetDataset(toy(3), [0])
    s.pathologies.append("Mass")
    assert s.pathologies == NAMES


# ---------------------------------------------------------------------------------- merge


def test_merge_concatenates_labels_csv_and_indexes_globally():
    a, b = toy(4), toy(3, row_views=["AP", "PA", "AP"])
    b.csv["extra"] = ["x", "y", "z"]
    m = MergeDataset([a, b])
    assert len(m) == 7 and m.pathologies == NAMES and m.pathologies is not a.pathologies
    assert m.labels.dtype == np.float32 and nan_equal(m.labels, np.vstack([a.labels, b.labels]))
    assert m.which_dataset.tolist() == [0, 0, 0, 0, 1, 1, 1]
    assert m.offset.tolist() == [0, 0, 0, 0, 4, 4, 4] and m.offset.dtype == np.int64
    assert m.csv.index.tolist() == list(range(7))
    assert m.csv["view"].tolist() == ["PA"] * 4 + ["AP", "PA", "AP"]
    assert m.csv["extra"].isna().sum() == 4 and m.csv["extra"].iloc[4:].tolist() == ["x", "y", "z"]
    s = m[5]
    assert s["idx"] == 5 and s["source"] == 1
    assert nan_equal(s["lab"], b.labels[1])
    assert np.array_equal(s["img"], b[1]["img"])
    assert m[-1]["idx"] == 6 and m[-1]["source"] == 1
    with pytest.raises(IndexError):
        m[7]


def test_merge_alias_is_the_same_class():
    assert Merge_Dataset is MergeDataset
    assert str(Merge_Dataset([toy(2)])).startswith("MergeDataset num_samples=2")


def test_merge_label_concat_gives_each_source_its_block():
    a, b = toy(2), toy(3)
    m = MergeDataset([a, b], label_concat=True)
    assert m.labels.shape == (5, 6) and m.labels.dtype == np.float32
    assert nan_equal(m.labels[:2, :3], a.labels) and np.isnan(m.labels[:2, 3:]).all()
    assert nan_equal(m.labels[2:, 3:], b.labels) and np.isnan(m.labels[2:, :3]).all()
    assert nan_equal(m[3]["lab"], m.labels[3])


def test_merge_refuses_misaligned_pathologies_and_names_them():
    a = toy(2)
    b = toy(2, pathologies=["Effusion", "Pneumonia", "Nodule"])
    with pytest.raises(DatasetError) as error:
        MergeDataset([a, b])
    message = str(error.value)
    assert "'Mass'" in message and "'Pneumonia'" in message and "relabel_dataset" in message
    c = toy(2, pathologies=["Mass", "Effusion", "Nodule"])
    with pytest.raises(DatasetError, match="another order"):
        MergeDataset([a, c])


def test_merge_rejects_no_datasets():
    with pytest.raises(DatasetError, match="at least one"):
        MergeDataset([])


@pytest.mark.parametrize("name", ["transform", "data_aug", "labels", "pathologies", "targets"])
@pytest.mark.parametrize("make", [lambda: MergeDataset([toy(2)]), lambda: SubsetDataset(toy(3), [0]),
                                  lambda: FilterDataset(toy(3), ["Mass"])])  # fmt: skip
def test_wrappers_refuse_field_assignment(make, name):
    wrapper = make()
    with pytest.raises(NotImplementedError, match=name):
        setattr(wrapper, name, None)


def test_merge_tree_string_matches_the_reference_format():
    a = toy(2)
    b = toy(3, views=["PA"])
    m = MergeDataset([a, b])
    expected = (
        "MergeDataset num_samples=5\n"
        "├0 ToyDataset num_samples=2 views=['*'] data_aug=None\n"
        "└1 ToyDataset num_samples=3 views=['PA'] data_aug=None\n"
    )
    assert m.string() == expected and repr(m) == expected and str(m) == expected


def test_nested_merges_and_subsets_print_as_a_tree():
    inner = MergeDataset([toy(2), toy(1)])
    outer = MergeDataset([inner, SubsetDataset(toy(4), [1, 2])])
    expected = (
        "MergeDataset num_samples=5\n"
        "├0 MergeDataset num_samples=3\n"
        "|  ├0 ToyDataset num_samples=2 views=['*'] data_aug=None\n"
        "|  └1 ToyDataset num_samples=1 views=['*'] data_aug=None\n"
        "|  \n"
        "└1 SubsetDataset num_samples=2\n"
        "   └ of ToyDataset num_samples=4 views=['*'] data_aug=None\n"
    )
    assert outer.string() == expected
    s = outer[2]
    assert s["idx"] == 2 and s["source"] == 0
    s = outer[4]
    assert s["idx"] == 4 and s["source"] == 1 and nan_equal(s["lab"], toy(4).labels[2])


# ---------------------------------------------------------------------------------- subset


def test_subset_selects_rows_in_order():
    d = toy(6)
    s = SubsetDataset(d, [4, 0, -1, 4])
    assert s.idxs.tolist() == [4, 0, 5, 4] and len(s) == 4
    assert nan_equal(s.labels, d.labels[[4, 0, 5, 4]])
    assert s.csv.index.tolist() == [0, 1, 2, 3] and s.csv["row"].tolist() == [4, 0, 5, 4]
    sample = s[2]
    assert sample["idx"] == 2 and nan_equal(sample["lab"], d.labels[5])
    assert np.array_equal(sample["img"], d[5]["img"])
    assert s.string() == "SubsetDataset num_samples=4\n└ of ToyDataset num_samples=6 views=['*'] data_aug=None"


def test_subset_without_indices_keeps_every_row():
    d = toy(5)
    s = SubsetDataset(d)
    assert len(s) == 5 and nan_equal(s.labels, d.labels) and s.idxs.tolist() == list(range(5))


def test_subset_accepts_a_boolean_mask_and_numpy_where():
    d = toy(6, row_views=["PA", "AP", "PA", "AP", "AP", "PA"])
    by_mask = SubsetDataset(d, (d.csv["view"] == "AP").to_numpy())
    by_where = SubsetDataset(d, np.where(d.csv["view"] == "AP")[0])
    assert by_mask.idxs.tolist() == by_where.idxs.tolist() == [1, 3, 4]


def test_subset_empty_selection():
    s = SubsetDataset(toy(3), [])
    assert len(s) == 0 and s.labels.shape == (0, 3) and len(s.csv) == 0


@pytest.mark.parametrize(
    "idxs, match",
    [([0, 6], "out of range"), ([-7], "out of range"), ([0.0, 1.0], "integer"), ([[0, 1]], "one-dimensional"),
     ([True, False], "one entry per row")],  # fmt: skip
)
def test_subset_validates_indices(idxs, match):
    with pytest.raises(DatasetError, match=match):
        SubsetDataset(toy(6), idxs)


def test_subset_of_merge_keeps_which_dataset_and_source():
    m = MergeDataset([toy(2), toy(3)])
    s = SubsetDataset(m, [4, 0])
    assert s.which_dataset.tolist() == [1, 0]
    assert s[0]["source"] == 1 and s[0]["idx"] == 0 and s[1]["source"] == 0


# ---------------------------------------------------------------------------------- filter


def test_filter_groups_by_label_and_keeps_duplicates_like_the_reference(caplog):
    labels = [[1, 0], [0, 1], [1, 1], [np.nan, 1], [1, np.nan]]
    d = ToyDataset(labels, ["Mass", "Nodule"])
    with caplog.at_level(logging.INFO, logger="xrayvision.datasets._compose"):
        f = FilterDataset(d, ["Nodule", "Mass"])
    assert "filtering for Nodule" in caplog.text
    # Nodule positives 1, 2, 3 then Mass positives 0, 2, 4 (row 2 twice).
    assert f.idxs.tolist() == [1, 2, 3, 0, 2, 4]
    assert f.csv.index.tolist() == list(range(6)) and f.csv["row"].tolist() == [1, 2, 3, 0, 2, 4]
    assert nan_equal(f.labels, d.labels[[1, 2, 3, 0, 2, 4]])
    assert f[3]["idx"] == 3 and nan_equal(f[3]["lab"], d.labels[0])
    unique = FilterDataset(d, ["Nodule", "Mass"], unique=True)
    assert unique.idxs.tolist() == [1, 2, 3, 0, 4]
    assert FilterDataset(d, "Mass").idxs.tolist() == [0, 2, 4]
    assert f.string().startswith("FilterDataset num_samples=6\n└ of ToyDataset num_samples=5")


def test_filter_without_labels_is_empty_and_unknown_names_fail():
    d = toy(4)
    assert len(FilterDataset(d)) == 0 and len(FilterDataset(d, [])) == 0
    with pytest.raises(UnknownNameError, match="Effusion"):
        FilterDataset(d, ["Efusion"])


# ---------------------------------------------------------------------------------- cross-cutting


WRAPPERS = {
    "merge": lambda: MergeDataset([toy(4), toy(3)], seed=7),
    "merge-concat": lambda: MergeDataset([toy(4), toy(3)], label_concat=True),
    "subset": lambda: SubsetDataset(toy(5), [3, 1]),
    "subset-all": lambda: SubsetDataset(toy(5)),
    "filter": lambda: FilterDataset(toy(6), ["Mass", "Nodule"]),
    "covariate": lambda: CovariateDataset(toy(12), toy(12).labels[:, 0] == 1, toy(10), toy(10).labels[:, 1] == 1),
}


@pytest.mark.parametrize("name", sorted(WRAPPERS))
def test_constructing_and_indexing_wrappers_has_no_global_side_effects(name):
    with no_global_side_effects(name):
        wrapper = WRAPPERS[name]()
        wrapper[0]
        wrapper.string()


@pytest.mark.parametrize("name", sorted(WRAPPERS))
def test_wrappers_pickle(name):
    wrapper = WRAPPERS[name]()
    clone = pickle.loads(pickle.dumps(wrapper))
    assert clone.string() == wrapper.string() and nan_equal(clone.labels, wrapper.labels)
    assert np.array_equal(clone[0]["img"], wrapper[0]["img"])


@pytest.mark.parametrize("name", ["merge", "subset", "subset-all", "filter"])
def test_wrappers_pass_the_contract(name):
    check_dataset_contract(WRAPPERS[name](), constructor=WRAPPERS[name], num_workers=(0,))


def test_merge_of_masked_datasets_passes_the_contract():
    make = lambda: MergeDataset([toy(3, pathology_masks=True), toy(2, pathology_masks=True)])  # noqa: E731
    check_dataset_contract(make(), expect_masks=True, constructor=make)


def test_merge_refuses_children_whose_label_width_does_not_match():
    concat = MergeDataset([toy(2), toy(2)], label_concat=True)
    with pytest.raises(DatasetError, match=r"labels of shape \(4, 6\)"):
        MergeDataset([concat, toy(2)])
