"""RIKEN's age regression model (Ieki et al., Communications Medicine 2022; Apache-2.0).

The published file is a TorchScript archive (a SENet-154 traced to fp32); the network is
not re-implemented. TorchScript is code, so it is loaded only when its SHA-256 is pinned
by the registry or the user has trusted this exact file once: pass
``AgeModel(trust_torchscript=True)`` or run ``xrv weights import FILE --name riken --trust``. The
trust is recorded per content in the cache folder (:mod:`xrayvision.hub.trust`); a
changed file is refused again. The model is loaded to the CPU and put in eval mode (the
reference did neither). Spec models.md §8.7.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch

from ..errors import UnsafeWeightsError, WeightsFormatError
from ..hub import trust
from ..hub.cache import sha256sum
from ..hub.safe_load import is_torchscript
from ..models._builders import register_model
from ..models._registry import Weights
from ._base import BaselineModel, WeightsArg, imagenet_normalize

TARGETS = ["Age"]


def load_trusted_torchscript(
    path: Path, record: Weights | None, cache_dir: str | os.PathLike | None, trust_now: bool
) -> torch.jit.ScriptModule:
    """Load a TorchScript file if its digest is pinned or trusted (or ``trust_now`` trusts it).

    Raises:
        WeightsFormatError: ``path`` is not a TorchScript archive.
        UnsafeWeightsError: neither pinned nor trusted, and ``trust_now`` is False; the
            message says how to trust it.
    """
    if not is_torchscript(path):
        raise WeightsFormatError(f"{path} is not a TorchScript archive (the age model is published as one)")
    digest = sha256sum(path)
    pinned = record is not None and record.sha256 == digest
    if not pinned and not trust.is_trusted(digest, cache_dir):
        if not trust_now:
            source = f" (from {record.url})" if record is not None and record.url else ""
            name = record.name if record is not None else "riken"
            raise UnsafeWeightsError(
                f"{path}{source} is a TorchScript archive: code that runs when it is loaded. Its SHA-256 "
                f"{digest} is not pinned by xrayvision and you have not trusted it. If you trust this "
                f"file, run `xrv weights import {path} --name {name} --trust` once, or pass "
                "AgeModel(trust_torchscript=True); it then loads for as long as its content is unchanged"
            )
        trust.trust_file(path, cache_dir, digest=digest)
    with warnings.catch_warnings():
        # torch 2.13 deprecates TorchScript; the published model exists only in that form.
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.load(str(path), map_location="cpu")


@register_model("riken-torchscript", task="regression")
class AgeModel(BaselineModel):
    """Age in years (``targets``: Age) from a 320 px image. Reported MAE 3.67 years (NIH).

    Usage::

        model = xrv.baseline_models.riken.AgeModel(trust_torchscript=True)  # first time only
        years = model(img)                    # [B, 1]

    Input ``[B, 1, H, W]`` in [-1024, 1024] (square; resized to 320), mapped to [0, 1]
    and normalised with ImageNet statistics.

    Args:
        weights: ``"riken"`` (default) or a local TorchScript file.
        cache_dir: folder for downloaded weights and the trust record.
        trust_torchscript: trust (and record) this file's content if it is not trusted yet.

    Raises:
        UnsafeWeightsError: the file is neither pinned nor trusted (says how to trust it).
        WeightsFormatError: the file is not a TorchScript archive.
        WeightsFormatError: ``weights=False``: this model exists only as the published file.
    """

    targets = TARGETS
    input_resolution = 320
    architecture = "riken-torchscript"
    default_weights = "riken"
    output_modes = ("years",)

    weights_check_complete = False  # see check_weights_file

    @classmethod
    def check_weights_file(cls, record: Weights, path: Path) -> None:
        """Validator: the file is a TorchScript archive (it is not loaded: that would run it)."""
        if not is_torchscript(path):
            raise WeightsFormatError(f"{path} is not a TorchScript archive; it is not the {record.name!r} model")

    def __init__(
        self, weights: WeightsArg = True, *, cache_dir: str | os.PathLike | None = None, trust_torchscript: bool = False
    ):
        super().__init__()
        record, path = self.resolve_weights(weights)
        if record is None and path is None:
            raise WeightsFormatError("the age model has no untrained form: its network ships only as the TorchScript file")
        local = self.local_file(record, path, cache_dir)
        self.model = load_trusted_torchscript(local, record, cache_dir, trust_torchscript)
        self.remember_weights(weights, record, local)
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Age in years ``[B, 1]`` for ``[B, 1, H, W]`` images in [-1024, 1024]."""
        return self.model(imagenet_normalize(self.prepare(x)))

    def __repr__(self) -> str:
        return "riken-age-prediction"


__all__ = ["AgeModel", "TARGETS", "load_trusted_torchscript"]
