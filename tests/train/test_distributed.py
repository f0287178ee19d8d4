"""``torchrun --nproc_per_node=2`` on the CPU (gloo) matches one process with the same global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

import xrayvision as xrv
from xrayvision.train import config_from_dict

from .conftest import REPO_ROOT, training_config

#: Largest weight difference accepted between the two runs after 6 Adam steps (lr 1e-3).
#: Only the order of floating-point sums differs (gradients reduced across processes);
#: measured: 7.5e-9 on weights of magnitude up to 1.
TOLERANCE = 1e-6


def run_training(config_path, out_env, nproc: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}  # fmt: skip
    env.pop("RANK", None)
    env.pop("WORLD_SIZE", None)
    if nproc == 1:
        command = [sys.executable, "-m", "xrayvision", "train", str(config_path), "--quiet", "--set", f"run.out={out_env}"]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
                   "-m", "xrayvision", "train", str(config_path), "--quiet", "--set", f"run.out={out_env}"]  # fmt: skip
    return subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_two_processes_match_one_with_the_same_global_batch(nih_release, tmp_path):
    # No BatchNorm (per-process batch statistics differ by design without SyncBatchNorm,
    # which PyTorch runs on GPUs only) and no dropout (each process draws its own masks).
    config = config_from_dict(training_config(
        nih_release, tmp_path / "unused",
        model={"factory": "tests.train._tiny:tiny_cnn", "options": {"num_outputs": 3, "batchnorm": False}},
        optim={"epochs": 2, "batch_size": 8},
    ))  # fmt: skip
    path = tmp_path / "run.toml"
    path.write_text(xrv.train.config.to_toml(config))
    one = run_training(path, tmp_path / "one", 1)
    assert one.returncode == 0, one.stderr
    two = run_training(path, tmp_path / "two", 2)
    assert two.returncode == 0, two.stderr[-3000:]
    first, second = load_file(str(tmp_path / "one" / "last.safetensors")), load_file(str(tmp_path / "two" / "last.safetensors"))
    for key in first:
        assert torch.allclose(first[key], second[key], rtol=0, atol=TOLERANCE), (key, (first[key] - second[key]).abs().max())
    # the validation AUCs, computed on outputs gathered from both processes, agree too
    valid_one = [json.loads(line) for line in (tmp_path / "one" / "metrics.jsonl").read_text().splitlines()]
    valid_two = [json.loads(line) for line in (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()]
    auc_one = [r["auc"] for r in valid_one if r["kind"] == "valid"]
    auc_two = [r["auc"] for r in valid_two if r["kind"] == "valid"]
    assert len(auc_one) == len(auc_two) == 2
    for a, b in zip(auc_one, auc_two):
        assert a.keys() == b.keys()
        for name in a:
            assert (a[name] is None) == (b[name] is None)
            if a[name] is not None:
                assert abs(a[name] - b[name]) < 1e-6
    # the second process wrote nothing of its own: one log, one state
    assert "trained 6 steps" in two.stdout and two.stdout.count("trained") == 1
