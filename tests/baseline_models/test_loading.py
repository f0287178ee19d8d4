"""Baseline weights: wrong files, validators, offline use, no network at construction, input checks."""

from __future__ import annotations

import socket
import warnings
from collections import OrderedDict

import pytest
import torch

import xrayvision as xrv
from xrayvision.baseline_models import chestx_anatomy, emory_hiti, jfhealthcare, mira, xinario
from xrayvision.errors import ModelInputError, OfflineError, UnknownNameError, UnsafeWeightsError, WeightsFormatError

from .conftest import cache_path, random_bn_stats


def _x(batch: int = 1, side: int = 64) -> torch.Tensor:
    x = torch.rand(batch, 1, side, side, generator=torch.Generator().manual_seed(0)) * 2048 - 1024
    x[..., 0, 0], x[..., 0, 1] = -1024, 1024
    return x


@pytest.fixture(scope="module")
def emory_file(tmp_path_factory):
    network = random_bn_stats(emory_hiti.RaceModel.network()).eval()
    path = tmp_path_factory.mktemp("emory") / "race.pt"
    torch.save({"module." + k: v for k, v in network.state_dict().items()}, path)
    return path, network


def test_a_file_of_another_architecture_names_missing_and_unexpected_keys(emory_file, tmp_path):
    with pytest.raises(WeightsFormatError, match=r"missing keys.*unexpected keys.*'fc.0.weight'") as caught:
        xinario.ViewModel(weights=emory_file[0])  # ResNet-34 keys (and head) in a ResNet-50
    assert str(emory_file[0]) in str(caught.value)
    with pytest.raises(WeightsFormatError, match="182 missing keys.*carry an extra prefix 'module.'"):
        mira.SexModel(weights=emory_file[0])  # a ResNet-34 too, saved from DataParallel


def test_shape_mismatch_is_named(tmp_path):
    state = mira.SexModel.network().state_dict()
    state["fc.weight"] = torch.zeros(3, 512)
    torch.save({"state_dict": OrderedDict(("model." + k, v) for k, v in state.items())}, tmp_path / "three.ckpt")
    with pytest.raises(WeightsFormatError, match=r"fc.weight.*\[3, 512\].*\[2, 512\]"):
        mira.SexModel(weights=tmp_path / "three.ckpt")


def test_weights_of_another_model_are_refused():
    with pytest.raises(UnknownNameError, match="RaceModel weights 'mira'.*emory_hiti"):
        emory_hiti.RaceModel(weights="mira")


def test_a_lightning_checkpoint_without_state_dict(tmp_path):
    torch.save({"epoch": 3, "optimizer_states": []}, tmp_path / "empty.ckpt")
    with pytest.raises(WeightsFormatError, match="no 'state_dict' entry.*'epoch'"):
        mira.SexModel(weights=tmp_path / "empty.ckpt")


def test_a_payload_in_a_checkpoint_is_refused_and_not_run(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    torch.save({"state_dict": {}, "hyper_parameters": Payload()}, tmp_path / "evil.ckpt")
    with pytest.raises(UnsafeWeightsError, match="builtins.print"):
        mira.SexModel(weights=tmp_path / "evil.ckpt")


@pytest.mark.filterwarnings("ignore::xrayvision.baseline_models._base.LicenceWarning")
@pytest.mark.parametrize("name", ["jfhealthcare", "chestx_det", "chestx_anatomy", "emory_hiti", "mira", "xinario"])
def test_offline_without_the_file_says_where_to_put_it(name, monkeypatch):
    monkeypatch.setenv("XRV_OFFLINE", "1")
    with pytest.raises(OfflineError, match=xrv.models.get_weights(name).filename):
        xrv.models.get_model(name)


def test_validators_accept_the_official_layout_and_refuse_others(emory_file, tmp_path):
    xrv.models.check_weights_file("emory_hiti", emory_file[0])  # builds nothing in memory
    with pytest.raises(WeightsFormatError, match="missing keys"):
        xrv.models.check_weights_file("jfhealthcare", emory_file[0])
    with pytest.raises(WeightsFormatError, match="not a TorchScript archive"):
        xrv.models.check_weights_file("riken", emory_file[0])
    with pytest.raises(WeightsFormatError, match="no 'encoder.' entries.*not a VQ-GAN checkpoint"):
        xrv.models.check_weights_file("cxr2-vqgan-768-sd", emory_file[0])
    (tmp_path / "page.pt").write_text("<!doctype html><html>rate limited</html>")
    with pytest.raises(WeightsFormatError, match="HTML"):
        xrv.models.check_weights_file("xinario", tmp_path / "page.pt")


def test_no_network_at_construction(emory_file, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a model opened a network connection while being built")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    network = random_bn_stats(jfhealthcare.JFHealthcareNetwork()).eval()
    torch.save(network.state_dict(), cache_path("jfhealthcare"))
    model = jfhealthcare.DenseNet()  # the reference fetched ImageNet weights here
    assert model.weights == "jfhealthcare" and not model.training
    assert emory_hiti.RaceModel(weights=emory_file[0]).weights == str(emory_file[0])


def test_input_checks(emory_file):
    model = emory_hiti.RaceModel(weights=emory_file[0])
    model.input_resolution = 64
    with pytest.raises(ModelInputError, match=r"\[B, 1, H, W\].*\[1, 3, 64, 64\]"):
        model(torch.zeros(1, 3, 64, 64))  # the channel is repeated inside, never by the caller
    with pytest.raises(ModelInputError, match="square.*64x80"):
        model(torch.zeros(1, 1, 64, 80))
    with pytest.raises(ModelInputError, match="torch.Tensor"):
        model(_x().numpy())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with torch.no_grad():
            assert model(_x(side=96)[0]).shape == (1, 3)  # [1, H, W] promoted; resized
            model(_x(side=96)[0] / 1024)  # looks like [-1, 1]
            model(_x(side=96)[0] / 1024)
    kinds = [type(w.message) for w in caught]
    assert kinds.count(xrv.models.ResolutionWarning) == 1 and kinds.count(xrv.models.InputRangeWarning) == 1


def test_output_modes(emory_file):
    model = emory_hiti.RaceModel(weights=emory_file[0])
    model.input_resolution = 64
    x = _x(2)
    with torch.no_grad():
        log_probabilities = model(x)
        model.output = "logits"
        logits = model(x)
        model.output = "probabilities"
        probabilities = model(x)
    torch.testing.assert_close(log_probabilities, torch.log_softmax(logits, dim=1))
    torch.testing.assert_close(probabilities.sum(dim=1), torch.ones(2))
    torch.testing.assert_close(probabilities, log_probabilities.exp())
    with pytest.raises(UnknownNameError, match="log_probabilities"):
        model.output = "calibrated"
    jf = jfhealthcare.DenseNet(weights=False)
    assert jf.output == "probabilities" and jf.apply_sigmoid
    jf.apply_sigmoid = False
    assert jf.output == "logits"


def test_jfhealthcare_reapplies_attention_before_each_head():
    # Spec §8.1: head i sees the attention applied i+1 times. With an attention that adds 1
    # and heads that read the average of channel 0, logit i - logit 0 = i.
    model = jfhealthcare.DenseNet(weights=False)
    network = model.model
    network.attention_map.forward = lambda feature_map: feature_map + 1
    for index in range(5):
        getattr(network, f"fc_{index}").weight.data.zero_()
        getattr(network, f"fc_{index}").weight.data[0, 0] = 1.0
        getattr(network, f"fc_{index}").bias.data.zero_()
        getattr(network, f"bn_{index}").eps = 0.0
    with torch.no_grad():
        logits = network(torch.rand(1, 3, 128, 128))
    torch.testing.assert_close(logits - logits[:, :1], torch.arange(5.0)[None])


def test_cxas_dict_mode_and_licence_notice(tmp_path):
    model = chestx_anatomy.UNetResNet50(weights=False)
    data = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        out = model({"data": data, "id": "x"})
    assert set(out) == {"data", "id", "feats", "logits", "segmentation_preds"}
    assert out["logits"].shape == (1, 159, 64, 64) and out["segmentation_preds"].dtype == torch.bool
    assert torch.equal(out["segmentation_preds"], torch.sigmoid(out["logits"]) > 0.5)
    assert model.model_name == "UNet_ResNet50_default" and model.threshold == 0.5
    notice = xrv.models.get_weights("chestx_anatomy").licence_notice
    assert "CC-BY-NC-SA" in notice and "not for commercial use" in notice
    assert xrv.models.get_weights("chestx_det").licence_notice is None


def test_cxas_download_announces_the_licence(monkeypatch):
    monkeypatch.setenv("XRV_OFFLINE", "1")
    with pytest.warns(xrv.baseline_models.LicenceWarning, match="not for commercial use"):
        with pytest.raises(OfflineError):
            chestx_anatomy.UNetResNet50()
