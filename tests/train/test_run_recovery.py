"""When a run stops (full disk, NaN loss, Ctrl-C), the message says what happened and how to go on,
and the run folder holds no partial file."""

from __future__ import annotations

import json
import math

import pytest

from xrayvision.errors import ConfigError, TrainingError
from xrayvision.train import Trainer, config_from_dict
from xrayvision.train.config import to_toml
from xrayvision.train.history import MetricsLog, plot_curves

from ._full_disk import fill_disk
from .conftest import training_config


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize(("name", "advice"), [
    ("best", r"no training state was saved yet .*: start the run again"),  # best comes before the epoch's state
    ("last", r"the last saved state is step 3 .*config.toml --resume"),
])  # fmt: skip
def test_a_full_disk_while_writing_a_weight_set_says_how_to_go_on(nih_release, tmp_path, monkeypatch, name, advice):
    out = tmp_path / "run"
    config = config_from_dict(training_config(nih_release, out, optim={"epochs": 1}))
    fill_disk(monkeypatch, lambda path: f".{name}.safetensors." in path)
    with pytest.raises(TrainingError, match=rf"could not write .*{name}.safetensors: .*No space left on device\. "
                                            rf"Free some space.*; {advice}"):  # fmt: skip
        Trainer(config).fit()
    assert leftovers(out) == []


def test_torch_reports_a_full_disk_as_a_runtime_error(nih_release, tmp_path, monkeypatch):
    from xrayvision.train import state

    def failing(obj, handle, *args, **kwargs):
        handle.write(b"partial")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 904832 vs 904720")

    monkeypatch.setattr(state.torch, "save", failing)
    out = tmp_path / "run"
    with pytest.raises(TrainingError, match=r"could not write the training state .*state.pt: the disk is probably full"):
        Trainer(config_from_dict(training_config(nih_release, out, optim={"epochs": 1}))).fit()
    assert leftovers(out) == []


def test_a_full_disk_while_logging_says_how_to_resume(nih_release, tmp_path, monkeypatch):
    def full(self, record):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(MetricsLog, "append", full)
    with pytest.raises(TrainingError, match=r"could not write .*metrics.jsonl: .*no training state was saved yet"):
        Trainer(config_from_dict(training_config(nih_release, tmp_path / "run", optim={"epochs": 1}))).fit()


def test_a_failed_append_leaves_no_half_line(tmp_path, monkeypatch):
    from xrayvision.train import history

    log = MetricsLog(tmp_path / "metrics.jsonl")
    log.append({"kind": "train", "step": 1})
    before = log.path.read_bytes()

    class Full:
        def __init__(self, path, mode, buffering):
            self.handle = open(path, mode, buffering=buffering)  # noqa: SIM115 - closed in __exit__

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def seek(self, *args):
            return self.handle.seek(*args)

        def truncate(self, size):
            return self.handle.truncate(size)

        def write(self, data):
            self.handle.write(bytes(data[:5]))
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(history, "open", Full, raising=False)
    with pytest.raises(OSError, match="No space"):
        log.append({"kind": "train", "step": 2})
    assert log.path.read_bytes() == before


def test_curves_on_a_full_disk_leave_no_temporary_file(tmp_path, monkeypatch):
    fill_disk(monkeypatch, lambda path: "curves" in path)
    with pytest.raises(OSError, match="No space"):
        plot_curves([{"kind": "train", "step": 1, "loss": 0.5}], tmp_path / "curves.png")
    assert list(tmp_path.iterdir()) == []


def test_the_nan_advice_names_a_state_only_when_there_is_one(nih_release, tmp_path):
    nan = {"factory": "tests.train._tiny:nan_after", "options": {"after": 3}}
    with pytest.raises(TrainingError) as caught:
        Trainer(config_from_dict(training_config(nih_release, tmp_path / "a", model=nan))).fit()
    assert "state.pt" not in str(caught.value) and "no training state was saved yet" in str(caught.value)
    with pytest.raises(TrainingError, match=r"the last saved state is step 2 .*state.pt\); continue with xrv train "
                                            r".*config.toml --resume --set optim.grad_clip=1.0"):  # fmt: skip
        Trainer(config_from_dict(training_config(nih_release, tmp_path / "b", model=nan, run={"checkpoint_every": 1}))).fit()


def test_resume_may_change_the_learning_rate_and_clipping_and_logs_it(nih_release, tmp_path, monkeypatch):
    out = tmp_path / "run"
    config = config_from_dict(training_config(nih_release, out, run={"checkpoint_every": 2}))
    original, calls = Trainer._step, {"n": 0}

    def interrupted(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        Trainer(config).fit()
    monkeypatch.setattr(Trainer, "_step", original)
    changed = config_from_dict(training_config(nih_release, out, run={"checkpoint_every": 2}, optim={"lr": 1e-4, "grad_clip": 1.0}))
    result = Trainer(changed).fit(resume=True)
    assert result.steps == 6
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    resumed = [r for r in records if r["kind"] == "resume"]
    assert resumed == [{"kind": "resume", "step": 3, "changed": {"optim.grad_clip": {"from": 0.0, "to": 1.0},
                                                                 "optim.lr": {"from": 0.001, "to": 0.0001}}}]  # fmt: skip
    assert "lr = 0.0001" in (out / "config.toml").read_text()
    train_lrs = [r["lr"] for r in records if r["kind"] == "train" and r["step"] > 3]
    assert train_lrs and all(lr <= 1e-4 for lr in train_lrs)


def test_ctrl_c_says_the_last_saved_step_and_how_to_resume(nih_release, tmp_path, monkeypatch, capsys):
    from xrayvision.cli import main

    out = tmp_path / "run"
    path = tmp_path / "run.toml"
    path.write_text(to_toml(config_from_dict(training_config(nih_release, out, run={"checkpoint_every": 2}))))
    original, calls = Trainer._step, {"n": 0}

    def interrupted(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "_step", interrupted)
    assert main(["train", str(path), "--no-progress"]) == 130
    lines = capsys.readouterr().err.strip().splitlines()
    expected = (f"xrv train: interrupted; the last saved state is step 4 ({out / 'state.pt'}); continue with "
                f"xrv train {out / 'config.toml'} --resume")  # fmt: skip
    assert lines == [expected]


def test_best_weights_exist_when_no_validation_gives_an_auc(tmp_path, capsys):
    from xrayvision.cli import main

    config = {
        "run": {"out": str(tmp_path / "run"), "workers": 0, "progress": False},
        "data": {"datasets": [{"name": "phantom", "options": {"n": 2, "size": 32}}],
                 "pathologies": ["Cardiomegaly", "Effusion"], "resolution": 24, "split": [0.5, 0.5, 0.0]},
        "model": {"factory": "tests.train._tiny:tiny_cnn", "options": {"num_outputs": 2}},
        "optim": {"epochs": 1, "batch_size": 1},
    }  # fmt: skip
    trainer = Trainer(config_from_dict(config))
    assert trainer.data.valid is not None and len(trainer.data.valid) == 1  # one image: no AUC can be computed
    result = trainer.fit()
    assert math.isnan(result.best_metric) and result.best_step == result.steps
    assert result.best_weights.is_file() and result.best_weights.with_suffix(".json").is_file()
    path = tmp_path / "run.toml"
    path.write_text(to_toml(config_from_dict({**config, "run": {**config["run"], "out": str(tmp_path / "cli")}})))
    assert main(["train", str(path)]) == 0
    printed = capsys.readouterr().out
    assert "trained 1 step;" in printed and "no validation AUC" in printed and "the last weights" in printed


def test_run_out_that_is_a_file_is_refused(nih_release, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("")
    with pytest.raises(ConfigError, match=r"run.out .*afile' is a file, not a folder"):
        Trainer(config_from_dict(training_config(nih_release, afile)))


def test_a_resolution_too_small_for_the_network_names_the_smallest(nih_release, tmp_path):
    model = {"architecture": "densenet121", "options": {"block_config": [1, 1, 1], "growth_rate": 4, "num_init_features": 8}}
    config = config_from_dict(training_config(nih_release, tmp_path / "run", model=model, data={"resolution": 8}))
    with pytest.raises(ConfigError, match=r"data.resolution = 8 is too small for the model \(DenseNet\).*Use data.resolution = \d+ or more"):
        Trainer(config).fit()
    assert not (tmp_path / "run" / "state.pt").exists()
