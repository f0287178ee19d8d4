"""Which output is explained (ClassifierOutput, default_output) and which target (resolve_target)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import xrayvision as xrv
from xrayvision.errors import ExplainError
from xrayvision.explain import ClassifierOutput, attribute
from xrayvision.explain._targets import default_output, raw_model_output, resolve_target

from .conftest import TinyCNN


@pytest.fixture(scope="module")
def softmax_baselines():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return [
            xrv.baseline_models.emory_hiti.RaceModel(weights=None).eval(),
            xrv.baseline_models.mira.SexModel(weights=None).eval(),
        ]


def test_probability_of_a_single_label_baseline_is_its_softmax(softmax_baselines):
    x = (torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1) * 1000
    for model in softmax_baselines:
        model.warn_on_resize = False
        before = model.output
        probability = ClassifierOutput(model, "probability")(x)
        logit = ClassifierOutput(model, "logit")(x)
        assert model.output == before  # the model's own mode is restored
        with torch.no_grad():
            model.output = "probabilities"
            expected = model(x)
            model.output = "logits"
            expected_logit = model(x)
            model.output = before
        torch.testing.assert_close(probability, expected)
        torch.testing.assert_close(logit, expected_logit)
        torch.testing.assert_close(probability.sum(1), torch.ones(2))  # a softmax, not a sigmoid per output


def test_default_output_is_what_a_user_reads_as_the_score(softmax_baselines):
    model = xrv.models.DenseNet(block_config=(1, 1), growth_rate=4, num_init_features=8)
    assert default_output(model) == "probability" and raw_model_output(model) == "logits"
    model.op_threshs = torch.full((len(model.targets),), 0.5)
    assert default_output(model) == "calibrated" and raw_model_output(model) is None
    model.op_threshs, model.apply_sigmoid = None, True
    assert raw_model_output(model) is None
    race, sex = softmax_baselines
    assert default_output(race) == "probability" and raw_model_output(race) == "log-probabilities"
    assert raw_model_output(sex) == "logits"
    regression = torch.nn.Module()
    regression.output_modes, regression.output = ("years",), "years"  # as riken.AgeModel declares
    assert default_output(regression) == "model" and raw_model_output(regression) is None
    assert raw_model_output(TinyCNN()) is None  # unknown: no switches to read


@pytest.mark.parametrize("target", [1.7, 1.0, True, np.bool_(True), "1", None])
def test_non_integer_targets_are_refused(target):
    labels = ["Effusion", "Mass"]
    error = ExplainError if not isinstance(target, str) else KeyError
    with pytest.raises(error, match="integer output index|unknown"):
        resolve_target(target, labels)


def test_integer_targets_of_any_integer_type(tiny_cnn, image):
    assert resolve_target(np.int64(1), tiny_cnn.targets) == 1
    assert resolve_target(torch.tensor(3), tiny_cnn.targets) == 3
    with pytest.raises(ExplainError, match="integer output index"):
        attribute(tiny_cnn, image, 1.7)
