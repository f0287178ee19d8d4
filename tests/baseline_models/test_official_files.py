"""Each baseline loads a file written in its official format and layout (random weights, the
real key names and containers) through its public constructor, in a fresh process, and
runs on a real image; the output equals the source network's on the same input.

Formats (spec models.md §6.1, §8): plain state dicts (jfhealthcare; xinario; emory_hiti
and chestx_det with DataParallel's ``module.``), a checkpoint dict with the short
``backbone.`` spelling (chestx_anatomy), PyTorch-Lightning checkpoints whose
hyper-parameters pickle a Lightning class this process does not have (mira, ieee8023,
with the YAML), a TorchScript archive (riken), and the CheXpert zip of ``.pth.tar``
checkpoints (more in test_chexpert.py).
"""

from __future__ import annotations

import sys
import textwrap
import warnings
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F

import xrayvision as xrv
from xrayvision.baseline_models import chestx_anatomy, chestx_det, emory_hiti, jfhealthcare, mira, xinario

from .._official_format import write_with_fake_modules
from ._chexpert_zip import expected_probabilities, write_zip
from ._tiny_vqgan import TINY_VQGAN_YAML, tiny_vqgan
from .conftest import cache_path, load_in_fresh_process, random_bn_stats, real_input

pytestmark = pytest.mark.realdata

# Spec models.md §8: target names in output order (independent of the modules' constants).
JF_TARGETS = ["Cardiomegaly", "Edema", "Consolidation", "Atelectasis", "Effusion"]
PSP_TARGETS = [
    "Left Clavicle", "Right Clavicle", "Left Scapula", "Right Scapula", "Left Lung", "Right Lung",
    "Left Hilus Pulmonis", "Right Hilus Pulmonis", "Heart", "Aorta", "Facies Diaphragmatica",
    "Mediastinum", "Weasand", "Spine",
]  # fmt: skip

# A Lightning-era class the checkpoints pickle in their hyper-parameters: a dict subclass.
_FAKE_LIGHTNING = "class AttributeDict(dict):\n    pass\n"
_LIGHTNING_WRITER = textwrap.dedent(
    """
    import sys, torch
    from pytorch_lightning.utilities.parsing import AttributeDict

    out = sys.argv[1]
    state = torch.load(out + "/../state.pt", weights_only=True)
    checkpoint = {
        "epoch": 13,
        "global_step": 7125,
        "pytorch-lightning_version": "1.5.10",
        "state_dict": state,
        "callbacks": {"ModelCheckpoint{'monitor': 'val_loss'}": {"best_model_score": torch.tensor(0.157)}},
        "optimizer_states": [{"state": {}, "param_groups": [{"lr": 1e-4, "params": [0, 1]}]}],
        "lr_schedulers": [],
        "hparams_name": "kwargs",
        "hyper_parameters": AttributeDict(num_classes=2, learning_rate=1e-4),
    }
    torch.save(checkpoint, out + "/checkpoint.ckpt")
    """
)


def _lightning_checkpoint(tmp_path, state: dict[str, torch.Tensor]):
    """A Lightning checkpoint of ``state``, written where ``pytorch_lightning`` exists (a fake)."""
    torch.save(state, tmp_path / "state.pt")
    files = write_with_fake_modules(
        tmp_path, {"pytorch_lightning.utilities.parsing": _FAKE_LIGHTNING}, _LIGHTNING_WRITER, extra_path=sys.path
    )
    return files / "checkpoint.ckpt"


def _native(image, resolution: int, antialias: bool = True) -> torch.Tensor:
    """Spec §1, §8: resized (bilinear, antialiased) to the model's side, channel repeated to 3."""
    size = (resolution, resolution)
    x = F.interpolate(real_input(image), size=size, mode="bilinear", align_corners=False, antialias=antialias)
    return x.repeat(1, 3, 1, 1)


def _imagenet(x: torch.Tensor) -> torch.Tensor:
    """Spec §8: [-1024, 1024] → [0, 1] → ImageNet mean/std."""
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    return ((x + 1024) / 2048 - mean) / std


def test_jfhealthcare_state_dict(real_image, tmp_path):
    network = random_bn_stats(jfhealthcare.JFHealthcareNetwork()).eval()
    torch.save(network.state_dict(), cache_path("jfhealthcare"), _use_new_zipfile_serialization=False)
    info, out = load_in_fresh_process("xrv.models.get_model('jfhealthcare')", real_image, 128, tmp_path)
    assert info["targets"] == JF_TARGETS
    assert info["repr"] == "jfhealthcare-DenseNet121" and info["training"] is False
    assert info["weights"] == "jfhealthcare" and info["file"] == str(cache_path("jfhealthcare"))
    assert out.shape == (1, 5) and bool(((out > 0) & (out < 1)).all())  # probabilities by default
    with torch.no_grad():
        torch.testing.assert_close(out, torch.sigmoid(network(_native(real_image, 128) / 512)))


def test_chestx_det_dataparallel_state_dict(real_image, tmp_path):
    # The registry pins the official file's size, which random weights cannot have: the file
    # is given by path (its release name still selects the record), not through the cache.
    network = random_bn_stats(chestx_det.PSPNetNetwork()).eval()
    path = tmp_path / xrv.models.get_weights("chestx_det").filename
    torch.save({"module." + k: v for k, v in network.state_dict().items()}, path)
    info, out = load_in_fresh_process(f"xrv.baseline_models.chestx_det.PSPNet(weights={str(path)!r})", real_image,
                                      128, tmp_path)  # fmt: skip
    assert info["targets"] == PSP_TARGETS and info["repr"] == "chestx-det-pspnet" and not info["training"]
    assert out.shape == (1, 14, 128, 128)  # logits at the model's resolution
    with torch.no_grad():
        torch.testing.assert_close(out, network(_imagenet(_native(real_image, 128))))


def test_chestx_anatomy_checkpoint_dict_with_short_backbone_keys(real_image, tmp_path):
    network = random_bn_stats(chestx_anatomy.CXASNetwork()).eval()
    state = OrderedDict()
    for key, value in network.state_dict().items():
        key = key.replace("backbone.backbone.", "backbone.", 1)  # the upstream repository's spelling
        state["model." + key] = value
    torch.save({"state_dict": state, "epoch": 40}, cache_path("chestx_anatomy"))
    info, out = load_in_fresh_process("xrv.baseline_models.chestx_anatomy.UNetResNet50()", real_image, 64, tmp_path)
    assert len(info["targets"]) == 159 and info["targets"][:3] == ["spine", "cervical spine", "thoracic spine"]
    assert info["targets"][-1] == "breast right" and info["repr"] == "cxas-unet-resnet50"
    assert out.shape == (1, 159, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(out, network(_imagenet(_native(real_image, 64)))["logits"])


def test_emory_hiti_dataparallel_state_dict(real_image, tmp_path):
    network = random_bn_stats(emory_hiti.RaceModel.network()).eval()
    state = {"module." + k: v for k, v in network.state_dict().items()}
    assert "module.fc.0.weight" in state  # spec §8.5
    torch.save(state, cache_path("emory_hiti"), _use_new_zipfile_serialization=False)
    info, out = load_in_fresh_process("xrv.baseline_models.emory_hiti.RaceModel()", real_image, 64, tmp_path)
    assert info["targets"] == ["Asian", "Black", "White"] and info["repr"] == "Emory-HITI-RaceModel-resnet34"
    assert out.shape == (1, 3)
    torch.testing.assert_close(out.exp().sum(), torch.tensor(1.0))  # log-probabilities
    with torch.no_grad():
        torch.testing.assert_close(out, network(_imagenet(_native(real_image, 64))))


def test_mira_lightning_checkpoint(real_image, tmp_path):
    network = random_bn_stats(mira.SexModel.network()).eval()
    state = OrderedDict(("model." + k, v) for k, v in network.state_dict().items())
    checkpoint = _lightning_checkpoint(tmp_path, state)
    cache_path("mira").write_bytes(checkpoint.read_bytes())
    info, out = load_in_fresh_process("xrv.models.get_model('mira')", real_image, 64, tmp_path)
    assert info["targets"] == ["Male", "Female"] and info["repr"] == "MIRA-SexModel-resnet34"
    assert out.shape == (1, 2)
    with torch.no_grad():  # [0, 255], no ImageNet normalisation
        torch.testing.assert_close(out, network((_native(real_image, 64) + 1024) / 2048 * 255))


def test_riken_torchscript_archive(real_image, tmp_path):
    class Tiny(torch.nn.Module):  # the container is what matters: a TorchScript archive
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3, stride=2)
            self.fc = torch.nn.Linear(4, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(torch.relu(self.conv(x)).mean((2, 3))) * 10 + 50

    tiny = Tiny().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch 2.13 deprecates writing TorchScript
        torch.jit.script(tiny).save(str(cache_path("riken")))
    build = "xrv.baseline_models.riken.AgeModel(trust_torchscript=True)"
    info, out = load_in_fresh_process(build, real_image, 64, tmp_path)
    assert info["targets"] == ["Age"] and info["repr"] == "riken-age-prediction" and not info["training"]
    assert out.shape == (1, 1)
    with torch.no_grad():
        torch.testing.assert_close(out, tiny(_imagenet(_native(real_image, 64))))
    assert xrv.hub.trust.is_trusted(xrv.hub.sha256sum(cache_path("riken")))  # recorded by the fresh process


def test_xinario_torchvision_state_dict(real_image, tmp_path):
    network = random_bn_stats(xinario.ViewModel.network()).eval()
    torch.save(network.state_dict(), cache_path("xinario"))
    info, out = load_in_fresh_process("xrv.baseline_models.xinario.ViewModel()", real_image, 64, tmp_path)
    assert info["targets"] == ["Frontal", "Lateral"] and info["repr"] == "xinario-view-prediction"
    assert out.shape == (1, 2)
    with torch.no_grad():  # the first two of the 1000 ImageNet logits
        torch.testing.assert_close(out, network(_imagenet(_native(real_image, 64)))[:, :2])


def test_ieee8023_lightning_checkpoint_and_yaml(real_image, tmp_path):
    record = xrv.models.get_weights("cxr2-vqgan-768-sd")
    yaml_file = cache_path("cxr2-vqgan-768-sd").with_name(record.extra["config_url"].rsplit("/", 1)[-1])
    yaml_file.write_text(TINY_VQGAN_YAML)
    network = tiny_vqgan(yaml_file)
    state = OrderedDict(network.state_dict())
    state["loss.discriminator.main.0.weight"] = torch.zeros(64, 3, 4, 4)  # dropped on loading
    state["loss.perceptual_loss.net.slice1.0.weight"] = torch.zeros(64, 3, 3, 3)
    cache_path("cxr2-vqgan-768-sd").write_bytes(_lightning_checkpoint(tmp_path, state).read_bytes())
    info, out = load_in_fresh_process("xrv.baseline_models.ieee8023.VQGAN()", real_image, 128, tmp_path)
    assert info["repr"] == "cxr2-vqgan-768-sd" and info["weights"] == "cxr2-vqgan-768-sd"
    assert out.shape == (1, 1, 128, 128) and float(out.abs().max()) <= 1024
    with torch.no_grad():  # spec §8.9: ÷1024, 3 channels, plain bilinear resize; channel 0 ×1024, clipped
        x = _native(real_image, 128, antialias=False) / 1024
        expected = (network.decode(network.encode(x))[:, :1] * 1024).clamp(-1024, 1024)
    torch.testing.assert_close(out, expected)


def test_chexpert_zip_of_checkpoints(real_image, tmp_path):
    zip_path = tmp_path / "CheXpert weights.zip"
    written = write_zip(zip_path, num_models=2)
    build = f"xrv.baseline_models.chexpert.DenseNet(weights_zip={str(zip_path)!r}, num_models=2)"
    info, out = load_in_fresh_process(build, real_image, 64, tmp_path)
    assert info["targets"] == ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Effusion"]
    assert info["repr"] == "CheXpert-DenseNet121-ensemble" and info["file"] == str(zip_path)
    torch.testing.assert_close(out, torch.tensor([expected_probabilities(written)]), rtol=1e-5, atol=1e-6)
