"""The reference's public names user code reaches for, and inference that leaves the model as it was."""

from __future__ import annotations

import copy
import math
import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import xrayvision as xrv
from xrayvision.models.predict import infer, predict_files

# Spec models.md §2: the reference dict's key order.
SPEC_KEYS = [
    "all", "densenet121-res224-all", "nih", "densenet121-res224-nih", "pc", "densenet121-res224-pc",
    "chex", "densenet121-res224-chex", "rsna", "densenet121-res224-rsna", "mimic_nb",
    "densenet121-res224-mimic_nb", "mimic_ch", "densenet121-res224-mimic_ch", "resnet50-res512-all",
]  # fmt: skip


def test_model_urls_has_the_reference_keys_and_fields():
    urls = xrv.models.model_urls
    assert list(urls) == SPEC_KEYS
    for name in SPEC_KEYS:
        record = urls[name]
        with_extras = name in ("all", "densenet121-res224-all", "resnet50-res512-all")
        fields = {"weights_url", "labels", "op_threshs", "input_resolution"}
        assert set(record) == (fields | {"description", "ppv80_thres"} if with_extras else fields), name
        assert len(record["labels"]) == 18 and len(record["op_threshs"]) == 18
    assert urls["all"] is urls["densenet121-res224-all"]  # an alias gives the same record
    assert urls["rsna"]["weights_url"].endswith("/kaggle-densenet121-d121-tw-lr001-rot45-tr15-sc15-seed0-best.pt")
    assert urls["nih"]["op_threshs"][0] == 0.039117552 and math.isnan(urls["nih"]["op_threshs"][14])
    assert urls["resnet50-res512-all"]["input_resolution"] == 512
    assert urls["all"]["ppv80_thres"][0] == 0.72715247


def test_model_urls_is_read_only_and_says_what_to_do_instead():
    for mapping in (xrv.models.model_urls, xrv.models.model_urls["all"], xrv.autoencoders.model_urls):
        with pytest.raises(TypeError, match="XRV_WEIGHTS_MIRROR"):
            mapping["weights_url"] = "http://my-mirror/x.pt"
        with pytest.raises(TypeError, match="read-only"):
            mapping.update({})
    with pytest.raises(AttributeError):
        xrv.models.model_urls["all"]["labels"].append("x")  # a tuple


def test_autoencoder_model_urls_match_the_reference():
    assert dict(xrv.autoencoders.model_urls["101-elastic"]) == {
        "description": "This model was trained on the datasets: nih pc rsna mimic_ch chex datasets.",
        "weights_url": "https://github.com/mlmed/torchxrayvision/releases/download/v1/"
        "nihpcrsnamimic_ch-resnet101-2-ae-test2-elastic-e250.pt",
        "image_range": (-1024, 1024),
        "resolution": 224,
        "class": "ResNetAE101",
    }
    assert list(xrv.autoencoders.model_urls) == ["101-elastic"]


def test_utils_exposes_the_reference_names_and_nothing_else():
    names = dir(xrv.utils)
    for name in ("get_cache_dir", "download", "in_notebook", "infer", "load_image", "normalize", "read_xray_dcm"):
        assert name in names and callable(getattr(xrv.utils, name))
    for module in ("np", "os", "warnings"):
        assert module not in names and not hasattr(xrv.utils, module)


def test_get_cache_dir_is_the_hub_folder_as_a_string_with_a_separator():
    folder = xrv.utils.get_cache_dir()
    assert isinstance(folder, str) and folder.endswith(os.sep)
    assert Path(folder) == xrv.hub.get_cache_dir() == Path(os.environ["XRV_CACHE_DIR"])


def test_in_notebook(monkeypatch):
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert xrv.utils.in_notebook() is False
    shell = types.SimpleNamespace(config={})
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    assert xrv.utils.in_notebook() is False  # a terminal IPython
    shell.config["IPKernelApp"] = {"connection_file": "kernel-1.json"}
    assert xrv.utils.in_notebook() is True
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: None))
    assert xrv.utils.in_notebook() is False  # IPython imported, no shell running


class _Tiny(nn.Module):
    """BatchNorm and dropout: both behave differently in training mode."""

    input_resolution = 16

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(4, 2)
        self.bn.running_mean.fill_(0.3)
        self.bn.running_var.fill_(2.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.drop(self.bn(self.conv(x)).mean((2, 3))))


def _images(n: int = 5) -> torch.Tensor:
    return torch.rand(n, 1, 1, 16, 16, generator=torch.Generator().manual_seed(1)) * 2048 - 1024


def _training_model() -> tuple[_Tiny, torch.Tensor, dict]:
    model = _Tiny()
    oracle = copy.deepcopy(model).eval()
    model.train()
    model.conv.eval()  # a caller's own per-submodule choice must survive too
    modes = {name: m.training for name, m in model.named_modules()}
    with torch.no_grad():
        expected = torch.cat([oracle(x) for x in _images()])
    return model, expected, modes


def _unchanged(model: _Tiny, modes: dict) -> None:
    assert {name: m.training for name, m in model.named_modules()} == modes
    assert torch.equal(model.bn.running_mean, torch.full((4,), 0.3))
    assert torch.equal(model.bn.running_var, torch.full((4,), 2.0))
    assert int(model.bn.num_batches_tracked) == 0


def test_infer_evaluates_in_eval_mode_and_restores_the_callers_mode():
    model, expected, modes = _training_model()
    dataset = [{"img": x[0]} for x in _images()]
    out = infer(model, dataset, threads=0, batch_size=2)
    assert torch.allclose(torch.from_numpy(out), expected, atol=1e-6)
    _unchanged(model, modes)
    assert xrv.utils.infer is infer


def test_predict_files_evaluates_in_eval_mode_and_restores_the_mode_between_results():
    model, expected, modes = _training_model()
    images = {f"{i}.png": x for i, x in enumerate(_images())}
    results = []
    for result in predict_files(model, [Path(n) for n in images], transform=lambda p: images[p.name], batch_size=2):
        _unchanged(model, modes)  # the caller gets its model back before each result
        results.append(result.scores)
    assert torch.allclose(torch.from_numpy(np.stack(results)), expected, atol=1e-6)
