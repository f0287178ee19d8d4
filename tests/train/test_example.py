"""examples/transfer_learning.py (the paper's §4) runs end to end on generated data."""

from __future__ import annotations

import importlib.util
import math

import torch

import xrayvision as xrv

from .conftest import REPO_ROOT


def test_transfer_learning_example_runs(nih_release, tmp_path, capsys):
    # A stand-in for the published weights (offline): a DenseNet-121 saved as a weight set.
    torch.manual_seed(0)
    pretrained = xrv.models.DenseNet()
    pretrained.input_resolution = 32
    weights = xrv.models.save_model(pretrained, tmp_path / "pretrained")
    spec = importlib.util.spec_from_file_location("transfer_learning", REPO_ROOT / "examples" / "transfer_learning.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    auc = example.main([
        "--imgpath", str(nih_release["imgpath"]), "--csvpath", str(nih_release["csvpath"]), "--dataset", "nih",
        "--pathology", "Infiltration", "--weights", str(weights), "--epochs", "2",
        "--option", f"bbox_list_path={nih_release['bbox_list_path']}",
    ])  # fmt: skip
    printed = capsys.readouterr().out
    assert "epoch 2: training loss" in printed and "held-out Infiltration AUC" in printed
    assert math.isnan(auc) or 0 <= auc <= 1
