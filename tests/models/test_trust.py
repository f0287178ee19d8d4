"""Which weight files are trusted and why: published digests, content checks, first use."""

from __future__ import annotations

import hashlib

import pytest
import torch

import xrayvision as xrv
from xrayvision.errors import ChecksumError, DownloadError, WeightsFormatError
from xrayvision.hub import trust_policy, verify_cached
from xrayvision.models._loading import fetch_file
from xrayvision.models._registry import all_weights
from xrayvision.models._builders import registered_entry
from xrayvision.models._validate import content_check

from .conftest import random_bn_stats

# The oracle: ../shared/spec/weights-digests.md, copied by hand.
PUBLISHED = {
    "all": ("56524913dd16a906422e8d8b66a7a5c46be1d82eb7ac012d8103776f1aa68899", 28_382_008),
    "mimic_ch": ("23b13a04459684ffa41247d068207a7657b4e1b4dec2b02431f5026bd75b1189", 28_382_012),
}
SIZES_WITHOUT_DIGEST = {"chex": 28_381_998, "chestx_det": 272_988_989}
#: Files whose check cannot cover every key: TorchScript (never loaded), the VQ-GAN (its
#: shapes come from a YAML file), and the CheXpert ensemble (a user-supplied zip).
INCOMPLETE_CHECKS = {"riken-torchscript", "vqgan", "chexpert-densenet121-ensemble"}


def validator_for(architecture):
    return registered_entry(architecture).check_file


@pytest.mark.parametrize("weights", all_weights(), ids=lambda w: w.name)
def test_published_digests_and_sizes_are_pinned_and_nothing_else(weights):
    digest, size = PUBLISHED.get(weights.name, (None, SIZES_WITHOUT_DIGEST.get(weights.name)))
    assert (weights.sha256, weights.size) == (digest, size)
    resource = weights.resource()
    assert (resource.sha256, resource.size) == (digest, size)
    check = content_check(weights)
    # Every network built here: a complete check (keys and shapes); the rest: a safe parse.
    assert check.complete == (weights.architecture not in INCOMPLETE_CHECKS)
    expected = "pinned" if digest else ("first-use" if check.complete else "none")
    assert trust_policy(resource, check) == expected


def _mirror_holding(tmp_path, monkeypatch, weights, source) -> None:
    """XRV_WEIGHTS_MIRROR: a folder where ``source`` stands under ``weights``' release name."""
    mirror = tmp_path / "mirror"
    mirror.mkdir(exist_ok=True)
    (mirror / weights.filename).write_bytes(source.read_bytes())
    monkeypatch.setenv("XRV_WEIGHTS_MIRROR", str(mirror))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    torch.save(random_bn_stats(xrv.models.DenseNet()).state_dict(), folder / "densenet.pt")
    torch.save(xrv.models.ResNet().model.state_dict(), folder / "resnet.pt", _use_new_zipfile_serialization=False)
    torch.save(xrv.autoencoders.ResNetAE().state_dict(), folder / "ae.pt")
    (folder / "hello.pt").write_text("hello\n")
    return folder


def test_core_validators_accept_their_files_and_nothing_else(files, official_densenet):
    # Each check accepts its own file, and refuses another network's file and a text file.
    cases = [("densenet121", "densenet.pt", "ae.pt"), ("resnet50", "resnet.pt", "densenet.pt"),
             ("resnetae101", "ae.pt", "resnet.pt")]
    for architecture, good, other in cases:
        weights = next(w for w in all_weights() if w.architecture == architecture)
        check = validator_for(architecture)
        check(weights, files / good)
        for bad in (other, "hello.pt"):
            with pytest.raises(WeightsFormatError, match=str(files / bad)):
                check(weights, files / bad)
    # The reference's own format: a whole pickled module.
    nih = xrv.models.get_weights("nih")
    for name in ("module-legacy.pt", "module-zip.pt"):
        validator_for("densenet121")(nih, official_densenet / name)


def test_densenet_check_names_the_first_bad_entry(files, tmp_path):
    nih = xrv.models.get_weights("nih")
    state = torch.load(files / "densenet.pt", weights_only=True)
    state["classifier.weight"] = torch.zeros(14, 1024)
    torch.save(state, tmp_path / "shape.pt")
    with pytest.raises(WeightsFormatError, match=r"classifier.weight.*\[14, 1024\]"):
        validator_for("densenet121")(nih, tmp_path / "shape.pt")
    state = torch.load(files / "densenet.pt", weights_only=True)
    state["features.denseblock3.denselayer2.conv1.weight"][0, 0, 0, 0] = float("inf")
    torch.save(state, tmp_path / "inf.pt")
    with pytest.raises(WeightsFormatError, match="'features.denseblock3.denselayer2.conv1.weight' contains NaN"):
        validator_for("densenet121")(nih, tmp_path / "inf.pt")


def test_first_use_records_the_digest_of_a_checked_file(files, tmp_path, monkeypatch):
    nih = xrv.models.get_weights("nih")
    _mirror_holding(tmp_path, monkeypatch, nih, files / "densenet.pt")
    path = fetch_file(nih)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert path.with_name(nih.filename + ".sha256").read_text().split()[0] == digest
    status = verify_cached(nih.resource(), check=content_check(nih))
    assert (status.state, status.policy) == ("recorded", "first-use")
    # A different (equally well-formed) file later is refused: the first copy set the digest.
    path.unlink()
    torch.save(xrv.models.DenseNet().state_dict(), tmp_path / "mirror" / nih.filename)
    with pytest.raises(ChecksumError, match="recorded when it was first accepted"):
        fetch_file(nih)


def test_a_file_with_a_published_digest_is_not_trusted_on_first_use(files, tmp_path, monkeypatch):
    pinned = xrv.models.get_weights("all")
    _mirror_holding(tmp_path, monkeypatch, pinned, files / "densenet.pt")
    with pytest.raises(DownloadError, match=f"has {(files / 'densenet.pt').stat().st_size} bytes but"):
        fetch_file(pinned)
    assert not list(xrv.hub.get_cache_dir().glob(pinned.filename + "*"))


def test_a_file_that_cannot_be_checked_whole_stays_unverified(tmp_path, monkeypatch):
    """The age model is TorchScript (code): it is never loaded to check it, only recognised."""
    riken = xrv.models.get_weights("riken")
    archive = tmp_path / "script.pt"
    torch.jit.script(torch.nn.Linear(2, 1)).save(str(archive))
    _mirror_holding(tmp_path, monkeypatch, riken, archive)
    path = fetch_file(riken)
    assert not path.with_name(riken.filename + ".sha256").exists()
    status = verify_cached(riken.resource(), check=content_check(riken))
    assert (status.state, status.policy) == ("unverified", "none")
    (tmp_path / "hello.pt").write_text("hello\n")
    _mirror_holding(tmp_path, monkeypatch, riken, tmp_path / "hello.pt")
    path.unlink()
    with pytest.raises(WeightsFormatError, match="was refused"):
        fetch_file(riken)


def test_a_baselines_own_check_records_it_on_first_use(tmp_path, monkeypatch):
    """Baselines register their validator with their builder: jfhealthcare's checks every key."""
    from xrayvision.baseline_models.jfhealthcare import DenseNet as JF

    jf = xrv.models.get_weights("jfhealthcare")
    check = content_check(jf)
    assert check.complete and trust_policy(jf.resource(), check) == "first-use"
    torch.save(JF.network().state_dict(), tmp_path / "jf.pth")
    _mirror_holding(tmp_path, monkeypatch, jf, tmp_path / "jf.pth")
    assert fetch_file(jf).with_name(jf.filename + ".sha256").exists()
    torch.save(xrv.models.DenseNet().state_dict(), tmp_path / "core.pth")  # another network's file
    with pytest.raises(WeightsFormatError, match="does not fit"):
        check.run(tmp_path / "core.pth")


def test_offline_error_from_the_python_api_says_what_to_do(monkeypatch):
    monkeypatch.setenv("XRV_OFFLINE", "1")
    nih = xrv.models.get_weights("nih")
    with pytest.raises(xrv.hub.OfflineError) as info:
        xrv.models.DenseNet(weights="densenet121-res224-nih")
    message = str(info.value)
    assert f"copy {nih.url} to {xrv.hub.get_cache_dir() / nih.filename}" in message
    assert "`xrv weights download nih`" in message and "`xrv weights import FILE --name nih`" in message
