"""The Stanford CheXpert ensemble (Irvin et al. 2019, arXiv 1901.07031), from the user's zip.

The weights are not downloadable: the zip (about 6 GB, 90 ``.pth.tar`` checkpoints) is
distributed by torrent (see the record's ``download_page``). Pass its path, or put it in
the cache folder as ``chexpert_weights.zip``.

Three groups of DenseNet-121s (spec models.md §8.2, Appendix A; the member lists are in
``weights.json``): (Atelectasis, Edema) binary, (Cardiomegaly, Pleural Effusion) with
three outputs per task, (Consolidation) binary; a task's probability is the mean over
its group's models. Each member is a dict ``{"task_sequence", "model_state",
"ckpt_info"}`` read through the safe loader; ``model_state`` keys are torchvision's
(``module.model.features...``).

Memory: 90 DenseNet-121s take about 2.5 GB. The members are held in memory when that
fits comfortably (under half the available memory); otherwise (or with ``stream=True``)
each forward reads them from the zip one at a time, so memory stays at one model.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import WeightsFormatError, WeightsNotFoundError
from ..hub.safe_load import as_state_dict, load_object
from ..models._builders import register_model
from ..models._loading import adapt_keys, check_state, load_strict
from ..models._registry import Weights, get_weights
from ..models.densenet import DenseNetNetwork
from ._base import BaselineModel, WeightsArg, _cache_folder, require_keys

TARGETS = ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Effusion"]


@dataclass(frozen=True)
class EnsembleGroup:
    """Models that predict the same tasks.

    Attributes:
        tasks: task names as the checkpoints spell them (``"Pleural Effusion"``).
        three_class: each task has three outputs (negative, uncertain, positive
            logits) instead of one.
        members: checkpoint paths inside the zip, in the order ``num_models`` takes them.
    """

    tasks: tuple[str, ...]
    three_class: bool
    members: tuple[str, ...]


def ensemble_groups(record: Weights) -> tuple[EnsembleGroup, ...]:
    """The groups of the ``chexpert`` record (``weights.json``)."""
    return tuple(
        EnsembleGroup(tuple(group["tasks"]), bool(group["three_class"]), tuple(group["members"]))
        for group in record.extra["ensemble"]
    )


class WeightsZip:
    """The user's zip: finds the members (at its root or under one leading folder) and reads them.

    Raises:
        WeightsNotFoundError: the file does not exist.
        WeightsFormatError: not a zip, or members are missing (the message lists them).
    """

    def __init__(self, path: str | os.PathLike, needed: list[str]):
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise WeightsNotFoundError(f"CheXpert weights zip {self.path} does not exist")
        try:
            with zipfile.ZipFile(self.path) as archive:
                infos = {info.filename: info for info in archive.infolist()}
        except (zipfile.BadZipFile, OSError) as err:
            raise WeightsFormatError(f"{self.path} is not a readable zip file ({err})") from err
        self.prefix = _member_prefix(infos, needed[0]) if needed else ""
        missing = [name for name in needed if self.prefix + name not in infos]
        if missing:
            found = [n for n in infos if n.endswith(".pth.tar")]
            raise WeightsFormatError(
                f"{self.path} lacks {len(missing)} of the {len(needed)} CheXpert checkpoints needed, e.g. "
                f"{missing[:3]} (it holds {len(found)} .pth.tar files, e.g. {found[:2]}); use the zip "
                "distributed with the CheXpert baseline, or a smaller num_models"
            )
        self.sizes = {name: infos[self.prefix + name].file_size for name in needed}

    def read(self, name: str) -> bytes:
        with zipfile.ZipFile(self.path) as archive:
            return archive.read(self.prefix + name)

    def label(self, name: str) -> str:
        return f"{self.path}:{self.prefix + name}"


def _member_prefix(infos: dict[str, Any], first: str) -> str:
    """'' when members sit at the root, else the one leading folder they all sit under."""
    if first in infos:
        return ""
    for name in infos:
        if name.endswith("/" + first):
            return name[: -len(first)]
    return ""


def _read_member(
    archive: WeightsZip, name: str, group: EnsembleGroup
) -> tuple[dict[str, torch.Tensor], list[int], int]:
    """(state dict, output index of each group task, classifier outputs) of one checkpoint."""
    label = archive.label(name)
    checkpoint = require_keys(load_object(archive.read(name), label=label), ("task_sequence", "model_state"), label)
    sequence = checkpoint["task_sequence"]
    if not isinstance(sequence, dict) or not all(isinstance(v, int) for v in sequence.values()):
        raise WeightsFormatError(f"{label}: task_sequence is not a mapping of task names to output indices")
    absent = [task for task in group.tasks if task not in sequence]
    if absent:
        raise WeightsFormatError(f"{label}: task_sequence lacks {absent} (has {sorted(sequence)})")
    outputs = len(sequence) * (3 if group.three_class else 1)
    # DataParallel around a wrapper around torchvision's DenseNet: ``module.model.features...``.
    state = adapt_keys(as_state_dict(checkpoint["model_state"], label), ("module.", "model."))
    return state, [sequence[task] for task in group.tasks], outputs


def _load_member(archive: WeightsZip, name: str, group: EnsembleGroup) -> tuple[DenseNetNetwork, list[int]]:
    state, indices, outputs = _read_member(archive, name, group)
    network = DenseNetNetwork(num_classes=outputs, in_channels=3)
    load_strict(network, state, archive.label(name))
    return network.eval(), indices


def _probabilities(logits: torch.Tensor, indices: list[int], three_class: bool) -> torch.Tensor:
    """``[B, len(indices)]`` probabilities of the group's tasks from one model's logits."""
    if three_class:
        # (negative, uncertain, positive) logits per task; P(positive) = softmax over the last two.
        triples = logits.view(logits.shape[0], -1, 3)
        return torch.softmax(triples[:, indices, 1:], dim=-1)[..., 1]
    return torch.sigmoid(logits[:, indices])


def _needed(groups: tuple[EnsembleGroup, ...], num_models: int) -> list[str]:
    return [name for group in groups for name in group.members[:num_models]]


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


@register_model("chexpert-densenet121-ensemble", task="classification")
class DenseNet(BaselineModel):
    """The CheXpert ensemble: 5 findings from a 320 px image, as probabilities.

    Usage::

        model = xrv.baseline_models.chexpert.DenseNet(weights_zip="chexpert_weights.zip")
        model(img)                           # [B, 5] probabilities, order: model.targets

    Input ``[B, 1, H, W]`` in [-1024, 1024] (square; resized to 320), divided by 512
    after the channel is repeated to 3. The whole batch goes through each model at
    once (the reference ran one image at a time).

    Args:
        weights_zip: the zip of checkpoints. Default: ``weights`` if it is a path, else
            ``chexpert_weights.zip`` in the cache folder.
        num_models: models per group, 1-30 (the first ``num_models`` of each list).
        weights: a path to the zip (same as ``weights_zip``), or ``"chexpert"``.
        stream: True reads the members from the zip at every forward (one model in
            memory at a time); False holds them all; None (default) holds them when they
            take under half the available memory.
        cache_dir: the cache folder to look in for ``chexpert_weights.zip``.

    Raises:
        WeightsNotFoundError: no zip given and none in the cache (the message says where
            to get it).
        WeightsFormatError: the zip lacks members or a member does not fit.
        ValueError: ``num_models`` out of range.
    """

    targets = TARGETS
    input_resolution = 320
    architecture = "chexpert-densenet121-ensemble"
    default_weights = "chexpert"
    output_modes = ("probabilities",)
    weights_check_complete = False  # only the first member of each group is read

    @classmethod
    def check_weights_file(cls, record: Weights, path: Path) -> None:
        """Validator: every member is in the zip, and the first of each group fits its network."""
        groups = ensemble_groups(record)
        archive = WeightsZip(path, _needed(groups, max(len(g.members) for g in groups)))
        for group in groups:
            state, _, outputs = _read_member(archive, group.members[0], group)
            with torch.device("meta"):
                network = DenseNetNetwork(num_classes=outputs, in_channels=3)
            check_state(network, state, archive.label(group.members[0]))

    def __init__(
        self,
        weights_zip: str | os.PathLike = "",
        num_models: int = 30,
        *,
        weights: WeightsArg = None,
        stream: bool | None = None,
        cache_dir: str | os.PathLike | None = None,
    ):
        super().__init__()
        record = get_weights(self.default_weights)
        self.groups = ensemble_groups(record)
        most = min(len(group.members) for group in self.groups)
        if not 1 <= num_models <= most:
            raise ValueError(f"num_models must be between 1 and {most}, got {num_models}")
        self.num_models = num_models
        path = _zip_path(weights_zip, weights, record, cache_dir)
        self._archive = WeightsZip(path, _needed(self.groups, num_models))
        needed_bytes = sum(self._archive.sizes.values())
        available = _available_memory()
        self.stream = bool(stream) if stream is not None else (
            needed_bytes > available // 2 if available is not None else needed_bytes > 4 << 30
        )
        self.members = nn.ModuleList()
        self._indices: list[list[list[int]]] = []
        if not self.stream:
            for group in self.groups:
                loaded = [_load_member(self._archive, name, group) for name in group.members[:num_models]]
                self.members.append(nn.ModuleList(network for network, _ in loaded))
                self._indices.append([indices for _, indices in loaded])
        self.remember_weights(path, record, self._archive.path)
        self.eval()

    def _models(self, group_index: int, device: torch.device) -> Iterator[tuple[nn.Module, list[int]]]:
        """The group's models with their task indices: held ones, or read one at a time."""
        group = self.groups[group_index]
        if not self.stream:
            yield from zip(self.members[group_index], self._indices[group_index])
            return
        for name in group.members[: self.num_models]:
            network, indices = _load_member(self._archive, name, group)
            network.train(self.training)
            yield network.to(device), indices

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Probabilities ``[B, 5]`` for ``[B, 1, H, W]`` images in [-1024, 1024]."""
        x = self.prepare(x) / 512
        by_task: dict[str, torch.Tensor] = {}
        for index, group in enumerate(self.groups):
            per_model = [
                _probabilities(network(x), indices, group.three_class)
                for network, indices in self._models(index, x.device)
            ]
            mean = torch.stack(per_model).mean(dim=0)
            for column, task in enumerate(group.tasks):
                by_task[task] = mean[:, column]
        names = self.weights_meta.extra.get("task_names", {}) if self.weights_meta else {}
        return torch.stack([by_task[names.get(target, target)] for target in self.targets], dim=1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Every model's pooled features, ``[B, groups * num_models * 1024]`` (group-major)."""
        x = self.prepare(x) / 512
        per_group = [
            torch.stack([network.pooled(x) for network, _ in self._models(index, x.device)])
            for index in range(len(self.groups))
        ]
        stacked = torch.stack(per_group)  # [groups, models, B, 1024]
        return stacked.permute(2, 0, 1, 3).reshape(x.shape[0], -1)

    def __repr__(self) -> str:
        return "CheXpert-DenseNet121-ensemble"


def _zip_path(weights_zip: str | os.PathLike, weights: WeightsArg, record: Weights, cache_dir: Any) -> Path:
    if weights_zip:
        return Path(weights_zip).expanduser()
    if isinstance(weights, (str, os.PathLike)) and str(weights) != record.name:
        return Path(weights).expanduser()
    cached = _cache_folder(cache_dir) / record.filename
    if cached.is_file():
        return cached
    raise WeightsNotFoundError(
        f"the CheXpert ensemble's weights are not downloadable: get the zip (about 6 GB) from "
        f"{record.extra.get('download_page')}, then pass weights_zip=PATH or put it at {cached}"
    )


__all__ = ["DenseNet", "EnsembleGroup", "TARGETS", "WeightsZip", "ensemble_groups"]
