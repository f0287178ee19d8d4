"""Resized copies of a dataset's images: the dataset reads them, runs resume, problems are listed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import xrayvision.datasets as xd
from xrayvision.datasets.resize import MANIFEST, PROBLEMS, TMP_DIR, copy_name, resize_dataset
from xrayvision.errors import DatasetError
from xrayvision.fakedata import chest_xray_like, write_jpeg
from xrayvision.fakedata.chexpert import write_chexpert
from xrayvision.fakedata.mimic import write_mimic
from xrayvision.fakedata.nih import write_nih
from xrayvision.fakedata.padchest import write_padchest
from xrayvision.fakedata.rsna import write_rsna
from xrayvision.io import read_image
from xrayvision.io.write import quantization_error
from xrayvision.transforms import Compose, XRayCenterCrop, XRayResizer

SIZE = 24
#: Reading a 16-bit copy back: half a step plus float32 rounding at 1024.
TOLERANCE_16 = quantization_error(16) + 2e-4


def crop_resize(size: int = SIZE) -> Compose:
    return Compose([XRayCenterCrop(), XRayResizer(size)])


def nih(root: Path, **kwargs):
    paths = write_nih(root, n_patients=5)
    make = lambda imgpath, **kw: xd.NIH_Dataset(imgpath, paths["csvpath"], paths["bbox_list_path"],  # noqa: E731
                                                 views="*", unique_patients=False, **kw)
    return paths, make


def chexpert(root: Path):
    paths = write_chexpert(root, size=(50, 70))
    return paths, lambda imgpath, **kw: xd.CheX_Dataset(imgpath, paths["csvpath"], views="*", unique_patients=False, **kw)


def rsna(root: Path):
    paths = write_rsna(root, extension=".dcm")
    return paths, lambda imgpath, **kw: xd.RSNA_Pneumonia_Dataset(
        imgpath, paths["csvpath"], paths["dicomcsvpath"], views="*", extension=".dcm", **kw)


def padchest(root: Path):
    paths = write_padchest(root)
    return paths, lambda imgpath, **kw: xd.PC_Dataset(imgpath, paths["csvpath"], views="*", unique_patients=False, **kw)


@pytest.mark.parametrize("source", [nih, chexpert, rsna, padchest], ids=["nih-png", "chexpert-jpeg", "rsna-dicom", "padchest-png16"])
def test_the_dataset_reads_the_copy_as_crop_resize_of_the_original(tmp_path, source):
    paths, make = source(tmp_path / "in")
    original = make(paths["imgpath"])
    report = resize_dataset(original, tmp_path / "out", size=SIZE)
    assert report.complete and report.written == len(original) and not report.missing
    copy = make(tmp_path / "out", transform=crop_resize())
    original.transform = crop_resize()
    assert len(copy) == len(original) > 3
    for i in range(len(original)):
        a, b = original[i]["img"], copy[i]["img"]
        assert b.shape == (1, SIZE, SIZE) and np.abs(a - b).max() <= TOLERANCE_16, i
    # same relative paths, PNG files only, no temporary folder left
    files = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file())
    expected = sorted(copy_name(Path(original._image_path(i)).relative_to(paths["imgpath"]).as_posix())
                      for i in range(len(original)))
    assert files == sorted([*expected, MANIFEST])
    assert not (tmp_path / "out" / TMP_DIR).exists()


def test_eight_bit_copies_stay_within_half_a_grey_level(tmp_path):
    paths, make = chexpert(tmp_path / "in")
    original = make(paths["imgpath"], transform=crop_resize())
    resize_dataset(make(paths["imgpath"]), tmp_path / "out", size=SIZE, bits=8, workers=2)
    copy = make(tmp_path / "out", transform=crop_resize())
    error = max(np.abs(original[i]["img"] - copy[i]["img"]).max() for i in range(len(copy)))
    assert TOLERANCE_16 < error <= quantization_error(8) + 2e-4


def test_masks_of_a_copy_follow_the_image(tmp_path):
    paths, make = nih(tmp_path / "in")
    resize_dataset(make(paths["imgpath"]), tmp_path / "out", size=SIZE)
    original = make(paths["imgpath"], pathology_masks=True, transform=crop_resize())
    copy = make(tmp_path / "out", pathology_masks=True)
    boxed = [i for i in range(len(copy)) if copy.csv["has_masks"].iat[i]]
    square = [i for i in boxed if read_image(original._image_path(i)).shape[1] == read_image(original._image_path(i)).shape[2]]
    assert square
    for i in square:  # boxes are in the 1024 x 1024 frame: they scale to the copy like the image
        a, b = original[i]["pathology_masks"], copy[i]["pathology_masks"]
        assert a.keys() == b.keys()
        for key in a:
            assert np.abs((a[key] > 0.5).astype(float) - b[key]).mean() < 0.05


def _partial_writes(monkeypatch, after: int):
    """Make the (after+1)-th write leave a half-written temporary file and fail (disk full)."""
    from xrayvision import _atomic as write_module

    real = write_module.write_atomic
    calls = {"n": 0}

    def flaky(path, payload, *, tmp_dir=None):
        calls["n"] += str(path).endswith(".png")
        if calls["n"] > after:
            (Path(tmp_dir) / ".half.png.part").write_bytes(payload[: len(payload) // 2])
            raise OSError(28, "No space left on device")
        return real(path, payload, tmp_dir=tmp_dir)

    monkeypatch.setattr(write_module, "write_atomic", flaky)


def test_a_failed_run_leaves_no_partial_file_and_resumes(tmp_path, monkeypatch):
    paths, make = nih(tmp_path / "in")
    dataset = make(paths["imgpath"])
    reference = resize_dataset(dataset, tmp_path / "reference", size=SIZE)
    with monkeypatch.context() as patch:
        _partial_writes(patch, after=4)
        with pytest.raises(OSError, match="No space"):
            resize_dataset(dataset, tmp_path / "out", size=SIZE)
    finished = sorted((tmp_path / "out").rglob("*.png"))
    assert len(finished) == 4
    assert all(read_image(p).shape == (1, SIZE, SIZE) for p in finished)
    report = resize_dataset(dataset, tmp_path / "out", size=SIZE)
    assert report.complete and report.already_done == 4 and report.written == reference.written - 4
    for path in (tmp_path / "reference").rglob("*.png"):
        assert path.read_bytes() == (tmp_path / "out" / path.relative_to(tmp_path / "reference")).read_bytes()


KILLED_RUN = textwrap.dedent("""
    import sys, time
    from xrayvision.datasets import SyntheticChestFolder_Dataset
    from xrayvision.datasets.resize import resize_dataset

    class Slow(SyntheticChestFolder_Dataset):
        def _read_image(self, index):
            time.sleep(0.04)
            return super()._read_image(index)

    resize_dataset(Slow(sys.argv[1]), sys.argv[2], size=16, workers=2)
""")


def test_a_killed_run_resumes_to_the_same_copy(tmp_path):
    phantom = xd.write_synthetic_chest(xd.SyntheticChest_Dataset(n=80, size=32, seed=1), tmp_path / "in")
    script = tmp_path / "slow.py"
    script.write_text(KILLED_RUN)
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, str(script), str(phantom["imgpath"]), str(out)], start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(list(out.rglob("*.png"))) < 6 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the run and its workers, mid-write
        process.wait()
    finished = list(out.rglob("*.png"))
    assert 6 <= len(finished) < 80, "the run was not interrupted in the middle"
    assert all(read_image(p).shape == (1, 16, 16) for p in finished)  # never a half-written file
    report = resize_dataset(xd.SyntheticChestFolder_Dataset(phantom["imgpath"]), out, size=16)
    assert report.complete and report.already_done == len(finished) and report.written == 80 - len(finished)
    assert not (out / TMP_DIR).exists()
    reference = resize_dataset(xd.SyntheticChestFolder_Dataset(phantom["imgpath"]), tmp_path / "reference", size=16)
    assert reference.written == 80
    for path in (tmp_path / "reference").rglob("*.png"):
        assert path.read_bytes() == (out / path.relative_to(tmp_path / "reference")).read_bytes()


def test_missing_and_unreadable_images_are_listed_and_retried(tmp_path):
    paths, make = nih(tmp_path / "in")
    images = paths["imgpath"]
    (images / "00000002_000.png").unlink()
    damaged = images / "00000003_000.png"
    good = damaged.read_bytes()
    damaged.write_bytes(good[: len(good) // 3])
    report = resize_dataset(make(images), tmp_path / "out", size=SIZE, workers=2)
    assert not report.complete
    assert [p for p, _ in report.missing] == ["00000002_000.png"]
    assert [p for p, _ in report.unreadable] == ["00000003_000.png"]
    assert "cannot be decoded" in report.unreadable[0][1]
    assert report.written == report.images - 2
    listed = pd.read_csv(tmp_path / "out" / PROBLEMS)
    assert listed[["path", "problem"]].values.tolist() == [["00000002_000.png", "missing"], ["00000003_000.png", "unreadable"]]
    assert "00000003_000.png: " in report.summary()
    damaged.write_bytes(good)
    write_nih(tmp_path / "in", n_patients=5)  # restores the deleted image (same pixels)
    again = resize_dataset(make(images), tmp_path / "out", size=SIZE)
    assert again.complete and again.written == 2 and not (tmp_path / "out" / PROBLEMS).exists()


def test_studies_without_an_image_are_reported_missing(tmp_path):
    paths = write_mimic(tmp_path)
    dataset = xd.MIMIC_Dataset(**paths, views="*", unique_patients=False)
    report = resize_dataset(dataset, tmp_path / "out", size=SIZE)
    assert len(report.missing) == 1 and "has no image" in report.missing[0][1]
    assert report.written == report.images - 1


def test_refusals(tmp_path):
    paths, make = nih(tmp_path / "in")
    dataset = make(paths["imgpath"])
    with pytest.raises(DatasetError, match="must differ from imgpath"):
        resize_dataset(dataset, paths["imgpath"])
    resize_dataset(dataset, tmp_path / "out", size=SIZE)
    with pytest.raises(DatasetError, match="made with"):
        resize_dataset(dataset, tmp_path / "out", size=SIZE + 1)
    other, make_other = chexpert(tmp_path / "chexpert")
    with pytest.raises(DatasetError, match="made with"):  # another source folder
        resize_dataset(make_other(other["imgpath"]), tmp_path / "out", size=SIZE)
    from filelock import FileLock

    with FileLock(str(tmp_path / "out" / ".xrv-resize.lock")):
        with pytest.raises(DatasetError, match="another resize"):
            resize_dataset(dataset, tmp_path / "out", size=SIZE)
    siim = xd.SIIM_Pneumothorax_Dataset.__new__(xd.SIIM_Pneumothorax_Dataset)
    with pytest.raises(DatasetError, match="not keep its images as files"):
        resize_dataset(siim, tmp_path / "siim")
    for bad in ({"size": 0}, {"bits": 12}, {"workers": 0}):
        with pytest.raises(DatasetError, match=next(iter(bad))):
            resize_dataset(dataset, tmp_path / "other", **bad)


def test_copy_names_never_collide_silently(tmp_path):
    assert copy_name("a/b.jpg") == "a/b.png" and copy_name("x.DCM") == "x.png" and copy_name("n.png") == "n.png"
    assert copy_name("1.2.840.10008") == "1.2.840.10008.png"  # DICOM UIDs keep their dots
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.jpg", "a.dcm"):
        write_jpeg(folder / name, chest_xray_like((16, 16), seed=0))

    class Two(xd.Dataset):
        imgpath = folder

        def __init__(self):
            super().__init__()
            self.csv = pd.DataFrame({"f": ["a.jpg", "a.dcm"]})
            self._finish_csv()
            self._set_labels(np.zeros((2, 1)), ["x"])

        def _image_path(self, index):
            return folder / self.csv["f"].iat[index]

    with pytest.raises(DatasetError, match="would both be copied to 'a.png'"):
        resize_dataset(Two(), tmp_path / "out")


def test_fast_jpeg_stays_close_to_the_exact_pipeline(tmp_path):
    folder = tmp_path / "in"
    (folder / "x").mkdir(parents=True)
    for k, shape in enumerate([(1100, 900), (900, 1000), (700, 700)]):
        write_jpeg(folder / "x" / f"{k}.jpg", chest_xray_like(shape, seed=k), quality=92)

    class Jpegs(xd.Dataset):
        imgpath = folder

        def __init__(self):
            super().__init__()
            self.csv = pd.DataFrame({"f": ["x/0.jpg", "x/1.jpg", "x/2.jpg"]})
            self._finish_csv()
            self._set_labels(np.zeros((3, 1)), ["x"])

        def _image_path(self, index):
            return folder / self.csv["f"].iat[index]

    resize_dataset(Jpegs(), tmp_path / "exact", size=64)
    resize_dataset(Jpegs(), tmp_path / "fast", size=64, fast_jpeg=True)
    for k in range(3):
        exact, fast = read_image(tmp_path / "exact" / f"x/{k}.png"), read_image(tmp_path / "fast" / f"x/{k}.png")
        error = np.abs(exact - fast)
        assert 0 < error.mean() < 4 and error.max() < 120, (k, error.mean(), error.max())
    # a PNG source is read exactly even with fast_jpeg
    paths, make = nih(tmp_path / "nih")
    resize_dataset(make(paths["imgpath"]), tmp_path / "nih-exact", size=SIZE)
    resize_dataset(make(paths["imgpath"]), tmp_path / "nih-fast", size=SIZE, fast_jpeg=True)
    for path in (tmp_path / "nih-exact").glob("*.png"):
        assert path.read_bytes() == (tmp_path / "nih-fast" / path.name).read_bytes()


def test_reduced_resampling_at_full_scale_is_the_exact_pipeline():
    from xrayvision.io.reduced import ReducedImage
    from xrayvision.transforms._reduced import crop_resize_reduced

    rng = np.random.default_rng(0)
    for shape in [(50, 70), (71, 40), (33, 33)]:
        img = rng.uniform(-1024, 1024, (1, *shape)).astype(np.float32)
        exact = XRayResizer(16)(XRayCenterCrop()(img))
        assert np.abs(crop_resize_reduced(ReducedImage(img, 1, shape), 16) - exact).max() < 1e-2


# ---------------------------------------------------------------------------- real samples


def _subset_csv(source: Path, column: str, keep: set[str], target: Path) -> Path:
    table = pd.read_csv(source)
    table[table[column].isin(keep)].to_csv(target, index=False)
    return target


def _assert_copy_matches(original, copy, size):
    original.transform = copy.transform = crop_resize(size)
    assert len(copy) == len(original) > 0
    for i in range(len(original)):
        assert np.abs(original[i]["img"] - copy[i]["img"]).max() <= TOLERANCE_16


@pytest.mark.realdata
def test_real_nih_chexpert_rsna(realdata, tmp_path):
    nih_images = realdata / "nih-chestxray14" / "images"
    names = {p.name for p in nih_images.glob("*.png")}
    csv = _subset_csv(realdata / "nih-chestxray14" / "Data_Entry_2017_v2020.csv", "Image Index", names, tmp_path / "nih.csv")
    make = lambda imgpath: xd.NIH_Dataset(imgpath, csv, bbox_list_path=None, views="*", unique_patients=False)  # noqa: E731
    assert resize_dataset(make(nih_images), tmp_path / "nih", size=64, workers=2).complete
    _assert_copy_matches(make(nih_images), make(tmp_path / "nih"), 64)

    chex = realdata / "chexpert" / "CheXpert-v1.0"
    make = lambda imgpath: xd.CheX_Dataset(imgpath, chex / "valid.csv", views="*", unique_patients=False)  # noqa: E731
    assert resize_dataset(make(chex), tmp_path / "chex", size=64).complete
    _assert_copy_matches(make(chex), make(tmp_path / "chex"), 64)

    rsna_images = realdata / "rsna-pneumonia" / "stage_2_train_images"
    headers = realdata / "xrv-metadata" / "kaggle_stage_2_train_images_dicom_headers.csv.gz"
    if not headers.is_file():
        pytest.skip("RSNA DICOM headers not in the real sample data")
    ids = {p.stem for p in rsna_images.glob("*.dcm")}
    labels = _subset_csv(realdata / "rsna-pneumonia" / "stage_2_train_labels.csv", "patientId", ids, tmp_path / "rsna.csv")
    make = lambda imgpath: xd.RSNA_Pneumonia_Dataset(imgpath, labels, headers, views="*", extension=".dcm")  # noqa: E731
    assert resize_dataset(make(rsna_images), tmp_path / "rsna", size=64, workers=2).complete
    _assert_copy_matches(make(rsna_images), make(tmp_path / "rsna"), 64)


@pytest.mark.realdata
def test_real_chexpert_fast_jpeg_error(realdata, tmp_path):
    chex = realdata / "chexpert" / "CheXpert-v1.0"
    dataset = xd.CheX_Dataset(chex, chex / "valid.csv", views="*", unique_patients=False)
    resize_dataset(dataset, tmp_path / "exact", size=224)
    resize_dataset(dataset, tmp_path / "fast", size=224, fast_jpeg=True)
    for path in (tmp_path / "exact").rglob("*.png"):
        error = np.abs(read_image(path) - read_image(tmp_path / "fast" / path.relative_to(tmp_path / "exact")))
        assert error.mean() < 4 and error.max() < 160, (path.name, error.mean(), error.max())
