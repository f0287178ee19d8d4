"""What a weight file must contain before the hub accepts it without a published digest.

Only two files of the registry have a published SHA-256 (``all``, ``mimic_ch``). For the
others the hub trusts a file on first use, and only after the content check built here
has read it through the safe loader (no code runs) and found what the record describes:

* a **complete** check (registered with the builder of the record's architecture)
  builds the network and requires every key, every shape and finite values; the first
  copy that passes has its digest recorded and later copies must match it ("recorded on
  first use");
* otherwise the file must at least parse safely as the record's ``file_format`` (a state
  dict, a module pickle, a checkpoint holding tensors, a TorchScript archive, a zip); the
  file is accepted but stays "unverified" and no digest is recorded.

A validator is a function ``(record, path) -> None`` that raises ``WeightsFormatError``
(or ``UnsafeWeightsError``) on a mismatch, registered with the model's builder
(``register_model(..., check_file=...)``, or a builder's ``check_weights_file``; see
:mod:`._builders`).
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import torch

from ..errors import WeightsFormatError
from ..hub.resource import ContentCheck
from ._registry import Weights

def content_check(weights: Weights) -> ContentCheck:
    """The :class:`~xrayvision.hub.ContentCheck` the hub runs on a copy of ``weights``' file.

    Args:
        weights: the registry record.

    Returns:
        The check registered with its architecture's builder (complete when it verifies
        every key and shape), else a check that the file parses safely as its
        ``file_format`` (incomplete).
    """
    from ._builders import registered_entry

    entry = registered_entry(weights.architecture)
    if entry is not None and entry.check_file is not None:
        check = entry.check_file
        return ContentCheck(
            run=lambda path: check(weights, path),
            complete=entry.check_complete,
            description=f"{weights.architecture} keys and shapes" if entry.check_complete else f"a {weights.file_format}",
        )
    return ContentCheck(
        run=lambda path: parses_as_format(weights, path),
        complete=False,
        description=f"parses safely as a {weights.file_format}",
    )


# ------------------------------------------------------------------ complete checks


def _fits(build: Callable[[], torch.nn.Module], path: Path, prefixes: tuple[str, ...]) -> None:
    from . import _loading

    network = build()  # on the CPU: a few tenths of a second ("meta" costs seconds on first use)
    state, _ = _loading.read_file(path)
    _loading.check_state(network, _loading.adapt_keys(state, prefixes), path)


def check_densenet(weights: Weights, path: Path) -> None:
    """The file holds exactly a DenseNet-121's 727 tensors with their shapes (18 outputs)."""
    from .densenet import DenseNet

    _fits(DenseNet, path, ("module.",))


def check_resnet(weights: Weights, path: Path) -> None:
    """The file holds exactly the ResNet-50 classifier's tensors (1 input channel, 18 outputs)."""
    from .resnet import ResNet

    _fits(lambda: ResNet(arch=weights.architecture).model, path, ("module.", "model."))


def check_autoencoder(weights: Weights, path: Path) -> None:
    """The file holds exactly the ResNetAE-101's tensors."""
    from .autoencoder import ResNetAE101

    _fits(ResNetAE101, path, ("module.",))


# ------------------------------------------------------------------ the fallback


def parses_as_format(weights: Weights, path: Path) -> None:
    """Check that ``path`` parses safely as ``weights.file_format`` (not its keys or shapes).

    Raises:
        WeightsFormatError: it does not parse as that format, or holds no tensor.
        UnsafeWeightsError: it asks to run code.
    """
    from ..hub.safe_load import iter_tensors, load_object, load_weights_file, sniff_format

    fmt = weights.file_format
    if fmt in ("pickled-module", "state-dict"):
        load_weights_file(path)
    elif fmt == "torchscript":
        if sniff_format(path) != "torchscript":
            raise WeightsFormatError(f"{path} is not a TorchScript archive, which {weights.name} must be")
    elif fmt == "zip-of-checkpoints":
        try:
            with zipfile.ZipFile(path) as archive:
                empty = not archive.namelist()
        except (zipfile.BadZipFile, OSError) as err:
            raise WeightsFormatError(f"{path} is not a readable zip archive ({err})") from err
        if empty:
            raise WeightsFormatError(f"{path} is an empty zip archive")
    elif next(iter_tensors(load_object(path)), None) is None:
        raise WeightsFormatError(f"{path} holds no tensor: it is not a {fmt} of {weights.name}")
