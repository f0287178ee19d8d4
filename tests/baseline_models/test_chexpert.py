"""The CheXpert ensemble: member lookup, the three groups' arithmetic, streaming, errors."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from pathlib import Path

import pytest
import torch

import xrayvision as xrv
from xrayvision.baseline_models import chexpert
from xrayvision.errors import WeightsFormatError, WeightsNotFoundError
from xrayvision.models.densenet import DenseNetNetwork

from ._chexpert_zip import expected_probabilities, member_paths, write_zip


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory) -> tuple[Path, list]:
    path = tmp_path_factory.mktemp("chexpert") / "weights.zip"
    return path, write_zip(path, num_models=2)


def _image(batch: int = 2) -> torch.Tensor:
    x = torch.rand(batch, 1, 80, 80, generator=torch.Generator().manual_seed(1)) * 2048 - 1024
    x[..., 0, 0], x[..., 0, 1] = -1024, 1024
    return x


def _small(model: chexpert.DenseNet) -> chexpert.DenseNet:
    model.input_resolution, model.warn_on_resize = 64, False  # the arithmetic does not depend on size
    return model


@pytest.fixture(scope="module")
def held(ensemble) -> chexpert.DenseNet:
    return _small(chexpert.DenseNet(weights_zip=ensemble[0], num_models=2, stream=False))


def test_outputs_are_the_hand_computed_ensemble_means(ensemble, held):
    assert held.stream is False and [len(group) for group in held.members] == [2, 2, 2]
    assert held.targets == ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Effusion"]
    with torch.no_grad():
        out = held(_image())
    expected = torch.tensor(expected_probabilities(ensemble[1])).expand(2, 5)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    assert repr(held) == "CheXpert-DenseNet121-ensemble" and not held.training


def test_streaming_holds_no_member_and_gives_the_same_outputs(ensemble):
    streamed = _small(chexpert.DenseNet(weights_zip=ensemble[0], num_models=2, stream=True))
    assert streamed.stream is True and sum(p.numel() for p in streamed.parameters()) == 0
    with torch.no_grad():
        out = streamed(_image(1))
    torch.testing.assert_close(out[0], torch.tensor(expected_probabilities(ensemble[1])), rtol=1e-5, atol=1e-6)


def test_features_are_every_members_pooled_features_group_major(ensemble, held):
    x = _image()
    with torch.no_grad():
        features = held.features(x)
        prepared = held.prepare(x) / 512
        blocks = []
        for group in ensemble[1]:
            for member in group:
                network = DenseNetNetwork(num_classes=len(member["biases"]), in_channels=3).eval()
                network.load_state_dict(member["state"])
                blocks.append(network.pooled(prepared))
    assert features.shape == (2, 3 * 2 * 1024)
    torch.testing.assert_close(features, torch.cat(blocks, dim=1))


def test_gradients_reach_the_input(held):
    x = _image(1).requires_grad_(True)
    held.features(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_members_under_one_leading_folder_are_found(tmp_path):
    path = tmp_path / "nested.zip"
    written = write_zip(path, num_models=1, prefix="chexpert_weights/")
    model = _small(chexpert.DenseNet(weights_zip=path, num_models=1))
    with torch.no_grad():
        out = model(_image(1))[0]
    torch.testing.assert_close(out, torch.tensor(expected_probabilities(written)), rtol=1e-5, atol=1e-6)


def test_the_cached_zip_and_get_model(ensemble, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("XRV_CACHE_DIR", str(cache))
    with pytest.raises(WeightsNotFoundError, match="academictorrents.com.*chexpert_weights.zip"):
        chexpert.DenseNet()
    cache.mkdir()
    (cache / "chexpert_weights.zip").symlink_to(ensemble[0])
    model = xrv.models.get_model("chexpert", num_models=1)
    assert isinstance(model, chexpert.DenseNet) and model.weights == "chexpert"
    assert model.weights_filename_local == str(cache / "chexpert_weights.zip")


def test_missing_members_are_named(ensemble):
    with pytest.raises(WeightsFormatError, match=r"lacks 3 of the 9 .*iter_254400"):
        chexpert.DenseNet(weights_zip=ensemble[0], num_models=3)
    with pytest.raises(ValueError, match="between 1 and 30"):
        chexpert.DenseNet(weights_zip=ensemble[0], num_models=0)


def test_not_a_zip_and_a_wrong_member(tmp_path):
    (tmp_path / "not.zip").write_bytes(b"plain text")
    with pytest.raises(WeightsFormatError, match="not a readable zip"):
        chexpert.DenseNet(weights_zip=tmp_path / "not.zip", num_models=1)
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        for group in member_paths(1):
            buffer = io.BytesIO()
            torch.save({"task_sequence": {"Edema": 0}, "model_state": {}}, buffer)
            archive.writestr(group[0], buffer.getvalue())
    with pytest.raises(WeightsFormatError, match=r"task_sequence lacks \['Atelectasis'\]"):
        chexpert.DenseNet(weights_zip=bad, num_models=1)


def test_validator(ensemble):
    record = xrv.models.get_weights("chexpert")
    with pytest.raises(WeightsFormatError, match="lacks 84 of the 90"):
        xrv.models.check_weights_file("chexpert", ensemble[0])
    two = [{**group, "members": group["members"][:2]} for group in record.extra["ensemble"]]
    two_per_group = dataclasses.replace(record, extra={**record.extra, "ensemble": two})
    chexpert.DenseNet.check_weights_file(two_per_group, ensemble[0])
