"""The chest phantom written to disk (PNG + CSV) and read back like any dataset."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.datasets.contract import check_dataset_contract
from xrayvision.cli import main
from xrayvision.datasets import SyntheticChest_Dataset, SyntheticChestFolder_Dataset, write_synthetic_chest
from xrayvision.datasets.synthetic_chest_folder import read_settings
from xrayvision.errors import DatasetError, MetadataError, MissingImageError, MissingMetadataError
from xrayvision.io.write import quantization_error


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    d = SyntheticChest_Dataset(n=10, size=40, seed=7, prevalence=0.5, missing_labels=0.25, shortcut="marker",
                               shortcut_correlation=0.0, pathology_masks=True, semantic_masks=True)
    root = tmp_path_factory.mktemp("phantom")
    return d, write_synthetic_chest(d, root)


def test_round_trip_gives_the_rendered_samples(written):
    d, paths = written
    f = SyntheticChestFolder_Dataset(paths["imgpath"], pathology_masks=True, semantic_masks=True)
    assert f.pathologies == d.pathologies
    assert np.array_equal(f.labels, d.labels, equal_nan=True) and np.isnan(f.labels).any()
    pd.testing.assert_frame_equal(f.csv[list(d.csv.columns)], d.csv, check_dtype=False)
    for i in range(len(d)):
        a, b = d[i], f[i]
        assert np.abs(a["img"] - b["img"]).max() <= quantization_error(16) + 2e-4
        for kind in ("pathology_masks", "semantic_masks"):
            assert a[kind].keys() == b[kind].keys()
            for key in a[kind]:
                assert np.array_equal(a[kind][key], b[kind][key]), (i, kind, key)
    assert read_settings(paths["imgpath"])["seed"] == 7


def test_contract(written):
    _, paths = written
    check_dataset_contract(
        SyntheticChestFolder_Dataset(paths["imgpath"], pathology_masks=True),
        constructor=lambda: SyntheticChestFolder_Dataset(paths["imgpath"]),
    )


def test_verify_command_finds_every_file(written, capsys):
    _, paths = written
    assert main(["datasets", "verify", "SyntheticChestFolder", "--imgpath", str(paths["imgpath"])]) == 0
    assert "checked 10 image(s)" in capsys.readouterr().out


def test_existing_copy_is_not_overwritten_unless_asked(written):
    d, paths = written
    with pytest.raises(DatasetError, match="overwrite=True"):
        write_synthetic_chest(d, paths["imgpath"])
    with pytest.raises(DatasetError, match="SyntheticChest_Dataset"):
        write_synthetic_chest([1, 2], paths["imgpath"])  # type: ignore[arg-type]


def test_missing_files_are_named(tmp_path, written):
    _, paths = written
    with pytest.raises(MissingImageError, match="not an existing folder"):
        SyntheticChestFolder_Dataset(tmp_path / "absent")
    with pytest.raises(MissingMetadataError, match="synthetic_chest.csv"):
        SyntheticChestFolder_Dataset(tmp_path)
    (tmp_path / "synthetic_chest.csv").write_text("path,Cardiomegaly\nimages/0.png,1\n")
    with pytest.raises(MetadataError, match="mask_path"):
        SyntheticChestFolder_Dataset(tmp_path)
    f = SyntheticChestFolder_Dataset(tmp_path, csvpath=paths["csvpath"], pathology_masks=True)
    with pytest.raises(MissingImageError, match="images/000000.png"):
        f[0]
    g = SyntheticChestFolder_Dataset(paths["imgpath"], maskpath=tmp_path, pathology_masks=True)
    with pytest.raises(MissingMetadataError, match="masks/000000.png"):
        g[0]
