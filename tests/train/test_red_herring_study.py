"""The red-herring study (benchmarks/red_herring_synthetic.py): the paper's direction on one seed."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from tests.train.conftest import REPO_ROOT

pytest.importorskip("captum")
pytest.importorskip("scipy")


@pytest.fixture(scope="module")
def one_thread():
    """Tiny convolutions run fastest on one thread (as the study runs them); restored after."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def study(one_thread):
    path = REPO_ROOT / "benchmarks" / "red_herring_synthetic.py"
    spec = importlib.util.spec_from_file_location("red_herring_synthetic", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def test_area_matched_iou_by_hand(study):
    # 10 pixels, a 4-pixel mask: the top 4 of the map hold 2 mask pixels, so q = 1/2 and
    # IoU = q / (2 - q) = 1/3 (spec methods.md §5 check 4)
    saliency = np.arange(10, dtype=float).reshape(2, 5)
    mask = np.zeros((2, 5))
    mask.flat[[9, 8, 0, 1]] = 1
    assert study.area_matched_iou(saliency, mask) == pytest.approx(1 / 3)
    assert study.area_matched_iou(mask, mask) == pytest.approx(1.0)


def test_the_baseline_collapses_and_actdiff_recovers(study):
    """One seed, the study's settings: the baseline learns the distractor (test AUC far below
    0.5, the paper: 0.00), ActDiff counts the crosses (the paper: 1.00) and its input gradient
    lies more on them."""
    seed = study.SEEDS[0]
    trained = {name: study.train("cross", name, seed, epochs=12) for name in ("baseline", "actdiff")}
    assert trained["baseline"][1]["auc"] < 0.1
    assert trained["actdiff"][1]["auc"] > 0.8
    data = study.task_data("cross", seed)
    x, masks = data.x["test"], data.roi["test"][:, 0].numpy()
    iou = {}
    for name, (model, _) in trained.items():
        maps = study.saliency(model, x, "gradient")
        iou[name] = np.mean([study.area_matched_iou(s, m) for s, m in zip(maps, masks)])
    assert iou["actdiff"] > iou["baseline"] + 0.05
