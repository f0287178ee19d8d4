"""A trained library model saves as a weight set that get_model, xrv predict and xrv evaluate load."""

from __future__ import annotations

import csv
import io
import json
import math
from contextlib import redirect_stdout

import numpy as np
import pandas as pd
import pytest
import torch

import xrayvision as xrv
from xrayvision.cli import main
from xrayvision.train import Trainer, config_from_dict

from .conftest import training_config

SMALL_DENSENET = {"architecture": "densenet121", "options": {"growth_rate": 4, "block_config": [1, 1], "num_init_features": 8}}


@pytest.fixture(scope="module")
def densenet_run(nih_release, tmp_path_factory):
    out = tmp_path_factory.mktemp("densenet") / "run"
    config = config_from_dict(training_config(nih_release, out, model=SMALL_DENSENET, optim={"epochs": 1}))
    return Trainer(config).fit()


def cli(*argv: str) -> tuple[int, str]:
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        status = main(list(argv))
    return status, buffer.getvalue()


def test_get_model_rebuilds_the_trained_network(densenet_run, nih_release):
    model = xrv.models.get_model(densenet_run.last_weights)
    assert isinstance(model, xrv.models.DenseNet)
    assert model.targets == ["Cardiomegaly", "Effusion", "Infiltration"] and model.input_resolution == 24
    assert model.build_options["growth_rate"] == 4 and model.classifier.out_features == 3
    same = xrv.models.DenseNet(weights=str(densenet_run.last_weights.with_suffix(".json")))
    x = torch.rand(2, 1, 24, 24) * 2048 - 1024
    with torch.no_grad():
        assert torch.equal(model(x), same(x))


def test_xrv_predict_reads_the_weight_set(densenet_run, nih_release):
    images = sorted(nih_release["imgpath"].glob("*.png"))[:3]
    status, out = cli("predict", *map(str, images), "--weights", str(densenet_run.last_weights), "--format", "csv",
                      "--no-progress")  # fmt: skip
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 3 and set(rows[0]) >= {"Cardiomegaly", "Effusion", "Infiltration"}
    from xrayvision.models._preprocess import WeightsTransform

    model = xrv.models.get_model(densenet_run.last_weights)
    model.apply_sigmoid = True
    with torch.no_grad():
        expected = model(WeightsTransform(24)(images[0]))[0]
    assert float(rows[0]["Effusion"]) == pytest.approx(float(expected[1]), abs=1e-5)


def test_xrv_evaluate_matches_scikit_learn_on_the_runs_test_split(densenet_run, tmp_path):
    from sklearn.metrics import roc_auc_score

    out = tmp_path / "evaluation"
    status, printed = cli("evaluate", "--weights", str(densenet_run.last_weights), "--config",
                          str(densenet_run.out / "config.toml"), "--split", "all", "--bootstrap", "50",
                          "--workers", "0", "--quiet", "--out", str(out))  # fmt: skip
    assert status == 0 and "| model | dataset | mean AUC |" in printed
    table = pd.read_csv(out / "auc.csv")
    assert set(table["pathology"]) == {"Cardiomegaly", "Effusion", "Infiltration"}
    assert (out / "auc.md").is_file() and list(out.glob("roc-*.png"))
    # oracle: the same outputs scored directly
    config = xrv.train.load_config(densenet_run.out / "config.toml")
    data = xrv.train.build_training_data(config.data, config.run.seed)
    merged = xrv.datasets.MergeDataset([d for d in (data.train, data.valid, data.test) if d is not None])
    model = xrv.train.evaluation.scoring_mode(xrv.models.get_model(densenet_run.last_weights))
    outputs, labels = xrv.train.predict_dataset(model, merged)
    for _, row in table.iterrows():
        j = list(data.pathologies).index(row["pathology"])
        known = ~np.isnan(labels[:, j])
        if 0 < labels[known, j].sum() < known.sum():
            assert row["auc"] == pytest.approx(roc_auc_score(labels[known, j], outputs[known, j]))
            assert row["low"] <= row["auc"] <= row["high"]
        else:
            assert math.isnan(row["auc"])


def test_xrv_calibrate_writes_thresholds_the_model_then_uses(densenet_run, tmp_path):
    base = tmp_path / "calibrated"
    status, printed = cli("calibrate", "--weights", str(densenet_run.last_weights), "--config",
                          str(densenet_run.out / "config.toml"), "--split", "all", "--workers", "0", "--quiet",
                          "--out", str(base))  # fmt: skip
    assert status == 0 and "op_thresh" in printed
    record = json.loads(base.with_suffix(".json").read_text())
    assert len(record["op_threshs"]) == 3 and "ppv80_thres" in record
    model = xrv.models.get_model(base.with_suffix(".safetensors"))
    expected = [math.nan if t is None else t for t in record["op_threshs"]]
    np.testing.assert_allclose(model.op_threshs.numpy(), expected, rtol=1e-6)
