"""``xrv datasets resize`` (a thin layer over xrayvision.datasets.resize) and verify on a copy."""

from __future__ import annotations

import numpy as np
import pytest

import xrayvision.datasets as xd
from xrayvision.cli import main
from xrayvision.fakedata.chexpert import write_chexpert
from xrayvision.fakedata.nih import write_nih
from xrayvision.fakedata.siim import write_siim


@pytest.fixture()
def nih(tmp_path):
    return write_nih(tmp_path / "nih", n_patients=4)


def nih_args(paths) -> list[str]:
    return ["--imgpath", str(paths["imgpath"]), "--csvpath", str(paths["csvpath"]),
            f"bbox_list_path={paths['bbox_list_path']}"]  # fmt: skip


def test_resize_writes_every_view_and_reports(nih, tmp_path, capsys):
    out = tmp_path / "nih-24"
    assert main(["datasets", "resize", "nih", *nih_args(nih), "--out", str(out), "--size", "24", "--workers", "2", "--quiet"]) == 0
    every = xd.NIH_Dataset(nih["imgpath"], nih["csvpath"], nih["bbox_list_path"], views="*", unique_patients=False)
    assert f"NIH_Dataset: {len(every)} image(s) into {out}: {len(every)} written" in capsys.readouterr().out
    copy = xd.NIH_Dataset(out, nih["csvpath"], nih["bbox_list_path"], views="*", unique_patients=False)
    assert all(copy[i]["img"].shape == (1, 24, 24) for i in range(len(copy)))
    # a second run has nothing left to do
    assert main(["datasets", "resize", "nih", *nih_args(nih), "--out", str(out), "--size", "24", "--quiet"]) == 0
    assert f"0 written (0.0 images/s), {len(every)} already there" in capsys.readouterr().out


def test_resize_exits_1_and_lists_unreadable_images(nih, tmp_path, capsys):
    damaged = nih["imgpath"] / "00000001_001.png"
    damaged.write_bytes(damaged.read_bytes()[:40])
    out = tmp_path / "copy"
    assert main(["datasets", "resize", "nih", *nih_args(nih), "--out", str(out), "--size", "24", "--quiet"]) == 1
    text = capsys.readouterr().out
    assert "1 unreadable" in text and "unreadable: 00000001_001.png: " in text
    assert "xrv-resize-problems.csv" in text


def test_verify_accepts_a_copy_of_jpegs(tmp_path, capsys):
    paths = write_chexpert(tmp_path / "chexpert")
    out = tmp_path / "small"
    args = ["--csvpath", str(paths["csvpath"])]
    assert main(["datasets", "resize", "chex", "--imgpath", str(paths["imgpath"]), *args, "--out", str(out), "--size", "16", "--quiet"]) == 0
    assert not list(out.rglob("*.jpg")) and list(out.rglob("*.png"))
    capsys.readouterr()
    assert main(["datasets", "verify", "chex", "--imgpath", str(out), *args, "--quiet"]) == 0
    assert "0 missing, 0 unreadable" in capsys.readouterr().out


def test_datasets_without_files_are_refused(tmp_path, capsys):
    paths = write_siim(tmp_path / "siim")
    code = main(["datasets", "resize", "SIIM_Pneumothorax", "--imgpath", str(paths["imgpath"]), "--csvpath", str(paths["csvpath"]),
                 "--out", str(tmp_path / "out")])  # fmt: skip
    assert code == 1
    assert "does not keep its images as files under imgpath" in capsys.readouterr().err


def test_phantom_folder_round_trip_through_the_cli(tmp_path):
    d = xd.SyntheticChest_Dataset(n=6, size=40, seed=2, prevalence=0.5)
    root = xd.write_synthetic_chest(d, tmp_path / "phantom")["imgpath"]
    out = tmp_path / "phantom-32"
    assert main(["datasets", "resize", "SyntheticChestFolder", "--imgpath", str(root), "--out", str(out), "--size", "32", "--quiet"]) == 0
    copy = xd.SyntheticChestFolder_Dataset(out, csvpath=root / "synthetic_chest.csv", pathology_masks=True)
    sample = copy[0]
    assert sample["img"].shape == (1, 32, 32)
    assert all(m.shape == (1, 32, 32) and 0 <= m.min() and m.max() <= 1 for m in sample["pathology_masks"].values())
    assert np.array_equal(copy.labels, d.labels)
