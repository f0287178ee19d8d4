"""Forward semantics: calibration, output modes, unavailable slots, input checks."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

import xrayvision as xrv
from xrayvision.errors import ModelInputError
from xrayvision.models import op_norm
from xrayvision.models._input import InputRangeWarning, ResolutionWarning, suspicious_range

from .conftest import random_bn_stats, xray_batch


def test_op_norm_hand_computed():
    p = torch.tensor([[0.0, 0.1, 0.2, 0.6, 1.0, 0.3]])
    t = torch.tensor([0.2, 0.2, 0.2, 0.2, 0.2, float("nan")])
    expected = torch.tensor([[0.0, 0.25, 0.5, 0.75, 1.0, 0.5]])
    assert torch.allclose(op_norm(p, t), expected, atol=1e-7)
    assert op_norm(p, t).dtype == torch.float32


def test_op_norm_gradients_are_finite_with_nan_thresholds():
    p = torch.tensor([[0.1, 0.5, 0.9]], requires_grad=True)
    op_norm(p, torch.tensor([0.2, float("nan"), 0.5])).sum().backward()
    assert torch.isfinite(p.grad).all()
    assert p.grad[0, 1] == 0  # the NaN slot is constant
    assert p.grad[0, 0] == pytest.approx(1 / 0.4) and p.grad[0, 2] == pytest.approx(1 / 1.0)


def _nih_like_model():
    with torch.random.fork_rng():  # deterministic initialisation, global RNG untouched
        torch.manual_seed(0)
        model = random_bn_stats(xrv.models.DenseNet()).eval()
    record = xrv.models.get_weights("nih")
    model.targets = list(record.labels)
    model.op_threshs = torch.tensor(record.op_threshs)
    model.input_resolution = 224
    return model, record


def test_calibrated_output_and_nan_for_untrained_slots():
    model, record = _nih_like_model()
    x = xray_batch(2)
    out = model(x)
    trained = torch.tensor(record.trained_mask)
    assert torch.isnan(out[:, ~trained]).all() and not torch.isnan(out[:, trained]).any()
    logits = model.classifier(model.features2(x))
    expected = op_norm(torch.sigmoid(logits), model.op_threshs)
    assert torch.equal(out[:, trained], expected[:, trained])
    # the reference's values on request: 0.5 for the empty slots under calibration
    model.mask_unavailable = False
    assert (model(x)[:, ~trained] == 0.5).all()


def test_trained_slots_keep_finite_gradients():
    model, record = _nih_like_model()
    trained = torch.tensor(record.trained_mask)
    model.classifier.weight.data.mul_(1e-4)  # unsaturated sigmoids: non-zero gradients
    x = xray_batch().requires_grad_(True)
    out = model(x)
    out[:, trained].sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_output_modes_never_apply_the_sigmoid_twice():
    model, record = _nih_like_model()
    x = xray_batch()
    model.op_threshs = None
    logits = model(x)
    trained = torch.tensor(record.trained_mask)
    model.apply_sigmoid = True
    assert torch.allclose(model(x)[:, trained], torch.sigmoid(logits[:, trained]))
    model.op_threshs = torch.tensor(record.op_threshs)  # calibration wins; one sigmoid only
    expected = op_norm(torch.sigmoid(logits), model.op_threshs)
    assert torch.allclose(model(x)[:, trained], expected[:, trained])


def test_replaced_head_transfer_learning():
    model, _ = _nih_like_model()
    model.classifier = torch.nn.Linear(1024, 3)
    model.op_threshs = None
    assert model(xray_batch()).shape == (1, 3)


def test_resize_warns_once_per_instance_and_matches_interpolate():
    model, _ = _nih_like_model()
    model.op_threshs = None
    x = xray_batch(size=300)
    with pytest.warns(ResolutionWarning, match="300x300"):
        out = model(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model(x)  # second call: silent
    resized = torch.nn.functional.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False, antialias=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.allclose(model(resized), out, rtol=1e-5, atol=1e-4, equal_nan=True)
    other, _ = _nih_like_model()
    with pytest.warns(ResolutionWarning):  # a new instance warns again
        other(x)


def test_input_range_warning_once_per_instance():
    model, _ = _nih_like_model()
    with pytest.warns(InputRangeWarning, match="-1024, 1024"):
        model(torch.rand(1, 1, 224, 224))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model(torch.rand(1, 1, 224, 224))
        model.features2(xray_batch())
    other, _ = _nih_like_model()
    other.check_input_range = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        other(torch.rand(1, 1, 224, 224))


@pytest.mark.parametrize(
    ("low", "high", "flagged"),
    [(0, 1, True), (-1, 1, True), (0, 1024, True), (-1026, 1024, True), (-1024, 1024, False), (-724, 412, False)],
)
def test_range_heuristic_cases_of_the_reference(low, high, flagged):
    assert suspicious_range(low, high) is flagged


def test_importing_and_building_leaves_warning_filters_alone():
    before = list(warnings.filters)
    xrv.models.DenseNet()
    xrv.models.ResNet()
    assert warnings.filters == before


def test_shape_errors():
    model, _ = _nih_like_model()
    with pytest.raises(ModelInputError, match="square"):
        model(torch.zeros(1, 1, 224, 200))
    with pytest.raises(ModelInputError, match=r"\[B, 1, H, W\]"):
        model(torch.zeros(1, 3, 224, 224))
    assert model(xray_batch()[0]).shape == (1, 18)  # [1, H, W] is promoted
    with pytest.raises(ModelInputError, match="expected floating-point pixels in \\[-1024, 1024\\], got a uint8 tensor"):
        model(torch.zeros(1, 1, 224, 224, dtype=torch.uint8))


def test_untrained_model_has_pathologies_and_does_not_resize():
    model = xrv.models.DenseNet()
    assert model.pathologies == list(xrv.datasets.default_pathologies)
    assert model.input_resolution is None and model.op_threshs is None
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert model(torch.zeros(1, 1, 64, 64)).shape == (1, 18)


def test_resnet_named_slots_without_threshold_are_nan_while_calibrating():
    model = random_bn_stats(xrv.models.ResNet()).eval()
    record = xrv.models.get_weights("resnet50-res512-all")
    model.targets = list(record.labels)
    model.op_threshs = torch.tensor(record.op_threshs)
    out = model(xray_batch(size=512))
    nan_slots = [i for i, t in enumerate(record.op_threshs) if math.isnan(t)]
    assert nan_slots == [14, 17]
    assert torch.isnan(out[0, nan_slots]).all() and not torch.isnan(out[0, :14]).any()
    model.op_threshs = None
    assert not torch.isnan(model(xray_batch(size=512))).any()
    assert model.features(xray_batch(size=512)).shape == (1, 2048)
