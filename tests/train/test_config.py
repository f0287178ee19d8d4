"""The TOML configuration: typed, strict, with overrides."""

from __future__ import annotations

import pytest

from xrayvision.errors import ConfigError
from xrayvision.train import config_from_dict, load_config
from xrayvision.train.config import to_toml

BASE = {"data": {"datasets": [{"name": "nih", "imgpath": "NIH"}]}}


def test_defaults_are_the_reference_recipe():
    config = config_from_dict(BASE)
    assert (config.optim.optimizer, config.optim.lr, config.optim.weight_decay, config.optim.amsgrad) == ("adam", 1e-3, 1e-5, True)
    assert (config.data.degrees, config.data.translate, config.data.scale) == (45.0, 0.15, [0.85, 1.15])
    assert config.data.split == [0.64, 0.16, 0.20] and config.optim.task_weights


def test_unknown_keys_name_the_closest_valid_ones():
    with pytest.raises(ConfigError, match=r"unknown key 'lrr' in \[optim\]; did you mean 'lr'"):
        config_from_dict({**BASE, "optim": {"lrr": 0.1}})
    with pytest.raises(ConfigError, match="unknown key 'imgpth'"):
        config_from_dict({"data": {"datasets": [{"name": "nih", "imgpth": "x"}]}})


def test_wrong_types_name_the_key_and_the_value():
    with pytest.raises(ConfigError, match=r"optim.batch_size: expected an integer, got 'big'"):
        config_from_dict({**BASE, "optim": {"batch_size": "big"}})
    with pytest.raises(ConfigError, match=r"run.amp: expected 'auto' or 'off' or 'bf16' or 'fp16'"):
        config_from_dict({**BASE, "run": {"amp": "yes"}})
    with pytest.raises(ConfigError, match="needs the key 'name'"):
        config_from_dict({"data": {"datasets": [{"imgpath": "x"}]}})


def test_values_are_checked():
    with pytest.raises(ConfigError, match="multiple of optim.accumulate"):
        config_from_dict({**BASE, "optim": {"batch_size": 10, "accumulate": 3}})
    with pytest.raises(ConfigError, match="data.split"):
        config_from_dict({**BASE, "data": {**BASE["data"], "split": [0.5, 0.2]}})
    with pytest.raises(ConfigError, match="data.datasets is empty"):
        config_from_dict({})


def test_overrides_parse_toml_values_and_reach_list_items():
    config = config_from_dict(BASE, ["optim.lr=3e-4", "data.datasets.0.views=['PA']", "run.out=runs/a b",
                                     "data.datasets.0.options.seed=2"])  # fmt: skip
    assert config.optim.lr == 3e-4 and config.data.datasets[0].views == ["PA"]
    assert config.run.out == "runs/a b" and config.data.datasets[0].options == {"seed": 2}
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        config_from_dict(BASE, ["optim.lr"])
    with pytest.raises(ConfigError, match="has no item 3"):
        config_from_dict(BASE, ["data.datasets.3.name=pc"])


def test_saved_toml_reads_back_to_the_same_config(tmp_path):
    config = config_from_dict({**BASE, "model": {"options": {"growth_rate": 4, "block_config": [1, 2]}}},
                              ["data.pathologies=['Effusion', \"Lung Opacity\"]"])  # fmt: skip
    path = tmp_path / "config.toml"
    path.write_text(to_toml(config))
    assert load_config(path) == config


def test_an_unknown_section_lists_the_sections():
    with pytest.raises(ConfigError, match="unknown key 'optimizer' in the top level .*did you mean 'optim'"):
        config_from_dict({**BASE, "optimizer": {}})


def test_file_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[optim\nlr = 1")
    with pytest.raises(ConfigError, match=f"{bad}: not valid TOML"):
        load_config(bad)


@pytest.mark.parametrize(("override", "message"), [
    ("optim.lr=nan", r"optim.lr must be a finite number above 0, got nan"),
    ("optim.lr=inf", r"optim.lr must be a finite number above 0, got inf"),
    ("optim.lr=0", r"optim.lr must be a finite number above 0, got 0"),
    ("optim.grad_clip=inf", r"optim.grad_clip must be a finite number, got inf"),
    ("run.out=''", r"run.out is empty: set it to the folder"),
    ("data.split=[0, 0.5, 0.5]", r"gives no patient to training \(its first fraction, train, is 0\)"),
    ("data.pathologies=[]", r"data.pathologies is empty: list the labels to learn, or leave it out"),
])  # fmt: skip
def test_values_that_cannot_train_say_why(override, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(BASE, [override])


def test_messages_read_well():
    with pytest.raises(ConfigError) as caught:
        config_from_dict({**BASE, "foo": 1})
    assert str(caught.value) == "unknown key 'foo' in the top level (sections: run, data, model, optim, sampling, guidance)"
    with pytest.raises(ConfigError) as caught:
        config_from_dict({**BASE, "optim": {"zzz": 1}})
    assert str(caught.value).startswith("unknown key 'zzz' in [optim]; valid keys: optimizer, lr,")
    with pytest.raises(ConfigError, match=r"data.pathologies: expected a list of strings \(or left out\), got 3$"):
        config_from_dict(BASE, ["data.pathologies=3"])


def test_a_config_path_that_is_a_folder_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=f"config file {tmp_path} is a folder; give the .toml file"):
        load_config(tmp_path)
