"""Key names, parameter counts and output shapes of the baselines against spec models.md §8.

The counts are the spec's independent oracle of each architecture. Shapes at the native
resolution are computed on ``meta`` tensors (no memory, no arithmetic).
"""

from __future__ import annotations

import pytest
import torch

import xrayvision as xrv
from xrayvision.baseline_models import chestx_anatomy, chestx_det, emory_hiti, jfhealthcare, mira, xinario


def _count(network: torch.nn.Module) -> int:
    return sum(p.numel() for p in network.parameters())


def _meta(factory):
    with torch.device("meta"):
        return factory()


# (network, state-dict entries or None when the spec gives none, parameters, first key, last key)
SPEC = {
    "jfhealthcare": (jfhealthcare.JFHealthcareNetwork, None, 12_525_301, "backbone.features.conv0.weight", None),
    "chestx_det": (chestx_det.PSPNetNetwork, 676, 68_068_316, "convbnrelu1_1.cbr_unit.0.weight", "aux_cls.bias"),
    "chestx_anatomy": (
        chestx_anatomy.CXASNetwork, 383, 73_380_191, "backbone.backbone.layer0.0.weight", "head.out.conv.bias"
    ),
    "emory_hiti": (emory_hiti.RaceModel.network, None, 21_286_211, "conv1.weight", "fc.0.bias"),
    "mira": (mira.SexModel.network, None, 21_285_698, "conv1.weight", "fc.bias"),
    "xinario": (xinario.ViewModel.network, 320, 25_557_032, "conv1.weight", "fc.bias"),
}


@pytest.mark.parametrize("name", sorted(SPEC))
def test_parameter_counts_and_key_names(name):
    factory, entries, parameters, first, last = SPEC[name]
    network = _meta(factory)
    keys = list(network.state_dict())
    assert _count(network) == parameters
    assert entries is None or len(keys) == entries
    assert keys[0] == first
    assert last is None or keys[-1] == last


def test_jfhealthcare_layout():
    state = _meta(jfhealthcare.JFHealthcareNetwork).state_dict()
    assert state["backbone.features.conv0.weight"].shape == (64, 3, 7, 7)  # 3 input channels
    assert state["backbone.classifier.weight"].shape == (1000, 1024)  # unused, but in the file
    assert state["fc_4.weight"].shape == (1, 2048, 1, 1) and state["bn_4.weight"].shape == (2048,)
    assert state["attention_map.channel_attention.fc1.weight"].shape == (512, 1024)
    assert state["attention_map.spatial_attention.gamma"].shape == (1,)
    assert state["attention_map.spatial_attention.conv3.weight"].shape == (1024, 1024, 1, 1)
    assert state["attention_map.pyramid_attention.gap_branch.1.conv.0.weight"].shape == (1024, 1024, 1, 1)
    assert state["attention_map.pyramid_attention.downsample1.conv.0.weight"].shape == (1, 1024, 7, 7)
    assert "attention_map.pyramid_attention.scale3.conv.1.running_var" in state


def test_pspnet_layout():
    network = _meta(chestx_det.PSPNetNetwork)
    state = network.state_dict()
    assert "res_block4.layers.0.cb4.cb_unit.0.weight" in state
    assert state["pyramid_pooling.path_module_list.3.cbr_unit.0.weight"].shape == (512, 2048, 1, 1)
    assert state["classification.bias"].shape == (14,) and "convbnrelu1_1.cbr_unit.0.bias" not in state
    assert len(network.res_block4.layers) == 23
    assert network.res_block3.layers[0].cbr2.cbr_unit[0].stride == (2, 2)
    assert network.res_block4.layers[5].cbr2.cbr_unit[0].dilation == (2, 2)
    assert network.res_block5.layers[0].cbr2.cbr_unit[0].dilation == (4, 4)
    assert network.res_block5.layers[0].cb4.cb_unit[0].stride == (1, 1)  # dilated: no stride


def test_cxas_layout():
    state = _meta(chestx_anatomy.CXASNetwork).state_dict()
    assert state["backbone.backbone.layer4.2.conv3.weight"].shape == (2048, 512, 1, 1)
    assert state["head.up1.conv1.conv.0.weight"].shape == (1024, 2048, 3, 3)
    assert state["head.up1.conv2.double_conv.3.weight"].shape == (512, 1024, 3, 3)
    assert state["head.up4.conv.double_conv.0.weight"].shape == (64, 128, 3, 3)
    assert state["head.out.conv.weight"].shape == (159, 128, 1, 1)


def test_resnet34_basic_blocks():
    state = _meta(mira.SexModel.network).state_dict()
    assert state["layer1.0.conv1.weight"].shape == (64, 64, 3, 3) and "layer1.0.conv3.weight" not in state
    assert state["layer2.0.downsample.0.weight"].shape == (128, 64, 1, 1)
    assert "layer1.0.downsample.0.weight" not in state  # ResNet-34's first stage needs no projection
    assert state["layer4.2.bn2.weight"].shape == (512,)


NATIVE = [  # (constructor, input side, output shape for a batch of 2) — spec §8
    (lambda: jfhealthcare.DenseNet(weights=False), 600, (2, 5)),
    (lambda: chestx_det.PSPNet(weights=False), 700, (2, 14, 512, 512)),
    (lambda: chestx_anatomy.UNetResNet50(weights=False), 300, (2, 159, 512, 512)),
    (lambda: emory_hiti.RaceModel(weights=False), 320, (2, 3)),
    (lambda: mira.SexModel(weights=False), 1024, (2, 2)),
    (lambda: xinario.ViewModel(weights=False), 224, (2, 2)),
]


@pytest.mark.parametrize(("build", "side", "shape"), NATIVE)
def test_output_shapes_at_native_resolution(build, side, shape):
    model = _meta(build)
    model.check_input_range = model.warn_on_resize = False  # meta tensors have no values
    assert tuple(model(torch.empty(2, 1, side, side, device="meta")).shape) == shape
    assert not model.training


def test_resolutions_and_targets_follow_the_spec():
    assert jfhealthcare.DenseNet.input_resolution == 512 and chestx_det.PSPNet.input_resolution == 512
    assert emory_hiti.RaceModel.input_resolution == 320 and xrv.baseline_models.riken.AgeModel.input_resolution == 320
    assert mira.SexModel.input_resolution == 224 and xinario.ViewModel.input_resolution == 224  # not 320 (docstring)
    assert xrv.baseline_models.chexpert.DenseNet.input_resolution == 320
    for module, name in [(jfhealthcare, "jfhealthcare"), (chestx_det, "chestx_det"), (emory_hiti, "emory_hiti"),
                         (mira, "mira"), (xinario, "xinario"), (chestx_anatomy, "chestx_anatomy")]:
        assert module.TARGETS == list(xrv.models.get_weights(name).labels)
        assert xrv.models.get_weights(name).input_resolution in (224, 320, 512)


def test_features():
    model = _meta(lambda: jfhealthcare.DenseNet(weights=False))
    model.check_input_range = model.warn_on_resize = False
    assert tuple(model.features(torch.empty(1, 1, 512, 512, device="meta")).shape) == (1, 1024)
    model = _meta(lambda: xinario.ViewModel(weights=False))
    model.check_input_range = False
    assert tuple(model.features(torch.empty(3, 1, 224, 224, device="meta")).shape) == (3, 2048)
