"""Latent Shift counterfactuals ("Gifsplanation", Cohen et al., MIDL 2021).

``z = E(x)``; one gradient ``g = d f_t(D(z)) / dz``; frames ``D(z + λ g)``: negative λ
remove the evidence for the target, positive λ exaggerate it. The λ interval comes
from a search (:mod:`.search`), the heatmaps from the frames (:mod:`.heatmaps`).

Unlike the published code, which decodes and classifies one λ at a time with autograd
recording, frames here are decoded and classified in batches without autograd, every
evaluated λ is cached (search and frames share decoder calls), and the search
evaluates its fixed schedule a few λ ahead (same visited λ, bounds and frames).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ExplainError, ModelInputError
from ._inputs import image_batch
from ._targets import (
    ClassifierOutput,
    model_labels,
    raw_model_output,
    require_eval,
    resolve_target,
    warn_outside_range,
)
from .heatmaps import HEATMAPS
from .heatmaps import heatmap as _heatmap
from .search import SEARCHES, Evaluation, Search, SearchOutcome, run_search

#: ``attribute(method="latentshift")`` keywords -> :meth:`LatentShiftResult.heatmap` keywords.
HEATMAP_OPTIONS = {"heatmap": "method", "legacy": "legacy"}


class LatentShiftSearchWarning(UserWarning):
    """A λ search ended on its limit without meeting a stop rule (see ``result.search``)."""


class LatentShiftOutputWarning(UserWarning):
    """The λ search's stop thresholds are in probability units, but the explained output is not."""


def autoencoder_resolution(autoencoder: Any) -> int | None:
    """The side of the square images ``autoencoder`` works at: its ``resolution``
    (:class:`~xrayvision.models.ResNetAE`) or ``input_resolution`` attribute
    (:class:`~xrayvision.autoencoders.ConvAutoencoder`, the classifiers' name); None
    when it records neither."""
    for name in ("resolution", "input_resolution"):
        side = getattr(autoencoder, name, None)
        if side is not None:
            return int(side)
    return None


@dataclass(eq=False)  # holds arrays: compare fields yourself
class LatentShiftResult:
    """The counterfactual sequence of one image.

    Attributes:
        lambdas: ``[N]`` λ of the frames, from the most negative.
        frames: ``[N, C, H, W]`` decoded images ``D(z + λ g)``, float32.
        preds: ``[N]`` the explained output for each frame.
        initial_pred: the output for the reconstruction (λ = 0).
        reconstruction: ``[C, H, W]`` ``D(z)``.
        image: ``[C, H, W]`` the input as the autoencoder saw it (after any resize).
        target: the target's name (or index when the model has no names).
        target_index: its output index.
        output: the explained output type (``"model"``, ``"logit"``, ...), with
            ``"+sigmoid"`` when the extra sigmoid of the later published code was applied.
        search: the bounds and the visited λ (``search.converged`` False when a side
            ended on its λ limit).
    """

    lambdas: np.ndarray
    frames: np.ndarray
    preds: np.ndarray
    initial_pred: float
    reconstruction: np.ndarray
    image: np.ndarray
    target: str | int
    target_index: int
    output: str
    search: SearchOutcome

    def heatmap(
        self, method: str = "int", *, legacy: bool = False, sigma: float = 0.0, percentile: float | None = None
    ) -> np.ndarray:
        """A 2-D map ``[H, W]`` of where the frames change (see :func:`~.heatmaps.heatmap`).

        Args:
            method: ``"int"`` (mean change between successive frames), ``"max"``,
                ``"mean"`` (largest / mean change from the reconstruction), ``"mm"``
                (first frame against last).
            legacy: ``max`` and ``mean`` as the published gifsplanation code computed
                them: both equal ``|x_0 - F_1|`` (the paper's ``latentshift-max``).
            sigma, percentile: Gaussian blur and top-percentile threshold.
        """
        return _heatmap(self.frames, self.reconstruction, method, legacy=legacy, sigma=sigma, percentile=percentile)

    def save_gif(self, path: str | Path, **options: Any) -> Path:
        """Write the sequence as an animated GIF; options of :func:`~.media.save_gif`."""
        from .media import save_gif

        return save_gif(self, path, **options)

    def save_mp4(self, path: str | Path, **options: Any) -> Path:
        """Write the sequence as an H.264 MP4 (needs PyAV); options of :func:`~.media.save_mp4`."""
        from .media import save_mp4

        return save_mp4(self, path, **options)


class _Shifts:
    """Decoded frames and predictions of one image, by λ, computed in batches and cached."""

    def __init__(
        self, shift: LatentShift, forward: ClassifierOutput, index: int, z: torch.Tensor, g: torch.Tensor,
        image: torch.Tensor, x0: torch.Tensor, y0: float,
    ):  # fmt: skip
        self.shift, self.forward, self.index, self.z, self.g, self.image = shift, forward, index, z, g, image
        self.x0 = x0
        self.pixel_sum = float(x0.abs().sum())
        self.zero_gradient = not bool(g.any())
        self.cache: dict[float, tuple[torch.Tensor, Evaluation]] = {0.0: (x0, Evaluation(y0, 0.0))}
        # On a CPU a batch is no faster per frame than one frame (the cores are already
        # busy), and the search's look-ahead past a stop is wasted: one λ per search side.
        self.batch_size = shift.batch_size or (8 if z.device.type == "cuda" else 2)

    def evaluate(self, lambdas: Sequence[float]) -> list[Evaluation]:
        missing = list(dict.fromkeys(float(lam) for lam in lambdas if float(lam) not in self.cache))
        if self.zero_gradient:  # every shift decodes to the reconstruction
            for lam in missing:
                self.cache[lam] = self.cache[0.0]
            missing = []
        size = self.batch_size
        for start in range(0, len(missing), size):
            chunk = missing[start : start + size]
            steps = torch.tensor(chunk, dtype=self.z.dtype, device=self.z.device).view(-1, *([1] * (self.z.dim() - 1)))
            with torch.no_grad():
                frames = self.shift._decode(self.z + self.g * steps)
                preds = self.shift._predict(frames, self.image, self.index, self.forward).tolist()
                diffs = (self.x0 - frames).abs().flatten(1).sum(1).tolist()
            for i, lam in enumerate(chunk):
                self.cache[lam] = (frames[i], Evaluation(preds[i], diffs[i]))
        return [self.cache[float(lam)][1] for lam in lambdas]

    def frames(self, lambdas: Sequence[float]) -> torch.Tensor:
        self.evaluate(lambdas)
        return torch.stack([self.cache[float(lam)][0] for lam in lambdas])


class LatentShift:
    """Counterfactual explanations by shifting an autoencoder's latent code.

    Usage::

        model = xrv.models.DenseNet(weights="densenet121-res224-all")
        ae = xrv.autoencoders.ResNetAE(weights="101-elastic")
        result, = xrv.explain.LatentShift(model, ae).attribute(img, "Effusion")
        result.heatmap("max", legacy=True)    # the paper's latentshift-max
        result.save_gif("effusion.gif")

    Args:
        classifier: a classifier with named outputs (``targets``/``pathologies`` or
            ``labels=``), in eval mode.
        autoencoder: an object with ``encode(x)`` and ``decode(z)`` (e.g.
            :func:`xrayvision.autoencoders.ResNetAE`), differentiable, in eval mode.
        search: ``"paper"`` (default: the 2021-02 code behind the published IoU tables),
            ``"head"``, ``"package"``, ``"captum"`` (see :mod:`.search`), or a search
            object (:class:`~.search.GifsplanationSearch`,
            :class:`~.search.AcceleratingSearch`, :class:`~.search.FixedRange`).
        output: the explained output: ``"model"`` (what ``classifier(x)`` returns: the
            calibrated score of the library's pre-trained models, as the 2021-02 code
            used), ``"logit"``, ``"probability"``, ``"calibrated"``.
        sigmoid: apply one more sigmoid to that output, as the later published code did
            (``"head"``, ``"package"`` and ``"captum"`` were published with it; their
            stop thresholds are in those units). Off by default.
        labels, head: output names / logit module (see :func:`~.attribution.attribute`).
        mix: the classifier sees ``mix * x + (1 - mix) * D(.)`` (the 2021-02 code's ``p``; 0).
        batch_size: most frames decoded and classified per call (default: 2 on a CPU,
            one λ per search side, as larger batches are no faster per frame there and
            look past the stop for nothing; 8 on a GPU).
        resize: resize the image to the autoencoder's resolution (its ``resolution`` or
            ``input_resolution`` attribute) and the frames to the classifier's
            (bilinear, antialiased) when they differ; False raises instead.
        optimize: classify the frames with ``classifier.optimize_for_inference()`` when
            the classifier has it (the library's DenseNet and ResNet: outputs equal within
            float rounding, about 2x faster on CPU); the gradient always uses the
            classifier itself.

    Warns:
        LatentShiftOutputWarning: ``output="model"`` is a model's logits (no
            ``apply_sigmoid``, no ``op_threshs``: a weight set from ``xrv train``) while the
            search's stop rules are in probability units; pass ``output="probability"``.

    Raises:
        ExplainError: unknown search name, a model in training mode, bad options.
    """

    def __init__(
        self,
        classifier: nn.Module,
        autoencoder: Any,
        *,
        search: str | Search = "paper",
        output: str = "model",
        sigmoid: bool = False,
        labels: Sequence[str] | None = None,
        head: str | None = None,
        mix: float = 0.0,
        batch_size: int | None = None,
        resize: bool = True,
        optimize: bool = True,
    ):
        if not (hasattr(autoencoder, "encode") and hasattr(autoencoder, "decode")):
            raise ExplainError(f"the autoencoder ({type(autoencoder).__name__}) needs encode(x) and decode(z) methods")
        if isinstance(search, str):
            if search not in SEARCHES:
                raise ExplainError(f"unknown Latent Shift search {search!r}; choose one of {', '.join(SEARCHES)}")
            search = SEARCHES[search]
        if not isinstance(search, Search):
            raise ExplainError(f"search must be a name or a Search object, got {type(search).__name__}")
        if batch_size is not None and batch_size < 1:
            raise ExplainError(f"batch_size must be at least 1, got {batch_size}")
        if not 0.0 <= mix < 1.0:
            raise ExplainError(f"mix must lie in [0, 1), got {mix}")
        self.classifier = classifier
        self.autoencoder = autoencoder
        self.search = search
        self.sigmoid = bool(sigmoid)
        self.mix = float(mix)
        self.batch_size = batch_size
        self.resize = bool(resize)
        self.optimize = bool(optimize)
        self._head = head
        self._forward = ClassifierOutput(classifier, output, model_labels(classifier, labels), head)
        self._warn_if_units_differ(output)

    def _warn_if_units_differ(self, output: str) -> None:
        """Warn when probability-unit stop rules would run on logits (a model trained with
        ``xrv train`` returns them from ``model(x)``): the search then stops at the wrong λ."""
        raw = raw_model_output(self.classifier) if output == "model" else None
        if raw is None or self.sigmoid or not self.search.probability_units:
            return
        warnings.warn(
            f"the classifier returns {raw} (no apply_sigmoid, no op_threshs), but the Latent Shift search's stop "
            "rules are thresholds in probability units; pass output='probability' (or output='calibrated' for "
            "a calibrated model) to explain a probability, or search=FixedRange(lo, hi)",
            LatentShiftOutputWarning,
            stacklevel=3,
        )

    @property
    def output(self) -> str:
        """The explained output type, ``"+sigmoid"`` appended when the extra sigmoid is on."""
        return self._forward.output + ("+sigmoid" if self.sigmoid else "")

    # ---------------------------------------------------------------- model plumbing

    def _to_resolution(self, x: torch.Tensor, side: int | None, what: str) -> torch.Tensor:
        if side is None or tuple(x.shape[-2:]) == (side, side):
            return x
        if not self.resize:
            raise ModelInputError(
                f"{what} needs {side}x{side} images, got {x.shape[-2]}x{x.shape[-1]}; resize first or pass resize=True"
            )
        return F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False, antialias=True)

    def _evaluation_forward(self) -> ClassifierOutput:
        """The classifier used for the frames: its inference-optimized copy when it offers one."""
        optimize = getattr(self.classifier, "optimize_for_inference", None)
        if not self.optimize or optimize is None:
            return self._forward
        try:
            fast = optimize()
        except (TypeError, ValueError, RuntimeError):  # a subclass the fast path does not cover
            return self._forward
        return ClassifierOutput(fast, self._forward.output, self._forward.labels, self._head)

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        # A channels-last latent code runs the decoder's convolutions channels-last (the
        # module itself is left as it is): 2.4x faster for ResNetAE-101 on 2 CPU cores.
        if z.dim() == 4:
            z = z.contiguous(memory_format=torch.channels_last)
        return self.autoencoder.decode(z)

    def _predict(self, frames: torch.Tensor, image: torch.Tensor, index: int, forward: ClassifierOutput) -> torch.Tensor:
        """The explained output of ``frames`` ``[K, C, H, W]`` (one image's ``image`` for mixing)."""
        if self.mix:
            frames = self.mix * image + (1 - self.mix) * frames
        frames = self._to_resolution(frames, getattr(self.classifier, "input_resolution", None), "the classifier")
        y = forward(frames)[:, index]
        return torch.sigmoid(y) if self.sigmoid else y

    # ---------------------------------------------------------------- the method

    def attribute(self, x: torch.Tensor, target: int | str) -> list[LatentShiftResult]:
        """Counterfactual sequences for ``target``, one result per image of ``x``.

        Args:
            x: images ``[B, C, H, W]`` (or ``[C, H, W]``) in [-1024, 1024]; not modified.
            target: pathology name or output index; untrained slots are refused.

        Returns:
            One :class:`LatentShiftResult` per image.

        Raises:
            UnknownNameError: unknown target name.
            ExplainError: untrained target, models in training mode, a NaN prediction.
            ModelInputError: resolutions differ and ``resize=False``.
        """
        require_eval(self.classifier, "classifier")
        if isinstance(self.autoencoder, nn.Module):
            require_eval(self.autoencoder, "autoencoder")
        index = resolve_target(target, self._forward.labels)
        self._forward.check_target(index)
        x = image_batch(x, self.classifier)
        warn_outside_range(x)
        image = self._to_resolution(x.detach(), autoencoder_resolution(self.autoencoder), "the autoencoder")
        with torch.no_grad():
            z = self.autoencoder.encode(image)
        z = z.detach().requires_grad_(True)
        x0 = self._decode(z)
        if x0.shape[1:] != image.shape[1:] and self.mix:
            raise ModelInputError(f"mix needs frames shaped like the image: {tuple(x0.shape[1:])} vs {tuple(image.shape[1:])}")
        y0 = self._predict(x0, image, index, self._forward)
        (g,) = torch.autograd.grad(y0.sum(), z)
        name = self._forward.labels[index] if self._forward.labels else index
        y0 = y0.detach()
        evaluation = self._evaluation_forward()
        results = []
        for i in range(x.shape[0]):
            if not np.isfinite(float(y0[i])):
                raise ExplainError(f"the classifier's output {name!r} is {float(y0[i])} for image {i}: nothing to shift")
            shifts = _Shifts(self, evaluation, index, z[i : i + 1].detach(), g[i : i + 1], image[i : i + 1],
                             x0[i].detach(), float(y0[i]))  # fmt: skip
            results.append(self._explain_one(shifts, name, f"image {i} of {x.shape[0]}"))
        return results

    def _explain_one(self, shifts: _Shifts, name: str | int, which: str) -> LatentShiftResult:
        outcome = run_search(self.search, shifts.evaluate, shifts.cache[0.0][1].pred, shifts.pixel_sum, shifts.batch_size)
        if not outcome.converged:
            sides = [s for s in (outcome.left, outcome.right) if s is not None and not s.converged]
            detail = "; ".join(f"stopped at λ = {s.bound:g}" for s in sides)
            why = " (the gradient is zero: the output does not depend on the latent code)" if shifts.zero_gradient else ""
            warnings.warn(
                f"Latent Shift search for {name!r} ({which}) met no stop rule before its λ limit ({detail}){why}; "
                "the frames span the whole allowed range",
                LatentShiftSearchWarning,
                stacklevel=3,
            )
        lambdas = np.asarray(self.search.frames(outcome.lbound, outcome.rbound), dtype=np.float64)
        preds = np.array([evaluation.pred for evaluation in shifts.evaluate(lambdas)])
        frames = shifts.frames(lambdas)
        return LatentShiftResult(
            lambdas=lambdas,
            frames=frames.float().cpu().numpy(),
            preds=preds,
            initial_pred=shifts.cache[0.0][1].pred,
            reconstruction=shifts.x0.float().cpu().numpy(),
            image=shifts.image[0].float().cpu().numpy(),
            target=name,
            target_index=shifts.index,
            output=self.output,
            search=outcome,
        )


__all__ = ["HEATMAPS", "LatentShift", "LatentShiftOutputWarning", "LatentShiftResult", "LatentShiftSearchWarning", "autoencoder_resolution"]
