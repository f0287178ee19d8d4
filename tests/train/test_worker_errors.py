"""A library error met in a DataLoader worker reaches the caller as itself, not as torch's wrapped traceback."""

from __future__ import annotations

import pickle
import shutil

import pytest

from xrayvision.errors import MissingImageError, UnknownNameError, UnsupportedImageError
from xrayvision.train import Trainer, config_from_dict
from xrayvision.train.data import build_training_data
from xrayvision.train.failures import SampleFailure, raise_if_failed
from xrayvision.train.inference import predict_dataset

from ._tiny import tiny_cnn
from .conftest import training_config


@pytest.fixture
def corrupt_release(nih_release, tmp_path):
    """The generated NIH release with one PNG replaced by text; returns (release, the corrupt file)."""
    images = tmp_path / "images"
    shutil.copytree(nih_release["imgpath"], images)
    corrupt = min(images.glob("*.png"))
    corrupt.write_text("garbage\n")
    return {**nih_release, "imgpath": images}, corrupt


@pytest.mark.parametrize("workers", [0, 2])
def test_an_unreadable_image_is_the_same_error_with_or_without_workers(corrupt_release, tmp_path, workers):
    release, corrupt = corrupt_release
    config = config_from_dict(training_config(release, tmp_path / "run", run={"workers": workers},
                                              data={"split": [0.5, 0.0, 0.5]}))  # fmt: skip
    data = build_training_data(config.data, seed=0)
    whole = data.train.datasets[0].dataset  # the NIH dataset under the split
    with pytest.raises(UnsupportedImageError) as caught:
        predict_dataset(tiny_cnn(3), whole, batch_size=4, workers=workers)
    assert caught.value.path is not None and corrupt.name in str(caught.value)
    assert "DataLoader worker" not in str(caught.value)  # the message is the plain one-line error


def test_training_with_workers_raises_the_image_error_itself(corrupt_release, tmp_path):
    release, corrupt = corrupt_release
    for png in corrupt.parent.glob("*.png"):  # whichever split an image is in, the first batch meets one
        png.write_text("garbage\n")
    config = config_from_dict(training_config(release, tmp_path / "run", run={"workers": 2}))
    with pytest.raises(UnsupportedImageError, match=r"\.png: not an image file") as caught:
        Trainer(config).fit()
    assert "\n" not in str(caught.value)  # what `xrv train` prints: one line (the worker note is not in it)


@pytest.mark.parametrize("error", [
    UnsupportedImageError("a.png", "not an image file", "hint"),
    MissingImageError("NIH_Dataset: image a.png is missing"),
    UnknownNameError("dataset", "nihh", ["nih", "pc"]),
])  # fmt: skip
def test_a_failure_record_travels_and_rebuilds_the_error(error):
    failure = pickle.loads(pickle.dumps(SampleFailure.of(error, 7)))
    with pytest.raises(type(error)) as caught:
        raise_if_failed(failure)
    rebuilt = {k: v for k, v in vars(caught.value).items() if k != "__notes__"}
    assert str(caught.value) == str(error) and rebuilt == vars(error)
