"""Latent Shift sequences as animations: GIF (Pillow) and MP4 (optional PyAV).

Every frame of one animation uses the same grey range (the minimum and maximum over all
frames, and over the input when it is shown beside them), so brightness never flickers.
The loop is a palindrome by default: from λ = 0 to the counterfactual and back (the
order of the later published code), so it plays smoothly when repeated. Files are
written whole to a temporary name and renamed into place.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .._atomic import write_atomic
from ..errors import ExplainError, OptionalDependencyError

if TYPE_CHECKING:
    from .latent_shift import LatentShiftResult

_MP4_HINT = 'MP4 output needs PyAV: pip install "xrayvision[video]" (or pip install av); GIF output needs nothing extra'


def require_pyav() -> None:
    """Check that MP4 output can be written, before any work is done for it.

    Raises:
        OptionalDependencyError: PyAV is not installed.
    """
    try:
        import av  # noqa: F401
    except ImportError as error:
        raise OptionalDependencyError(f"{_MP4_HINT} ({error})") from error


def _file_target(path: str | os.PathLike, kind: str) -> Path:
    """``path`` as the file to write, refused when it names an existing folder."""
    target = Path(path)
    if target.is_dir():
        raise ExplainError(f"{target} is a folder; save_{kind} needs a file name, e.g. {target / ('sequence.' + kind)}")
    return target


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: one fixed bitmap size
        return ImageFont.load_default()


def to_grey(img: np.ndarray, low: float, high: float) -> np.ndarray:
    """``[H, W]`` values mapped linearly from ``[low, high]`` to uint8 0-255 (clipped)."""
    span = high - low if high > low else 1.0
    return np.clip(np.round((img - low) * (255.0 / span)), 0, 255).astype(np.uint8)


def _bar_fractions(preds: np.ndarray) -> np.ndarray:
    if preds.size and preds.min() >= 0 and preds.max() <= 1:
        return preds
    low, high = float(preds.min()), float(preds.max())
    return (preds - low) / (high - low) if high > low else np.ones_like(preds)


def render_frames(
    result: LatentShiftResult,
    *,
    boomerang: bool = True,
    show_pred: bool = True,
    side_by_side: bool = False,
    scale: int = 1,
    watermark: str | None = None,
) -> list[Image.Image]:
    """The animation's frames as 8-bit greyscale images.

    Args:
        result: a Latent Shift result.
        boomerang: frames from λ = 0 to the counterfactual and back; False plays them
            once from the most negative λ.
        show_pred: a header with the target, the prediction (2 decimals) and a bar of
            proportional length (fraction of 1 for outputs in [0, 1], else of the
            sequence's range).
        side_by_side: the input image left of each frame.
        scale: integer upscaling (nearest neighbour).
        watermark: text written in the lower right corner, if any.

    Returns:
        PIL images (mode ``"L"``), in playing order.

    Raises:
        ExplainError: ``scale`` below 1.
    """
    if scale < 1:
        raise ExplainError(f"scale must be a positive integer, got {scale}")
    frames = result.frames.mean(axis=1)  # [N, H, W]
    preds = np.asarray(result.preds, dtype=np.float64)
    order = list(range(len(frames)))
    if boomerang:
        order = order[::-1] + order
    shown = [frames] + ([result.image.mean(axis=0)[None]] if side_by_side else [])
    low = min(float(a.min()) for a in shown)
    high = max(float(a.max()) for a in shown)
    left = to_grey(result.image.mean(axis=0), low, high) if side_by_side else None
    fractions = _bar_fractions(preds)
    height, width = frames.shape[-2] * scale, frames.shape[-1] * scale * (2 if side_by_side else 1)
    header = max(12, height // 10) if show_pred else 0
    font = _font(max(8, header - 4)) if show_pred or watermark else None
    images = []
    for i in order:
        pixels = to_grey(frames[i], low, high)
        if left is not None:
            pixels = np.concatenate([left, pixels], axis=1)
        if scale > 1:
            pixels = np.kron(pixels, np.ones((scale, scale), dtype=np.uint8))
        canvas = Image.new("L", (width, height + header), 255)
        canvas.paste(Image.fromarray(pixels), (0, header))
        draw = ImageDraw.Draw(canvas)
        if show_pred:
            label = f"{result.target} {preds[i]:.2f}"
            draw.text((2, 1), label, fill=0, font=font)
            start = int(draw.textlength(label + " ", font=font)) + 2
            end = start + round(float(np.clip(fractions[i], 0, 1)) * max(0, width - start - 2))
            if end > start:
                draw.rectangle((start, 2, end, header - 3), fill=0)
        if watermark:
            box = draw.textbbox((0, 0), watermark, font=font)
            draw.text((width - box[2] - 3, height + header - box[3] - 3), watermark, fill=255, font=font)
        images.append(canvas)
    return images


def save_gif(
    result: LatentShiftResult,
    path: str | os.PathLike,
    *,
    fps: float = 8,
    loop: int = 0,
    **render: Any,
) -> Path:
    """Write a Latent Shift sequence as an animated GIF (Pillow; no ffmpeg).

    Args:
        result: the sequence (:class:`~.latent_shift.LatentShiftResult`).
        path: the GIF to write (replaced atomically).
        fps: frames per second.
        loop: times the GIF repeats (0: forever).
        **render: ``boomerang``, ``show_pred``, ``side_by_side``, ``scale``, ``watermark``
            of :func:`render_frames`.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ExplainError: ``path`` is a folder, ``fps`` not positive or ``scale`` below 1.
    """
    target = _file_target(path, "gif")
    return write_atomic(target, encode_gif(render_frames(result, **render), fps, loop))


def encode_gif(images: Sequence[Image.Image], fps: float = 8, loop: int = 0) -> bytes:
    """Animated GIF bytes of ``images`` at ``fps`` frames per second, repeated ``loop`` times (0: forever).

    Raises:
        ExplainError: ``fps`` not positive.
    """
    if fps <= 0:
        raise ExplainError(f"fps must be positive, got {fps}")
    buffer = io.BytesIO()
    images[0].save(
        buffer, format="GIF", save_all=True, append_images=list(images[1:]), duration=round(1000 / fps), loop=loop
    )
    return buffer.getvalue()


def encode_mp4(images: Sequence[Image.Image], fps: float) -> bytes:
    """H.264 MP4 bytes (yuv420p, even frame sides) of greyscale frames, with PyAV.

    Raises:
        OptionalDependencyError: PyAV is not installed.
        ExplainError: ``fps`` is not positive.
    """
    if not fps > 0:
        raise ExplainError(f"fps must be positive, got {fps!r}")
    require_pyav()
    import av
    width, height = images[0].size
    even = (width + width % 2, height + height % 2)  # yuv420p needs even sides
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height, stream.pix_fmt = even[0], even[1], "yuv420p"
        for image in images:
            if image.size != even:
                padded = Image.new(image.mode, even, 255 if image.mode == "L" else (255,) * len(image.getbands()))
                padded.paste(image, (0, 0))
                image = padded
            frame = av.VideoFrame.from_ndarray(np.asarray(image.convert("RGB")), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def save_mp4(
    result: LatentShiftResult,
    path: str | os.PathLike,
    *,
    fps: float = 8,
    repeats: int = 3,
    **render: Any,
) -> Path:
    """Write a Latent Shift sequence as an H.264 MP4 (needs the optional PyAV package).

    Args:
        result: the sequence.
        path: the MP4 to write (replaced atomically).
        fps: frames per second (rounded to an integer rate).
        repeats: times the (palindrome) loop is written, as the published videos did.
        **render: options of :func:`render_frames`.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        OptionalDependencyError: PyAV is not installed (``pip install "xrayvision[video]"``).
        ExplainError: ``path`` is a folder, ``fps`` or ``repeats`` not positive.
    """
    if fps <= 0 or repeats < 1:
        raise ExplainError(f"fps and repeats must be positive, got fps={fps}, repeats={repeats}")
    target = _file_target(path, "mp4")
    return write_atomic(target, encode_mp4(render_frames(result, **render) * repeats, fps))
