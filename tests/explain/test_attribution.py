"""attribute(): each method against a hand-computed or separately implemented oracle."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import xrayvision as xrv
from xrayvision.errors import ExplainError, ModelInputError
from xrayvision.explain import FixedRange, attribute, postprocess
from xrayvision.explain.attribution import default_gradcam_layer

from .conftest import TinyAE, TinyCNN


class Linear(nn.Module):
    """``f_t(x) = w_t . x + b_t``: gradients are the weights."""

    def __init__(self, side: int = 8):
        super().__init__()
        with torch.random.fork_rng():
            torch.manual_seed(5)
            self.head = nn.Linear(side * side, 2)
        self.targets = ["Effusion", "Mass"]

    def forward(self, x):
        return self.head(x.flatten(1))


@pytest.fixture
def linear():
    model = Linear().eval()
    x = (torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(2)) * 2 - 1) * 500
    return model, x, model.head.weight[1].detach().view(1, 8, 8)


def test_gradient_and_input_x_gradient_of_a_linear_model(linear):
    model, x, w = linear
    torch.testing.assert_close(attribute(model, x, "Mass", "gradient"), w.expand(2, 1, 8, 8))
    torch.testing.assert_close(attribute(model, x, "Mass", "ixg"), x * w)
    # integrated gradients of a linear map from 0 is exactly x * w
    torch.testing.assert_close(attribute(model, x, 1, "ig", n_steps=7), x * w, rtol=1e-5, atol=1e-4)


def test_occlusion_of_a_linear_model_is_the_window_sum(linear):
    model, x, w = linear
    maps = attribute(model, x, "Mass", "occlusion", window=4, stride=4)
    contribution = (x * w).view(2, 1, 2, 4, 2, 4).sum((3, 5))  # per 4x4 window
    expected = contribution.repeat_interleave(4, 2).repeat_interleave(4, 3)
    torch.testing.assert_close(maps, expected, rtol=1e-4, atol=1e-3)


def test_smoothgrad_is_seeded_privately(linear, image):
    model, x, w = linear
    state = torch.get_rng_state()
    torch.testing.assert_close(attribute(model, x, "Mass", "smoothgrad", n_samples=4), w.expand(2, 1, 8, 8))
    cnn = TinyCNN(seed=1).eval()
    first = attribute(cnn, image, "Effusion", "smoothgrad", n_samples=6, seed=3)
    again = attribute(cnn, image, "Effusion", "smoothgrad", n_samples=6, seed=3)
    other = attribute(cnn, image, "Effusion", "smoothgrad", n_samples=6, seed=4)
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert torch.equal(torch.get_rng_state(), state)  # the caller's random stream is untouched


def test_integrated_gradients_completeness_and_memory_control(tiny_cnn, image):
    maps = attribute(tiny_cnn, image, "Effusion", "integrated_gradients", n_steps=300, internal_batch_size=None)
    with torch.no_grad():
        gap = float(tiny_cnn(image)[0, 1] - tiny_cnn(torch.zeros_like(image))[0, 1])
    assert float(maps.sum()) == pytest.approx(gap, rel=2e-2, abs=1e-3)
    chunked = attribute(tiny_cnn, image, "Effusion", "ig", n_steps=300, internal_batch_size=7)
    torch.testing.assert_close(chunked, maps, rtol=1e-4, atol=1e-6)


class _GuidedReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp_min(0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad.clamp_min(0) * (x > 0)


class _GuidedModule(nn.Module):
    def forward(self, x):
        return _GuidedReLU.apply(x)


def test_guided_backprop_matches_a_hand_written_guided_network(tiny_cnn, image):
    maps = attribute(tiny_cnn, image, "Effusion", "guided")
    guided = TinyCNN().eval()
    guided.load_state_dict(tiny_cnn.state_dict())
    guided.features[1] = _GuidedModule()
    guided.features[3] = _GuidedModule()
    x = image.clone().requires_grad_(True)
    guided(x)[0, 1].backward()
    torch.testing.assert_close(maps, x.grad, rtol=1e-5, atol=1e-8)
    assert not torch.allclose(maps, attribute(tiny_cnn, image, "Effusion", "gradient"))


def test_gradcam_matches_the_definition(tiny_cnn, image):
    maps = attribute(tiny_cnn, image, "Effusion", "gradcam")
    assert default_gradcam_layer(tiny_cnn, image) == "features"
    x = image.clone()
    activations = tiny_cnn.features(x / 1024)
    activations.retain_grad()
    tiny_cnn.classifier(activations.mean((2, 3)))[0, 1].backward()
    weights = activations.grad.mean((2, 3), keepdim=True)
    cam = F.relu((weights * activations).sum(1, keepdim=True))
    expected = F.interpolate(cam, size=(16, 16), mode="bilinear")
    torch.testing.assert_close(maps, expected.detach(), rtol=1e-4, atol=1e-6)


def test_gradcam_default_layers_of_the_library_models():
    dense = xrv.models.DenseNet(block_config=(1, 1, 1, 1), growth_rate=4, num_init_features=8).eval()
    assert default_gradcam_layer(dense) == "features"
    assert default_gradcam_layer(xrv.models.ResNet().eval()) == "model.layer4"


def test_every_densenet_relu_is_a_module():
    # guided backprop rewrites ReLU modules only: every ReLU of the forward pass must be one
    model = xrv.models.DenseNet(block_config=(1, 1, 1, 1), growth_rate=4, num_init_features=8).eval()
    module_calls, functional_calls = [], []
    for module in model.modules():
        if isinstance(module, nn.ReLU):
            module.register_forward_hook(lambda *_: module_calls.append(1))
    original = F.relu

    def counting(*args, **kwargs):
        functional_calls.append(1)
        return original(*args, **kwargs)

    F.relu = counting
    try:
        model(torch.zeros(1, 1, 32, 32))
    finally:
        F.relu = original
    assert len(module_calls) == len(functional_calls) > 0


def test_output_types_of_a_calibrated_classifier(image):
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = xrv.models.DenseNet(block_config=(1, 1, 1, 1), growth_rate=4, num_init_features=8).eval()
    with torch.no_grad():
        model.classifier.weight.mul_(0.01)
    x = F.interpolate(image, size=64)
    with torch.no_grad():
        logit = model.classifier(model.features2(x))[0, model.targets.index("Effusion")]
    p = float(torch.sigmoid(logit))
    t = float(torch.tensor(min(0.99, p + 0.1), dtype=torch.float32))  # the threshold as op_norm sees it
    assert p < t  # below its threshold, op_norm's slope is 1 / (2t)
    model.op_threshs = torch.full((18,), t)
    grad_logit = attribute(model, x, "Effusion", output="logit")
    grad_prob = attribute(model, x, "Effusion", output="probability")
    grad_cal = attribute(model, x, "Effusion", output="calibrated")
    scale = float(grad_prob.abs().max())
    torch.testing.assert_close(grad_prob, grad_logit * p * (1 - p), rtol=1e-4, atol=1e-5 * scale)
    torch.testing.assert_close(grad_cal, grad_prob / (2 * t), rtol=1e-4, atol=1e-5 * scale)
    torch.testing.assert_close(attribute(model, x, "Effusion", output="model"), grad_cal)
    model.op_threshs[model.targets.index("Effusion")] = float("nan")
    with pytest.raises(ExplainError, match="no calibration threshold"):
        attribute(model, x, "Effusion")
    model.op_threshs = None
    with pytest.raises(ExplainError, match="op_threshs"):
        attribute(model, x, "Effusion", output="calibrated")


def test_requests_that_cannot_be_explained(tiny_cnn, image):
    with pytest.raises(KeyError, match="choose one of: .*integrated_gradients"):
        attribute(tiny_cnn, image, "Effusion", "lime")
    with pytest.raises(ExplainError, match="untrained slot"):
        attribute(tiny_cnn, image, 2)
    with pytest.raises(KeyError, match="Cardiomegaly, Effusion, Pneumothorax"):
        attribute(tiny_cnn, image, "Mass")
    with pytest.raises(ExplainError, match="needs an autoencoder"):
        attribute(tiny_cnn, image, "Effusion", "latentshift")
    with pytest.raises(KeyError, match="module of this model"):
        attribute(tiny_cnn, image, "Effusion", "gradcam", layer="features.9")
    with pytest.raises(ExplainError, match="training mode"):
        attribute(nn.Sequential(nn.BatchNorm2d(1), tiny_cnn).train(), image, 1, labels=tiny_cnn.targets)
    unnamed = nn.Sequential(nn.Flatten(), nn.Linear(256, 3)).eval()
    assert attribute(unnamed, image, 2).shape == image.shape  # an index needs no names
    with pytest.raises(ExplainError, match="labels="):
        attribute(unnamed, image, "Effusion")


def test_latentshift_through_attribute(tiny_cnn, image):
    maps = attribute(tiny_cnn, image, "Effusion", "latentshift", autoencoder=TinyAE().eval(),
                     search=xrv.explain.FixedRange(-30, 0, 4), heatmap="max", legacy=True)  # fmt: skip
    (result,) = xrv.explain.LatentShift(tiny_cnn, TinyAE().eval(), search=xrv.explain.FixedRange(-30, 0, 4)).attribute(
        image, "Effusion"
    )
    np.testing.assert_allclose(maps[0, 0].numpy(), np.abs(result.reconstruction[0] - result.frames[0, 0]), rtol=1e-5)


def test_postprocess_blur_and_threshold_match_scipy_and_numpy():
    ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(2, 1, 20, 17)).astype(np.float32)
    original = maps.copy()
    blurred = postprocess(maps, sigma=1.7)
    for i in range(2):
        expected = ndimage.gaussian_filter(np.abs(maps[i, 0]).astype(np.float64), 1.7, mode="constant", truncate=3.5)
        np.testing.assert_allclose(blurred[i, 0], expected, rtol=1e-5, atol=1e-6)
    kept = postprocess(maps, abs=False, percentile=95)
    for i in range(2):
        plane = maps[i, 0]
        np.testing.assert_array_equal(kept[i, 0], plane * (plane > np.percentile(plane, 95)))
    np.testing.assert_array_equal(maps, original)  # the input is untouched
    assert isinstance(postprocess(torch.from_numpy(maps)), torch.Tensor) and isinstance(kept, np.ndarray)
    with pytest.raises(ExplainError):
        postprocess(maps, percentile=120)


def test_the_models_own_range_check_stays_quiet_on_integrated_gradient_paths(recwarn):
    """The path from the baseline (mid-grey) to the image is not made of radiographs: the
    library model's pixel-range warning must not fire for it; an out-of-range *input* still warns."""
    model = xrv.models.DenseNet(growth_rate=4, block_config=(1, 1), num_init_features=8, num_classes=2).eval()
    model.input_resolution = 32
    model.targets = ["a", "b"]
    x = torch.linspace(-1024, 1024, 32 * 32).reshape(1, 1, 32, 32)
    attribute(model, x, "a", method="integrated_gradients", n_steps=8)
    assert not [w for w in recwarn if issubclass(w.category, xrv.models.InputRangeWarning)]
    assert model.check_input_range is True  # restored
    with pytest.warns(xrv.models.InputRangeWarning, match="outside"):
        attribute(model, x * 2, "a", method="gradient")


def test_smoothgrad_map_depends_only_on_the_image_and_the_seed(image):
    cnn = TinyCNN(seed=1).eval()
    pair = torch.cat([image.flip(-1), image])
    in_batch = attribute(cnn, pair, "Effusion", "smoothgrad", n_samples=6)[1]
    alone = attribute(cnn, image, "Effusion", "smoothgrad", n_samples=6)[0]
    twice = attribute(cnn, image.expand(2, -1, -1, -1), "Effusion", "smoothgrad", n_samples=6)
    chunked = attribute(cnn, pair, "Effusion", "smoothgrad", n_samples=6, internal_batch_size=2)[1]
    for other in (in_batch, twice[0], twice[1], chunked):
        torch.testing.assert_close(other, alone, rtol=1e-5, atol=1e-7)


def test_smoothgrad_and_occlusion_settings_out_of_range(tiny_cnn, image):
    for n_samples in (0, -1, 2.5):
        with pytest.raises(ExplainError, match="n_samples must be a whole number of at least 1"):
            attribute(tiny_cnn, image, "Effusion", "smoothgrad", n_samples=n_samples)
    for window in (0, 17, 1000, 2.5):
        with pytest.raises(ExplainError, match=r"occlusion window .* from 1 to 16 \(the image is 16x16\)"):
            attribute(tiny_cnn, image, "Effusion", "occlusion", window=window)
    with pytest.raises(ExplainError, match="occlusion stride"):
        attribute(tiny_cnn, image, "Effusion", "occlusion", window=4, stride=0)


def test_inputs_of_the_wrong_kind_get_clear_errors(tiny_cnn, image):
    expected = attribute(tiny_cnn, image, "Effusion")
    torch.testing.assert_close(attribute(tiny_cnn, image.numpy(), "Effusion"), expected)  # NumPy
    torch.testing.assert_close(attribute(tiny_cnn, image.double(), "Effusion"), expected)  # float64: the model's dtype
    torch.testing.assert_close(attribute(tiny_cnn, image.double().numpy(), "Effusion"), expected)
    with pytest.raises(ModelInputError, match=r"uint8 tensor; scale 8-bit images with xrv.utils.normalize"):
        attribute(tiny_cnn, image.clamp(0, 255).to(torch.uint8), "Effusion")
    with pytest.raises(ModelInputError, match="got list"):
        attribute(tiny_cnn, image.tolist(), "Effusion")
    with pytest.raises(ExplainError, match="the batch is empty"):
        attribute(tiny_cnn, image[:0], "Effusion")
    with pytest.raises(ExplainError, match="the batch is empty"):
        attribute(tiny_cnn, image[:0], "Effusion", "latentshift", autoencoder=TinyAE().eval(), search=FixedRange(-1, 0, 2))


def test_gradcam_on_a_layer_without_a_feature_map_names_the_spatial_ones(tiny_cnn, image):
    with pytest.raises(ExplainError, match=r"Grad-CAM layer 'classifier' does not output a spatial feature map.*'features'"):
        attribute(tiny_cnn, image, "Effusion", "gradcam", layer="classifier")


def test_latentshift_option_typos_are_refused_like_other_methods(tiny_cnn, image):
    with pytest.raises(ExplainError, match=r"unexpected options for method 'latentshift': heatmp; .*heatmap"):
        attribute(tiny_cnn, image, "Effusion", "latentshift", autoencoder=TinyAE().eval(), heatmp="max")
    with pytest.raises(ExplainError, match="unexpected options for method 'gradient': heatmap"):
        attribute(tiny_cnn, image, "Effusion", "gradient", heatmap="max")


def test_non_finite_maps_are_refused_not_zeroed():
    maps = torch.full((1, 1, 4, 4), float("nan"))
    with pytest.raises(ExplainError, match="16 non-finite values"):
        postprocess(maps, percentile=50)
    partly = np.ones((4, 4))
    partly[0, 0] = np.inf
    with pytest.raises(ExplainError, match="1 non-finite values"):
        postprocess(partly, sigma=1)
