"""2-D heatmaps from a Latent Shift frame sequence (spec methods.md §1.5).

With ``F_1 .. F_N`` the frames from the most negative λ and ``x_0`` the reconstruction:

- ``max``: per pixel, the largest ``|x_0 - F_i|``;
- ``mean``: per pixel, the mean ``|x_0 - F_i|``;
- ``mm``: ``|F_1 - F_N|``;
- ``int``: the mean of ``|F_i - F_{i+1}|``.

``legacy=True`` gives ``max`` and ``mean`` as the gifsplanation code (2021-02 and later)
and the Captum port computed them: the reduction ran over a singleton axis, so both are
``|x_0 - F_1|``. The published IoU tables' ``latentshift-max`` is that map. ``mm`` and
``int`` had no such quirk. Multi-channel frames give the mean over channels.
"""

from __future__ import annotations

import numpy as np

from ..errors import ExplainError
from .postprocessing import postprocess

#: Heatmap definitions.
HEATMAPS = ("int", "max", "mean", "mm")


def heatmap(
    frames: np.ndarray,
    reconstruction: np.ndarray,
    method: str = "int",
    *,
    legacy: bool = False,
    sigma: float = 0.0,
    percentile: float | None = None,
) -> np.ndarray:
    """A ``[H, W]`` map of where a frame sequence changes.

    Args:
        frames: ``[N, C, H, W]``, ordered from the most negative λ.
        reconstruction: ``[C, H, W]``, the frame at λ = 0 (``D(z)``).
        method: one of :data:`HEATMAPS`.
        legacy: the published code's ``max``/``mean`` (both ``|x_0 - F_1|``).
        sigma, percentile: Gaussian blur and threshold (:func:`~.postprocess.postprocess`).

    Returns:
        float32 ``[H, W]``.

    Raises:
        ExplainError: unknown method, or ``int`` of a single frame.
    """
    frames = np.asarray(frames, dtype=np.float32)
    x0 = np.asarray(reconstruction, dtype=np.float32)
    if frames.ndim != 4 or x0.shape != frames.shape[1:]:
        raise ExplainError(f"expected frames [N, C, H, W] and a reconstruction [C, H, W], got {frames.shape} and {x0.shape}")
    if method not in HEATMAPS:
        raise ExplainError(f"unknown heatmap {method!r}; choose one of {', '.join(HEATMAPS)}")
    if method in ("max", "mean") and legacy:
        change = np.abs(x0 - frames[0])
    elif method == "max":
        change = np.abs(x0 - frames).max(axis=0)
    elif method == "mean":
        change = np.abs(x0 - frames).mean(axis=0)
    elif method == "mm":
        change = np.abs(frames[0] - frames[-1])
    else:
        if len(frames) < 2:
            raise ExplainError("the 'int' heatmap needs at least two frames")
        change = np.abs(np.diff(frames, axis=0)).mean(axis=0)
    return postprocess(change.mean(axis=0), abs=False, sigma=sigma, percentile=percentile).astype(np.float32)
