"""optimize_for_inference(): same outputs as the eager model, original untouched."""

from __future__ import annotations

import pickle
import sys

import pytest
import torch

import xrayvision as xrv

from .conftest import random_bn_stats, xray_batch


def _relative_error(a, b):
    return float((a - b).abs().max() / b.abs().max())


def test_fast_densenet_matches_eager():
    model = random_bn_stats(xrv.models.DenseNet(), seed=3).eval()
    model.input_resolution = 224
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fast = model.optimize_for_inference()
    x = xray_batch(3)
    with torch.no_grad():
        reference = model(x)
        assert _relative_error(fast(x), reference) < 1e-4
        assert _relative_error(fast.features2(x), model.features2(x)) < 1e-4
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert type(model) is xrv.models.DenseNet and model.features is not fast.features
    with pytest.raises(RuntimeError, match="cannot be trained"):
        fast.train()


def test_fast_resnet_matches_eager():
    model = random_bn_stats(xrv.models.ResNet(), seed=4).eval()
    fast = xrv.models.optimize_for_inference(model)
    x = xray_batch(1, size=512)
    original = x.clone()
    with torch.no_grad():
        assert _relative_error(fast(x), model(x)) < 1e-4
    assert torch.equal(x, original)  # the residual sums are written in place, never into the input


def test_fast_path_keeps_calibration_and_nan_slots():
    model = random_bn_stats(xrv.models.DenseNet()).eval()
    record = xrv.models.get_weights("rsna")
    model.targets, model.op_threshs, model.input_resolution = list(record.labels), torch.tensor(record.op_threshs), 224
    out = model.optimize_for_inference()(xray_batch())
    assert torch.isnan(out[0]).sum() == 16 and not torch.isnan(out[0, [8, 16]]).any()


def test_other_models_are_refused():
    with pytest.raises(TypeError):
        xrv.models.optimize_for_inference(torch.nn.Linear(2, 2))


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="unknown backend 'tvm'"):
        xrv.models.DenseNet().optimize_for_inference(backend="tvm")


def test_onnxruntime_backend_without_its_packages_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    with pytest.raises(ImportError, match=r'pip install "xrayvision\[onnx\]"'):
        xrv.models.DenseNet().optimize_for_inference(backend="onnxruntime")


@pytest.mark.parametrize("architecture", ["densenet", "resnet"])
def test_onnxruntime_backend_matches_eager(architecture):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    if architecture == "densenet":  # a small DenseNet keeps the export quick
        model = xrv.models.DenseNet(growth_rate=8, block_config=(2, 2), num_init_features=16)
    else:
        model = xrv.models.ResNet(weights=None)
    model = random_bn_stats(model, seed=5).eval()
    model.input_resolution = 64
    fast = model.optimize_for_inference(backend="onnxruntime")
    x = xray_batch(2, size=64)
    with torch.no_grad():
        assert _relative_error(fast(x), model(x)) < 1e-4
        if architecture == "densenet":
            assert _relative_error(fast.features2(x), model.features2(x)) < 1e-4
    restored = pickle.loads(pickle.dumps(fast))  # the session is rebuilt from the stored graph
    assert torch.equal(restored(x), fast(x))


def test_cpu_batches_run_in_cache_sized_chunks_with_the_same_outputs(monkeypatch):
    from xrayvision.models import fast as fast_module

    model = random_bn_stats(xrv.models.DenseNet(growth_rate=8, block_config=(2, 2), num_init_features=16), seed=6)
    model = model.eval()
    model.input_resolution = 64
    fast = model.optimize_for_inference()
    x = xray_batch(3, size=64)
    calls = []
    original = fast.features._forward
    monkeypatch.setattr(fast.features, "_forward", lambda part: calls.append(part.shape[0]) or original(part))
    monkeypatch.setattr(fast_module, "_CPU_CHUNK_BYTES", 1)  # one image per chunk
    with torch.no_grad():
        assert _relative_error(fast(x), model(x)) < 1e-4
    assert calls == [1, 1, 1]


def _small_densenet_with_every_norm1_form():
    """A small DenseNet whose dense layers cover the three norm1 rewrites of the fast path.

    Layer 1 keeps positive BatchNorm scales (clamp from below only), layer 2 gets mixed
    signs (two-sided clamp), layer 3 a zero scale (exact affine fallback).
    """
    model = random_bn_stats(xrv.models.DenseNet(growth_rate=8, block_config=(3, 2), num_init_features=16), seed=7)
    layers = list(model.features.denseblock1.children())
    with torch.no_grad():
        layers[1].norm1.weight[::2] *= -1
        layers[2].norm1.weight[3] = 0
    model.input_resolution = 64
    return model.eval()


def test_fast_dense_layers_use_each_norm1_form_and_match_eager():
    from xrayvision.models import fast as fast_module

    model = _small_densenet_with_every_norm1_form()
    fast = model.optimize_for_inference()
    modes = [m.mode for m in fast.features.modules() if isinstance(m, fast_module._DenseLayerWeights)]
    assert modes[:3] == ["max", "clamp", "affine"]
    with torch.no_grad():
        for batch, size in [(1, 64), (3, 64), (1, 96), (2, 80)]:
            x = xray_batch(batch, size=size, seed=batch + size)
            reference = model.features(x)
            assert _relative_error(fast.features(x), reference) < 1e-4, (batch, size)
            if size == model.input_resolution:  # other sizes are resized by the wrapper
                assert _relative_error(fast(x), model(x)) < 1e-4, batch


@pytest.mark.parametrize(("tweak", "mode"), [("negate half", "clamp"), ("zero one", "affine")])
def test_fast_transition_norm_forms_match_eager(tweak, mode):
    from xrayvision.models import fast as fast_module

    model = _small_densenet_with_every_norm1_form()
    with torch.no_grad():
        if tweak == "negate half":
            model.features.transition1.norm.weight[::2] *= -1
        else:
            model.features.transition1.norm.weight[5] = 0
    fast = model.optimize_for_inference()
    transition = next(m for m in fast.features.modules() if isinstance(m, fast_module._FastTransition))
    assert transition.mode == mode
    x = xray_batch(2, size=64)
    with torch.no_grad():
        assert _relative_error(fast(x), model(x)) < 1e-4


def test_fast_densenet_reused_scratch_keeps_earlier_outputs():
    """Scratch buffers are reused from call to call: results already returned stay put."""
    model = _small_densenet_with_every_norm1_form()
    fast = model.optimize_for_inference()
    first, second = xray_batch(2, size=64, seed=1), xray_batch(2, size=64, seed=2)
    with torch.no_grad():
        out_first = fast(first)
        kept = out_first.clone()
        features_first = fast.features(first)
        fast(second)
        fast.features(second)
        assert torch.equal(out_first, kept)
        assert _relative_error(features_first, model.features(first)) < 1e-4
        assert _relative_error(fast(first), model(first)) < 1e-4
        # Under inference mode, then under no_grad again: each mode gets its own scratch.
        with torch.inference_mode():
            assert _relative_error(fast.features(second), model.features(second)) < 1e-4
        assert _relative_error(fast.features(second), model.features(second)) < 1e-4


def test_fast_densenet_threads_do_not_share_scratch():
    from concurrent.futures import ThreadPoolExecutor

    model = _small_densenet_with_every_norm1_form()
    fast = model.optimize_for_inference()
    inputs = [xray_batch(1, size=64, seed=seed) for seed in range(8)]
    with torch.no_grad():
        expected = [model(x) for x in inputs]

    def predict_all(offset):
        return [fast(inputs[(i + offset) % 8]) for i in range(24)]

    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(predict_all, [0, 3]))
    for offset, outputs in zip([0, 3], runs):
        for i, out in enumerate(outputs):
            assert _relative_error(out, expected[(i + offset) % 8]) < 1e-4


def test_fast_densenet121_batch_one_at_another_size_matches_eager():
    model = random_bn_stats(xrv.models.DenseNet(), seed=8).eval()
    model.input_resolution = 224
    fast = model.optimize_for_inference()
    with torch.no_grad():
        for size in (224, 160):
            x = xray_batch(1, size=size, seed=size)
            assert _relative_error(fast.features(x), model.features(x)) < 1e-4, size


def test_fast_dense_blocks_without_onednn_match_eager():
    """With gradients on (or off CPU/float32) the blocks run plain convolutions instead."""
    model = _small_densenet_with_every_norm1_form()
    fast = model.optimize_for_inference()
    x = xray_batch(2, size=64)
    with torch.no_grad():
        reference = model.features(x)
    with torch.enable_grad():  # the oneDNN path serves inference only
        out = fast.features._forward(x)
    assert _relative_error(out.detach(), reference) < 1e-4


def test_fast_densenet_copies_and_dtype_changes_rebuild_their_plans():
    from xrayvision.models import fast as fast_module

    model = _small_densenet_with_every_norm1_form()
    fast = model.optimize_for_inference()
    x = xray_batch(1, size=64)
    with torch.no_grad():
        expected = fast(x)
        restored = pickle.loads(pickle.dumps(fast))  # packed oneDNN weights are not picklable
        assert torch.equal(restored(x), expected)
        block = next(m for m in fast.features.modules() if isinstance(m, fast_module._FastDenseBlock))
        assert block._plans
        features = fast.features.double()
        assert not block._plans  # the float32 plan holds the tensors .double() replaced
        out = features(x.double())
        assert out.dtype == torch.float64
        assert _relative_error(out, model.features.double()(x.double())) < 1e-6


def test_per_thread_scratch_keeps_the_two_latest_keys_and_pickles_empty():
    from xrayvision.models.fast import _PerThreadScratch

    scratch, built = _PerThreadScratch(), []

    def build(name):
        return lambda: built.append(name) or torch.zeros(1)

    first = scratch.get("full", build("full"))
    scratch.get("remainder", build("remainder"))
    assert scratch.get("full", build("full")) is first  # reused, not rebuilt
    scratch.get("other", build("other"))  # evicts "remainder", the least recently used
    scratch.get("full", build("full"))
    scratch.get("remainder", build("remainder"))
    assert built == ["full", "remainder", "other", "remainder"]
    restored = pickle.loads(pickle.dumps(scratch))
    assert restored.get("full", build("full")) is not first and built[-1] == "full"
