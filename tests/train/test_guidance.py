"""Mask-guided methods inside the training loop, on the synthetic cross task."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from xrayvision.errors import ConfigError
from xrayvision.train import Trainer, config_from_dict
from xrayvision.train.guidance import MaskGuidance, ellipse_roi


def cross_config(out, method: str, **guidance):
    return config_from_dict({
        "run": {"out": str(out), "workers": 0, "progress": False},
        "data": {"datasets": [
            {"name": "cross", "role": "train", "options": {"n": 64, "seed": 0, "correlation": 1.0, "split": "train"}},
            {"name": "cross", "role": "valid", "options": {"n": 32, "seed": 0, "correlation": -1.0, "split": "valid"}},
        ], "pathologies": ["Two Crosses"], "resolution": 28, "augment": False},
        "model": {"factory": "tests.train._tiny:tiny_cnn", "options": {"num_outputs": 1}},
        "optim": {"epochs": 1, "batch_size": 16},
        "guidance": {"method": method, **guidance},
    })  # fmt: skip


@pytest.mark.parametrize("method", ["actdiff", "gradmask", "rrr", "adversarial", "masked_input", "shuffled_input"])
def test_every_method_trains(method, tmp_path):
    result = Trainer(cross_config(tmp_path / method, method, weight=0.5, disc_every=2, disc_hidden=[16])).fit()
    losses = [r["loss"] for r in result.history if r["kind"] == "train"]
    assert losses and all(math.isfinite(v) for v in losses)
    assert result.steps == 4


def test_the_added_term_raises_the_loss_when_the_model_looks_outside(tmp_path, monkeypatch):
    """The same weights and batch: GradMask adds a positive term to the classification loss."""
    seen = {}
    for method in ("none", "gradmask"):
        trainer = Trainer(cross_config(tmp_path / method, method, weight=1.0))
        original = trainer._loss

        def spy(*args, _original=original, _method=method, **kwargs):
            value = _original(*args, **kwargs)
            seen.setdefault(_method, float(value.detach()))
            return value

        monkeypatch.setattr(trainer, "_loss", spy)
        result = trainer.fit()
        seen[method + " total"] = result.history[0]["loss"]
    assert seen["none"] == pytest.approx(seen["gradmask"])  # same initial classification loss
    assert result.history[0]["loss"] > seen["none"]


def test_an_unknown_layer_lists_the_modules(tmp_path):
    with pytest.raises(ConfigError, match=r"guidance.layer 'head' is not a module of Sequential; its modules: 0, 1, 2"):
        Trainer(cross_config(tmp_path / "x", "actdiff", layer="head")).fit()


def test_a_dataset_without_masks_is_refused(tmp_path, nih_release):
    config = cross_config(tmp_path / "x", "gradmask").to_dict()
    config["data"]["datasets"] = [{"name": "chex", "imgpath": str(tmp_path), "csvpath": str(nih_release["csvpath"])}]
    with pytest.raises(ConfigError, match="needs pathology masks and CheX_Dataset has none"):
        Trainer(config_from_dict(config))


def test_a_mask_of_another_size_is_refused(tmp_path):
    from xrayvision.train.config import GuidanceConfig

    guidance = MaskGuidance(GuidanceConfig(method="gradmask"), torch.nn.Linear(2, 2), torch.device("cpu"))
    batch = {"idx": torch.tensor([7]), "pathology_masks": [{0: np.ones((1, 10, 10), dtype=np.float32)}]}
    with pytest.raises(ConfigError, match=r"mask 0 of training sample 7 is \(10, 10\) but its image is \(28, 28\)"):
        guidance.regions(batch, torch.zeros(1, 1, 28, 28))


def test_images_without_a_mask_contribute_no_mask_term():
    from xrayvision.train.config import GuidanceConfig

    guidance = MaskGuidance(GuidanceConfig(method="gradmask"), torch.nn.Linear(2, 2), torch.device("cpu"))
    mask = np.zeros((1, 4, 4), dtype=np.float32)
    mask[0, 1:3, 1:3] = 1
    roi, has_mask = guidance.regions({"idx": torch.arange(2), "pathology_masks": [{0: mask}, {}]}, torch.zeros(2, 1, 4, 4))
    assert has_mask.tolist() == [True, False]
    assert roi[0, 0].sum() == 4 and roi[1].min() == 1  # nothing is outside the ROI of an unmasked image


def test_the_papers_ellipse():
    ellipse = ellipse_roi(10)[0]
    assert ellipse[5, 5] and ellipse[4, 4] and not ellipse[0, 0]
    rows, cols = np.nonzero(ellipse.numpy())
    assert rows.min() == 1 and rows.max() == 8  # radius 10 / 2.5 = 4 around the centre 4.5


def test_a_failed_run_leaves_no_hook_on_the_model(tmp_path):
    Trainer(cross_config(tmp_path / "run", "actdiff")).fit()
    changed = Trainer(config_from_dict({**cross_config(tmp_path / "run", "actdiff").to_dict(),
                                        "optim": {"epochs": 1, "batch_size": 16, "weight_decay": 0.5}}))  # fmt: skip
    from xrayvision.errors import TrainingError

    with pytest.raises(TrainingError, match="other settings"):
        changed.fit(resume=True)
    hooks = [m for m in changed.model.modules() if m._forward_hooks or m._forward_pre_hooks]
    assert not hooks


def test_a_dataset_whose_training_images_have_no_mask_is_refused(tmp_path, nih_release):
    from .conftest import training_config

    empty = tmp_path / "BBox_List_2017.csv"
    empty.write_text(nih_release["bbox_list_path"].read_text().splitlines()[0] + "\n")  # the header only
    config = training_config({**nih_release, "bbox_list_path": empty}, tmp_path / "run", guidance={"method": "actdiff"})
    with pytest.raises(ConfigError, match=r"guidance.method 'actdiff' needs pathology masks, but no training image of nih "
                                          r"has one .*guidance.masks = \"ellipse\""):  # fmt: skip
        Trainer(config_from_dict(config))
    config["guidance"]["masks"] = "ellipse"  # the fixed ellipse needs no dataset masks
    Trainer(config_from_dict(config))


@pytest.mark.parametrize("method", ["gradmask", "rrr", "masked_input", "shuffled_input", "none"])
def test_a_layer_for_a_method_that_does_not_use_one_is_refused(tmp_path, method):
    with pytest.raises(ConfigError, match=rf"guidance.layer = '0' is used by actdiff and adversarial only, and "
                                          rf"guidance.method is '{method}': remove guidance.layer"):  # fmt: skip
        Trainer(cross_config(tmp_path / "x", method, layer="0")).fit()
