"""The weight registry: every entry checked, so new entries are tested automatically."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

import xrayvision as xrv
from xrayvision.datasets import default_pathologies
from xrayvision.errors import UnknownNameError, WeightsFormatError, WeightsNotFoundError
from xrayvision.models._registry import all_weights

CORE = [w for w in all_weights() if w.kind == "classifier"]


@pytest.mark.parametrize("weights", CORE, ids=lambda w: w.name)
def test_classifier_entries_have_18_slots_aligned_with_default_pathologies(weights):
    assert len(weights.labels) == 18
    assert len(weights.op_threshs) == 18
    for slot, label in enumerate(weights.labels):
        assert label in ("", default_pathologies[slot])
        if label == "":  # never trained -> never calibrated
            assert math.isnan(weights.op_threshs[slot])
    for value in weights.op_threshs:
        assert math.isnan(value) or 0 < value < 1
    if weights.ppv80_thres:
        assert len(weights.ppv80_thres) == 18


@pytest.mark.parametrize("weights", all_weights(), ids=lambda w: w.name)
def test_every_entry_is_complete(weights):
    assert weights.filename and "/" not in weights.filename
    if weights.url is not None:
        assert weights.url.startswith("https://") and weights.url.endswith("/" + weights.filename)
        assert weights.resource().filename == weights.filename
    assert weights.input_resolution in (224, 320, 512, 768)
    assert weights.licence and weights.paper and weights.file_format
    assert weights.sha256 is None or len(weights.sha256) == 64
    for name in (weights.name, *weights.aliases):
        assert xrv.models.get_weights(name) is weights


def test_aliases_resolve_to_the_same_object():
    assert xrv.models.get_weights("all") is xrv.models.get_weights("densenet121-res224-all")
    assert xrv.models.get_weights("rsna") is xrv.models.get_weights("densenet121-res224-rsna")


def test_spec_values_copied_exactly():
    # Spot checks against spec models.md §2 (independent of the JSON generator).
    nih = xrv.models.get_weights("nih")
    assert nih.op_threshs[0] == pytest.approx(0.039117552, abs=0)
    assert nih.labels[14:] == ("", "", "", "")
    resnet = xrv.models.get_weights("resnet50-res512-all")
    assert resnet.input_resolution == 512 and resnet.architecture == "resnet50"
    assert math.isnan(resnet.op_threshs[14]) and resnet.labels[14] == "Lung Lesion"
    assert xrv.models.get_weights("rsna").filename.startswith("kaggle-densenet121")
    assert sum(bool(label) for label in xrv.models.get_weights("rsna").labels) == 2


def test_records_are_immutable():
    weights = xrv.models.get_weights("all")
    with pytest.raises(AttributeError):
        weights.labels = ()
    pathologies = weights.pathologies
    pathologies.append("x")
    assert len(weights.labels) == 18


def test_unknown_names_suggest_close_ones():
    with pytest.raises(UnknownNameError, match="densenet121-res224-all"):
        xrv.models.get_weights("densenet121-res224-al")
    with pytest.raises(KeyError):  # UnknownNameError is a KeyError too
        xrv.models.get_weights("nope")
    with pytest.raises(UnknownNameError, match="jfhealthcare"):
        xrv.models.get_model("jfhealthcar")
    with pytest.raises(UnknownNameError, match=r"unknown model 'jfhealthcar'; did you mean 'jfhealthcare'\? choose one of: "):
        xrv.models.get_model("jfhealthcar")


@pytest.mark.parametrize("missing", ["run/best.safetensors", "model.pt", Path("weights")])
def test_a_missing_weight_file_is_not_an_unknown_name(missing):
    with pytest.raises(WeightsNotFoundError, match=f"weights file '{missing}' does not exist; check the path"):
        xrv.models.get_model(missing)
    with pytest.raises(FileNotFoundError):
        xrv.models.DenseNet(weights=missing)


def test_listings():
    models = xrv.models.list_models()
    assert "densenet121-res224-all" in models and "all" in models and "101-elastic" in models
    assert "jfhealthcare" in models and "chestx_det" in models  # every registered weight set
    assert set(models) == set(xrv.models.list_weights())
    assert "jfhealthcare" not in xrv.models.list_models("segmentation")
    assert xrv.models.list_models("segmentation") == ["chestx_det", "chestx_anatomy"]
    assert "jfhealthcare" in xrv.models.list_weights("baseline")
    assert xrv.models.list_weights(include_aliases=False).count("all") == 1


def test_get_model_dispatches_through_registered_builders():
    from xrayvision.models import _builders

    for weights in all_weights():
        entry = _builders.model_entry(weights.architecture)  # every record has a builder
        assert entry.task in _builders.TASKS
    assert _builders.model_entry("densenet121").builder is xrv.models.DenseNet
    assert _builders.model_entry("resnet50").builder is xrv.models.ResNet
    assert _builders.model_entry("resnetae101").builder is xrv.models.ResNetAE
    assert _builders.model_entry("mira-resnet34").builder is xrv.baseline_models.mira.SexModel
    assert _builders.model_entry("pspnet-resnet101").task == "segmentation"
    assert xrv.models.list_models("regression") == ["riken"]


def test_register_model_decorator(monkeypatch):
    from xrayvision.models import _builders

    monkeypatch.setattr(_builders, "_ENTRIES", dict(_builders._entries()))

    @xrv.models.register_model("my-arch", task="classification")
    def build(weights=None, **kwargs):
        return ("built", weights, kwargs)

    assert _builders.model_entry("my-arch").builder is build
    with pytest.raises(ValueError, match="already built"):
        xrv.models.register_model("densenet121", task="classification")(build)
    with pytest.raises(ValueError, match="task"):
        xrv.models.register_model("x", task="detection")
    with pytest.raises(UnknownNameError, match="architecture"):
        _builders.model_entry("no-such-arch")


def test_the_weight_registry_imports_no_model(tmp_path):
    # The old import loop: _registry chose classes from name prefixes and imported them.
    code = (
        "import sys, xrayvision.models._registry as r; r.all_weights(); "
        "models = ('xrayvision.models.densenet', 'xrayvision.baseline_models'); "
        "assert not any(m.startswith(models) for m in sys.modules), "
        "sorted(m for m in sys.modules if m.startswith('xrayvision'))"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_star_import_and_baseline_package(tmp_path):
    code = (
        "from xrayvision import *\n"
        "import xrayvision.baseline_models as bm\n"
        "assert baseline_models is bm and set(bm.__all__) >= {'jfhealthcare', 'chexpert', 'ieee8023'}\n"
        "assert bm.mira.SexModel.targets == ['Male', 'Female']\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_default_pathologies_live_in_a_neutral_module():
    from xrayvision import _vocabulary

    assert xrv.datasets.default_pathologies is _vocabulary.default_pathologies
    assert len(_vocabulary.default_pathologies) == 18


def test_get_densenet_params_refuses_unknown_names():
    assert xrv.models.get_densenet_params("densenet201")["block_config"] == (6, 12, 48, 32)
    for name in ("densenet12", "densenet", "resnet50"):
        with pytest.raises(ValueError, match="densenet121"):  # the reference answered DenseNet-121
            xrv.models.get_densenet_params(name)


def test_a_weight_set_copied_without_its_record_says_so(tmp_path):
    saved = xrv.models.save_model(xrv.models.DenseNet(weights=None), tmp_path / "run" / "best")
    alone = tmp_path / "copy" / "best.safetensors"
    alone.parent.mkdir()
    alone.write_bytes(saved.read_bytes())
    with pytest.raises(WeightsFormatError, match=r"an xrayvision weight set without its record best.json .*copy both files"):
        xrv.models.get_model(alone)
