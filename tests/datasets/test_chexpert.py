"""CheX_Dataset and the shared CheXpert label parser: fake data, rules, real metadata."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xrayvision.datasets._chexpert_labels import CHEXPERT_PATHOLOGIES, chexpert_label_matrix
from xrayvision.datasets.chexpert import CheX_Dataset, chexpert_views, patient_digits
from xrayvision.errors import MetadataError, MissingImageError, UnknownNameError
from xrayvision.fakedata.chexpert import ROWS, label_cells, write_chexpert

SOURCE_ORDER = ["No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
                "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other",
                "Fracture", "Support Devices"]  # fmt: skip


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    return write_chexpert(tmp_path_factory.mktemp("chexpert"))


def test_rows_views_and_common_columns(fake):
    d = CheX_Dataset(imgpath=fake["imgpath"], csvpath=fake["csvpath"], views="*", unique_patients=False)
    assert len(d) == len(ROWS)
    assert d.csv["view"].tolist() == ["PA", "AP", "L", "AP", "PA", "PA", "UNKNOWN", "LL", "PA"]
    assert d.csv["patientid"].tolist() == [r[0] for r in ROWS]
    assert np.isnan(d.csv["age_years"][5]) and d.csv["age_years"][0] == 50  # age 0 -> unknown
    assert d.csv["sex_male"].tolist() == [r[3] == "Male" for r in ROWS]
    # default: PA only, first PA image per patient, ordered by patient
    default = CheX_Dataset(imgpath=fake["imgpath"], csvpath=fake["csvpath"])
    assert default.csv["patientid"].tolist() == ["00002", "00003", "00004", "00005"]
    assert default.csv["Path"][0].endswith("patient00002/study1/view1_frontal.jpg")


def test_labels_follow_the_rule_by_hand(fake):
    d = CheX_Dataset(imgpath=fake["imgpath"], csvpath=fake["csvpath"], views="*", unique_patients=False)
    for i, row in enumerate(ROWS):
        cells = dict(zip(SOURCE_ORDER, label_cells(row)))
        healthy = cells["No Finding"] == 1
        for j, name in enumerate(CHEXPERT_PATHOLOGIES):
            raw = cells["Pleural Effusion" if name == "Effusion" else name]
            expected = 0.0 if healthy and name != "Support Devices" else (np.nan if raw == -1 else raw)
            assert np.array_equal(d.labels[i, j], expected, equal_nan=True), (i, name)


def test_label_parser_rules():
    table = pd.DataFrame({
        "No Finding": [1.0, np.nan, 1.0], "Cardiomegaly": [np.nan, -1.0, 1.0],
        "Support Devices": [1.0, 0.0, np.nan], "Pleural Effusion": [np.nan, 1.0, 0.0],
    })  # fmt: skip
    before = table.copy()
    m = chexpert_label_matrix(table)
    assert m.dtype == np.float32 and m.shape == (3, 13)
    col = {n: m[:, j] for j, n in enumerate(CHEXPERT_PATHOLOGIES)}
    np.testing.assert_array_equal(col["Cardiomegaly"], [0, np.nan, 0])  # healthy wins, -1 -> NaN
    np.testing.assert_array_equal(col["Support Devices"], [1, 0, np.nan])  # never zeroed
    np.testing.assert_array_equal(col["Effusion"], [0, 1, 0])
    assert np.isnan(col["Edema"]).all()  # absent column
    pd.testing.assert_frame_equal(table, before)  # pure
    reference_mimic = chexpert_label_matrix(table, not_zeroed=frozenset())
    assert reference_mimic[0, CHEXPERT_PATHOLOGIES.index("Support Devices")] == 0


def test_label_parser_rejects_bad_values():
    with pytest.raises(MetadataError, match="Cardiomegaly"):
        chexpert_label_matrix(pd.DataFrame({"Cardiomegaly": [1.0, 2.0]}))
    with pytest.raises(MetadataError, match="Edema"):
        chexpert_label_matrix(pd.DataFrame({"Edema": ["yes", "1"]}))


def test_view_and_patient_helpers():
    fl = pd.Series(["Frontal", "Lateral", "Frontal", None], dtype="str")
    appa = pd.Series(["PA", None, None, None], dtype="str")
    assert chexpert_views(fl, appa).tolist()[:2] == ["PA", "L"] and chexpert_views(fl, appa).isna().sum() == 2
    paths = pd.Series(["x/training/patient00012/study1/v.jpg", "valid/patient64541/s/v.jpg", "nothing"], dtype="str")
    assert patient_digits(paths).tolist()[:2] == ["00012", "64541"] and patient_digits(paths).isna()[2]
    # categories (a lean read) give the same views as text
    as_categories = chexpert_views(fl.astype("category"), appa.astype("category"))
    pd.testing.assert_series_equal(as_categories, chexpert_views(fl, appa))


def test_patient_digits_of_awkward_paths():
    paths = [
        "CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg",
        "CheXpert-v1.0-small/valid/patient64541/study1/view1_frontal.jpg",
        "patients/patient7/s.jpg",  # the first "patient" has no digits
        "x/patient123456789012/s.jpg",  # a long id
        "é/patient42/s.jpg",
        "nothing here",
        None,
    ]
    digits = patient_digits(pd.Series(paths, dtype="str"))
    assert digits.dtype == "str"
    assert digits.tolist()[:5] == ["00001", "64541", "7", "123456789012", "42"]
    assert digits[5:].isna().all()


def test_errors(fake, tmp_path):
    d = CheX_Dataset(imgpath=tmp_path, csvpath=fake["csvpath"])
    with pytest.raises(MissingImageError, match="patient00002"):
        d[0]
    bad = tmp_path / "bad.csv"
    bad.write_text("Path,Sex\nx.jpg,Male\n")
    with pytest.raises(MetadataError, match="Frontal/Lateral"):
        CheX_Dataset(imgpath=tmp_path, csvpath=bad)
    with pytest.raises(UnknownNameError, match="LATERAL"):
        CheX_Dataset(imgpath=tmp_path, csvpath=fake["csvpath"], views=["LATERAL"])


# ------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def real_csv(request):
    from tests.conftest import REALDATA

    path = REALDATA / "xrv-metadata" / "chexpert_train.csv.gz"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


SPEC_TOTALS = {  # spec §3.5, PA+AP non-unique (0 / 1)
    "Atelectasis": (17621, 29718), "Cardiomegaly": (22645, 23384), "Consolidation": (30463, 12982),
    "Edema": (29449, 49674), "Effusion": (34376, 76894), "Enlarged Cardiomediastinum": (26527, 9186),
    "Fracture": (18111, 7434), "Lung Lesion": (17523, 7040), "Lung Opacity": (20165, 94207),
    "Pleural Other": (17166, 2503), "Pneumonia": (18105, 4674), "Pneumothorax": (54165, 17693),
    "Support Devices": (5340, 107167),
}  # fmt: skip


def test_real_counts(real_csv, tmp_path):
    every = CheX_Dataset(imgpath=tmp_path, csvpath=real_csv, views="*", unique_patients=False)
    assert len(every) == 223_414
    frontal = CheX_Dataset(imgpath=tmp_path, csvpath=real_csv, views=["PA", "AP"], unique_patients=False)
    assert len(frontal) == 191_010  # paper Table 1
    totals = frontal.totals()
    for name, (neg, pos) in SPEC_TOTALS.items():
        assert (totals[name].get(0.0), totals[name].get(1.0)) == (neg, pos), name
    default = CheX_Dataset(imgpath=tmp_path, csvpath=real_csv)
    assert len(default) == 20_543
    assert default.csv["Path"][0].endswith("train/patient00004/study1/view1_frontal.jpg")
    assert len(CheX_Dataset(imgpath=tmp_path, csvpath=real_csv, views=["PA", "AP"])) == 64_534
    assert len(CheX_Dataset(imgpath=tmp_path, csvpath=real_csv, unique_patients=False)) == 29_420
    # warm (cached) construction gives the identical matrix
    again = CheX_Dataset(imgpath=tmp_path, csvpath=real_csv, views=["PA", "AP"], unique_patients=False)
    assert np.array_equal(again.labels, frontal.labels, equal_nan=True)
    pd.testing.assert_frame_equal(again.csv, frontal.csv)


def test_real_difference_from_group_first(real_csv, tmp_path):
    """Quantify fix 5.1 on the default configuration (recorded in docs/differences.md)."""
    ours = CheX_Dataset(imgpath=tmp_path, csvpath=real_csv)
    raw = pd.read_csv(real_csv)
    raw = raw[(raw["Frontal/Lateral"] == "Frontal") & (raw["AP/PA"] == "PA")]
    raw["pid"] = raw["Path"].str.extract(r"(patient\d+)", expand=False)
    grouped = raw.groupby("pid").first().reset_index()  # the reference's group-first
    assert len(grouped) == len(ours) == 20_543
    assert grouped["pid"].str[7:].tolist() == ours.csv["patientid"].tolist()
    # raw label cells (No Finding included, -1 kept) differ on 3,847 rows (spec §1.9 [counted])
    a, b = grouped[SOURCE_ORDER].to_numpy(float), ours.csv[SOURCE_ORDER].to_numpy(float)
    assert int((~((a == b) | (np.isnan(a) & np.isnan(b)))).any(axis=1).sum()) == 3_847
    # ... which changes the final label vector of 3,197 patients
    ref = chexpert_label_matrix(grouped)
    assert int((~((ref == ours.labels) | (np.isnan(ref) & np.isnan(ours.labels)))).any(axis=1).sum()) == 3_197


def test_real_images(tmp_path):
    from tests.conftest import REALDATA

    root = REALDATA / "chexpert" / "CheXpert-v1.0"
    if not root.is_dir():
        pytest.skip("real CheXpert sample absent")
    d = CheX_Dataset(imgpath=root, csvpath=root / "valid.csv", views="*")
    sample = d[0]
    assert sample["img"].shape == (1, 2320, 2828) and sample["img"].dtype == np.float32
    assert d.csv["patientid"].tolist() == ["64541", "64542"]
    assert d.labels[1, CHEXPERT_PATHOLOGIES.index("Support Devices")] == 1
