"""The training state on disk: everything needed to continue a run exactly.

A state file holds the model, optimiser, scheduler and gradient-scaler states, the step
reached, the best validation result so far, every random generator the loop uses, and
the fingerprint of the configuration it was made with. It is written to a temporary file
in the same folder, flushed to disk, then renamed: a crash or a full disk leaves the
previous state intact and never a half-written one under the final name. It is read back
with ``torch.load(weights_only=True)``: nothing in it can run code.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import TrainingError

FORMAT = "xrayvision-train-state"
VERSION = 1


def capture_rng(device: torch.device) -> dict[str, Any]:
    """The states of torch's (and CUDA's), NumPy's and Python's global generators,
    as tensors and plain values (loadable with ``weights_only=True``)."""
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.random.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(position),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
    }  # fmt: skip
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_rng(state: dict[str, Any], device: torch.device) -> None:
    """Put back the generator states of :func:`capture_rng`."""
    torch.random.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss_next"]))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def fingerprint(settings: dict[str, Any]) -> str:
    """A short digest of the settings a resumed run must share with the original."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` atomically to ``path``.

    Raises:
        TrainingError: the file cannot be written (a full disk, no permission: an ``OSError``,
            or a ``RuntimeError`` from torch's writer); the previous state file, if any, is
            untouched and no partial file remains.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as handle:
            torch.save({"format": FORMAT, "version": VERSION, **state}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as err:  # torch's zip writer reports a full disk as a RuntimeError
        tmp.unlink(missing_ok=True)
        reason = str(err) if isinstance(err, OSError) else f"the disk is probably full; torch said: {err}"
        kept = f"the previous state {path} is intact" if path.exists() else "no earlier state was written"
        raise TrainingError(
            f"could not write the training state {path}: {reason}; {kept}. Free some space (or point "
            "run.out at a larger disk) and resume with --resume"
        ) from err


def load_state(path: Path) -> dict[str, Any]:
    """Read a state written by :func:`save_state`.

    Raises:
        TrainingError: unreadable, or not an xrayvision training state.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many kinds for damaged files
        raise TrainingError(f"{path} is not a readable training state ({err}); delete it to restart the run") from err
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise TrainingError(f"{path} is not an xrayvision training state")
    if state.get("version") != VERSION:
        raise TrainingError(f"{path} was written by an incompatible xrayvision (state version {state.get('version')})")
    return state
