"""The chest phantom: contract, determinism, exact masks, cardiothoracic ratio, shortcuts, learnability."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest
import torch

from tests.datasets.contract import check_dataset_contract
from xrayvision.datasets import SiteStyle, SyntheticChest_Dataset
from xrayvision.datasets._phantom import FINDINGS, render_chest
from xrayvision.datasets.synthetic_chest import shortcut_probabilities
from xrayvision.errors import DatasetError, UnknownNameError

EVERY_FINDING = dict.fromkeys(FINDINGS, 0.5)


def phantom(n=24, size=48, seed=0, **kwargs):
    kwargs.setdefault("prevalence", EVERY_FINDING)
    return SyntheticChest_Dataset(n=n, size=size, seed=seed, **kwargs)


def test_contract():
    d = phantom(12, size=40, pathology_masks=True, semantic_masks=True, shortcut="marker")
    check_dataset_contract(d, constructor=lambda: phantom(12, size=40, shortcut="token"))
    assert d.pathologies == ["Cardiomegaly", "Effusion", "Nodule", "Pneumothorax"]
    assert str(d) == "SyntheticChest_Dataset num_samples=12 size=40 seed=0 data_aug=None"


def test_samples_are_a_function_of_seed_and_index_alone():
    a, b = phantom(30, seed=5), phantom(6, seed=5)
    for i in range(6):  # a smaller dataset is a prefix of a larger one
        assert np.array_equal(a[i]["img"], b[i]["img"])
        assert np.array_equal(a.labels[i], b.labels[i])
    assert a.csv.iloc[:6].equals(b.csv)
    # random access in any order, after pickling, and in another dataset object: same pixels
    order = [5, 0, 3, 3, 1]
    first = [a[i]["img"] for i in order]
    clone = pickle.loads(pickle.dumps(a))
    assert all(np.array_equal(x, clone[i]["img"]) for x, i in zip(first, order))
    other = phantom(30, seed=6)
    assert not np.array_equal(a[0]["img"], other[0]["img"])
    assert not np.array_equal(a.labels, other.labels)


def test_dataloader_workers_give_the_same_images():
    d = phantom(8, size=32)
    loader = torch.utils.data.DataLoader(d, batch_size=4, num_workers=2)
    images = torch.cat([batch["img"] for batch in loader])
    assert torch.equal(images, torch.from_numpy(np.stack([d[i]["img"] for i in range(8)])))


def test_images_lie_strictly_inside_the_range_at_any_size():
    for size in (16, 37, 64):
        d = phantom(6, size=size, sites=3)
        for i in range(len(d)):
            img = d[i]["img"]
            assert img.shape == (1, size, size) and img.dtype == np.float32
            assert np.isfinite(img).all() and img.min() > -1024 and img.max() < 1024


@pytest.mark.parametrize("size", [37, 96])
def test_each_mask_is_exactly_where_the_finding_changed_the_image(size):
    """Independent oracle: render the same scene without the finding and compare pixels."""
    d = phantom(40, size=size, seed=11, prevalence=0.6, shortcut="marker", shortcut_correlation=0.0)
    without = {
        "Cardiomegaly": {"cardiomegaly": False},
        "Effusion": {"effusions": ()},
        "Nodule": {"nodules": ()},
        "Pneumothorax": {"pneumothorax": None},
    }
    checked = dict.fromkeys(FINDINGS, 0)
    for i in range(len(d)):
        scene = d.scene(i)
        rendered = d.render(i)
        assert set(rendered.findings) == {f for j, f in enumerate(FINDINGS) if d.labels[i, j] == 1}
        for name, mask in rendered.findings.items():
            plain = render_chest(dataclasses.replace(scene, **without[name]), size).image[0]
            changed = plain != rendered.image[0]
            assert mask.any(), (i, name)
            assert np.array_equal(changed, mask), (i, name, int((changed ^ mask).sum()))
            checked[name] += 1
        if "Shortcut" in rendered.anatomy:
            plain = render_chest(dataclasses.replace(scene, shortcut=None), size).image[0]
            assert np.array_equal(plain != rendered.image[0], rendered.anatomy["Shortcut"])
    assert min(checked.values()) >= 5, checked
    # the dataset's masks are those masks, as float32 [1, H, W] keyed by pathology index
    d.pathology_masks = True
    i = next(i for i in range(len(d)) if d.labels[i].sum() >= 2)
    sample = d[i]
    for j, mask in sample["pathology_masks"].items():
        assert mask.dtype == np.float32 and np.array_equal(mask[0] > 0, d.render(i).findings[d.pathologies[j]])


def _widest_run(mask: np.ndarray) -> int:
    """Widest row extent (first to last set column) of a 2-D mask, in pixels."""
    rows = [np.flatnonzero(r) for r in mask if r.any()]
    return max(int(c[-1] - c[0] + 1) for c in rows)


def test_measured_cardiothoracic_ratio_separates_cardiomegaly():
    size = 128
    d = phantom(60, size=size, seed=3, prevalence=0.5, semantic_masks=True)
    for i in range(len(d)):
        anatomy = d.render(i).anatomy
        ratio = _widest_run(anatomy["Heart"]) / _widest_run(anatomy["Lungs"])
        assert abs(ratio - d.csv["ctr"].iat[i]) < 3 / (0.55 * size), (i, ratio, d.csv["ctr"].iat[i])
        assert (ratio > 0.5) == (d.labels[i, 0] == 1), (i, ratio)
    assert 10 < d.labels[:, 0].sum() < 50


@pytest.mark.parametrize("correlation", [0.8, 0.3, -0.6, -1.0])
def test_shortcut_correlation_is_what_was_asked(correlation):
    d = SyntheticChest_Dataset(n=5000, size=32, seed=2, prevalence={"Effusion": 0.3}, shortcut="token",
                               shortcut_label="Effusion", shortcut_correlation=correlation)
    shortcut = d.csv["shortcut"].to_numpy(dtype=float)
    label = d.labels[:, 1]
    measured = np.corrcoef(shortcut, label)[0, 1]
    assert abs(measured - correlation) < 0.05, measured  # ~3 standard errors at n=5000
    # the glyph is drawn exactly in the images flagged
    for i in range(12):
        assert ("Shortcut" in d.render(i).anatomy) == bool(shortcut[i])


def test_shortcut_probabilities_give_the_correlation_exactly():
    for p in (0.1, 0.3, 0.5, 0.8):
        for r in (-1.0, -0.4, 0.0, 0.5, 1.0):
            a, b = shortcut_probabilities(p, r)
            assert 0 <= a <= 1 and 0 <= b <= 1
            q = p * a + (1 - p) * b  # P(shortcut)
            cov = p * a - p * q  # E[SY] - E[S]E[Y]
            assert cov / np.sqrt(p * (1 - p) * q * (1 - q)) == pytest.approx(r, abs=1e-12)


def test_site_shortcut_ties_the_site_to_the_label_and_sites_change_exposure():
    d = SyntheticChest_Dataset(n=400, size=32, seed=4, shortcut="site", shortcut_correlation=1.0,
                               sites=[SiteStyle(brightness=-0.3), SiteStyle(brightness=0.3)])
    assert np.array_equal(d.csv["site"].to_numpy(), d.labels[:, 0].astype(int))
    means = [np.mean([d[i]["img"].mean() for i in np.flatnonzero(d.csv["site"] == s)[:20]]) for s in (0, 1)]
    assert means[1] - means[0] > 200  # brighter site
    with pytest.raises(DatasetError, match="exactly two sites"):
        SyntheticChest_Dataset(n=4, sites=3, shortcut="site")


def test_prevalence_sites_missing_labels_and_patients():
    d = SyntheticChest_Dataset(n=6000, size=32, seed=9, prevalence={"Nodule": 0.1, "Pneumothorax": 0.6},
                               sites=3, site_weights=[1, 2, 1], missing_labels=0.2, images_per_patient=3)
    truth = d.csv[["nodules", "pneumothorax"]].to_numpy()
    assert abs((truth[:, 0] > 0).mean() - 0.1) < 0.015 and abs((truth[:, 1] != "").mean() - 0.6) < 0.02
    assert abs(np.isnan(d.labels).mean() - 0.2) < 0.01
    known = ~np.isnan(d.labels[:, 2])
    assert np.array_equal(d.labels[known, 2] == 1, truth[known, 0] > 0)  # NaN hides, never lies
    share = np.bincount(d.csv["site"], minlength=3) / len(d)
    assert np.allclose(share, [0.25, 0.5, 0.25], atol=0.02)
    assert d.csv["patientid"].nunique() == 2000
    assert list(d.csv["offset_day_int"].iloc[:4]) == [0.0, 30.0, 60.0, 0.0]
    # one patient, one anatomy: same lungs in each follow-up
    lungs = [d.scene(i).lungs for i in range(3)]
    assert lungs[0] != d.scene(3).lungs
    assert d.totals()["Nodule"].keys() == {0.0, 1.0}


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n": -1}, DatasetError, "n must be an int"),
        ({"size": 8}, DatasetError, "size must be an int >= 16"),
        ({"seed": 1.5}, DatasetError, "seed"),
        ({"prevalence": 1.2}, DatasetError, "prevalence"),
        ({"prevalence": {"Cardiomegally": 0.2}}, UnknownNameError, "Cardiomegaly"),
        ({"shortcut": "watermark"}, UnknownNameError, "marker"),
        ({"shortcut": "marker", "shortcut_label": "Mass"}, UnknownNameError, "Nodule"),
        ({"shortcut": "marker", "shortcut_correlation": 1.5}, DatasetError, "shortcut_correlation"),
        ({"shortcut": "marker", "prevalence": 0.0}, DatasetError, "undefined"),
        ({"sites": 0}, DatasetError, "sites"),
        ({"sites": 2, "site_weights": [1]}, DatasetError, "site_weights"),
        ({"missing_labels": -0.1}, DatasetError, "missing_labels"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        SyntheticChest_Dataset(**kwargs)


def test_a_tiny_cnn_learns_cardiomegaly_and_effusion_in_seconds():
    from sklearn.metrics import roc_auc_score

    def tensors(seed, n):
        d = SyntheticChest_Dataset(n=n, size=64, seed=seed, prevalence=0.4)
        return torch.from_numpy(np.stack([d[i]["img"] for i in range(n)])) / 1024, torch.from_numpy(d.labels)

    x, y = tensors(1, 800)
    xv, yv = tensors(2, 300)
    with torch.random.fork_rng():  # no change to the caller's global RNG
        torch.manual_seed(0)
        net = torch.nn.Sequential(
            torch.nn.Conv2d(1, 16, 3, stride=2, padding=1), torch.nn.ReLU(),
            torch.nn.Conv2d(16, 32, 3, stride=2, padding=1), torch.nn.ReLU(),
            torch.nn.Conv2d(32, 32, 3, stride=2, padding=1), torch.nn.ReLU(),
            torch.nn.Flatten(), torch.nn.Linear(32 * 8 * 8, 4),
        )  # fmt: skip
        optimiser = torch.optim.Adam(net.parameters(), lr=3e-3)
        for _epoch in range(4):
            for batch in torch.randperm(len(x)).split(50):
                loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x[batch]), y[batch])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
    with torch.no_grad():
        scores = net(xv).numpy()
    auc = {name: roc_auc_score(yv[:, j], scores[:, j]) for j, name in enumerate(FINDINGS)}
    assert auc["Cardiomegaly"] > 0.9 and auc["Effusion"] > 0.85, auc
