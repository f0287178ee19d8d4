"""``xrv demo``: the whole library end to end, offline, on generated data."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import xrayvision as xrv
from xrayvision.cli import main


def test_demo_runs_offline_and_explains_how_to_get_weights(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XRV_OFFLINE", "1")
    assert main(["demo", "--out", str(tmp_path), "--patients", "6"]) == 0
    out = capsys.readouterr().out
    assert "MergeDataset num_samples=" in out and "├0 NIH_Dataset" in out and "└1 NIH_Dataset" in out
    assert "within [-1024, 1024]" in out
    weights = xrv.models.get_weights("densenet121-res224-all")
    assert f"xrv weights download {weights.name}" in out and weights.url in out
    # The fake data is in the real NIH layout, and the preview is a grid of 224 px tiles.
    assert (tmp_path / "NIH" / "images").is_dir()
    preview = np.asarray(Image.open(tmp_path / "preview.png"))
    assert preview.dtype == np.uint8 and preview.shape[0] % 224 == 0 and preview.shape[1] == 6 * 224
    assert preview.std() > 10  # real pictures, not a blank canvas


def test_demo_predicts_when_the_weights_are_cached(tmp_path, capsys, monkeypatch):
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
    assert main(["demo", "--out", str(tmp_path / "demo"), "--patients", "4", "--weights", "nih"]) == 0
    out = capsys.readouterr().out
    assert "images predicted; first image, top findings:" in out
    assert "14 trained outputs" in out
    assert (cache / f"{nih.filename}.sha256").is_file()
    # The same random file under the name of a file with a published digest is refused.
    pinned = xrv.models.get_weights("densenet121-res224-all")
    torch.save(model.state_dict(), cache / pinned.filename)
    assert main(["demo", "--out", str(tmp_path / "demo2"), "--patients", "4"]) == 0
    out = capsys.readouterr().out
    assert "failed verification" in out and pinned.sha256 in out
    assert "images predicted" not in out
