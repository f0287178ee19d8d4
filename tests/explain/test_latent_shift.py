"""Latent Shift: the toy of spec §5 check 2, the heatmaps (check 3), and equality with the
published one-frame-at-a-time procedure."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import xrayvision as xrv
from xrayvision.errors import ExplainError, ModelInputError
from xrayvision.explain import (
    FixedRange,
    LatentShift,
    LatentShiftOutputWarning,
    LatentShiftSearchWarning,
)
from xrayvision.explain import search as S
from xrayvision.explain.heatmaps import heatmap
from xrayvision.models import InputRangeWarning

from .conftest import Identity, Logistic, TinyAE, TinyCNN
from .published import published_latent_shift


@pytest.fixture
def toy():
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(1, 8, 8, generator=generator) * 0.02
    x = (torch.rand(1, 1, 8, 8, generator=generator) * 2 - 1) * 50
    bias = 1.0 - float((weight * x).sum())  # logit 1 at x: away from saturation
    return Logistic(weight, bias=bias).eval(), weight, x


def test_identity_autoencoder_frames_are_x_plus_lambda_gradient(toy):
    model, weight, x = toy
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the search converges: no warning
        (result,) = LatentShift(model, Identity(), search="package").attribute(x, "Effusion")
    assert result.search.left.reason == S.PIXEL_DIFF
    f = float(model(x)[0, 0].detach())
    gradient = (f * (1 - f) * weight).numpy()  # d sigmoid(w.x+b) / dx
    expected = x.numpy()[0] + result.lambdas[:, None, None, None] * gradient
    np.testing.assert_allclose(result.frames, expected, rtol=1e-5, atol=1e-3)
    # the prediction falls strictly as λ goes negative
    assert np.all(np.diff(result.preds) > 0) and result.lambdas[-1] == 0
    assert result.initial_pred == pytest.approx(f)
    # int: equal λ steps, so the mean successive change is |Δλ| |grad f|, proportional to |w|
    ratio = result.heatmap("int") / np.abs(weight.numpy()[0])
    np.testing.assert_allclose(ratio, ratio.mean(), rtol=1e-3)
    step = result.lambdas[1] - result.lambdas[0]
    assert ratio.mean() == pytest.approx(step * f * (1 - f), rel=1e-3)
    # mm with the last frame at λ = 0: |λ_min| |grad f|
    np.testing.assert_allclose(result.heatmap("mm"), abs(result.lambdas[0]) * np.abs(gradient[0]), rtol=1e-3, atol=1e-3)


def test_identity_search_stops_on_the_drop(toy):
    model, _, x = toy
    (result,) = LatentShift(model, Identity(), search="paper").attribute(x, "Effusion")
    left = result.search.left
    assert left.reason == S.DROPPED and result.search.converged
    assert left.visited[-1][1] < result.initial_pred - 0.5 <= left.visited[-2][1]
    assert result.search.right.reason in (S.ROSE_ENOUGH, S.LIMIT)


def test_heatmap_definitions_and_the_legacy_quirk():
    rng = np.random.default_rng(0)
    frames = rng.normal(size=(5, 1, 6, 7)).astype(np.float32)
    x0 = rng.normal(size=(1, 6, 7)).astype(np.float32)
    d = np.abs(x0[None] - frames)[:, 0]
    np.testing.assert_allclose(heatmap(frames, x0, "max"), d.max(0), rtol=1e-6)
    np.testing.assert_allclose(heatmap(frames, x0, "mean"), d.mean(0), rtol=1e-6)
    np.testing.assert_allclose(heatmap(frames, x0, "mm"), np.abs(frames[0, 0] - frames[-1, 0]), rtol=1e-6)
    steps = [np.abs(frames[i, 0] - frames[i + 1, 0]) for i in range(4)]
    np.testing.assert_allclose(heatmap(frames, x0, "int"), np.mean(steps, 0), rtol=1e-6)
    # legacy: the published reduction over a singleton axis, both |x0 - F_1|
    for method in ("max", "mean"):
        np.testing.assert_allclose(heatmap(frames, x0, method, legacy=True), d[0], rtol=1e-6)
    # the published expression itself, as a second oracle
    published = np.max(np.abs(x0[0] - frames[0][0][None]), 0)
    np.testing.assert_allclose(heatmap(frames, x0, "max", legacy=True), published, rtol=1e-6)
    with pytest.raises(ExplainError, match="unknown heatmap"):
        heatmap(frames, x0, "median")


@pytest.mark.parametrize("version, sigmoid", [("paper", False), ("head", True), ("package", True)])
def test_batched_frames_equal_the_published_procedure(version, sigmoid, image):
    classifier, ae = TinyCNN(seed=3).eval(), TinyAE(seed=4).eval()
    classifier.classifier.weight.data *= 30  # sensitive enough for the searches to stop inside their limits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LatentShiftSearchWarning)  # "head" meets its limit here
        (ours,) = LatentShift(classifier, ae, search=version, sigmoid=sigmoid, batch_size=8).attribute(image, "Effusion")
    if version == "paper":  # both sides stop on a rule of their own
        assert (ours.search.lbound, ours.search.rbound) == (-350, 50) and ours.search.converged
    if version == "package":
        assert ours.search.left.reason == S.PIXEL_DIFF
    reference = published_latent_shift(lambda x: classifier(x)[:, 1], ae, image, version, sigmoid)
    assert ours.search.lbound == reference["lbound"] and ours.search.rbound == reference["rbound"]
    assert [lam for lam, _ in ours.search.left.visited] == reference["left"]
    if version == "paper":
        assert [lam for lam, _ in ours.search.right.visited] == reference["right"]
    np.testing.assert_array_equal(ours.lambdas, reference["lambdas"])
    scale = np.abs(reference["frames"]).max()
    np.testing.assert_allclose(ours.frames, reference["frames"], rtol=1e-5, atol=1e-5 * scale)
    np.testing.assert_allclose(ours.preds, reference["preds"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.reconstruction, reference["x0"], rtol=1e-5, atol=1e-5 * scale)
    assert ours.output == ("model+sigmoid" if sigmoid else "model")


def test_a_batch_gives_one_result_per_image_equal_to_single_runs(image):
    classifier, ae = TinyCNN(seed=3).eval(), TinyAE(seed=4).eval()
    batch = torch.cat([image, image.flip(-1)])
    explainer = LatentShift(classifier, ae, search=FixedRange(-40, 40, 5))
    results = explainer.attribute(batch, 1)
    assert len(results) == 2 and results[0].target == "Effusion"
    for i, result in enumerate(results):
        (single,) = explainer.attribute(batch[i], "Effusion")
        np.testing.assert_allclose(result.frames, single.frames, rtol=1e-5, atol=1e-3)


def test_resolutions_are_matched_or_refused(image):
    classifier, ae = TinyCNN(seed=3).eval(), TinyAE(seed=4).eval()
    ae.resolution = 8  # the autoencoder works at 8 px, the classifier at 4 px
    classifier.input_resolution = 4
    seen = []
    classifier.register_forward_pre_hook(lambda _m, args: seen.append(tuple(args[0].shape[-2:])))
    (result,) = LatentShift(classifier, ae, search=FixedRange(-5, 0, 3)).attribute(image, "Effusion")
    assert result.image.shape == (1, 8, 8) and result.frames.shape == (3, 1, 8, 8)
    assert set(seen) == {(4, 4)}
    with pytest.raises(ModelInputError, match="the autoencoder needs 8x8"):
        LatentShift(classifier, ae, resize=False).attribute(image, "Effusion")
    ae.resolution = 16
    with pytest.raises(ModelInputError, match="the classifier needs 4x4"):
        LatentShift(classifier, ae, resize=False).attribute(image, "Effusion")


def test_bad_requests_are_refused_clearly(image):
    classifier, ae = TinyCNN(seed=3).eval(), TinyAE(seed=4).eval()
    with pytest.raises(ExplainError, match="untrained slot"):
        LatentShift(classifier, ae).attribute(image, 2)
    with pytest.raises(KeyError, match="Cardiomegaly, Effusion, Pneumothorax"):
        LatentShift(classifier, ae).attribute(image, "Efusion")
    with pytest.raises(ExplainError, match="unknown Latent Shift search"):
        LatentShift(classifier, ae, search="fast")
    with pytest.raises(ExplainError, match="encode"):
        LatentShift(classifier, object())
    bn = torch.nn.Sequential(torch.nn.BatchNorm2d(1), TinyCNN()).train()
    bn.targets = TinyCNN().targets
    with pytest.raises(ExplainError, match="training mode"):
        LatentShift(bn, ae).attribute(image, "Effusion")


def test_out_of_range_images_warn(image):
    classifier, ae = TinyCNN(seed=3).eval(), TinyAE(seed=4).eval()
    with pytest.warns(InputRangeWarning, match="outside"):
        LatentShift(classifier, ae, search=FixedRange(-1, 0, 2)).attribute(image * 3, "Effusion")


def test_a_search_without_a_stop_is_bounded_and_reported(image):
    class Constant(TinyCNN):
        def forward(self, x):
            return super().forward(x) * 0 + 0.5

    with pytest.warns(LatentShiftSearchWarning, match="gradient is zero"):
        (result,) = LatentShift(Constant().eval(), TinyAE().eval(), search="paper").attribute(image, "Effusion")
    assert not result.search.converged
    assert (result.search.lbound, result.search.rbound) == (-1000, 1000)
    assert len(result.frames) == 11


def test_input_is_not_modified(image):
    before = image.clone()
    LatentShift(TinyCNN().eval(), TinyAE().eval(), search=FixedRange(-3, 0, 2)).attribute(image, "Effusion")
    assert torch.equal(image, before)


def test_output_types_follow_the_explained_output(image):
    classifier, ae = TinyCNN(seed=3).eval(), TinyAE(seed=4).eval()
    search = FixedRange(-20, 0, 3)
    (logit,) = LatentShift(classifier, ae, search=search, output="logit").attribute(image, "Effusion")
    (prob,) = LatentShift(classifier, ae, search=search, output="probability").attribute(image, "Effusion")
    with torch.no_grad():
        direct = classifier(torch.from_numpy(logit.reconstruction)[None])[0, 1]
    assert logit.initial_pred == pytest.approx(float(direct), rel=1e-5)
    assert prob.initial_pred == pytest.approx(float(torch.sigmoid(direct)), rel=1e-5)
    assert logit.output == "logit" and prob.output == "probability"


def test_frames_classified_by_the_optimized_copy_agree(image):
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = xrv.models.DenseNet(block_config=(2, 2), growth_rate=8, num_init_features=16).eval()
    big = torch.nn.functional.interpolate(image, size=64)
    search = FixedRange(-30, 30, 5)
    (fast,) = LatentShift(model, TinyAE().eval(), search=search).attribute(big, "Effusion")
    (plain,) = LatentShift(model, TinyAE().eval(), search=search, optimize=False).attribute(big, "Effusion")
    np.testing.assert_array_equal(fast.frames, plain.frames)
    assert fast.preds.std() > 0
    np.testing.assert_allclose(fast.preds, plain.preds, rtol=1e-4, atol=1e-4 * np.abs(plain.preds).max())


class ReluLinear(torch.nn.Module):
    """``relu(w . x)`` per output: a zero gradient wherever ``w . x < 0``."""

    def __init__(self):
        super().__init__()
        self.head = torch.nn.Linear(64, 2, bias=False)
        with torch.no_grad():
            self.head.weight.fill_(0.01)
        self.targets = ["Effusion", "Mass"]

    def forward(self, x):
        return torch.relu(self.head(x.flatten(1)))


def test_the_no_stop_warning_names_the_image_of_the_batch():
    x = torch.cat([torch.full((1, 1, 8, 8), 10.0), torch.full((1, 1, 8, 8), -10.0)])  # image 1: zero gradient
    with pytest.warns(LatentShiftSearchWarning) as record:
        results = LatentShift(ReluLinear().eval(), Identity(), search="paper").attribute(x, "Effusion")
    messages = [str(w.message) for w in record if issubclass(w.category, LatentShiftSearchWarning)]
    assert len(messages) == 1 and "(image 1 of 2)" in messages[0]
    assert results[0].search.converged and not results[1].search.converged


def test_probability_unit_stop_rules_on_logits_warn_once(image):
    ae = TinyAE(seed=4).eval()
    logits = TinyCNN(seed=3).eval()
    logits.apply_sigmoid, logits.op_threshs = False, None  # as a weight set from xrv train
    with pytest.warns(LatentShiftOutputWarning, match="returns logits.*pass output='probability'") as record:
        LatentShift(logits, ae)
    assert len(record) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", LatentShiftOutputWarning)
        LatentShift(logits, ae, output="probability")
        LatentShift(logits, ae, sigmoid=True)
        LatentShift(logits, ae, search=FixedRange(-5, 5))
        LatentShift(TinyCNN().eval(), ae)  # no switches: what it returns is unknown
        logits.apply_sigmoid = True
        LatentShift(logits, ae)


def test_the_autoencoders_input_resolution_is_honoured(image):
    ae = xrv.autoencoders.ConvAutoencoder(width=4, depth=2, input_resolution=8).eval()
    (result,) = LatentShift(TinyCNN(seed=3).eval(), ae, search=FixedRange(-5, 0, 2)).attribute(image, "Effusion")
    assert result.image.shape == (1, 8, 8)  # the 16 px image resized to the autoencoder's 8 px
    with pytest.raises(ModelInputError, match="the autoencoder needs 8x8"):
        LatentShift(TinyCNN().eval(), ae, resize=False).attribute(image, "Effusion")


def test_empty_and_integer_batches_are_refused(image):
    explainer = LatentShift(TinyCNN().eval(), TinyAE().eval(), search=FixedRange(-1, 0, 2))
    with pytest.raises(ExplainError, match="the batch is empty"):
        explainer.attribute(image[:0], "Effusion")
    with pytest.raises(ModelInputError, match="uint8"):
        explainer.attribute(image.clamp(0, 255).to(torch.uint8), "Effusion")
