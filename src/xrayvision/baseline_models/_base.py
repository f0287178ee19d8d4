"""What every baseline wrapper shares (spec models.md §8, "common rules").

Input: ``[B, 1, H, W]`` (or ``[1, H, W]``) in [-1024, 1024]; square images are resized to
the model's resolution (bilinear, antialiased), the range is checked once per instance,
and only then is the channel repeated to the 3 the network was trained with (resizing
one channel, not three; the result is the same). Weights: a registry name (downloaded
and verified through the hub), a :class:`Weights` record, a local file, ``True`` (the
model's published weights) or ``False``/``None`` (untrained, e.g. for tests or
fine-tuning). Files are read through the safe loader and loaded strictly.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from ..errors import UnknownNameError, WeightsFormatError
from ..models import _loading
from ..models._input import as_batch, fix_resolution, warn_normalization
from ..models._registry import Weights, all_weights

#: ImageNet statistics used by the baselines trained from torchvision's recipes.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: The ``weights=`` argument of a baseline.
WeightsArg = str | os.PathLike | Weights | bool | None


class LicenceWarning(UserWarning):
    """Weights under a restrictive licence (e.g. non-commercial) are being downloaded."""


def to_unit_range(x: torch.Tensor) -> torch.Tensor:
    """[-1024, 1024] → [0, 1]."""
    return (x + 1024) / 2048


def imagenet_normalize(x: torch.Tensor) -> torch.Tensor:
    """[-1024, 1024] 3-channel images → [0, 1] → ImageNet mean/std normalisation."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (to_unit_range(x) - mean) / std


class BaselineModel(nn.Module):
    """Base class of the baseline wrappers: attributes, weights, input preparation.

    Declared by each wrapper:
        network: (static method) builds the module the weight file fills.
        read: (static method) weight file → state dict with ``network``'s key names.
        targets: output names, in output order.
        input_resolution: side of the square input the network was trained on.
        architecture: the ``weights.json`` architecture its weights must have.
        default_weights: registry name of its published weights.
        output_modes: the output modes :attr:`output` accepts (first = the reference's).

    Instance attributes (as the core models): ``weights`` (name or file), ``weights_meta``
    (the record), ``weights_filename_local``, ``check_input_range`` and ``warn_on_resize``
    (switches of the input checks).
    """

    targets: ClassVar[list[str]] = []
    input_resolution: int = 224  # an instance may override it (e.g. to run smaller inputs)
    architecture: ClassVar[str] = ""
    default_weights: ClassVar[str] = ""
    output_modes: ClassVar[tuple[str, ...]] = ()
    #: :meth:`check_weights_file` checks every key, shape and value (False where it cannot).
    weights_check_complete: ClassVar[bool] = True

    @staticmethod
    def network() -> nn.Module:  # pragma: no cover - every wrapper declares its own
        raise NotImplementedError

    @staticmethod
    def read(path: Path) -> Mapping[str, Any]:  # pragma: no cover - every wrapper declares its own
        raise NotImplementedError

    @classmethod
    def check_weights_file(cls, record: Weights, path: Path) -> None:
        """Validator of a weight file (see :func:`xrayvision.models.check_weights_file`):
        ``read(path)`` must fit ``network()`` exactly, built on the ``meta`` device (shapes
        only, no memory).

        Raises:
            WeightsFormatError: missing/unexpected keys, wrong shapes, non-finite values.
        """
        with torch.device("meta"):
            module = cls.network()
        _loading.check_state(module, cls.read(path), path)

    def __init__(self) -> None:
        super().__init__()
        self.targets = list(type(self).targets)  # a copy: mutating it never reaches the class
        self.check_input_range = True
        self.warn_on_resize = True
        self.weights: str | None = None
        self.weights_meta: Weights | None = None
        self.weights_filename_local: str | None = None
        self._output = self.output_modes[0] if self.output_modes else ""

    @property
    def pathologies(self) -> list[str]:
        """Alias of :attr:`targets` (the reference's name for classifier outputs)."""
        return self.targets

    @property
    def output(self) -> str:
        """What ``forward`` returns: one of :attr:`output_modes` (default: the reference's)."""
        return self._output

    @output.setter
    def output(self, mode: str) -> None:
        if mode not in self.output_modes:
            raise UnknownNameError(f"output mode of {self!r}", mode, self.output_modes)
        self._output = mode

    # --- weights -------------------------------------------------------------------------

    def resolve_weights(self, weights: WeightsArg) -> tuple[Weights | None, Path | None]:
        """(record, local file) of a ``weights=`` argument; (None, None) for no weights.

        Raises:
            UnknownNameError: an unknown name, or the weights of another model.
        """
        if weights is False or weights is None:
            return None, None
        if weights is True:
            weights = self.default_weights
        record, path = _loading.resolve(weights)
        if record is not None and record.architecture != self.architecture:
            same = [w.name for w in all_weights() if w.architecture == self.architecture]
            raise UnknownNameError(f"{type(self).__name__} weights", record.name, same)
        return record, path

    def local_file(self, record: Weights | None, path: Path | None, cache_dir: str | os.PathLike | None) -> Path:
        """``path``, or ``record``'s file from the cache (downloaded and verified if needed).

        A restrictive licence is announced (:class:`LicenceWarning`) when the file is
        about to be downloaded.
        """
        if path is not None:
            return path
        assert record is not None
        notice = record.licence_notice
        if notice and not (_cache_folder(cache_dir) / record.filename).is_file():
            warnings.warn(notice, LicenceWarning, stacklevel=4)
        return _loading.fetch_file(record, cache_dir)

    def load_network(self, network: nn.Module, weights: WeightsArg, cache_dir: str | os.PathLike | None) -> None:
        """Resolve ``weights``, read the file with :meth:`read` and load it strictly into ``network``.

        Raises:
            UnknownNameError: unknown weights name.
            WeightsFormatError: the file does not fit ``network``.
            UnsafeWeightsError: the file tries to run code.
        """
        record, path = self.resolve_weights(weights)
        if record is None and path is None:
            return
        local = self.local_file(record, path, cache_dir)
        _loading.load_strict(network, self.read(local), local)
        self.remember_weights(weights, record, local)

    def remember_weights(self, weights: WeightsArg, record: Weights | None, local: Path) -> None:
        self.weights = record.name if record is not None else str(weights)
        self.weights_meta = record
        self.weights_filename_local = str(local)

    # --- input ---------------------------------------------------------------------------

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Check, resize and range-check ``x``, then repeat its channel to 3.

        Raises:
            ModelInputError: not a ``[B, 1, H, W]`` / ``[1, H, W]`` tensor, or not square.
        """
        x = as_batch(x, 1)
        x = fix_resolution(x, self.input_resolution, self)
        warn_normalization(x, self)
        return x.repeat(1, 3, 1, 1)


def _cache_folder(cache_dir: str | os.PathLike | None) -> Path:
    from ..hub.cache import resolve_cache_dir

    return resolve_cache_dir(cache_dir)


def require_keys(obj: Any, keys: tuple[str, ...], source: object) -> dict[str, Any]:
    """``obj`` as a dict holding ``keys``.

    Raises:
        WeightsFormatError: ``obj`` is not a dict or lacks one of ``keys``.
    """
    if not isinstance(obj, dict):
        raise WeightsFormatError(f"{source} holds a {type(obj).__name__}, expected a dict with {list(keys)}")
    missing = [k for k in keys if k not in obj]
    if missing:
        found = ", ".join(repr(k) for k in list(obj)[:10])
        raise WeightsFormatError(f"{source} lacks {missing} (found: {found}); is it the right file?")
    return obj
