"""Input checks shared by every model: shape, automatic resize, pixel-range heuristic.

The reference prints its notices and remembers them in a module-global dict (and
silences all warnings of the process at import). Here each notice is a
``warnings.warn`` with its own category, emitted once per model instance, and every
check can be switched off per instance.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.nn.functional as F

from ..errors import ModelInputError


class ResolutionWarning(UserWarning):
    """The input was resized to the model's native resolution."""


class InputRangeWarning(UserWarning):
    """The input's pixel range does not look like the expected [-1024, 1024]."""


def suspicious_range(low: float, high: float) -> bool:
    """The reference's heuristic (spec models.md §9.6): is ``[low, high]`` unlike [-1024, 1024]?

    Images scaled to [0, 1], [-1, 1], [0, 255] or beyond ±1025 are flagged; a real
    X-ray scaled correctly spans most of [-1024, 1024].
    """
    return low > -255 or high < 255 or low < -1025 or high > 1025


def _warn_once(model: Any, flag: str, message: str, category: type[Warning]) -> None:
    if model is not None:
        if getattr(model, flag, False):
            return
        object.__setattr__(model, flag, True)  # plain attribute, even on nn.Module
    warnings.warn(message, category, stacklevel=4)


def as_batch(x: torch.Tensor, channels: int = 1) -> torch.Tensor:
    """Promote ``[C, H, W]`` to ``[1, C, H, W]`` and check the layout.

    Raises:
        ModelInputError: not a 3-D/4-D tensor or wrong channel count.
    """
    if not isinstance(x, torch.Tensor):
        raise ModelInputError(
            f"expected a torch.Tensor [B, {channels}, H, W], got {type(x).__name__}; "
            "use weights.transforms() to turn a file, PIL image or array into model input"
        )
    if not x.is_floating_point():
        raise ModelInputError(
            f"expected floating-point pixels in [-1024, 1024], got a {str(x.dtype).removeprefix('torch.')} tensor; "
            "use weights.transforms() (or xrv.io.read_image) to scale an image for the model"
        )
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4 or x.shape[1] != channels:
        raise ModelInputError(
            f"expected a tensor of shape [B, {channels}, H, W] (or [{channels}, H, W]), got {list(x.shape)}; "
            "chest X-ray models take single-channel images in [-1024, 1024]"
        )
    return x


def fix_resolution(x: torch.Tensor, resolution: int, model: Any = None) -> torch.Tensor:
    """Make ``x`` a square ``[B, C, R, R]`` batch, resizing when needed.

    Resizing is bilinear with antialiasing (``align_corners=False``), as the reference
    does since 1.5; a :class:`ResolutionWarning` is emitted the first time a given
    model resizes (set ``model.warn_on_resize = False`` to silence it).

    Args:
        x: ``[B, C, H, W]`` or ``[C, H, W]`` tensor.
        resolution: the model's native side length R.
        model: the model instance (keys the warn-once flag); optional.

    Returns:
        The (possibly resized) 4-D tensor.

    Raises:
        ModelInputError: the image is not square.
    """
    if x.dim() == 3:
        x = x.unsqueeze(0)
    height, width = x.shape[-2:]
    if height != width:
        raise ModelInputError(
            f"input images must be square, got {height}x{width}; center-crop first "
            "(xrv.transforms.XRayCenterCrop, or weights.transforms() which does it for you)"
        )
    if height != resolution:
        if model is None or getattr(model, "warn_on_resize", True):
            _warn_once(
                model,
                "_xrv_warned_resize",
                f"input size {height}x{width} is not the native resolution {resolution}x{resolution} "
                "of this model; resizing (bilinear, antialiased). Resize beforehand to silence this.",
                ResolutionWarning,
            )
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False, antialias=True)
    return x


def warn_normalization(x: torch.Tensor, model: Any = None) -> bool:
    """Warn (once per model) when ``x`` does not look scaled to [-1024, 1024].

    Args:
        x: the input batch.
        model: the model instance (keys the warn-once flag; ``model.check_input_range
            = False`` disables the check).

    Returns:
        True when the range looks right, False when it is suspicious (the reference's
        ``warning_log["norm_correct"]``). Returns True without looking once the model
        has already warned or the check is disabled.
    """
    if model is not None and (not getattr(model, "check_input_range", True) or getattr(model, "_xrv_warned_range", False)):
        return True
    if x.numel() == 0:
        return True
    with torch.no_grad():
        low, high = torch.aminmax(x.detach())
        low, high = float(low), float(high)
    if suspicious_range(low, high):
        _warn_once(
            model,
            "_xrv_warned_range",
            f"input pixel range [{low:.4g}, {high:.4g}] does not look like [-1024, 1024]; this model expects "
            "images mapped linearly from their encoding's range (xrv.io.normalize / xrv.utils.load_image). "
            "Wrong ranges give plausible-looking but meaningless outputs.",
            InputRangeWarning,
        )
        return False
    return True
