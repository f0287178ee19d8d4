"""xrayvision's own checkpoint format: tensors in safetensors, settings in JSON.

``save_checkpoint(model, "run/best", config)`` writes ``run/best.safetensors`` (tensors
only: nothing in it can run code) and ``run/best.json`` (the configuration a model needs
to be rebuilt: architecture, weights name, labels, op_threshs, resolution, plus the
xrayvision version and the SHA-256 of the tensor file, so a JSON file can never be paired
with the wrong tensors). Both files are written to temporary names and renamed.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

import torch

from .._atomic import write_atomic
from .._version import __version__
from ..errors import ChecksumError, WeightsFormatError
from .cache import sha256sum

_SUFFIXES = (".safetensors", ".json")


def _base(path: str | os.PathLike[str]) -> Path:
    base = Path(path).expanduser()
    if base.suffix in _SUFFIXES:
        base = base.with_suffix("")
    return base


def _jsonable(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return _jsonable(value.detach().cpu().tolist())
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy arrays / scalars
        return _jsonable(value.tolist())
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return value  # written as NaN (Python's JSON extension), read back as NaN
    return value


def save_checkpoint(
    model_or_state_dict: torch.nn.Module | dict[str, torch.Tensor],
    path: str | os.PathLike[str],
    config: dict[str, Any],
) -> tuple[Path, Path]:
    """Write ``<path>.safetensors`` and ``<path>.json`` atomically.

    Args:
        model_or_state_dict: a module (its ``state_dict()`` is saved) or a state dict.
        path: base path; a ``.safetensors`` / ``.json`` suffix is ignored.
        config: JSON-serialisable settings (tensors and arrays become lists), e.g.
            ``architecture``, ``weights``, ``labels``, ``op_threshs``, ``resolution``.

    Returns:
        The tensor file and the JSON file paths.

    Raises:
        TypeError: the config cannot be written as JSON, or a value is not a tensor.
    """
    from safetensors.torch import save

    state = (
        model_or_state_dict.state_dict()
        if isinstance(model_or_state_dict, torch.nn.Module)
        else model_or_state_dict
    )
    tensors: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"state dict entry {key!r} is a {type(value).__name__}, not a tensor")
        # A private contiguous copy: safetensors refuses tensors that share memory.
        tensors[key] = value.detach().to("cpu").clone().contiguous()
    base = _base(path)
    base.parent.mkdir(parents=True, exist_ok=True)
    weights_file, config_file = base.with_suffix(".safetensors"), base.with_suffix(".json")
    # safetensors sorts its keys; keep state_dict() order for loaders and readers.
    payload = save(tensors, metadata={"key_order": json.dumps(list(tensors))})
    document = {**_jsonable(dict(config)), "xrayvision_version": __version__,
                "weights_sha256": hashlib.sha256(payload).hexdigest()}  # fmt: skip
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"  # fails before any file is written
    # The tensors first: a JSON file is only ever beside the tensors its digest names.
    write_atomic(weights_file, payload)
    write_atomic(config_file, text.encode("utf-8"))
    return weights_file, config_file


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Args:
        path: base path (with or without the ``.safetensors`` / ``.json`` suffix).

    Returns:
        ``(state_dict, config)``; ``config`` includes ``xrayvision_version``.

    Raises:
        FileNotFoundError: one of the two files is missing.
        ChecksumError: the JSON file belongs to other tensors than the ones beside it.
        WeightsFormatError: a file is unreadable.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    base = _base(path)
    weights_file, config_file = base.with_suffix(".safetensors"), base.with_suffix(".json")
    for needed in (weights_file, config_file):
        if not needed.is_file():
            raise FileNotFoundError(f"checkpoint file {needed} does not exist (written by save_checkpoint?)")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise WeightsFormatError(f"{config_file}: not valid JSON: {err}") from err
    expected = config.get("weights_sha256")
    if expected is not None and sha256sum(weights_file) != expected:
        raise ChecksumError(
            f"{weights_file} does not match the digest recorded in {config_file}; the two files "
            "come from different saves"
        )
    try:
        state = dict(load_file(str(weights_file), device="cpu"))
        with safe_open(str(weights_file), framework="pt") as handle:
            order = json.loads((handle.metadata() or {}).get("key_order", "[]"))
    except Exception as err:
        raise WeightsFormatError(f"{weights_file}: unreadable safetensors file: {err}") from err
    if sorted(order) == sorted(state):
        state = {key: state[key] for key in order}
    return state, config
