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
from xrayvision.train.calibration import calibrate

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


class _Scores(torch.nn.Module):
    """A 'classifier' whose output k is a fixed per-image score (the image's mean pixel)."""

    def __init__(self, targets, flip=()):
        super().__init__()
        self.targets, self.flip = list(targets), set(flip)
        self.op_threshs, self.apply_sigmoid = None, False

    def forward(self, x):
        score = torch.sigmoid(x.mean((1, 2, 3)) / 64)
        columns = [1 - score if name in self.flip else score for name in self.targets]
        return torch.stack(columns, 1)


def _toy(labels: dict[str, list[float]]):
    """Image i is uniform at -500 + 100 i, so _Scores ranks the images in order."""
    n = len(next(iter(labels.values())))
    return _ArrayDataset(np.stack([np.full((1, 8, 8), -500.0 + 100 * i, np.float32) for i in range(n)]), labels)


class _ArrayDataset(xrv.datasets.Dataset):
    def __init__(self, images, labels):
        super().__init__()
        self.images = images
        self.csv = pd.DataFrame({"view": ["PA"] * len(images)})
        self._finish_csv()
        self._set_labels(np.array(list(labels.values()), np.float32).T, list(labels))

    def __getitem__(self, index):
        return {"idx": index, "img": self.images[index], "lab": self.labels[index]}


def test_evaluate_matches_labels_by_name_on_merged_datasets_and_says_what_is_missing():
    from sklearn.metrics import roc_auc_score

    a = _toy({"Effusion": [0, 0, 1, 1, 1], "Mass": [0, 1, 0, 1, 0]})
    b = _toy({"Mass": [1, 0, 1, 0]})  # no Effusion label at all
    model = _Scores(["Mass", "", "Effusion", "Nodule"])
    unknown_effusion = _toy({"Mass": [1, 0, 1, 0]})
    xrv.datasets.relabel_dataset(["Effusion", "Mass"], unknown_effusion, silent=True)
    merged = xrv.datasets.MergeDataset([a, unknown_effusion])  # merged datasets cannot be relabelled
    result = xrv.train.evaluate_model(model, {"merged": merged, "b": b}, bootstrap=0)
    table = result.table.set_index(["dataset", "pathology"])
    assert list(table.loc["merged"].index) == ["Mass", "Effusion", "Nodule"]  # the untrained slot is left out
    scores = torch.sigmoid(torch.tensor([-500.0 + 100 * i for i in [0, 1, 2, 3, 4, 0, 1, 2, 3]]) / 64).numpy()
    mass = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0])
    assert table.loc[("merged", "Mass"), "auc"] == pytest.approx(roc_auc_score(mass, scores))
    assert table.loc[("merged", "Effusion"), "auc"] == pytest.approx(roc_auc_score([0, 0, 1, 1, 1], scores[:5]))
    assert math.isnan(table.loc[("b", "Effusion"), "auc"])
    assert "b labels none of Effusion, Nodule" in result.notes
    assert "merged labels none of Nodule" in result.notes
    assert result.wide().loc[0, "Mass"] == f"{table.loc[('merged', 'Mass'), 'auc']:.3f}"  # no interval, no "(nan-nan)"


def test_calibration_leaves_what_the_data_cannot_calibrate_at_the_probability():
    data = _toy({"Effusion": [0, 0, 1, 1, 1, 0], "Mass": [1, 1, 1, 1, 1, 1], "Nodule": [0, 0, 0, 1, 1, 1]})
    model = _Scores(["Effusion", "Mass", "Nodule", ""], flip={"Nodule"})  # Nodule: perfectly wrong
    result = calibrate(model, data)
    assert result.op_threshs[0] == pytest.approx(float(torch.sigmoid(torch.tensor(-300.0 / 64))), rel=1e-6)
    assert result.op_threshs[1] == 0.5 and result.op_threshs[2] == 0.5 and math.isnan(result.op_threshs[3])
    assert result.uncalibrated == {"Mass": "6 positive and 0 negative image(s)",
                                   "Nodule": "no threshold beats chance (AUC 0.000)"}  # fmt: skip
    assert result.calibrated == ["Effusion"]
    # 0.5 is op_norm's identity: the calibrated output of those pathologies is the probability
    result.apply(model)
    p = torch.tensor([[0.1, 0.3, 0.9, 0.5]])
    assert torch.allclose(xrv.models.op_norm(p, model.op_threshs)[0, 1:3], p[0, 1:3])


@pytest.fixture(scope="module")
def factory_run(nih_release, tmp_path_factory):
    out = tmp_path_factory.mktemp("factory") / "run"
    return Trainer(config_from_dict(training_config(nih_release, out, optim={"epochs": 1}))).fit()


def test_a_factory_weight_set_is_evaluated_with_the_config_of_its_run(factory_run, tmp_path, capsys):
    weights, config = str(factory_run.last_weights), str(factory_run.out / "config.toml")
    common = ["--workers", "0", "--quiet", "--bootstrap", "0", "--out", str(tmp_path / "e")]
    assert main(["evaluate", "--weights", weights, "--config", config, *common]) == 0
    table = pd.read_csv(tmp_path / "e" / "auc.csv")
    assert set(table["pathology"]) == {"Cardiomegaly", "Effusion", "Infiltration"}
    capsys.readouterr()
    assert main(["evaluate", "--weights", weights, "--dataset", "nih", "--imgpath", "x", *common]) == 1
    assert "pass --config RUN/config.toml, the configuration of the run that trained it" in capsys.readouterr().err
    assert main(["calibrate", "--weights", weights, "--config", config, "--workers", "0", "--out", str(tmp_path / "c")]) == 1
    assert "only the library's classifiers apply" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--bootstrap", "-1"], "--bootstrap: must be at least 0, got -1"),
        (["--batch-size", "0"], "--batch-size: must be at least 1, got 0"),
        (["--workers", "two"], "--workers: expected a whole number, got 'two'"),
        (["--split", "valid", "--dataset", "nih", "--imgpath", "x"], "--split chooses a split of a training run"),
    ],
)
def test_evaluate_refuses_bad_options_before_any_work(tmp_path, capsys, options, message):
    with pytest.raises(SystemExit) as stop:
        main(["evaluate", "--weights", "all", *options, "--out", str(tmp_path / "e")])
    assert stop.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "e").exists()


def test_calibrate_refuses_data_that_calibrate_nothing(densenet_run, nih_release, tmp_path, capsys):
    status = main(["calibrate", "--weights", str(densenet_run.last_weights), "--dataset", "phantom",
                   "--option", "n=12", "--option", "size=24", "--option", "prevalence=1.0", "--workers", "0",
                   "--quiet", "--out", str(tmp_path / "c")])  # fmt: skip
    assert status == 1
    assert "calibrate none of the model's outputs" in capsys.readouterr().err
    assert not list(tmp_path.glob("c.*"))
