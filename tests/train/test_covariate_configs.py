"""Covariate-shift studies as training configurations: the example configs of
``examples/configs`` on generated releases in the real formats (NIH, PadChest, RSNA, SIIM)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.train.conftest import REPO_ROOT
from xrayvision.errors import ConfigError
from xrayvision.train import Trainer, load_config

CONFIGS = REPO_ROOT / "examples" / "configs"
FAST = ["data.resolution=32", "optim.epochs=1", "run.workers=0", "run.progress=false",
        'model.factory="xrayvision.train.nets:small_cnn"', "model.options={ num_outputs = 1, width = 4 }"]  # fmt: skip


# ------------------------------------------------------------------ releases in the real formats


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    from xrayvision.fakedata.nih import write_nih
    from xrayvision.fakedata.padchest import write_padchest
    from xrayvision.fakedata.rsna import write_rsna
    from xrayvision.fakedata.siim import write_siim

    root = tmp_path_factory.mktemp("covariate")
    labels = ["['cardiomegaly']", "['normal']", "['normal']", "['pleural effusion']", "['cardiomegaly', 'pleural effusion']"]
    padchest = [(f"pc{i:03d}.png", f"pcpatient{i // 2}", "PA", 20140101 + i, 1950.0, "F", labels[i % len(labels)])
                for i in range(80)]  # fmt: skip
    rsna = [(f"{i:08d}-0000-4000-8000-000000000000", "PA" if i % 2 else "AP",
             ((100.0 + 8 * i, 200.0, 300.0, 400.0),) if i % 5 < 2 else ()) for i in range(60)]  # fmt: skip
    siim = [(f"1.2.276.0.7230010.3.1.4.9.{i}", 64, ((256, 300, 400, 200),) if i % 3 == 0 else ()) for i in range(30)]
    return {
        "nih": write_nih(root / "nih", n_patients=120, size=32),
        "pc": write_padchest(root / "pc", size=(32, 32), rows=padchest),
        "rsna": write_rsna(root / "rsna", size=32, patients=rsna, extension=".jpg"),
        "siim": write_siim(root / "siim", images=siim),
    }


def site_overrides(site: int, release: dict[str, Path], **extra: str) -> list[str]:
    prefix = f"data.datasets.0.options.site{site}"
    paths = {k: v for k, v in release.items() if k in ("imgpath", "csvpath", "dicomcsvpath", "bbox_list_path")}
    return [f'{prefix}.{"" if k in ("imgpath", "csvpath") else "options."}{k}="{v}"' for k, v in paths.items()] + \
        [f"{prefix}.{k}={v}" for k, v in extra.items()]  # fmt: skip


def example(name: str, out: Path, *overrides: str):
    return load_config(CONFIGS / name, [*FAST, f'run.out="{out}"', *overrides])


def spc_config(releases, out: Path, *overrides: str):
    return example("red_herring_xray_spc.toml", out, *site_overrides(0, releases["nih"]),
                   *site_overrides(1, releases["pc"]), *overrides)  # fmt: skip


def group_sizes(split) -> tuple[int, ...]:
    """(site0 neg, site0 pos, site1 neg, site1 pos) of a run's split (one covariate entry)."""
    csv, label = split.csv, np.asarray(split.labels)[:, 0]
    return tuple(int(((csv["site"] == s).to_numpy() & (label == y)).sum()) for s in (0, 1) for y in (0, 1))


def patients_by_split(data) -> dict[str, set]:
    table = data.assignments
    rows = {s: table[table["split"] == s] for s in ("train", "valid", "test")}
    return {s: set(zip(part["name"], part["patientid"])) for s, part in rows.items()}


# ------------------------------------------------------------------ the examples


def test_xray_spc_builds_the_papers_splits_and_trains(releases, tmp_path):
    config = spc_config(releases, tmp_path / "spc")
    trainer = Trainer(config)
    data = trainer.data
    assert data.pathologies == ["Cardiomegaly"] and data.sources[0].startswith("covariate Cardiomegaly ratio 0.9: nih")
    n = data.train.datasets[0].n_per_category
    # the paper's rule (spec §5 check 8): train .45/.05/.05/.45 of n, valid the same ratio, test the rest
    assert group_sizes(data.train) == (int(n * 0.9 * 0.25 * 2), int(n * (1 - 0.9) * 0.25 * 2),
                                       int(n * (1 - 0.9) * 0.25 * 2), int(n * 0.9 * 0.25 * 2))  # fmt: skip
    valid, test = group_sizes(data.valid), group_sizes(data.test)
    assert valid[0] > valid[1] and test[0] < test[1]  # valid keeps the training correlation, test reverses it
    # negatives are "No Finding" / "normal" images only
    for split in (data.train, data.valid, data.test):
        csv, label = split.csv, np.asarray(split.labels)[:, 0]
        nih_negatives = csv[(csv["site"] == 0).to_numpy() & (label == 0)]
        pc_negatives = csv[(csv["site"] == 1).to_numpy() & (label == 0)]
        assert (nih_negatives["Finding Labels"] == "No Finding").all()
        assert pc_negatives["Labels"].astype(str).str.contains("normal").all()
    patients = patients_by_split(data)
    assert not patients["train"] & patients["test"] and not patients["train"] & patients["valid"]

    result = trainer.fit()
    assert all(math.isfinite(r["loss"]) for r in result.history if r["kind"] == "train")
    splits = pd.read_csv(tmp_path / "spc" / "splits.csv")
    assert set(splits["name"]) == {"covariate/site0:nih", "covariate/site1:pc"}
    assert set(splits["split"]) <= {"train", "valid", "test", "unused"}
    assert (splits["split"] == "train").sum() == len(data.train)


def test_rsna_vpc_uses_the_boxes_as_masks(releases, tmp_path):
    config = example("red_herring_rsna_vpc.toml", tmp_path / "vpc",
                     *site_overrides(0, releases["rsna"]), *site_overrides(1, releases["rsna"]))  # fmt: skip
    trainer = Trainer(config)
    train = trainer.data.train
    assert set(train.csv["view"][train.csv["site"] == 0]) == {"PA"} and set(train.csv["view"][train.csv["site"] == 1]) == {"AP"}
    positives = np.flatnonzero(np.asarray(train.labels)[:, 0] == 1)
    assert len(positives)
    for i in positives:
        masks = train[int(i)]["pathology_masks"]
        assert list(masks) == [0] and masks[0].shape == (1, 32, 32) and masks[0].sum() > 0  # the box, resized
    result = trainer.fit()
    assert all(math.isfinite(r["loss"]) for r in result.history if r["kind"] == "train")


def test_siim_against_nih_trains_with_the_segmentations(releases, tmp_path):
    config = example("covariate_siim_nih_pneumothorax.toml", tmp_path / "siim",
                     *site_overrides(0, releases["nih"], views='["PA", "AP"]'), *site_overrides(1, releases["siim"]))  # fmt: skip
    trainer = Trainer(config)
    train = trainer.data.train
    siim_positives = np.flatnonzero((train.csv["site"] == 1).to_numpy() & (np.asarray(train.labels)[:, 0] == 1))
    assert len(siim_positives) and all(train[int(i)]["pathology_masks"][0].sum() > 0 for i in siim_positives)
    result = trainer.fit()
    assert result.steps >= 1 and all(math.isfinite(r["loss"]) for r in result.history if r["kind"] == "train")


# ------------------------------------------------------------------ bad input through the config


def test_a_mask_method_on_a_site_without_masks_is_refused(releases, tmp_path):
    with pytest.raises(ConfigError, match=r"site1 \(pc\).*needs pathology masks and PC_Dataset has none"):
        Trainer(spc_config(releases, tmp_path / "x", 'guidance.masks="pathology"'))


def test_an_unknown_layer_is_refused(releases, tmp_path):
    with pytest.raises(ConfigError, match=r"guidance.layer 'features' is not a module of Sequential; its modules: 0, 1"):
        Trainer(spc_config(releases, tmp_path / "x", 'guidance.layer="features"')).fit()


def test_a_mask_of_another_size_is_refused(releases, tmp_path, monkeypatch):
    from xrayvision.datasets import RSNA_Pneumonia_Dataset

    original = RSNA_Pneumonia_Dataset.__getitem__

    def shrunk(self, index):  # a dataset whose masks do not follow the image's resize
        sample = original(self, index)
        sample["pathology_masks"] = {k: m[:, :16, :16] for k, m in sample.get("pathology_masks", {}).items()}
        return sample

    monkeypatch.setattr(RSNA_Pneumonia_Dataset, "__getitem__", shrunk)
    config = example("red_herring_rsna_vpc.toml", tmp_path / "x",
                     *site_overrides(0, releases["rsna"]), *site_overrides(1, releases["rsna"]))  # fmt: skip
    with pytest.raises(ConfigError, match=r"is \(16, 16\) but its image is \(32, 32\)"):
        Trainer(config).fit()


@pytest.mark.parametrize(
    "override, match",
    [
        ("data.datasets.0.options.ratoi=0.5", r"unknown key 'ratoi'.*did you mean 'ratio'"),
        ('data.datasets.0.options.target="Lung Opacity"',
         r"site0 \(nih\): NIH_Dataset has no label 'Lung Opacity'; its labels: Atelectasis"),
        ('data.datasets.0.options.target="Hernia"',  # PadChest's fake has no hernia
         r"\(d1 = site0 nih, d2 = site1 pc\): CovariateDataset needs items in every .* none in \['d2 positive'\]"),
        ('data.datasets.0.imgpath="NIH"', "belong in its site0 / site1 tables"),
        ("data.datasets.0.options.splits=[0.9, 0.1, 0.0]", "ask for .* items of the"),
        ('data.datasets.0.options.selection="images"', "selection: expected 'patients' or 'reference'"),
    ],
)
def test_bad_covariate_options(releases, tmp_path, override, match):
    with pytest.raises(ConfigError, match=match):
        Trainer(spc_config(releases, tmp_path / "x", override))


# ------------------------------------------------------------------ building blocks


def test_no_finding_negatives():
    from tests.datasets._toy import ToyDataset
    from xrayvision.train.covariate import site_target

    d = ToyDataset([[1, 0], [0, 0], [0, 1], [0, np.nan], [np.nan, 0]], ["Cardiomegaly", "Effusion"])
    absent = site_target(d, "Cardiomegaly", "absent", "here")
    assert np.array_equal(absent, [1, 0, 0, 0, np.nan], equal_nan=True)
    no_finding = site_target(d, "Cardiomegaly", "no_finding", "here")
    assert np.array_equal(no_finding, [1, 0, np.nan, np.nan, np.nan], equal_nan=True)


def test_a_covariate_test_split_beside_a_training_dataset(releases, tmp_path):
    """``role = "test"``: only the covariate's shifted test split joins the run."""
    config = spc_config(releases, tmp_path / "x").to_dict()
    config["data"]["datasets"][0]["role"] = "test"
    config["data"]["datasets"].append({"name": "nih", "imgpath": str(releases["nih"]["imgpath"]),
                                       "csvpath": str(releases["nih"]["csvpath"]), "role": "train",
                                       "options": {"bbox_list_path": str(releases["nih"]["bbox_list_path"])}})  # fmt: skip
    from xrayvision.train import config_from_dict

    data = Trainer(config_from_dict({k: v for k, v in config.items()})).data
    assert data.valid is None
    assert len(data.test) == len(data.test.datasets[0]) and data.test.datasets[0].mode == "test"
    assert set(data.assignments["split"][data.assignments["dataset"] == 0]) <= {"test", "unused"}
