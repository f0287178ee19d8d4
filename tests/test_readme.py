"""The README's promises: its first two commands set up and run the demo and the tests,
and CI runs exactly that test command."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO_ROOT


def readme_commands() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block, "README.md must open with a bash block of set-up commands"
    return [line for line in block.group(1).splitlines() if line and not line.startswith("#")]


def test_readme_opens_with_demo_and_test_commands():
    demo, tests = readme_commands()[:2]
    for command in (demo, tests):
        # The CPU build of torch is pinned before anything else can pull a CUDA build.
        assert command.startswith("python3 -m pip install torch==2.13.0 && ")
    assert demo.endswith("xrv demo")
    assert "pytest" in tests and ".[test]" in tests


def test_ci_runs_the_readme_test_command_verbatim():
    tests = readme_commands()[1]
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert tests in ci


def readme_python_blocks() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, re.S)


@pytest.mark.realdata
def test_readme_tour_runs(realdata, tmp_path, monkeypatch, unpinned_registry):
    """Run the tour's Python blocks as written, on real samples and official-format files.

    The shipped metadata come from a local mirror folder (the reference's copies in
    ``realdata/xrv-metadata``, verified by SHA-256); model files are random weights saved
    in the official formats under the official names.
    """
    torch = pytest.importorskip("torch")
    import xrayvision as xrv

    nih = tmp_path / "NIH" / "images-224"
    nih.mkdir(parents=True)
    for png in (realdata / "nih-chestxray14" / "images").glob("*.png"):
        (nih / png.name).symlink_to(png)
    # d_nih[0] reads the first row of the metadata (NIH's own 512 px copy).
    (nih / "00000001_000.png").symlink_to(realdata / "xrv-test-images" / "00000001_000.png")
    (tmp_path / "PC" / "images-224").mkdir(parents=True)
    (tmp_path / "image.png").symlink_to(realdata / "nih-chestxray14" / "images" / "00000100_000.png")

    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("XRV_CACHE_DIR", str(cache))
    monkeypatch.setenv("XRV_WEIGHTS_MIRROR", str(realdata / "xrv-metadata"))
    monkeypatch.setenv("XRV_OFFLINE", "1")
    get = xrv.models.get_weights
    torch.save(xrv.models.DenseNet(weights=None).state_dict(), cache / get("densenet121-res224-all").filename)
    torch.save(xrv.models.ResNet(weights=None).model.state_dict(), cache / get("resnet50-res512-all").filename)
    torch.save(xrv.autoencoders.ResNetAE().state_dict(), cache / get("101-elastic").filename)
    baselines = xrv.baseline_models
    torch.save(baselines.jfhealthcare.JFHealthcareNetwork().state_dict(), cache / get("jfhealthcare").filename)
    torch.save({"state_dict": {"model." + k: v for k, v in baselines.mira.SexModel.network().state_dict().items()}},
               cache / get("mira").filename)

    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in readme_python_blocks():
        exec(compile(block, "README.md", "exec"), namespace)

    # The figures the tour quotes in its comments.
    assert str(namespace["d_nih"]) == "NIH_Dataset num_samples=112120 views=['PA', 'AP'] data_aug=None"
    assert namespace["d_nih"].totals()["Atelectasis"] == {0.0: 100561, 1.0: 11559}
    assert namespace["sample"]["idx"] == 0 and namespace["sample"]["img"].shape == (1, 224, 224)
    assert namespace["probabilities"].shape == (1, 18)
    assert tuple(namespace["features"].shape) == (1, 1024, 7, 7)
    assert namespace["trained"].targets == ["Cardiomegaly", "Effusion"] and namespace["result"].steps == 12
    assert namespace["image"].shape[-2:] == (224, 224)
    assert namespace["model"].targets == ["Cardiomegaly", "Edema", "Consolidation", "Atelectasis", "Effusion"]
    assert repr(namespace["sex"]) == "MIRA-SexModel-resnet34"


def test_readme_says_which_guarantee_holds_for_which_weight_file():
    """The trust table names every weight set under the policy the code applies to it."""
    import xrayvision as xrv
    from xrayvision.models._registry import all_weights
    from xrayvision.models._validate import content_check

    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    rows = {"pinned": "pinned", "recorded on first use": "first-use", "unverified": "none"}
    table: dict[str, str] = {}
    for label, policy in rows.items():
        line = re.search(rf"^\| {label} \|.*\| (.*) \|$", text, re.M)
        assert line, f"README.md has no '{label}' row in its trust table"
        for name in re.findall(r"`([^`]+)`", line.group(1)):
            assert name not in table, f"{name} is listed twice"
            table[name] = policy
    expected = {w.name: xrv.hub.trust_policy(w.resource(), content_check(w)) for w in all_weights()}
    assert table == expected
