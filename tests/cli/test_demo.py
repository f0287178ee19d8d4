"""``xrv demo``: the whole library end to end, offline, on generated data."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

import xrayvision as xrv
from xrayvision.cli import demo, main


def test_demo_runs_offline_and_writes_what_it_says(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XRV_OFFLINE", "1")
    assert main(["demo", "--out", str(tmp_path), "--patients", "6", "--images", "160", "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    # 1-4: the dataset API on the NIH layout
    assert "MergeDataset num_samples=" in out and "├0 NIH_Dataset" in out and "└1 NIH_Dataset" in out
    assert (tmp_path / "NIH" / "images").is_dir()
    # 5: a captioned grid of 16 phantom images at 128 px, 4 per row, a caption band under each
    preview = np.asarray(Image.open(tmp_path / "preview.png"))
    assert preview.shape == (4 * (128 + 14), 4 * 128) and preview.std() > 10
    # 6: training with xrv.train, its AUC printed, its weight set saved
    assert out.count("validation AUC") == 2 and (tmp_path / "run" / "best.safetensors").is_file()
    assert isinstance(xrv.models.get_model(tmp_path / "run" / "best.safetensors"), xrv.models.DenseNet)
    # 7-9: an overlay, a Latent Shift GIF, a self-contained report
    assert "agreement with the drawn" in out and "a random map scores" in out
    assert re.search(r"gradcam +IoU [0-9.]+ \[[0-9.]+, [0-9.]+\]", out)
    assert re.search(r"integrated_gradients +IoU [0-9.]+ \[[0-9.]+, [0-9.]+\]", out)
    assert Image.open(tmp_path / "overlay.png").mode in ("RGB", "RGBA")
    gif = Image.open(tmp_path / "counterfactual.gif")
    assert gif.n_frames > 10 and gif.size[0] == 2 * 4 * 64  # the input beside each frame, 4x
    report = (tmp_path / "report.html").read_text()
    assert report.count("data:image/png;base64,") >= 3 and "data:image/gif;base64," in report
    # 10: the published model: not cached, so the demo says how to get it
    weights = xrv.models.get_weights("densenet121-res224-all")
    assert f"xrv weights download {weights.name}" in out and weights.url in out


def test_the_model_step_predicts_when_the_weights_are_cached(tmp_path, capsys, monkeypatch):
    torch = pytest.importorskip("torch")
    model = xrv.models.DenseNet(weights=None)
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("XRV_CACHE_DIR", str(cache))
    monkeypatch.setenv("XRV_OFFLINE", "1")
    # An official-format (plain state-dict) file under an official name without a
    # published digest: it passes the DenseNet content check and is recorded on first use.
    nih = xrv.models.get_weights("nih")
    torch.save(model.state_dict(), cache / nih.filename)
    demo.model_step("nih")
    out = capsys.readouterr().out
    assert "phantom images (224 px) predicted; first image, top findings:" in out
    assert "14 trained outputs" in out
    assert (cache / f"{nih.filename}.sha256").is_file()
    # The same random file under the name of a file with a published digest is refused.
    pinned = xrv.models.get_weights("densenet121-res224-all")
    torch.save(model.state_dict(), cache / pinned.filename)
    demo.model_step(pinned.name)
    out = capsys.readouterr().out
    assert "failed verification" in out and pinned.sha256 in out
    assert "predicted" not in out
