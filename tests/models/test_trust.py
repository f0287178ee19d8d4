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
from xrayvision.models._validate import VALIDATORS, content_check, validator_for

from .conftest import random_bn_stats

# The oracle: ../shared/spec/weights-digests.md, copied by hand.
PUBLISHED = {
    "all": ("56524913dd16a906422e8d8b66a7a5c46be1d82eb7ac012d8103776f1aa68899", 28_382_008),
    "mimic_ch": ("23b13a04459684ffa41247d068207a7657b4e1b4dec2b02431f5026bd75b1189", 28_382_012),
}
SIZES_WITHOUT_DIGEST = {"chex": 28_381_998, "chestx_det": 272_988_989}
CORE_ARCHITECTURES = {"densenet121", "resnet50", "resnetae101"}


@pytest.mark.parametrize("weights", all_weights(), ids=lambda w: w.name)
def test_published_digests_and_sizes_are_pinned_and_nothing_else(weights):
    digest, size = PUBLISHED.get(weights.name, (None, SIZES_WITHOUT_DIGEST.get(weights.name)))
    assert (weights.sha256, weights.size) == (digest, size)
    resource = weights.resource()
    assert (resource.sha256, resource.size) == (digest, size)
    check = content_check(weights)
    # Core networks: a complete check (keys and shapes); baselines: at least a safe parse.
    assert check.complete == (weights.architecture in CORE_ARCHITECTURES)
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


def test_baseline_files_parse_safely_but_stay_unverified(files, tmp_path, monkeypatch):
    jf = xrv.models.get_weights("jfhealthcare")
    _mirror_holding(tmp_path, monkeypatch, jf, files / "densenet.pt")
    path = fetch_file(jf)
    assert not path.with_name(jf.filename + ".sha256").exists()
    status = verify_cached(jf.resource(), check=content_check(jf))
    assert (status.state, status.policy) == ("unverified", "none")
    assert "parses safely as a state-dict" in status.detail
    _mirror_holding(tmp_path, monkeypatch, jf, files / "hello.pt")
    path.unlink()
    with pytest.raises(WeightsFormatError, match="was refused"):
        fetch_file(jf)


def test_a_registered_validator_makes_a_baseline_check_complete(files, tmp_path, monkeypatch):
    """The hook the baseline modules use: one line in VALIDATORS per architecture."""
    jf = xrv.models.get_weights("jfhealthcare")
    monkeypatch.setitem(VALIDATORS, jf.architecture, "xrayvision.models._validate:check_densenet")
    check = content_check(jf)
    assert check.complete and trust_policy(jf.resource(), check) == "first-use"
    _mirror_holding(tmp_path, monkeypatch, jf, files / "densenet.pt")
    assert fetch_file(jf).with_name(jf.filename + ".sha256").exists()


def test_offline_error_from_the_python_api_says_what_to_do(monkeypatch):
    monkeypatch.setenv("XRV_OFFLINE", "1")
    nih = xrv.models.get_weights("nih")
    with pytest.raises(xrv.hub.OfflineError) as info:
        xrv.models.DenseNet(weights="densenet121-res224-nih")
    message = str(info.value)
    assert f"copy {nih.url} to {xrv.hub.get_cache_dir() / nih.filename}" in message
    assert "`xrv weights download nih`" in message and "`xrv weights import FILE --name nih`" in message
