"""``xrv segment`` and :func:`xrayvision.models.segmentation.segment`: masks at the input's size."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import xrayvision as xrv
from xrayvision.baseline_models import chestx_det
from xrayvision.cli import main
from xrayvision.fakedata.images import chest_xray_like, write_png
from xrayvision.models.segmentation import overlay, pad_to_square, palette, segment


class _Echo(torch.nn.Module):
    """A 'segmentation model' at 64 px whose channel 0 is the image and channel 1 its negative."""

    targets = ["bright", "dark"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[-1] == x.shape[-2]  # always given a square
        small = F.interpolate(x, size=(64, 64), mode="bilinear", align_corners=False, antialias=True)
        return torch.cat([small, -small], dim=1) / 100


def test_masks_come_back_at_the_input_size_and_place():
    image = np.full((1, 90, 150), -1024.0, dtype=np.float32)
    image[0, :40, :60] = 1024.0  # a bright block in the top-left corner of a wide image
    masks = segment(_Echo(), image)
    assert masks.shape == (2, 90, 150) and masks.dtype == bool
    truth = image[0] > 0
    assert (masks[0] == truth).mean() > 0.99  # padding/cropping keep the geometry
    assert (masks[1] == ~truth).mean() > 0.99
    assert masks[0][:35, :55].all() and not masks[0][50:, 70:].any()


def test_padding_and_thresholds():
    padded, (top, left) = pad_to_square(torch.zeros(1, 1, 3, 5))
    assert padded.shape == (1, 1, 5, 5) and (top, left) == (1, 0)
    assert padded[0, 0, 0].tolist() == [-1024.0] * 5 and padded[0, 0, 1].tolist() == [0.0] * 5
    image = np.zeros((1, 8, 8), dtype=np.float32)
    image[0, :, :4] = 1024.0
    assert segment(_Echo(), image, threshold=0.99).sum() < segment(_Echo(), image, threshold=0.5).sum()
    with pytest.raises(ValueError, match="between 0 and 1"):
        segment(_Echo(), image, threshold=1.0)


def test_overlay_tints_only_the_structures():
    image = np.zeros((1, 4, 4), dtype=np.float32)  # mid grey
    masks = np.zeros((2, 4, 4), dtype=bool)
    masks[0, 0, 0] = masks[1, 3, 3] = True
    picture = overlay(image, masks, alpha=0.5)
    grey = round(1024 / 2048 * 255)
    assert picture.shape == (4, 4, 3) and picture.dtype == np.uint8
    assert picture[1, 1].tolist() == [grey] * 3
    expected = np.round(0.5 * 127.5 + 0.5 * palette(2)[0].astype(float))
    assert picture[0, 0].tolist() == expected.tolist()
    assert len({tuple(c) for c in palette(20)}) == 20


@pytest.fixture
def pspnet_in_cache(monkeypatch, unpinned_registry):
    network = chestx_det.PSPNetNetwork().eval()
    cache = Path(os.environ["XRV_CACHE_DIR"])
    cache.mkdir(parents=True, exist_ok=True)
    state = {"module." + k: v for k, v in network.state_dict().items()}
    torch.save(state, cache / xrv.models.get_weights("chestx_det").filename)
    monkeypatch.setattr(chestx_det.PSPNet, "input_resolution", 64)  # a small forward
    return network


def test_cli_writes_an_overlay_and_one_mask_per_structure(tmp_path, capsys, pspnet_in_cache):
    write_png(tmp_path / "in" / "wide.png", chest_xray_like((90, 120), seed=1))
    write_png(tmp_path / "in" / "tall.png", chest_xray_like((100, 70), seed=2))
    (tmp_path / "in" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    status = main(["segment", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--no-progress"])
    captured = capsys.readouterr()
    assert status == 1 and "broken.png" in captured.err and "1 of 3" in captured.err
    for stem, size in [("wide", (120, 90)), ("tall", (70, 100))]:
        folder = tmp_path / "out" / stem
        names = sorted(p.name for p in folder.iterdir())
        assert names[0] == "00_left_clavicle.png" and names[-2] == "13_spine.png" and names[-1] == "overlay.png"
        assert len(names) == 15 and not any(n.startswith(".") for n in names)
        picture = Image.open(folder / "overlay.png")
        assert picture.mode == "RGB" and picture.size == size
        mask = Image.open(folder / "04_left_lung.png")
        assert mask.mode == "L" and mask.size == size and set(np.unique(np.asarray(mask))) <= {0, 255}
        assert f"{stem}.png\t{folder}" in captured.out


def test_cli_masks_equal_the_library(tmp_path, capsys, pspnet_in_cache):
    write_png(tmp_path / "x.png", chest_xray_like((80, 96), seed=3))
    assert main(["segment", str(tmp_path / "x.png"), "--out", str(tmp_path / "out")]) == 0
    model = chestx_det.PSPNet(weights=False)
    model.model.load_state_dict(pspnet_in_cache.state_dict())
    model.warn_on_resize = False
    masks = segment(model.eval(), xrv.io.read_image(tmp_path / "x.png"))
    for index in (0, 8, 13):
        name = f"{index:02d}_{xrv.cli.segment.slug(model.targets[index])}.png"
        assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / "x" / name)) > 0, masks[index])


def test_cli_reads_a_checkpoint_under_a_name_of_its_own(tmp_path, capsys, pspnet_in_cache):
    write_png(tmp_path / "x.png", chest_xray_like((64, 64), seed=3))
    mine = tmp_path / "psp.pth"
    torch.save(pspnet_in_cache.state_dict(), mine)
    assert main(["segment", str(tmp_path / "x.png"), "--out", str(tmp_path / "out"), "--weights", str(mine)]) == 0
    assert (tmp_path / "out" / "x" / "13_spine.png").is_file()
    other = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(1)}, other)
    assert main(["segment", str(tmp_path / "x.png"), "--out", str(tmp_path / "out"), "--weights", str(other)]) == 1
    err = capsys.readouterr().err
    assert f"{other} fits none of the segmentation models" in err
    assert "as pspnet-resnet101:" in err and "as cxas-unet-resnet50:" in err


def test_cli_refuses_classifiers_duplicates_and_bad_thresholds(tmp_path, capsys, monkeypatch):
    write_png(tmp_path / "a" / "x.png", chest_xray_like((64, 64), seed=1))
    write_png(tmp_path / "b" / "x.png", chest_xray_like((64, 64), seed=2))
    assert main(["segment", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "o")]) == 2
    assert "would both write to" in capsys.readouterr().err
    assert main(["segment", str(tmp_path / "a"), "--out", str(tmp_path / "o"), "--threshold", "0"]) == 2
    assert main(["segment", str(tmp_path / "a"), "--out", str(tmp_path / "o"), "--weights", "mira"]) == 1
    assert "unknown segmentation model 'mira'" in capsys.readouterr().err
    monkeypatch.setenv("XRV_OFFLINE", "1")
    with pytest.warns(xrv.baseline_models.LicenceWarning):
        status = main(["segment", str(tmp_path / "a"), "--out", str(tmp_path / "o"), "--weights", "chestx_anatomy"])
    err = capsys.readouterr().err
    assert status == 1 and "not for commercial use" in err and "XRV_OFFLINE" in err
