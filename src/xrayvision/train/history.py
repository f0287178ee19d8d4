"""The run's record: one JSON object per line in ``metrics.jsonl``, and its curves as PNG.

Lines are appended as the run goes; a resumed run first drops the lines written after
the step it resumes from, so the file never holds a step twice. A write that fails (a full
disk) raises ``OSError`` and leaves the files as they were: no half line, no temporary file.
"""

from __future__ import annotations

import io
import json
import math
import os
from pathlib import Path
from typing import Any

from .._atomic import write_atomic


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # strict JSON: NaN and inf become null
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


class MetricsLog:
    """Append-only JSONL log of training and validation records.

    Args:
        path: the ``metrics.jsonl`` file.
    """

    def __init__(self, path: Path):
        self.path = path

    def read(self) -> list[dict[str, Any]]:
        """Every record so far (an absent file is an empty log)."""
        if not self.path.exists():
            return []
        records = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line:
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    break  # a line cut by a crash: everything after it is dropped
        return records

    def truncate_after(self, step: int) -> list[dict[str, Any]]:
        """Keep the records of steps up to ``step`` (resume); returns them."""
        kept = [r for r in self.read() if int(r.get("step", 0)) <= step]
        write_atomic(self.path, "".join(json.dumps(r) + "\n" for r in kept).encode("utf-8"))
        return kept

    def append(self, record: dict[str, Any]) -> None:
        """Add one record; on failure the file is cut back to its earlier length (no half line)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(_clean(record)) + "\n").encode("utf-8")
        # Unbuffered: a failed write leaves nothing in a buffer for close() to write later.
        with open(self.path, "ab", buffering=0) as handle:
            size = handle.seek(0, os.SEEK_END)
            try:
                rest = memoryview(line)
                while rest:
                    rest = rest[handle.write(rest):]
            except OSError:
                handle.truncate(size)
                raise


def plot_curves(records: list[dict[str, Any]], path: Path) -> Path | None:
    """Training loss over steps and validation AUC over epochs, as one PNG.

    Uses matplotlib's object API (no pyplot, no global backend change). Written to a
    temporary file and renamed (removed again if the write fails).

    Returns:
        The PNG path, or None when there is nothing to plot yet.
    """
    from matplotlib.figure import Figure

    train = [r for r in records if r.get("kind") == "train" and r.get("loss") is not None]
    valid = [r for r in records if r.get("kind") == "valid"]
    if not train and not valid:
        return None
    figure = Figure(figsize=(11, 4), dpi=100)
    loss_axes, auc_axes = figure.subplots(1, 2)
    if train:
        loss_axes.plot([r["step"] for r in train], [r["loss"] for r in train], lw=1)
    loss_axes.set(title="training loss", xlabel="step", ylabel="masked BCE")
    if valid:
        steps = [r["step"] for r in valid]
        names = sorted({name for r in valid for name in (r.get("auc") or {})})
        for name in names:
            values = [(r.get("auc") or {}).get(name) for r in valid]
            auc_axes.plot(steps, [math.nan if v is None else v for v in values], lw=0.8, alpha=0.6, label=name)
        means = [math.nan if r.get("mean_auc") is None else r["mean_auc"] for r in valid]
        auc_axes.plot(steps, means, color="black", lw=2.2, marker="o", label="mean")
        auc_axes.legend(fontsize=6, ncol=2, loc="lower right")
    auc_axes.set(title="validation ROC AUC", xlabel="step", ylabel="AUC", ylim=(0.3, 1.0))
    figure.tight_layout()
    image = io.BytesIO()  # drawn in memory: only the bytes meet the disk, atomically
    figure.savefig(image, format="png")
    return write_atomic(path, image.getvalue())
