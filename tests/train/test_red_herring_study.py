"""The red-herring study (benchmarks/red_herring_synthetic.py): the paper's direction on one seed."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from tests.train.conftest import REPO_ROOT

pytest.importorskip("captum")


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


def test_the_baseline_collapses_and_actdiff_recovers(study):
    """One seed, the study's settings: the baseline learns the distractor (test AUC far below
    0.5, the paper: 0.00), ActDiff counts the crosses (the paper: 1.00) and its input gradient
    lies more on them."""
    seed = study.SEEDS[0]
    trained = {name: study.train("cross", name, seed, epochs=12) for name in ("baseline", "actdiff")}
    assert trained["baseline"][1]["auc"] < 0.1
    assert trained["actdiff"][1]["auc"] > 0.8
    from xrayvision.explain import localization_scores

    data = study.task_data("cross", seed)
    iou = {}
    for name, (model, _) in trained.items():
        maps = study.saliency(model, data.x["test"], "gradient")
        iou[name] = np.mean([localization_scores(s, m).iou for s, m in zip(maps, data.evidence)])
    assert iou["actdiff"] > iou["baseline"] + 0.05
