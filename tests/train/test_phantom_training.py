"""A short run on the chest phantom learns its findings (validation AUC far above chance)."""

from __future__ import annotations

from xrayvision.train import Trainer, config_from_dict

SMALL_DENSENET = {"architecture": "densenet121",
                  "options": {"growth_rate": 8, "block_config": [2, 2, 2], "num_init_features": 16}}  # fmt: skip


def phantom_config(out, **optim):
    return config_from_dict({
        "run": {"out": str(out), "workers": 0, "progress": False},
        "data": {"datasets": [{"name": "phantom", "options": {"n": 400, "size": 48, "seed": 0}}],
                 "pathologies": ["Cardiomegaly", "Effusion"], "resolution": 48,
                 "degrees": 5.0, "translate": 0.03, "scale": [0.95, 1.05]},
        "model": SMALL_DENSENET,
        "optim": {"epochs": 4, "batch_size": 32, "lr": 3e-3, **optim},
    })  # fmt: skip


def test_validation_auc_rises_far_above_chance(tmp_path):
    result = Trainer(phantom_config(tmp_path / "run")).fit()
    valid = [r for r in result.history if r["kind"] == "valid"]
    assert len(valid) == 4
    assert valid[-1]["mean_auc"] > 0.75, valid  # chance is 0.5
    assert valid[-1]["auc"]["Cardiomegaly"] > 0.9, valid
    assert valid[-1]["mean_auc"] > valid[0]["mean_auc"]
    assert result.best_metric == max(r["mean_auc"] for r in valid)


def test_nih_and_chexpert_format_releases_train_together_with_balanced_domains(tmp_path):
    """Phantom images in the NIH and CheXpert file formats, read by their dataset classes,
    relabelled, split by patient, merged and sampled with balanced domains."""
    from ._phantom_releases import write_phantom_chexpert, write_phantom_nih

    nih = write_phantom_nih(tmp_path / "NIH")
    chex = write_phantom_chexpert(tmp_path / "CheXpert")
    config = config_from_dict({
        "run": {"out": str(tmp_path / "run"), "workers": 0, "progress": False},
        "data": {"datasets": [
            {"name": "nih", "imgpath": str(nih["imgpath"]), "csvpath": str(nih["csvpath"]),
             "options": {"bbox_list_path": str(nih["bbox_list_path"])}},
            {"name": "chex", "imgpath": str(chex["imgpath"]), "csvpath": str(chex["csvpath"])},
        ], "pathologies": ["Cardiomegaly", "Effusion"], "resolution": 48, "augment": False},
        "model": SMALL_DENSENET,
        "sampling": {"balanced": True},
        "optim": {"epochs": 4, "batch_size": 32, "lr": 3e-3},
    })  # fmt: skip
    trainer = Trainer(config)
    assert trainer.data.domain_names == ["nih", "chex"]
    assert len(trainer.data.train.datasets) == 2
    result = trainer.fit()
    valid = [r for r in result.history if r["kind"] == "valid"]
    assert valid[-1]["auc"]["Cardiomegaly"] > 0.85, valid
    assert valid[-1]["mean_auc"] > 0.7, valid
