"""write_png: images in [-1024, 1024] stored as PNG and read back within half a step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xrayvision.errors import PixelRangeError, TransformError
from xrayvision.io import read_image, write_png
from xrayvision.io.write import quantization_error, to_codes


@pytest.mark.parametrize("bits", [8, 16])
def test_round_trip_within_half_a_step(tmp_path, bits):
    rng = np.random.default_rng(0)
    img = rng.uniform(-1024, 1024, (1, 23, 31)).astype(np.float32)
    img[0, 0, :2] = [-1024, 1024]
    path = write_png(tmp_path / "a.png", img, bits=bits)
    back = read_image(path)
    assert back.shape == img.shape
    error = np.abs(back - img).max()
    assert error <= quantization_error(bits) + 2e-4
    assert error > quantization_error(bits) * 0.5  # really quantised at that depth
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]  # no temporary file left


def test_codes_by_hand():
    assert to_codes(np.array([[-1024.0, 0.0, 1024.0]]), 8).tolist() == [[0, 128, 255]]  # 127.5 rounds to even
    assert to_codes(torch.tensor([[[-1024.0, 1024.0]]]), 16).tolist() == [[0, 65535]]
    assert to_codes(np.array([[-1024.0004, 1024.001]]), 16).tolist() == [[0, 65535]]  # float rounding


def test_bad_input():
    with pytest.raises(PixelRangeError, match="outside"):
        to_codes(np.array([[0.0, 1100.0]]))
    with pytest.raises(PixelRangeError, match="finite"):
        to_codes(np.array([[0.0, np.nan]]))
    with pytest.raises(TransformError, match="bits"):
        to_codes(np.zeros((2, 2)), 12)
    with pytest.raises(TransformError, match=r"\[1, H, W\]"):
        to_codes(np.zeros((3, 2, 2)))


def test_written_files_follow_the_umask(tmp_path):
    import os
    import stat

    from xrayvision.io import write_png

    path = write_png(tmp_path / "x.png", np.zeros((1, 4, 4), dtype=np.float32))
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
