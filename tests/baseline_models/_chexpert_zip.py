"""A CheXpert ensemble zip in the official layout, with outputs known by hand.

Each member is what the Stanford training code saved: ``torch.save`` (legacy format) of
``{"task_sequence": {task: index} for the 14 CheXpert tasks, "model_state": the state dict
of DataParallel(wrapper(torchvision DenseNet-121)) ("module.model.features..."),
"ckpt_info": metadata with numpy numbers}``, stored at its Appendix A path.

The classifiers have zero weights and known biases, so every member's logits are its
biases whatever the image: the ensemble's outputs follow from the biases alone
(:func:`expected_probabilities`, computed with ``math``, independently of the library).
Each member's trunk differs (``norm5`` bias offset), so features can be told apart.
"""

from __future__ import annotations

import io
import math
import zipfile
from pathlib import Path

import numpy as np
import torch

import xrayvision as xrv
from xrayvision.models.densenet import DenseNetNetwork

from .._official_format import random_bn_stats

TASKS = [
    "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
    "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other",
    "Fracture", "Support Devices",
]  # fmt: skip
# Spec §8.2: (tasks, three-class) per group, in Appendix A order.
GROUPS = [(["Atelectasis", "Edema"], False), (["Cardiomegaly", "Pleural Effusion"], True), (["Consolidation"], False)]


def member_paths(num_models: int) -> list[list[str]]:
    """The first ``num_models`` Appendix A paths of each group (from the registry record)."""
    record = xrv.models.get_weights("chexpert")
    return [group["members"][:num_models] for group in record.extra["ensemble"]]


def write_zip(path: Path, num_models: int, *, prefix: str = "", seed: int = 0) -> list[list[dict]]:
    """Write the zip; returns, per group and member, ``{"biases": [...], "state": state dict}``."""
    generator = torch.Generator().manual_seed(seed)
    trunk = random_bn_stats(DenseNetNetwork(num_classes=1, in_channels=3), seed=seed).features.state_dict()
    written: list[list[dict]] = []
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for group_index, ((_, three_class), names) in enumerate(zip(GROUPS, member_paths(num_models))):
            written.append([])
            for member_index, name in enumerate(names):
                outputs = len(TASKS) * (3 if three_class else 1)
                biases = (torch.rand(outputs, generator=generator) * 6 - 3).tolist()
                state = {f"features.{k}": v.clone() for k, v in trunk.items()}
                state["features.norm5.bias"] += 0.1 * (3 * group_index + member_index)
                state["classifier.weight"] = torch.zeros(outputs, 1024)
                state["classifier.bias"] = torch.tensor(biases)
                checkpoint = {
                    "task_sequence": {task: index for index, task in enumerate(TASKS)},
                    "model_state": {"module.model." + k: v for k, v in state.items()},
                    "ckpt_info": {"epoch": 3, "iter": 336000, "auroc": np.float64(0.91)},
                }
                buffer = io.BytesIO()
                torch.save(checkpoint, buffer, _use_new_zipfile_serialization=False)
                archive.writestr(prefix + name, buffer.getvalue())
                written[-1].append({"biases": biases, "state": state})
    return written


def expected_probabilities(written: list[list[dict]]) -> list[float]:
    """Spec §8.2 by hand: binary → sigmoid of the task's logit; three-class → softmax over
    (uncertain, positive) taking positive = 1 / (1 + exp(l1 - l2)); mean over the group.
    Returned in target order: Atelectasis, Cardiomegaly, Consolidation, Edema, Effusion."""
    by_task: dict[str, float] = {}
    for (tasks, three_class), members in zip(GROUPS, written):
        for task in tasks:
            index = TASKS.index(task)
            values = []
            for member in members:
                b = member["biases"]
                if three_class:
                    values.append(1 / (1 + math.exp(b[3 * index + 1] - b[3 * index + 2])))
                else:
                    values.append(1 / (1 + math.exp(-b[index])))
            by_task[task] = sum(values) / len(values)
    return [by_task[t] for t in ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion"]]
