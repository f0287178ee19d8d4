"""The VQ-GAN: its YAML and checkpoint, the quantizer, encode/decode contracts (spec §8.9)."""

from __future__ import annotations

import pytest
import torch

import xrayvision as xrv
from xrayvision.baseline_models import ieee8023
from xrayvision.baseline_models._vqgan import VectorQuantizer
from xrayvision.errors import ModelInputError, OfflineError, WeightsFormatError

from .conftest import cache_path
from ._tiny_vqgan import TINY_VQGAN_YAML, tiny_vqgan


@pytest.fixture
def files(tmp_path):
    yaml_file = tmp_path / "tiny.yaml"
    yaml_file.write_text(TINY_VQGAN_YAML)
    network = tiny_vqgan(yaml_file)
    state = dict(network.state_dict())
    state["loss.logvar"] = torch.zeros(())
    torch.save({"state_dict": state, "global_step": 1}, tmp_path / "tiny.ckpt")
    return tmp_path / "tiny.ckpt", yaml_file, network


def test_quantizer_picks_the_nearest_codebook_entry():
    quantizer = VectorQuantizer(n_embed=3, embed_dim=2)
    quantizer.embedding.weight.data = torch.tensor([[0.0, 0.0], [10.0, 10.0], [-5.0, 3.0]])
    z = torch.tensor([[[[1.0, 9.0], [-4.0, 0.2]], [[-1.0, 8.0], [2.0, -0.1]]]], requires_grad=True)  # [1, 2, 2, 2]
    quantized, indices = quantizer(z)
    assert indices.tolist() == [[[0, 1], [2, 0]]]  # by squared distance, computed by hand
    assert quantized[0, :, 0, 1].tolist() == [10.0, 10.0] and quantized[0, :, 1, 0].tolist() == [-5.0, 3.0]
    quantized.sum().backward()
    assert torch.equal(z.grad, torch.ones_like(z))  # straight-through estimator


def test_local_files_encode_decode_and_contracts(files):
    checkpoint, yaml_file, network = files
    model = ieee8023.VQGAN(ckpt_path=checkpoint, yaml_path=yaml_file)
    assert repr(model) == "VQGAN" and model.weights is None and not model.training
    for name, value in network.state_dict().items():
        assert torch.equal(model.model.state_dict()[name], value)
    model.input_resolution = 64
    x = torch.rand(1, 1, 96, 96) * 2048 - 1024
    with torch.no_grad():
        z = model.encode(x)
        assert z.shape == (1, 8, 2, 2)  # 64 / 2**5
        # decode keeps channel 0, scales by 1024 and clips: make the network output [5, -7, 3].
        model.model.decoder.conv_out.weight.data.zero_()
        model.model.decoder.conv_out.bias.data = torch.tensor([5.0, -7.0, 3.0])
        assert torch.equal(model.decode(z), torch.full((1, 1, 64, 64), 1024.0))
    with pytest.raises(ModelInputError, match="square"):
        model.encode(torch.zeros(1, 1, 64, 80))
    with pytest.raises(ModelInputError):
        model.encode(torch.zeros(1, 3, 64, 64))


def test_native_resolution_shapes_on_meta(files):
    _, yaml_file, _ = files
    config = ieee8023.read_vqgan_config(yaml_file)
    with torch.device("meta"):
        network = ieee8023.VQModel(config["ddconfig"], config["n_embed"], config["embed_dim"])
        z = network.encode(torch.empty(1, 3, 768, 768))
        assert tuple(z.shape) == (1, 8, 24, 24)  # spec: sd codes on a 24x24 grid
        assert tuple(network.decode(z).shape) == (1, 3, 768, 768)


def test_bad_yaml_and_checkpoint(files, tmp_path):
    checkpoint, yaml_file, _ = files
    (tmp_path / "no-ch.yaml").write_text(TINY_VQGAN_YAML.replace("      ch: 32\n", ""))
    with pytest.raises(WeightsFormatError, match=r"ddconfig lacks \['ch'\]"):
        ieee8023.VQGAN(ckpt_path=checkpoint, yaml_path=tmp_path / "no-ch.yaml")
    (tmp_path / "other.yaml").write_text("model:\n  target: something\n")
    with pytest.raises(WeightsFormatError, match="no model.params"):
        ieee8023.read_vqgan_config(tmp_path / "other.yaml")
    (tmp_path / "broken.yaml").write_text("model: [unclosed\n")
    with pytest.raises(WeightsFormatError, match="not a readable YAML"):
        ieee8023.read_vqgan_config(tmp_path / "broken.yaml")
    state = torch.load(checkpoint, weights_only=True)["state_dict"]
    state["extra.weight"] = torch.zeros(1)
    torch.save({"state_dict": state}, tmp_path / "extra.ckpt")
    with pytest.raises(WeightsFormatError, match="unexpected keys.*extra.weight"):
        ieee8023.VQGAN(ckpt_path=tmp_path / "extra.ckpt", yaml_path=yaml_file)


def test_registry_weights_need_the_yaml_too(files, monkeypatch):
    checkpoint, _, _ = files
    cache_path("cxr2-vqgan-768-msdd").write_bytes(checkpoint.read_bytes())
    monkeypatch.setenv("XRV_OFFLINE", "1")
    with pytest.raises(OfflineError, match="2023-07-29T17-34-14_cxr2_vqgan_768_msdd.yaml"):
        ieee8023.VQGAN(weights="cxr2-vqgan-768-msdd")
