"""The TorchScript age model runs only once its exact content is pinned or trusted."""

from __future__ import annotations

import dataclasses
import re
import warnings

import pytest
import torch

import xrayvision as xrv
from xrayvision.baseline_models import riken
from xrayvision.cli import main
from xrayvision.errors import UnsafeWeightsError, WeightsFormatError
from xrayvision.hub import sha256sum, trust

from .conftest import cache_path


class _Age(torch.nn.Module):
    def __init__(self, offset: float):
        super().__init__()
        self.offset = offset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean((1, 2, 3))[:, None] + self.offset


def _script(path, offset: float = 40.0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch 2.13 deprecates writing TorchScript
        torch.jit.script(_Age(offset)).save(str(path))
    return path


def _x() -> torch.Tensor:
    x = torch.full((1, 1, 320, 320), -1024.0)
    x[..., :160, :] = 1024.0
    return x


def test_refused_until_trusted_then_loads_until_changed():
    path = _script(cache_path("riken"))
    with pytest.raises(UnsafeWeightsError) as refused:
        riken.AgeModel()
    message = str(refused.value)
    assert "TorchScript" in message and sha256sum(path) in message
    assert f"xrv weights import {path} --name riken --trust" in message and "AgeModel(trust_torchscript=True)" in message
    model = riken.AgeModel(trust_torchscript=True)
    assert trust.is_trusted(sha256sum(path)) and not model.training and model.targets == ["Age"]
    with torch.no_grad():
        # ImageNet-normalised halves of 0 and 1: the mean over channels and pixels, plus 40.
        mean = torch.tensor([0.485, 0.456, 0.406])
        std = torch.tensor([0.229, 0.224, 0.225])
        expected = 40 + float((((0 - mean) / std + (1 - mean) / std) / 2).mean())
        torch.testing.assert_close(model(_x()), torch.tensor([[expected]]))
    assert riken.AgeModel().weights == "riken"  # trusted: no argument needed any more
    _script(path, offset=41.0)  # the same name, other content
    with pytest.raises(UnsafeWeightsError, match="not pinned"):
        riken.AgeModel(weights=path)


def test_a_pinned_digest_needs_no_trust():
    path = _script(cache_path("riken"))
    pinned = dataclasses.replace(xrv.models.get_weights("riken"), sha256=sha256sum(path))
    model = riken.AgeModel(weights=pinned)
    assert model.weights == "riken" and trust.trusted_digests() == {}


def test_not_torchscript_is_a_format_error(tmp_path):
    torch.save({"w": torch.zeros(1)}, tmp_path / "state.pt")
    with pytest.raises(WeightsFormatError, match="not a TorchScript archive"):
        riken.AgeModel(weights=tmp_path / "state.pt", trust_torchscript=True)
    with pytest.raises(WeightsFormatError, match="no untrained form"):
        riken.AgeModel(weights=False)


def test_cli_import_with_trust(tmp_path, capsys):
    source = _script(tmp_path / xrv.models.get_weights("riken").filename)
    assert main(["weights", "import", str(source), "--trust"]) == 0
    assert "trusted" in capsys.readouterr().err
    assert riken.AgeModel().weights == "riken"
    state = tmp_path / xrv.models.get_weights("mira").filename
    torch.save({"state_dict": {}}, state)
    with pytest.raises(SystemExit) as exit_status:  # a usage error: argparse's own path
        main(["weights", "import", str(state), "--trust"])
    assert exit_status.value.code == 2 and "--trust is for TorchScript files" in capsys.readouterr().err


def test_the_refusal_names_a_command_that_works(tmp_path, capsys):
    path = _script(tmp_path / "my-age-model.pt")  # not the published file name
    with pytest.raises(UnsafeWeightsError) as refused:
        riken.AgeModel(weights=path)
    command = re.search(r"`xrv (weights import .+?)`", str(refused.value)).group(1).split()
    assert main(command) == 0
    assert riken.AgeModel(weights=path).targets == ["Age"]


def test_an_import_refusal_names_the_users_file(tmp_path, capsys):
    state = tmp_path / "dn.pt"
    torch.save({"w": torch.zeros(1)}, state)
    assert main(["weights", "import", str(state), "--name", "riken"]) == 1
    err = capsys.readouterr().err
    assert f"{state} is not a TorchScript archive" in err and ".part" not in err


def test_trust_record_format(tmp_path):
    path = _script(tmp_path / "a.pt")
    digest = trust.trust_file(path, cache_dir=tmp_path / "c")
    assert trust.trust_file(path, cache_dir=tmp_path / "c") == digest  # idempotent
    _script(tmp_path / "b.pt", offset=3.0)
    other = trust.trust_file(tmp_path / "b.pt", cache_dir=tmp_path / "c")
    lines = (tmp_path / "c" / trust.TRUST_FILE).read_text().splitlines()
    assert lines == [f"{digest}  a.pt", f"{other}  b.pt"]  # sha256sum format
    assert not any(p.name.endswith(".tmp") for p in (tmp_path / "c").iterdir())
