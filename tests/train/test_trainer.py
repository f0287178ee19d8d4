"""The training loop end to end on generated NIH data: files, exact resume, failures."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

import xrayvision as xrv
from xrayvision.errors import ConfigError, TrainingError
from xrayvision.train import Trainer, config_from_dict

from .conftest import REPO_ROOT, training_config


def tensors(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


def assert_same_weights(a: Path, b: Path) -> None:
    first, second = tensors(a), tensors(b)
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), f"{key} differs"


@pytest.fixture(scope="module")
def reference_run(nih_release, tmp_path_factory):
    """An uninterrupted run that saves its state every 2 steps."""
    out = tmp_path_factory.mktemp("reference") / "run"
    config = config_from_dict(training_config(nih_release, out, run={"checkpoint_every": 2}))
    return Trainer(config).fit()


def test_a_run_writes_its_folder(reference_run, nih_release):
    out = reference_run.out
    for name in ("config.toml", "splits.csv", "metrics.jsonl", "curves.png", "state.pt",
                 "best.safetensors", "best.json", "last.safetensors", "last.json"):  # fmt: skip
        assert (out / name).is_file(), name
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert {r["kind"] for r in records} == {"train", "valid"}
    steps = [r["step"] for r in records if r["kind"] == "train"]
    assert steps == sorted(steps) and steps[-1] == reference_run.steps
    assert all(0 <= r["data_wait"] <= 1 and r["images_per_s"] > 0 for r in records if r["kind"] == "train")
    splits = pd.read_csv(out / "splits.csv")
    assert (splits.groupby("patientid")["split"].nunique() == 1).all()
    assert xrv.train.load_config(out / "config.toml").run.out == str(out)


def test_the_weight_set_of_any_module_holds_its_state_and_record(reference_run, nih_release):
    from tests.train._tiny import tiny_cnn

    record = json.loads((reference_run.out / "last.json").read_text())
    assert record["labels"] == ["Cardiomegaly", "Effusion", "Infiltration"]
    assert record["recipe"]["factory"] == "tests.train._tiny:tiny_cnn" and record["input_resolution"] == 24
    with pytest.raises(xrv.errors.WeightsFormatError, match="tests.train._tiny:tiny_cnn.*load_weight_set"):
        xrv.models.get_model(reference_run.last_weights)  # code named in a JSON file is never imported
    model = xrv.models.load_weight_set(reference_run.last_weights, tiny_cnn(3, dropout=0.2))
    assert model.targets == record["labels"] and model.input_resolution == 24 and not model.training
    for key, value in tensors(reference_run.last_weights).items():
        assert torch.equal(model.state_dict()[key], value)


def test_resume_after_an_interruption_is_exact(reference_run, nih_release, tmp_path, monkeypatch):
    out = tmp_path / "run"
    config = config_from_dict(training_config(nih_release, out, run={"checkpoint_every": 2}))
    original = Trainer._step
    calls = {"n": 0}

    def interrupted(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 6:  # killed during step 6: the state of step 4 is on disk
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        Trainer(config).fit()
    monkeypatch.setattr(Trainer, "_step", original)
    assert torch.load(out / "state.pt", weights_only=True)["step"] == 4
    result = Trainer(config).fit(resume=True)
    assert result.steps == reference_run.steps
    assert_same_weights(result.last_weights, reference_run.last_weights)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    keys = [(r["kind"], r["step"]) for r in records]
    assert len(keys) == len(set(keys))  # no step logged twice


def test_kill_9_then_resume_is_exact(reference_run, nih_release, tmp_path):
    out = tmp_path / "run"
    config = training_config(nih_release, out, run={"checkpoint_every": 1})
    path = tmp_path / "run.toml"
    path.write_text(xrv.train.config.to_toml(config_from_dict(config)))
    # Same thread settings as this process: floating-point sums depend on the thread count.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "xrayvision", "train", str(path), "--quiet"]
    process = subprocess.Popen(command, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if (out / "state.pt").exists():
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert torch.load(out / "state.pt", weights_only=True)["step"] < reference_run.steps
    resumed = subprocess.run([*command, "--resume"], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_weights(out / "last.safetensors", reference_run.last_weights)
    assert not list(out.glob(".*tmp*"))  # a temporary file cut by the kill is replaced, never read


def test_a_nan_loss_stops_with_the_step_and_the_samples(nih_release, tmp_path):
    config = config_from_dict(training_config(nih_release, tmp_path / "run",
                                              model={"factory": "tests.train._tiny:nan_after", "options": {"after": 3}}))  # fmt: skip
    with pytest.raises(TrainingError, match=r"the loss is nan at step 3 \(epoch 0\); the batch held training samples \[\d"):
        Trainer(config).fit()


def test_a_full_disk_keeps_the_previous_state(nih_release, tmp_path, monkeypatch):
    from xrayvision.train import state

    config = config_from_dict(training_config(nih_release, tmp_path / "run", run={"checkpoint_every": 2}))
    saves = {"n": 0}
    original = torch.save

    def filling(obj, handle, *args, **kwargs):
        saves["n"] += 1
        if saves["n"] == 2:
            handle.write(b"partial")
            raise OSError(28, "No space left on device")
        return original(obj, handle, *args, **kwargs)

    monkeypatch.setattr(state.torch, "save", filling)
    with pytest.raises(TrainingError, match=r"No space left on device; the previous state .* is intact"):
        Trainer(config).fit()
    assert torch.load(tmp_path / "run" / "state.pt", weights_only=True)["step"] == 2
    assert not list((tmp_path / "run").glob(".*tmp"))


def test_resume_refuses_other_settings_and_an_existing_run(reference_run, nih_release):
    changed = config_from_dict(training_config(nih_release, reference_run.out, optim={"weight_decay": 0.05}))
    with pytest.raises(TrainingError, match=r"other settings \(optim.weight_decay: 1e-05 in the run, 0.05 now\)"):
        Trainer(changed).fit(resume=True)
    same = config_from_dict(training_config(nih_release, reference_run.out))
    with pytest.raises(TrainingError, match="already holds a run"):
        Trainer(same).fit()


def test_resume_refuses_another_model(nih_release, tmp_path):
    out = tmp_path / "run"
    Trainer(config_from_dict(training_config(nih_release, out, optim={"epochs": 1}))).fit()
    state = torch.load(out / "state.pt", weights_only=True)
    state["model"] = {k + ".x": v for k, v in state["model"].items()}
    torch.save(state, out / "state.pt")
    with pytest.raises(TrainingError, match="the saved model does not fit"):
        Trainer(config_from_dict(training_config(nih_release, out, optim={"epochs": 1}))).fit(resume=True)


def test_fit_leaves_the_callers_random_state_alone(nih_release, tmp_path):
    torch.manual_seed(123)
    np.random.seed(4)
    random.seed(5)
    before = (torch.random.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    Trainer(config_from_dict(training_config(nih_release, tmp_path / "run", optim={"epochs": 1}))).fit()
    assert torch.equal(before[0], torch.random.get_rng_state())
    assert np.array_equal(before[1], np.random.get_state()[1]) and before[2] == random.getstate()


def test_bad_data_settings_say_what_to_do(nih_release, tmp_path):
    with pytest.raises(ConfigError, match="'Fracture' is labelled by none of the datasets"):
        Trainer(config_from_dict(training_config(nih_release, tmp_path / "a", data={"pathologies": ["Cardiomegaly", "Fracture"],
                                                                                      "resolution": 24})))  # fmt: skip
    config = training_config(nih_release, tmp_path / "b")
    config["data"]["datasets"][0]["imgpath"] = str(tmp_path / "absent")
    with pytest.raises(ConfigError, match="imgpath .*absent.* is not a folder"):
        Trainer(config_from_dict(config))
    config["data"]["datasets"][0].update(imgpath=str(nih_release["imgpath"]), name="nihh")
    with pytest.raises(ConfigError, match="unknown dataset 'nihh'"):
        Trainer(config_from_dict(config))


def test_a_dataset_without_imgpath_says_it_is_required(nih_release, tmp_path):
    config = training_config(nih_release, tmp_path / "run")
    del config["data"]["datasets"][0]["imgpath"]
    with pytest.raises(ConfigError, match=r"^data.datasets\[0\] \(nih\): imgpath is required: NIH_Dataset reads its images"):
        Trainer(config_from_dict(config))


def test_default_pathologies_that_no_dataset_labels_are_all_named(nih_release, tmp_path):
    config = training_config(nih_release, tmp_path / "run")
    del config["data"]["pathologies"]
    with pytest.raises(ConfigError, match=r"data.pathologies is not set, so the 18 default pathologies are used, and none "
                                          r"of the datasets .* labels 'Lung Lesion', 'Fracture', 'Lung Opacity', "
                                          r"'Enlarged Cardiomediastinum'; set data.pathologies to the labels to learn"):  # fmt: skip
        Trainer(config_from_dict(config))
