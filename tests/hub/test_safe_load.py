"""load_weights_file(): the reference's file formats, read without running their code."""

from __future__ import annotations

import builtins
import io
import os
import pickle
import subprocess
import sys
import textwrap
import warnings
import zipfile
from pathlib import Path

import pytest
import torch

from xrayvision.errors import UnsafeWeightsError, WeightsFormatError
from xrayvision.hub import load_object, load_weights_file

from .._official_format import write_with_fake_modules, write_with_fake_reference

# A stand-in for the reference's package: the pickles name ``torchxrayvision.models.*``.
_FAKE_MODELS = textwrap.dedent(
    """
    import torch
    from torch import nn

    class _DenseLayer(nn.Sequential):
        def __init__(self, channels):
            super().__init__()
            self.add_module("norm1", nn.BatchNorm2d(channels))
            self.add_module("relu1", nn.ReLU(inplace=True))
            self.add_module("conv1", nn.Conv2d(channels, 4, 3, padding=1, bias=False))

    class _DenseBlock(nn.Sequential):
        def __init__(self):
            super().__init__()
            self.add_module("denselayer1", _DenseLayer(4))
            self.add_module("denselayer2", _DenseLayer(4))

    class DenseNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential()
            self.features.add_module("conv0", nn.Conv2d(1, 4, 3, bias=False))
            self.features.add_module("norm0", nn.BatchNorm2d(4))
            self.features.add_module("denseblock1", _DenseBlock())
            self.classifier = nn.Linear(4, 3)
            self.register_buffer("scratch", torch.zeros(2), persistent=False)
            self.op_threshs = torch.tensor([0.1, float("nan"), 0.3])
            self.pathologies = ["Atelectasis", "", "Effusion"]

        def forward(self, x):
            x = self.features.norm0(self.features.conv0(x))
            for layer in self.features.denseblock1:
                x = layer(x)
            return self.classifier(x.mean((2, 3)))
    """
)

_WRITER = textwrap.dedent(
    """
    import sys, torch
    from torchxrayvision.models import DenseNet
    out = sys.argv[1]
    torch.manual_seed(0)
    model = DenseNet()
    model.train()
    for _ in range(3):  # moves the BatchNorm running statistics away from their defaults
        model(torch.randn(2, 1, 8, 8))
    model.eval()
    torch.save(model, out + "/module-zip.pt")
    torch.save(model, out + "/module-legacy.pt", _use_new_zipfile_serialization=False)
    torch.save(model.state_dict(), out + "/expected.pt")
    """
)


@pytest.fixture(scope="module")
def reference_files(tmp_path_factory) -> Path:
    """Module pickles written by a separate process that had ``torchxrayvision`` importable."""
    root = tmp_path_factory.mktemp("fake-reference")
    return write_with_fake_reference(root, _FAKE_MODELS, _WRITER)


def test_this_process_cannot_import_the_reference():
    with pytest.raises(ImportError):
        __import__("torchxrayvision")


@pytest.mark.parametrize("name", ["module-zip.pt", "module-legacy.pt"])
def test_whole_module_pickle_gives_the_module_state_dict(reference_files, name):
    expected = torch.load(reference_files / "expected.pt", weights_only=True)
    loaded = load_weights_file(reference_files / name)
    assert list(loaded) == list(expected)  # same keys, same order, no non-persistent buffer
    assert "features.norm0.num_batches_tracked" in loaded
    for key, tensor in expected.items():
        assert torch.equal(loaded[key], tensor), key
        assert loaded[key].dtype == tensor.dtype and not loaded[key].requires_grad
        assert type(loaded[key]) is torch.Tensor  # parameters come back as plain tensors
    assert "torchxrayvision" not in sys.modules


def test_weights_only_load_alone_refuses_module_pickles(reference_files):
    # Why the record-tree loader exists: torch's own safe mode rejects the class paths.
    with pytest.raises(pickle.UnpicklingError, match="torchxrayvision"):
        torch.load(reference_files / "module-zip.pt", weights_only=True)


@pytest.mark.parametrize("legacy", [False, True])
def test_plain_state_dict(tmp_path, legacy):
    state = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2)).state_dict()
    path = tmp_path / "state.pt"
    torch.save(state, path, _use_new_zipfile_serialization=not legacy)
    loaded = load_weights_file(path)
    assert list(loaded) == list(state)
    assert all(torch.equal(loaded[k], v) for k, v in state.items())


def test_safetensors_file(tmp_path):
    from safetensors.torch import save_file

    tensors = {"a": torch.arange(6.0).reshape(2, 3), "b": torch.tensor([1, 2])}
    save_file(tensors, str(tmp_path / "w.safetensors"))
    loaded = load_weights_file(tmp_path / "w.safetensors")
    assert loaded.keys() == tensors.keys() and all(torch.equal(loaded[k], tensors[k]) for k in tensors)


class _Payload:
    """Pickles as ``callable(*args)``: what a malicious weight file does."""

    def __init__(self, call, args):
        self.call, self.args = call, args

    def __reduce__(self):
        return (self.call, self.args)


def _payloads(marker: Path) -> dict[str, _Payload]:
    return {
        "os.system": _Payload(os.system, (f"touch {marker}",)),
        "builtins.eval": _Payload(builtins.eval, (f"open({str(marker)!r}, 'w').close()",)),
        "subprocess.call": _Payload(subprocess.call, (["touch", str(marker)],)),
    }


@pytest.mark.parametrize("kind", ["os.system", "builtins.eval", "subprocess.call"])
@pytest.mark.parametrize("legacy", [False, True])
def test_payloads_are_refused_and_never_run(tmp_path, kind, legacy):
    marker = tmp_path / "pwned"
    payload = _payloads(marker)[kind]
    path = tmp_path / "evil.pt"
    torch.save({"weight": torch.ones(2), "x": payload}, path, _use_new_zipfile_serialization=not legacy)
    with pytest.raises(UnsafeWeightsError, match="tries to call"):
        load_weights_file(path)
    assert not marker.exists()
    # Control: the payload is real, an unrestricted load runs it.
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_payload_inside_a_module_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    model = torch.nn.Linear(2, 2)
    model.note = _payloads(marker)["os.system"]
    torch.save(model, tmp_path / "evil-module.pt")
    with pytest.raises(UnsafeWeightsError, match="system"):
        load_weights_file(tmp_path / "evil-module.pt")
    assert not marker.exists()


def test_torchscript_archives_are_refused(tmp_path):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            scripted = torch.jit.script(torch.nn.Linear(2, 2))
            scripted.save(str(tmp_path / "script.pt"))
    except Exception as err:  # TorchScript may be unavailable in this torch build
        pytest.skip(f"cannot write a TorchScript archive here: {err}")
    with pytest.raises(UnsafeWeightsError, match="TorchScript"):
        load_weights_file(tmp_path / "script.pt")


def test_files_that_are_not_weights(tmp_path):
    (tmp_path / "page.pt").write_bytes(b"<!DOCTYPE html><html>Not Found</html>")
    with pytest.raises(WeightsFormatError, match="HTML"):
        load_weights_file(tmp_path / "page.pt")
    (tmp_path / "noise.pt").write_bytes(os.urandom(64).replace(b"PK", b"pk").replace(b"\x80", b"\x81"))
    with pytest.raises(WeightsFormatError, match="neither"):
        load_weights_file(tmp_path / "noise.pt")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(WeightsFormatError):
        load_weights_file(tmp_path / "other.zip")
    torch.save([torch.ones(1)], tmp_path / "list.pt")
    with pytest.raises(WeightsFormatError, match="list"):
        load_weights_file(tmp_path / "list.pt")
    torch.save({"model_state": {"w": torch.ones(1)}, "epoch": 3}, tmp_path / "ckpt.pt")
    with pytest.raises(WeightsFormatError, match="model_state"):
        load_weights_file(tmp_path / "ckpt.pt")
    with pytest.raises(FileNotFoundError):
        load_weights_file(tmp_path / "absent.pt")


class _AsksForStorage:
    """Pickles as ``torch.UntypedStorage(n)``: n bytes allocated by the unpickler itself."""

    def __init__(self, nbytes: int):
        self.nbytes = nbytes

    def __reduce__(self):
        return (torch.UntypedStorage, (self.nbytes,))


def _claiming(path: Path, numel: int, *, legacy: bool) -> Path:
    """A real state dict whose pickle claims ``numel`` floats for its one 4-float storage."""
    torch.save({"w": torch.arange(4, dtype=torch.float32)}, path, _use_new_zipfile_serialization=not legacy)
    if not legacy:  # the zip format checks record sizes itself; the legacy one allocates first
        return path
    body = path.read_bytes()
    old = b"K\x04N"  # BININT1 4 (numel), then NONE (no view): the storage's persistent id
    assert body.count(old) == 1
    path.write_bytes(body.replace(old, b"J" + numel.to_bytes(4, "little") + b"N"))
    return path


@pytest.mark.parametrize("legacy", [False, True])
def test_storage_asked_for_is_bounded_by_the_file_size(tmp_path, legacy):
    path = tmp_path / "huge.pt"
    torch.save({"w": torch.ones(2), "x": _AsksForStorage(10**12)}, path, _use_new_zipfile_serialization=not legacy)
    # 8 bytes for "w", then the 10**12 the call asks for, against the file's own few hundred.
    with pytest.raises(WeightsFormatError, match=rf"{path} asks for at least 1000000000008 bytes .* holds only"):
        load_weights_file(path)
    # Control: a storage the file can hold passes the bound (and is then no state dict).
    torch.save({"w": torch.ones(2), "x": _AsksForStorage(8)}, path, _use_new_zipfile_serialization=not legacy)
    with pytest.raises(WeightsFormatError, match="not a flat state dict"):
        load_weights_file(path)


def test_a_persistent_id_claiming_more_than_the_file_holds_is_refused(tmp_path):
    path = _claiming(tmp_path / "claims.pt", 2**31 - 1, legacy=True)
    with pytest.raises(WeightsFormatError, match="asks for at least 8589934588 bytes"):
        load_weights_file(path)
    honest = _claiming(tmp_path / "honest.pt", 4, legacy=True)
    assert torch.equal(load_weights_file(honest)["w"], torch.arange(4, dtype=torch.float32))


def test_every_parse_failure_is_a_weights_format_error_naming_the_file(tmp_path):
    torch.save({"w": torch.ones(64)}, tmp_path / "good.pt")
    body = (tmp_path / "good.pt").read_bytes()
    torch.save({"w": torch.ones(64)}, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    legacy = (tmp_path / "legacy.pt").read_bytes()
    damaged = {
        "not-a-zip.pt": b"PK\x03\x04" + b"\0" * 100,  # zipfile.BadZipFile underneath
        "half-a-zip.pt": body[: len(body) // 2],
        "half-a-legacy-file.pt": legacy[: len(legacy) - 40],
        "bad-pickle.pt": b"\x80\x02" + b"\xff" * 40,
    }
    for name, data in damaged.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(WeightsFormatError, match=str(tmp_path / name)):
            load_weights_file(tmp_path / name)


# A dict subclass from a package this process does not have, as Lightning's AttributeDict.
_FAKE_LIGHTNING = "class AttributeDict(dict):\n    pass\n\nclass Callbacks(list):\n    pass\n"
_CHECKPOINT_WRITER = textwrap.dedent(
    """
    import sys, numpy, torch
    from lightning_fake.parsing import AttributeDict, Callbacks

    out = sys.argv[1]
    checkpoint = {
        "state_dict": {"model.w": torch.arange(3.0)},
        "hyper_parameters": AttributeDict(lr=0.001, layers=[3, 4]),
        "callbacks": Callbacks(["early-stopping", {"patience": 3}]),
        "metrics": {"auroc": numpy.float64(0.91), "step": numpy.int64(7125), "ok": numpy.bool_(True)},
    }
    for legacy in (False, True):
        torch.save(checkpoint, out + f"/checkpoint-{legacy}.ckpt", _use_new_zipfile_serialization=not legacy)
    """
)


@pytest.mark.parametrize("legacy", [False, True])
def test_load_object_reads_lightning_checkpoints_without_lightning(tmp_path, legacy):
    files = write_with_fake_modules(tmp_path, {"lightning_fake.parsing": _FAKE_LIGHTNING}, _CHECKPOINT_WRITER)
    loaded = load_object(files / f"checkpoint-{legacy}.ckpt")
    assert torch.equal(loaded["state_dict"]["model.w"], torch.arange(3.0))
    hyper = loaded["hyper_parameters"]  # an inert record of the dict subclass: items kept, no code run
    assert type(hyper).__name__ == "StandIn[lightning_fake.parsing.AttributeDict]"
    assert hyper._xrv_items == {"lr": 0.001, "layers": [3, 4]}
    assert loaded["callbacks"]._xrv_list == ["early-stopping", {"patience": 3}]
    metrics = loaded["metrics"]  # numeric numpy scalars, rebuilt from their bytes
    assert metrics["auroc"] == 0.91 and metrics["step"] == 7125 and bool(metrics["ok"]) is True
    assert "lightning_fake" not in sys.modules


def test_numpy_reconstruction_is_limited_to_numbers(tmp_path):
    import numpy as np

    torch.save({"text": np.str_("abc")}, tmp_path / "text.pt")  # a unicode dtype: refused
    with pytest.raises(UnsafeWeightsError, match="numpy"):
        load_object(tmp_path / "text.pt")
    torch.save({"array": np.zeros(2)}, tmp_path / "array.pt")  # arrays are not weights either
    with pytest.raises(UnsafeWeightsError, match="_reconstruct"):
        load_object(tmp_path / "array.pt")


def test_load_object_from_bytes(tmp_path):
    buffer = io.BytesIO()
    torch.save({"task_sequence": {"Edema": 0}, "model_state": {"w": torch.ones(2)}}, buffer)
    loaded = load_object(buffer.getvalue(), label="weights.zip:member.pth.tar")
    assert loaded["task_sequence"] == {"Edema": 0} and torch.equal(loaded["model_state"]["w"], torch.ones(2))
    with pytest.raises(WeightsFormatError, match="weights.zip:member.pth.tar"):
        load_object(b"<html>no</html>", label="weights.zip:member.pth.tar")
