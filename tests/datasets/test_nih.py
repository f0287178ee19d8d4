"""NIH_Dataset: label rules, fake release in the official format, real metadata counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xrayvision.datasets import relabel_dataset
from xrayvision.datasets.nih import NIH_PATHOLOGIES, NIH_Dataset, nih_labels, read_bbox_list
from xrayvision.errors import (
    MetadataError,
    MissingImageError,
    MissingMetadataError,
    OfflineError,
    UnknownNameError,
)
from xrayvision.fakedata.nih import write_nih

P = {name: j for j, name in enumerate(NIH_PATHOLOGIES)}


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    return write_nih(tmp_path_factory.mktemp("nih"), n_patients=12)


@pytest.fixture(scope="module")
def fake_gz(tmp_path_factory):
    return write_nih(tmp_path_factory.mktemp("nihgz"), n_patients=12, gzip=True)


# ------------------------------------------------------------------ label rule (pure)


def test_labels_are_exact_tokens_of_finding_labels():
    csv = pd.DataFrame({"Finding Labels": ["Cardiomegaly|Emphysema", "No Finding", None, "Mass", "Pleural_Thickening"]})
    labels, pathologies = nih_labels(csv)
    assert pathologies == list(NIH_PATHOLOGIES) and len(pathologies) == 14
    assert labels.dtype == np.float32 and labels.shape == (5, 14)
    expected = np.zeros((5, 14), dtype=np.float32)
    expected[0, [P["Cardiomegaly"], P["Emphysema"]]] = 1
    expected[2] = np.nan  # a blank cell is unknown, not negative
    expected[3, P["Mass"]] = 1
    expected[4, P["Pleural_Thickening"]] = 1
    np.testing.assert_array_equal(labels, expected)


def test_labels_need_the_finding_column():
    with pytest.raises(MetadataError, match="Finding Labels"):
        nih_labels(pd.DataFrame({"Image Index": ["a.png"]}))


def test_bbox_list_reads_fields_by_position_and_renames_infiltrate(tmp_path):
    path = tmp_path / "BBox_List_2017.csv"
    path.write_text("Image Index,Finding Label,Bbox [x,y,w,h],,,\na.png,Infiltrate,1.5,2,3,4\nb.png,Mass,5,6,7,8\n")
    boxes = read_bbox_list(path)
    assert list(boxes.columns) == ["Image Index", "Finding Label", "x", "y", "w", "h"]
    assert boxes["Finding Label"].tolist() == ["Infiltration", "Mass"]
    assert boxes.iloc[0, 2:].tolist() == [1.5, 2.0, 3.0, 4.0]


def test_bbox_list_with_a_short_line_is_an_error(tmp_path):
    path = tmp_path / "BBox_List_2017.csv"
    path.write_text("Image Index,Finding Label,Bbox [x,y,w,h],,,\na.png,Mass,1,2,3,4\nb.png,Mass,5,6\n")
    with pytest.raises(MetadataError, match="line 3"):
        read_bbox_list(path)
    path.write_text("Image Index,Finding Label,Bbox [x,y,w,h],,,\na.png,Mass,5,6\n")
    with pytest.raises(MetadataError, match="BBox_List"):
        read_bbox_list(path)


# ------------------------------------------------------------------ fake release


def build(fake, **kwargs):
    return NIH_Dataset(fake["imgpath"], csvpath=fake["csvpath"], bbox_list_path=fake["bbox_list_path"], **kwargs)


def test_default_keeps_first_pa_image_per_patient_in_numeric_order(fake):
    d = build(fake)
    names = d.csv["Image Index"].tolist()
    # patient 2's first image is AP, so its first PA image is follow-up 2
    assert names[:3] == ["00000001_000.png", "00000002_002.png", "00000003_000.png"]
    assert d.csv["Patient ID"].tolist() == sorted(d.csv["Patient ID"])  # 9 < 10 < 11, not "10" < "9"
    raw = pd.read_csv(fake["csvpath"])
    pa = raw[raw["View Position"] == "PA"]
    assert len(d) == pa["Patient ID"].nunique() == 10  # patients 6 and 10 have only AP images
    assert not {6, 10} & set(d.csv["Patient ID"])
    # every row is a real metadata row, and its labels are that row's findings
    merged = d.csv.merge(raw, on="Image Index", suffixes=("", "_raw"))
    assert (merged["Finding Labels"] == merged["Finding Labels_raw"]).all()
    row = names.index("00000002_002.png")
    assert d.labels[row].tolist() == [1.0 if p == "Atelectasis" else 0.0 for p in NIH_PATHOLOGIES]
    assert d.csv["patientid"].tolist()[:2] == ["1", "2"]
    assert d.csv["offset_day_int"].isna().all()
    assert set(d.csv["view"]) == {"PA"}


def test_non_unique_all_views_keeps_file_order_and_multi_labels(fake):
    d = build(fake, views="*", unique_patients=False)
    raw = pd.read_csv(fake["csvpath"])
    assert d.csv["Image Index"].tolist() == raw["Image Index"].tolist()
    i = d.csv["Image Index"].tolist().index("00000002_001.png")  # Effusion|Infiltration|Mass
    assert {NIH_PATHOLOGIES[j] for j in np.flatnonzero(d.labels[i])} == {"Effusion", "Infiltration", "Mass"}
    no_finding = (raw["Finding Labels"] == "No Finding").to_numpy()
    assert no_finding.any() and (d.labels[no_finding] == 0).all()
    assert d.csv["sex_male"].tolist() == (raw["Patient Gender"] == "M").tolist()
    assert d.csv["age_years"].tolist() == raw["Patient Age"].astype(float).tolist()
    assert d.csv["has_masks"].sum() == 3  # images with boxes: 00000001_001, 00000002_001, 00000002_002


def test_gzipped_metadata_reads_the_same(fake, fake_gz):
    a, b = build(fake, views="*"), build(fake_gz, views="*")
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.csv["Image Index"].tolist() == b.csv["Image Index"].tolist()


def _row(d, name):
    return d.csv["Image Index"].tolist().index(name)


def test_masks_scale_boxes_from_the_1024_frame(fake):
    d = build(fake, views="*", unique_patients=False, pathology_masks=True)
    masks = d[_row(d, "00000001_001.png")]["pathology_masks"]
    assert set(masks) == {P["Cardiomegaly"], P["Emphysema"]}
    # Cardiomegaly box 300.5, 400.25, 420, 310.75 at 64/1024 -> x 18, y 25, w 26, h 19
    expected = np.zeros((1, 64, 64), np.float32)
    expected[0, 25:44, 18:44] = 1
    np.testing.assert_array_equal(masks[P["Cardiomegaly"]], expected)


def test_masks_of_non_square_image_scale_x_and_y_separately(fake):
    d = build(fake, views="*", unique_patients=False, pathology_masks=True)
    sample = d[_row(d, "00000002_002.png")]
    assert sample["img"].shape == (1, 48, 64)
    # Atelectasis box 512, 256, 256, 512: x * 64/1024 -> 32..47, y * 48/1024 -> 12..35
    expected = np.zeros((1, 48, 64), np.float32)
    expected[0, 12:36, 32:48] = 1
    np.testing.assert_array_equal(sample["pathology_masks"][P["Atelectasis"]], expected)


def test_infiltrate_boxes_are_or_ed_into_the_infiltration_mask(fake):
    d = build(fake, views="*", unique_patients=False, pathology_masks=True)
    mask = d[_row(d, "00000002_001.png")]["pathology_masks"][P["Infiltration"]]
    expected = np.zeros((1, 64, 64), np.float32)
    expected[0, :8, :8] = 1
    expected[0, 56:, 56:] = 1
    np.testing.assert_array_equal(mask, expected)


def test_masks_follow_relabel(fake):
    d = build(fake, views="*", unique_patients=False, pathology_masks=True)
    relabel_dataset(["Effusion", "Emphysema"], d, silent=True)
    masks = d[_row(d, "00000001_001.png")]["pathology_masks"]
    assert list(masks) == [1]  # Emphysema only; Cardiomegaly was relabelled away
    assert masks[1].sum() == 200 // 16 * (200 // 16)


def test_rgba_png_gives_its_first_channel(fake):
    from PIL import Image

    d = build(fake, views="*", unique_patients=False)
    img = d[_row(d, "00000001_000.png")]["img"]
    red = np.asarray(Image.open(fake["imgpath"] / "00000001_000.png"))[..., 0].astype(np.float32)
    np.testing.assert_allclose(img[0], (2 * red / 255 - 1) * 1024, rtol=1e-5, atol=1e-3)


def test_without_bbox_list_there_are_no_masks(fake):
    d = NIH_Dataset(fake["imgpath"], csvpath=fake["csvpath"], bbox_list_path=None, views="*", pathology_masks=True)
    assert not d.csv["has_masks"].any()
    assert d[0]["pathology_masks"] == {}


def test_offline_without_masks_builds_with_has_masks_unknown(fake, monkeypatch):
    monkeypatch.setenv("XRV_OFFLINE", "1")  # the shipped box list is not in the test cache
    with pytest.warns(UserWarning, match="has_masks is unknown"):
        d = NIH_Dataset(fake["imgpath"], csvpath=fake["csvpath"], views="*")
    assert d.csv["has_masks"].isna().all() and len(d) > 0
    # Masks need the box list: offline that is an error naming the file.
    with pytest.raises(OfflineError, match="BBox_List_2017"):
        NIH_Dataset(fake["imgpath"], csvpath=fake["csvpath"], views="*", pathology_masks=True)


def test_missing_image_is_reported_when_read(fake, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    d = NIH_Dataset(images, csvpath=fake["csvpath"], bbox_list_path=fake["bbox_list_path"])
    with pytest.raises(MissingImageError) as err:
        d[0]
    assert "00000001_000.png" in str(err.value) and str(images) in str(err.value)


def test_imgpath_must_be_a_folder(fake, tmp_path):
    with pytest.raises(MissingImageError, match="not an existing folder"):
        NIH_Dataset(tmp_path / "nope", csvpath=fake["csvpath"], bbox_list_path=fake["bbox_list_path"])


def test_missing_metadata_file(fake, tmp_path):
    with pytest.raises(MissingMetadataError, match="csvpath"):
        NIH_Dataset(fake["imgpath"], csvpath=tmp_path / "absent.csv", bbox_list_path=None)
    # the advice is about the metadata file, not the images
    with pytest.raises(MissingMetadataError, match="give the path of your copy, or leave bbox_list_path out to use the shipped one"):
        NIH_Dataset(fake["imgpath"], csvpath=fake["csvpath"], bbox_list_path=tmp_path / "absent.csv")


def test_missing_column_names_file_column_and_found_columns(fake, tmp_path):
    raw = pd.read_csv(fake["csvpath"]).drop(columns=["View Position"])
    path = tmp_path / "entry.csv"
    raw.to_csv(path, index=False)
    with pytest.raises(MetadataError) as err:
        NIH_Dataset(fake["imgpath"], csvpath=path, bbox_list_path=None)
    text = str(err.value)
    assert "View Position" in text and str(path) in text and "Finding Labels" in text


def test_patient_sex_column_is_accepted(fake, tmp_path):
    raw = pd.read_csv(fake["csvpath"]).rename(columns={"Patient Gender": "Patient Sex"})
    path = tmp_path / "entry.csv"
    raw.to_csv(path, index=False)
    d = NIH_Dataset(fake["imgpath"], csvpath=path, bbox_list_path=None, views="*", unique_patients=False)
    assert d.csv["sex_female"].tolist() == (raw["Patient Sex"] == "F").tolist()


def test_unknown_view_is_an_error(fake):
    with pytest.raises(UnknownNameError, match="LL"):
        build(fake, views=["LL"])


def test_string_form(fake):
    d = build(fake)
    assert str(d) == f"NIH_Dataset num_samples={len(d)} views=['PA'] data_aug=None"


# ------------------------------------------------------------------ real metadata


@pytest.fixture(scope="module")
def real_paths():
    from tests.conftest import REALDATA

    root = REALDATA / "nih-chestxray14"
    if not root.is_dir():
        pytest.skip(f"real NIH sample not found at {root}")
    return {
        "imgpath": root / "images",
        "csvpath": root / "Data_Entry_2017_v2020.csv",
        "bbox_list_path": root / "BBox_List_2017.csv",
    }


def _positives(d):
    return {p: int(v) for p, v in zip(d.pathologies, np.nansum(d.labels, axis=0))}


def test_real_default_matches_spec(real_paths):
    d = NIH_Dataset(**real_paths)
    assert len(d) == 28868
    assert d.csv["Image Index"].tolist()[:3] == ["00000001_000.png", "00000002_000.png", "00000003_001.png"]
    assert _positives(d) == {
        "Atelectasis": 1557, "Cardiomegaly": 729, "Consolidation": 384, "Edema": 39, "Effusion": 1269,
        "Emphysema": 264, "Fibrosis": 556, "Hernia": 81, "Infiltration": 3273, "Mass": 1213,
        "Nodule": 1609, "Pleural_Thickening": 745, "Pneumonia": 175, "Pneumothorax": 243,
    }
    assert int(d.csv["has_masks"].sum()) == 125


def test_real_all_views_non_unique_matches_spec_and_paper(real_paths):
    d = NIH_Dataset(**real_paths, views=["PA", "AP"], unique_patients=False)
    assert len(d) == 112120  # paper Table 1
    assert _positives(d) == {
        "Atelectasis": 11559, "Cardiomegaly": 2776, "Consolidation": 4667, "Edema": 2303, "Effusion": 13317,
        "Emphysema": 2516, "Fibrosis": 1686, "Hernia": 227, "Infiltration": 19894, "Mass": 5782,
        "Nodule": 6331, "Pleural_Thickening": 3385, "Pneumonia": 1431, "Pneumothorax": 5302,
    }
    assert int(d.csv["has_masks"].sum()) == 880
    assert d.csv["patientid"].nunique() == 30805
    # token matching equals the reference's substring rule on the whole release
    substring = np.stack(
        [d.csv["Finding Labels"].str.contains(p, regex=True).to_numpy() for p in d.pathologies], axis=1
    )
    np.testing.assert_array_equal(d.labels, substring.astype(np.float32))


@pytest.mark.parametrize(("views", "unique", "rows"), [("PA", False, 67310), (["PA", "AP"], True, 30805)])
def test_real_other_row_counts(real_paths, views, unique, rows):
    assert len(NIH_Dataset(**real_paths, views=views, unique_patients=unique)) == rows


def test_real_first_row_per_patient_equals_group_first(real_paths):
    """The reference's groupby().first() gives the same labels here (no blank cells)."""
    d = NIH_Dataset(**real_paths)
    raw = pd.read_csv(real_paths["csvpath"])
    group_first = raw[raw["View Position"] == "PA"].groupby("Patient ID").first().reset_index()
    assert group_first["Image Index"].tolist() == d.csv["Image Index"].tolist()
    reference_labels, _ = nih_labels(group_first)
    assert int((reference_labels != d.labels).any(axis=1).sum()) == 0


def test_real_shipped_gzip_copy_reads_the_same(real_paths):
    from tests.conftest import REALDATA

    gz = REALDATA / "xrv-metadata" / "Data_Entry_2017_v2020.csv.gz"
    bbox = REALDATA / "xrv-metadata" / "BBox_List_2017.csv.gz"
    if not gz.is_file():
        pytest.skip("shipped gzip copy absent")
    a = NIH_Dataset(real_paths["imgpath"], csvpath=gz, bbox_list_path=bbox)
    b = NIH_Dataset(**real_paths)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.csv["has_masks"].tolist() == b.csv["has_masks"].tolist()


def test_real_images_load_with_masks(real_paths):
    d = NIH_Dataset(**real_paths, views="*", unique_patients=False, pathology_masks=True)
    boxes = read_bbox_list(real_paths["bbox_list_path"])
    names = sorted(p.name for p in real_paths["imgpath"].glob("*.png"))
    assert len(names) == 26
    index = {n: i for i, n in enumerate(d.csv["Image Index"])}
    with_masks = 0
    for name in names:
        sample = d[index[name]]
        img = sample["img"]
        assert img.shape == (1, 1024, 1024) and img.dtype == np.float32
        assert -1024 <= img.min() and img.max() <= 1024
        mine = boxes[boxes["Image Index"] == name]
        assert {d.pathologies[k] for k in sample["pathology_masks"]} == set(mine["Finding Label"])
        for row in mine.itertuples(index=False):
            mask = sample["pathology_masks"][d.pathologies.index(row[1])]
            # 1024x1024 images: the box is the truncated integer rectangle, no scaling
            x, y = int(row.x), int(row.y)
            area = (min(x + int(row.w), 1024) - x) * (min(y + int(row.h), 1024) - y)
            assert mask.sum() == area
            assert mask[0, int(row.y), int(row.x)] == 1
            with_masks += 1
    assert with_masks >= 12
