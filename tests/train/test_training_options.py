"""Accumulation, balanced domains, frozen features, bfloat16, and calibration on a constructed case."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

import xrayvision as xrv
from xrayvision.models.calibration import finish_outputs
from xrayvision.train import Trainer, config_from_dict
from xrayvision.train.calibration import calibrate

from .conftest import training_config

NO_BATCHNORM = {"factory": "tests.train._tiny:tiny_cnn", "options": {"num_outputs": 3, "batchnorm": False}}


def test_gradient_accumulation_equals_one_large_batch(nih_release, tmp_path):
    runs = {}
    for accumulate in (1, 4):
        config = config_from_dict(training_config(nih_release, tmp_path / f"acc{accumulate}", model=NO_BATCHNORM,
                                                  optim={"epochs": 1, "batch_size": 8, "accumulate": accumulate}))  # fmt: skip
        runs[accumulate] = load_file(str(Trainer(config).fit().last_weights))
    for key, value in runs[1].items():
        assert torch.allclose(value, runs[4][key], rtol=0, atol=1e-6), key


def test_balanced_batches_hold_each_domain_equally(nih_release, tmp_path, monkeypatch):
    config = training_config(nih_release, tmp_path / "run", sampling={"balanced": True}, optim={"epochs": 1, "batch_size": 6})
    second = dict(config["data"]["datasets"][0], views=["AP"], domain="AP")
    config["data"]["datasets"][0]["views"] = ["PA"]
    config["data"]["datasets"].append(second)
    trainer = Trainer(config_from_dict(config))
    assert trainer.data.domain_names == ["nih", "AP"]
    seen = []
    original = Trainer._step

    def recording(self, run, batch, epoch):
        seen.append(np.bincount(batch["domain"].numpy(), minlength=2))
        return original(self, run, batch, epoch)

    monkeypatch.setattr(Trainer, "_step", recording)
    result = trainer.fit()
    sizes = np.bincount(trainer.data.domains)
    assert result.steps == -(-sizes.max() // 3)  # the larger domain seen once per epoch
    assert all((counts == 3).all() for counts in seen)


def test_frozen_features_train_only_the_head(nih_release, tmp_path):
    model = {"architecture": "densenet121", "freeze_features": True,
             "options": {"growth_rate": 4, "block_config": [1, 1], "num_init_features": 8}}  # fmt: skip
    config = config_from_dict(training_config(nih_release, tmp_path / "run", model=model, optim={"epochs": 1}))
    trainer = Trainer(config)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.fit()
    after = trainer.model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"classifier.weight", "classifier.bias"}


def test_bfloat16_autocast_runs_on_the_cpu(nih_release, tmp_path):
    config = config_from_dict(training_config(nih_release, tmp_path / "run", run={"amp": "bf16"}, optim={"epochs": 1}))
    result = Trainer(config).fit()
    assert np.isfinite([r["loss"] for r in result.history if r["kind"] == "train"]).all()


class _ScoreImages(xrv.datasets.Dataset):
    """Images whose every pixel is a known score, with given labels."""

    def __init__(self, scores, labels):
        super().__init__()
        self.scores = np.asarray(scores, dtype=np.float32)
        self.csv = pd.DataFrame({"patientid": np.arange(len(scores)), "offset_day_int": np.nan,
                                 "view": "PA", "has_masks": False})  # fmt: skip
        self._set_labels(np.asarray(labels, dtype=np.float32)[:, None], ["Effusion"])

    def _read_image(self, index):
        return np.full((1, 4, 4), self.scores[index], dtype=np.float32)


class _ReadsScore(nn.Module):
    """A "classifier" whose probability is the image's pixel value (logit = log(p / (1 - p)))."""

    def __init__(self):
        super().__init__()
        self.targets = ["Effusion"]
        self.op_threshs = None
        self.apply_sigmoid = False
        self.mask_unavailable = True

    def forward(self, x):
        p = x.mean(dim=(1, 2, 3))[:, None].clamp(1e-6, 1 - 1e-6)
        return finish_outputs(self, torch.log(p / (1 - p)))


def test_calibration_finds_the_known_operating_point_without_a_second_sigmoid():
    scores = [0.05, 0.10, 0.20, 0.30, 0.35, 0.60, 0.70, 0.90]
    labels = [0, 0, 0, 1, 0, 1, 1, 1]
    # J = tpr - fpr: >= 0.60 -> 3/4 - 0 = 0.75; >= 0.30 -> 1 - 1/4 = 0.75 (tie: the higher wins); >= 0.35 -> 0.5
    # precision >= 0.8: >= 0.30 gives 4/5 = 0.8 (the lowest threshold reaching it)
    model = _ReadsScore()
    result = calibrate(model, _ScoreImages(scores, labels), batch_size=3)
    assert result.op_threshs[0] == pytest.approx(0.60, abs=1e-5)  # probability space, not sigmoid(probability)
    assert result.ppv80_thres[0] == pytest.approx(0.30, abs=1e-5)
    assert model.op_threshs is None and model.apply_sigmoid is False  # restored
    result.apply(model)
    with torch.no_grad():
        calibrated = model(torch.full((1, 1, 4, 4), 0.60))
    assert calibrated.item() == pytest.approx(0.5, abs=1e-5)  # the operating point maps to 0.5
