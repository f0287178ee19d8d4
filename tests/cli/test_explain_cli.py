"""``xrv explain``: files written, the report, and the offline autoencoder message."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import xrayvision as xrv
from xrayvision.cli import main

from ..explain.conftest import TinyAE


@pytest.fixture
def small_model(monkeypatch):
    """A tiny DenseNet in place of the published weights (the plumbing is what is tested)."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = xrv.models.DenseNet(block_config=(1, 1, 1, 1), growth_rate=4, num_init_features=8).eval()
    with torch.no_grad():
        model.classifier.bias.fill_(0.1)
    model.input_resolution = 64
    monkeypatch.setattr("xrayvision.cli.predict.load_classifier", lambda weights, cache_dir: model)
    return model


@pytest.fixture
def xray(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, size=(80, 96), dtype=np.uint8)
    path = tmp_path / "chest.png"
    Image.fromarray(pixels).save(path)
    return path


def test_explain_writes_maps_gif_and_report(small_model, xray, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("xrayvision.cli.explain.load_autoencoder", lambda name, cache_dir: TinyAE().eval())
    out = tmp_path / "out"
    status = main(["explain", str(xray), "--target", "Effusion", "--method", "gradient", "--method", "gradcam",
                   "--method", "latentshift", "--lambda-range", "-20", "0", "--out", str(out), "--report"])  # fmt: skip
    assert status == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["chest-gradcam.png", "chest-gradient.png", "chest-latentshift.gif", "chest-latentshift.png", "report.html"]
    with Image.open(out / "chest-latentshift.gif") as gif:
        assert gif.n_frames >= 11
    report = (out / "report.html").read_text()
    assert report.count("data:image/png;base64") == 4 and report.count("data:image/gif;base64") == 1
    printed = capsys.readouterr().out
    assert "chest.png: Effusion =" in printed and "report:" in printed


def test_unknown_target_fails_before_any_work(small_model, xray, tmp_path, capsys):
    assert main(["explain", str(xray), "--target", "Efusion", "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "did you mean 'Effusion'" in err and not (tmp_path / "o").exists()


def test_latentshift_offline_without_autoencoder_says_what_to_do(small_model, xray, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XRV_OFFLINE", "1")
    status = main(["explain", str(xray), "--target", "Effusion", "--method", "latentshift", "--out", str(tmp_path / "o")])
    assert status == 1
    err = capsys.readouterr().err
    assert "Latent Shift needs an autoencoder" in err and "--autoencoder FILE" in err and "xrv weights download 101-elastic" in err
