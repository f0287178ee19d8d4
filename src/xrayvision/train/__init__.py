"""Train, evaluate and calibrate chest X-ray classifiers, on one machine or many.

Usage::

    import xrayvision as xrv
    config = xrv.train.load_config("run.toml", overrides=["optim.lr=3e-4"])
    result = xrv.train.Trainer(config).fit()          # or: xrv train run.toml
    model = xrv.models.get_model(result.best_weights)

The same code runs under ``torchrun`` (DistributedDataParallel: gloo on CPUs, NCCL on
GPUs). The building blocks are public: :func:`masked_bce` and :func:`task_weights` (the
paper's loss), :func:`patient_split`, :class:`ShuffledBatches` and
:class:`DomainBalancedBatches` (balanced multi-domain batches), :func:`auc_per_task`,
:func:`evaluate_model` (AUC tables across datasets) and :func:`calibrate` (operating points).
"""

from __future__ import annotations

from .._lazy import lazy_namespace

_NAMES = {
    "TrainConfig": ".config",
    "DatasetSpec": ".config",
    "load_config": ".config",
    "config_from_dict": ".config",
    "Trainer": ".trainer",
    "TrainResult": ".trainer",
    "TrainingData": ".data",
    "build_training_data": ".data",
    "dataset_class": ".data",
    "build_model": ".model",
    "replace_head": ".model",
    "masked_bce": ".losses",
    "task_weights": ".losses",
    "patient_split": ".splits",
    "ShuffledBatches": ".sampling",
    "DomainBalancedBatches": ".sampling",
    "StepSampler": ".sampling",
    "auc_per_task": ".metrics",
    "mean_auc": ".metrics",
    "bootstrap_auc": ".metrics",
    "youden_threshold": ".metrics",
    "precision_threshold": ".metrics",
    "predict_dataset": ".inference",
    "evaluate_model": ".evaluation",
    "Evaluation": ".evaluation",
    "calibrate": ".calibration",
    "Calibration": ".calibration",
}

__getattr__, __dir__ = lazy_namespace(__name__, _NAMES)

__all__ = sorted(_NAMES)
