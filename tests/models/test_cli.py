"""``xrv predict`` and ``xrv weights`` end to end, on generated images and local checkpoints."""

from __future__ import annotations

import copy
import csv
import io
import json
import math

import pytest
import torch

import xrayvision as xrv
from xrayvision.cli import main
from xrayvision.fakedata.images import chest_xray_like, write_dicom, write_jpeg, write_png

from xrayvision.models._registry import all_weights

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
    with pytest.raises(SystemExit) as info:  # a usage error, as for every missing argument
        main(["weights", "import", str(tmp_path / "nope.pt"), "--name", "rsna"])
    assert info.value.code == 2 and f"{tmp_path / 'nope.pt'}: no such file" in capsys.readouterr().err


def test_nan_free_probabilities_for_trained_columns(folder, checkpoint, capsys):
    path, _ = checkpoint
    main(["predict", str(folder / "a.png"), "--weights", str(path), "--format", "json"])
    row = json.loads(capsys.readouterr().out)[0]
    assert all(not math.isnan(v) for k, v in row.items() if k != "image")


# ----------------------------------------------------------------- xrv weights: trust and first contact


@pytest.fixture(scope="module")
def densenet_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("dn") / "densenet.pt"
    torch.save(random_bn_stats(xrv.models.DenseNet()).state_dict(), path)
    return path


def test_verify_on_an_empty_cache_says_what_to_do(capsys, cache_dir):
    assert main(["weights", "verify"]) == 0
    out = capsys.readouterr().out
    assert f"No weight file is in the cache ({cache_dir})" in out
    assert "2 with a published SHA-256" in out and "xrv weights download --all" in out


def test_download_needs_names_or_all_and_all_is_a_name(capsys, tmp_path, monkeypatch, densenet_file):
    with pytest.raises(SystemExit) as info:
        main(["weights", "download"])
    assert info.value.code == 2 and "--all" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["weights", "download", "nih", "--all"])
    capsys.readouterr()
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    monkeypatch.setenv("XRV_WEIGHTS_MIRROR", str(mirror))
    (mirror / xrv.models.get_weights("nih").filename).write_bytes(densenet_file.read_bytes())
    # "all" is the weight set named all: its (random) file fails the published digest.
    (mirror / xrv.models.get_weights("all").filename).write_bytes(densenet_file.read_bytes())
    assert main(["weights", "download", "all", "nih", "--no-progress"]) == 1
    captured = capsys.readouterr()
    rows = [line.split("\t") for line in captured.out.splitlines()]
    assert [r[:2] for r in rows] == [["all", "failed"], ["nih", "recorded"]]
    assert "2 weight set(s): 1 downloaded, 0 already in the cache, 1 failed" in captured.err
    assert main(["weights", "download", "nih", "--quiet"]) == 0  # the hidden alias
    assert "0 downloaded, 1 already in the cache, 0 failed" in capsys.readouterr().err


def test_download_all_tries_every_downloadable_set_and_summarises(capsys, tmp_path, monkeypatch, densenet_file):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    monkeypatch.setenv("XRV_WEIGHTS_MIRROR", str(mirror))
    for name in ("pc", "rsna"):
        (mirror / xrv.models.get_weights(name).filename).write_bytes(densenet_file.read_bytes())
    assert main(["weights", "download", "--all", "--no-progress"]) == 1
    captured = capsys.readouterr()
    downloadable = [w for w in all_weights() if w.url]
    rows = [line.split("\t") for line in captured.out.splitlines()]
    assert [r[0] for r in rows] == [w.name for w in downloadable]  # every set, in registry order
    assert {r[0] for r in rows if r[1] == "recorded"} == {"pc", "rsna"}
    assert f"[{len(downloadable)}/{len(downloadable)}]" in captured.err
    failed = len(downloadable) - 2
    assert f"{len(downloadable)} weight set(s): 2 downloaded, 0 already in the cache, {failed} failed" in captured.err
    anatomy = xrv.models.get_weights("chestx_anatomy")
    assert f"chestx_anatomy ({anatomy.filename}); licence: {anatomy.licence}" in captured.err  # terms up front


def test_verify_reports_each_state(capsys, cache_dir, densenet_file):
    nih, pc, jf = (xrv.models.get_weights(n) for n in ("nih", "pc", "jfhealthcare"))
    assert main(["weights", "import", str(densenet_file), "--name", "nih"]) == 0
    (cache_dir / pc.filename).write_bytes(densenet_file.read_bytes())  # by hand: not yet used
    (cache_dir / jf.filename).write_bytes(densenet_file.read_bytes())  # a core file under a baseline's name
    (cache_dir / xrv.models.get_weights("all").filename).write_bytes(b"hello\n")
    capsys.readouterr()
    assert main(["weights", "verify"]) == 1
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines()[1:] if line and not line.startswith((" ", "/"))]
    states = {row[0]: row[1] for row in rows}
    assert states == {"all": "mismatch", "nih": "recorded", "pc": "unverified", "jfhealthcare": "mismatch"}
    assert "1 recorded, 1 unverified, 2 mismatch" in out
    assert main(["weights", "verify", "pc", "rsna"]) == 1  # a named, missing file is a failure
    out = capsys.readouterr().out
    assert "recorded the first time it is used" in out and "rsna" in out and "missing" in out


def test_info_prints_the_model_card(capsys):
    assert main(["weights", "info", "densenet121-res224-all"]) == 0
    out = capsys.readouterr().out
    weights = xrv.models.get_weights("all")
    assert out.startswith("all (alias densenet121-res224-all): classifier, densenet121")
    assert "224x224" in out and "nih, pc, chex, mimic_ch, google, openi, kaggle" in out
    assert weights.licence in out and weights.url in out and "28,382,008 bytes" in out
    assert f"pinned: every copy must match the published SHA-256 {weights.sha256}" in out
    assert "in the cache:    missing: not in the cache" in out
    slot = next(line for line in out.splitlines() if line.split()[:2] == ["17", "Enlarged"])
    assert slot.split()[-2:] == ["0.05015", "0.849"]  # op_threshs and ppv80_thres, spec §2
    assert main(["weights", "info", "nih"]) == 0
    out = capsys.readouterr().out
    assert "recorded on first use" in out and "(untrained)" in out
    assert main(["weights", "info", "riken"]) == 0  # TorchScript: recognised, never loaded to check it
    assert "unverified: no digest is published and nothing checks its content completely" in capsys.readouterr().out


def test_import_validates_content_against_the_record(capsys, tmp_path, cache_dir, densenet_file):
    fake = tmp_path / "fake.pt"
    fake.write_text("hello\n")
    assert main(["weights", "import", "--name", "all", str(fake)]) == 1
    assert "bytes but" in capsys.readouterr().err
    assert main(["weights", "import", "--name", "nih", str(fake)]) == 1
    assert "was refused" in capsys.readouterr().err
    resnet = tmp_path / "resnet.pt"
    torch.save(xrv.models.ResNet().model.state_dict(), resnet)
    assert main(["weights", "import", "--name", "nih", str(resnet)]) == 1
    assert "missing keys" in capsys.readouterr().err
    assert not any(cache_dir.glob("nih-*"))
    assert main(["weights", "import", "--name", "nih", str(densenet_file)]) == 0
    assert capsys.readouterr().out.split("\t")[:2] == ["nih", "recorded"]


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
    with pytest.raises(SystemExit) as stop:
        main(["predict", str(folder / "a.png"), "--weights", "chestx_det"])
    assert stop.value.code == 2
    assert "chestx_det is a segmentation model, not a classifier: use `xrv segment`" in capsys.readouterr().err


def test_predict_refuses_calibrated_output_without_thresholds(folder, checkpoint, tmp_path, capsys):
    _, model = checkpoint
    uncalibrated = copy.deepcopy(model)
    uncalibrated.op_threshs = None
    path = xrv.models.save_model(uncalibrated, tmp_path / "uncalibrated")
    with pytest.raises(SystemExit) as stop:
        main(["predict", str(folder / "a.png"), "--weights", str(path), "--output", "calibrated"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "no calibration thresholds" in err and "xrv calibrate" in err


@pytest.mark.parametrize("command", ["predict", "segment", "explain"])
def test_a_folder_without_images_is_an_error_not_an_empty_result(tmp_path, capsys, command):
    (tmp_path / "nested" / "inner").mkdir(parents=True)
    write_png(tmp_path / "nested" / "inner" / "a.png", chest_xray_like((64, 64), seed=1))
    options = {"predict": [], "segment": ["--out", str(tmp_path / "out")],
               "explain": ["--out", str(tmp_path / "out"), "--target", "Effusion"]}  # fmt: skip
    assert main([command, str(tmp_path / "nested"), *options[command]]) == 1
    err = capsys.readouterr().err
    assert "(PNG, JPEG or DICOM files; subfolders are not searched); its subfolders hold images" in err
    assert not (tmp_path / "out").exists()
