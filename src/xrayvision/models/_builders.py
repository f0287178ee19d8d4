"""Model builders, registered by decorator: how a weights name becomes a network.

Each model class (or factory) declares the architectures it builds, as torchvision's
``_api.py`` and timm's ``_registry.py`` do::

    @register_model("densenet121", task="classification")
    class DenseNet(nn.Module): ...

A weight set's record (``weights.json``) names its ``architecture``; :func:`get_model`
calls the builder registered for it with ``weights=<name>``. Nothing chooses a class
from a name prefix, and the weight registry (``_registry``) never imports a model.

The modules that hold builders are listed once in :data:`BUILDER_MODULES` and imported
the first time a builder is looked up, so ``import xrayvision.models`` stays light.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..errors import UnknownNameError, WeightsFormatError
from ._registry import Weights, _registry

#: What a model's outputs are, which decides the commands that can use it.
TASKS = ("classification", "regression", "segmentation", "autoencoder")

#: Modules whose import registers builders (core models, then the baselines).
BUILDER_MODULES = (
    "xrayvision.models.densenet",
    "xrayvision.models.resnet",
    "xrayvision.models.autoencoder",
    "xrayvision.models.small_autoencoder",
    "xrayvision.baseline_models.jfhealthcare",
    "xrayvision.baseline_models.chexpert",
    "xrayvision.baseline_models.chestx_det",
    "xrayvision.baseline_models.chestx_anatomy",
    "xrayvision.baseline_models.emory_hiti",
    "xrayvision.baseline_models.mira",
    "xrayvision.baseline_models.riken",
    "xrayvision.baseline_models.xinario",
    "xrayvision.baseline_models.ieee8023",
)

#: ``check_file(record, path)``: parse ``path`` through the safe loader as ``record``'s
#: weights (format, keys, shapes) without building the network in memory; raise
#: :class:`WeightsFormatError` (or :class:`UnsafeWeightsError`) when it does not fit. A
#: builder with a ``check_weights_file(record, path)`` attribute (every baseline) needs
#: no ``check_file`` argument.
FileCheck = Callable[[Weights, Path], None]

_T = TypeVar("_T")


@dataclass(frozen=True)
class ModelEntry:
    """One registered builder.

    Attributes:
        architecture: the ``architecture`` value of the weight records it builds.
        builder: class or function called as ``builder(weights=..., **kwargs)``.
        task: one of :data:`TASKS`.
        check_file: validator of a weight file for this architecture, or None.
        check_complete: whether ``check_file`` verifies every key, shape and value (then a
            file that passes may have its digest recorded on first use).
    """

    architecture: str
    builder: Callable[..., Any]
    task: str
    check_file: FileCheck | None = None
    check_complete: bool = False


_ENTRIES: dict[str, ModelEntry] = {}
_loaded = False
_lock = threading.RLock()  # re-entrant: a builder module may look builders up while importing


def register_model(
    *architectures: str, task: str, check_file: FileCheck | None = None, check_complete: bool | None = None
) -> Callable[[_T], _T]:
    """Class/function decorator: register a builder for ``architectures``.

    Args:
        *architectures: ``architecture`` values of ``weights.json`` records it builds.
        task: what it outputs (one of :data:`TASKS`).
        check_file: validator of weight files for these architectures (see :data:`FileCheck`);
            default: the builder's own ``check_weights_file``, if it has one.
        check_complete: whether that validator checks every key, shape and value
            (default: the builder's ``weights_check_complete``, else True when given).

    Returns:
        The decorator; it returns the builder unchanged.

    Raises:
        ValueError: an unknown task, no architecture, or an architecture registered twice.
    """
    if task not in TASKS:
        raise ValueError(f"task {task!r} is not one of {TASKS}")
    if not architectures:
        raise ValueError("register_model needs at least one architecture name")

    def decorate(builder: _T) -> _T:
        for architecture in architectures:
            known = _ENTRIES.get(architecture)
            if known is not None and known.builder is not builder:
                raise ValueError(f"architecture {architecture!r} is already built by {known.builder!r}")
            check = check_file or getattr(builder, "check_weights_file", None)
            complete = check_complete if check_complete is not None else bool(
                getattr(builder, "weights_check_complete", check_file is not None)
            )
            _ENTRIES[architecture] = ModelEntry(architecture, builder, task, check, check is not None and complete)  # type: ignore[arg-type]
        return builder

    return decorate


def _entries() -> dict[str, ModelEntry]:
    global _loaded
    if not _loaded:
        with _lock:
            if not _loaded:
                for module in BUILDER_MODULES:
                    importlib.import_module(module)
                _loaded = True
    return _ENTRIES


def model_entry(architecture: str) -> ModelEntry:
    """The builder registered for ``architecture``.

    Raises:
        UnknownNameError: no builder builds it.
    """
    entries = _entries()
    try:
        return entries[architecture]
    except KeyError:
        raise UnknownNameError("architecture", architecture, entries) from None


def registered_entry(architecture: str) -> ModelEntry | None:
    """The builder registered for ``architecture``, or None."""
    return _entries().get(architecture)


def resolve_entry(weights: str | os.PathLike | Weights) -> tuple[ModelEntry, Weights | None]:
    """The builder for a ``weights=`` argument: a registry name, a record, or a local file.

    A local file is built by the architecture of the record whose file name it has, else
    the ``architecture`` its xrayvision checkpoint JSON names, else DenseNet-121.

    Raises:
        UnknownNameError: neither a known name nor an existing file.
    """
    from ._loading import weight_set_config, resolve

    record, path = resolve(weights)
    if record is not None:
        return model_entry(record.architecture), record
    config = weight_set_config(path) if path is not None else {}
    architecture = str(config.get("architecture") or "densenet121")
    factory = (config.get("recipe") or {}).get("factory")
    if architecture not in _entries():
        # Importing and calling code named in a JSON file would let a weight file run code.
        built_by = f"the factory {factory!r} with options {config['recipe'].get('options', {})}" if factory else (
            f"the architecture {architecture!r}, which no registered builder builds")
        raise WeightsFormatError(
            f"{path} holds a network built by {built_by}; build that network yourself and load the weights with "
            f"xrv.models.load_weight_set({str(path)!r}, model)"
        )
    return model_entry(architecture), None


def get_model(name: str | os.PathLike | Weights, **kwargs: Any) -> Any:
    """Build the pre-trained model for a weight set (weights downloaded on first use).

    Every registered weight set works: the core classifiers (short aliases such as
    ``"all"`` too), the autoencoder, and the baselines (``"jfhealthcare"``, ``"mira"``,
    ``"chestx_det"``, ...). A local weight file is accepted as well.

    Args:
        name: a name from :func:`list_models`, a :class:`Weights`, or a local file.
        **kwargs: passed to the builder (``apply_sigmoid``, ``cache_dir``, ...).

    Returns:
        The model, in eval mode.

    Raises:
        UnknownNameError: ``name`` is neither a registered weight set nor a file.
    """
    try:
        entry, _ = resolve_entry(name)
    except UnknownNameError:
        raise UnknownNameError("model", name, list_models()) from None
    return entry.builder(weights=name, **kwargs)


def list_models(task: str | None = None) -> list[str]:
    """Names :func:`get_model` accepts (aliases included), in registry order.

    Args:
        task: keep only models of this task (``"classification"``, ``"segmentation"``, ...).
    """
    entries = _entries()
    by_name, _ = _registry()
    names = []
    for name, weights in by_name.items():
        entry = entries.get(weights.architecture)
        if entry is not None and (task is None or entry.task == task):
            names.append(name)
    return names


def check_weights_file(weights: str | Weights, path: str | os.PathLike) -> None:
    """Check that ``path`` parses as the weights of ``weights``' record (format, keys, shapes).

    Nothing in the file runs and the network is not built in memory. Usable as the
    hub's validator before a digest is recorded on first use.

    Args:
        weights: a registry name or record.
        path: the file to check.

    Raises:
        WeightsFormatError: the file is not these weights.
        UnsafeWeightsError: the file tries to run code.
    """
    from . import _registry as registry
    from ._loading import read_file

    record = registry.get_weights(weights)
    path = Path(path)
    entry = _entries().get(record.architecture)
    if entry is not None and entry.check_file is not None:
        entry.check_file(record, path)
        return
    state, _ = read_file(path)  # at least a readable, code-free state dict
    if not state:
        raise WeightsFormatError(f"{path} holds no tensors; it is not {record.name!r} weights")


__all__ = ["ModelEntry", "TASKS", "check_weights_file", "get_model", "list_models", "model_entry", "register_model"]
