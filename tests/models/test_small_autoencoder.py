"""ConvAutoencoder and fit_autoencoder: the small autoencoder for Latent Shift on other images."""

from __future__ import annotations

import pytest
import torch

import xrayvision as xrv
from xrayvision.errors import ModelInputError, WeightsFormatError


def test_shapes_range_and_the_library_interface():
    ae = xrv.autoencoders.ConvAutoencoder(width=4, depth=3)
    x = torch.rand(2, 1, 32, 32) * 2048 - 1024
    out = ae(x)
    assert out["z"].shape == (2, 16, 4, 4) and out["out"].shape == x.shape
    assert out["out"].abs().max() < 1024  # frames stay on the pixel scale
    with pytest.raises(ModelInputError, match="multiples of 8"):
        ae.encode(torch.zeros(1, 1, 30, 30))
    with pytest.raises(ModelInputError):
        ae.encode(torch.zeros(1, 3, 32, 32))


def test_fitting_lowers_the_reconstruction_error_and_leaves_the_global_rng_alone():
    data = xrv.datasets.SyntheticChest_Dataset(n=64, size=32, seed=0)
    images = torch.stack([torch.from_numpy(data[i]["img"]) for i in range(len(data))])

    def error(model):
        with torch.no_grad():
            return float((model(images)["out"] - images).abs().mean())

    torch.manual_seed(5)
    before_state = torch.random.get_rng_state()
    untrained = xrv.autoencoders.ConvAutoencoder(width=8, input_resolution=32)
    baseline = error(untrained)
    torch.random.set_rng_state(before_state)
    fitted = xrv.autoencoders.fit_autoencoder(data, epochs=8, batch_size=16, seed=1)
    assert torch.equal(torch.random.get_rng_state(), before_state)
    assert not fitted.training and fitted.input_resolution == 32
    assert error(fitted) < 0.5 * baseline
    again = xrv.autoencoders.fit_autoencoder(images, epochs=8, batch_size=16, seed=1)  # a tensor works too
    assert all(torch.equal(a, b) for a, b in zip(fitted.state_dict().values(), again.state_dict().values()))


def test_a_saved_autoencoder_comes_back_with_its_shape_and_weights(tmp_path):
    saved = xrv.autoencoders.ConvAutoencoder(width=8, depth=2, input_resolution=32).eval()
    path = xrv.models.save_model(saved, tmp_path / "ae")
    x = torch.rand(2, 1, 32, 32) * 2048 - 1024
    for loaded in (xrv.models.get_model(path), xrv.autoencoders.ConvAutoencoder(weights=path)):
        assert isinstance(loaded, xrv.autoencoders.ConvAutoencoder) and not loaded.training
        assert loaded.depth == 2 and loaded.input_resolution == 32
        assert torch.equal(loaded(x)["out"], saved(x)["out"])
    classifier = xrv.models.save_model(xrv.models.DenseNet(weights=None), tmp_path / "dn")
    with pytest.raises(WeightsFormatError, match="not a ConvAutoencoder weight set.*'densenet121'"):
        xrv.autoencoders.ConvAutoencoder(weights=classifier)
