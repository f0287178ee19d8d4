"""The Dataset base class: views, one image per patient, samples, masks, totals, printing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.datasets._toy import ToyDataset, toy
from tests.datasets.contract import CropResize, check_dataset_contract
from xrayvision.datasets import Dataset
from xrayvision.datasets._base import as_view_list
from xrayvision.errors import DatasetError, MetadataError, UnknownNameError

VIEWS = ["PA", "AP", None, "PA", "LL", "AP"]


# ---------------------------------------------------------------------------------- views


@pytest.mark.parametrize(
    "views, expected",
    [(None, ["*"]), ("PA", ["PA"]), (("PA", "AP"), ["PA", "AP"]), (["AP", "*"], ["*"]), (iter(["LL"]), ["LL"])],
)
def test_as_view_list(views, expected):
    assert as_view_list(views) == expected


def test_as_view_list_rejects_non_strings():
    with pytest.raises(DatasetError):
        as_view_list(["PA", 3])


def test_view_filter_keeps_listed_views_and_fills_unknown():
    d = toy(6, row_views=VIEWS, views=("PA", "UNKNOWN"))
    assert d.views == ["PA", "UNKNOWN"]
    assert d.csv["row"].tolist() == [0, 2, 3]
    assert d.csv["view"].tolist() == ["PA", "UNKNOWN", "PA"]
    assert d.csv.index.tolist() == [0, 1, 2]
    all_views = toy(6, row_views=VIEWS, views="*")
    assert len(all_views) == 6 and all_views.csv["view"].iloc[2] == "UNKNOWN"


def test_labels_follow_the_view_filter():
    d = toy(6, row_views=VIEWS, views="AP")
    full = toy(6)
    assert np.array_equal(d.labels, full.labels[[1, 5]], equal_nan=True)


def test_unknown_view_is_a_named_error():
    with pytest.raises(UnknownNameError, match="did you mean 'PA'"):
        toy(6, row_views=VIEWS, views=["Pa"])


# ---------------------------------------------------------------------------------- patients


def test_one_image_per_patient_keeps_real_first_rows_sorted_by_id():
    patients = ["p2", "p1", "p2", None, "p1", "p3"]
    labels = [[1, np.nan], [0, 1], [np.nan, 0], [1, 1], [1, 0], [0, 0]]
    d = ToyDataset(labels, ["Mass", "Nodule"], patientids=patients, unique_patients=True)
    # First row of each patient in file order (p1: row 1, p2: row 0, p3: row 5), sorted by id.
    assert d.csv["row"].tolist() == [1, 0, 5]
    assert d.csv["patientid"].tolist() == ["p1", "p2", "p3"]
    # Row 0's NaN is kept, not filled from p2's later row (no group-first mixing).
    assert np.array_equal(d.labels, np.array([[0, 1], [1, np.nan], [0, 0]], np.float32), equal_nan=True)
    assert d.skipped == {"no patientid (unique_patients)": 1}


def test_one_image_per_patient_after_view_filter():
    patients = ["p1", "p1", "p2"]
    d = ToyDataset([[0], [1], [1]], ["Mass"], patientids=patients, row_views=["AP", "PA", "PA"],
                   views="PA", unique_patients=True)  # fmt: skip
    assert d.csv["row"].tolist() == [1, 2]


class Rows(Dataset):
    """A table of views and patient ids, for the row selection alone."""

    known_views = ("PA", "AP", "LL")

    def __init__(self) -> None:
        super().__init__()
        self.csv = pd.DataFrame({
            "row": range(8),
            "view": pd.array(["PA", "AP", None, "PA", "LL", None, "AP", "PA"], dtype="str"),
            "patientid": pd.array(["p3", "p1", "p2", "p1", None, "p2", "p3", None], dtype="str"),
        }, index=range(100, 108))  # fmt: skip


@pytest.mark.parametrize("views", ["*", "PA", ("PA", "AP"), ("AP", "UNKNOWN"), "UNKNOWN"])
def test_select_rows_equals_its_two_steps(views):
    one, two = Rows(), Rows()
    one._select_rows(views, unique_patients=True)
    two.limit_to_selected_views(views)
    two.keep_one_image_per_patient()
    pd.testing.assert_frame_equal(one.csv, two.csv)
    assert (one.views, one.skipped) == (two.views, two.skipped)
    assert not one.csv["view"].hasnans


def test_one_image_per_patient_needs_the_key_column():
    d = toy(3)
    with pytest.raises(MetadataError, match="no column 'subject'"):
        d.keep_one_image_per_patient("subject")


# ---------------------------------------------------------------------------------- construction


class Bare(Dataset):
    """A subclass that fills no common column itself."""

    def __init__(self, n: int, width: int, names: list[str]) -> None:
        super().__init__()
        self.csv = pd.DataFrame({"a": range(n)}, index=range(10, 10 + n))
        self._finish_csv()
        self._set_labels(np.zeros((n, width)), names)


def test_finish_csv_adds_common_columns_and_resets_index():
    d = Bare(3, 2, ["A", "B"])
    assert d.csv.index.tolist() == [0, 1, 2]
    assert d.csv["has_masks"].tolist() == [False] * 3
    assert d.csv[["patientid", "offset_day_int", "view"]].isna().all().all()
    assert d.labels.dtype == np.float32


def test_set_labels_checks_shapes():
    with pytest.raises(DatasetError, match="do not fit 3 pathologies"):
        Bare(3, 2, ["A", "B", "C"])
    d = Bare(3, 2, ["A", "B"])
    with pytest.raises(DatasetError, match="2 label rows for 3 csv rows"):
        d._set_labels(np.zeros((2, 2)), ["A", "B"])


def test_set_labels_copies_names_to_a_list_of_str():
    names = ("A", np.str_("B"))
    d = Bare(1, 2, names)
    assert d.pathologies == ["A", "B"] and all(type(p) is str for p in d.pathologies)


# ---------------------------------------------------------------------------------- samples


def test_sample_fields_and_negative_index():
    d = toy(5)
    s = d[-2]
    assert set(s) == {"idx", "lab", "img"}
    assert s["idx"] == 3
    assert np.array_equal(s["lab"], d.labels[3], equal_nan=True)
    assert s["img"].dtype == np.float32 and s["img"].shape == (1, 24, 32)
    assert np.array_equal(s["img"], d[3]["img"]) and not np.array_equal(s["img"], d[2]["img"])
    assert d[np.int64(1)]["idx"] == 1


@pytest.mark.parametrize("bad, error", [(5, IndexError), (-6, IndexError), (1.0, TypeError), ("0", TypeError)])
def test_bad_indices(bad, error):
    with pytest.raises(error):
        toy(5)[bad]


def test_masks_are_keyed_by_current_column_and_only_when_enabled():
    plain = toy(3)
    assert "pathology_masks" not in plain[0] and "semantic_masks" not in plain[0]
    d = toy(3, pathology_masks=True, semantic_masks=True)
    s = d[1]  # row 1: Effusion 0, Mass NaN, Nodule 1
    assert list(s["pathology_masks"]) == [2]
    assert s["pathology_masks"][2].shape == s["img"].shape
    assert list(s["semantic_masks"]) == ["Lungs"]
    assert d.csv["has_masks"].tolist() == [True, True, True]


def test_transform_and_data_aug_apply_to_image_and_masks_in_order():
    calls = []

    def record(tag):
        def f(x):
            calls.append(tag)
            return x[..., :4, :6]

        return f

    d = toy(3, pathology_masks=True, transform=record("t"), data_aug=record("a"))
    s = d[0]  # row 0 is positive for Effusion only: image + one mask
    assert s["img"].shape == (1, 4, 6) and s["pathology_masks"][0].shape == (1, 4, 6)
    assert calls == ["t", "t", "a", "a"]


def test_crop_resize_transform():
    d = toy(2, transform=CropResize(16), pathology_masks=True)
    s = d[0]
    assert s["img"].shape == (1, 16, 16) and s["pathology_masks"][0].shape == (1, 16, 16)


# ---------------------------------------------------------------------------------- summaries


def test_totals_counts_known_values_most_common_first():
    labels = [[1, np.nan], [0, np.nan], [1, np.nan], [1, np.nan], [0, np.nan]]
    d = ToyDataset(labels, ["Mass", "Nodule"])
    totals = d.totals()
    assert totals == {"Mass": {1.0: 3, 0.0: 2}, "Nodule": {}}
    assert list(totals["Mass"]) == [1.0, 0.0]


def test_string_and_repr():
    d = toy(4, views=["PA"])
    assert d.string() == "ToyDataset num_samples=4 views=['PA'] data_aug=None"
    assert repr(d) == str(d) == d.string()


def test_pretty_repr_shows_totals_then_description():
    d = toy(3)

    class Printer:
        text_out = ""

        def text(self, s):
            self.text_out += s

    p = Printer()
    d._repr_pretty_(p, False)
    assert p.text_out.startswith("{'Effusion':") and p.text_out.endswith(d.string())


def test_len_is_the_number_of_label_rows():
    assert len(toy(7)) == 7 and len(toy(7, row_views=VIEWS + ["PA"], views="LL")) == 1


def test_toy_passes_the_contract():
    check_dataset_contract(toy(6), constructor=lambda: toy(6))


def test_toy_with_masks_and_mixed_sizes_passes_the_contract():
    shapes = [(24, 32), (40, 30), (16, 16), (24, 32), (30, 20)]
    make = lambda: toy(5, shapes=shapes, pathology_masks=True, semantic_masks=True)  # noqa: E731
    check_dataset_contract(make(), constructor=make)


def test_labels_are_writable_float32_copies():
    frame = pd.DataFrame({"A": np.zeros(2, np.float32)})
    d = Bare(2, 1, ["A"])
    d.csv = frame.assign(**{c: np.nan for c in ("patientid", "offset_day_int", "view", "has_masks")})
    d._set_labels(frame, ["A"])
    assert d.labels.flags.writeable
    d.labels[0, 0] = 1
    assert frame["A"].tolist() == [0.0, 0.0]
