"""Score models on datasets: per-pathology ROC AUC with bootstrap intervals, across datasets.

Usage::

    results = xrv.train.evaluate_model(model, {"nih": d_nih, "pc": d_pc})
    print(results.markdown())

Every dataset is relabelled to the model's own label list, so an output is only ever
compared with the label of the same name; outputs the model was never trained on
(``""`` in its targets) are left out.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
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


def aligned(dataset: Any, labels: list[str]) -> tuple[Any, list[int]]:
    """A relabelled copy of ``dataset`` with one column per non-empty name of ``labels``,
    and the model output column of each (the dataset passed in is not changed)."""
    from ..datasets import relabel_dataset

    columns = [j for j, name in enumerate(labels) if name]
    names = [labels[j] for j in columns]
    if list(dataset.pathologies) == names:
        return dataset, columns
    view = copy.copy(dataset)  # a shallow copy: relabelling replaces, never edits, its arrays
    relabel_dataset(names, view, silent=True)
    return view, columns


@dataclass
class Evaluation:
    """AUCs of one or more models on one or more datasets.

    Attributes:
        table: one row per (model, dataset, pathology): ``auc``, ``low``, ``high``
            (bootstrap interval), ``positives``, ``negatives``.
        curves: ``{(model, dataset): (outputs, labels, names)}`` for ROC plots.
    """

    table: pd.DataFrame
    curves: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, list[str]]]

    def wide(self) -> pd.DataFrame:
        """One row per (model, dataset), one column per pathology: ``"0.812 (0.790-0.833)"``."""
        def cell(row: pd.Series) -> str:
            if math.isnan(row["auc"]):
                return "-"
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
        datasets: ``{name: dataset}``; each is relabelled (on a copy) to the model's labels.
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
    rows, curves = [], {}
    for dataset_name, dataset in datasets.items():
        view, columns = aligned(dataset, labels_of_model)
        outputs, labels = predict_dataset(model, view, context, batch_size=batch_size, workers=workers,
                                          progress=progress, description=f"{name} on {dataset_name}")  # fmt: skip
        outputs = outputs[:, columns]
        names = list(view.pathologies)
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
    return Evaluation(pd.DataFrame(rows), curves)
