"""``xrv predict`` and ``xrv weights`` end to end, on generated images and local checkpoints."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
import torch

import xrayvision as xrv
from xrayvision.cli import main
from xrayvision.fakedata.images import chest_xray_like, write_dicom, write_jpeg, write_png

from .conftest import random_bn_stats


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    model = random_bn_stats(xrv.models.DenseNet()).eval()
    model.classifier.weight.data.mul_(1e-3)
    model.targets = list(xrv.models.get_weights("chex").labels)
    model.op_threshs = torch.tensor(xrv.models.get_weights("chex").op_threshs)
    model.input_resolution = 224
    return xrv.models.save_model(model, tmp_path_factory.mktemp("ckpt") / "model"), model


@pytest.fixture
def folder(tmp_path):
    write_png(tmp_path / "a.png", chest_xray_like((256, 256), seed=1))
    write_jpeg(tmp_path / "b.jpg", chest_xray_like((240, 280), seed=2))
    write_dicom(tmp_path / "c.dcm", chest_xray_like((224, 224), seed=3))
    return tmp_path


def test_predict_csv_matches_the_model(folder, checkpoint, capsys):
    path, model = checkpoint
    assert main(["predict", str(folder), "--weights", str(path), "--format", "csv", "--no-progress"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["image"].rsplit("/", 1)[1] for r in rows] == ["a.png", "b.jpg", "c.dcm"]
    trained = [label for label in model.targets if label]
    assert list(rows[0]) == ["image", *trained]
    model.op_threshs, model.apply_sigmoid = None, True
    x = xrv.models.get_weights("all").transforms()(folder / "a.png")
    with torch.no_grad():
        expected = model(x)[0]
    for index, label in enumerate(model.targets):
        if label:
            assert float(rows[0][label]) == pytest.approx(float(expected[index]), abs=1e-5)
            assert 0 <= float(rows[0][label]) <= 1


def test_predict_json_and_table(folder, checkpoint, capsys):
    path, _ = checkpoint
    assert main(["predict", str(folder / "*.png"), "--weights", str(path), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 1 and rows[0]["image"].endswith("a.png") and "Effusion" in rows[0]
    assert main(["predict", str(folder / "b.jpg"), "--weights", str(path), "--output", "calibrated"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[0] == "image" and lines[1].split()[0].endswith("b.jpg") and len(lines) == 2


def test_corrupt_file_is_reported_skipped_and_fails_the_run(folder, checkpoint, capsys):
    path, _ = checkpoint
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    status = main(["predict", str(folder), "--weights", str(path), "--format", "json", "--no-progress"])
    captured = capsys.readouterr()
    assert status == 1
    assert "broken.png" in captured.err and "1 of 4" in captured.err
    assert len(json.loads(captured.out)) == 3


def test_missing_weights_offline_is_a_clear_error(folder, monkeypatch, capsys):
    monkeypatch.setenv("XRV_OFFLINE", "1")
    assert main(["predict", str(folder / "a.png"), "--weights", "nih"]) == 1
    assert xrv.models.get_weights("nih").filename in capsys.readouterr().err


def test_weights_list_verify_import(tmp_path, capsys, cache_dir):
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    assert "densenet121-res224-all" in out and "resnet50-res512-all" in out and "jfhealthcare" not in out
    source = tmp_path / xrv.models.get_weights("rsna").filename
    torch.save(xrv.models.DenseNet().state_dict(), source)
    assert main(["weights", "import", str(source)]) == 0
    assert (cache_dir / source.name).is_file()
    capsys.readouterr()
    assert main(["weights", "verify", "rsna"]) == 0
    assert "rsna" in capsys.readouterr().out
    assert main(["weights", "import", str(tmp_path / "nope.pt"), "--name", "rsna"]) == 1


def test_nan_free_probabilities_for_trained_columns(folder, checkpoint, capsys):
    path, _ = checkpoint
    main(["predict", str(folder / "a.png"), "--weights", str(path), "--format", "json"])
    row = json.loads(capsys.readouterr().out)[0]
    assert all(not math.isnan(v) for k, v in row.items() if k != "image")


def test_predict_with_a_baseline_through_the_registry(folder, capsys, cache_dir):
    from xrayvision.baseline_models import emory_hiti

    network = random_bn_stats(emory_hiti.RaceModel.network()).eval()
    state = {"module." + k: v for k, v in network.state_dict().items()}
    torch.save(state, cache_dir / xrv.models.get_weights("emory_hiti").filename)
    assert main(["predict", str(folder / "a.png"), "--weights", "emory_hiti", "--format", "json"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert list(row) == ["image", "Asian", "Black", "White"]
    assert sum(row[k] for k in ("Asian", "Black", "White")) == pytest.approx(1.0, abs=1e-5)  # softmax
    command = ["predict", str(folder / "a.png"), "--weights", "emory_hiti", "--format", "json"]
    assert main([*command, "--output", "logits"]) == 0
    logits = json.loads(capsys.readouterr().out)[0]
    expected = torch.softmax(torch.tensor([logits["Asian"], logits["Black"], logits["White"]]), 0)
    assert expected.tolist() == pytest.approx([row["Asian"], row["Black"], row["White"]], abs=1e-5)
    assert main(["predict", str(folder / "a.png"), "--weights", "emory_hiti", "--output", "calibrated"]) == 1
    assert "calibrated" in capsys.readouterr().err


def test_predict_refuses_segmentation_models(folder, capsys):
    assert main(["predict", str(folder / "a.png"), "--weights", "chestx_det"]) == 1
    assert "xrv segment" in capsys.readouterr().err
