"""From a ``weights=`` argument to tensors loaded strictly into a network.

``weights=`` may be a registry name, a :class:`Weights` record, or a local file: an
official release file (whole pickled module or state dict, read by the hub's safe
loader, never by unrestricted unpickling) or an xrayvision safetensors checkpoint.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import UnknownNameError, WeightsFormatError, WeightsNotFoundError
from ._registry import Weights, _registry

#: Pre-2019 torchvision pickles name dense-layer children ``norm.1`` instead of ``norm1``.
_LEGACY_LAYER_KEY = re.compile(r"(denselayer\d+\.(?:norm|relu|conv))\.(\d)")


def resolve(weights: str | os.PathLike | Weights) -> tuple[Weights | None, Path | None]:
    """Split a ``weights=`` argument into (registry record, local file).

    A local file whose name is a release file name (e.g. a manually downloaded
    ``nih-pc-...-best.pt``) gets that record's labels, thresholds and resolution.

    Raises:
        WeightsNotFoundError: a path (a folder in it or a weight-file suffix) that does not exist.
        UnknownNameError: neither a registry name nor an existing file.
    """
    if isinstance(weights, Weights):
        return weights, None
    by_name, records = _registry()
    if isinstance(weights, str) and weights in by_name:
        return by_name[weights], None
    if isinstance(weights, (str, os.PathLike)) and Path(weights).expanduser().is_file():
        path = Path(weights).expanduser()
        if path.suffix == ".json" and path.with_suffix(".safetensors").is_file():
            path = path.with_suffix(".safetensors")
        match = next((w for w in records if w.filename == path.name), None)
        return match, path
    if _looks_like_a_path(weights):
        raise WeightsNotFoundError(
            f"weights file {str(weights)!r} does not exist; check the path (registry names, which "
            "`xrv weights list` shows, have no folder or file suffix)"
        )
    raise UnknownNameError("weights", weights, by_name)


#: Suffixes of weight files (a name ending so is a path, not a registry name).
_WEIGHT_SUFFIXES = {".pt", ".pth", ".tar", ".ckpt", ".bin", ".safetensors", ".json", ".zip", ".onnx"}


def _looks_like_a_path(weights: object) -> bool:
    if isinstance(weights, os.PathLike):
        return True
    text = str(weights)
    return "/" in text or os.sep in text or Path(text).suffix.lower() in _WEIGHT_SUFFIXES


def fetch_file(weights: Weights, cache_dir: str | os.PathLike | None = None, *, progress: bool | None = None) -> Path:
    """The local path of ``weights``' file: the cached copy, downloaded and checked if needed.

    A file without a published digest is accepted only after its content passed
    :func:`~xrayvision.models._validate.content_check` (see ``xrv weights info NAME``).
    """
    from .. import hub
    from ._validate import content_check

    if weights.url is None:
        raise WeightsFormatError(
            f"weights {weights.name!r} are not downloadable: supply the file yourself "
            f"({weights.extra.get('download_page', 'see the model documentation')})"
        )
    return Path(hub.fetch(weights.resource(), cache_dir=cache_dir, progress=progress, check=content_check(weights)))


def read_file(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a weight file without executing code.

    Returns:
        (state dict, config); the config is empty for official release files and holds
        ``labels``/``op_threshs``/``input_resolution``/``architecture`` for checkpoints
        written by :func:`save_model` (``<base>.safetensors`` + ``<base>.json``).
    """
    from .. import hub

    if path.suffix in (".safetensors", ".json") and path.with_suffix(".json").is_file():
        state, config = hub.load_checkpoint(path)
        return dict(state), dict(config or {})
    return dict(hub.load_weights_file(path)), {}


def weight_set_config(path: Path) -> dict[str, Any]:
    """The JSON record of an xrayvision weight set (``<base>.json`` beside ``<base>.safetensors``),
    or ``{}`` for any other file (official release files carry no record)."""
    import json

    record = path.with_suffix(".json")
    if path.suffix == ".safetensors" and not record.is_file() and _written_by_xrayvision(path):
        raise WeightsFormatError(
            f"{path} is an xrayvision weight set without its record {record.name} (labels, resolution, "
            "thresholds): copy both files"
        )
    if path.suffix not in (".safetensors", ".json") or not record.is_file():
        return {}
    try:
        config = json.loads(record.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise WeightsFormatError(f"{record}: not valid JSON: {err}") from err
    return config if isinstance(config, dict) else {}


def _written_by_xrayvision(path: Path) -> bool:
    """Whether a safetensors file was written by :func:`~xrayvision.hub.save_checkpoint`
    (whose header keeps the state dict's key order)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return "key_order" in (handle.metadata() or {})
    except (SafetensorError, OSError):
        return False  # not ours to judge: the loader reports an unreadable file


def read_wrapped_state(path: Path, entry: str) -> dict[str, torch.Tensor]:
    """The state dict stored under ``entry`` of a checkpoint dict, read without running code.

    For Lightning checkpoints (``entry="state_dict"``: their other entries name Lightning
    classes the user need not have) and training checkpoints. A file that is already a
    flat state dict is returned as it is.

    Raises:
        WeightsFormatError: the file holds neither.
    """
    from ..hub.safe_load import as_state_dict, load_object

    loaded = load_object(path)
    if isinstance(loaded, dict) and isinstance(loaded.get(entry), dict):
        return as_state_dict(loaded[entry], f"{path} [{entry!r}]")
    if isinstance(loaded, dict) and loaded and all(isinstance(v, torch.Tensor) for v in loaded.values()):
        return as_state_dict(loaded, path)
    keys = ", ".join(repr(k) for k in list(loaded)[:10]) if isinstance(loaded, dict) else type(loaded).__name__
    raise WeightsFormatError(
        f"{path} has no {entry!r} entry holding a state dict (found: {keys}); is it the right file?"
    )


def strip_prefix(state: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """``state`` with one leading ``prefix`` removed from every key that has it."""
    return {(k[len(prefix) :] if k.startswith(prefix) else k): v for k, v in state.items()}


def adapt_keys(state: Mapping[str, torch.Tensor], prefix_to_strip: tuple[str, ...] = ("module.",)) -> dict[str, torch.Tensor]:
    """Normalise historical key spellings: DataParallel ``module.`` prefixes, legacy
    ``norm.1``-style dense-layer names, and the ``op_threshs`` buffer of a saved
    reference model (thresholds come from the registry, not the file)."""
    adapted: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        for prefix in prefix_to_strip:
            if key.startswith(prefix):
                key = key[len(prefix) :]
        if key == "op_threshs":
            continue
        adapted[_LEGACY_LAYER_KEY.sub(r"\1\2", key)] = value
    return adapted


def load_strict(module: torch.nn.Module, state: Mapping[str, Any], source: object) -> None:
    """:func:`check_state` against ``module``, then ``load_state_dict(strict=True)``.

    Raises:
        WeightsFormatError: missing/unexpected keys, wrong shapes, or non-finite values.
    """
    module.load_state_dict(check_state(module, state, source), strict=True)


def _prefix_hint(missing: list[str], unexpected: list[str]) -> str:
    """"; the file's keys carry an extra prefix 'module.'" (or lack one) when a prefix
    explains most of the mismatch."""
    for extra, lacking in ((unexpected, missing), (missing, unexpected)):
        if extra and lacking and extra[0].endswith("." + lacking[0]):
            prefix = extra[0][: -len(lacking[0])]
            stripped = {k[len(prefix) :] for k in extra if k.startswith(prefix)}
            if sum(k in stripped for k in lacking) >= 0.9 * len(lacking):
                where = "carry" if extra is unexpected else "lack"
                return f"; the file's keys {where} an extra prefix {prefix!r}"
    return ""


def check_state(module: torch.nn.Module, state: Mapping[str, Any], source: object) -> dict[str, Any]:
    """Check that ``state`` fits ``module`` exactly: keys, shapes, finite values.

    ``module`` may live on the ``meta`` device (no memory): validating a file needs only
    the shapes. Missing ``num_batches_tracked`` counters (absent from some old files) are
    filled with 0; every other difference is an error that lists what is wrong.

    Args:
        module: the target network.
        state: the tensors read from the file.
        source: the file, for messages.

    Returns:
        ``state`` completed with the missing counters.

    Raises:
        WeightsFormatError: missing/unexpected keys, wrong shapes, or non-finite values.
    """
    expected = module.state_dict()
    state = dict(state)
    for key in expected:
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = torch.zeros((), dtype=torch.long)
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        raise WeightsFormatError(
            f"{source}: the file does not fit {type(module).__name__} "
            f"({len(missing)} missing keys, e.g. {missing[:3]}; {len(unexpected)} unexpected keys, "
            f"e.g. {unexpected[:3]}){_prefix_hint(missing, unexpected)}; is it the right file for this architecture?"
        )
    for key, reference in expected.items():
        value = state[key]
        if not isinstance(value, torch.Tensor):
            raise WeightsFormatError(f"{source}: entry {key!r} is a {type(value).__name__}, not a tensor")
        if value.shape != reference.shape:
            raise WeightsFormatError(
                f"{source}: entry {key!r} has shape {list(value.shape)}, expected {list(reference.shape)}"
            )
    bad = _first_non_finite({key: state[key] for key in expected})
    if bad is not None:
        raise WeightsFormatError(f"{source}: entry {bad!r} contains NaN or infinite values; the file is damaged")
    return state


def _first_non_finite(tensors: Mapping[str, torch.Tensor]) -> str | None:
    """The first key whose tensor holds NaN or infinity, or None.

    NumPy does the test: a thousand small torch reductions cost seconds on a busy machine
    (thread start-up per call), NumPy's single-threaded ones a few milliseconds in all.
    """
    for key, value in tensors.items():
        if not value.is_floating_point():
            continue
        value = value.detach().cpu()
        if value.dtype == torch.bfloat16:  # NumPy has no bfloat16
            value = value.float()
        if not np.isfinite(value.numpy()).all():
            return key
    return None


def load_into(
    module: torch.nn.Module,
    weights: Weights | None,
    path: Path | None,
    cache_dir: str | os.PathLike | None,
    prefix_to_strip: tuple[str, ...] = ("module.",),
) -> tuple[Path, dict[str, Any]]:
    """Fetch (if needed), read and strictly load weights into ``module``.

    Returns:
        (local file path, checkpoint metadata).
    """
    if path is None:
        assert weights is not None
        path = fetch_file(weights, cache_dir)
    state, metadata = read_file(path)
    load_strict(module, adapt_keys(state, prefix_to_strip), path)
    return path, metadata


def model_metadata(model: torch.nn.Module) -> dict[str, Any]:
    """What a checkpoint must remember to rebuild ``model``'s outputs exactly."""
    thresholds = getattr(model, "op_threshs", None)
    return {
        "architecture": getattr(model, "architecture", type(model).__name__.lower()),
        "weights": getattr(model, "weights", None) if isinstance(getattr(model, "weights", None), str) else None,
        "labels": list(getattr(model, "targets", []) or []),
        "op_threshs": None if thresholds is None else [None if t != t else t for t in thresholds.tolist()],
        "input_resolution": getattr(model, "input_resolution", None),
        "architecture_options": dict(getattr(model, "build_options", None) or {}),
    }


def load_weight_set(path: str | os.PathLike, model: torch.nn.Module) -> torch.nn.Module:
    """Load an xrayvision weight set into a network you built (e.g. one trained from a
    ``model.factory``): strictly, then set ``targets`` and ``input_resolution`` from its record.

    Args:
        path: the weight set (``.safetensors`` or its ``.json``).
        model: a network with exactly the weight set's parameters.

    Returns:
        ``model``, in eval mode.

    Raises:
        FileNotFoundError: one of the two files is missing.
        WeightsFormatError: the tensors do not fit ``model`` (the message lists the keys).
    """
    from .. import hub

    state, config = hub.load_checkpoint(path)
    load_strict(model, state, path)
    if config.get("labels"):
        model.targets = list(config["labels"])
    if config.get("input_resolution"):
        model.input_resolution = int(config["input_resolution"])
    return model.eval()


def save_model(model: torch.nn.Module, path: str | os.PathLike, **record: Any) -> Path:
    """Save ``model`` as an xrayvision weight set (``<path>.safetensors`` + ``<path>.json``).

    ``xrv.models.get_model(path)``, ``DenseNet(weights=path)``, ``ResNet(weights=path)``,
    ``xrv predict --weights path`` and ``xrv evaluate --weights path`` rebuild the same
    model (architecture, labels, thresholds, resolution) without any pickle.

    Args:
        model: a library classifier (its labels, thresholds and resolution are recorded).
        path: base path; ``.safetensors`` and ``.json`` are added.
        **record: further fields of the JSON record (``training_data``, ``licence``,
            ``description``, ``ppv80_thres``, ...).

    Returns:
        The path of the tensor file.
    """
    from .. import hub

    state = {k: v for k, v in model.state_dict().items() if k != "op_threshs"}
    weights_file, _ = hub.save_checkpoint(state, path, {**model_metadata(model), **record})
    return Path(weights_file)
