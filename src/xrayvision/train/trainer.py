"""The training loop: one process or many, exact resume, validation and weight sets.

Usage::

    config = xrv.train.load_config("run.toml")
    result = xrv.train.Trainer(config).fit()
    model = xrv.models.get_model(result.best_weights)

The run folder (``run.out``) holds ``config.toml`` (the settings as run), ``splits.csv``
(the patient split of every image), ``metrics.jsonl``, ``curves.png``,
``state.pt`` (the training state, for ``--resume``) and the weight sets ``best`` and
``last`` (``.safetensors`` + ``.json``).
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError, TrainingError, WeightsFormatError
from . import distributed, state
from .config import TrainConfig, to_toml
from .data import SeededSamples, TrainingData, augmentation, build_training_data, collate
from .history import MetricsLog, plot_curves
from .inference import predict_dataset
from .losses import masked_bce, task_weights
from .metrics import auc_per_task, mean_auc
from .model import build_model
from .sampling import DomainBalancedBatches, ShuffledBatches, StepSampler

#: Settings that may change when a run is resumed (where it runs and how it reports).
_RESUMABLE_CHANGES = {"run.out", "run.workers", "run.progress", "run.device", "run.checkpoint_every", "run.eval_every"}
#: Training records are logged every this many steps.
_LOG_EVERY = 10


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` produced.

    Attributes:
        out: the run folder.
        steps: optimiser steps done.
        best_metric: best mean validation AUC (NaN without a validation split).
        best_step: the step of the best weights.
        best_weights: the best weight set (the last one without a validation split).
        last_weights: the weight set after the last step.
        history: every record of ``metrics.jsonl``.
    """

    out: Path
    steps: int
    best_metric: float
    best_step: int
    best_weights: Path
    last_weights: Path
    history: list[dict[str, Any]] = field(default_factory=list)


@contextlib.contextmanager
def _own_random_state(device: torch.device) -> Iterator[None]:
    """The loop may seed and draw from the global generators; the caller's states come back after."""
    np_state, py_state = np.random.get_state(), random.getstate()
    devices = [device] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)


def _flatten(settings: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in settings.items():
        if isinstance(value, dict) and key != "options":
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


class Trainer:
    """Train a multi-label chest X-ray classifier.

    Args:
        config: the run's configuration.
        model: any ``nn.Module`` mapping ``[B, 1, R, R]`` to ``[B, T]`` logits (default:
            built from ``config.model``).
        data: the datasets (default: built from ``config.data``). Build your own with
            :meth:`TrainingData.from_datasets`.
    """

    def __init__(self, config: TrainConfig, *, model: nn.Module | None = None, data: TrainingData | None = None):
        self.config = config.check()
        self.data = data if data is not None else build_training_data(config.data, config.run.seed, config.sampling.domain)
        self.model = model if model is not None else build_model(
            config.model, self.data.pathologies, config.data.resolution, config.run.seed
        )
        self.out = Path(config.run.out).expanduser()

    # ------------------------------------------------------------------ public

    def fit(self, resume: bool = False) -> TrainResult:
        """Run (or, with ``resume``, continue) the training.

        The global random generators are used inside a private state: the caller's
        torch, NumPy and Python random states are the same after the call.

        Args:
            resume: continue from ``<out>/state.pt`` (start from scratch when there is none).

        Raises:
            TrainingError: the folder already holds a run and ``resume`` is False; the state
                was made with other settings or another model; the loss became NaN (the
                message names the step and the samples); a state cannot be written.
        """
        context = distributed.setup(self.config.run.device)
        try:
            with _own_random_state(context.device):
                return self._fit(context, resume)
        finally:
            distributed.teardown(context)

    # ------------------------------------------------------------------ setup

    @property
    def state_path(self) -> Path:
        return self.out / "state.pt"

    def _settings(self) -> dict[str, Any]:
        flat = _flatten(self.config.to_dict())
        return {k: v for k, v in flat.items() if k not in _RESUMABLE_CHANGES}

    def _batches(self) -> ShuffledBatches | DomainBalancedBatches:
        c = self.config
        if c.sampling.balanced:
            return DomainBalancedBatches(self.data.domains, c.optim.batch_size, c.run.seed, c.sampling.steps_per_epoch)
        return ShuffledBatches(len(self.data.train), c.optim.batch_size, c.run.seed)

    def _task_weights(self) -> torch.Tensor:
        """``[D, T]``: per-domain weights when balanced (spec methods.md §3.2), else one row."""
        labels = np.asarray(self.data.train.labels)
        width = labels.shape[1]
        if not self.config.optim.task_weights:
            rows = len(self.data.domain_names) if self.config.sampling.balanced else 1
            return torch.ones((rows, width))
        if self.config.sampling.balanced:
            return torch.from_numpy(np.stack([task_weights(labels[self.data.domains == d]) for d in range(len(self.data.domain_names))]))
        return torch.from_numpy(task_weights(labels))[None]

    def _optimizer(self, parameters: list[nn.Parameter]) -> torch.optim.Optimizer:
        o = self.config.optim
        cls = torch.optim.AdamW if o.optimizer == "adamw" else torch.optim.Adam
        return cls(parameters, lr=o.lr, weight_decay=o.weight_decay, amsgrad=o.amsgrad)

    def _schedule(self, total_steps: int) -> Any:
        o = self.config.optim

        def factor(step: int) -> float:
            if step < o.warmup_steps:
                return o.warmup_start + (1 - o.warmup_start) * step / o.warmup_steps
            if o.schedule == "constant":
                return 1.0
            span = max(1, total_steps - o.warmup_steps)
            progress = min(1.0, (step - o.warmup_steps) / span)
            floor = o.min_lr / o.lr if o.lr else 0.0
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

        return factor

    def _precision(self, device: torch.device) -> tuple[torch.dtype | None, bool]:
        """(autocast dtype or None, use a gradient scaler)."""
        amp = self.config.run.amp
        if amp == "off" or (amp == "auto" and device.type != "cuda"):
            return None, False
        if amp == "bf16" or (amp == "auto" and torch.cuda.is_bf16_supported()):
            return torch.bfloat16, False
        if device.type != "cuda":
            raise ConfigError("run.amp = \"fp16\" needs a GPU; use \"bf16\" or \"off\" on the CPU")
        return torch.float16, True

    # ------------------------------------------------------------------ the loop

    def _fit(self, context: distributed.Context, resume: bool) -> TrainResult:
        c = self.config
        if self.state_path.exists() and not resume:
            raise TrainingError(
                f"{self.out} already holds a run ({self.state_path}); pass resume=True (xrv train --resume) to "
                "continue it, or set run.out to a new folder"
            )
        torch.manual_seed(c.run.seed + context.rank)
        np.random.seed((c.run.seed + context.rank) % 2**32)
        random.seed(c.run.seed + context.rank)

        model = self.model.to(context.device)
        channels_last = c.run.channels_last == "on" or (c.run.channels_last == "auto" and context.device.type == "cuda")
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        autocast_dtype, use_scaler = self._precision(context.device)
        trained = model
        if context.distributed:
            if c.run.sync_batchnorm:
                if context.device.type != "cuda":
                    raise ConfigError("run.sync_batchnorm needs GPUs (PyTorch's SyncBatchNorm does not run on the CPU)")
                trained = nn.SyncBatchNorm.convert_sync_batchnorm(trained)
            device_ids = [context.device.index] if context.device.type == "cuda" else None
            trained = nn.parallel.DistributedDataParallel(trained, device_ids=device_ids)
        parameters = [p for p in model.parameters() if p.requires_grad]
        optimizer = self._optimizer(parameters)
        batches = self._batches()
        steps_per_epoch = batches.steps_per_epoch
        total = c.optim.epochs * steps_per_epoch
        if c.optim.max_steps:
            total = min(total, c.optim.max_steps)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, self._schedule(total))
        scaler = torch.amp.GradScaler(context.device.type, enabled=use_scaler)
        weights = self._task_weights().to(context.device)
        log = MetricsLog(self.out / "metrics.jsonl")

        step, best = 0, {"metric": -math.inf, "step": 0}
        if resume and self.state_path.exists():
            step, best = self._restore(model, optimizer, scheduler, scaler, context)
            records = log.truncate_after(step) if context.is_main else []
        else:
            records = []
            if context.is_main:
                self._write_run_files()
                log.path.unlink(missing_ok=True)
        distributed.barrier(context)

        micro = c.optim.batch_size // (context.world_size * c.optim.accumulate)
        if micro < 1 or c.optim.batch_size % (context.world_size * c.optim.accumulate):
            raise ConfigError(
                f"optim.batch_size ({c.optim.batch_size}) must be a multiple of processes x accumulate "
                f"({context.world_size} x {c.optim.accumulate})"
            )
        samples = SeededSamples(self.data.train, augmentation(c.data), self.data.domains)
        bar = self._progress(total, step, context)
        window = {"loss": 0.0, "images": 0, "wait": 0.0, "busy": 0.0, "steps": 0}
        try:
            while step < total:
                epoch = step // steps_per_epoch
                end = min((epoch + 1) * steps_per_epoch, total)
                sampler = StepSampler(batches, step, end, context.rank, context.world_size, c.run.seed)
                loader = torch.utils.data.DataLoader(
                    samples, batch_sampler=sampler, num_workers=c.run.workers, collate_fn=collate,
                    pin_memory=context.device.type == "cuda",
                    generator=torch.Generator().manual_seed(c.run.seed * 1_000_003 + step),
                    persistent_workers=False,
                )  # fmt: skip
                iterator = iter(loader)
                while step < end:
                    waited = time.perf_counter()
                    batch = next(iterator)
                    started = time.perf_counter()
                    loss = self._step(trained, model, batch, optimizer, scaler, weights, micro, autocast_dtype,
                                      channels_last, context, step, epoch)  # fmt: skip
                    scheduler.step()
                    step += 1
                    finished = time.perf_counter()
                    window["loss"] += loss
                    window["images"] += c.optim.batch_size
                    window["wait"] += started - waited
                    window["busy"] += finished - started
                    window["steps"] += 1
                    if bar is not None:
                        bar.update(1)
                    if window["steps"] == _LOG_EVERY or step == end:
                        record = self._train_record(window, step, epoch, optimizer)
                        if bar is not None:
                            bar.set_postfix(loss=f"{record['loss']:.4f}", img_s=f"{record['images_per_s']:.0f}",
                                            wait=f"{100 * record['data_wait']:.0f}%")  # fmt: skip
                        if context.is_main:
                            log.append(record)
                            records.append(record)
                        window = dict.fromkeys(window, 0)
                    if c.run.checkpoint_every and step % c.run.checkpoint_every == 0 and step != end:
                        self._save(model, optimizer, scheduler, scaler, step, best, context)
                del iterator, loader
                if (epoch + 1) % c.run.eval_every == 0 or step == total:
                    record = self._validate(model, step, epoch, autocast_dtype, channels_last, context)
                    if record is not None:
                        if context.is_main:
                            log.append(record)
                            records.append(record)
                        if record["mean_auc"] is not None and record["mean_auc"] > best["metric"]:
                            best = {"metric": record["mean_auc"], "step": step}
                            if context.is_main:
                                self._save_weight_set(model, "best", record)
                self._save(model, optimizer, scheduler, scaler, step, best, context)
                if context.is_main:
                    plot_curves(records, self.out / "curves.png")
        finally:
            if bar is not None:
                bar.close()
        if context.is_main:
            last = self._save_weight_set(model, "last", None)
            if self.data.valid is None:
                self._save_weight_set(model, "best", None)
        distributed.barrier(context)
        best_metric = best["metric"] if math.isfinite(best["metric"]) else math.nan
        return TrainResult(
            out=self.out, steps=step, best_metric=best_metric, best_step=best["step"] if self.data.valid is not None else step,
            best_weights=self.out / "best.safetensors", last_weights=self.out / "last.safetensors",
            history=MetricsLog(self.out / "metrics.jsonl").read(),
        )  # fmt: skip

    def _step(self, trained: nn.Module, model: nn.Module, batch: dict[str, Any], optimizer: torch.optim.Optimizer,
              scaler: Any, weights: torch.Tensor, micro: int, autocast_dtype: torch.dtype | None,
              channels_last: bool, context: distributed.Context, step: int, epoch: int) -> float:  # fmt: skip
        """One optimiser step over this process's share of the global batch; returns the global loss."""
        device = context.device
        images = batch["img"].to(device, non_blocking=True)
        labels = batch["lab"].to(device, non_blocking=True)
        domains = batch["domain"].to(device, non_blocking=True)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        rows = weights.shape[0]
        domain_rows = domains if rows > 1 else torch.zeros_like(domains)
        # Labelled counts of the whole optimiser step (all processes, all micro-batches):
        # every micro-batch loss is divided by them, so the summed gradient is that of one
        # large batch, whatever the number of processes and accumulation steps.
        known = (~torch.isnan(labels)).float()
        counts = torch.zeros((rows, labels.shape[1]), device=device).index_add_(0, domain_rows, known)
        counts = distributed.all_reduce_sum(counts, context) / context.world_size
        trained.train()
        if self.config.model.freeze_features:  # frozen features keep their BatchNorm statistics too
            for module in model.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm) and not any(p.requires_grad for p in module.parameters()):
                    module.eval()
        optimizer.zero_grad(set_to_none=True)
        total = torch.zeros((), device=device)
        chunks = range(0, len(images), micro)
        for n, start in enumerate(chunks):
            part = slice(start, start + micro)
            sync = n == len(chunks) - 1 or not isinstance(trained, nn.parallel.DistributedDataParallel)
            with (contextlib.nullcontext() if sync else trained.no_sync()):
                with (torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype else contextlib.nullcontext()):
                    outputs = trained(images[part])
                loss = self._loss(outputs, labels[part], domain_rows[part], weights, counts)
                scaler.scale(loss).backward()
            total += loss.detach()
        global_loss = float(distributed.all_reduce_sum(total, context) / context.world_size)
        if not math.isfinite(global_loss):
            self._stop_on_nan(global_loss, batch["idx"], context, step, epoch)
        if self.config.optim.grad_clip:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], self.config.optim.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        return global_loss

    def _loss(self, outputs: torch.Tensor, labels: torch.Tensor, domains: torch.Tensor, weights: torch.Tensor,
              counts: torch.Tensor) -> torch.Tensor:  # fmt: skip
        """Masked BCE; with several domains, the sum of each domain's loss (its own task weights)."""
        if outputs.shape != labels.shape:
            raise TrainingError(
                f"the model outputs {list(outputs.shape)} but the labels are {list(labels.shape)}: it must give one "
                f"logit per pathology ({len(self.data.pathologies)})"
            )
        if weights.shape[0] == 1:
            return masked_bce(outputs, labels, weights[0], denominators=counts[0])
        loss = outputs.new_zeros((), dtype=torch.float32)
        for d in range(weights.shape[0]):
            rows = domains == d
            if rows.any():
                loss = loss + masked_bce(outputs[rows], labels[rows], weights[d], denominators=counts[d])
        return loss

    def _stop_on_nan(self, value: float, indices: torch.Tensor, context: distributed.Context, step: int, epoch: int) -> None:
        mine = indices.tolist()
        everyone = [mine]
        if context.distributed:
            everyone = [None] * context.world_size
            torch.distributed.all_gather_object(everyone, mine)
        rows = sorted(i for part in everyone for i in part)
        shown = ", ".join(str(i) for i in rows[:16]) + (" ..." if len(rows) > 16 else "")
        raise TrainingError(
            f"the loss is {value} at step {step + 1} (epoch {epoch}); the batch held training samples [{shown}] "
            f"(positions in the training split; splits.csv maps them to dataset rows). Check those images, lower "
            f"optim.lr or set optim.grad_clip; resume from {self.state_path} with --resume once fixed"
        )

    def _train_record(self, window: dict[str, float], step: int, epoch: int, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        elapsed = window["wait"] + window["busy"]
        return {
            "kind": "train", "step": step, "epoch": epoch, "loss": window["loss"] / max(1, window["steps"]),
            "lr": optimizer.param_groups[0]["lr"], "images_per_s": window["images"] / elapsed if elapsed else 0.0,
            "data_wait": window["wait"] / elapsed if elapsed else 0.0,
        }  # fmt: skip

    def _validate(self, model: nn.Module, step: int, epoch: int, autocast_dtype: torch.dtype | None,
                  channels_last: bool, context: distributed.Context) -> dict[str, Any] | None:  # fmt: skip
        if self.data.valid is None:
            return None
        batch = max(1, self.config.optim.batch_size // context.world_size)
        outputs, labels = predict_dataset(
            model, self.data.valid, context, batch_size=batch, workers=self.config.run.workers,
            autocast_dtype=autocast_dtype, channels_last=channels_last, progress=self.config.run.progress,
            description="validating",
        )  # fmt: skip
        aucs = auc_per_task(outputs, labels)
        mean = mean_auc(aucs)
        return {
            "kind": "valid", "step": step, "epoch": epoch,
            "auc": {name: (None if math.isnan(a) else float(a)) for name, a in zip(self.data.pathologies, aucs)},
            "mean_auc": None if math.isnan(mean) else mean,
        }  # fmt: skip

    def _progress(self, total: int, step: int, context: distributed.Context) -> Any:
        if not (self.config.run.progress and context.is_main):
            return None
        from tqdm.auto import tqdm

        return tqdm(total=total, initial=step, desc="training", unit="step", dynamic_ncols=True)

    # ------------------------------------------------------------------ files

    def _write_run_files(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "config.toml").write_text(to_toml(self.config), encoding="utf-8")
        self.data.assignments.to_csv(self.out / "splits.csv", index=False)

    def _save(self, model: nn.Module, optimizer: Any, scheduler: Any, scaler: Any, step: int, best: dict[str, Any],
              context: distributed.Context) -> None:  # fmt: skip
        # Every process's generators (dropout draws differ per process).
        generators = [state.capture_rng(context.device)]
        if context.distributed:
            generators = [None] * context.world_size
            torch.distributed.all_gather_object(generators, state.capture_rng(context.device))
        if context.is_main:
            state.save_state(self.state_path, {
                "settings": self._settings(), "fingerprint": state.fingerprint(self._settings()),
                "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict(), "step": step, "best": best, "rng": generators,
                "world_size": context.world_size,
            })  # fmt: skip
        distributed.barrier(context)

    def _restore(self, model: nn.Module, optimizer: Any, scheduler: Any, scaler: Any,
                 context: distributed.Context) -> tuple[int, dict[str, Any]]:  # fmt: skip
        saved = state.load_state(self.state_path)
        if saved["fingerprint"] != state.fingerprint(self._settings()):
            ours, theirs = self._settings(), saved.get("settings", {})
            changed = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
            detail = "; ".join(f"{k}: {theirs.get(k)!r} in the run, {ours.get(k)!r} now" for k in changed[:8])
            raise TrainingError(
                f"cannot resume {self.state_path}: it was made with other settings ({detail}). Use the run's own "
                f"{self.out / 'config.toml'}, or start a new run in another run.out"
            )
        from ..models._loading import load_strict

        try:
            load_strict(model, saved["model"], self.state_path)
        except WeightsFormatError as err:
            raise TrainingError(f"cannot resume: the saved model does not fit this one ({err})") from err
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        scaler.load_state_dict(saved["scaler"])
        generators = saved["rng"]
        if len(generators) == context.world_size:
            state.restore_rng(generators[context.rank], context.device)
        else:  # another number of processes: the data order is the same, dropout draws are new
            torch.manual_seed(self.config.run.seed + context.rank + 7919 * int(saved["step"]))
        return int(saved["step"]), dict(saved["best"])

    def _save_weight_set(self, model: nn.Module, name: str, record: dict[str, Any] | None) -> Path:
        from ..models._loading import save_model

        c = self.config
        metadata = {
            "labels": list(self.data.pathologies),
            "input_resolution": c.data.resolution,
            "training_data": self.data.sources,
            "description": f"trained with xrayvision on {', '.join(self.data.sources)} at {c.data.resolution} px",
            "licence": "the terms of the training data apply; set by the user",
            "recipe": getattr(model, "xrv_recipe", {}),
            "validation": record,
        }
        return save_model(model, self.out / name, **metadata)
