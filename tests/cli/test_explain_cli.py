"""``xrv explain``: files written, the report, and the offline autoencoder message."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from PIL import Image

import xrayvision as xrv
from xrayvision.cli import main
from xrayvision.cli.explain import load_autoencoder
from xrayvision.models._preprocess import WeightsTransform

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


def test_default_output_is_the_probability_for_weights_that_return_logits(small_model, xray, tmp_path, capsys):
    # small_model has no calibration thresholds and no sigmoid: model(x) is a logit, as for xrv train's weights
    assert main(["explain", str(xray), "--target", "Effusion", "--method", "GRADIENT", "--out", str(tmp_path / "o")]) == 0
    image = WeightsTransform(64)(xray)
    with torch.no_grad():
        probability = float(torch.sigmoid(small_model(image)[0, small_model.targets.index("Effusion")]))
    assert f"Effusion = {probability:.3f} (probability)" in capsys.readouterr().out
    assert main(["explain", str(xray), "--target", "Effusion", "--output", "model", "--out", str(tmp_path / "o")]) == 0
    with torch.no_grad():
        logit = float(small_model(image)[0, small_model.targets.index("Effusion")])
    assert f"Effusion = {logit:.3f} (model)" in capsys.readouterr().out


def test_calibrated_weights_default_to_the_calibrated_score(small_model, xray, tmp_path, capsys):
    small_model.op_threshs = torch.full((len(small_model.targets),), 0.5)
    assert main(["explain", str(xray), "--target", "Effusion", "--out", str(tmp_path / "o")]) == 0
    assert "(calibrated)" in capsys.readouterr().out


def test_command_line_mistakes_use_command_line_words(small_model, xray, tmp_path, capsys):
    out = tmp_path / "o"
    with pytest.raises(SystemExit) as exit_:
        main(["explain", str(xray), "--target", "Effusion", "--output", "calibrated", "--out", str(out)])
    assert exit_.value.code == 2
    assert "--output calibrated needs calibration thresholds" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["explain", str(xray), "--target", "Effusion", "--method", "latentshift", "--lambda-range", "5", "-5",
              "--out", str(out)])  # fmt: skip
    assert "--lambda-range LO HI must be finite numbers with LO <= HI, got 5 -5" in capsys.readouterr().err
    assert not out.exists()


def test_inputs_sharing_a_file_name_are_refused_before_any_work(small_model, tmp_path, capsys):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        Image.fromarray(np.zeros((32, 32), dtype=np.uint8)).save(tmp_path / folder / "x.png")
    out = tmp_path / "o"
    with pytest.raises(SystemExit) as exit_:
        main(["explain", str(tmp_path / "a" / "x.png"), str(tmp_path / "b"), "--target", "Effusion", "--out", str(out)])
    assert exit_.value.code == 2
    assert "would both write to" in capsys.readouterr().err and not out.exists()


def test_a_folder_without_images_is_an_error(small_model, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["explain", str(empty), "--target", "Effusion", "--out", str(tmp_path / "o")]) == 1
    assert f"no images found in {empty}" in capsys.readouterr().err
    nested = tmp_path / "nested"
    (nested / "images").mkdir(parents=True)
    Image.fromarray(np.zeros((32, 32), dtype=np.uint8)).save(nested / "images" / "x.png")
    assert main(["explain", str(nested), "--target", "Effusion", "--out", str(tmp_path / "o")]) == 1
    assert "its subfolders hold images" in capsys.readouterr().err


def test_mp4_without_pyav_is_refused_before_any_work(small_model, xray, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "av", None)  # import av fails, installed or not
    monkeypatch.setattr("xrayvision.cli.explain.load_autoencoder", lambda name, cache_dir: TinyAE().eval())
    out = tmp_path / "o"
    status = main(["explain", str(xray), "--target", "Effusion", "--method", "latentshift", "--mp4", "--out", str(out)])
    assert status == 1 and "MP4 output needs PyAV" in capsys.readouterr().err
    assert not out.exists()


def test_a_saved_conv_autoencoder_serves_latent_shift(tmp_path):
    saved = xrv.autoencoders.ConvAutoencoder(width=4, depth=2, input_resolution=32).eval()
    path = xrv.models.save_model(saved, tmp_path / "ae")
    loaded = load_autoencoder(str(path), None)
    assert isinstance(loaded, xrv.autoencoders.ConvAutoencoder) and loaded.depth == 2
    x = torch.rand(1, 1, 32, 32) * 2048 - 1024
    assert torch.equal(loaded(x)["out"], saved(x)["out"])
