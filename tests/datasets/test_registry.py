"""The dataset registry, and the contract battery run over every registered dataset."""

from __future__ import annotations

import inspect

import pytest

import xrayvision.datasets as datasets
from tests.datasets._toy import ToyDataset
from tests.datasets.contract import check_dataset_contract, check_reconstruction
from xrayvision.datasets import _registry
from xrayvision.datasets._registry import DATASETS, DatasetRecord, dataset_record
from xrayvision.errors import MissingImageError, UnknownNameError

WITH_EXAMPLES = [record for record in DATASETS if record.example]


def run_contract(record: DatasetRecord, root) -> None:
    """The battery on ``record``'s example, plus: a second construction is identical."""
    cls = record.load()
    arguments = record.example_arguments(root)
    make = lambda: cls(**arguments)  # noqa: E731
    dataset = make()
    check_dataset_contract(dataset, constructor=make, binary_labels=not cls.continuous_labels,
                           loader_keys=("idx", "lab", "img", *cls.extra_sample_keys))  # fmt: skip
    check_reconstruction(dataset, make())


@pytest.mark.filterwarnings("ignore::xrayvision.errors.MetadataWarning")  # fake data holds awkward rows
@pytest.mark.parametrize("record", WITH_EXAMPLES, ids=lambda r: r.name)
def test_every_registered_dataset_passes_the_contract(record, tmp_path):
    run_contract(record, tmp_path)


def test_every_dataset_has_an_example_and_the_package_exports_every_class_name():
    assert [r.name for r in WITH_EXAMPLES] == datasets.list_datasets()
    assert len(datasets.list_datasets()) == 19  # 16 sources, 3 generated
    for record in DATASETS:
        for name in (record.name, *record.aliases):
            if name.endswith("_Dataset"):
                assert getattr(datasets, name) is record.load(), name
                assert name in datasets.__all__ and name in dir(datasets)
            else:
                assert not hasattr(datasets, name), name


@pytest.mark.parametrize(
    ("name", "expected"),
    [("NIH_Dataset", "NIH_Dataset"), ("nih", "NIH_Dataset"), ("NIH", "NIH_Dataset"), ("nih_dataset", "NIH_Dataset"),
     ("pc", "PC_Dataset"), ("padchest", "PC_Dataset"), ("chex", "CheX_Dataset"), ("chexpert", "CheX_Dataset"),
     ("VinBrain_Dataset", "VinDr_Dataset"), ("vindr", "VinDr_Dataset"), ("kaggle", "RSNA_Pneumonia_Dataset"),
     ("mimic_ch", "MIMIC_Dataset"), ("phantom", "SyntheticChest_Dataset"), ("cross", "SyntheticCross_Dataset")],
)  # fmt: skip
def test_names_a_user_would_type(name, expected):
    assert datasets.get_dataset_class(name).__name__ == expected


def test_unknown_name_suggests_the_close_ones():
    with pytest.raises(UnknownNameError, match="did you mean 'nih'"):
        datasets.get_dataset_class("nhi")


def test_classes_declare_their_metadata_arguments():
    from xrayvision.hub.metadata import METADATA, USED_BY

    declared = {key: record.name for record in DATASETS for key in record.load().metadata_files.values() if key}
    assert declared == USED_BY, "the hub's table of who reads each shipped file agrees with the classes"
    for record in DATASETS:
        cls = record.load()
        assert issubclass(cls, datasets.Dataset)
        parameters = inspect.signature(cls.__init__).parameters
        assert set(cls.metadata_files) <= set(parameters), record.name
        assert "strict" in parameters or not cls.metadata_files, record.name
        shipped = {key for key in cls.metadata_files.values() if key is not None}
        assert shipped <= set(METADATA), record.name


@pytest.mark.parametrize("record", WITH_EXAMPLES, ids=lambda r: r.name)
def test_every_class_refuses_a_missing_image_folder_at_once(record, tmp_path):
    arguments = record.example_arguments(tmp_path / "fake")
    if "imgpath" not in arguments:
        pytest.skip(f"{record.name} has no image folder")
    arguments["imgpath"] = tmp_path / "absent"
    with pytest.raises(MissingImageError, match=r"imgpath=.*absent.* is not an existing folder"):
        record.load()(**arguments)


# ------------------------------------------------------------------ a generated dataset registers too


class GeneratedToy_Dataset(ToyDataset):
    """A dataset with no files at all (as a synthetic phantom)."""

    def __init__(self, n: int = 5, strict: bool = False) -> None:
        super().__init__([[i % 2, (i + 1) % 2] for i in range(n)], ["A", "B"])


def generated_example(root) -> dict:
    return {"n": 6}


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.setattr(_registry, "DATASETS", list(DATASETS))
    return _registry


def test_a_dataset_without_files_registers_and_passes_the_contract(registry, tmp_path):
    record = DatasetRecord("GeneratedToy_Dataset", __name__, "generated_toy", example=f"{__name__}:generated_example")
    registry.register_dataset(record)
    assert registry.list_datasets()[-1] == "GeneratedToy_Dataset"
    assert registry.get_dataset_class("generated_toy") is GeneratedToy_Dataset
    run_contract(dataset_record("GeneratedToy"), tmp_path)
    assert not any(tmp_path.iterdir()), "nothing written"


def test_registering_a_taken_name_is_refused(registry):
    with pytest.raises(ValueError, match="nih"):
        registry.register_dataset(DatasetRecord("Other_Dataset", __name__, "nih"))
