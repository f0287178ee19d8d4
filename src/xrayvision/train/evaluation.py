"""Score models on datasets: per-pathology ROC AUC with bootstrap intervals, across datasets.

Usage::

    results = xrv.train.evaluate_model(model, {"nih": d_nih, "pc": d_pc})
    print(results.markdown())

Every dataset's labels are matched to the model's outputs by name, so an output is only
ever compared with the label of the same name; outputs the model was never trained on
(``""`` in its targets) are left out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from . import distributed
from .inference import predict_dataset
from .metrics import auc_per_task, bootstrap_auc


def scoring_mode(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` set to give plain probabilities (no calibration, one sigmoid), when it
    has the library's output switches; other modules are returned as they are."""
    if hasattr(model, "op_threshs"):
        model.op_threshs = None
    if hasattr(model, "apply_sigmoid"):
        model.apply_sigmoid = True
    return model


def labels_as(labels: np.ndarray, pathologies: Sequence[str], names: Sequence[str]) -> np.ndarray:
    """``labels`` (one column per name of ``pathologies``) as one column per name of
    ``names``: the column of the same name, or NaN (unknown) where the data has none.

    Any dataset works, merged ones included: nothing is relabelled.
    """
    position = {name: j for j, name in enumerate(pathologies) if name}
    out = np.full((len(labels), len(names)), np.nan, dtype=np.float32)
    for k, name in enumerate(names):
        if name in position:
            out[:, k] = labels[:, position[name]]
    return out


def label_notes(dataset_name: str, labels: np.ndarray, names: Sequence[str], pathologies: Sequence[str]) -> list[str]:
    """Why some AUCs of ``dataset_name`` are missing: labels it lacks, labels with one class."""
    notes = []
    labelled = set(pathologies)
    absent = [name for name in names if name not in labelled]
    if absent:
        notes.append(f"{dataset_name} labels none of {', '.join(absent)}")
    for k, name in enumerate(names):
        if name in absent:
            continue
        column = labels[:, k]
        positives, negatives = int((column == 1).sum()), int((column == 0).sum())
        if not (positives and negatives):
            notes.append(f"{dataset_name}: {name} has {positives} positive and {negatives} negative image(s): no AUC")
    return notes


@dataclass
class Evaluation:
    """AUCs of one or more models on one or more datasets.

    Attributes:
        table: one row per (model, dataset, pathology): ``auc``, ``low``, ``high``
            (bootstrap interval), ``positives``, ``negatives``.
        curves: ``{(model, dataset): (outputs, labels, names)}`` for ROC plots.
        notes: why AUCs are missing (a label a dataset lacks, a label with one class).
    """

    table: pd.DataFrame
    curves: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, list[str]]]
    notes: list[str] = field(default_factory=list)

    def wide(self) -> pd.DataFrame:
        """One row per (model, dataset), one column per pathology: ``"0.812 (0.790-0.833)"``."""
        def cell(row: pd.Series) -> str:
            if math.isnan(row["auc"]):
                return "-"
            if math.isnan(row["low"]):  # no bootstrap interval
                return f"{row['auc']:.3f}"
            return f"{row['auc']:.3f} ({row['low']:.3f}-{row['high']:.3f})"

        frame = self.table.assign(cell=self.table.apply(cell, axis=1))
        order = list(dict.fromkeys(self.table["pathology"]))
        wide = frame.pivot_table(index=["model", "dataset"], columns="pathology", values="cell", aggfunc="first", sort=False)
        means = self.table.groupby(["model", "dataset"], sort=False)["auc"].mean()
        wide = wide.reindex(columns=order).fillna("-")
        wide.insert(0, "mean AUC", [f"{means.loc[i]:.3f}" for i in wide.index])
        return wide.reset_index()

    def markdown(self) -> str:
        """The wide table in Markdown (the form of the reference's benchmark tables)."""
        wide = self.wide()
        header = "| " + " | ".join(wide.columns) + " |"
        rule = "|" + "|".join("---" for _ in wide.columns) + "|"
        rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in wide.itertuples(index=False)]
        return "\n".join([header, rule, *rows]) + "\n"

    def save(self, folder: str | Path) -> dict[str, Path]:
        """Write ``auc.csv`` (long), ``auc.md`` (wide) and one ``roc-<model>-<dataset>.png`` per pair."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = {"csv": folder / "auc.csv", "markdown": folder / "auc.md"}
        self.table.to_csv(written["csv"], index=False)
        written["markdown"].write_text(self.markdown(), encoding="utf-8")
        for (model, dataset), (outputs, labels, names) in self.curves.items():
            path = folder / f"roc-{_slug(model)}-{_slug(dataset)}.png"
            if plot_roc(outputs, labels, names, f"{model} on {dataset}", path):
                written[f"roc {model} {dataset}"] = path
        return written


def _slug(text: str) -> str:
    """A file-name-safe form of the whole name (two runs' ``best.safetensors`` stay apart)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(text).strip("/"))[-100:]


def plot_roc(outputs: np.ndarray, labels: np.ndarray, names: list[str], title: str, path: Path) -> bool:
    """ROC curves of every pathology with both classes; False when none has."""
    from matplotlib.figure import Figure
    from sklearn.metrics import roc_auc_score, roc_curve

    figure = Figure(figsize=(6, 6), dpi=100)
    axes = figure.subplots()
    drawn = 0
    for j, name in enumerate(names):
        known = ~np.isnan(labels[:, j])
        y = labels[known, j]
        if not 0 < y.sum() < len(y):
            continue
        fpr, tpr, _ = roc_curve(y, outputs[known, j])
        axes.plot(fpr, tpr, lw=1, label=f"{name} ({roc_auc_score(y, outputs[known, j]):.3f})")
        drawn += 1
    if not drawn:
        return False
    axes.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    axes.set(title=title, xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1))
    axes.legend(fontsize=6, loc="lower right")
    figure.tight_layout()
    figure.savefig(path)
    return True


def evaluate_model(
    model: torch.nn.Module,
    datasets: Mapping[str, Any],
    *,
    name: str = "model",
    context: distributed.Context | None = None,
    batch_size: int = 32,
    workers: int = 0,
    bootstrap: int = 1000,
    seed: int = 0,
    progress: bool = False,
) -> Evaluation:
    """AUC of each pathology of ``model`` on each dataset, with 95 % bootstrap intervals.

    Args:
        model: a classifier with ``targets`` (its label of each output); scored as is
            (use :func:`scoring_mode` for plain probabilities; AUC depends only on order).
        datasets: ``{name: dataset}``; their labels are matched to the model's by name.
        name: the model's name in the table.
        context: process context (several processes score shards; all get the result).
        batch_size, workers: inference settings.
        bootstrap: resamples per interval (0: no interval).
        seed: seed of the resampling.
        progress: show progress bars.

    Returns:
        An :class:`Evaluation`.
    """
    labels_of_model = list(getattr(model, "targets", None) or getattr(model, "pathologies", []))
    columns = [j for j, label in enumerate(labels_of_model) if label]  # untrained slots are left out
    names = [labels_of_model[j] for j in columns]
    rows, curves, notes = [], {}, []
    for dataset_name, dataset in datasets.items():
        outputs, labels = predict_dataset(model, dataset, context, batch_size=batch_size, workers=workers,
                                          progress=progress, description=f"{name} on {dataset_name}")  # fmt: skip
        outputs, labels = outputs[:, columns], labels_as(labels, dataset.pathologies, names)
        notes += label_notes(dataset_name, labels, names, dataset.pathologies)
        if bootstrap:
            scores = bootstrap_auc(outputs, labels, samples=bootstrap, seed=seed)
            values = [(s.auc, s.low, s.high, s.positives, s.negatives) for s in scores]
        else:
            aucs = auc_per_task(outputs, labels)
            values = [(a, math.nan, math.nan, int((labels[:, j] == 1).sum()), int((labels[:, j] == 0).sum()))
                      for j, a in enumerate(aucs)]  # fmt: skip
        for pathology, (auc, low, high, pos, neg) in zip(names, values):
            rows.append({"model": name, "dataset": dataset_name, "pathology": pathology, "auc": auc, "low": low,
                         "high": high, "positives": pos, "negatives": neg})  # fmt: skip
        curves[(name, dataset_name)] = (outputs, labels, names)
    return Evaluation(pd.DataFrame(rows), curves, notes)
