"""Animations, overlays and the HTML report: what the files contain."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from PIL import Image

from xrayvision.errors import ExplainError, OptionalDependencyError
from xrayvision.explain import (
    FixedRange,
    LatentShift,
    ReportEntry,
    render_frames,
    save_overlay,
    write_report,
)

from .conftest import TinyAE, TinyCNN


@pytest.fixture
def result(image):
    (res,) = LatentShift(TinyCNN(seed=3).eval(), TinyAE(seed=4).eval(), search=FixedRange(-200, 0, 5)).attribute(
        image, "Effusion"
    )
    return res


def gif_frames(path):
    with Image.open(path) as gif:
        frames = []
        for k in range(gif.n_frames):
            gif.seek(k)
            frames.append(np.asarray(gif.convert("L")))
        return frames, gif.info


def test_gif_is_a_palindrome_on_one_grey_scale(result, tmp_path):
    path = result.save_gif(tmp_path / "a.gif", show_pred=False, fps=5)
    frames, info = gif_frames(path)
    assert info["loop"] == 0 and info["duration"] == 200
    # reversed then forward (λ = 0 first); Pillow merges the repeated turning frame
    assert len(frames) == 2 * 5 - 1
    low, high = result.frames.min(), result.frames.max()
    expected = [np.round((result.frames[i, 0] - low) * 255 / (high - low)) for i in [4, 3, 2, 1, 0, 1, 2, 3, 4]]
    for got, want in zip(frames, expected):
        np.testing.assert_allclose(got, want, atol=1)
    assert min(f.min() for f in frames) == 0 and max(f.max() for f in frames) == 255


def test_gif_options_side_by_side_scale_and_prediction_bar(result, tmp_path):
    frames = render_frames(result, side_by_side=True, scale=2, boomerang=False)
    assert len(frames) == 5
    width, height = frames[0].size
    header = height - 32
    assert width == 64 and header > 0
    # the bar grows with the prediction (dark pixels in the header)
    preds = result.preds
    dark = [(np.asarray(f)[:header] < 128).sum() for f in frames]
    assert np.argmax(dark) == np.argmax(preds) and np.argmin(dark) == np.argmin(preds)
    # the input is on the left, on the frames' grey scale
    left = np.asarray(frames[0])[header:, :32][::2, ::2]
    low = min(result.frames.min(), result.image.min())
    high = max(result.frames.max(), result.image.max())
    np.testing.assert_allclose(left, np.round((result.image[0] - low) * 255 / (high - low)), atol=1)
    with pytest.raises(ExplainError):
        render_frames(result, scale=0)


def test_overlay_png_shows_the_map_in_red_where_it_is_non_zero(tmp_path, image):
    heatmap = np.zeros((16, 16))
    heatmap[2:6, 10:14] = 1.0
    path = save_overlay(tmp_path / "o.png", image[0], heatmap, size=160)
    with Image.open(path) as png:
        rgb = np.asarray(png.convert("RGB")).astype(int)
    assert rgb.shape[:2] == (160, 160)
    red = (rgb[..., 0] - rgb[..., 1]) > 60
    rows, cols = np.nonzero(red)
    assert rows.min() >= 19 and rows.max() <= 61 and cols.min() >= 99 and cols.max() <= 141
    assert red[20:60, 100:140].mean() > 0.95
    with pytest.raises(ExplainError):
        save_overlay(tmp_path / "bad.png", image[0], np.zeros((2, 3, 4, 5)))


def test_report_is_self_contained(result, tmp_path, image):
    entry = ReportEntry("chest <1>.png", image[0], "Effusion", {"Effusion": 0.7, "Mass": 0.2},
                        {"gradient": np.abs(np.random.default_rng(0).normal(size=(16, 16)))}, result, ["a note"])  # fmt: skip
    path = write_report(tmp_path / "report.html", [entry], title="Test & report")
    text = path.read_text()
    assert "src=\"http" not in text and "href=" not in text and "<script" not in text
    assert "chest &lt;1&gt;.png" in text and "Test &amp; report" in text
    uris = re.findall(r'src="data:(image/(?:png|gif));base64,([^"]+)"', text)
    assert [mime for mime, _ in uris] == ["image/png", "image/png", "image/gif"]
    for _, payload in uris:
        with Image.open(io.BytesIO(base64.b64decode(payload))) as embedded:
            embedded.load()
    assert '<tr class="target"><td>Effusion</td><td>0.700</td></tr>' in text


def test_mp4_needs_pyav(result, tmp_path):
    try:
        import av
    except ImportError:
        with pytest.raises(OptionalDependencyError, match="xrayvision\\[video\\]"):
            result.save_mp4(tmp_path / "a.mp4")
        pytest.skip("PyAV is not installed (pip install 'xrayvision[video]'): only the error was checked")
    path = result.save_mp4(tmp_path / "a.mp4", repeats=2, fps=4)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        decoded = [frame.to_ndarray(format="gray") for frame in container.decode(stream)]
    assert stream.codec_context.name == "h264"
    assert len(decoded) == 2 * 2 * 5
    assert decoded[0].shape[0] % 2 == 0 and decoded[0].shape[1] % 2 == 0


def test_a_folder_as_the_animation_path_is_named_in_the_error(result, tmp_path):
    with pytest.raises(ExplainError, match=f"{re.escape(str(tmp_path))} is a folder; save_gif needs a file name"):
        result.save_gif(tmp_path)
    with pytest.raises(ExplainError, match="save_mp4 needs a file name"):
        result.save_mp4(tmp_path)
    assert not list(tmp_path.iterdir())  # no temporary file left behind


def test_atomic_writes_refuse_a_folder_by_its_name(tmp_path):
    from xrayvision._atomic import write_atomic

    with pytest.raises(IsADirectoryError, match=f"{re.escape(str(tmp_path))} is a folder") as caught:
        write_atomic(tmp_path, b"data")
    assert ".part" not in str(caught.value)
