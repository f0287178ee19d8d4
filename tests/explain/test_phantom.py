"""On the chest phantom (exact finding masks): maps of a trained classifier find the finding,
and Latent Shift frames lower the prediction.

A small CNN is trained for a few seconds on rendered radiographs, a small autoencoder is
fitted on the same images; both are seeded, so the run is deterministic.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

import xrayvision as xrv
from xrayvision.explain import (
    LatentShift,
    LatentShiftSearchWarning,
    mask_scores,
    score_methods,
)
from xrayvision.explain.search import LIMIT

pytestmark = pytest.mark.slow  # about 25 s on 2 quiet cores (training included)

TARGET = "Pneumothorax"
SIZE, N_TRAIN, N_TEST = 64, 400, 80


class PhantomNet(nn.Module):
    def __init__(self, labels):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
        )  # fmt: skip
        self.classifier = nn.Linear(32, len(labels))
        self.targets = list(labels)

    def forward(self, x):
        return self.classifier(self.features(x / 1024).amax((2, 3)))


class PhantomAE(nn.Module):
    def __init__(self, width: int = 16):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, width, 4, 2, 1), nn.ReLU(), nn.Conv2d(width, 2 * width, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(2 * width, 2 * width, 4, 2, 1),
        )  # fmt: skip
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(2 * width, 2 * width, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(width, 1, 4, 2, 1),
        )  # fmt: skip

    def encode(self, x):
        return self.encoder(x / 1024)

    def decode(self, z):
        return 1024 * self.decoder(z)


def _fit(model, loss_of, images, epochs, lr, seed):
    optimizer = torch.optim.Adam(model.parameters(), lr)
    order = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        permutation = torch.randperm(len(images), generator=order)
        for start in range(0, len(images), 32):
            batch = permutation[start : start + 32]
            loss = loss_of(batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


@pytest.fixture(scope="module")
def phantom():
    data = xrv.datasets.SyntheticChest_Dataset(n=N_TRAIN + N_TEST, size=SIZE, seed=0, pathology_masks=True, prevalence=0.4)
    images = torch.from_numpy(np.stack([data[i]["img"] for i in range(N_TRAIN)]))
    labels = torch.from_numpy(data.labels[:N_TRAIN])
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = PhantomNet(data.pathologies)
        ae = PhantomAE()
        _fit(net, lambda b: nn.functional.binary_cross_entropy_with_logits(net(images[b]), labels[b]), images, 12, 3e-3, 0)

        def reconstruction_loss(b):
            error = (ae.decode(ae.encode(images[b])) - images[b]) / 1024
            return error.pow(2).mean() + error.abs().mean()  # the "elastic" L2 + L1 of the published autoencoder

        _fit(ae, reconstruction_loss, images, 15, 2e-3, 1)
    test = xrv.datasets.SubsetDataset(data, list(range(N_TRAIN, N_TRAIN + N_TEST)))
    return net, ae, test


def _chance_iou(dataset, column):
    # an area-matched random map overlaps by the mask's share a: IoU = a / (2 - a)
    shares = [s["pathology_masks"][column].mean() for s in map(dataset.__getitem__, range(len(dataset)))
              if column in s["pathology_masks"]]  # fmt: skip
    share = float(np.mean(shares))
    return share / (2 - share)


def test_maps_overlap_the_drawn_finding_well_above_chance(phantom, capsys):
    net, ae, test = phantom
    chance = _chance_iou(test, test.pathologies.index(TARGET))
    results = score_methods(
        net, test, targets=[TARGET], limit=12, autoencoder=ae,
        methods=["gradient", "ig", "guided", "gradcam", "occlusion", "smoothgrad", "latentshift"],
        options={"ig": {"n_steps": 32}, "occlusion": {"window": 8}, "smoothgrad": {"n_samples": 8},
                 "latentshift": {"output": "probability", "heatmap": "max", "legacy": True}},
    )  # fmt: skip
    summary = results.summary().set_index("method")
    with capsys.disabled():
        print(f"\nphantom {TARGET}: chance IoU {chance:.3f}\n{results}")
    assert (summary["n"] == 12).all()
    # measured: 4.5x (occlusion) to 7x (integrated gradients) chance; Latent Shift with an
    # autoencoder fitted for seconds, 2x
    for method, row in summary.drop(index="latentshift").iterrows():
        assert row["iou"] > 3 * chance, method
    assert summary.loc["latentshift", "iou"] > 1.5 * chance


def test_latent_shift_frames_lower_the_prediction(phantom):
    net, ae, test = phantom
    column = test.pathologies.index(TARGET)
    positives = [i for i in range(len(test)) if test.labels[i, column] == 1][:6]
    images = torch.from_numpy(np.stack([test[i]["img"] for i in positives]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LatentShiftSearchWarning)
        results = LatentShift(net, ae, search="paper", output="probability").attribute(images, TARGET)
    lowered = 0
    for position, result in zip(positives, results):
        # within the range the search accepted (up to the last λ before a stop rule fired),
        # the prediction falls monotonically as λ goes negative
        accepted = result.search.left.visited[-2][0] if result.search.left.reason != LIMIT else -np.inf
        inside = (result.lambdas >= accepted) & (result.lambdas <= 0)
        assert np.all(np.diff(result.preds[inside]) >= -1e-3), (result.lambdas, result.preds)
        lowered += result.preds[inside][0] < result.initial_pred - 0.05
        assert mask_scores(result.heatmap("int"), test[position]["pathology_masks"][column]).iou > 0
    assert lowered >= 5
