"""Chest-phantom images written in the NIH and CheXpert release formats.

The generated NIH/CheXpert copies of ``xrayvision.fakedata`` have pixels unrelated to their
labels; these releases carry phantom images whose findings match the metadata, so a
model trained through ``NIH_Dataset`` / ``CheX_Dataset`` can learn them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xrayvision.datasets import SyntheticChest_Dataset
from xrayvision.fakedata.images import write_jpeg, write_png
from xrayvision.fakedata.nih import DATA_ENTRY_HEADER

CHEXPERT_HEADER = (
    "Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Enlarged Cardiomediastinum,Cardiomegaly,"
    "Lung Opacity,Lung Lesion,Edema,Consolidation,Pneumonia,Atelectasis,Pneumothorax,"
    "Pleural Effusion,Pleural Other,Fracture,Support Devices"
)


def _phantom(n: int, size: int, seed: int) -> SyntheticChest_Dataset:
    return SyntheticChest_Dataset(n=n, size=size, seed=seed, prevalence={"Cardiomegaly": 0.4, "Effusion": 0.4,
                                                                         "Nodule": 0.0, "Pneumothorax": 0.0})  # fmt: skip


def _uint8(img: np.ndarray) -> np.ndarray:
    return np.round((np.asarray(img)[0] + 1024) * (255 / 2048)).astype(np.uint8)


def write_phantom_nih(root: Path, n: int = 240, size: int = 48, seed: int = 1) -> dict[str, Path]:
    """``root/images/*.png`` and ``root/Data_Entry_2017_v2020.csv`` holding phantom images."""
    phantom = _phantom(n, size, seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    lines = [DATA_ENTRY_HEADER]
    names = phantom.pathologies
    for i in range(n):
        found = [p for p, v in zip(names, phantom.labels[i]) if v == 1]
        name = f"{i + 1:08d}_000.png"
        write_png(root / "images" / name, _uint8(phantom[i]["img"]))
        lines.append(f"{name},{'|'.join(found) or 'No Finding'},0,{i + 1},50,M,PA,2500,2048,0.143,0.143")
    (root / "Data_Entry_2017_v2020.csv").write_text("\n".join(lines) + "\n")
    (root / "BBox_List_2017.csv").write_text("Image Index,Finding Label,Bbox [x,y,w,h],,,\n")
    return {"imgpath": root / "images", "csvpath": root / "Data_Entry_2017_v2020.csv",
            "bbox_list_path": root / "BBox_List_2017.csv"}  # fmt: skip


def write_phantom_chexpert(root: Path, n: int = 240, size: int = 48, seed: int = 2) -> dict[str, Path]:
    """``root/CheXpert-v1.0-small/train.csv`` and its JPEGs holding phantom images."""
    phantom = _phantom(n, size, seed)
    release = root / "CheXpert-v1.0-small"
    lines = [CHEXPERT_HEADER]
    cardiomegaly, effusion = (phantom.pathologies.index(p) for p in ("Cardiomegaly", "Effusion"))
    for i in range(n):
        relative = f"train/patient{i + 1:05d}/study1/view1_frontal.jpg"
        write_jpeg(release / relative, _uint8(phantom[i]["img"]), quality=95)
        cm, ef = phantom.labels[i, cardiomegaly], phantom.labels[i, effusion]
        cells = ["" for _ in range(14)]  # No Finding ... Support Devices
        cells[2], cells[10] = f"{cm:.1f}", f"{ef:.1f}"
        lines.append(f"CheXpert-v1.0-small/{relative},Male,50,Frontal,PA,{','.join(cells)}")
    (release / "train.csv").write_text("\n".join(lines) + "\n")
    return {"imgpath": release, "csvpath": release / "train.csv"}
