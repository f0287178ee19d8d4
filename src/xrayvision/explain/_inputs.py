"""The images an explanation receives: one checked ``[B, C, H, W]`` float batch.

Explanations differentiate the model with respect to its input, so the input must be a
floating-point tensor of the model's own dtype; the common mistakes (a NumPy array, 8-bit
pixels, float64 from NumPy, an empty batch) get an error that says what to do instead of
a torch or captum traceback from deep inside the method.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ExplainError, ModelInputError


def _model_dtype(model: Any) -> torch.dtype | None:
    if isinstance(model, nn.Module):
        for parameter in model.parameters():
            if parameter.is_floating_point():
                return parameter.dtype
    return None


def image_batch(x: Any, model: Any = None) -> torch.Tensor:
    """``x`` as a ``[B, C, H, W]`` floating-point tensor of ``model``'s dtype (not copied when it already is).

    A NumPy array becomes a tensor; a floating-point input of another precision (float64
    from NumPy, half) is cast to the model's parameters' dtype (float32 for the library's
    models), as the model could not run it otherwise.

    Raises:
        ModelInputError: not an array or tensor, or integer/boolean pixels (8-bit images
            must be scaled to [-1024, 1024] first).
        ExplainError: not 3-D or 4-D, or an empty batch.
    """
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, torch.Tensor):
        raise ModelInputError(
            f"images must be a torch.Tensor (or NumPy array) [B, C, H, W], got {type(x).__name__}; "
            "load them with xrv.utils.load_image or weights.transforms()"
        )
    if not x.is_floating_point():
        raise ModelInputError(
            f"images must hold floating-point pixels in [-1024, 1024], got a {str(x.dtype).replace('torch.', '')} "
            "tensor; scale 8-bit images with xrv.utils.normalize(img, 255) (or load them with "
            "weights.transforms()) and convert with .float()"
        )
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4:
        raise ExplainError(f"expected images [B, C, H, W] or [C, H, W], got shape {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ExplainError(f"the batch is empty (images of shape {tuple(x.shape)}): pass at least one image")
    dtype = _model_dtype(model)
    if dtype is not None and x.dtype != dtype:
        x = x.to(dtype)
    return x


__all__ = ["image_batch"]
