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

from .._atomic import write_atomic
from ..errors import ConfigError, TrainingError, WeightsFormatError
from . import distributed, state
from .config import TrainConfig, to_toml
from .data import SeededSamples, TrainingData, augmentation, build_training_data, collate
from .failures import raise_if_failed
from .guidance import MaskGuidance
from .history import MetricsLog, plot_curves
from .inference import predict_dataset
from .losses import masked_bce, task_weights
from .metrics import auc_per_task, mean_auc
from .model import build_model, check_resolution
from .sampling import DomainBalancedBatches, ShuffledBatches, StepSampler, sample_seed

#: Settings that may change when a run is resumed (where it runs and how it reports).
_RESUMABLE_CHANGES = {"run.out", "run.workers", "run.progress", "run.device", "run.checkpoint_every", "run.eval_every"}
#: Optimisation settings that may change on resume (to recover from a NaN loss): each is read
#: afresh at every step, none is held in the optimiser's saved state. A change is logged.
_ADJUSTABLE_ON_RESUME = {"optim.lr", "optim.min_lr", "optim.grad_clip"}
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


@dataclass
class _Session:
    """Everything one call of :meth:`Trainer.fit` trains with."""

    context: distributed.Context
    model: nn.Module  # the network (its parameters and state)
    trained: nn.Module  # what the loop calls: ``model``, or its DistributedDataParallel wrapper
    optimizer: torch.optim.Optimizer
    schedule: Any  # step -> learning-rate factor (a pure function: nothing to save for resume)
    scaler: Any
    weights: torch.Tensor  # task weights [domains or 1, T]
    batches: ShuffledBatches | DomainBalancedBatches
    total: int  # optimiser steps of the whole run
    micro: int  # images per forward pass
    autocast_dtype: torch.dtype | None
    channels_last: bool
    guidance: MaskGuidance
    step: int = 0
    best: dict[str, Any] = field(default_factory=lambda: {"metric": -math.inf, "step": 0})


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
        masks = config.guidance.method != "none" and config.guidance.masks == "pathology"
        self.data = data if data is not None else build_training_data(
            config.data, config.run.seed, config.sampling.domain, masks=masks
        )
        if masks:
            self._require_masks()
        self.model = model if model is not None else build_model(
            config.model, self.data.pathologies, config.data.resolution, config.run.seed
        )
        self.out = Path(config.run.out).expanduser()
        if self.out.exists() and not self.out.is_dir():
            raise ConfigError(f"run.out {str(self.out)!r} is a file, not a folder: set run.out to a folder for the run")
        #: The step of the last training state on disk (None: none yet); see :meth:`how_to_continue`.
        self.saved_step: int | None = None

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

    def how_to_continue(self, overrides: str = "") -> str:
        """One sentence: the last saved step and the command that continues the run from it
        (with ``overrides``, e.g. ``"--set optim.grad_clip=1.0"``, added to the command)."""
        extra = f" {overrides}" if overrides else ""
        if self.saved_step is None:
            return ("no training state was saved yet (the first is written at the end of epoch 1, or every "
                    f"run.checkpoint_every steps): start the run again{' with ' + overrides if overrides else ''}")  # fmt: skip
        return (f"the last saved state is step {self.saved_step} ({self.state_path}); continue with "
                f"xrv train {self.out / 'config.toml'} --resume{extra}")  # fmt: skip

    # ------------------------------------------------------------------ setup

    def _require_masks(self) -> None:
        """A mask-guided method on training images that have no mask would silently train a baseline."""
        csv = getattr(self.data.train, "csv", None)
        if csv is None or "has_masks" not in csv:
            return
        flags = csv["has_masks"]
        if flags.isna().any() or flags.astype(bool).any():
            return  # some image has a mask, or it is not known
        names = ", ".join(dict.fromkeys(spec.name for spec in self.config.data.datasets))
        raise ConfigError(
            f"guidance.method {self.config.guidance.method!r} needs pathology masks, but no training image of {names} "
            f"has one (has_masks is False for all {len(flags)}); give the dataset its masks (NIH: "
            "options.bbox_list_path), add a dataset with masks, or set guidance.masks = \"ellipse\""
        )

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

    def _session(self, context: distributed.Context) -> _Session:
        """Move the model, wrap it for DDP, and build optimiser, schedule, scaler and guidance."""
        c = self.config
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
        micro = c.optim.batch_size // (context.world_size * c.optim.accumulate)
        if micro < 1 or c.optim.batch_size % (context.world_size * c.optim.accumulate):
            raise ConfigError(
                f"optim.batch_size ({c.optim.batch_size}) must be a multiple of processes x accumulate "
                f"({context.world_size} x {c.optim.accumulate})"
            )
        optimizer = self._optimizer([p for p in model.parameters() if p.requires_grad])
        batches = self._batches()
        total = c.optim.epochs * batches.steps_per_epoch
        if c.optim.max_steps:
            total = min(total, c.optim.max_steps)
        check_resolution(model, c.data.resolution, context.device)
        # Last: it hooks the model, and every failure after this point must unhook it.
        guidance = MaskGuidance(c.guidance, model, context.device)
        if context.distributed and guidance.single_process_only:
            guidance.close()
            raise ConfigError(
                f"guidance.method {c.guidance.method!r} needs extra forward passes or double backpropagation, "
                "which DistributedDataParallel does not support: run it in one process"
            )
        return _Session(
            context=context, model=model, trained=trained, optimizer=optimizer,
            schedule=self._schedule(total),
            scaler=torch.amp.GradScaler(context.device.type, enabled=use_scaler),
            weights=self._task_weights().to(context.device), batches=batches, total=total, micro=micro,
            autocast_dtype=autocast_dtype, channels_last=channels_last, guidance=guidance,
        )  # fmt: skip

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
        self.saved_step = None
        run = self._session(context)
        try:
            log = MetricsLog(self.out / "metrics.jsonl")
            if resume and self.state_path.exists():
                changes = self._restore(run)
                records = []
                if context.is_main:
                    with self._writing(log.path):
                        records = log.truncate_after(run.step)
                    if changes:
                        self._write_run_files(splits=False)
                        self._log(log, records, {"kind": "resume", "step": run.step, "changed": changes})
            else:
                records = []
                if context.is_main:
                    self._write_run_files()
                    log.path.unlink(missing_ok=True)
            distributed.barrier(context)

            keep_masks = run.guidance.active and c.guidance.masks == "pathology"
            samples = SeededSamples(self.data.train, augmentation(c.data), self.data.domains, keep_masks=keep_masks)
            steps_per_epoch = run.batches.steps_per_epoch
            bar = self._progress(run.total, run.step, context)
            window = {"loss": 0.0, "images": 0, "wait": 0.0, "busy": 0.0, "steps": 0}
            try:
                while run.step < run.total:
                    epoch = run.step // steps_per_epoch
                    end = min((epoch + 1) * steps_per_epoch, run.total)
                    sampler = StepSampler(run.batches, run.step, end, context.rank, context.world_size, c.run.seed)
                    loader = torch.utils.data.DataLoader(
                        samples, batch_sampler=sampler, num_workers=c.run.workers, collate_fn=collate,
                        pin_memory=context.device.type == "cuda",
                        generator=torch.Generator().manual_seed(c.run.seed * 1_000_003 + run.step),
                        persistent_workers=False,
                    )  # fmt: skip
                    iterator = iter(loader)
                    while run.step < end:
                        waited = time.perf_counter()
                        batch = raise_if_failed(next(iterator))
                        started = time.perf_counter()
                        loss = self._step(run, batch, epoch)
                        run.step += 1
                        finished = time.perf_counter()
                        window["loss"] += loss
                        window["images"] += c.optim.batch_size
                        window["wait"] += started - waited
                        window["busy"] += finished - started
                        window["steps"] += 1
                        if bar is not None:
                            bar.update(1)
                        if window["steps"] == _LOG_EVERY or run.step == end:
                            record = self._train_record(window, run.step, epoch, run.optimizer)
                            if bar is not None:
                                bar.set_postfix(loss=f"{record['loss']:.4f}", img_s=f"{record['images_per_s']:.0f}",
                                                wait=f"{100 * record['data_wait']:.0f}%")  # fmt: skip
                            if context.is_main:
                                self._log(log, records, record)
                            window = dict.fromkeys(window, 0)
                        if c.run.checkpoint_every and run.step % c.run.checkpoint_every == 0 and run.step != end:
                            self._save(run)
                    del iterator, loader
                    if (epoch + 1) % c.run.eval_every == 0 or run.step == run.total:
                        record = self._validate(run, epoch)
                        if record is not None:
                            if context.is_main:
                                self._log(log, records, record)
                            if record["mean_auc"] is not None and record["mean_auc"] > run.best["metric"]:
                                run.best = {"metric": record["mean_auc"], "step": run.step}
                                if context.is_main:
                                    self._save_weight_set(run.model, "best", record)
                    self._save(run)
                    if context.is_main:
                        with self._writing(self.out / "curves.png"):
                            plot_curves(records, self.out / "curves.png")
            finally:
                if bar is not None:
                    bar.close()
            # Without a validation split, or when no validation gave a mean AUC (one class
            # in every pathology of the split), the best weights are the last ones.
            scored = math.isfinite(run.best["metric"])
            if context.is_main:
                self._save_weight_set(run.model, "last", None)
                if not scored:
                    self._save_weight_set(run.model, "best", None)
            distributed.barrier(context)
            best_metric = run.best["metric"] if scored else math.nan
            return TrainResult(
                out=self.out, steps=run.step, best_metric=best_metric,
                best_step=run.best["step"] if scored else run.step,
                best_weights=self.out / "best.safetensors", last_weights=self.out / "last.safetensors",
                history=MetricsLog(self.out / "metrics.jsonl").read(),
            )  # fmt: skip
        finally:
            run.guidance.close()

    def _step(self, run: _Session, batch: dict[str, Any], epoch: int) -> float:
        """One optimiser step over this process's share of the global batch; returns the global loss."""
        context, device, guidance = run.context, run.context.device, run.guidance
        images = batch["img"].to(device, non_blocking=True)
        labels = batch["lab"].to(device, non_blocking=True)
        domains = batch["domain"].to(device, non_blocking=True)
        if run.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        rows = run.weights.shape[0]
        domain_rows = domains if rows > 1 else torch.zeros_like(domains)
        # Labelled counts of the whole optimiser step (all processes, all micro-batches):
        # every micro-batch loss is divided by them, so the summed gradient is that of one
        # large batch, whatever the number of processes and accumulation steps.
        known = (~torch.isnan(labels)).float()
        counts = torch.zeros((rows, labels.shape[1]), device=device).index_add_(0, domain_rows, known)
        counts = distributed.all_reduce_sum(counts, context) / context.world_size
        regions = guidance.regions(batch, images) if guidance.active else None
        run.trained.train()
        if self.config.model.freeze_features:  # frozen features keep their BatchNorm statistics too
            for module in run.model.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm) and not any(
                    p.requires_grad for p in module.parameters()
                ):
                    module.eval()
        for group in run.optimizer.param_groups:
            group["lr"] = self.config.optim.lr * run.schedule(run.step)
        run.optimizer.zero_grad(set_to_none=True)
        total = torch.zeros((), device=device)
        chunks = range(0, len(images), run.micro)
        autocast = (lambda: torch.autocast(device.type, dtype=run.autocast_dtype)) if run.autocast_dtype else contextlib.nullcontext
        for n, start in enumerate(chunks):
            part = slice(start, start + run.micro)
            sync = n == len(chunks) - 1 or not isinstance(run.trained, nn.parallel.DistributedDataParallel)
            with (contextlib.nullcontext() if sync else run.trained.no_sync()):
                inputs = images[part]
                if regions is not None:  # the images' shuffles depend on (seed, step, rank, part) only
                    generator = torch.Generator().manual_seed(sample_seed(self.config.run.seed, run.step, 1 + context.rank * 997 + n))
                    roi, has_mask = regions[0][part], regions[1][part]
                    inputs = guidance.prepare_inputs(inputs, roi, generator)
                with autocast():
                    outputs = run.trained(inputs)
                loss = self._loss(outputs, labels[part], domain_rows[part], run.weights, counts)
                if regions is not None:
                    with autocast():
                        loss = loss + guidance.extra_loss(run.trained, inputs, outputs, roi, has_mask, generator)
                run.scaler.scale(loss).backward()
            total += loss.detach()
        global_loss = float(distributed.all_reduce_sum(total, context) / context.world_size)
        if not math.isfinite(global_loss):
            self._stop_on_nan(global_loss, batch["idx"], context, run.step, epoch)
        if not guidance.classifier_steps(run.step):  # adversarial: the critic learns, the classifier waits
            return global_loss
        if self.config.optim.grad_clip:
            run.scaler.unscale_(run.optimizer)
            nn.utils.clip_grad_norm_([p for p in run.model.parameters() if p.requires_grad], self.config.optim.grad_clip)
        run.scaler.step(run.optimizer)
        run.scaler.update()
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
            f"(positions in the training split; splits.csv maps them to dataset rows). Check those images, or lower "
            f"optim.lr or set optim.grad_clip (both may change on --resume); "
            f"{self.how_to_continue('--set optim.grad_clip=1.0')}"
        )

    def _train_record(self, window: dict[str, float], step: int, epoch: int, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        elapsed = window["wait"] + window["busy"]
        return {
            "kind": "train", "step": step, "epoch": epoch, "loss": window["loss"] / max(1, window["steps"]),
            "lr": optimizer.param_groups[0]["lr"], "images_per_s": window["images"] / elapsed if elapsed else 0.0,
            "data_wait": window["wait"] / elapsed if elapsed else 0.0,
        }  # fmt: skip

    def _validate(self, run: _Session, epoch: int) -> dict[str, Any] | None:
        if self.data.valid is None:
            return None
        batch = max(1, self.config.optim.batch_size // run.context.world_size)
        outputs, labels = predict_dataset(
            run.model, self.data.valid, run.context, batch_size=batch, workers=self.config.run.workers,
            autocast_dtype=run.autocast_dtype, channels_last=run.channels_last, progress=self.config.run.progress,
            description="validating",
        )  # fmt: skip
        aucs = auc_per_task(outputs, labels)
        mean = mean_auc(aucs)
        return {
            "kind": "valid", "step": run.step, "epoch": epoch,
            "auc": {name: (None if math.isnan(a) else float(a)) for name, a in zip(self.data.pathologies, aucs)},
            "mean_auc": None if math.isnan(mean) else mean,
        }  # fmt: skip

    def _progress(self, total: int, step: int, context: distributed.Context) -> Any:
        if not (self.config.run.progress and context.is_main):
            return None
        from tqdm.auto import tqdm

        return tqdm(total=total, initial=step, desc="training", unit="step", dynamic_ncols=True)

    # ------------------------------------------------------------------ files

    @contextlib.contextmanager
    def _writing(self, path: Path) -> Iterator[None]:
        """A failed write (a full disk, no permission) becomes a TrainingError that says how to go on.
        The writers leave no partial file: each writes a temporary file and renames it, or cuts
        an appended line back."""
        try:
            yield
        except OSError as err:
            raise TrainingError(f"could not write {path}: {err}. Free some space (or move the run folder to a "
                                f"larger disk and set run.out); {self.how_to_continue()}") from err  # fmt: skip

    def _log(self, log: MetricsLog, records: list[dict[str, Any]], record: dict[str, Any]) -> None:
        with self._writing(log.path):
            log.append(record)
        records.append(record)

    def _write_run_files(self, splits: bool = True) -> None:
        with self._writing(self.out / "config.toml"):
            write_atomic(self.out / "config.toml", to_toml(self.config).encode("utf-8"))
        if splits:
            with self._writing(self.out / "splits.csv"):
                write_atomic(self.out / "splits.csv", self.data.assignments.to_csv(index=False).encode("utf-8"))

    def _save(self, run: _Session) -> None:
        context = run.context
        # Every process's generators (dropout draws differ per process).
        generators = [state.capture_rng(context.device)]
        if context.distributed:
            generators = [None] * context.world_size
            torch.distributed.all_gather_object(generators, state.capture_rng(context.device))
        if context.is_main:
            state.save_state(self.state_path, {
                "settings": self._settings(), "fingerprint": state.fingerprint(self._settings()),
                "model": run.model.state_dict(), "optimizer": run.optimizer.state_dict(),
                "scaler": run.scaler.state_dict(),
                "guidance": run.guidance.state_dict(), "step": run.step, "best": run.best, "rng": generators,
                "world_size": context.world_size,
            })  # fmt: skip
        self.saved_step = run.step
        distributed.barrier(context)

    def _restore(self, run: _Session) -> dict[str, dict[str, Any]]:
        """Load the state into ``run``; returns the adjustable settings that changed (``{key: {from, to}}``)."""
        saved = state.load_state(self.state_path)
        adjusted: dict[str, dict[str, Any]] = {}
        if saved["fingerprint"] != state.fingerprint(self._settings()):
            ours, theirs = self._settings(), saved.get("settings", {})
            changed = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
            refused = [k for k in changed if k not in _ADJUSTABLE_ON_RESUME]
            if refused or not changed:
                detail = "; ".join(f"{k}: {theirs.get(k)!r} in the run, {ours.get(k)!r} now" for k in refused[:8])
                raise TrainingError(
                    f"cannot resume {self.state_path}: it was made with other settings ({detail}). Use the run's "
                    f"own {self.out / 'config.toml'} (only {', '.join(sorted(_ADJUSTABLE_ON_RESUME))} and the "
                    "run.* settings of where it runs may change), or start a new run in another run.out"
                )
            adjusted = {k: {"from": theirs.get(k), "to": ours.get(k)} for k in changed}
        from ..models._loading import load_strict

        try:
            load_strict(run.model, saved["model"], self.state_path)
        except WeightsFormatError as err:
            raise TrainingError(f"cannot resume: the saved model does not fit this one ({err})") from err
        run.optimizer.load_state_dict(saved["optimizer"])
        run.scaler.load_state_dict(saved["scaler"])
        run.guidance.load_state_dict(saved.get("guidance") or {})
        generators = saved["rng"]
        if len(generators) == run.context.world_size:
            state.restore_rng(generators[run.context.rank], run.context.device)
        else:  # another number of processes: the data order is the same, dropout draws are new
            torch.manual_seed(self.config.run.seed + run.context.rank + 7919 * int(saved["step"]))
        run.step, run.best = int(saved["step"]), dict(saved["best"])
        self.saved_step = run.step
        return adjusted

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
        with self._writing(self.out / f"{name}.safetensors"):
            return save_model(model, self.out / name, **metadata)
