"""Shared pieces of the generated datasets: seeded random columns and argument checks."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DatasetError


def uniform_columns(seed: int, stream: int, rows: int, width: int) -> np.ndarray:
    """``rows`` x ``width`` uniforms in [0, 1) from the stream ``(seed, stream)``.

    Row ``i`` is the same for any ``rows > i``, so whatever is computed from it depends on
    ``(seed, stream, i)`` alone: a smaller dataset is a prefix of a larger one.
    """
    return np.random.default_rng((seed, stream)).random((rows, width))


def between(u: np.ndarray, low: float, high: float) -> np.ndarray:
    """Uniforms ``u`` mapped linearly onto [low, high)."""
    return low + (high - low) * u


def count_argument(value: Any, name: str, minimum: int) -> int:
    """``value`` as an int, or DatasetError when it is not an int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise DatasetError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def fraction_argument(value: Any, name: str, low: float = 0.0) -> float:
    """``value`` as a float, or DatasetError when it is not a number in [low, 1]."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DatasetError(f"{name} must be a number in [{low:g}, 1], got {value!r}") from None
    if not low <= number <= 1.0:
        raise DatasetError(f"{name} must lie in [{low:g}, 1], got {value!r}")
    return number
